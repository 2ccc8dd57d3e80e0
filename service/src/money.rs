//! Money in integer minor units, with display formatting.

/// An amount of money in minor units (cents) of one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    /// Minor units.
    pub cents: i64,
    /// ISO 4217 code, e.g. `USD`.
    pub currency: [u8; 3],
}

impl Money {
    /// Builds an amount; `currency` must be a three-letter code (it is validated on input).
    #[must_use]
    pub fn new(cents: i64, currency: &str) -> Self {
        let mut code = *b"USD";
        if let [a, b, c] = currency.as_bytes() {
            code = [*a, *b, *c];
        }
        Self { cents, currency: code }
    }

    /// The ISO 4217 code.
    #[must_use]
    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.currency).unwrap_or("USD")
    }

    /// `$1,234.50`; currencies without a known symbol print their code: `CHF 1,234.50`.
    #[must_use]
    pub fn formatted(&self) -> String {
        let symbol = match self.code() {
            "USD" | "CAD" | "AUD" | "NZD" | "MXN" => "$",
            "EUR" => "€",
            "GBP" => "£",
            "JPY" => "¥",
            _ => "",
        };
        let abs = self.cents.unsigned_abs();
        let whole = (abs / 100).to_string();
        let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
        for (i, digit) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        let sign = if self.cents < 0 { "-" } else { "" };
        let prefix = if symbol.is_empty() {
            format!("{} ", self.code())
        } else {
            symbol.to_owned()
        };
        format!("{sign}{prefix}{grouped}.{:02}", abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::Money;

    #[test]
    fn formats_with_symbol_and_thousands() {
        assert_eq!(Money::new(123_450, "USD").formatted(), "$1,234.50");
        assert_eq!(Money::new(5, "USD").formatted(), "$0.05");
        assert_eq!(Money::new(-100_000_000, "EUR").formatted(), "-€1,000,000.00");
        assert_eq!(Money::new(99_900, "CHF").formatted(), "CHF 999.00");
    }
}

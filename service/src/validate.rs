//! Input validation shared by the services. Each check names the input field
//! it rejects, which becomes `extensions.field`.

use crate::error::ApiError;

/// A required text: trimmed, not empty, at most `max` characters.
///
/// # Errors
/// `BAD_USER_INPUT` on `field`.
pub fn required(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::bad_input(field, format!("{} is required", label(field))));
    }
    if value.chars().count() > max {
        return Err(ApiError::bad_input(
            field,
            format!("{} may have at most {max} characters", label(field)),
        ));
    }
    Ok(value.to_owned())
}

/// An optional text: trimmed; empty means none.
///
/// # Errors
/// `BAD_USER_INPUT` on `field` when longer than `max` characters.
pub fn optional(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>, ApiError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => required(field, v, max).map(Some),
    }
}

/// An email address: trimmed, lowercased, `local@domain.tld` without spaces.
///
/// # Errors
/// `BAD_USER_INPUT` on `field` when it is not an email address.
pub fn email(field: &str, value: &str) -> Result<String, ApiError> {
    let value = value.trim().to_lowercase();
    if is_email(&value) {
        Ok(value)
    } else {
        Err(ApiError::bad_input(
            field,
            format!("{value:?} is not a valid email address"),
        ))
    }
}

/// Deliberately simple syntax check (the real test is delivery): one `@`, a
/// non-empty local part, a dotted domain of letters, digits and hyphens.
fn is_email(value: &str) -> bool {
    if value.len() > 254 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && !local.contains(['<', '>', '(', ')', '[', ']', ',', ';', ':', '"', '\\'])
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

fn label(field: &str) -> &str {
    field.rsplit('.').next().unwrap_or(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in ["a@b.co", "Jane.Doe+x@Example.com", "ops@acme-rentals.co.uk"] {
            assert!(email("e", ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "a", "a@b", "@b.co", "a@.co", "a b@c.co", "a@b..co", "a@-b.co", "a@@b.co", "a@b.co ",
        ] {
            if bad == "a@b.co " {
                assert!(email("e", bad).is_ok(), "trailing space is trimmed");
                continue;
            }
            let err = email("input.email", bad).expect_err(bad);
            assert_eq!(err.code(), "BAD_USER_INPUT");
        }
        assert_eq!(
            email("e", " Jane@Example.COM ").ok().as_deref(),
            Some("jane@example.com")
        );
    }

    #[test]
    fn required_and_optional_text() {
        assert!(required("input.name", "   ", 10).is_err());
        assert!(required("input.name", "abcdefghijk", 10).is_err());
        assert_eq!(required("input.name", " x ", 10).ok().as_deref(), Some("x"));
        assert_eq!(optional("f", Some("  "), 10).ok(), Some(None));
    }
}

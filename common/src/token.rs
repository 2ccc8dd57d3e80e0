//! Secret tokens (session tokens, invitation links) and their digests.
//!
//! A token is 256 random bits, URL-safe base64 without padding (43
//! characters), so it can travel in a header or a query string as it is. Only
//! its SHA-256 digest (lowercase hex, 64 characters) is ever stored: a leaked
//! database does not let anybody sign in or accept an invitation.
//!
//! This module never logs, stores or returns anything but these two strings;
//! callers decide where each goes (the token to its owner, the digest to the
//! database).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A fresh token and its digest: the token goes to its owner (a client, an
/// email), the digest into the database.
#[must_use]
pub fn new_token() -> (String, String) {
    let mut bytes = [0_u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let digest = token_digest(&token);
    (token, digest)
}

/// SHA-256 of a token, lowercase hex: what the database stores and looks up.
#[must_use]
pub fn token_digest(token: &str) -> String {
    let hash = Sha256::digest(token.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in hash {
        use std::fmt::Write;
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::{new_token, token_digest};

    #[test]
    fn a_token_is_256_url_safe_bits_and_its_digest_is_sha256_hex() {
        let (token, digest) = new_token();
        assert_eq!(token.len(), 43, "32 bytes in unpadded base64");
        assert!(token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(digest, token_digest(&token));
        assert_eq!(digest.len(), 64);
        assert_ne!(new_token().0, token);
        // A known SHA-256 vector.
        assert_eq!(
            token_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

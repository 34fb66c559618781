//! Credentials as the users file stores them, never in clear:
//! - passwords as `pbkdf2-sha256$ITERATIONS$SALT$HASH` (PBKDF2-HMAC-SHA256,
//!   16-byte random salt, 32-byte hash, both unpadded standard base64);
//!   600,000 iterations by default (OWASP's figure for PBKDF2-SHA256), at
//!   least 10,000 accepted;
//! - bearer tokens as `token-sha256$HEX`: tokens are 32 random bytes, so a
//!   plain SHA-256 is enough (nothing to brute-force) and is checked fast on
//!   every request.
//!
//! Every comparison is constant-time (`subtle`), so the time an answer takes
//! says nothing about how much of a guess was right.

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Iterations of a new password hash.
pub const DEFAULT_ITERATIONS: u32 = 600_000;
/// The fewest iterations a users file may give.
pub const MIN_ITERATIONS: u32 = 10_000;
const PASSWORD_PREFIX: &str = "pbkdf2-sha256";
const TOKEN_PREFIX: &str = "token-sha256";

/// A stored password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordHash {
    iterations: u32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl PasswordHash {
    /// Hashes `password` with a fresh random salt.
    pub fn new(password: &str, iterations: u32) -> Result<Self, String> {
        if iterations < MIN_ITERATIONS {
            return Err(format!(
                "iterations `{iterations}` must be at least {MIN_ITERATIONS}"
            ));
        }
        let salt = random_bytes::<16>().to_vec();
        let hash = derive(password, &salt, iterations, 32);
        Ok(PasswordHash {
            iterations,
            salt,
            hash,
        })
    }

    /// Parses `pbkdf2-sha256$ITERATIONS$SALT$HASH`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split('$').collect();
        let [PASSWORD_PREFIX, iterations, salt, hash] = parts[..] else {
            return Err(format!("credential must be `{PASSWORD_PREFIX}$ITERATIONS$SALT$HASH` or `{TOKEN_PREFIX}$HEX`"));
        };
        let iterations: u32 = iterations
            .parse()
            .map_err(|_| format!("iterations `{iterations}` must be a number"))?;
        if iterations < MIN_ITERATIONS {
            return Err(format!(
                "iterations `{iterations}` must be at least {MIN_ITERATIONS}"
            ));
        }
        let salt = STANDARD_NO_PAD
            .decode(salt)
            .map_err(|_| format!("salt `{salt}` must be unpadded base64"))?;
        let hash = STANDARD_NO_PAD
            .decode(hash)
            .map_err(|_| format!("hash `{hash}` must be unpadded base64"))?;
        if salt.len() < 8 || hash.len() < 16 {
            return Err("salt (at least 8 bytes) or hash (at least 16 bytes) too short".into());
        }
        Ok(PasswordHash {
            iterations,
            salt,
            hash,
        })
    }

    /// Whether `password` is the one hashed. Costs `iterations` HMACs: call
    /// it off the async runtime.
    pub fn verify(&self, password: &str) -> bool {
        derive(password, &self.salt, self.iterations, self.hash.len())
            .ct_eq(&self.hash)
            .into()
    }
}

impl std::fmt::Display for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{PASSWORD_PREFIX}${}${}${}",
            self.iterations,
            STANDARD_NO_PAD.encode(&self.salt),
            STANDARD_NO_PAD.encode(&self.hash)
        )
    }
}

fn derive(password: &str, salt: &[u8], iterations: u32, length: usize) -> Vec<u8> {
    let mut out = vec![0; length];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut out);
    out
}

/// A stored bearer token hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// The hash of `token`.
    pub fn of(token: &str) -> Self {
        TokenHash(Sha256::digest(token.as_bytes()).into())
    }

    /// Parses `token-sha256$HEX`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let hex_text = text
            .strip_prefix(TOKEN_PREFIX)
            .and_then(|t| t.strip_prefix('$'))
            .ok_or("not a token hash")?;
        let bytes = hex::decode(hex_text)
            .map_err(|_| format!("token hash `{hex_text}` must be 64 hex digits"))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| format!("token hash `{hex_text}` must be 64 hex digits"))?;
        Ok(TokenHash(bytes))
    }

    /// Whether `other` is the same hash, in constant time.
    pub fn matches(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl std::fmt::Display for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{TOKEN_PREFIX}${}", hex::encode(self.0))
    }
}

/// A new random bearer token (32 bytes, URL-safe base64).
pub fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// `N` bytes from the operating system's random source.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0; N];
    getrandom::getrandom(&mut bytes).expect("the operating system's random source is available");
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7914 §11's PBKDF2-HMAC-SHA256 vector: the derivation is the standard one.
    #[test]
    fn pbkdf2_matches_the_rfc_vector() {
        let out = derive("passwd", b"salt", 1, 64);
        assert_eq!(hex::encode(&out[..16]), "55ac046e56e3089fec1691c22544b605");
    }

    #[test]
    fn hashes_round_trip_and_verify() {
        let hash = PasswordHash::new("s3cret pass", MIN_ITERATIONS).unwrap();
        let parsed = PasswordHash::parse(&hash.to_string()).unwrap();
        assert_eq!(parsed, hash);
        assert!(parsed.verify("s3cret pass"));
        assert!(!parsed.verify("s3cret pas"));
        assert!(PasswordHash::new("x", 5).is_err());
        let low = hash.to_string().replacen("10000", "999", 1);
        assert!(PasswordHash::parse(&low)
            .unwrap_err()
            .contains("at least 10000"));
        assert!(PasswordHash::parse("md5$abc").is_err());
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        let stored = TokenHash::parse(&TokenHash::of(&a).to_string()).unwrap();
        assert!(stored.matches(&TokenHash::of(&a)));
        assert!(!stored.matches(&TokenHash::of(&b)));
        assert!(TokenHash::parse("token-sha256$abcd").is_err());
    }
}

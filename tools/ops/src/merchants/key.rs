//! New API keys: random, shown once, only their hash ever stored.

use crate::OpsError;
use paygate_domain::ports::{ApiKey, ApiKeyHash};
use rand::TryCryptoRng;
use rand::rngs::OsRng;
use secrecy::zeroize::{Zeroize, Zeroizing};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;

/// What every generated key starts with.
pub const KEY_PREFIX: &str = "sk_live_";
/// Random bytes per key: 256 bits from the operating system's CSPRNG.
pub const KEY_BYTES: usize = 32;
/// A generated key's length: the prefix, then the random bytes as lowercase hex.
pub const KEY_LEN: usize = KEY_PREFIX.len() + 2 * KEY_BYTES;
/// The longest bearer key the intake accepts (`paygate_api::request::bearer_key`).
pub const MAX_KEY_LEN: usize = 256;
// A generated key is one the intake accepts.
const _: () = assert!(KEY_LEN <= MAX_KEY_LEN);

/// A key just generated: shown once by `add`, only its hash ever stored.
pub struct NewKey {
    key: SecretString,
    hash: ApiKeyHash,
}

impl fmt::Debug for NewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewKey")
            .field("key", &"***")
            .field("hash", &self.hash)
            .finish()
    }
}

impl NewKey {
    /// A key from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, OpsError> {
        Self::from_rng(&mut OsRng)
    }

    /// A key from `rng`: [`KEY_PREFIX`] and [`KEY_BYTES`] random bytes in lowercase hex.
    pub fn from_rng<R: TryCryptoRng + ?Sized>(rng: &mut R) -> Result<Self, OpsError> {
        let mut bytes = Zeroizing::new([0u8; KEY_BYTES]);
        rng.try_fill_bytes(bytes.as_mut())
            .map_err(|e| OpsError::Entropy(e.to_string()))?;
        let mut digits = hex::encode(bytes.as_ref());
        let key = SecretString::from(format!("{KEY_PREFIX}{digits}"));
        digits.zeroize();
        let hash = ApiKey::new(key.expose_secret()).hash();
        Ok(Self { key, hash })
    }

    /// The key itself: for the one line that shows it.
    pub fn expose(&self) -> &str {
        self.key.expose_secret()
    }

    /// What is stored: the hash the intake computes from the key.
    pub fn hash(&self) -> &ApiKeyHash {
        &self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merchants::fixtures::{Broken, Constant, is_generated_key};
    use std::collections::HashSet;

    #[test]
    fn a_key_is_the_prefix_and_32_bytes_in_hex() {
        let key = NewKey::from_rng(&mut Constant(0xab)).unwrap();
        assert_eq!(key.expose(), format!("sk_live_{}", "ab".repeat(32)));
        assert_eq!(KEY_LEN, 72);
        // The hash is the domain's: what the intake computes from the bearer key.
        assert_eq!(key.hash(), &ApiKey::new(key.expose()).hash());
        // SHA-256 in hex.
        assert_eq!(key.hash().0.len(), 64);
        assert!(!format!("{key:?}").contains("abab"), "{key:?}");
    }

    #[test]
    fn generated_keys_have_the_format_and_never_repeat() {
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let key = NewKey::generate().unwrap();
            assert!(is_generated_key(key.expose()), "bad format");
            assert_eq!(key.hash(), &ApiKey::new(key.expose()).hash());
            assert!(seen.insert(key.expose().to_owned()), "a key repeated");
        }
        // Every hex digit shows up in every position often enough to rule out a stuck
        // generator (for 10,000 uniform draws each of the 16 digits is expected 625 times
        // per position; fewer than 400 is astronomically unlikely).
        for position in KEY_PREFIX.len()..KEY_LEN {
            let mut counts = [0usize; 16];
            for key in &seen {
                let digit = key.as_bytes()[position] as char;
                counts[digit.to_digit(16).unwrap() as usize] += 1;
            }
            assert!(
                counts.iter().all(|&n| n > 400),
                "position {position}: {counts:?}"
            );
        }
    }

    #[test]
    fn no_entropy_means_no_key() {
        let err = NewKey::from_rng(&mut Broken).unwrap_err();
        assert_eq!(
            err.to_string(),
            "could not get random bytes from the operating system (getrandom: unavailable); no \
             key was made"
        );
    }
}

//! Field-level encryption of payer data (AES-256-GCM) before it is stored.
//!
//! Each ciphertext carries the id of the key that sealed it, so keys can rotate: the
//! active key encrypts, every configured key can still decrypt.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedField {
    pub key_id: String,
    /// base64, 96-bit GCM nonce
    pub nonce: String,
    /// base64, ciphertext followed by the GCM tag
    pub ciphertext: String,
}

impl fmt::Debug for EncryptedField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncryptedField {{ key_id: {:?}, .. }}", self.key_id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("field keys must look like `id:base64-of-32-bytes[,id:...]`")]
    BadKeySpec,
    #[error("no field key with id {0}")]
    UnknownKey(String),
    #[error("field could not be decrypted (wrong key, context or tampered data)")]
    Undecryptable,
    #[error("field could not be encrypted")]
    Encrypt,
}

/// The set of field keys; the first configured one is active.
pub struct FieldCipher {
    active: String,
    keys: HashMap<String, Aes256Gcm>,
}

impl fmt::Debug for FieldCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "FieldCipher {{ active: {:?}, keys: {} }}",
            self.active,
            self.keys.len()
        )
    }
}

impl FieldCipher {
    /// `spec` is `id:base64key[,id:base64key...]`; the first key encrypts.
    pub fn from_spec(spec: &str) -> Result<Self, CryptoError> {
        let mut active = None;
        let mut keys = HashMap::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, encoded) = entry.split_once(':').ok_or(CryptoError::BadKeySpec)?;
            let bytes = B64.decode(encoded).map_err(|_| CryptoError::BadKeySpec)?;
            let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadKeySpec)?;
            if id.is_empty() {
                return Err(CryptoError::BadKeySpec);
            }
            active.get_or_insert_with(|| id.to_owned());
            keys.insert(id.to_owned(), Aes256Gcm::new(&key.into()));
        }
        let active = active.ok_or(CryptoError::BadKeySpec)?;
        Ok(Self { active, keys })
    }

    /// A cipher with one fresh random key, for the local stack and tests.
    pub fn ephemeral() -> Self {
        let key = Aes256Gcm::generate_key(OsRng);
        let mut keys = HashMap::new();
        keys.insert("ephemeral".to_owned(), Aes256Gcm::new(&key));
        Self {
            active: "ephemeral".to_owned(),
            keys,
        }
    }

    /// Encrypts `plaintext`, bound to `context` (e.g. the deposit id): a ciphertext moved
    /// to another record does not decrypt.
    pub fn encrypt(&self, plaintext: &[u8], context: &[u8]) -> Result<EncryptedField, CryptoError> {
        let cipher = &self.keys[&self.active];
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .map_err(|_| CryptoError::Encrypt)?;
        Ok(EncryptedField {
            key_id: self.active.clone(),
            nonce: B64.encode(nonce),
            ciphertext: B64.encode(sealed),
        })
    }

    pub fn decrypt(&self, field: &EncryptedField, context: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let cipher = self
            .keys
            .get(&field.key_id)
            .ok_or_else(|| CryptoError::UnknownKey(field.key_id.clone()))?;
        let nonce = B64
            .decode(&field.nonce)
            .map_err(|_| CryptoError::Undecryptable)?;
        if nonce.len() != 12 {
            return Err(CryptoError::Undecryptable);
        }
        let sealed = B64
            .decode(&field.ciphertext)
            .map_err(|_| CryptoError::Undecryptable)?;
        cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &sealed,
                    aad: context,
                },
            )
            .map_err(|_| CryptoError::Undecryptable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(ids: &[(&str, u8)]) -> String {
        ids.iter()
            .map(|(id, fill)| format!("{id}:{}", B64.encode([*fill; 32])))
            .collect::<Vec<_>>()
            .join(",")
    }

    #[test]
    fn round_trips_and_hides_the_plaintext() {
        let cipher = FieldCipher::from_spec(&spec(&[("k1", 7)])).unwrap();
        let field = cipher.encrypt(b"tok_visa", b"dep-1").unwrap();
        assert_eq!(field.key_id, "k1");
        assert!(!field.ciphertext.contains("tok_visa"));
        assert!(!format!("{field:?}").contains(&field.ciphertext));
        assert_eq!(cipher.decrypt(&field, b"dep-1").unwrap(), b"tok_visa");
    }

    #[test]
    fn another_context_or_a_tampered_ciphertext_does_not_decrypt() {
        let cipher = FieldCipher::from_spec(&spec(&[("k1", 7)])).unwrap();
        let field = cipher.encrypt(b"tok_visa", b"dep-1").unwrap();
        assert_eq!(
            cipher.decrypt(&field, b"dep-2"),
            Err(CryptoError::Undecryptable)
        );
        let mut tampered = field.clone();
        let mut bytes = B64.decode(&tampered.ciphertext).unwrap();
        bytes[0] ^= 1;
        tampered.ciphertext = B64.encode(bytes);
        assert_eq!(
            cipher.decrypt(&tampered, b"dep-1"),
            Err(CryptoError::Undecryptable)
        );
    }

    #[test]
    fn rotated_keys_still_decrypt_old_fields() {
        let old = FieldCipher::from_spec(&spec(&[("k1", 7)])).unwrap();
        let field = old.encrypt(b"tok", b"ctx").unwrap();
        let rotated = FieldCipher::from_spec(&spec(&[("k2", 9), ("k1", 7)])).unwrap();
        assert_eq!(rotated.encrypt(b"x", b"c").unwrap().key_id, "k2");
        assert_eq!(rotated.decrypt(&field, b"ctx").unwrap(), b"tok");
    }

    #[test]
    fn malformed_key_specs_are_refused() {
        for bad in ["", "k1", "k1:notbase64!", ":AAAA", "k1:AAAA"] {
            assert!(FieldCipher::from_spec(bad).is_err(), "{bad:?}");
        }
    }
}

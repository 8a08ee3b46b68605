//! Field-level encryption of payer data (AES-256-GCM) before it is stored.
//!
//! Each ciphertext carries the id of the key that sealed it, so keys can rotate: the
//! active key encrypts, every configured key can still decrypt.

use crate::idempotency::Fingerprint;
use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
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
    /// Per field key, in the configured order (the active one first), the key its
    /// request fingerprints are MACs under: derived, so the encryption key itself never
    /// signs anything.
    fingerprint_keys: Vec<(String, [u8; 32])>,
}

type HmacSha256 = Hmac<Sha256>;

/// What a field key's fingerprint key is derived with.
const FINGERPRINT_KEY_LABEL: &[u8] = b"paygate request fingerprint v1";

fn fingerprint_key(field_key: &[u8]) -> [u8; 32] {
    let mut mac =
        <HmacSha256 as Mac>::new_from_slice(field_key).expect("HMAC takes keys of any length");
    mac.update(FINGERPRINT_KEY_LABEL);
    mac.finalize().into_bytes().into()
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
        let mut fingerprint_keys = Vec::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, encoded) = entry.split_once(':').ok_or(CryptoError::BadKeySpec)?;
            let bytes = B64.decode(encoded).map_err(|_| CryptoError::BadKeySpec)?;
            let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadKeySpec)?;
            if id.is_empty() {
                return Err(CryptoError::BadKeySpec);
            }
            active.get_or_insert_with(|| id.to_owned());
            fingerprint_keys.push((id.to_owned(), fingerprint_key(&key)));
            keys.insert(id.to_owned(), Aes256Gcm::new(&key.into()));
        }
        let active = active.ok_or(CryptoError::BadKeySpec)?;
        Ok(Self {
            active,
            keys,
            fingerprint_keys,
        })
    }

    /// A cipher with one fresh random key, for the local stack and tests.
    pub fn ephemeral() -> Self {
        let key = Aes256Gcm::generate_key(OsRng);
        let mut keys = HashMap::new();
        keys.insert("ephemeral".to_owned(), Aes256Gcm::new(&key));
        Self {
            active: "ephemeral".to_owned(),
            keys,
            fingerprint_keys: vec![("ephemeral".to_owned(), fingerprint_key(&key))],
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

    /// The keyed fingerprint of `canonical_request` on `operation` (`<key id>.<hex
    /// HMAC-SHA256>` under the active key), matching what the same request was stored
    /// with under any other configured key or, from before fingerprints were keyed,
    /// unkeyed ([`Fingerprint::of`]).
    pub fn fingerprint(&self, operation: &str, canonical_request: &[u8]) -> Fingerprint {
        let mut digests = self.fingerprint_keys.iter().map(|(id, key)| {
            let mut mac =
                <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
            mac.update(operation.as_bytes());
            mac.update(&[0]);
            mac.update(canonical_request);
            format!("{id}.{}", hex::encode(mac.finalize().into_bytes()))
        });
        let active = digests.next().expect("a cipher has at least one key");
        let mut also: Vec<String> = digests.collect();
        also.push(
            Fingerprint::of(operation, canonical_request)
                .as_str()
                .to_owned(),
        );
        Fingerprint::with_alternatives(active, also)
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
    fn fingerprints_are_keyed_and_survive_a_key_rotation_and_the_switch_to_keys() {
        let body = br#"{"amount":100,"payment_method":{"token":"tok_success"}}"#;
        let old = FieldCipher::from_spec(&spec(&[("k1", 7)])).unwrap();
        let stored = old.fingerprint("create_deposit", body);
        // Keyed: neither the body nor its plain hash shows, and the key id does.
        assert!(stored.as_str().starts_with("k1."), "{}", stored.as_str());
        assert_ne!(
            stored.as_str(),
            Fingerprint::of("create_deposit", body).as_str()
        );
        let other_key = FieldCipher::from_spec(&spec(&[("k1", 8)])).unwrap();
        assert!(
            !other_key
                .fingerprint("create_deposit", body)
                .matches(&stored)
        );
        // The same request matches; another body or endpoint does not.
        assert!(old.fingerprint("create_deposit", body).matches(&stored));
        assert!(!old.fingerprint("create_deposit", b"{}").matches(&stored));
        assert!(!old.fingerprint("create_payout", body).matches(&stored));
        // After rotation the same request still matches what the old key stored...
        let rotated = FieldCipher::from_spec(&spec(&[("k2", 9), ("k1", 7)])).unwrap();
        let again = rotated.fingerprint("create_deposit", body);
        assert!(again.as_str().starts_with("k2."));
        assert!(again.matches(&stored));
        // ... and what was stored before fingerprints were keyed.
        assert!(again.matches(&Fingerprint::of("create_deposit", body)));
        // What is stored is the active digest alone.
        let json = serde_json::to_string(&again).unwrap();
        assert_eq!(json, format!("\"{}\"", again.as_str()));
        let read: Fingerprint = serde_json::from_str(&json).unwrap();
        assert!(again.matches(&read) && !read.matches(&stored));
    }

    #[test]
    fn malformed_key_specs_are_refused() {
        for bad in ["", "k1", "k1:notbase64!", ":AAAA", "k1:AAAA"] {
            assert!(FieldCipher::from_spec(bad).is_err(), "{bad:?}");
        }
    }
}

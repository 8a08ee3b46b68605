//! The webhook signature scheme every paygate gateway speaks (DESIGN §6, WIRE.md).
//!
//! Header value: `t=<unix seconds>,v1=<hex>[,v1=<hex>...]` where each
//! `v1 = hex(HMAC-SHA256(secret, "{t}.{raw body}"))`. Several `v1` entries exist while a
//! secret is being rotated; a header verifies when any `v1` matches any accepted secret.
//! Verification happens on the raw bytes, before anything is parsed.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The HTTP header that carries the signature.
pub const HEADER: &str = "Paygate-Signature";

/// How far (either way) a signature's timestamp may be from `now` (DESIGN §6: 300 s).
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// Length in bytes of one HMAC-SHA256 signature.
const SIGNATURE_LEN: usize = 32;

/// Why a signature header was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header is not `t=<unix>,v1=<64 hex>[,v1=...]`.
    #[error("malformed signature header")]
    Malformed,
    /// The timestamp is further from now than the tolerance (replay or clock skew).
    #[error("signature timestamp outside the tolerance")]
    Stale,
    /// No signature matches any accepted secret.
    #[error("signature does not match")]
    Mismatch,
}

/// A parsed signature header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    /// The signed timestamp, in unix seconds.
    pub timestamp: i64,
    /// The timestamp exactly as written in the header (that text is what was signed).
    timestamp_text: String,
    /// Every `v1` signature, decoded.
    pub signatures: Vec<[u8; SIGNATURE_LEN]>,
}

impl SignatureHeader {
    /// Parses `t=<unix>,v1=<hex>[,v1=<hex>...]`. Entries of other schemes (`v0=...`) are
    /// ignored so a future scheme can be added alongside; `t` must appear exactly once and
    /// at least one `v1` must be present.
    pub fn parse(header: &str) -> Result<Self, SignatureError> {
        let mut timestamp: Option<(i64, &str)> = None;
        let mut signatures = Vec::new();
        for item in header.split(',') {
            let (key, value) = item
                .trim()
                .split_once('=')
                .ok_or(SignatureError::Malformed)?;
            match key.trim() {
                "t" => {
                    let value = value.trim();
                    let valid = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
                    if timestamp.is_some() || !valid {
                        return Err(SignatureError::Malformed);
                    }
                    let parsed = value.parse().map_err(|_| SignatureError::Malformed)?;
                    timestamp = Some((parsed, value));
                }
                "v1" => {
                    let mut sig = [0u8; SIGNATURE_LEN];
                    hex::decode_to_slice(value.trim(), &mut sig)
                        .map_err(|_| SignatureError::Malformed)?;
                    signatures.push(sig);
                }
                "" => return Err(SignatureError::Malformed),
                _ => {}
            }
        }
        let (timestamp, text) = timestamp.ok_or(SignatureError::Malformed)?;
        if signatures.is_empty() {
            return Err(SignatureError::Malformed);
        }
        Ok(Self {
            timestamp,
            timestamp_text: text.to_owned(),
            signatures,
        })
    }
}

fn mac(secret: &[u8], timestamp: &str, body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The full header value for `body` signed at `timestamp` with one secret.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    sign_with_all(&[secret], timestamp, body)
}

/// The full header value with one `v1` per secret, in order (what a sender emits while
/// it rotates its secret).
pub fn sign_with_all(secrets: &[&[u8]], timestamp: i64, body: &[u8]) -> String {
    let t = timestamp.to_string();
    let mut header = format!("t={t}");
    for secret in secrets {
        let tag = mac(secret, &t, body).finalize().into_bytes();
        header.push_str(",v1=");
        header.push_str(&hex::encode(tag));
    }
    header
}

/// Verifies `header` for the raw `body` against every accepted secret (any match passes),
/// rejecting timestamps more than `tolerance_secs` away from `now` in either direction.
/// Comparisons are constant-time.
pub fn verify(
    header: &str,
    secrets: &[&[u8]],
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let parsed = SignatureHeader::parse(header)?;
    let age = i128::from(now) - i128::from(parsed.timestamp);
    if age.abs() > i128::from(tolerance_secs.max(0)) {
        return Err(SignatureError::Stale);
    }
    let mut matched = false;
    for secret in secrets {
        let expected = mac(secret, &parsed.timestamp_text, body);
        for sig in &parsed.signatures {
            // Keep going after a match so timing does not reveal which pair matched.
            matched |= expected.clone().verify_slice(sig).is_ok();
        }
    }
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: &[u8] = b"whsec_test_secret";
    const OLD_SECRET: &[u8] = b"whsec_old_secret";
    const NOW: i64 = 1_700_000_000;
    const BODY: &[u8] = br#"{"id":"evt_1","type":"payment.succeeded"}"#;

    fn check(header: &str, secrets: &[&[u8]], body: &[u8]) -> Result<(), SignatureError> {
        verify(header, secrets, body, NOW, DEFAULT_TOLERANCE_SECS)
    }

    #[test]
    fn signed_header_has_the_documented_shape() {
        let header = sign(SECRET, NOW, BODY);
        let (t, v1) = header.split_once(",v1=").unwrap();
        assert_eq!(t, format!("t={NOW}"));
        assert_eq!(v1.len(), 64);
        assert!(v1.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn signature_matches_a_known_vector() {
        // HMAC-SHA256("secret", "1.body"), computed with Python's hmac module.
        let header = sign(b"secret", 1, b"body");
        assert_eq!(
            header,
            "t=1,v1=842b24d9575dee4b6ec460b7e3af7d683501d84fe6279102340787c79d2e2bab"
        );
    }

    #[test]
    fn round_trip_verifies() {
        assert_eq!(check(&sign(SECRET, NOW, BODY), &[SECRET], BODY), Ok(()));
    }

    #[test]
    fn tampered_body_is_a_mismatch() {
        let header = sign(SECRET, NOW, BODY);
        let tampered = br#"{"id":"evt_1","type":"payment.failed"}"#;
        assert_eq!(
            check(&header, &[SECRET], tampered),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn tampered_timestamp_is_a_mismatch() {
        let header = sign(SECRET, NOW, BODY).replacen(&NOW.to_string(), &(NOW + 1).to_string(), 1);
        assert_eq!(
            check(&header, &[SECRET], BODY),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn wrong_secret_is_a_mismatch() {
        let header = sign(b"another secret", NOW, BODY);
        assert_eq!(
            check(&header, &[SECRET], BODY),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn no_accepted_secret_is_a_mismatch() {
        assert_eq!(
            check(&sign(SECRET, NOW, BODY), &[], BODY),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn rotation_any_signature_against_any_secret_passes() {
        let both = sign_with_all(&[OLD_SECRET, SECRET], NOW, BODY);
        assert_eq!(both.matches(",v1=").count(), 2);
        // receiver still on the old secret, on the new one, or accepting both
        assert_eq!(check(&both, &[OLD_SECRET], BODY), Ok(()));
        assert_eq!(check(&both, &[SECRET], BODY), Ok(()));
        assert_eq!(check(&both, &[SECRET, OLD_SECRET], BODY), Ok(()));
        // receiver accepting both secrets while the sender uses only one of them
        let new_only = sign(SECRET, NOW, BODY);
        assert_eq!(check(&new_only, &[OLD_SECRET, SECRET], BODY), Ok(()));
        assert_eq!(
            check(&both, &[b"unrelated".as_slice()], BODY),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn stale_timestamp_is_rejected() {
        let header = sign(SECRET, NOW - DEFAULT_TOLERANCE_SECS - 1, BODY);
        assert_eq!(check(&header, &[SECRET], BODY), Err(SignatureError::Stale));
        let at_edge = sign(SECRET, NOW - DEFAULT_TOLERANCE_SECS, BODY);
        assert_eq!(check(&at_edge, &[SECRET], BODY), Ok(()));
    }

    #[test]
    fn future_timestamp_is_rejected() {
        let header = sign(SECRET, NOW + DEFAULT_TOLERANCE_SECS + 1, BODY);
        assert_eq!(check(&header, &[SECRET], BODY), Err(SignatureError::Stale));
        let at_edge = sign(SECRET, NOW + DEFAULT_TOLERANCE_SECS, BODY);
        assert_eq!(check(&at_edge, &[SECRET], BODY), Ok(()));
    }

    #[test]
    fn extreme_timestamps_do_not_overflow() {
        let header = sign(SECRET, i64::MAX, BODY);
        assert_eq!(
            verify(&header, &[SECRET], BODY, i64::MIN, DEFAULT_TOLERANCE_SECS),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn malformed_headers_are_rejected() {
        let v1 = "a".repeat(64);
        let cases = [
            String::new(),
            "garbage".to_owned(),
            format!("v1={v1}"),                         // missing t
            format!("t=abc,v1={v1}"),                   // non-numeric t
            format!("t=-5,v1={v1}"),                    // negative t
            format!("t=,v1={v1}"),                      // empty t
            format!("t={NOW},t={NOW},v1={v1}"),         // duplicate t
            format!("t={NOW}"),                         // no v1
            format!("t={NOW},v0={v1}"),                 // only an unknown scheme
            format!("t={NOW},v1=zz{}", "a".repeat(62)), // bad hex
            format!("t={NOW},v1=abcd"),                 // too short
            format!("t={NOW},v1={v1},"),                // trailing comma
            format!("t={NOW};v1={v1}"),                 // wrong separator
        ];
        for header in cases {
            assert_eq!(
                check(&header, &[SECRET], BODY),
                Err(SignatureError::Malformed),
                "{header:?}"
            );
        }
    }

    #[test]
    fn unknown_schemes_and_spaces_are_tolerated() {
        let header = sign(SECRET, NOW, BODY);
        let v1 = header.split_once(",v1=").unwrap().1;
        let spaced = format!("t={NOW}, v0=deadbeef, v1={v1}");
        assert_eq!(check(&spaced, &[SECRET], BODY), Ok(()));
    }

    proptest! {
        #[test]
        fn signature_never_verifies_for_a_different_body(
            body in proptest::collection::vec(any::<u8>(), 0..256),
            other in proptest::collection::vec(any::<u8>(), 0..256),
            secret in proptest::collection::vec(any::<u8>(), 1..64),
            t in 0i64..4_000_000_000,
        ) {
            prop_assume!(body != other);
            let header = sign(&secret, t, &body);
            prop_assert_eq!(verify(&header, &[&secret], &body, t, 0), Ok(()));
            prop_assert_eq!(
                verify(&header, &[&secret], &other, t, 0),
                Err(SignatureError::Mismatch)
            );
        }
    }
}

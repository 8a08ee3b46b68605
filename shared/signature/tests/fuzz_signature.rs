//! Property-based fuzzing of the `Paygate-Signature` header: parsing never panics, on any
//! string and on structure-aware mutations of real headers (entries removed, repeated,
//! reordered, respaced, retyped, truncated, timestamps out of range, unicode and control
//! characters, very long values); a header verifies only when one of its `v1` entries is
//! the HMAC of its own `t` and the body under an accepted secret, within the tolerance;
//! and every header `sign` writes verifies with its secret, in time.
//!
//! Cases: proptest's default (256), or `PROPTEST_CASES`. At scale:
//! `PROPTEST_CASES=250000 cargo test --release -p paygate-signature --test fuzz_signature`.

use hmac::{Hmac, Mac};
use paygate_signature::{
    DEFAULT_TOLERANCE_SECS, SignatureError, SignatureHeader, sign, sign_with_all, verify,
};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::FileFailurePersistence;
use sha2::Sha256;

/// Proptest's defaults, so `PROPTEST_CASES` sets the cases; a failure is kept in the
/// crate's `proptest-regressions/` and replayed first from then on.
fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/fuzz_signature.txt",
        ))),
        ..ProptestConfig::default()
    }
}

const NOW: i64 = 1_700_000_000;

fn secret() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..80),
        "whsec_[a-z0-9_]{1,40}".prop_map(String::into_bytes),
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        r#"\{"id":"evt_[0-9a-f]{8}","type":"payment\.(succeeded|failed)","amount":[0-9]{1,6}\}"#
            .prop_map(String::into_bytes),
    ]
}

/// A timestamp near now, at the tolerance's edges, or anywhere in `i64`.
fn timestamp() -> impl Strategy<Value = i64> {
    prop_oneof![
        (NOW - 400..=NOW + 400),
        select(vec![
            NOW - DEFAULT_TOLERANCE_SECS,
            NOW + DEFAULT_TOLERANCE_SECS,
            NOW - DEFAULT_TOLERANCE_SECS - 1,
            NOW + DEFAULT_TOLERANCE_SECS + 1,
            0,
            i64::MAX,
            i64::MIN,
        ]),
        any::<i64>(),
    ]
}

/// Text a header should survive in any place: unicode, control characters, separators,
/// digits and hex of the wrong length, overflowing numbers, long runs.
fn noise() -> impl Strategy<Value = String> {
    let patterns = [
        "[ ,=\\t\\r\\n;tv01]{0,6}",
        "[0-9a-fA-F]{0,70}",
        "[0-9]{18,25}",
        "[\\u{0660}-\\u{0669}\\u{3000}\\u{FEFF}é]{1,4}",
    ];
    paygate_kit::fuzz::nasty_text(&patterns, 5000, select(vec!['a', '0', ',', '=', ' ']))
}

/// One change to a header's comma-separated entries.
#[derive(Debug, Clone)]
enum Edit {
    Remove(Index),
    Repeat(Index),
    Swap(Index, Index),
    /// Spaces (or tabs) around an entry, its key or its value.
    Pad(Index, String),
    /// Another text in place of an entry, its key or its value.
    Replace(Index, u8, String),
    /// An entry of another scheme, or any text, inserted.
    Insert(Index, String),
    /// The header cut short.
    Truncate(Index),
    /// One character changed in the header's hex.
    Flip(Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<Index>().prop_map(Edit::Remove),
        any::<Index>().prop_map(Edit::Repeat),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::Swap(a, b)),
        (any::<Index>(), "[ \\t]{1,3}").prop_map(|(at, pad)| Edit::Pad(at, pad)),
        (any::<Index>(), 0u8..3, noise())
            .prop_map(|(at, part, text)| Edit::Replace(at, part, text)),
        (
            any::<Index>(),
            prop_oneof!["(v0|v2|V1|T|t |x)=[0-9a-f]{0,64}", noise()]
        )
            .prop_map(|(at, entry)| Edit::Insert(at, entry)),
        any::<Index>().prop_map(Edit::Truncate),
        any::<Index>().prop_map(Edit::Flip),
    ]
}

fn apply(header: &str, edit: Edit) -> String {
    let mut entries: Vec<String> = header.split(',').map(str::to_owned).collect();
    match edit {
        Edit::Remove(at) => {
            entries.remove(at.index(entries.len()));
        }
        Edit::Repeat(at) => {
            let entry = entries[at.index(entries.len())].clone();
            entries.push(entry);
        }
        Edit::Swap(a, b) => {
            let (a, b) = (a.index(entries.len()), b.index(entries.len()));
            entries.swap(a, b);
        }
        Edit::Pad(at, pad) => {
            let len = entries.len();
            let entry = &mut entries[at.index(len)];
            *entry = match entry.split_once('=') {
                Some((k, v)) => format!("{pad}{k}{pad}={pad}{v}{pad}"),
                None => format!("{pad}{entry}{pad}"),
            };
        }
        Edit::Replace(at, part, text) => {
            let len = entries.len();
            let entry = &mut entries[at.index(len)];
            *entry = match (entry.split_once('='), part) {
                (Some((_, v)), 0) => format!("{text}={v}"),
                (Some((k, _)), 1) => format!("{k}={text}"),
                _ => text,
            };
        }
        Edit::Insert(at, entry) => entries.insert(at.index(entries.len() + 1), entry),
        Edit::Truncate(at) => {
            let joined = entries.join(",");
            let mut end = at.index(joined.len() + 1);
            while !joined.is_char_boundary(end) {
                end -= 1;
            }
            return joined[..end].to_owned();
        }
        Edit::Flip(at) => {
            let joined = entries.join(",");
            let hex: Vec<usize> = joined
                .char_indices()
                .filter(|(_, c)| c.is_ascii_hexdigit())
                .map(|(i, _)| i)
                .collect();
            if hex.is_empty() {
                return joined;
            }
            let i = hex[at.index(hex.len())];
            let flipped = if &joined[i..=i] == "0" { "1" } else { "0" };
            return format!("{}{flipped}{}", &joined[..i], &joined[i + 1..]);
        }
    }
    entries.join(",")
}

/// A header `sign_with_all` writes for the first secrets, then changed by one to four edits.
fn mutated_header(
    secrets: &[Vec<u8>],
    t: i64,
    body: &[u8],
) -> impl Strategy<Value = String> + use<> {
    let refs: Vec<&[u8]> = secrets.iter().map(Vec::as_slice).collect();
    let header = sign_with_all(&refs, t, body);
    prop::collection::vec(edit(), 1..5).prop_map(move |edits| {
        edits
            .into_iter()
            .fold(header.clone(), |header, edit| apply(&header, edit))
    })
}

/// A case: the receiver's secrets, the body and a header signed with the sender's, mutated.
type Case = (Vec<Vec<u8>>, Vec<u8>, String);

fn mutated_case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(secret(), 1..3),
        prop::collection::vec(secret(), 0..3),
        timestamp(),
        body(),
        any::<bool>(),
    )
        .prop_flat_map(|(sent, other, t, body, shared)| {
            // The receiver shares the sender's first secret half the time.
            let mut accepted = other;
            if shared {
                accepted.push(sent[0].clone());
            }
            let header = mutated_header(&sent, t, &body);
            (Just(accepted), Just(body), header)
        })
}

/// The HMAC the scheme documents: `hex(HMAC-SHA256(secret, "{t}.{body}"))`, `t` as written.
fn expected(secret: &[u8], t: &str, body: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// Whether `header` verifies by the documented rule, checked independently of the
/// parser's own matching: its one `t` within the tolerance, and one of its `v1` entries
/// the HMAC of that `t`, as written, and `body` under one of `secrets`.
fn documented_verdict(header: &str, secrets: &[&[u8]], body: &[u8], now: i64) -> bool {
    let Ok(parsed) = SignatureHeader::parse(header) else {
        return false;
    };
    let t_text = header
        .split(',')
        .filter_map(|e| e.split_once('='))
        .find(|(k, _)| k.trim() == "t")
        .map(|(_, v)| v.trim())
        .expect("a parsed header has a t");
    let in_time = (i128::from(now) - i128::from(parsed.timestamp)).abs()
        <= i128::from(DEFAULT_TOLERANCE_SECS);
    in_time
        && secrets.iter().any(|secret| {
            let mac = expected(secret, t_text, body);
            parsed.signatures.contains(&mac)
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_header_parses_or_is_malformed_without_panicking(header in prop_oneof![noise(), "t=[0-9]{1,12}(,v1=[0-9a-f]{64}){0,3}"]) {
        if let Ok(parsed) = SignatureHeader::parse(&header) {
            prop_assert!(parsed.timestamp >= 0);
            prop_assert!(!parsed.signatures.is_empty());
            let ts = header
                .split(',')
                .filter_map(|e| e.split_once('='))
                .filter(|(k, _)| k.trim() == "t")
                .count();
            prop_assert_eq!(ts, 1, "exactly one t");
        }
        let verdict = verify(&header, &[b"secret"], b"body", NOW, DEFAULT_TOLERANCE_SECS);
        prop_assert_eq!(verdict.is_ok(), documented_verdict(&header, &[b"secret"], b"body", NOW));
    }

    #[test]
    fn mutated_headers_verify_only_by_the_documented_rule(
        (accepted, body, header) in mutated_case(),
        now in prop_oneof![Just(NOW), timestamp()],
    ) {
        let secrets: Vec<&[u8]> = accepted.iter().map(Vec::as_slice).collect();
        let verdict = verify(&header, &secrets, &body, now, DEFAULT_TOLERANCE_SECS);
        prop_assert_eq!(
            verdict.is_ok(),
            documented_verdict(&header, &secrets, &body, now),
            "{:?}",
            verdict
        );
        if SignatureHeader::parse(&header).is_err() {
            prop_assert_eq!(verdict, Err(SignatureError::Malformed));
        }
    }

    #[test]
    fn signed_headers_verify_with_their_secret_in_time_and_only_then(
        secrets in prop::collection::vec(secret(), 1..4),
        wrong in secret(),
        t in timestamp(),
        now in timestamp(),
        tolerance in prop_oneof![Just(DEFAULT_TOLERANCE_SECS), 0i64..1000, any::<i64>()],
        body in body(),
        other_body in body(),
    ) {
        let refs: Vec<&[u8]> = secrets.iter().map(Vec::as_slice).collect();
        let header = sign_with_all(&refs, t, &body);
        let in_time = (i128::from(now) - i128::from(t)).abs() <= i128::from(tolerance.max(0));
        let parsed = SignatureHeader::parse(&header);
        // A negative timestamp cannot be written in the scheme's digits.
        if t < 0 {
            prop_assert_eq!(parsed, Err(SignatureError::Malformed));
            return Ok(());
        }
        prop_assert_eq!(parsed.map(|p| p.timestamp), Ok(t));
        for secret in &refs {
            let verdict = verify(&header, &[secret], &body, now, tolerance);
            prop_assert_eq!(verdict, if in_time { Ok(()) } else { Err(SignatureError::Stale) });
        }
        if in_time {
            if !refs.contains(&wrong.as_slice()) {
                prop_assert_eq!(
                    verify(&header, &[&wrong], &body, now, tolerance),
                    Err(SignatureError::Mismatch)
                );
            }
            if other_body != body {
                prop_assert_eq!(
                    verify(&header, &refs, &other_body, now, tolerance),
                    Err(SignatureError::Mismatch)
                );
            }
            let single = sign(refs[0], t, &body);
            prop_assert_eq!(verify(&single, &refs, &body, now, tolerance), Ok(()));
        }
    }
}

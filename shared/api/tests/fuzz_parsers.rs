//! Property-based fuzzing of the edge's parsers of untrusted input: request bodies as
//! bytes (`json::parse_json_strictly`, then the domain's deposit and payout validation)
//! and the fingerprint's canonical form (`json::canonical_bytes`), and list query strings
//! (`list::ListQuery`, with the cursors and `status` filter it hands on).
//!
//! Each parser never panics, on any bytes and on structure-aware mutations of valid input
//! (members duplicated, removed, retyped, deep nesting, huge numbers, lone surrogates,
//! control characters, long strings, truncation); what it accepts keeps the documented
//! rules; valid input drawn by a strategy is accepted as sent.
//!
//! Cases: proptest's default (256), or `PROPTEST_CASES`. At scale:
//! `PROPTEST_CASES=250000 cargo test --release -p paygate-api --test fuzz_parsers`.

use paygate_api::ErrorCode;
use paygate_api::json::{StrictJsonError, canonical_bytes, parse_json_strictly};
use paygate_api::list::{BALANCE_TRANSACTIONS, DEPOSITS, ListKind, ListQuery, PAYOUTS};
use paygate_domain::DepositStatus;
use paygate_domain::deposit::Direction;
use paygate_domain::page::Cursor;
use paygate_domain::validation::{parse_deposit_request, parse_payout_request};
use paygate_kit::fuzz::{self, Nesting, body_field, json_scalar, json_value};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use serde_json::{Value, json};

// ------------------------------------------------------------------ helpers

/// Text a parser should survive: any unicode, control characters, JSON's own
/// punctuation, escapes (lone surrogates among them), numbers at the edges, long runs.
fn nasty_text() -> impl Strategy<Value = String> {
    let patterns = [
        "[\\x00-\\x1f\\x7f \"\\\\{}\\[\\]:,]{0,6}",
        "(\\\\u[dD][89abAB][0-9a-f]{2}|\\\\[\"\\\\/bfnrtu]|[a-z]){0,4}",
        "-?[0-9]{1,30}(\\.[0-9]{0,5})?([eE][+-]?[0-9]{1,6})?",
        "[\\u{1F600}-\\u{1F64F}\\u{0660}-\\u{0669}é ]{1,6}",
        "[a-z_]{1,8} at line [0-9]{1,3}( column [0-9])?",
    ];
    paygate_kit::fuzz::nasty_text(&patterns, 4000, select(vec!['a', '[', '{', '"', '0', ' ']))
}

/// A JSON value as a merchant might send one: any type, some nesting.
fn any_json() -> impl Strategy<Value = Value> {
    let nesting = Nesting {
        depth: 4,
        size: 48,
        width: 6,
    };
    json_value(json_scalar(nasty_text()), key(), nesting)
}

fn key() -> impl Strategy<Value = String> {
    body_field(nasty_text())
}

/// A body the API documents (deposit, payout or refund), as a JSON value.
fn valid_body() -> impl Strategy<Value = Value> {
    let amount = prop_oneof![
        (1u64..=1_000_000_000_000_000).prop_map(Value::from),
        (1u64..100_000).prop_map(|n| Value::from(n as f64)),
    ];
    let currency = select(vec!["AED", "USD", "EUR", "JPY", "KWD", "GBP"]);
    let country = select(vec!["AE", "US", "DE", "JP", "KW", "GB"]);
    let metadata = prop::collection::btree_map(".{1,40}", ".{0,40}", 0..4);
    (
        amount,
        currency,
        country,
        "[^\\p{Cc}]{1,40}",
        "[!-~]{1,40}",
        metadata,
        0u8..3,
    )
        .prop_map(
            |(amount, currency, country, customer, token, metadata, kind)| match kind {
                0 => json!({
                    "amount": amount, "currency": currency, "country": country,
                    "customer_id": customer, "payment_method": { "type": "card", "token": token },
                    "metadata": metadata,
                }),
                1 => json!({
                    "amount": amount, "currency": currency, "country": country,
                    "destination": { "type": "bank_account", "token": token }, "metadata": metadata,
                }),
                _ => json!({ "amount": amount }),
            },
        )
}

/// One change to a body's text.
#[derive(Debug, Clone)]
enum Edit {
    /// A member `"key": value` added at the start of the object that begins at the
    /// `at`th `{` (so it may name a member that object already has).
    AddMember(Index, String, Value),
    /// Bytes of any kind written at a position.
    Insert(Index, Vec<u8>),
    /// A byte removed.
    Remove(Index),
    /// The text cut short.
    Truncate(Index),
    /// The whole body nested `depth` arrays deep.
    Nest(usize),
    /// A UTF-8 byte order mark or whitespace before it.
    Prefix(Vec<u8>),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<Index>(), key(), any_json()).prop_map(|(at, k, v)| Edit::AddMember(at, k, v)),
        (
            any::<Index>(),
            prop_oneof![
                prop::collection::vec(any::<u8>(), 1..4),
                nasty_text().prop_map(String::into_bytes),
            ]
        )
            .prop_map(|(at, bytes)| Edit::Insert(at, bytes)),
        any::<Index>().prop_map(Edit::Remove),
        any::<Index>().prop_map(Edit::Truncate),
        prop_oneof![1usize..140, Just(100_000)].prop_map(Edit::Nest),
        select(vec![
            b"\xEF\xBB\xBF".to_vec(),
            b" \t\r\n".to_vec(),
            b"\0".to_vec()
        ])
        .prop_map(Edit::Prefix),
    ]
}

fn apply(mut text: Vec<u8>, edit: Edit) -> Vec<u8> {
    match edit {
        Edit::AddMember(at, key, value) => {
            let braces: Vec<usize> = text
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'{')
                .map(|(i, _)| i)
                .collect();
            if let Some(&brace) = braces.get(at.index(braces.len().max(1))) {
                let member = format!("{}:{},", Value::from(key), value);
                text.splice(brace + 1..brace + 1, member.into_bytes());
            }
        }
        Edit::Insert(at, bytes) => {
            let at = at.index(text.len() + 1);
            text.splice(at..at, bytes);
        }
        Edit::Remove(at) => {
            if !text.is_empty() {
                text.remove(at.index(text.len()));
            }
        }
        Edit::Truncate(at) => text.truncate(at.index(text.len() + 1)),
        Edit::Nest(depth) => {
            let mut nested = vec![b'['; depth];
            nested.extend(text);
            nested.extend(vec![b']'; depth]);
            text = nested;
        }
        Edit::Prefix(prefix) => text.splice(0..0, prefix).for_each(drop),
    }
    text
}

fn mutated_body() -> impl Strategy<Value = Vec<u8>> {
    (valid_body(), prop::collection::vec(edit(), 1..4)).prop_map(|(body, edits)| {
        let text = serde_json::to_vec(&body).expect("a value serialises");
        edits.into_iter().fold(text, apply)
    })
}

/// What the strict parser must agree with: `serde_json` reads the same value, and a
/// body it refuses for a duplicate key has that key twice in one object.
fn check_strict(bytes: &[u8]) -> Result<Option<Value>, TestCaseError> {
    match parse_json_strictly(bytes) {
        Ok(value) => {
            let plain: Value = serde_json::from_slice(bytes).expect("strict JSON is JSON");
            prop_assert_eq!(&value, &plain);
            Ok(Some(value))
        }
        // Refused at the first duplicate, whatever follows it.
        Err(StrictJsonError::DuplicateKey(key)) => {
            let quoted = serde_json::to_string(&key).expect("a string serialises");
            // The key as written may use escapes; in every generated case it is quoted
            // as serde_json writes it at least once.
            prop_assert!(
                memchr(bytes, quoted.as_bytes())
                    || key
                        .chars()
                        .any(|c| c.is_control() || c == '"' || c == '\\' || c == '/'),
                "duplicate key {:?} not in the body",
                key
            );
            Ok(None)
        }
        Err(StrictJsonError::Invalid) => Ok(None),
    }
}

fn memchr(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// The canonical form's own rules: valid JSON, the same for the same value, keys in
/// order and no `null` member at any level. (Not a fixed point: serde_json reads some
/// subnormal floats back one bit off, and nothing fingerprints a canonical form again.)
fn check_canonical(value: &Value) -> Result<(), TestCaseError> {
    fn ordered_without_nulls(value: &Value) -> bool {
        match value {
            Value::Object(map) => {
                let keys: Vec<&String> = map.keys().collect();
                keys.windows(2).all(|w| w[0] < w[1])
                    && map
                        .values()
                        .all(|v| !v.is_null() && ordered_without_nulls(v))
            }
            Value::Array(items) => items.iter().all(ordered_without_nulls),
            _ => true,
        }
    }
    let canonical = canonical_bytes(value);
    prop_assert_eq!(&canonical_bytes(&value.clone()), &canonical);
    let reread: Value = serde_json::from_slice(&canonical).expect("the canonical form is JSON");
    prop_assert!(ordered_without_nulls(&reread));
    Ok(())
}

// ------------------------------------------------------------------ request bodies

proptest! {
    #![proptest_config(fuzz::config("proptest-regressions/fuzz_parsers.txt"))]

    #[test]
    fn any_bytes_are_strict_json_or_refused_without_panicking(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            nasty_text().prop_map(String::into_bytes),
        ]
    ) {
        if let Some(value) = check_strict(&bytes)? {
            check_canonical(&value)?;
            let _ = parse_deposit_request(&value);
            let _ = parse_payout_request(&value);
        }
    }

    #[test]
    fn mutated_bodies_are_read_as_serde_json_reads_them_or_refused(bytes in mutated_body()) {
        if let Some(value) = check_strict(&bytes)? {
            check_canonical(&value)?;
            let _ = parse_deposit_request(&value);
            let _ = parse_payout_request(&value);
        }
    }

    #[test]
    fn a_member_named_twice_is_refused_naming_it(
        body in valid_body(),
        at in any::<Index>(),
        value in any_json(),
        nested in any::<bool>(),
        inner_key in key(),
    ) {
        // The body, or an object inside it, gets one of its own keys again.
        let mut body = body;
        let object = if nested {
            body["metadata"] = json!({ inner_key: "v" });
            body["metadata"].as_object_mut().expect("an object")
        } else {
            body.as_object_mut().expect("an object")
        };
        let keys: Vec<String> = object.keys().cloned().collect();
        let key = keys[at.index(keys.len())].clone();
        let text = serde_json::to_string(&body).expect("a value serialises");
        let start = if nested {
            text.find(r#""metadata":{"#).expect("metadata") + r#""metadata":{"#.len()
        } else {
            1
        };
        let member = format!("{}:{},", Value::from(key.clone()), value);
        let twice = format!("{}{member}{}", &text[..start], &text[start..]);
        prop_assert_eq!(
            parse_json_strictly(twice.as_bytes()),
            Err(StrictJsonError::DuplicateKey(key))
        );
    }

    #[test]
    fn valid_bodies_are_read_as_sent_and_fingerprint_alike(body in valid_body(), spaced in any::<bool>()) {
        let text = if spaced {
            serde_json::to_string_pretty(&body)
        } else {
            serde_json::to_string(&body)
        }
        .expect("a value serialises");
        let read = parse_json_strictly(text.as_bytes());
        prop_assert_eq!(read.as_ref(), Ok(&body));
        prop_assert_eq!(canonical_bytes(&body), canonical_bytes(&read.unwrap()));
        check_canonical(&body)?;
    }

    #[test]
    fn any_value_has_a_canonical_form(value in any_json()) {
        check_canonical(&value)?;
    }
}

/// A key whose name holds what serde_json's error messages hold, found by the fuzzer:
/// the duplicate's name was cut at its first " at line".
#[test]
fn a_duplicate_key_is_named_whole() {
    for key in ["a at line 1", "b at line 3 column 4", "\" at line", "line"] {
        let member = format!("{}:1", Value::from(key));
        let body = format!("{{{member},{member}}}");
        assert_eq!(
            parse_json_strictly(body.as_bytes()),
            Err(StrictJsonError::DuplicateKey(key.to_owned())),
            "{body}"
        );
    }
}

// ------------------------------------------------------------------ list queries

const LISTS: [(ListKind, Option<Direction>); 3] = [
    (DEPOSITS, Some(Direction::Deposit)),
    (PAYOUTS, Some(Direction::Payout)),
    (BALANCE_TRANSACTIONS, None),
];

fn list() -> impl Strategy<Value = (ListKind, Option<Direction>)> {
    select(LISTS.to_vec())
}

fn parameter_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(vec!["limit", "starting_after", "ending_before", "status"]).prop_map(str::to_owned),
        1 => select(vec!["Limit", "LIMIT", "limit ", " limit", "limit[]", "", "page"]).prop_map(str::to_owned),
        1 => nasty_text(),
    ]
}

fn parameter_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,4}",
        "0*[0-9]{1,3}",
        "[+ -]?[0-9]{1,3}(\\.0)?",
        select(vec![
            "pending",
            "processing",
            "submitted",
            "succeeded",
            "paid",
            "failed",
            "refunded",
            "partially_refunded",
            "declined",
            "rejected"
        ])
        .prop_map(str::to_owned),
        "txn_[0-9]{1,5}",
        any::<u128>().prop_map(|n| uuid::Uuid::from_u128(n).to_string()),
        nasty_text(),
    ]
}

/// A query string: names and values form-encoded (or written raw), then maybe damaged.
fn query() -> impl Strategy<Value = String> {
    let pairs = prop::collection::vec((parameter_name(), parameter_value()), 0..5);
    let damage = prop::collection::vec(
        (
            any::<Index>(),
            select(vec![
                "&", "=", "%", "%zz", "%FF", "+", "&&", "%00", "#", ";",
            ]),
        ),
        0..3,
    );
    (pairs, any::<bool>(), damage).prop_map(|(pairs, encode, damage)| {
        let mut text = if encode {
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&pairs)
                .finish()
        } else {
            pairs
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("&")
        };
        for (at, piece) in damage {
            let mut at = at.index(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text.insert_str(at, piece);
        }
        text
    })
}

/// What an accepted query holds, checked against the pairs it decodes to.
fn check_query(
    kind: ListKind,
    direction: Option<Direction>,
    text: &str,
    query: &ListQuery,
) -> Result<(), TestCaseError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect();
    let allowed: &[&str] = match direction {
        Some(_) => &["limit", "starting_after", "ending_before", "status"],
        None => &["limit", "starting_after", "ending_before"],
    };
    for (i, (name, _)) in pairs.iter().enumerate() {
        prop_assert!(allowed.contains(&name.as_str()), "{:?} accepted", name);
        prop_assert!(
            pairs[..i].iter().all(|(n, _)| n != name),
            "{:?} twice",
            name
        );
    }
    let given = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let page = query
        .page(|id| Some(id.to_owned()))
        .expect("any cursor reads as itself");
    match given("limit") {
        None => prop_assert_eq!(page.limit, 10),
        Some(limit) => {
            prop_assert!(!limit.is_empty() && limit.bytes().all(|b| b.is_ascii_digit()));
            prop_assert_eq!(limit.parse::<usize>().ok(), Some(page.limit));
        }
    }
    prop_assert!((1..=100).contains(&page.limit));
    let cursor = match (given("starting_after"), given("ending_before")) {
        (Some(_), Some(_)) => {
            prop_assert!(false, "both cursors accepted");
            None
        }
        (Some(id), None) => Some(Cursor::StartingAfter(id)),
        (None, Some(id)) => Some(Cursor::EndingBefore(id)),
        (None, None) => None,
    };
    prop_assert_eq!(page.cursor, cursor);
    prop_assert_eq!(
        query.page(|_| None::<()>).is_err(),
        given("starting_after").or(given("ending_before")).is_some()
    );
    if let Some(direction) = direction {
        match (query.status(direction), given("status")) {
            (Ok(None), None) => {}
            (Ok(Some(status)), Some(text)) => prop_assert_eq!(status.name(direction), text),
            (Err(error), Some(text)) => {
                prop_assert_eq!(error.code, ErrorCode::StatusInvalid);
                prop_assert!(DepositStatus::parse(direction, &text).is_none());
            }
            (status, given) => prop_assert!(false, "status {:?} for {:?}", status, given),
        }
    }
    let _ = kind;
    Ok(())
}

proptest! {
    #![proptest_config(fuzz::config("proptest-regressions/fuzz_parsers.txt"))]

    #[test]
    fn any_query_is_read_within_the_rules_or_refused(
        (kind, direction) in list(),
        text in prop_oneof![query(), nasty_text()],
        absent in any::<bool>(),
    ) {
        let given = (!absent || !text.is_empty()).then_some(text.as_str());
        match ListQuery::parse(kind, given) {
            Ok(query) => check_query(kind, direction, given.unwrap_or_default(), &query)?,
            Err(error) => prop_assert!(matches!(
                error.code,
                ErrorCode::ParameterUnknown
                    | ErrorCode::ParameterDuplicate
                    | ErrorCode::ParametersExclusive
                    | ErrorCode::LimitInvalid
            )),
        }
    }

    #[test]
    fn valid_queries_are_read_as_given(
        (kind, direction) in list(),
        limit in prop::option::of(1usize..=100),
        cursor in prop::option::of((any::<bool>(), parameter_value())),
        status in any::<Index>(),
        with_status in any::<bool>(),
    ) {
        let mut pairs: Vec<(String, String)> = Vec::new();
        if let Some(limit) = limit {
            pairs.push(("limit".into(), limit.to_string()));
        }
        if let Some((after, id)) = &cursor {
            let name = if *after { "starting_after" } else { "ending_before" };
            pairs.push((name.into(), id.clone()));
        }
        let status = direction.filter(|_| with_status).map(|direction| {
            let all = DepositStatus::all(direction);
            let status = all[status.index(all.len())];
            pairs.push(("status".into(), status.name(direction).to_owned()));
            (direction, status)
        });
        let text = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish();
        let query = ListQuery::parse(kind, Some(&text));
        prop_assert!(query.is_ok(), "{:?}: {:?}", text, query.err());
        let query = query.unwrap();
        check_query(kind, direction, &text, &query)?;
        if let Some((direction, status)) = status {
            prop_assert_eq!(query.status(direction), Ok(Some(status)));
        }
    }
}

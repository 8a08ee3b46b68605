//! Property-based fuzzing of what this handler reads itself: the route a path names
//! (`routes::route`), the refund body (`refund::refund_amount`, after strict JSON) and the
//! `Idempotency-Key` header (`body::idempotency_key`). The deposit and payout bodies and
//! the list queries are fuzzed where they are parsed (`paygate-domain`, `paygate-api`).
//!
//! Each never panics, on any input and on mutations of valid input; what it accepts keeps
//! the documented rules; valid input is accepted as given.
//!
//! Cases: proptest's default (256), or `PROPTEST_CASES`. At scale:
//! `PROPTEST_CASES=250000 cargo test --release -p deposit-intake --lib fuzz`.

use crate::body::idempotency_key;
use crate::refund::refund_amount;
use crate::routes::{Route, route};
use http::{HeaderMap, HeaderValue};
use paygate_api::ErrorCode;
use paygate_api::json::parse_json_strictly;
use paygate_domain::DepositId;
use paygate_domain::money::MAX_AMOUNT_MINOR;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use serde_json::Value;

/// Proptest's defaults, so `PROPTEST_CASES` sets the cases; a failure is kept in the
/// crate's `proptest-regressions/` and replayed first from then on.
fn config() -> ProptestConfig {
    paygate_kit::fuzz::config("proptest-regressions/fuzz.txt")
}

/// Text a parser should survive: any unicode, control characters, separators, escapes.
fn nasty_text() -> impl Strategy<Value = String> {
    let patterns = [
        "[\\x00-\\x1f\\x7f /%.?#;:{}\\[\\]\"\\\\,]{0,6}",
        "(%[0-9A-Fa-f]{2}|%[g-z]|/|\\.\\.?){1,4}",
        "-?[0-9]{1,25}(\\.[0-9]{0,3})?([eE][+-]?[0-9]{1,4})?",
        "[\\u{1F600}-\\u{1F64F}\\u{0660}-\\u{0669}é]{1,4}",
    ];
    paygate_kit::fuzz::nasty_text(&patterns, 3000, select(vec!['a', '/', '{', '0', ' ']))
}

// ------------------------------------------------------------------ routes

const TEMPLATES: [&str; 10] = [
    "/v1/deposits",
    "/v1/deposits/{id}",
    "/v1/deposits/{id}/events",
    "/v1/deposits/{id}/refunds",
    "/v1/payouts",
    "/v1/payouts/{id}",
    "/v1/payouts/{id}/events",
    "/v1/balance",
    "/v1/balance/transactions",
    "/v1/gateways",
];

/// A documented path: a template with an id (any case) in it.
fn valid_path() -> impl Strategy<Value = String> {
    (select(TEMPLATES.to_vec()), any::<u128>(), any::<bool>()).prop_map(|(template, n, upper)| {
        let id = uuid::Uuid::from_u128(n).to_string();
        let id = if upper { id.to_ascii_uppercase() } else { id };
        template.replace("{id}", &id)
    })
}

/// A documented path with one to three pieces of text inserted, or cut short.
fn mutated_path() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        select(vec![
            "/", "//", "%2F", "%20", ".", "..", "?", "#", "{", "}", "V", "-", "0", "g", "\0"
        ])
        .prop_map(str::to_owned),
        nasty_text(),
    ];
    (
        valid_path(),
        prop::collection::vec((any::<Index>(), piece), 0..3),
        prop::option::of(any::<Index>()),
    )
        .prop_map(|(mut path, pieces, cut)| {
            for (at, piece) in pieces {
                let mut at = at.index(path.len() + 1);
                while !path.is_char_boundary(at) {
                    at -= 1;
                }
                path.insert_str(at, &piece);
            }
            if let Some(cut) = cut {
                let mut at = cut.index(path.len() + 1);
                while !path.is_char_boundary(at) {
                    at -= 1;
                }
                path.truncate(at);
            }
            path
        })
}

/// A route is named only by its template exactly, with a hyphenated id where it has one;
/// a malformed id names nothing but its list's "not found".
fn check_route(path: &str, route: &Route) -> Result<(), TestCaseError> {
    let template = route.template();
    match route {
        Route::One(_, id) | Route::Events(_, id) | Route::DepositRefunds(id) => {
            let (before, after) = template.split_once("{id}").expect("a template with an id");
            let given = path
                .strip_prefix(before)
                .and_then(|rest| rest.strip_suffix(after))
                .expect("the path is the template's");
            prop_assert_eq!(given.len(), 36);
            prop_assert_eq!(given.to_ascii_lowercase(), id.to_string());
        }
        Route::Unknown(_) => {
            let rest = template.strip_suffix("{id}").expect("an id's template");
            let segments: Vec<&str> = path
                .strip_prefix(rest)
                .expect("under the list")
                .split('/')
                .collect();
            prop_assert!(DepositId::parse(segments[0]).is_none());
            prop_assert!(segments.len() <= 2 && segments.iter().all(|s| !s.is_empty()));
        }
        _ => prop_assert_eq!(path, template),
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_path_names_a_route_only_by_its_template(path in prop_oneof![mutated_path(), nasty_text()]) {
        if let Some(route) = route(&path) {
            check_route(&path, &route)?;
        }
    }

    #[test]
    fn documented_paths_name_their_route(path in valid_path()) {
        let route = route(&path);
        prop_assert!(route.is_some(), "{}", path);
        let route = route.unwrap();
        prop_assert!(!matches!(route, Route::Unknown(_)), "{}", path);
        check_route(&path, &route)?;
    }
}

// ------------------------------------------------------------------ refund bodies

/// A refund body as bytes: `{}`, `{"amount": n}` (maybe `null`, a float, a string,
/// huge), with other members, or any text.
fn refund_body() -> impl Strategy<Value = Vec<u8>> {
    let amount = prop_oneof![
        (1..=MAX_AMOUNT_MINOR).prop_map(|n| n.to_string()),
        (1u64..1000).prop_map(|n| format!("{n}.0")),
        select(vec![
            "null",
            "0",
            "-1",
            "1.5",
            "\"100\"",
            "1e3",
            "1e400",
            "-0",
            "18446744073709551616",
            "1000000000000001",
            "[1]",
            "{\"amount\":1}",
            "true",
        ])
        .prop_map(str::to_owned),
        nasty_text(),
    ];
    let extra = prop::option::of(prop_oneof![
        Just(r#""amount":2"#.to_owned()),
        r#""[a-z_]{1,8}":(1|null|"x")"#,
    ]);
    prop_oneof![
        (prop::option::of(amount), extra).prop_map(|(amount, extra)| {
            let members: Vec<String> = amount
                .map(|a| format!(r#""amount":{a}"#))
                .into_iter()
                .chain(extra)
                .collect();
            format!("{{{}}}", members.join(",")).into_bytes()
        }),
        prop::collection::vec(any::<u8>(), 0..64),
        nasty_text().prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn refund_bodies_are_read_within_the_rules_or_refused(bytes in refund_body()) {
        let Ok(body) = parse_json_strictly(&bytes) else {
            return Ok(());
        };
        match refund_amount(&body) {
            Ok(amount) => {
                let object = body.as_object().expect("an accepted body is an object");
                prop_assert!(object.keys().all(|k| k == "amount"));
                match (amount, object.get("amount")) {
                    (None, None | Some(Value::Null)) => {}
                    (Some(amount), Some(sent)) => {
                        prop_assert!((1..=MAX_AMOUNT_MINOR).contains(&amount.minor()));
                        let written = sent.as_u64().or_else(|| {
                            sent.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as u64)
                        });
                        prop_assert_eq!(written, Some(amount.minor()));
                    }
                    (amount, sent) => prop_assert!(false, "{:?} from {:?}", amount, sent),
                }
            }
            Err(error) => prop_assert!(matches!(
                error.code,
                ErrorCode::BodyInvalid
                    | ErrorCode::ParameterUnknown
                    | ErrorCode::AmountInvalid
                    | ErrorCode::AmountTooLarge
            ), "{:?}", error.code),
        }
    }

    #[test]
    fn documented_refund_bodies_are_accepted(amount in prop::option::of(1..=MAX_AMOUNT_MINOR)) {
        let body = match amount {
            Some(amount) => serde_json::json!({ "amount": amount }),
            None => serde_json::json!({}),
        };
        let read = refund_amount(&body).map(|a| a.map(|a| a.minor()));
        prop_assert_eq!(read, Ok(amount));
    }
}

// ------------------------------------------------------------------ idempotency keys

fn headers(value: Option<&[u8]>) -> Option<HeaderMap> {
    let mut headers = HeaderMap::new();
    if let Some(value) = value {
        headers.insert("idempotency-key", HeaderValue::from_bytes(value).ok()?);
    }
    Some(headers)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn idempotency_keys_are_accepted_only_as_documented(
        value in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..300),
            "[ -~\\t]{0,300}".prop_map(String::into_bytes),
            nasty_text().prop_map(String::into_bytes),
        ]
    ) {
        // What HTTP cannot carry never reaches the handler.
        let Some(headers) = headers(Some(&value)) else {
            return Ok(());
        };
        match idempotency_key(&headers) {
            Ok(key) => {
                prop_assert_eq!(key.as_str().as_bytes(), &value[..]);
                prop_assert!((1..=255).contains(&value.len()));
                prop_assert!(value.iter().all(|b| (b' '..=b'~').contains(b)));
            }
            Err(error) => {
                prop_assert_eq!(error.code, ErrorCode::IdempotencyKeyInvalid);
                prop_assert_eq!(error.param.as_deref(), Some("Idempotency-Key"));
            }
        }
    }

    #[test]
    fn documented_idempotency_keys_are_accepted(key in "[ -~]{1,255}") {
        let headers = headers(Some(key.as_bytes())).expect("visible ASCII is a header value");
        prop_assert_eq!(idempotency_key(&headers).map(|k| k.as_str().to_owned()), Ok(key));
        let missing = idempotency_key(&HeaderMap::new()).map(|k| k.as_str().to_owned());
        prop_assert_eq!(missing.map_err(|e| e.code), Err(ErrorCode::IdempotencyKeyMissing));
    }
}

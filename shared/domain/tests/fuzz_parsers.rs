//! Property-based fuzzing of the domain's parsers of untrusted input: the deposit and
//! payout request bodies (`validation`), currency and country codes (`money`), ledger
//! entry ids (`ledger::parse_entry_id`, the balance transactions' cursor) and object ids
//! (`DepositId::parse`, the path's and the deposits list's cursor).
//!
//! Each parser has two kinds of property: it never panics, on arbitrary input and on
//! structure-aware mutations of valid input (fields removed, added, retyped, nested deep,
//! huge numbers, unicode, control characters, long strings); and what it accepts keeps the
//! documented rules, while valid input drawn by a strategy is accepted as sent.
//!
//! Cases: proptest's default (256), or `PROPTEST_CASES`. At scale:
//! `PROPTEST_CASES=200000 cargo test --release -p paygate-domain --test fuzz_parsers`.

use paygate_domain::ids::DepositId;
use paygate_domain::ledger::{entry_id, parse_entry_id};
use paygate_domain::money::{Country, Currency, MAX_AMOUNT_MINOR};
use paygate_domain::validation::{
    DepositRequest, MAX_CUSTOMER_ID_LEN, MAX_METADATA_KEY_LEN, MAX_METADATA_KEYS,
    MAX_METADATA_VALUE_LEN, MAX_TOKEN_LEN, parse_deposit_request, parse_payout_request,
};
use paygate_kit::fuzz::{self, Nesting, body_field, json_value};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use secrecy::ExposeSecret;
use serde_json::{Map, Number, Value, json};
use std::sync::LazyLock;

// ------------------------------------------------------------------ helpers

/// Every code `Currency::parse` takes, found by asking it about every three letters.
static CURRENCIES: LazyLock<Vec<String>> = LazyLock::new(|| {
    codes(3)
        .into_iter()
        .filter(|c| Currency::parse(c).is_ok())
        .collect()
});

/// Every code `Country::parse` takes.
static COUNTRIES: LazyLock<Vec<String>> = LazyLock::new(|| {
    codes(2)
        .into_iter()
        .filter(|c| Country::parse(c).is_ok())
        .collect()
});

/// Every string of `len` upper-case ASCII letters.
fn codes(len: u32) -> Vec<String> {
    (0..26usize.pow(len))
        .map(|mut n| {
            (0..len)
                .map(|_| {
                    let c = char::from(b'A' + (n % 26) as u8);
                    n /= 26;
                    c
                })
                .collect()
        })
        .collect()
}

fn currency() -> impl Strategy<Value = String> {
    select(CURRENCIES.clone())
}

fn country() -> impl Strategy<Value = String> {
    select(COUNTRIES.clone())
}

/// Strings a parser should survive: any unicode, control characters, near-misses of
/// codes, numbers as text, and long ones.
fn nasty_string() -> impl Strategy<Value = String> {
    let patterns = [
        "[A-Za-z]{0,4}",
        "[\\x00-\\x1f\\x7f\\u{80}-\\u{9f} a-z]{0,8}",
        "[\\u{1F600}-\\u{1F64F}\\u{0660}-\\u{0669}\\u{FF10}-\\u{FF19}é]{1,8}",
        "-?[0-9]{1,25}(\\.[0-9]{0,3})?(e[+-]?[0-9]{1,3})?",
    ];
    // Weighted as one choice each among nine, like the codes beside them.
    prop_oneof![
        7 => paygate_kit::fuzz::nasty_text(&patterns, 3000, any::<char>()),
        1 => currency(),
        1 => country(),
    ]
}

/// Numbers at the edges: zero, negatives, the maximum amount and either side of it,
/// 2^53, beyond u64, tiny and huge floats.
fn nasty_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        select(vec![
            0.0,
            -0.0,
            0.5,
            1.0,
            1.5,
            -1.0,
            1e15,
            1e15 + 1.0,
            9_007_199_254_740_992.0,
            18_446_744_073_709_551_616.0,
            1e300,
            -1e300,
            f64::MIN_POSITIVE,
            f64::MAX,
        ])
        .prop_map(Value::from),
        (MAX_AMOUNT_MINOR - 2..=MAX_AMOUNT_MINOR + 2).prop_map(Value::from),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        nasty_number(),
        nasty_string().prop_map(Value::from),
    ]
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let nesting = Nesting {
        depth: 4,
        size: 64,
        width: 8,
    };
    json_value(leaf(), field_name(), nesting)
}

/// The names the bodies use (so a mutation may put a field back with another type)
/// and any other.
fn field_name() -> impl Strategy<Value = String> {
    body_field(nasty_string())
}

/// One change to a JSON document, at the node `at` picks (in pre-order).
#[derive(Debug, Clone)]
enum Mutation {
    /// Removes a member (or item) of the node, if it has any.
    Remove(Index, Index),
    /// Puts another value, of any type, in its place.
    Replace(Index, Value),
    /// Adds a member to an object (an item to an array); wraps anything else in one.
    Insert(Index, String, Value),
    /// Buries it under `depth` levels of arrays and objects.
    Nest(Index, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), any::<Index>()).prop_map(|(at, which)| Mutation::Remove(at, which)),
        (any::<Index>(), any_json()).prop_map(|(at, value)| Mutation::Replace(at, value)),
        (any::<Index>(), field_name(), any_json())
            .prop_map(|(at, key, value)| Mutation::Insert(at, key, value)),
        (any::<Index>(), 1usize..300).prop_map(|(at, depth)| Mutation::Nest(at, depth)),
    ]
}

fn nodes(value: &Value) -> usize {
    1 + match value {
        Value::Object(map) => map.values().map(nodes).sum(),
        Value::Array(items) => items.iter().map(nodes).sum(),
        _ => 0,
    }
}

/// The `n`th node of `value` in pre-order (`n < nodes(value)`).
fn node_mut(value: &mut Value, mut n: usize) -> &mut Value {
    if n == 0 {
        return value;
    }
    n -= 1;
    let children: Box<dyn Iterator<Item = &mut Value>> = match value {
        Value::Object(map) => Box::new(map.values_mut()),
        Value::Array(items) => Box::new(items.iter_mut()),
        _ => unreachable!("a leaf has no node {n}"),
    };
    for child in children {
        let size = nodes(child);
        if n < size {
            return node_mut(child, n);
        }
        n -= size;
    }
    unreachable!("fewer nodes than counted")
}

fn apply(value: &mut Value, mutation: Mutation) {
    let at = match &mutation {
        Mutation::Remove(at, _)
        | Mutation::Replace(at, _)
        | Mutation::Insert(at, _, _)
        | Mutation::Nest(at, _) => at.index(nodes(value)),
    };
    let node = node_mut(value, at);
    match mutation {
        Mutation::Remove(_, which) => match node {
            Value::Object(map) if !map.is_empty() => {
                let key = map.keys().nth(which.index(map.len())).cloned();
                map.remove(&key.unwrap_or_default());
            }
            Value::Array(items) if !items.is_empty() => {
                items.remove(which.index(items.len()));
            }
            _ => {}
        },
        Mutation::Replace(_, replacement) => *node = replacement,
        Mutation::Insert(_, key, item) => match node {
            Value::Object(map) => {
                map.insert(key, item);
            }
            Value::Array(items) => items.push(item),
            other => *other = json!({ key: item }),
        },
        Mutation::Nest(_, depth) => {
            for level in 0..depth {
                let inner = node.take();
                *node = if level % 2 == 0 {
                    json!([inner])
                } else {
                    json!({ "amount": inner })
                };
            }
        }
    }
}

/// `valid` changed by one to four mutations.
fn mutated(valid: impl Strategy<Value = Value>) -> impl Strategy<Value = Value> {
    (valid, prop::collection::vec(mutation(), 1..5)).prop_map(|(mut value, mutations)| {
        for mutation in mutations {
            apply(&mut value, mutation);
        }
        value
    })
}

/// An amount as a merchant may write it: an integer, or an integral float (`38.0`).
fn valid_amount() -> impl Strategy<Value = (u64, Value)> {
    prop_oneof![
        (1..=MAX_AMOUNT_MINOR).prop_map(|n| (n, Value::from(n))),
        (1..=MAX_AMOUNT_MINOR).prop_map(|n| (n, Value::from(n as f64))),
        (1u64..1000).prop_map(|n| (n, Value::from(n))),
    ]
}

fn valid_metadata() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(
        ".{1,40}",
        prop_oneof![".{0,20}", ".{490,500}"],
        0..=MAX_METADATA_KEYS,
    )
    .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k, v.into())).collect()))
}

/// A deposit body the API documents as valid; `metadata` and `payment_method` may be
/// left out or `null`.
fn valid_deposit() -> impl Strategy<Value = Value> {
    (
        valid_amount(),
        currency(),
        country(),
        "[^\\p{Cc}]{1,255}",
        prop::option::of(prop::option::of("[!-~]{1,255}")),
        prop::option::of(prop::option::of(valid_metadata())),
    )
        .prop_map(
            |((_, amount), currency, country, customer, token, metadata)| {
                let mut body = Map::new();
                body.insert("amount".into(), amount);
                body.insert("currency".into(), currency.into());
                body.insert("country".into(), country.into());
                body.insert("customer_id".into(), customer.into());
                if let Some(token) = token {
                    let method = token.map(|t| json!({ "type": "card", "token": t }));
                    body.insert("payment_method".into(), method.unwrap_or(Value::Null));
                }
                if let Some(metadata) = metadata {
                    body.insert("metadata".into(), metadata.unwrap_or(Value::Null));
                }
                Value::Object(body)
            },
        )
}

/// A payout body the API documents as valid.
fn valid_payout() -> impl Strategy<Value = Value> {
    (
        valid_amount(),
        currency(),
        country(),
        "[!-~]{1,255}",
        prop::option::of(valid_metadata()),
    )
        .prop_map(|((_, amount), currency, country, token, metadata)| {
            let mut body = json!({
                "amount": amount, "currency": currency, "country": country,
                "destination": { "type": "bank_account", "token": token },
            });
            if let Some(metadata) = metadata {
                body["metadata"] = metadata;
            }
            body
        })
}

/// Whether `body`'s `field` is absent or `null`.
fn absent(body: &Value, field: &str) -> bool {
    body.get(field).is_none_or(Value::is_null)
}

/// What every accepted request holds, deposit or payout, checked against the body it
/// came from: the documented rules, and the values as sent.
fn check_common(body: &Value, request: &DepositRequest) -> Result<(), TestCaseError> {
    let minor = request.amount.minor();
    prop_assert!((1..=MAX_AMOUNT_MINOR).contains(&minor));
    let amount = &body["amount"];
    let written = amount
        .as_u64()
        .or_else(|| amount.as_f64().map(|f| f as u64));
    prop_assert_eq!(written, Some(minor));
    prop_assert!(amount.as_u64().is_some() || amount.as_f64().is_some_and(|f| f.fract() == 0.0));
    let code = request.currency.code();
    prop_assert_eq!(body["currency"].as_str(), Some(code));
    prop_assert!(code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()));
    let country = request.country.code();
    prop_assert_eq!(body["country"].as_str(), Some(country));
    prop_assert!(country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase()));
    match body.get("metadata").filter(|m| !m.is_null()) {
        None => prop_assert!(request.metadata.is_empty()),
        Some(sent) => {
            let sent = sent.as_object().expect("accepted metadata is an object");
            prop_assert!(sent.len() <= MAX_METADATA_KEYS);
            prop_assert_eq!(sent.len(), request.metadata.len());
            for (key, value) in &request.metadata {
                prop_assert!((1..=MAX_METADATA_KEY_LEN).contains(&key.chars().count()));
                prop_assert!(value.chars().count() <= MAX_METADATA_VALUE_LEN);
                prop_assert_eq!(sent[key].as_str(), Some(value.as_str()));
            }
        }
    }
    Ok(())
}

/// The instrument (`payment_method` or `destination`) as accepted: of `kind`, with the
/// token sent, 1 to 255 printable ASCII characters.
fn check_instrument(
    sent: &Value,
    accepted: &paygate_domain::validation::PaymentMethodInput,
    kind: &str,
) -> Result<(), TestCaseError> {
    let sent = sent
        .as_object()
        .expect("an accepted instrument is an object");
    prop_assert!(sent.keys().all(|k| k == "type" || k == "token"));
    prop_assert_eq!(accepted.kind.as_str(), kind);
    prop_assert_eq!(sent["type"].as_str(), Some(kind));
    let token = accepted.token.expose_secret();
    prop_assert!((1..=MAX_TOKEN_LEN).contains(&token.len()));
    prop_assert!(token.bytes().all(|b| b.is_ascii_graphic()));
    prop_assert_eq!(sent["token"].as_str(), Some(token));
    Ok(())
}

fn check_deposit(body: &Value, request: &DepositRequest) -> Result<(), TestCaseError> {
    let object = body.as_object().expect("an accepted body is an object");
    const FIELDS: [&str; 6] = [
        "amount",
        "currency",
        "country",
        "customer_id",
        "payment_method",
        "metadata",
    ];
    prop_assert!(object.keys().all(|k| FIELDS.contains(&k.as_str())));
    check_common(body, request)?;
    let customer = request.customer_id.as_str();
    prop_assert!((1..=MAX_CUSTOMER_ID_LEN).contains(&customer.chars().count()));
    prop_assert!(!customer.chars().any(char::is_control));
    prop_assert_eq!(body["customer_id"].as_str(), Some(customer));
    match (&request.payment_method, absent(body, "payment_method")) {
        (None, true) => {}
        (Some(method), false) => check_instrument(&body["payment_method"], method, "card")?,
        (method, absent) => {
            prop_assert!(
                false,
                "payment method {method:?} for a body where absent={absent}"
            )
        }
    }
    Ok(())
}

fn check_payout(body: &Value, request: &DepositRequest) -> Result<(), TestCaseError> {
    let object = body.as_object().expect("an accepted body is an object");
    const FIELDS: [&str; 5] = ["amount", "currency", "country", "destination", "metadata"];
    prop_assert!(object.keys().all(|k| FIELDS.contains(&k.as_str())));
    check_common(body, request)?;
    prop_assert!(request.customer_id.is_empty());
    let destination = request
        .payment_method
        .as_ref()
        .expect("a payout's destination");
    check_instrument(&body["destination"], destination, "bank_account")
}

// ------------------------------------------------------------------ request bodies

/// The three properties of a request body's parser, for one kind of request (its parser,
/// the rules an accepted body keeps, and the strategy drawing valid bodies): in a module
/// named after the kind, so a failing case names it.
macro_rules! request_body_properties {
    ($kind:ident, $parse:ident, $check:ident, $valid:ident) => {
        mod $kind {
            use super::*;

            proptest! {
                #![proptest_config(fuzz::config("proptest-regressions/fuzz_parsers.txt"))]

                #[test]
                fn bodies_never_panic_on_any_json(body in any_json()) {
                    if let Ok(request) = $parse(&body) {
                        $check(&body, &request)?;
                    }
                }

                #[test]
                fn mutated_bodies_are_accepted_only_within_the_rules(body in mutated($valid())) {
                    if let Ok(request) = $parse(&body) {
                        $check(&body, &request)?;
                    }
                }

                #[test]
                fn valid_bodies_are_accepted_as_sent(body in $valid()) {
                    let request = $parse(&body);
                    prop_assert!(request.is_ok(), "{:?}", request.err());
                    $check(&body, &request.unwrap())?;
                }
            }
        }
    };
}

request_body_properties!(deposit, parse_deposit_request, check_deposit, valid_deposit);
request_body_properties!(payout, parse_payout_request, check_payout, valid_payout);

// ------------------------------------------------------------------ codes

proptest! {
    #![proptest_config(fuzz::config("proptest-regressions/fuzz_parsers.txt"))]

    #[test]
    fn currencies_are_accepted_only_as_their_upper_case_codes(text in nasty_string()) {
        if let Ok(currency) = Currency::parse(&text) {
            prop_assert_eq!(currency.code(), text.as_str());
            prop_assert!(text.len() == 3 && text.bytes().all(|b| b.is_ascii_uppercase()));
            prop_assert!(currency.exponent() <= 4);
        }
        if let Ok(country) = Country::parse(&text) {
            prop_assert_eq!(country.code(), text.as_str());
            prop_assert!(text.len() == 2 && text.bytes().all(|b| b.is_ascii_uppercase()));
        }
    }
}

// ------------------------------------------------------------------ ledger entry ids

/// An entry id, or a near miss of one: leading zeros, signs, spaces, other digits,
/// another prefix, overflow.
fn entry_id_like() -> impl Strategy<Value = String> {
    let digits = prop_oneof![
        "[0-9]{0,22}",
        any::<u64>().prop_map(|n| n.to_string()),
        Just(u64::MAX.to_string()),
        Just("18446744073709551616".to_owned()),
        "[+ -]?0*[1-9][0-9]{0,5}",
        "[0-9\\u{0660}-\\u{0669}\\u{FF10}-\\u{FF19}_ ]{1,6}",
    ];
    let prefix = prop_oneof![
        4 => Just("txn_".to_owned()),
        1 => select(vec!["", "TXN_", "txn", "txn-", " txn_", "txn__", "ref_"]).prop_map(str::to_owned),
        1 => nasty_string(),
    ];
    let suffix = prop_oneof![
        4 => Just(String::new()),
        1 => select(vec![" ", "\n", "\0", "x", "/", "é"]).prop_map(str::to_owned),
    ];
    (prefix, digits, suffix).prop_map(|(p, d, s)| format!("{p}{d}{s}"))
}

proptest! {
    #![proptest_config(fuzz::config("proptest-regressions/fuzz_parsers.txt"))]

    #[test]
    fn entry_ids_are_accepted_only_in_their_canonical_form(id in prop_oneof![entry_id_like(), nasty_string()]) {
        if let Some(sequence) = parse_entry_id(&id) {
            prop_assert!(sequence > 0);
            prop_assert_eq!(entry_id(sequence), id);
        }
    }

    #[test]
    fn every_entry_id_round_trips(sequence in prop_oneof![1..=u64::MAX, 1u64..1000]) {
        prop_assert_eq!(parse_entry_id(&entry_id(sequence)), Some(sequence));
    }
}

// ------------------------------------------------------------------ object ids

/// A UUID in every form `uuid` can write it, and near misses.
fn uuid_like() -> impl Strategy<Value = String> {
    (any::<u128>(), 0u8..8, nasty_string()).prop_map(|(n, form, noise)| {
        let uuid = uuid::Uuid::from_u128(n);
        match form {
            0 => uuid.hyphenated().to_string(),
            1 => uuid.hyphenated().to_string().to_ascii_uppercase(),
            2 => uuid.simple().to_string(),
            3 => uuid.braced().to_string(),
            4 => uuid.urn().to_string(),
            5 => format!("{}{noise}", uuid.hyphenated()),
            6 => format!("{noise}{}", uuid.hyphenated()),
            _ => {
                let mut text = uuid.hyphenated().to_string();
                let at = (n % 36) as usize;
                text.replace_range(at..=at, if noise.is_empty() { "g" } else { &noise });
                text
            }
        }
    })
}

proptest! {
    #![proptest_config(fuzz::config("proptest-regressions/fuzz_parsers.txt"))]

    #[test]
    fn object_ids_are_accepted_only_hyphenated(id in prop_oneof![uuid_like(), nasty_string()]) {
        if let Some(parsed) = DepositId::parse(&id) {
            prop_assert_eq!(id.len(), 36);
            prop_assert_eq!(parsed.to_string(), id.to_ascii_lowercase());
        }
    }

    #[test]
    fn every_object_id_round_trips(n in any::<u128>()) {
        let id = DepositId(uuid::Uuid::from_u128(n));
        prop_assert_eq!(DepositId::parse(&id.to_string()), Some(id));
        prop_assert_eq!(DepositId::parse(&id.to_string().to_ascii_uppercase()), Some(id));
    }
}

//! The values the bodies are made of, and text a reader should survive.

use paygate_domain::gateways::WireFormat;
use paygate_domain::money::MAX_AMOUNT_MINOR;
use paygate_kit::fuzz::{Nesting, json_scalar, json_value};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;

/// Text a reader should survive: any unicode, control characters, markup and JSON
/// punctuation, entities, numbers at the edges, long runs.
pub(super) fn nasty_text() -> impl Strategy<Value = String> {
    let patterns = [
        "[\\x00-\\x1f\\x7f <>&;\"'{}\\[\\]:,/=]{0,6}",
        "(&(amp|lt|gt|quot|apos|nbsp|x);|&#x?[0-9a-fA-F]{1,8};|<!\\[CDATA\\[[a-z]{0,3}\\]\\]>){1,3}",
        "-?[0-9]{1,30}(\\.[0-9]{0,3})?([eE][+-]?[0-9]{1,4})?",
        "[\\u{1F600}-\\u{1F64F}\\u{0660}-\\u{0669}é \\t]{1,6}",
        "[ \\t\\n]*[a-z_]{1,10}[ \\t\\n]*",
    ];
    paygate_kit::fuzz::nasty_text(&patterns, 3000, select(vec!['a', '<', '[', '{', '0', ' ']))
}

pub(super) fn currency() -> impl Strategy<Value = &'static str> {
    select(vec!["AED", "USD", "EUR", "JPY", "KWD", "GBP", "BHD", "CHF"])
}

pub(super) fn amount() -> impl Strategy<Value = u64> {
    prop_oneof![1u64..100_000, 1..=MAX_AMOUNT_MINOR]
}

pub(super) fn hex_id(prefix: &'static str) -> impl Strategy<Value = String> {
    "[0-9a-f]{32}".prop_map(move |hex| format!("{prefix}{hex}"))
}

pub(super) fn plain_code() -> impl Strategy<Value = String> {
    "[a-z_]{1,30}"
}

/// Any status, weighted towards the ones the table names.
pub(super) fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        select(vec![
            200, 201, 204, 301, 400, 401, 402, 403, 404, 405, 408, 409, 410, 422, 429, 500, 502,
            503, 504,
        ]),
        100u16..600,
    ]
}

/// A JSON value, any type, a few levels deep.
pub(super) fn any_json() -> impl Strategy<Value = Value> {
    let nesting = Nesting {
        depth: 3,
        size: 32,
        width: 6,
    };
    json_value(json_scalar(nasty_text()), nasty_text(), nesting)
}

pub(super) fn format() -> impl Strategy<Value = WireFormat> {
    select(vec![WireFormat::Json, WireFormat::Soap])
}

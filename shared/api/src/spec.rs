//! What the OpenAPI document ([`OPENAPI_JSON`](crate::OPENAPI_JSON)) says about errors, so
//! the error codes' own tests and the devstack's spec test read it the same way.

use serde_json::Value;
use std::collections::BTreeSet;

/// Every `(type, code)` an error response's schema allows: `error.type`'s `const` with
/// each of `error.code`'s `const` or `enum`, through `allOf` / `oneOf` / `anyOf`.
///
/// # Panics
///
/// When a schema that lists codes names no type as a `const`, or a code is no string:
/// the document is then wrong, not the caller.
pub fn documented_errors(schema: &Value) -> BTreeSet<(String, String)> {
    let mut pairs = BTreeSet::new();
    error_pairs(schema, false, &mut pairs);
    pairs
}

fn error_pairs(schema: &Value, inside_error: bool, pairs: &mut BTreeSet<(String, String)>) {
    let Some(object) = schema.as_object() else {
        return;
    };
    let properties = object.get("properties");
    if inside_error && let Some(code) = properties.and_then(|p| p.get("code")) {
        let kind = properties.and_then(|p| p["type"]["const"].as_str());
        let kind = kind.expect("an error schema with codes names its type as a const");
        let codes = code.get("const").into_iter().chain(
            code.get("enum")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        );
        for code in codes {
            let code = code.as_str().expect("a code is a string");
            pairs.insert((kind.to_owned(), code.to_owned()));
        }
    }
    for combinator in ["allOf", "oneOf", "anyOf"] {
        for branch in object
            .get(combinator)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            error_pairs(branch, inside_error, pairs);
        }
    }
    if !inside_error && let Some(error) = properties.and_then(|p| p.get("error")) {
        error_pairs(error, true, pairs);
    }
}

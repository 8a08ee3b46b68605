//! JSON helpers for request bodies.

use serde_json::Value;

/// The body with object keys sorted at every level, so two bodies that differ only in
/// key order or whitespace fingerprint the same.
pub fn canonical_bytes(value: &Value) -> Vec<u8> {
    fn sort(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.clone(), sort(v)))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    serde_json::to_vec(&sort(value)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_and_whitespace_do_not_matter() {
        let a: Value = serde_json::from_str(r#"{"b":1,"a":{"d":2,"c":3}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{ "a": { "c": 3, "d": 2 }, "b": 1 }"#).unwrap();
        assert_eq!(canonical_bytes(&a), canonical_bytes(&b));
        let c: Value = serde_json::from_str(r#"{"a":{"c":3,"d":2},"b":2}"#).unwrap();
        assert_ne!(canonical_bytes(&a), canonical_bytes(&c));
    }
}

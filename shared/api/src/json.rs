//! JSON helpers for request bodies.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StrictJsonError {
    Invalid,
    /// An object names the same key twice. Refused rather than "last one wins": a proxy
    /// reading the first value would disagree with what we charge.
    DuplicateKey(String),
}

/// Parses JSON like `serde_json::from_slice`, but refuses duplicate object keys.
pub fn parse_json_strictly(bytes: &[u8]) -> Result<Value, StrictJsonError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = StrictValue::deserialize(&mut deserializer).map_err(|error| {
        let text = error.to_string();
        match text.strip_prefix(DUPLICATE_PREFIX).and_then(quoted_key) {
            Some(key) => StrictJsonError::DuplicateKey(key),
            None => StrictJsonError::Invalid,
        }
    })?;
    deserializer.end().map_err(|_| StrictJsonError::Invalid)?;
    Ok(value.0)
}

const DUPLICATE_PREFIX: &str = "duplicate key ";

/// The key at the start of `rest`, written there as a JSON string (what follows it is
/// serde_json's position): whole, whatever it holds, " at line" included.
fn quoted_key(rest: &str) -> Option<String> {
    serde_json::Deserializer::from_str(rest)
        .into_iter::<String>()
        .next()?
        .ok()
}

struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let StrictValue(value) = map.next_value()?;
            if object.insert(key.clone(), value).is_some() {
                // Quoted, so the key comes back whole from the message.
                let quoted = Value::String(key).to_string();
                return Err(de::Error::custom(format!("{DUPLICATE_PREFIX}{quoted}")));
            }
        }
        Ok(Value::Object(object))
    }
}

/// The body as a request fingerprint sees it, so two bodies that ask the same fingerprint
/// the same: object keys sorted at every level (key order and whitespace do not matter),
/// members that are `null` left out (`null` means absent), and numbers without a fraction
/// written as integers (`38.0` is `38`, as amounts are read).
pub fn canonical_bytes(value: &Value) -> Vec<u8> {
    fn canonical(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().filter(|(_, v)| !v.is_null()).collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.clone(), canonical(v)))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
            Value::Number(number) => Value::Number(integral(number)),
            other => other.clone(),
        }
    }
    serde_json::to_vec(&canonical(value)).unwrap_or_default()
}

/// `number` as an integer when it is a float without a fraction that one holds exactly.
fn integral(number: &Number) -> Number {
    /// 2^53: every integer up to it is exact as an `f64`.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match number.as_f64() {
        Some(float) if number.is_f64() && float.fract() == 0.0 && float.abs() <= EXACT => {
            // Exact by the bound above.
            Number::from(float as i64)
        }
        _ => number.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        assert_eq!(
            parse_json_strictly(br#"{"amount":1,"amount":10099}"#),
            Err(StrictJsonError::DuplicateKey("amount".into()))
        );
        assert_eq!(
            parse_json_strictly(br#"{"m":{"a":"x","a":"y"}}"#),
            Err(StrictJsonError::DuplicateKey("a".into()))
        );
        assert_eq!(
            parse_json_strictly(b"{\"a\": "),
            Err(StrictJsonError::Invalid)
        );
        assert_eq!(parse_json_strictly(b"{} {}"), Err(StrictJsonError::Invalid));
        let value = parse_json_strictly(br#"{"a":[1,-2,1.5,"s",null,true],"b":{"c":1}}"#).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"a":[1,-2,1.5,"s",null,true],"b":{"c":1}})
        );
    }

    #[test]
    fn key_order_and_whitespace_do_not_matter() {
        let a: Value = serde_json::from_str(r#"{"b":1,"a":{"d":2,"c":3}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{ "a": { "c": 3, "d": 2 }, "b": 1 }"#).unwrap();
        assert_eq!(canonical_bytes(&a), canonical_bytes(&b));
        let c: Value = serde_json::from_str(r#"{"a":{"c":3,"d":2},"b":2}"#).unwrap();
        assert_ne!(canonical_bytes(&a), canonical_bytes(&c));
    }

    #[test]
    fn null_members_fingerprint_as_absent() {
        let bare = serde_json::json!({ "amount": 5 });
        let with_nulls = serde_json::json!({ "amount": 5, "metadata": null, "pm": { "x": null } });
        let with_empty = serde_json::json!({ "amount": 5, "pm": {} });
        assert_eq!(
            canonical_bytes(&serde_json::json!({})),
            canonical_bytes(&serde_json::json!({ "amount": null }))
        );
        assert_eq!(canonical_bytes(&with_nulls), canonical_bytes(&with_empty));
        assert_ne!(canonical_bytes(&bare), canonical_bytes(&with_empty));
        // In an array, a null is a value, not an absence.
        assert_ne!(
            canonical_bytes(&serde_json::json!([null])),
            canonical_bytes(&serde_json::json!([]))
        );
    }

    #[test]
    fn integral_floats_fingerprint_as_their_integers() {
        let integer: Value = serde_json::from_str(r#"{"amount":38}"#).unwrap();
        for same in [r#"{"amount":38.0}"#, r#"{"amount":3.8e1}"#] {
            let same: Value = serde_json::from_str(same).unwrap();
            assert_eq!(canonical_bytes(&integer), canonical_bytes(&same), "{same}");
        }
        let fraction: Value = serde_json::from_str(r#"{"amount":38.5}"#).unwrap();
        assert_ne!(canonical_bytes(&integer), canonical_bytes(&fraction));
    }
}

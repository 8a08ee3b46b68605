//! Structure-aware mutations of a JSON body.

use super::generators::{any_json, nasty_text};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use serde_json::Value;

/// One change to a JSON object's members, or to its text.
#[derive(Debug, Clone)]
enum JsonEdit {
    Remove(Index),
    Replace(Index, Value),
    Insert(String, Value),
    /// A member named again at the start of the text.
    Repeat(Index, Value),
    InsertBytes(Index, Vec<u8>),
    Truncate(Index),
    Nest(usize),
}

/// The field names of both formats' JSON, so a mutation may put one back wrongly typed.
const JSON_FIELDS: [&str; 14] = [
    "id",
    "type",
    "payment_id",
    "payout_id",
    "refund_id",
    "reference",
    "amount",
    "currency",
    "failure_code",
    "status",
    "error",
    "code",
    "message",
    "created",
];

fn json_edit() -> impl Strategy<Value = JsonEdit> {
    let name = prop_oneof![
        3 => select(JSON_FIELDS.to_vec()).prop_map(str::to_owned),
        1 => nasty_text(),
    ];
    prop_oneof![
        any::<Index>().prop_map(JsonEdit::Remove),
        (any::<Index>(), any_json()).prop_map(|(at, v)| JsonEdit::Replace(at, v)),
        (name, any_json()).prop_map(|(k, v)| JsonEdit::Insert(k, v)),
        (any::<Index>(), any_json()).prop_map(|(at, v)| JsonEdit::Repeat(at, v)),
        (
            any::<Index>(),
            prop_oneof![
                prop::collection::vec(any::<u8>(), 1..4),
                nasty_text().prop_map(String::into_bytes)
            ]
        )
            .prop_map(|(at, b)| JsonEdit::InsertBytes(at, b)),
        any::<Index>().prop_map(JsonEdit::Truncate),
        prop_oneof![1usize..140, Just(50_000)].prop_map(JsonEdit::Nest),
    ]
}

/// `body` changed by one to four edits: first to its members, then to its text.
pub(super) fn mutated_json(body: Value) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(json_edit(), 1..5).prop_map(move |edits| {
        let mut value = body.clone();
        let mut text_edits = Vec::new();
        for edit in edits {
            let Some(object) = value.as_object_mut() else {
                break;
            };
            let keys: Vec<String> = object.keys().cloned().collect();
            let pick = |at: Index| keys.get(at.index(keys.len().max(1))).cloned();
            match edit {
                JsonEdit::Remove(at) => {
                    if let Some(key) = pick(at) {
                        object.remove(&key);
                    }
                }
                JsonEdit::Replace(at, v) => {
                    if let Some(key) = pick(at) {
                        object.insert(key, v);
                    }
                }
                JsonEdit::Insert(k, v) => {
                    object.insert(k, v);
                }
                other => text_edits.push(other),
            }
        }
        let keys: Vec<String> = value
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        let mut text = serde_json::to_vec(&value).expect("a value serialises");
        for edit in text_edits {
            match edit {
                JsonEdit::Repeat(at, v) if text.first() == Some(&b'{') && !keys.is_empty() => {
                    let key = &keys[at.index(keys.len())];
                    let member = format!("{}:{v},", Value::from(key.as_str()));
                    text.splice(1..1, member.into_bytes());
                }
                JsonEdit::InsertBytes(at, bytes) => {
                    let at = at.index(text.len() + 1);
                    text.splice(at..at, bytes);
                }
                JsonEdit::Truncate(at) => text.truncate(at.index(text.len() + 1)),
                JsonEdit::Nest(depth) => {
                    let mut nested = vec![b'['; depth];
                    nested.append(&mut text);
                    nested.extend(vec![b']'; depth]);
                    text = nested;
                }
                _ => {}
            }
        }
        text
    })
}

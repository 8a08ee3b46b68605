//! What the property-based fuzzing suites share: the proptest configuration, the recipe
//! of nasty text (each suite brings its own ingredients), and JSON values and member names
//! built from it.

use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::Union;
use proptest::test_runner::FileFailurePersistence;
use serde_json::Value;

/// Proptest's defaults, so `PROPTEST_CASES` sets the cases; a failure is kept in
/// `regressions` (under the crate's `proptest-regressions/`) and replayed first from then
/// on.
pub fn config(regressions: &'static str) -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(regressions))),
        ..ProptestConfig::default()
    }
}

/// Text a reader should survive: any unicode, text matching each of the suite's
/// `patterns` (proptest regexes of what its input risks: separators, escapes, numbers at
/// the edges, other scripts), a run of up to `longest` copies of one `run_of` character,
/// and nothing at all.
pub fn nasty_text<C: Strategy<Value = char> + 'static>(
    patterns: &[&'static str],
    longest: usize,
    run_of: C,
) -> impl Strategy<Value = String> + use<C> {
    let mut choices = vec![any::<String>().boxed()];
    choices.extend(patterns.iter().map(|&pattern| pattern.boxed()));
    choices.push(
        (0..longest, run_of)
            .prop_map(|(n, c)| c.to_string().repeat(n))
            .boxed(),
    );
    choices.push(Just(String::new()).boxed());
    Union::new(choices)
}

/// How far a JSON value may grow: proptest's `prop_recursive` depth, desired size and
/// expected members per array or object (each array and object has fewer than `width`).
#[derive(Debug, Clone, Copy)]
pub struct Nesting {
    pub depth: u32,
    pub size: u32,
    pub width: u32,
}

/// A JSON value, any type: `leaf`s nested in arrays and objects (members named by `key`)
/// as far as `nesting` lets it.
pub fn json_value(
    leaf: impl Strategy<Value = Value> + 'static,
    key: impl Strategy<Value = String> + 'static,
    nesting: Nesting,
) -> impl Strategy<Value = Value> {
    let Nesting { depth, size, width } = nesting;
    let key = key.boxed();
    let members = 0..width as usize;
    leaf.prop_recursive(depth, size, width, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), members.clone()).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, members.clone())
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A JSON scalar: null, a boolean, any integer or float, or `text`.
pub fn json_scalar(text: impl Strategy<Value = String> + 'static) -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        text.prop_map(Value::from),
    ]
}

/// A member name of the request bodies (so a mutation may put a field back with another
/// type), three times in four, or else `other`.
pub fn body_field(other: impl Strategy<Value = String> + 'static) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(vec![
            "amount", "currency", "country", "customer_id", "payment_method", "destination",
            "metadata", "type", "token",
        ])
        .prop_map(str::to_owned),
        1 => other,
    ]
}

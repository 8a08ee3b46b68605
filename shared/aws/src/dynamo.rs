//! What the DynamoDB adapters do alike.

use crate::error::AwsError;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::time::Duration;

/// One item of a table, by attribute name.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// The item of `table` whose string key attribute `key` is `value`, read consistently
/// and parsed by `parse`; `None` when there is none.
pub(crate) async fn get_consistent<T>(
    client: &Client,
    table: &str,
    key: &str,
    value: String,
    parse: impl FnOnce(&Item) -> Result<T, AwsError>,
) -> Result<Option<T>, AwsError> {
    let output = client
        .get_item()
        .table_name(table)
        .key(key, AttributeValue::S(value))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| AwsError::call("GetItem", &e))?;
    output.item.as_ref().map(parse).transpose()
}

/// A new random number at every call: for jitter and sampling, never for secrets.
pub(crate) fn random() -> u64 {
    RandomState::new().build_hasher().finish()
}

/// A random pause of 1 to `cap_ms` milliseconds, so writers that lost a race together
/// do not retry together.
pub(crate) fn random_pause(cap_ms: u64) -> Duration {
    Duration::from_millis(1 + random() % cap_ms)
}

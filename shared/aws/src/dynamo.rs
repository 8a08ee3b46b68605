//! What the DynamoDB adapters do alike.

use crate::error::AwsError;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

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

//! Merchants by API key hash, in the merchants table: key `api_key_hash` S, attribute
//! `merchant_id` S. Only hashes are stored; the keys themselves never reach AWS.

use crate::config::Resources;
use crate::dynamo::get_consistent;
use crate::error::AwsError;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use paygate_domain::ids::MerchantId;
use paygate_domain::ports::{ApiKeyHash, MerchantDirectory, StoreError};

const API_KEY_HASH: &str = "api_key_hash";
const MERCHANT_ID: &str = "merchant_id";

/// [`MerchantDirectory`] on the DynamoDB merchants table.
#[derive(Debug, Clone)]
pub struct DynamoMerchantDirectory {
    client: Client,
    table: String,
}

impl DynamoMerchantDirectory {
    /// Uses the merchants table named in `resources`.
    pub fn new(client: Client, resources: &Resources) -> Self {
        Self {
            client,
            table: resources.merchants_table.clone(),
        }
    }

    /// Maps `hash` to `merchant`. Registering the same pair again is a no-op; a hash
    /// already mapped to another merchant is refused and left as it was.
    pub async fn register(
        &self,
        hash: &ApiKeyHash,
        merchant: &MerchantId,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(API_KEY_HASH, AttributeValue::S(hash.0.clone()))
            .item(MERCHANT_ID, AttributeValue::S(merchant.0.clone()))
            .condition_expression("attribute_not_exists(#h) OR #m = :m")
            .expression_attribute_names("#h", API_KEY_HASH)
            .expression_attribute_names("#m", MERCHANT_ID)
            .expression_attribute_values(":m", AttributeValue::S(merchant.0.clone()))
            .send()
            .await;
        if AwsError::condition_held("PutItem", result)? {
            Ok(())
        } else {
            Err(AwsError::ApiKeyTaken.into())
        }
    }
}

impl DynamoMerchantDirectory {
    /// Removes the key `hash` if it belongs to `merchant`: `Ok(true)` when removed,
    /// `Ok(false)` when no such key is registered for that merchant (nothing changes).
    /// Requests with the key are refused from then on: the intake reads consistently.
    pub async fn revoke(
        &self,
        hash: &ApiKeyHash,
        merchant: &MerchantId,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(API_KEY_HASH, AttributeValue::S(hash.0.clone()))
            .condition_expression("#m = :m")
            .expression_attribute_names("#m", MERCHANT_ID)
            .expression_attribute_values(":m", AttributeValue::S(merchant.0.clone()))
            .send()
            .await;
        Ok(AwsError::condition_held("DeleteItem", result)?)
    }
}

#[async_trait]
impl MerchantDirectory for DynamoMerchantDirectory {
    async fn merchant_for(&self, key: &ApiKeyHash) -> Result<Option<MerchantId>, StoreError> {
        let hash = key.0.clone();
        let merchant =
            get_consistent(
                &self.client,
                &self.table,
                API_KEY_HASH,
                hash,
                |item| match item.get(MERCHANT_ID) {
                    Some(AttributeValue::S(id)) if !id.is_empty() => Ok(MerchantId(id.clone())),
                    _ => Err(AwsError::malformed(
                        "merchant",
                        "merchant_id is missing or not a string",
                    )),
                },
            );
        Ok(merchant.await?)
    }
}

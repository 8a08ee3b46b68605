//! The adapters' own errors, and how they become the domain's port errors.
//!
//! Messages carry an operation name, an AWS error code and the service's message, never
//! an item, a message body or a key: payloads and payer data stay out of logs.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use paygate_domain::ports::{AppendError, QueueError, StoreError};
use std::fmt::Debug;

/// Why a DynamoDB or SQS adapter call failed.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// The AWS call itself failed (service error, timeout, connection refused, ...).
    #[error("{operation} failed: {detail}")]
    Call {
        operation: &'static str,
        /// The AWS error code, when the service answered with one.
        code: Option<String>,
        detail: String,
    },
    /// The SDK refused to build a request (a required field was missing).
    #[error("could not build a {operation} request: {detail}")]
    Build {
        operation: &'static str,
        detail: String,
    },
    /// A value could not be turned into JSON for storage.
    #[error("could not encode {what}: {detail}")]
    Encode { what: &'static str, detail: String },
    /// A stored item or received message does not have the expected shape.
    #[error("malformed {what}: {detail}")]
    Malformed { what: &'static str, detail: String },
    /// The append would not fit in one `TransactWriteItems` (100 items at most).
    #[error("an append holds at most {max} items, this one needs {needed}")]
    TooManyItems { needed: usize, max: usize },
    /// The batch contradicts itself (versions out of order, wrong stream, ...).
    #[error("invalid append batch: {0}")]
    InvalidBatch(String),
    /// The API key hash is already registered to a different merchant.
    #[error("this API key hash is already registered to another merchant")]
    ApiKeyTaken,
    /// An append's lookup (its position among the batch's lookups) names a gateway's
    /// external id that is already recorded for another deposit.
    #[error("lookup {lookup} of the append: the external id already belongs to another deposit")]
    ExternalIdTaken { lookup: usize },
    /// No gateway of that name in the registry.
    #[error("unknown gateway {0}")]
    UnknownGateway(String),
    /// An optimistic update kept losing to concurrent writers.
    #[error("{what}: still contended after {attempts} attempts")]
    Contended { what: &'static str, attempts: u32 },
}

impl AwsError {
    /// Describes a failed SDK call by its code and message (or, when the service never
    /// answered, by the chain of causes: timeout, dispatch failure, ...).
    pub(crate) fn call<E, R>(operation: &'static str, err: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: Debug,
    {
        match err.code() {
            Some(code) => Self::Call {
                operation,
                code: Some(code.to_owned()),
                detail: format!("{code}: {}", err.message().unwrap_or("(no message)")),
            },
            None => Self::Call {
                operation,
                code: None,
                detail: DisplayErrorContext(err).to_string(),
            },
        }
    }

    /// A conditional write's result: `Ok(true)` written, `Ok(false)` when its condition
    /// did not hold (`ConditionalCheckFailedException`), any other failure an error.
    pub(crate) fn condition_held<O, E, R>(
        operation: &'static str,
        result: Result<O, SdkError<E, R>>,
    ) -> Result<bool, Self>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: Debug,
    {
        match result {
            Ok(_) => Ok(true),
            Err(err)
                if err.as_service_error().and_then(ProvideErrorMetadata::code)
                    == Some("ConditionalCheckFailedException") =>
            {
                Ok(false)
            }
            Err(err) => Err(Self::call(operation, &err)),
        }
    }

    /// A JSON error described by its category and position only: serde_json's own
    /// message may quote the offending value, which could be payer data.
    pub(crate) fn json(err: &serde_json::Error) -> String {
        format!(
            "{:?} error at line {} column {}",
            err.classify(),
            err.line(),
            err.column()
        )
    }

    pub(crate) fn encode(what: &'static str, err: &serde_json::Error) -> Self {
        Self::Encode {
            what,
            detail: Self::json(err),
        }
    }

    pub(crate) fn malformed(what: &'static str, detail: impl Into<String>) -> Self {
        Self::Malformed {
            what,
            detail: detail.into(),
        }
    }
}

impl From<AwsError> for StoreError {
    fn from(err: AwsError) -> Self {
        StoreError(err.to_string())
    }
}

impl From<AwsError> for AppendError {
    fn from(err: AwsError) -> Self {
        AppendError::Store(err.into())
    }
}

impl From<AwsError> for QueueError {
    fn from(err: AwsError) -> Self {
        QueueError(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_never_quote_the_value() {
        let err = serde_json::from_str::<u32>("\"tok_visa_secret\"").unwrap_err();
        let text = AwsError::malformed("payload", AwsError::json(&err)).to_string();
        assert!(!text.contains("tok_visa_secret"), "{text}");
        assert!(text.contains("line 1"), "{text}");
    }

    #[test]
    fn adapter_errors_become_port_errors() {
        let store: StoreError = AwsError::InvalidBatch("x".into()).into();
        assert!(store.0.contains("invalid append batch"));
        let append: AppendError = AwsError::ApiKeyTaken.into();
        assert!(matches!(append, AppendError::Store(_)));
        let queue: QueueError = AwsError::malformed("message", "no body").into();
        assert!(queue.0.contains("no body"));
    }
}

//! What a cancelled `TransactWriteItems` means for an append.
//!
//! DynamoDB answers a cancelled transaction with one reason per item, in the order the
//! items were sent: `None` for an item that was fine, else a code such as
//! `ConditionalCheckFailed` or `TransactionConflict`.

use paygate_domain::ports::{AppendError, StoreError};

const CONDITION_FAILED: &str = "ConditionalCheckFailed";
const TRANSACTION_CONFLICT: &str = "TransactionConflict";
const NO_FAILURE: &str = "None";

/// How an append's transaction is laid out: the events first, then the read model,
/// then the idempotency claim if there is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    pub events: usize,
    pub idempotency: bool,
}

impl Layout {
    pub fn items(self) -> usize {
        self.events + 1 + usize::from(self.idempotency)
    }

    fn is_idempotency_item(self, index: usize) -> bool {
        self.idempotency && index == self.events + 1
    }
}

/// Maps the cancellation reasons' codes (`None` entries meaning "no reason given") to
/// the append's outcome. `message` is the exception's message, used only when the
/// service gave no reasons (it lists them as `[code, code, ...]`).
pub(crate) fn classify(
    codes: &[Option<&str>],
    message: Option<&str>,
    layout: Layout,
) -> AppendError {
    let from_message;
    let codes: Vec<Option<&str>> = if codes.iter().any(Option::is_some) {
        codes.to_vec()
    } else {
        from_message = message.map(codes_in_message).unwrap_or_default();
        from_message.iter().map(|c| Some(c.as_str())).collect()
    };

    let mut conflict = false;
    let mut others = Vec::new();
    for (index, code) in codes.iter().enumerate() {
        match code {
            None | Some(NO_FAILURE) => {}
            Some(CONDITION_FAILED) if layout.is_idempotency_item(index) => {
                // The claim decides: the request is answered from the existing record.
                return AppendError::IdempotencyKeyTaken;
            }
            Some(CONDITION_FAILED | TRANSACTION_CONFLICT) => conflict = true,
            Some(other) => others.push(format!("item {index}: {other}")),
        }
    }
    if conflict {
        return AppendError::VersionConflict;
    }
    let detail = if others.is_empty() {
        "no cancellation reason given".to_owned()
    } else {
        others.join(", ")
    };
    AppendError::Store(StoreError(format!(
        "TransactWriteItems cancelled ({} items): {detail}",
        layout.items()
    )))
}

/// The codes in a message such as `Transaction cancelled, please refer cancellation
/// reasons for specific reasons [None, ConditionalCheckFailed]`.
fn codes_in_message(message: &str) -> Vec<String> {
    let Some(start) = message.rfind('[') else {
        return Vec::new();
    };
    let Some(len) = message[start..].find(']') else {
        return Vec::new();
    };
    message[start + 1..start + len]
        .split(',')
        .map(|code| code.trim().to_owned())
        .filter(|code| !code.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const WITH_CLAIM: Layout = Layout {
        events: 2,
        idempotency: true,
    };
    const NO_CLAIM: Layout = Layout {
        events: 2,
        idempotency: false,
    };

    fn run(codes: &[&str], layout: Layout) -> AppendError {
        let codes: Vec<Option<&str>> = codes.iter().copied().map(Some).collect();
        classify(&codes, None, layout)
    }

    #[test]
    fn a_failed_claim_means_the_key_is_taken() {
        let taken = run(
            &["None", "None", "None", "ConditionalCheckFailed"],
            WITH_CLAIM,
        );
        assert!(matches!(taken, AppendError::IdempotencyKeyTaken));
        // Even when the stream also conflicts, the existing record answers the request.
        let both = run(
            &[
                "ConditionalCheckFailed",
                "None",
                "ConditionalCheckFailed",
                "ConditionalCheckFailed",
            ],
            WITH_CLAIM,
        );
        assert!(matches!(both, AppendError::IdempotencyKeyTaken));
    }

    #[test]
    fn a_failed_event_or_view_condition_is_a_version_conflict() {
        for codes in [
            ["ConditionalCheckFailed", "None", "None"],
            ["None", "ConditionalCheckFailed", "None"],
            ["None", "None", "ConditionalCheckFailed"],
        ] {
            assert!(
                matches!(run(&codes, NO_CLAIM), AppendError::VersionConflict),
                "{codes:?}"
            );
        }
    }

    #[test]
    fn a_transaction_conflict_anywhere_is_a_version_conflict() {
        let conflict = run(&["None", "None", "None", "TransactionConflict"], WITH_CLAIM);
        assert!(matches!(conflict, AppendError::VersionConflict));
        let conflict = run(&["TransactionConflict", "None", "None"], NO_CLAIM);
        assert!(matches!(conflict, AppendError::VersionConflict));
    }

    #[test]
    fn other_reasons_are_store_errors() {
        let throttled = run(&["ThrottlingError", "None", "None"], NO_CLAIM);
        let AppendError::Store(StoreError(text)) = throttled else {
            panic!("expected a store error, got {throttled:?}");
        };
        assert!(text.contains("item 0: ThrottlingError"), "{text}");
        assert!(matches!(
            run(&["ValidationError"], NO_CLAIM),
            AppendError::Store(_)
        ));
        assert!(matches!(
            classify(&[], None, NO_CLAIM),
            AppendError::Store(_)
        ));
    }

    #[test]
    fn reasons_are_read_from_the_message_when_not_given_apart() {
        let message = "Transaction cancelled, please refer cancellation reasons for \
                       specific reasons [None, None, None, ConditionalCheckFailed]";
        assert!(matches!(
            classify(&[], Some(message), WITH_CLAIM),
            AppendError::IdempotencyKeyTaken
        ));
        assert!(matches!(
            classify(
                &[None, None],
                Some("[ConditionalCheckFailed, None]"),
                NO_CLAIM
            ),
            AppendError::VersionConflict
        ));
        assert!(matches!(
            classify(&[], Some("cancelled"), NO_CLAIM),
            AppendError::Store(_)
        ));
    }
}

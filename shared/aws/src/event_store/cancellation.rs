//! What a cancelled `TransactWriteItems` means for an append.
//!
//! DynamoDB answers a cancelled transaction with one reason per item, in the order the
//! items were sent: `None` for an item that was fine, else a code such as
//! `ConditionalCheckFailed` or `TransactionConflict`.

use crate::error::AwsError;
use paygate_domain::ports::{AppendError, StoreError};

const CONDITION_FAILED: &str = "ConditionalCheckFailed";
const TRANSACTION_CONFLICT: &str = "TransactionConflict";
const NO_FAILURE: &str = "None";

/// How an append's transaction is laid out: the events first, then the read model,
/// then the idempotency claim if there is one, then the external-id lookups, then the
/// ledger's head and entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    pub events: usize,
    pub idempotency: bool,
    pub lookups: usize,
    pub ledger: usize,
}

impl Layout {
    pub fn items(self) -> usize {
        self.first_lookup() + self.lookups + self.ledger
    }

    fn is_ledger_item(self, index: usize) -> bool {
        (self.first_lookup() + self.lookups..self.items()).contains(&index)
    }

    fn is_idempotency_item(self, index: usize) -> bool {
        self.idempotency && index == self.events + 1
    }

    fn first_lookup(self) -> usize {
        self.events + 1 + usize::from(self.idempotency)
    }

    /// The lookup's position among the batch's lookups, if `index` is one.
    fn lookup_at(self, index: usize) -> Option<usize> {
        index
            .checked_sub(self.first_lookup())
            .filter(|&lookup| lookup < self.lookups)
    }
}

/// Maps the cancellation reasons' codes (`None` entries meaning "no reason given") to
/// the append's outcome, most telling first: a taken idempotency key (the request is
/// answered from the existing record), then a version conflict (the command reloads and
/// decides again, maybe without that lookup), then an external id that belongs to
/// another deposit (a store error: retrying cannot fix it), then anything else.
/// `message` is the exception's message, used only when the service gave no reasons (it
/// lists them as `[code, code, ...]`).
pub(crate) fn classify(
    codes: &[Option<&str>],
    message: Option<&str>,
    layout: Layout,
) -> AppendError {
    let codes = reasons(codes, message);

    let mut conflict = false;
    let mut lookup_taken = None;
    let mut others = Vec::new();
    for (index, code) in codes.iter().enumerate() {
        match code.as_deref() {
            None | Some(NO_FAILURE) => {}
            Some(CONDITION_FAILED) if layout.is_idempotency_item(index) => {
                // The claim decides: the request is answered from the existing record.
                return AppendError::IdempotencyKeyTaken;
            }
            Some(CONDITION_FAILED) if layout.lookup_at(index).is_some() => {
                lookup_taken = lookup_taken.or(layout.lookup_at(index));
            }
            Some(CONDITION_FAILED | TRANSACTION_CONFLICT) => conflict = true,
            Some(other) => others.push(format!("item {index}: {other}")),
        }
    }
    if conflict {
        return AppendError::VersionConflict;
    }
    if let Some(lookup) = lookup_taken {
        return AwsError::ExternalIdTaken { lookup }.into();
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

/// Whether the transaction lost only the race for the merchant's ledger head (another
/// append posted first): the same batch may post again on the new head. Anything else
/// that failed is [`classify`]'s to judge.
pub(crate) fn lost_only_the_ledger(
    codes: &[Option<&str>],
    message: Option<&str>,
    layout: Layout,
) -> bool {
    let codes = reasons(codes, message);
    let failed: Vec<(usize, &str)> = codes
        .iter()
        .enumerate()
        .filter_map(|(index, code)| code.as_deref().map(|code| (index, code)))
        .filter(|(_, code)| *code != NO_FAILURE)
        .collect();
    !failed.is_empty()
        && failed.iter().all(|(index, code)| {
            layout.is_ledger_item(*index)
                && matches!(*code, CONDITION_FAILED | TRANSACTION_CONFLICT)
        })
}

/// One reason per item: as given, or read from the message when none was given apart.
fn reasons(codes: &[Option<&str>], message: Option<&str>) -> Vec<Option<String>> {
    if codes.iter().any(Option::is_some) {
        codes.iter().map(|c| c.map(str::to_owned)).collect()
    } else {
        let from_message = message.map(codes_in_message).unwrap_or_default();
        from_message.into_iter().map(Some).collect()
    }
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
        lookups: 0,
        ledger: 0,
    };
    const NO_CLAIM: Layout = Layout {
        idempotency: false,
        ..WITH_CLAIM
    };
    /// events 0-1, view 2, claim 3, lookups 4-5.
    const WITH_LOOKUPS: Layout = Layout {
        lookups: 2,
        ..WITH_CLAIM
    };
    /// events 0, view 1, lookup 2, ledger head 3, entries 4-5.
    const WITH_LEDGER: Layout = Layout {
        events: 1,
        lookups: 1,
        ledger: 3,
        ..NO_CLAIM
    };

    const CHECK_FAILED: &str = "ConditionalCheckFailed";
    const CONFLICT: &str = "TransactionConflict";

    fn run(codes: &[&str], layout: Layout) -> AppendError {
        let codes: Vec<Option<&str>> = codes.iter().copied().map(Some).collect();
        classify(&codes, None, layout)
    }

    /// A cancelled transaction of `layout`: a reason for each item, `None` but for the
    /// items `failed` names (as DynamoDB lists them).
    fn cancelled(failed: &[(usize, &str)], layout: Layout) -> AppendError {
        let mut codes = vec!["None"; layout.items()];
        for &(at, code) in failed {
            codes[at] = code;
        }
        run(&codes, layout)
    }

    #[test]
    fn a_failed_claim_means_the_key_is_taken() {
        let taken = cancelled(&[(3, CHECK_FAILED)], WITH_CLAIM);
        assert!(matches!(taken, AppendError::IdempotencyKeyTaken));
        // Even when the stream also conflicts, the existing record answers the request.
        let all_but_one = [(0, CHECK_FAILED), (2, CHECK_FAILED), (3, CHECK_FAILED)];
        let both = cancelled(&all_but_one, WITH_CLAIM);
        assert!(matches!(both, AppendError::IdempotencyKeyTaken));
    }

    #[test]
    fn a_failed_event_or_view_condition_is_a_version_conflict() {
        for item in 0..NO_CLAIM.items() {
            assert!(
                matches!(
                    cancelled(&[(item, CHECK_FAILED)], NO_CLAIM),
                    AppendError::VersionConflict
                ),
                "item {item}"
            );
        }
    }

    #[test]
    fn a_transaction_conflict_anywhere_is_a_version_conflict() {
        let conflict = cancelled(&[(3, CONFLICT)], WITH_CLAIM);
        assert!(matches!(conflict, AppendError::VersionConflict));
        let conflict = cancelled(&[(0, CONFLICT)], NO_CLAIM);
        assert!(matches!(conflict, AppendError::VersionConflict));
    }

    #[test]
    fn lookups_follow_the_claim_and_count_as_items() {
        assert_eq!(WITH_LOOKUPS.items(), 6);
        assert_eq!(WITH_LOOKUPS.lookup_at(3), None);
        assert_eq!(WITH_LOOKUPS.lookup_at(4), Some(0));
        assert_eq!(WITH_LOOKUPS.lookup_at(5), Some(1));
        assert_eq!(WITH_LOOKUPS.lookup_at(6), None);
        let no_claim = Layout {
            idempotency: false,
            ..WITH_LOOKUPS
        };
        assert_eq!(no_claim.items(), 5);
        assert_eq!(no_claim.lookup_at(3), Some(0));
    }

    #[test]
    fn a_failed_lookup_means_the_external_id_belongs_to_another_deposit() {
        let taken = cancelled(&[(5, CHECK_FAILED)], WITH_LOOKUPS);
        let AppendError::Store(StoreError(text)) = taken else {
            panic!("expected a store error, got {taken:?}");
        };
        assert!(text.contains("another deposit"), "{text}");
        assert!(text.contains("lookup 1"), "{text}");
        // A stale stream is retried first: the fresh decision may not record it again.
        let stale = cancelled(&[(0, CHECK_FAILED), (4, CHECK_FAILED)], WITH_LOOKUPS);
        assert!(matches!(stale, AppendError::VersionConflict), "{stale:?}");
        // The claim still wins over everything.
        let claimed = cancelled(&[(3, CHECK_FAILED), (4, CHECK_FAILED)], WITH_LOOKUPS);
        assert!(matches!(claimed, AppendError::IdempotencyKeyTaken));
        // Two writers racing on the same lookup item: reload and decide again.
        let racing = cancelled(&[(4, CONFLICT)], WITH_LOOKUPS);
        assert!(matches!(racing, AppendError::VersionConflict));
    }

    #[test]
    fn losing_only_the_ledger_head_posts_again_and_anything_more_is_classified() {
        let codes = |failed: &[(usize, &'static str)]| {
            let mut codes = vec![Some("None"); WITH_LEDGER.items()];
            for &(at, code) in failed {
                codes[at] = Some(code);
            }
            codes
        };
        assert_eq!(WITH_LEDGER.items(), 6);
        for lost in [
            codes(&[(3, CHECK_FAILED)]),
            codes(&[(3, CONFLICT), (5, CHECK_FAILED)]),
        ] {
            assert!(lost_only_the_ledger(&lost, None, WITH_LEDGER), "{lost:?}");
        }
        let stale_stream = codes(&[(1, CHECK_FAILED), (3, CHECK_FAILED)]);
        assert!(!lost_only_the_ledger(&stale_stream, None, WITH_LEDGER));
        assert!(matches!(
            classify(&stale_stream, None, WITH_LEDGER),
            AppendError::VersionConflict
        ));
        let lookup_taken = codes(&[(2, CHECK_FAILED)]);
        assert!(!lost_only_the_ledger(&lookup_taken, None, WITH_LEDGER));
        let throttled = codes(&[(3, "ThrottlingError")]);
        assert!(!lost_only_the_ledger(&throttled, None, WITH_LEDGER));
        assert!(!lost_only_the_ledger(&codes(&[]), None, WITH_LEDGER));
        assert!(lost_only_the_ledger(
            &[],
            Some("[None, None, None, ConditionalCheckFailed, None, None]"),
            WITH_LEDGER
        ));
    }

    #[test]
    fn other_reasons_are_store_errors() {
        let throttled = cancelled(&[(0, "ThrottlingError")], NO_CLAIM);
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

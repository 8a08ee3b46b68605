//! The query of every list endpoint, read in one place: `limit` (1–100, default 10),
//! `starting_after` or `ending_before` (an object id), and the list's own filters.
//! Anything else, or a parameter given twice, is refused like an unknown body field:
//! guessing would answer another page than the one asked for.

use crate::{ApiError, ErrorCode};
use paygate_domain::DepositStatus;
use paygate_domain::deposit::Direction;
use paygate_domain::page::{Cursor, PageRequest};
use std::collections::BTreeMap;

pub const LIMIT: &str = "limit";
pub const STARTING_AFTER: &str = "starting_after";
pub const ENDING_BEFORE: &str = "ending_before";
/// The deposits list's filter.
pub const STATUS: &str = "status";

const PAGING: [&str; 3] = [LIMIT, STARTING_AFTER, ENDING_BEFORE];

/// What a list holds, as its errors name it, and the filters it takes besides paging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListKind {
    objects: &'static str,
    filters: &'static [&'static str],
}

/// `GET /v1/deposits`.
pub const DEPOSITS: ListKind = ListKind {
    objects: "deposits",
    filters: &[STATUS],
};

/// `GET /v1/payouts`.
pub const PAYOUTS: ListKind = ListKind {
    objects: "payouts",
    filters: &[STATUS],
};

/// `GET /v1/balance/transactions`.
pub const BALANCE_TRANSACTIONS: ListKind = ListKind {
    objects: "balance transactions",
    filters: &[],
};

/// A list's query, checked as far as it can be without the store (which alone knows
/// whether a cursor is one of the caller's objects).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    kind: ListKind,
    limit: usize,
    /// The object id as given.
    cursor: Option<Cursor<String>>,
    filters: BTreeMap<&'static str, String>,
}

type Defaults = PageRequest<()>;

impl ListQuery {
    /// Reads `query`, the URL's raw query string (percent-encoded, `+` for a space).
    pub fn parse(kind: ListKind, query: Option<&str>) -> Result<Self, ApiError> {
        let mut given: BTreeMap<&'static str, String> = BTreeMap::new();
        for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let known = PAGING
                .iter()
                .chain(kind.filters)
                .find(|known| **known == name);
            let Some(&known) = known else {
                return Err(ApiError::new(
                    ErrorCode::ParameterUnknown,
                    format!("{name} is not a known parameter"),
                )
                .with_param(name));
            };
            if given.insert(known, value.into_owned()).is_some() {
                return Err(ApiError::new(
                    ErrorCode::ParameterDuplicate,
                    format!("{known} may be given only once"),
                )
                .with_param(known));
            }
        }
        let limit = match given.remove(LIMIT) {
            None => Defaults::DEFAULT_LIMIT,
            Some(value) => parse_limit(&value)?,
        };
        let cursor = match (given.remove(STARTING_AFTER), given.remove(ENDING_BEFORE)) {
            (Some(_), Some(_)) => {
                let message = format!("{STARTING_AFTER} and {ENDING_BEFORE} exclude each other");
                return Err(ApiError::new(ErrorCode::ParametersExclusive, message)
                    .with_param(ENDING_BEFORE));
            }
            (Some(id), None) => Some(Cursor::StartingAfter(id)),
            (None, Some(id)) => Some(Cursor::EndingBefore(id)),
            (None, None) => None,
        };
        Ok(Self {
            kind,
            limit,
            cursor,
            filters: given,
        })
    }

    /// The page asked for, its cursor read by `key` as a key of this list; a cursor
    /// `key` cannot read is [`Self::cursor_not_found`].
    pub fn page<K>(&self, key: impl FnOnce(&str) -> Option<K>) -> Result<PageRequest<K>, ApiError> {
        let cursor = match &self.cursor {
            None => None,
            Some(cursor) => {
                let key = key(cursor.key()).ok_or_else(|| self.cursor_not_found())?;
                Some(cursor.to(key))
            }
        };
        Ok(PageRequest {
            limit: self.limit,
            cursor,
        })
    }

    /// `cursor_invalid` on the cursor given: it names none of the caller's objects of
    /// this list. Malformed, unknown and another merchant's get this same answer.
    pub fn cursor_not_found(&self) -> ApiError {
        let param = match self.cursor {
            Some(Cursor::EndingBefore(_)) => ENDING_BEFORE,
            _ => STARTING_AFTER,
        };
        let message = format!(
            "{param} must be the id of one of your {}",
            self.kind.objects
        );
        ApiError::new(ErrorCode::CursorInvalid, message).with_param(param)
    }

    /// The `status` filter, if given: one of the statuses of `direction` (a payout's
    /// `succeeded` is `paid`).
    pub fn status(&self, direction: Direction) -> Result<Option<DepositStatus>, ApiError> {
        let Some(value) = self.filters.get(STATUS) else {
            return Ok(None);
        };
        let status = DepositStatus::parse(direction, value);
        status.map(Some).ok_or_else(|| {
            let all: Vec<&str> = DepositStatus::all(direction)
                .iter()
                .map(|s| s.name(direction))
                .collect();
            let message = format!("{STATUS} must be one of {}", all.join(", "));
            ApiError::new(ErrorCode::StatusInvalid, message).with_param(STATUS)
        })
    }
}

fn parse_limit(value: &str) -> Result<usize, ApiError> {
    let range = 1..=Defaults::MAX_LIMIT;
    // Digits only: `+5`, ` 5` and `5.0` are not what the documentation promises.
    let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    let limit = digits.then(|| value.parse::<usize>().ok()).flatten();
    limit.filter(|limit| range.contains(limit)).ok_or_else(|| {
        let message = format!(
            "{LIMIT} must be an integer from {} to {}",
            range.start(),
            range.end()
        );
        ApiError::new(ErrorCode::LimitInvalid, message).with_param(LIMIT)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(kind: ListKind, query: &str) -> (ErrorCode, Option<String>) {
        let error = ListQuery::parse(kind, Some(query)).expect_err(query);
        (error.code, error.param)
    }

    #[test]
    fn paging_parameters_default_and_read_as_given() {
        let page = |query| {
            let query = ListQuery::parse(BALANCE_TRANSACTIONS, query).expect("a valid query");
            query
                .page(|id| Some(id.to_owned()))
                .expect("a readable cursor")
        };
        assert_eq!(page(None), PageRequest::first(10));
        assert_eq!(page(Some("")), PageRequest::first(10));
        assert_eq!(page(Some("limit=100")), PageRequest::first(100));
        let after = page(Some("limit=1&starting_after=txn_7"));
        assert_eq!(after.limit, 1);
        assert_eq!(
            after.cursor,
            Some(Cursor::StartingAfter("txn_7".to_owned()))
        );
        let before = page(Some("ending_before=a%20b"));
        assert_eq!(before.cursor, Some(Cursor::EndingBefore("a b".to_owned())));
    }

    #[test]
    fn what_a_list_does_not_take_is_refused_naming_the_parameter() {
        let code = |code, param: &str| (code, Some(param.to_owned()));
        for (kind, query, expected) in [
            (DEPOSITS, "limit=0", code(ErrorCode::LimitInvalid, LIMIT)),
            (DEPOSITS, "limit=101", code(ErrorCode::LimitInvalid, LIMIT)),
            (DEPOSITS, "limit=-1", code(ErrorCode::LimitInvalid, LIMIT)),
            (DEPOSITS, "limit=%2B5", code(ErrorCode::LimitInvalid, LIMIT)),
            (DEPOSITS, "limit=ten", code(ErrorCode::LimitInvalid, LIMIT)),
            (DEPOSITS, "limit", code(ErrorCode::LimitInvalid, LIMIT)),
            (
                DEPOSITS,
                "limit=99999999999999999999999",
                code(ErrorCode::LimitInvalid, LIMIT),
            ),
            (
                DEPOSITS,
                "limit=1&limit=2",
                code(ErrorCode::ParameterDuplicate, LIMIT),
            ),
            (
                DEPOSITS,
                "starting_after=a&ending_before=b",
                code(ErrorCode::ParametersExclusive, ENDING_BEFORE),
            ),
            (
                DEPOSITS,
                "Limit=1",
                code(ErrorCode::ParameterUnknown, "Limit"),
            ),
            (
                BALANCE_TRANSACTIONS,
                "status=pending",
                code(ErrorCode::ParameterUnknown, STATUS),
            ),
        ] {
            assert_eq!(refusal(kind, query), expected, "{query}");
        }
    }

    #[test]
    fn the_status_filter_is_a_deposit_status() {
        for status in DepositStatus::ALL {
            let query = ListQuery::parse(DEPOSITS, Some(&format!("status={status}"))).unwrap();
            assert_eq!(query.status(Direction::Deposit), Ok(Some(status)));
        }
        let none = ListQuery::parse(DEPOSITS, None).unwrap();
        assert_eq!(none.status(Direction::Deposit), Ok(None));
        for (kind, direction, bad) in [
            (DEPOSITS, Direction::Deposit, "status=Pending"),
            (DEPOSITS, Direction::Deposit, "status="),
            (DEPOSITS, Direction::Deposit, "status=paid"),
            (PAYOUTS, Direction::Payout, "status=succeeded"),
            (PAYOUTS, Direction::Payout, "status=refunded"),
        ] {
            let error = ListQuery::parse(kind, Some(bad)).unwrap().status(direction);
            let error = error.expect_err(bad);
            assert_eq!(
                (error.code, error.param.as_deref()),
                (ErrorCode::StatusInvalid, Some(STATUS))
            );
        }
        let paid = ListQuery::parse(PAYOUTS, Some("status=paid")).unwrap();
        assert_eq!(
            paid.status(Direction::Payout),
            Ok(Some(DepositStatus::Succeeded))
        );
    }

    #[test]
    fn a_cursor_its_list_cannot_read_is_refused_naming_the_cursor() {
        for (query, param) in [
            ("starting_after=nope", STARTING_AFTER),
            ("ending_before=nope", ENDING_BEFORE),
        ] {
            let query = ListQuery::parse(DEPOSITS, Some(query)).unwrap();
            let error = query.page(|_| None::<u64>).expect_err("refused");
            assert_eq!(error, query.cursor_not_found());
            assert_eq!(error.code, ErrorCode::CursorInvalid);
            assert_eq!(error.param.as_deref(), Some(param));
        }
    }
}

//! The pure core of paygate: no AWS, no network, no files.
//!
//! Money and validation ([`money`]), the deposit aggregate and its status graph
//! ([`deposit`]), the merchants' double-entry ledger ([`ledger`]), idempotency rules
//! ([`idempotency`]), lists ([`page`]), field encryption ([`crypto`]),
//! the ports adapters implement ([`ports`]) and the use cases written against them
//! ([`service`]).

pub mod crypto;
pub mod deposit;
pub mod gateways;
pub mod idempotency;
pub mod ids;
pub mod ledger;
pub mod metrics;
pub mod money;
pub mod page;
pub mod ports;
pub mod service;
pub mod validation;

pub use deposit::{Deposit, DepositEvent, DepositStatus, DepositView, RecordedEvent};
pub use ids::{AttemptOwner, CorrelationId, DepositId, MerchantId, RefundId};
pub use money::{Amount, Country, Currency, Money};

//! What merchants see. Built from domain read models, never the other way round.

use paygate_domain::deposit::{Direction, PaymentMethod};
use paygate_domain::gateways::{BreakerState, Gateway, Health};
use paygate_domain::ledger::{Balances, LedgerEntry};
use paygate_domain::page::Page;
use paygate_domain::{Currency, DepositEvent, DepositId, DepositView, RecordedEvent};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DepositResponse {
    pub id: String,
    pub object: &'static str,
    pub status: &'static str,
    pub amount: u64,
    pub currency: &'static str,
    pub country: &'static str,
    pub customer_id: String,
    pub gateway: Option<String>,
    pub external_id: Option<String>,
    pub refunded_amount: u64,
    pub metadata: BTreeMap<String, String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<&DepositView> for DepositResponse {
    fn from(view: &DepositView) -> Self {
        Self {
            id: view.id.to_string(),
            object: "deposit",
            status: view.status.as_str(),
            amount: view.amount.minor(),
            currency: view.currency.code(),
            country: view.country.code(),
            customer_id: view.customer_id.clone(),
            gateway: view.gateway.clone(),
            external_id: view.external_id.clone(),
            refunded_amount: view.refunded_amount,
            metadata: view.metadata.clone(),
            created_at: view.created_at,
            updated_at: view.updated_at,
        }
    }
}

/// A payout as `POST /v1/payouts` and `GET /v1/payouts/{id}` answer it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PayoutResponse {
    pub id: String,
    pub object: &'static str,
    /// `pending`, `processing`, `submitted`, `paid` or `failed`.
    pub status: &'static str,
    pub amount: u64,
    pub currency: &'static str,
    pub country: &'static str,
    pub gateway: Option<String>,
    pub external_id: Option<String>,
    pub metadata: BTreeMap<String, String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<&DepositView> for PayoutResponse {
    fn from(view: &DepositView) -> Self {
        Self {
            id: view.id.to_string(),
            object: "payout",
            status: view.status.name(Direction::Payout),
            amount: view.amount.minor(),
            currency: view.currency.code(),
            country: view.country.code(),
            gateway: view.gateway.clone(),
            external_id: view.external_id.clone(),
            metadata: view.metadata.clone(),
            created_at: view.created_at,
            updated_at: view.updated_at,
        }
    }
}

/// One entry of a deposit's (or payout's) audit trail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventResponse {
    pub id: String,
    pub version: u64,
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub correlation_id: String,
    pub data: Value,
}

impl EventResponse {
    /// The event as a deposit's or a payout's trail shows it (in that one's words).
    pub fn new(recorded: &RecordedEvent, direction: Direction) -> Self {
        Self {
            id: recorded.event_id.to_string(),
            version: recorded.version,
            kind: recorded.event.name(direction),
            occurred_at: recorded.occurred_at,
            correlation_id: recorded.correlation_id.0.clone(),
            data: event_data(&recorded.event),
        }
    }
}

impl From<&RecordedEvent> for EventResponse {
    fn from(recorded: &RecordedEvent) -> Self {
        Self::new(recorded, Direction::Deposit)
    }
}

/// A trail: `deposit_id` for a deposit's, `payout_id` for a payout's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventList {
    pub object: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deposit_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payout_id: Option<String>,
    pub data: Vec<EventResponse>,
}

impl EventList {
    pub fn new(id: DepositId, direction: Direction, events: &[RecordedEvent]) -> Self {
        let id = Some(id.to_string());
        let (deposit_id, payout_id) = match direction {
            Direction::Deposit => (id, None),
            Direction::Payout => (None, id),
        };
        Self {
            object: "list",
            deposit_id,
            payout_id,
            data: events
                .iter()
                .map(|e| EventResponse::new(e, direction))
                .collect(),
        }
    }
}

/// The event's facts for the merchant: no ciphertext, no internal ids.
fn event_data(event: &DepositEvent) -> Value {
    match event {
        DepositEvent::DepositRequested { request, .. }
            if request.direction == Direction::Payout =>
        {
            json!({
                "amount": request.amount.minor(),
                "currency": request.currency.code(),
                "country": request.country.code(),
                "destination": request.payment_method.as_ref().map(|d: &PaymentMethod| json!({ "type": d.kind })),
                "metadata": request.metadata,
            })
        }
        DepositEvent::DepositRequested { request, .. } => json!({
            "amount": request.amount.minor(),
            "currency": request.currency.code(),
            "country": request.country.code(),
            "customer_id": request.customer_id,
            "payment_method": request.payment_method.as_ref().map(|pm: &PaymentMethod| json!({ "type": pm.kind })),
            "metadata": request.metadata,
        }),
        other => {
            let mut value = serde_json::to_value(other).unwrap_or(Value::Null);
            if let Some(object) = value.as_object_mut() {
                object.remove("type");
                // Which processor run owns an attempt is paygate's own plumbing.
                object.remove("owner");
            }
            value
        }
    }
}

/// A refund as `POST /v1/deposits/{id}/refunds` answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefundResponse {
    pub id: String,
    pub object: &'static str,
    pub deposit_id: String,
    pub amount: u64,
    pub currency: &'static str,
    pub status: &'static str,
    /// The deposit as this request left it.
    pub deposit: DepositResponse,
}

impl RefundResponse {
    pub fn new(
        refund: &paygate_domain::idempotency::RefundSnapshot,
        deposit: &DepositView,
    ) -> Self {
        Self {
            id: refund.refund_id.to_string(),
            object: "refund",
            deposit_id: deposit.id.to_string(),
            amount: refund.amount.minor(),
            currency: deposit.currency.code(),
            status: "pending",
            deposit: DepositResponse::from(deposit),
        }
    }
}

/// A gateway as `GET /v1/gateways` shows it: what it serves and how it is doing. Never
/// its address or wire format: those are the operator's business.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GatewayResponse {
    pub object: &'static str,
    pub name: String,
    pub countries: Vec<&'static str>,
    pub currencies: Vec<&'static str>,
    /// What it can be asked to do: `payments`, `refunds`, `payouts`.
    pub capabilities: Vec<&'static str>,
    pub enabled: bool,
    /// `healthy`, `degraded` or `unhealthy`, from the last health probe.
    pub health: Health,
    pub latency_ms: Option<u64>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_checked_at: Option<OffsetDateTime>,
    /// `closed`, `open` or `half_open`.
    pub breaker: &'static str,
    /// Until when an open breaker keeps calls away.
    #[serde(with = "time::serde::rfc3339::option")]
    pub breaker_open_until: Option<OffsetDateTime>,
    /// Whether routing would send it a payment now.
    pub available: bool,
}

impl GatewayResponse {
    pub fn new(gateway: &Gateway, now: OffsetDateTime) -> Self {
        let (config, status) = (&gateway.config, &gateway.status);
        let breaker_open_until = match status.breaker {
            BreakerState::Open { until } if now < until => Some(until),
            _ => None,
        };
        Self {
            object: "gateway",
            name: config.name.clone(),
            countries: config.countries.iter().map(|c| c.code()).collect(),
            currencies: config.currencies.iter().map(|c| c.code()).collect(),
            capabilities: config.capabilities.iter().map(|c| c.as_str()).collect(),
            enabled: config.enabled,
            health: status.health,
            latency_ms: status.latency_ms,
            last_checked_at: status.last_checked_at,
            breaker: status.breaker.name(now),
            breaker_open_until,
            available: gateway.takes_calls(now),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GatewayList {
    pub object: &'static str,
    pub data: Vec<GatewayResponse>,
}

impl GatewayList {
    /// Every gateway, by name.
    pub fn new(gateways: &[Gateway], now: OffsetDateTime) -> Self {
        let mut data: Vec<GatewayResponse> = gateways
            .iter()
            .map(|gateway| GatewayResponse::new(gateway, now))
            .collect();
        data.sort_by(|a, b| a.name.cmp(&b.name));
        Self {
            object: "list",
            data,
        }
    }
}

/// Every list the API pages through: newest first, and whether more lie beyond this page
/// in the direction it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListResponse<T> {
    pub object: &'static str,
    pub data: Vec<T>,
    pub has_more: bool,
}

impl<T> ListResponse<T> {
    /// `page`, each item shown as `show` shows it.
    pub fn new<U>(page: Page<U>, show: impl FnMut(U) -> T) -> Self {
        let page = page.map(show);
        Self {
            object: "list",
            data: page.data,
            has_more: page.has_more,
        }
    }
}

/// `GET /v1/balance`: the merchant's money, per currency it has ever moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BalanceResponse {
    pub object: &'static str,
    pub data: Vec<CurrencyBalance>,
}

/// One currency's balance. Only the merchant's own accounts: suspense and the gateways'
/// accounts are paygate's books, not the merchant's money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CurrencyBalance {
    pub currency: &'static str,
    /// Free to refund.
    pub available: i64,
    /// Refunds on their way out.
    pub reserved: i64,
}

impl From<&BTreeMap<Currency, Balances>> for BalanceResponse {
    fn from(balances: &BTreeMap<Currency, Balances>) -> Self {
        let data = balances
            .iter()
            .map(|(currency, balances)| CurrencyBalance {
                currency: currency.code(),
                available: balances.available,
                reserved: balances.reserved,
            })
            .collect();
        Self {
            object: "balance",
            data,
        }
    }
}

/// One change of the merchant's available balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BalanceTransactionResponse {
    pub id: String,
    pub object: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The deposit or refund it is about.
    pub source: String,
    pub deposit_id: String,
    /// Signed, in minor units: what it added to `available`.
    pub amount: i64,
    pub currency: &'static str,
    pub available_after: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<LedgerEntry> for BalanceTransactionResponse {
    fn from(entry: LedgerEntry) -> Self {
        Self {
            id: entry.id(),
            object: "balance_transaction",
            kind: entry.movement.entry_type.as_str(),
            amount: entry.amount(),
            source: entry.movement.source,
            deposit_id: entry.movement.deposit_id.to_string(),
            currency: entry.movement.currency.code(),
            available_after: entry.available_after,
            created_at: entry.movement.occurred_at,
        }
    }
}

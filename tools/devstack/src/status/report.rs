//! What `/status.json` answers: the gateways with their recent calls, deposits per
//! second, the merchant's latest deposits and the anomalies on its latest streams. Built
//! from the stack's ports and the recorder's window; no API key, token or address in it.

use super::window::{DepositRate, GatewayTrend, SPAN_SECS, STEP_SECS, Window};
use paygate_api::models::{EventList, GatewayResponse};
use paygate_domain::deposit::Direction;
use paygate_domain::page::PageRequest;
use paygate_domain::ports::{DepositList, EventStore, GatewayRegistry, StoreError};
use paygate_domain::{DepositEvent, DepositId, DepositView, MerchantId};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use time::OffsetDateTime;

/// How many of the merchant's latest deposits the page lists.
const LISTED_DEPOSITS: usize = 20;
/// How many of the latest deposits, and of the latest payouts, are searched for anomalies.
const SEARCHED_FOR_ANOMALIES: usize = 50;

/// Where the status comes from: the stack's own ports, and the process's window.
#[derive(Clone)]
pub struct Sources {
    pub registry: Arc<dyn GatewayRegistry>,
    pub deposits: Arc<dyn DepositList>,
    pub store: Arc<dyn EventStore>,
    pub merchant: MerchantId,
    pub window: &'static Mutex<Window>,
}

#[derive(Debug, Serialize)]
pub struct StatusReport {
    #[serde(with = "time::serde::rfc3339")]
    pub generated_at: OffsetDateTime,
    pub merchant: String,
    pub span_secs: u64,
    pub step_secs: u64,
    pub deposits_per_second: DepositRate,
    pub gateways: Vec<GatewayRow>,
    pub deposits: Vec<DepositRow>,
    pub anomalies: Vec<AnomalyRow>,
}

/// A gateway as `GET /v1/gateways` shows it, with its recent calls.
#[derive(Debug, Serialize)]
pub struct GatewayRow {
    #[serde(flatten)]
    pub gateway: GatewayResponse,
    pub recent: GatewayTrend,
}

#[derive(Debug, Serialize)]
pub struct DepositRow {
    pub id: String,
    pub status: &'static str,
    pub amount: u64,
    pub currency: &'static str,
    pub country: &'static str,
    pub gateway: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub events_url: String,
}

impl From<&DepositView> for DepositRow {
    fn from(view: &DepositView) -> Self {
        Self {
            id: view.id.to_string(),
            status: view.status.name(view.direction),
            amount: view.amount.minor(),
            currency: view.currency.code(),
            country: view.country.code(),
            gateway: view.gateway.clone(),
            created_at: view.created_at,
            updated_at: view.updated_at,
            events_url: events_path(view.id),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct AnomalyRow {
    pub deposit_id: String,
    pub direction: &'static str,
    pub kind: &'static str,
    pub gateway: String,
    pub detail: String,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub events_url: String,
}

/// Where a deposit's (or payout's) trail is served.
pub fn events_path(id: DepositId) -> String {
    format!("/status/deposits/{id}/events.json")
}

pub async fn status(sources: &Sources, now: OffsetDateTime) -> Result<StatusReport, StoreError> {
    let gateways = sources.registry.list().await?;
    let deposits = latest(sources, Direction::Deposit).await?;
    let payouts = latest(sources, Direction::Payout).await?;
    let mut anomalies = Vec::new();
    for view in deposits.iter().chain(&payouts) {
        anomalies.extend(anomalies_of(sources, view).await?);
    }
    anomalies.sort_by_key(|anomaly| std::cmp::Reverse(anomaly.occurred_at));
    let at = now.unix_timestamp().max(0) as u64;
    let window = sources.window.lock().unwrap_or_else(|p| p.into_inner());
    Ok(StatusReport {
        generated_at: now,
        merchant: sources.merchant.to_string(),
        span_secs: SPAN_SECS,
        step_secs: STEP_SECS,
        deposits_per_second: window.deposit_rate(at),
        gateways: gateways
            .iter()
            .map(|gateway| GatewayRow {
                gateway: GatewayResponse::new(gateway, now),
                recent: window.gateway(at, &gateway.config.name),
            })
            .collect(),
        deposits: deposits
            .iter()
            .take(LISTED_DEPOSITS)
            .map(DepositRow::from)
            .collect(),
        anomalies,
    })
}

/// The merchant's latest deposits or payouts, newest first.
async fn latest(sources: &Sources, direction: Direction) -> Result<Vec<DepositView>, StoreError> {
    let page = PageRequest::first(SEARCHED_FOR_ANOMALIES);
    let listed = sources
        .deposits
        .deposits(&sources.merchant, direction, None, &page)
        .await?;
    Ok(listed.map(|page| page.data).unwrap_or_default())
}

async fn anomalies_of(
    sources: &Sources,
    view: &DepositView,
) -> Result<Vec<AnomalyRow>, StoreError> {
    let events = sources.store.load(view.id).await?;
    Ok(events
        .iter()
        .filter_map(|recorded| match &recorded.event {
            DepositEvent::PaymentAnomalyDetected { anomaly } => Some(AnomalyRow {
                deposit_id: view.id.to_string(),
                direction: view.direction.as_str(),
                kind: anomaly.kind.as_str(),
                gateway: anomaly.gateway.clone(),
                detail: anomaly.detail.clone(),
                occurred_at: recorded.occurred_at,
                events_url: events_path(view.id),
            }),
            _ => None,
        })
        .collect())
}

/// The trail of one of the merchant's deposits or payouts, as the API shows it; `None`
/// for an unknown id or another merchant's.
pub async fn trail(sources: &Sources, id: DepositId) -> Result<Option<EventList>, StoreError> {
    let Some(view) = sources.store.view(id).await? else {
        return Ok(None);
    };
    if view.merchant_id != sources.merchant {
        return Ok(None);
    }
    let events = sources.store.load(id).await?;
    Ok(Some(EventList::new(id, view.direction, &events)))
}

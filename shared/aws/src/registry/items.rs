//! Pure conversions between gateways and items of the gateways table.
//!
//! Key `name` S; `config` S (the `GatewayConfig` as JSON, replaced by upserts), `status`
//! S (the `GatewayStatus` as JSON, learnt at run time), `revision` N (bumped by every
//! status change; status updates are conditional on it, so concurrent writers never
//! lose each other's updates).

use crate::error::AwsError;
use aws_sdk_dynamodb::types::AttributeValue;
use paygate_domain::gateways::{Gateway, GatewayConfig, GatewayStatus};

pub(crate) use crate::dynamo::Item;

pub(crate) const NAME: &str = "name";
pub(crate) const CONFIG: &str = "config";
pub(crate) const STATUS: &str = "status";
pub(crate) const REVISION: &str = "revision";

const GATEWAY: &str = "gateway";

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(crate) fn config_json(config: &GatewayConfig) -> Result<String, AwsError> {
    serde_json::to_string(config).map_err(|e| AwsError::encode("gateway config", &e))
}

pub(crate) fn status_json(status: &GatewayStatus) -> Result<String, AwsError> {
    serde_json::to_string(status).map_err(|e| AwsError::encode("gateway status", &e))
}

/// A stored gateway and the revision its status was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stored {
    pub gateway: Gateway,
    pub revision: u64,
}

pub(crate) fn gateway_from_item(item: &Item) -> Result<Stored, AwsError> {
    let name = string(item, NAME)?;
    let config: GatewayConfig = serde_json::from_str(string(item, CONFIG)?)
        .map_err(|e| AwsError::malformed(GATEWAY, format!("config: {}", AwsError::json(&e))))?;
    if config.name != name {
        return Err(AwsError::malformed(
            GATEWAY,
            format!("the config stored under {name} names another gateway"),
        ));
    }
    let status: GatewayStatus = serde_json::from_str(string(item, STATUS)?)
        .map_err(|e| AwsError::malformed(GATEWAY, format!("status: {}", AwsError::json(&e))))?;
    let revision = match item.get(REVISION) {
        Some(AttributeValue::N(value)) => value
            .parse()
            .map_err(|_| AwsError::malformed(GATEWAY, "revision is out of range"))?,
        Some(_) => return Err(AwsError::malformed(GATEWAY, "revision is not a number")),
        None => return Err(AwsError::malformed(GATEWAY, "revision is missing")),
    };
    Ok(Stored {
        gateway: Gateway { config, status },
        revision,
    })
}

fn string<'a>(item: &'a Item, name: &str) -> Result<&'a str, AwsError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        Some(_) => Err(AwsError::malformed(
            GATEWAY,
            format!("{name} is not a string"),
        )),
        None => Err(AwsError::malformed(GATEWAY, format!("{name} is missing"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paygate_domain::gateways::{BreakerState, Health};
    use paygate_kit::contract::fixtures::gateway_config;
    use time::macros::datetime;

    /// The gateway these cases store.
    fn config() -> GatewayConfig {
        gateway_config("psp_a")
    }

    fn item(config: &GatewayConfig, status: &GatewayStatus, revision: u64) -> Item {
        Item::from([
            (NAME.into(), s(config.name.clone())),
            (CONFIG.into(), s(config_json(config).unwrap())),
            (STATUS.into(), s(status_json(status).unwrap())),
            (REVISION.into(), n(revision)),
        ])
    }

    #[test]
    fn gateways_round_trip_through_items() {
        let status = GatewayStatus {
            health: Health::Degraded,
            last_checked_at: Some(datetime!(2026-11-23 10:00:01.5 UTC)),
            latency_ms: Some(42),
            consecutive_probe_failures: 1,
            breaker: BreakerState::Open {
                until: datetime!(2026-11-23 10:00:31 UTC),
            },
        };
        let stored = gateway_from_item(&item(&config(), &status, 7)).unwrap();
        assert_eq!(stored.revision, 7);
        assert_eq!(stored.gateway.config, config());
        assert_eq!(stored.gateway.status, status);
    }

    #[test]
    fn malformed_gateway_items_are_refused() {
        let good = item(&config(), &GatewayStatus::default(), 0);
        assert!(gateway_from_item(&good).is_ok());

        for (attribute, value) in [(NAME, s("psp_b")), (REVISION, s("1"))] {
            let mut bad = good.clone();
            bad.insert(attribute.into(), value);
            assert!(gateway_from_item(&bad).is_err(), "{attribute}");
        }

        let mut bad = good.clone();
        bad.insert(STATUS.into(), s("{\"health\":\"secret\"}"));
        let err = gateway_from_item(&bad).unwrap_err().to_string();
        assert!(!err.contains("secret"), "{err}");

        let mut bad = good;
        bad.remove(CONFIG);
        assert!(gateway_from_item(&bad).is_err());
    }
}

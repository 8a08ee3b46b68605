//! One connector per gateway, built from its wire format on first use and reused.

use crate::{ConnectorConfig, Timeouts, WireFormat, connector_for};
use paygate_domain::gateways::GatewayConfig;
use paygate_domain::ports::ConnectorDirectory;
use paygate_domain::ports::gateway::GatewayConnector;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A connector is reused while the gateway's name, format and URL stay the same.
type CacheKey = (String, WireFormat, String);

#[derive(Default)]
pub struct ConnectorCache {
    built: Mutex<HashMap<CacheKey, Arc<dyn GatewayConnector>>>,
    timeouts: Timeouts,
}

impl ConnectorCache {
    /// Connectors with the default timeouts (connect 2 s, request 5 s, health 1 s).
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_timeouts(timeouts: Timeouts) -> Self {
        Self {
            built: Mutex::default(),
            timeouts,
        }
    }
}

impl ConnectorDirectory for ConnectorCache {
    fn connector(&self, gateway: &GatewayConfig) -> Arc<dyn GatewayConnector> {
        let key = (
            gateway.name.clone(),
            gateway.format,
            gateway.base_url.clone(),
        );
        let mut built = self.built.lock().unwrap_or_else(|p| p.into_inner());
        let connector = built.entry(key).or_insert_with(|| {
            connector_for(
                gateway.format,
                ConnectorConfig {
                    base_url: gateway.base_url.clone(),
                    timeouts: self.timeouts,
                },
            )
        });
        connector.clone()
    }
}

//! The gateway registry seed (`gateways.json` beside this crate, or `PAYGATE_GATEWAYS_FILE`)
//! and the simulated PSPs that stand in for every gateway without a `base_url`.

use gateway_simulator::{Format, GatewaySpec, RunningGateway};
use paygate_domain::gateways::{Capability, GatewayConfig, WireFormat, default_capabilities};
use paygate_domain::{Country, Currency};
use serde::Deserialize;

/// The repository's default registry: two gateways (one JSON, one SOAP) for each of
/// AE/AED, US/USD, GB/GBP, DE/EUR and JP/JPY, plus a third for AE and US.
pub const DEFAULT_SEED: &str = include_str!("../gateways.json");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewaySeed {
    pub name: String,
    /// `json` or `soap`; anything else refuses the whole file at start.
    pub format: WireFormat,
    /// A real PSP's URL; absent means "simulate it".
    #[serde(default)]
    pub base_url: Option<String>,
    pub countries: Vec<Country>,
    pub currencies: Vec<Currency>,
    pub priority: u32,
    pub enabled: bool,
    /// Absent: payments and refunds.
    #[serde(default = "default_capabilities")]
    pub capabilities: Vec<Capability>,
}

pub fn parse_seed(json: &str) -> Result<Vec<GatewaySeed>, serde_json::Error> {
    serde_json::from_str(json)
}

/// Starts a simulator for every seed without a URL; returns the registry entries (with
/// the simulators' URLs filled in) and the running simulators (dropping one stops it).
pub async fn start(
    seeds: Vec<GatewaySeed>,
) -> std::io::Result<(Vec<GatewayConfig>, Vec<RunningGateway>)> {
    let mut configs = Vec::new();
    let mut simulators = Vec::new();
    for seed in seeds {
        let base_url = match seed.base_url {
            Some(url) => url,
            None => {
                let running = gateway_simulator::spawn(GatewaySpec {
                    name: seed.name.clone(),
                    format: simulated(seed.format),
                    secret: webhook_secret(&seed.name),
                    bind: "127.0.0.1:0".parse().expect("a valid loopback address"),
                    webhook_base_url: None,
                })
                .await?;
                let url = running.base_url();
                simulators.push(running);
                url
            }
        };
        configs.push(GatewayConfig {
            name: seed.name,
            format: seed.format,
            base_url,
            countries: seed.countries,
            currencies: seed.currencies,
            priority: seed.priority,
            enabled: seed.enabled,
            capabilities: seed.capabilities,
        });
    }
    Ok((configs, simulators))
}

/// The simulator speaking `format`.
fn simulated(format: WireFormat) -> Format {
    match format {
        WireFormat::Json => Format::Json,
        WireFormat::Soap => Format::Soap,
    }
}

/// `PAYGATE_WEBHOOK_SECRET_<NAME>` or a fixed development secret.
pub fn webhook_secret(name: &str) -> String {
    let variable = format!("PAYGATE_WEBHOOK_SECRET_{}", name.to_ascii_uppercase());
    std::env::var(variable).unwrap_or_else(|_| format!("whsec_dev_{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_seed_covers_every_required_pair_with_a_json_and_a_soap_gateway() {
        let seeds = parse_seed(DEFAULT_SEED).unwrap();
        for (country, currency) in [
            ("AE", "AED"),
            ("US", "USD"),
            ("GB", "GBP"),
            ("DE", "EUR"),
            ("JP", "JPY"),
        ] {
            let country = Country::parse(country).unwrap();
            let currency = Currency::parse(currency).unwrap();
            let formats: Vec<WireFormat> = seeds
                .iter()
                .filter(|s| {
                    s.enabled && s.countries.contains(&country) && s.currencies.contains(&currency)
                })
                .map(|s| s.format)
                .collect();
            assert!(
                formats.contains(&WireFormat::Json) && formats.contains(&WireFormat::Soap),
                "{country}/{currency}: {formats:?}"
            );
        }
    }

    #[test]
    fn a_seed_with_an_unknown_wire_format_is_refused() {
        let seed = r#"[{"name":"x","format":"xml","countries":["AE"],"currencies":["AED"],"priority":1,"enabled":true}]"#;
        let error = parse_seed(seed).unwrap_err().to_string();
        assert!(error.contains("xml"), "{error}");
    }
}

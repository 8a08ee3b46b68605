//! What the `gateways` tests share: one good entry and its configuration.

use super::file::{PutFileError, parse_put_file};
use paygate_domain::gateways::GatewayConfig;
use paygate_domain::{Country, Currency};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

pub const NOW: OffsetDateTime = datetime!(2026-11-23 10:00 UTC);

pub fn entry() -> Value {
    json!({
        "name": "acme_json", "format": "json", "base_url": "https://psp.example/api",
        "countries": ["AE", "US"], "currencies": ["AED", "USD"],
        "priority": 10, "enabled": true
    })
}

pub fn with(changes: Value) -> Value {
    let mut entry = entry();
    for (key, value) in changes.as_object().unwrap() {
        if value.is_null() {
            entry.as_object_mut().unwrap().remove(key);
        } else {
            entry[key] = value.clone();
        }
    }
    entry
}

pub fn problems(file: &Value) -> Vec<String> {
    match parse_put_file(&file.to_string()) {
        Err(PutFileError::Invalid(problems)) => problems.iter().map(ToString::to_string).collect(),
        other => panic!("expected problems, got {other:?}"),
    }
}

pub fn country(code: &str) -> Country {
    Country::parse(code).unwrap()
}

pub fn currency(code: &str) -> Currency {
    Currency::parse(code).unwrap()
}

pub fn acme() -> GatewayConfig {
    GatewayConfig {
        name: "acme_json".into(),
        format: paygate_domain::gateways::WireFormat::Json,
        base_url: "https://psp.example/api".into(),
        countries: vec![country("AE"), country("US")],
        currencies: vec![currency("AED"), currency("USD")],
        priority: 10,
        enabled: true,
        capabilities: paygate_domain::gateways::default_capabilities(),
    }
}

/// A second gateway, serving only US/USD (which [`acme`] serves too).
pub fn us_only() -> GatewayConfig {
    GatewayConfig {
        name: "us_only".into(),
        countries: vec![country("US")],
        currencies: vec![currency("USD")],
        ..acme()
    }
}

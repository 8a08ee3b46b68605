//! Picking gateways for a deposit or a payout: those that can do it (their
//! capabilities) for its country and currency, are enabled, not unhealthy and whose
//! breaker lets a call through, best priority first.

use super::registry::{Capability, Gateway};
use crate::money::{Country, Currency};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route<'a> {
    /// Try these, in order.
    Candidates(Vec<&'a Gateway>),
    /// Gateways serve this pair, but none can take a call now: retry later.
    NoneAvailable,
    /// No enabled gateway does this for this country and currency at all: it fails.
    Unserved,
}

pub fn route(
    gateways: &[Gateway],
    country: Country,
    currency: Currency,
    capability: Capability,
    now: OffsetDateTime,
) -> Route<'_> {
    let mut serving: Vec<&Gateway> = gateways
        .iter()
        .filter(|g| g.config.enabled && g.config.can(capability))
        .filter(|g| g.config.serves(country, currency))
        .collect();
    if serving.is_empty() {
        return Route::Unserved;
    }
    serving.retain(|g| g.takes_calls(now));
    if serving.is_empty() {
        return Route::NoneAvailable;
    }
    serving.sort_by(|a, b| {
        a.config
            .priority
            .cmp(&b.config.priority)
            .then_with(|| a.config.name.cmp(&b.config.name))
    });
    Route::Candidates(serving)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateways::{BreakerState, GatewayConfig, GatewayStatus, Health};
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-23 10:00 UTC);

    fn gateway(name: &str, priority: u32, pairs: &[(&str, &str)]) -> Gateway {
        Gateway {
            config: GatewayConfig {
                name: name.into(),
                format: crate::gateways::WireFormat::Json,
                base_url: "http://127.0.0.1:1".into(),
                countries: pairs
                    .iter()
                    .map(|(c, _)| Country::parse(c).unwrap())
                    .collect(),
                currencies: pairs
                    .iter()
                    .map(|(_, c)| Currency::parse(c).unwrap())
                    .collect(),
                priority,
                enabled: true,
                capabilities: crate::gateways::default_capabilities(),
            },
            status: GatewayStatus::default(),
        }
    }

    fn names(route: Route<'_>) -> Vec<String> {
        match route {
            Route::Candidates(list) => list.iter().map(|g| g.config.name.clone()).collect(),
            other => panic!("expected candidates, got {other:?}"),
        }
    }

    /// How `gateways` route an AED `capability` call in AE, now.
    fn route_ae(gateways: &[Gateway], capability: Capability) -> Route<'_> {
        let country = Country::parse("AE").unwrap();
        let currency = Currency::parse("AED").unwrap();
        route(gateways, country, currency, capability, NOW)
    }

    #[test]
    fn candidates_serve_the_pair_best_priority_first() {
        let gateways = vec![
            gateway("b", 2, &[("AE", "AED")]),
            gateway("a", 1, &[("AE", "AED")]),
            gateway("us_only", 0, &[("US", "USD")]),
        ];
        assert_eq!(names(route_ae(&gateways, Capability::Payments)), ["a", "b"]);
    }

    #[test]
    fn disabled_unhealthy_and_open_gateways_are_skipped() {
        let mut gateways = vec![
            gateway("disabled", 1, &[("AE", "AED")]),
            gateway("sick", 2, &[("AE", "AED")]),
            gateway("tripped", 3, &[("AE", "AED")]),
            gateway("fine", 4, &[("AE", "AED")]),
        ];
        gateways[0].config.enabled = false;
        gateways[1].status.health = Health::Unhealthy;
        gateways[2].status.breaker = BreakerState::Open {
            until: NOW + time::Duration::seconds(1),
        };
        assert_eq!(names(route_ae(&gateways, Capability::Payments)), ["fine"]);
        gateways[3].status.health = Health::Unhealthy;
        assert_eq!(
            route_ae(&gateways, Capability::Payments),
            Route::NoneAvailable
        );
    }

    #[test]
    fn payouts_go_only_to_gateways_that_pay_out() {
        let mut gateways = vec![
            gateway("payments_only", 1, &[("AE", "AED")]),
            gateway("pays_out", 2, &[("AE", "AED")]),
        ];
        gateways[1].config.capabilities.push(Capability::Payouts);
        let payouts = route_ae(&gateways, Capability::Payouts);
        assert_eq!(names(payouts), ["pays_out"]);
        gateways[1].config.enabled = false;
        assert_eq!(route_ae(&gateways, Capability::Payouts), Route::Unserved);
    }

    #[test]
    fn a_pair_nobody_serves_is_unserved() {
        let gateways = vec![gateway("us", 1, &[("US", "USD")])];
        assert_eq!(route_ae(&gateways, Capability::Payments), Route::Unserved);
    }
}

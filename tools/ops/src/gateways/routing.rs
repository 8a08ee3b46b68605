//! What routing makes of a change: pairs no enabled gateway serves any more, and why an
//! enabled gateway may still be skipped.

use super::list::breaker;
use paygate_domain::gateways::{GatewayConfig, GatewayStatus, Health};
use std::io::{self, Write};
use time::OffsetDateTime;

/// Why routing may still skip a gateway that is enabled.
pub(super) fn routing_notes(status: &GatewayStatus, now: OffsetDateTime) -> Vec<String> {
    let mut notes = Vec::new();
    if status.health == Health::Unhealthy {
        notes.push("it is unhealthy: routing skips it until a health probe passes".to_owned());
    }
    if !status.breaker.allows_call(now) {
        notes.push(format!(
            "its breaker is {}: routing skips it until the cool-down is over",
            breaker(&status.breaker, now)
        ));
    }
    notes
}

/// The country/currency pairs some enabled gateway serves in `before` and none in `after`
/// (routing serves every country of a gateway with every currency of it), as `AE/AED`.
pub fn unserved_after(before: &[GatewayConfig], after: &[GatewayConfig]) -> Vec<String> {
    let mut lost = Vec::new();
    for gateway in before.iter().filter(|g| g.enabled) {
        for &country in &gateway.countries {
            for &currency in &gateway.currencies {
                let pair = format!("{country}/{currency}");
                if !lost.contains(&pair)
                    && !after
                        .iter()
                        .any(|g| g.enabled && g.serves(country, currency))
                {
                    lost.push(pair);
                }
            }
        }
    }
    lost.sort();
    lost
}

pub(super) fn write_unserved(out: &mut dyn Write, pairs: &[String]) -> io::Result<()> {
    if pairs.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "warning: no enabled gateway serves {} any more: new deposits there fail at once \
         (no_gateway) instead of waiting for a gateway",
        pairs.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateways::fixtures::{acme, us_only};

    #[test]
    fn unserved_pairs_are_those_no_enabled_gateway_covers_any_more() {
        let us_only = us_only();
        let before = vec![acme(), us_only.clone()];
        let after = vec![
            GatewayConfig {
                enabled: false,
                ..acme()
            },
            us_only,
        ];
        // acme served every country with every currency: AE/USD and US/AED too.
        assert_eq!(
            unserved_after(&before, &after),
            ["AE/AED", "AE/USD", "US/AED"]
        );
        assert!(unserved_after(&before, &before).is_empty());
    }
}

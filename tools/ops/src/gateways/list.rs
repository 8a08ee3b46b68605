//! `gateways list`: one tab-separated line per gateway, with what the system learnt about it.

use super::{GatewayOps, display_host, join};
use crate::OpsError;
use paygate_domain::gateways::{BreakerState, Gateway, GatewayStatus, Health};
use paygate_domain::{Country, Currency};
use std::io::{self, Write};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

impl GatewayOps {
    pub(super) async fn list(&self, out: &mut dyn Write) -> Result<(), OpsError> {
        let gateways = self.registry.list().await?;
        write_gateways(out, &gateways, OffsetDateTime::now_utc())?;
        Ok(())
    }
}

/// `list`: one tab-separated line per gateway, then a count.
pub fn write_gateways(
    out: &mut dyn Write,
    gateways: &[Gateway],
    now: OffsetDateTime,
) -> io::Result<()> {
    writeln!(
        out,
        "NAME\tFORMAT\tENABLED\tPRIORITY\tCOUNTRIES\tCURRENCIES\tHEALTH\tBREAKER\tHOST"
    )?;
    for gateway in gateways {
        let (config, status) = (&gateway.config, &gateway.status);
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            config.name,
            config.format,
            config.enabled,
            config.priority,
            join(&config.countries, Country::code),
            join(&config.currencies, Currency::code),
            health(status),
            breaker(&status.breaker, now),
            display_host(&config.base_url),
        )?;
    }
    let enabled = gateways.iter().filter(|g| g.config.enabled).count();
    writeln!(out, "{} gateway(s), {enabled} enabled", gateways.len())?;
    if gateways.is_empty() {
        writeln!(
            out,
            "the registry is empty: add gateways with `paygate-ops gateways put <file.json>`"
        )?;
    }
    Ok(())
}

fn health(status: &GatewayStatus) -> String {
    let name = match status.health {
        Health::Healthy => "healthy",
        Health::Degraded => "degraded",
        Health::Unhealthy => "unhealthy",
    };
    if status.last_checked_at.is_none() {
        format!("{name} (never probed)")
    } else {
        name.to_owned()
    }
}

pub(super) fn breaker(state: &BreakerState, now: OffsetDateTime) -> String {
    match state {
        BreakerState::Closed { failures: 0, .. } => "closed".into(),
        BreakerState::Closed { failures, .. } => format!("closed ({failures} recent failure(s))"),
        BreakerState::Open { until } if now < *until => format!(
            "open until {}",
            until.format(&Rfc3339).unwrap_or_else(|_| until.to_string())
        ),
        other => other.name(now).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateways::fixtures::{NOW, acme};
    use paygate_domain::gateways::GatewayConfig;
    use time::macros::datetime;

    #[test]
    fn listings_show_learnt_state_and_the_host_only() {
        let mut tripped = Gateway {
            config: GatewayConfig {
                name: "globex_soap".into(),
                format: paygate_domain::gateways::WireFormat::Soap,
                base_url: "https://user:pw@psp.example:8443/api/v1?key=s3cr3t".into(),
                enabled: false,
                priority: 20,
                ..acme()
            },
            status: GatewayStatus::default(),
        };
        tripped.status.health = Health::Unhealthy;
        tripped.status.last_checked_at = Some(NOW);
        tripped.status.breaker = BreakerState::Open {
            until: datetime!(2026-11-23 10:00:30 UTC),
        };
        let mut counting = Gateway {
            config: acme(),
            status: GatewayStatus::default(),
        };
        counting.status.breaker = BreakerState::Closed {
            failures: 2,
            window_started: Some(NOW),
        };
        let mut out = Vec::new();
        write_gateways(&mut out, &[counting, tripped], NOW).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "NAME\tFORMAT\tENABLED\tPRIORITY\tCOUNTRIES\tCURRENCIES\tHEALTH\tBREAKER\tHOST\n\
             acme_json\tjson\ttrue\t10\tAE,US\tAED,USD\thealthy (never probed)\tclosed (2 recent failure(s))\tpsp.example\n\
             globex_soap\tsoap\tfalse\t20\tAE,US\tAED,USD\tunhealthy\topen until 2026-11-23T10:00:30Z\tpsp.example:8443\n\
             2 gateway(s), 1 enabled\n"
        );

        let mut out = Vec::new();
        write_gateways(&mut out, &[], NOW).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with("0 gateway(s), 0 enabled\nthe registry is empty: add gateways with `paygate-ops gateways put <file.json>`\n"), "{text}");
    }

    #[test]
    fn breakers_past_their_cool_down_show_as_half_open() {
        let open = BreakerState::Open { until: NOW };
        assert_eq!(breaker(&open, NOW), "half_open");
        assert_eq!(breaker(&BreakerState::HalfOpen, NOW), "half_open");
        assert_eq!(breaker(&BreakerState::default(), NOW), "closed");
    }
}

//! `paygate-ops gateways …` through [`paygate_ops::cli`] (what the binary runs) on the
//! emulators' gateways table (DynamoDB Local), as an operator would set up and run a
//! deployed registry.
//!
//! Run through `cargo xtask test`, or with the emulators started by `cargo xtask emulators`
//! and its exports sourced; without `PAYGATE_TEST_EMULATORS=1` these tests fail on purpose.
//!
//! The table is shared with the suites running in parallel, so each test:
//! * names its gateways `ops_<uuid>_…` and looks only at those;
//! * serves only a country/currency pair of its own that no other suite routes (PL/PLN,
//!   RO/RON, HU/HUF, CL/CLP), so its gateways can never be picked for another suite's
//!   deposit, and removes what an earlier, interrupted run left serving that pair;
//! * removes its gateways when it ends, failed or not.

use paygate_aws::{DynamoGatewayRegistry, Resources, aws_sdk_dynamodb};
use paygate_domain::gateways::{
    BreakerPolicy, BreakerState, CallResult, Gateway, GatewayConfig, GatewayStatus, Health,
};
use paygate_domain::ports::GatewayRegistry;
use paygate_domain::{Country, Currency};
use paygate_ops::gateways::TAKES_EFFECT;
use serde_json::{Value, json};
use std::path::PathBuf;
use time::OffsetDateTime;
use uuid::Uuid;

/// One test's gateways: a name prefix, a pair and a scratch directory of its own.
struct Lane {
    prefix: String,
    pair: (&'static str, &'static str),
    registry: DynamoGatewayRegistry,
    resources: Resources,
    dir: PathBuf,
}

impl Lane {
    async fn new(pair: (&'static str, &'static str)) -> Self {
        let (client, resources) = paygate_kit::emulated_dynamodb().await;
        let registry = DynamoGatewayRegistry::new(client.clone(), &resources);
        let id = Uuid::new_v4().simple().to_string();
        let dir = std::env::temp_dir().join(format!("paygate-ops-it-{id}"));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let lane = Self {
            prefix: format!("ops_{id}_"),
            pair,
            registry,
            resources,
            dir,
        };
        // Whatever serves this test's pair can only be left over from an interrupted run.
        let (country, currency) = lane.country_currency();
        let stale = lane.registry.list().await.expect("list the registry");
        for gateway in stale.iter().filter(|g| g.config.serves(country, currency)) {
            delete(
                &client,
                &lane.resources.gateways_table,
                &gateway.config.name,
            )
            .await;
        }
        lane
    }

    fn country_currency(&self) -> (Country, Currency) {
        (
            Country::parse(self.pair.0).expect("an ISO 3166 country"),
            Currency::parse(self.pair.1).expect("an ISO 4217 currency"),
        )
    }

    fn name(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }

    /// A put-file entry serving this test's pair.
    fn entry(&self, suffix: &str, base_url: &str, priority: u32, enabled: bool) -> Value {
        json!({
            "name": self.name(suffix), "format": "json", "base_url": base_url,
            "countries": [self.pair.0], "currencies": [self.pair.1],
            "priority": priority, "enabled": enabled
        })
    }

    fn config(&self, suffix: &str, base_url: &str, priority: u32, enabled: bool) -> GatewayConfig {
        serde_json::from_value(self.entry(suffix, base_url, priority, enabled))
            .expect("an entry is a config")
    }

    fn file(&self, name: &str, contents: &Value) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, contents.to_string()).expect("write the put file");
        path.to_str().expect("a UTF-8 path").to_owned()
    }

    /// `paygate-ops <args>`: exit code, stdout, stderr.
    async fn ops(&self, args: &[&str]) -> (u8, String, String) {
        paygate_ops::run_captured(args, &self.resources, "").await
    }

    /// Puts one enabled gateway `psp` at `base_url`, priority 10, through the command
    /// line; returns its name.
    async fn put_psp(&self, base_url: &str) -> String {
        let file = self.file("psp.json", &json!([self.entry("psp", base_url, 10, true)]));
        let (code, _, err) = self.ops(&["gateways", "put", &file]).await;
        assert_eq!(code, 0, "{err}");
        self.name("psp")
    }

    /// This test's gateways, as the registry holds them.
    async fn own(&self) -> Vec<Gateway> {
        let mut all = self.registry.list().await.expect("list the registry");
        all.retain(|g| g.config.name.starts_with(&self.prefix));
        all
    }

    async fn gateway(&self, suffix: &str) -> Gateway {
        let name = self.name(suffix);
        self.own()
            .await
            .into_iter()
            .find(|g| g.config.name == name)
            .unwrap_or_else(|| panic!("{name} is not in the registry"))
    }
}

impl Drop for Lane {
    /// Removes this test's gateways, on a runtime of its own (the test's may be gone).
    fn drop(&mut self) {
        let (prefix, table) = (self.prefix.clone(), self.resources.gateways_table.clone());
        let resources = self.resources.clone();
        let _ = std::fs::remove_dir_all(&self.dir);
        paygate_kit::run_to_completion(move || async move {
            let client = aws_sdk_dynamodb::Client::new(&paygate_aws::sdk_config());
            let registry = DynamoGatewayRegistry::new(client.clone(), &resources);
            let Ok(all) = registry.list().await else {
                return;
            };
            for gateway in all.iter().filter(|g| g.config.name.starts_with(&prefix)) {
                delete(&client, &table, &gateway.config.name).await;
            }
        });
    }
}

async fn delete(client: &aws_sdk_dynamodb::Client, table: &str, name: &str) {
    let _ = client
        .delete_item()
        .table_name(table)
        .key(
            "name",
            aws_sdk_dynamodb::types::AttributeValue::S(name.to_owned()),
        )
        .send()
        .await;
}

/// The `list` line of `name`, split into its columns.
fn listed<'a>(out: &'a str, name: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = out
        .lines()
        .filter(|l| l.split('\t').next() == Some(name))
        .collect();
    assert_eq!(lines.len(), 1, "{name} once in:\n{out}");
    lines[0].split('\t').collect()
}

#[tokio::test]
async fn put_adds_gateways_that_list_shows_with_their_host_only() {
    // GIVEN a deployed registry without this test's gateways
    let lane = Lane::new(("PL", "PLN")).await;
    assert!(lane.own().await.is_empty());
    let mut soap = lane.entry("backup", "http://127.0.0.1:9/sim", 20, false);
    soap["format"] = json!("soap");
    let file = lane.file(
        "gateways.json",
        &json!([
            lane.entry("card", "https://user:s3cr3t@psp.example/api/v1/", 10, true),
            soap
        ]),
    );

    // WHEN the operator puts the file
    let (code, out, err) = lane.ops(&["gateways", "put", &file]).await;

    // THEN both are added, reported one line each
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..3],
        [
            format!(
                "added {}: json, priority 10, enabled, PL / PLN, host psp.example",
                lane.name("card")
            ),
            format!(
                "added {}: soap, priority 20, disabled, PL / PLN, host 127.0.0.1:9",
                lane.name("backup")
            ),
            format!(
                "2 gateway(s) in the file, table {}: 2 added, 0 updated, 0 unchanged; health \
                 and breaker state of existing gateways kept",
                lane.resources.gateways_table
            ),
        ]
    );
    assert_eq!(lines[3], TAKES_EFFECT);
    // AND the registry holds them as written, with nothing learnt yet
    let mut backup = lane.config("backup", "http://127.0.0.1:9/sim", 20, false);
    backup.format = paygate_domain::gateways::WireFormat::Soap;
    let card = lane.config("card", "https://user:s3cr3t@psp.example/api/v1/", 10, true);
    assert_eq!(
        lane.own().await,
        [
            Gateway {
                config: backup,
                status: GatewayStatus::default()
            },
            Gateway {
                config: card,
                status: GatewayStatus::default()
            },
        ]
    );

    // WHEN the operator lists the registry
    let (code, out, err) = lane.ops(&["gateways", "list"]).await;

    // THEN each is one line with its settings, state and host, never the rest of the URL
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().next(),
        Some("NAME\tFORMAT\tENABLED\tPRIORITY\tCOUNTRIES\tCURRENCIES\tHEALTH\tBREAKER\tHOST")
    );
    assert_eq!(
        listed(&out, &lane.name("card"))[1..],
        [
            "json",
            "true",
            "10",
            "PL",
            "PLN",
            "healthy (never probed)",
            "closed",
            "psp.example"
        ]
    );
    assert_eq!(
        listed(&out, &lane.name("backup"))[1..],
        [
            "soap",
            "false",
            "20",
            "PL",
            "PLN",
            "healthy (never probed)",
            "closed",
            "127.0.0.1:9"
        ]
    );
    assert!(!out.contains("s3cr3t") && !out.contains("/api/v1"), "{out}");
    let footer = out.lines().last().unwrap();
    assert!(
        footer.ends_with(" enabled") && footer.contains(" gateway(s), "),
        "{footer}"
    );
}

#[tokio::test]
async fn putting_again_updates_the_config_and_keeps_what_was_learnt() {
    // GIVEN a gateway that the system has learnt things about: unhealthy, breaker open
    let lane = Lane::new(("RO", "RON")).await;
    let name = lane.put_psp("https://psp.example/v1").await;
    let now = OffsetDateTime::now_utc();
    let policy = BreakerPolicy {
        failure_threshold: 1,
        cool_down: time::Duration::hours(1),
        ..BreakerPolicy::default()
    };
    let breaker = lane
        .registry
        .record_call(&name, CallResult::Failure, now, &policy)
        .await
        .unwrap();
    assert!(matches!(breaker, BreakerState::Open { .. }), "{breaker:?}");
    let learnt = lane
        .registry
        .change_status(&name, &|s: &GatewayStatus| GatewayStatus {
            health: Health::Unhealthy,
            last_checked_at: Some(now),
            consecutive_probe_failures: 3,
            ..s.clone()
        })
        .await
        .unwrap()
        .after;

    // WHEN the operator puts a changed entry for it
    let file = lane.file(
        "v2.json",
        &json!(lane.entry("psp", "https://psp2.example/v2", 5, true)),
    );
    let (code, out, err) = lane.ops(&["gateways", "put", &file]).await;

    // THEN the configuration is replaced and the learnt status is untouched
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().next(),
        Some(
            format!("updated {name}: base_url host psp.example -> psp2.example, priority 10 -> 5")
                .as_str()
        )
    );
    let gateway = lane.gateway("psp").await;
    assert_eq!(
        gateway.config,
        lane.config("psp", "https://psp2.example/v2", 5, true)
    );
    assert_eq!(gateway.status, learnt);
    // AND the listing shows what was learnt
    let (code, out, err) = lane.ops(&["gateways", "list"]).await;
    assert_eq!(code, 0, "{err}");
    let columns = listed(&out, &name);
    assert_eq!(columns[6], "unhealthy");
    assert!(columns[7].starts_with("open until "), "{columns:?}");
    assert_eq!(columns[8], "psp2.example");

    // AND putting the same file again writes nothing
    let (code, out, err) = lane.ops(&["gateways", "put", &file]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with(&format!("unchanged {name}\n")), "{out}");
    assert_eq!(lane.gateway("psp").await, gateway);
}

#[tokio::test]
async fn disable_and_enable_flip_only_enabled() {
    // GIVEN the only gateway serving the pair, degraded
    let lane = Lane::new(("HU", "HUF")).await;
    let name = lane.put_psp("https://psp.example").await;
    lane.registry
        .change_status(&name, &|s: &GatewayStatus| GatewayStatus {
            health: Health::Degraded,
            ..s.clone()
        })
        .await
        .unwrap();
    let before = lane.gateway("psp").await;

    // WHEN the operator disables it
    let (code, out, err) = lane.ops(&["gateways", "disable", &name]).await;

    // THEN only `enabled` changed, and the output says when routing sees it and what the
    // pair now lacks
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        format!("disabled {name} in {}", lane.resources.gateways_table)
    );
    assert_eq!(lines[1], TAKES_EFFECT);
    assert!(
        out.contains(
            "warning: no enabled gateway serves HU/HUF any more: new deposits there fail at \
             once (no_gateway)"
        ),
        "{out}"
    );
    let disabled = lane.gateway("psp").await;
    assert_eq!(
        disabled.config,
        GatewayConfig {
            enabled: false,
            ..before.config.clone()
        }
    );
    assert_eq!(disabled.status, before.status);
    let (_, out, _) = lane.ops(&["gateways", "list"]).await;
    assert_eq!(listed(&out, &name)[2], "false");

    // WHEN it is disabled again: nothing to do
    let (code, out, err) = lane.ops(&["gateways", "disable", &name]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        format!("{name} is already disabled; nothing changed\n")
    );

    // WHEN the operator enables it again: back as it was
    let (code, out, err) = lane.ops(&["gateways", "enable", &name]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        format!(
            "enabled {name} in {}\n{TAKES_EFFECT}\n",
            lane.resources.gateways_table
        )
    );
    assert_eq!(lane.gateway("psp").await, before);
}

#[tokio::test]
async fn unknown_names_and_refused_files_fail_with_exit_code_1_and_write_nothing() {
    let lane = Lane::new(("CL", "CLP")).await;

    // An unknown gateway
    for verb in ["enable", "disable"] {
        let missing = lane.name("missing");
        let (code, out, err) = lane.ops(&["gateways", verb, &missing]).await;
        assert_eq!(code, 1, "{verb}");
        assert!(out.is_empty(), "{out}");
        assert_eq!(
            err,
            format!(
                "paygate-ops: no gateway named {missing:?} in {} (`paygate-ops gateways list` \
                 shows them)\n",
                lane.resources.gateways_table
            )
        );
    }
    assert!(lane.own().await.is_empty(), "enabling never creates one");

    // A file with one good and one bad entry: nothing at all is written
    let mut bad = lane.entry("bad", "http://psp.example", 1, false);
    bad["countries"] = json!(["CL", "XX"]);
    let file = lane.file(
        "mixed.json",
        &json!([lane.entry("good", "https://psp.example", 1, false), bad]),
    );
    let (code, out, err) = lane.ops(&["gateways", "put", &file]).await;
    assert_eq!(code, 1);
    assert!(out.is_empty(), "{out}");
    let bad_name = lane.name("bad");
    assert_eq!(
        err,
        format!(
            "paygate-ops: {file}: nothing was written: 2 problem(s):\n  \
             entry 2 (\"{bad_name}\"), base_url: must use https:// (http:// is only for a \
             loopback host: localhost, 127.0.0.0/8, [::1])\n  \
             entry 2 (\"{bad_name}\"), countries[1]: \"XX\": country must be an ISO 3166-1 \
             alpha-2 code such as AE, US or JP\n"
        )
    );
    assert!(lane.own().await.is_empty());
}

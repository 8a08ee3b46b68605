//! The `gateways` commands on the in-memory registry.

use super::fixtures::{NOW, acme, entry, us_only, with};
use super::*;
use paygate_domain::gateways::{BreakerPolicy, CallResult, GatewayConfig, GatewayStatus, Health};
use paygate_domain::ports::GatewayRegistry;
use paygate_kit::faults::{Port, Switchboard, Target};
use paygate_memory::MemoryGatewayRegistry;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;

fn ops(registry: Arc<dyn GatewayRegistry>) -> GatewayOps {
    GatewayOps {
        registry,
        table: "paygate-gateways".into(),
    }
}

/// A put file in the temporary directory, removed when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn write_file(name: &str, json: &Value) -> TempFile {
    let path = std::env::temp_dir().join(format!("paygate-ops-unit-{}-{name}", std::process::id()));
    std::fs::write(&path, json.to_string()).unwrap();
    TempFile(path)
}

fn put(file: &TempFile) -> GatewayCommand {
    GatewayCommand::Put {
        file: file.0.clone(),
    }
}

fn enable(name: &str) -> GatewayCommand {
    GatewayCommand::Enable { name: name.into() }
}

fn disable(name: &str) -> GatewayCommand {
    GatewayCommand::Disable { name: name.into() }
}

async fn run(ops: &GatewayOps, command: GatewayCommand) -> Result<String, OpsError> {
    let mut out = Vec::new();
    ops.run(&command, &mut out).await?;
    Ok(String::from_utf8(out).unwrap())
}

/// The end of a report that leaves pairs without a gateway: when the change applies, a
/// note starting with `note`, and the warning naming the `unserved` pairs.
fn assert_applies_with_note_and_warning(lines: &[&str], note: &str, unserved: &str) {
    assert_eq!(lines[0], TAKES_EFFECT);
    assert!(lines[1].starts_with(note), "{lines:?}");
    assert_eq!(
        lines[2],
        format!(
            "warning: no enabled gateway serves {unserved} any more: new deposits there fail \
             at once (no_gateway) instead of waiting for a gateway"
        )
    );
}

#[tokio::test]
async fn put_adds_updates_and_skips_unchanged_gateways_keeping_what_was_learnt() {
    let memory = Arc::new(MemoryGatewayRegistry::with_gateways([acme()]));
    memory
        .record_call(
            "acme_json",
            CallResult::Failure,
            NOW,
            &BreakerPolicy::default(),
        )
        .await
        .unwrap();
    let learnt = memory.list().await.unwrap()[0].status.clone();
    let ops = ops(memory.clone());
    let moved = with(json!({"priority": 5, "enabled": false,
                            "base_url": "https://psp2.example/api"}));
    let new = with(json!({"name": "initech_json", "countries": ["AE"],
                          "currencies": ["AED"]}));
    let file = write_file("put.json", &json!([moved, new]));

    let out = run(&ops, put(&file)).await.unwrap();

    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..3],
        [
            "updated acme_json: base_url host psp.example -> psp2.example, priority 10 -> 5, \
             enabled true -> false",
            "added initech_json: json, priority 10, enabled, AE / AED, host psp.example",
            "2 gateway(s) in the file, table paygate-gateways: 1 added, 1 updated, \
             0 unchanged; health and breaker state of existing gateways kept",
        ]
    );
    // acme served US/USD and the AE/USD, US/AED crossings alone.
    assert_applies_with_note_and_warning(
        &lines[3..],
        "note: the health probe checks new gateways",
        "AE/USD US/AED US/USD",
    );
    let listed = memory.list().await.unwrap();
    assert_eq!(listed[0].config.priority, 5);
    assert!(!listed[0].config.enabled);
    assert_eq!(listed[0].status, learnt, "what was learnt is kept");
    assert_eq!(listed[1].config.name, "initech_json");
    assert_eq!(listed[1].status, GatewayStatus::default());

    // The same file again changes nothing.
    let out = run(&ops, put(&file)).await.unwrap();
    assert_eq!(
        out,
        "unchanged acme_json\nunchanged initech_json\n2 gateway(s) in the file, table \
         paygate-gateways: 0 added, 0 updated, 2 unchanged; health and breaker state of \
         existing gateways kept\n"
    );
}

#[tokio::test]
async fn a_refused_file_writes_nothing() {
    let memory = Arc::new(MemoryGatewayRegistry::with_gateways([acme()]));
    let ops = ops(memory.clone());
    let file = write_file(
        "refused.json",
        &json!([
            with(json!({"priority": 1})),
            with(json!({"name": "b", "format": "xml"}))
        ]),
    );
    let err = run(&ops, put(&file)).await.unwrap_err();
    assert!(matches!(err, OpsError::PutFile { .. }), "{err}");
    assert_eq!(memory.list().await.unwrap()[0].config, acme());
    assert_eq!(memory.list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_failed_write_says_what_was_already_written() {
    // The file's gateways are written in order: the second write, of b, fails.
    let faults = Switchboard::new();
    faults
        .when(Target::op(Port::Registry, "upsert_config"))
        .skip(1)
        .once()
        .fail("UpdateItem: ThrottlingException");
    let ops = ops(Arc::new(MemoryGatewayRegistry::new().with_faults(faults)));
    let file = write_file(
        "partial.json",
        &json!([
            entry(),
            with(json!({"name": "b"})),
            with(json!({"name": "c"}))
        ]),
    );
    let err = run(&ops, put(&file)).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "could not write b: store unavailable: UpdateItem: ThrottlingException; already \
         written: acme_json (putting the same file again is safe)"
    );
    let names: Vec<String> = ops
        .registry
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.config.name)
        .collect();
    assert_eq!(names, ["acme_json"]);
}

#[tokio::test]
async fn enable_and_disable_flip_only_enabled_and_say_when_it_applies() {
    let memory = Arc::new(MemoryGatewayRegistry::with_gateways([acme(), us_only()]));
    memory
        .update_status("acme_json", |s| s.health = Health::Unhealthy)
        .unwrap();
    let ops = ops(memory.clone());

    let out = run(&ops, disable("acme_json")).await.unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "disabled acme_json in paygate-gateways");
    assert_applies_with_note_and_warning(
        &lines[1..],
        "note: payments it already holds",
        "AE/AED AE/USD US/AED",
    );
    let acme_now = memory.list().await.unwrap().remove(0);
    assert_eq!(
        acme_now.config,
        GatewayConfig {
            enabled: false,
            ..acme()
        }
    );
    assert_eq!(acme_now.status.health, Health::Unhealthy, "status kept");

    let out = run(&ops, disable("acme_json")).await.unwrap();
    assert_eq!(out, "acme_json is already disabled; nothing changed\n");

    let out = run(&ops, enable("acme_json")).await.unwrap();
    assert_eq!(
        out,
        format!(
            "enabled acme_json in paygate-gateways\n{TAKES_EFFECT}\nnote: it is unhealthy: \
             routing skips it until a health probe passes\n"
        )
    );
    assert_eq!(memory.list().await.unwrap()[0].config, acme());

    let err = run(&ops, enable("acme")).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "no gateway named \"acme\" in paygate-gateways (`paygate-ops gateways list` shows them)"
    );
}

//! `template.yaml` against the code: every resource variable the template sets is one the
//! code reads, every table, the queue and the bus are set, and secrets go by ARN only.
//! `cfn-lint` and `sam validate --lint` (run by `cargo xtask test`) check the template's
//! AWS side; the devstack's OpenAPI test checks its routes against the spec.

use paygate_aws::Resources;
use std::cell::RefCell;
use std::collections::BTreeSet;

const TEMPLATE: &str = include_str!("../../../template.yaml");

/// Every `PAYGATE_*` variable `Resources` reads, recorded as it reads them.
fn resource_variables() -> BTreeSet<String> {
    let read = RefCell::new(BTreeSet::new());
    Resources::from_lookup(|name| {
        read.borrow_mut().insert(name.to_owned());
        None
    });
    read.into_inner()
}

/// The `KEY: value` pairs of the template's `Globals.Function.Environment.Variables`.
fn global_variables() -> BTreeSet<String> {
    let start = TEMPLATE.find("\nGlobals:").expect("Globals");
    let end = TEMPLATE[start..].find("\nResources:").expect("Resources") + start;
    TEMPLATE[start..end]
        .lines()
        .map(str::trim)
        .filter_map(|line| line.split_once(':').map(|(key, _)| key))
        .filter(|key| key.starts_with("PAYGATE_") || key.starts_with("AWS_"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_resource_variable_in_the_template_is_read_and_every_resource_is_named() {
    let read = resource_variables();
    let set = global_variables();
    let not_resources = ["PAYGATE_CONFIG_REVISION", "AWS_ENDPOINT_URL"];
    for variable in &set {
        assert!(
            read.contains(variable) || not_resources.contains(&variable.as_str()),
            "the template sets {variable}, which the code never reads"
        );
    }
    for table in [
        "EVENTS",
        "DEPOSITS",
        "IDEMPOTENCY",
        "MERCHANTS",
        "LOOKUPS",
        "GATEWAYS",
    ] {
        let variable = format!("PAYGATE_{table}_TABLE");
        assert!(
            read.contains(&variable),
            "Resources no longer reads {variable}"
        );
        assert!(
            set.contains(&variable),
            "the template does not set {variable}"
        );
    }
    for variable in ["PAYGATE_DEPOSITS_QUEUE_URL", "PAYGATE_EVENT_BUS"] {
        assert!(
            set.contains(variable),
            "the template does not set {variable}"
        );
    }
}

/// The secrets reach the functions that need them by ARN, never as literal values.
#[test]
fn secrets_are_passed_by_arn_only() {
    for secret in ["PAYGATE_FIELD_KEYS", "PAYGATE_WEBHOOK_GATEWAYS"] {
        assert!(
            TEMPLATE.contains(&format!("{secret}_SECRET_ARN: !Ref ")),
            "{secret}_SECRET_ARN is not set from a parameter"
        );
        assert!(
            !TEMPLATE.contains(&format!("{secret}:")),
            "{secret} is set as a literal value"
        );
    }
    assert!(!TEMPLATE.contains("resolve:secretsmanager"));
}

/// `events/sam-local-env.json` replaces, under `sam local invoke`, every variable the
/// template fills with a `!Ref` to one of its own resources (which `sam local` cannot
/// resolve to a real name), and only variables the template declares (SAM ignores others).
#[test]
fn the_sam_local_environment_names_every_resource_the_template_refers_to() {
    let env: serde_json::Value =
        serde_json::from_str(include_str!("../../../events/sam-local-env.json")).expect("JSON");
    let overridden: BTreeSet<String> = env["Parameters"]
        .as_object()
        .expect("a Parameters object")
        .keys()
        .cloned()
        .collect();
    let declared: BTreeSet<String> = TEMPLATE
        .lines()
        .map(str::trim)
        .filter_map(|line| line.split_once(':').map(|(key, _)| key.to_owned()))
        .filter(|key| key.starts_with("PAYGATE_"))
        .collect();
    for variable in &overridden {
        assert!(
            declared.contains(variable),
            "the template never declares {variable}"
        );
    }
    let referring_to_resources = TEMPLATE
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("PAYGATE_"))
        .filter_map(|line| line.split_once(": !Ref "))
        .filter(|(_, target)| !target.ends_with("SecretArn") && *target != "ConfigRevision")
        .map(|(variable, _)| variable.to_owned());
    for variable in referring_to_resources {
        assert!(
            overridden.contains(&variable),
            "events/sam-local-env.json does not set {variable}"
        );
    }
    for secret in [
        "PAYGATE_FIELD_KEYS_SECRET_ARN",
        "PAYGATE_WEBHOOK_GATEWAYS_SECRET_ARN",
    ] {
        assert!(
            overridden.contains(secret),
            "events/sam-local-env.json misses {secret}"
        );
    }
}

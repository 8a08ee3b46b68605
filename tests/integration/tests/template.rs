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

/// The health probe gets every sweeper threshold the code reads, each from a template
/// parameter whose default is the code's and whose bounds are the ones it accepts.
#[test]
fn the_sweepers_thresholds_come_from_parameters_that_match_the_code() {
    use paygate_domain::service::sweep::{SweepPolicy, SweepSetting};
    let defaults = SweepPolicy::default();
    let default_of = |setting: SweepSetting| match setting {
        SweepSetting::PendingAfter => defaults.pending_after,
        SweepSetting::AttemptAfter => defaults.attempt_after,
        SweepSetting::SubmittedAfter => defaults.submitted_after,
        SweepSetting::RefundAfter => defaults.refund_after,
    };
    for setting in SweepSetting::ALL {
        let variable = setting.variable();
        let line = TEMPLATE
            .lines()
            .map(str::trim)
            .find(|line| line.starts_with(&format!("{variable}:")))
            .unwrap_or_else(|| panic!("the template does not set {variable}"));
        let parameter = line
            .split_once("!Ref ")
            .map(|(_, name)| name.trim())
            .unwrap_or_else(|| panic!("{variable} is not set from a parameter: {line}"));
        let declared = TEMPLATE
            .find(&format!("\n  {parameter}:\n"))
            .unwrap_or_else(|| panic!("no parameter {parameter}"));
        let block: Vec<&str> = TEMPLATE[declared + 1..]
            .lines()
            .skip(1)
            .take_while(|line| line.starts_with("    "))
            .map(str::trim)
            .collect();
        let seconds = default_of(setting).whole_seconds();
        for expected in [
            "Type: Number".to_owned(),
            format!("Default: {seconds}"),
            "MinValue: 1".to_owned(),
            "MaxValue: 86400".to_owned(),
        ] {
            assert!(
                block.contains(&expected.as_str()),
                "{parameter} lacks {expected:?}: {block:?}"
            );
        }
        // The same bounds as the code's: the edges are accepted, one past them is not.
        for (value, accepted) in [("1", true), ("86400", true), ("0", false), ("86401", false)] {
            let read = SweepPolicy::from_settings(|name| (name == variable).then(|| value.into()));
            assert_eq!(read.is_ok(), accepted, "{variable}={value}");
        }
    }
    let set = TEMPLATE
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("PAYGATE_SWEEP_"))
        .count();
    assert_eq!(
        set,
        SweepSetting::ALL.len(),
        "a sweep variable the code does not read"
    );
}

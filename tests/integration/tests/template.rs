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
    let not_resources = [
        "PAYGATE_CONFIG_REVISION",
        "AWS_ENDPOINT_URL",
        "PAYGATE_STAGE",
    ];
    // The stage names the metrics' namespace: read by the telemetry crate, not Resources.
    let telemetry = include_str!("../../../shared/telemetry/src/lib.rs");
    assert!(telemetry.contains("std::env::var(\"PAYGATE_STAGE\")"));
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

// ---- The template read as YAML: limits, IAM, KMS. CloudFormation's short forms (`!Ref`,
// `!GetAtt`, `!Sub`, `!If`) are tagged values. Each check returns what it found wrong,
// so the tests below also run it on broken copies of the template: a check that cannot
// fail proves nothing.

use serde_norway::Value;
use std::collections::BTreeMap;

fn parse(template: &str) -> Value {
    serde_norway::from_str(template).expect("template.yaml is YAML")
}

/// `template` with `from` replaced by `to` exactly once (the mutation must apply).
fn broken(from: &str, to: &str) -> Value {
    assert_eq!(
        TEMPLATE.matches(from).count(),
        1,
        "{from:?} is not in the template once"
    );
    parse(&TEMPLATE.replacen(from, to, 1))
}

fn tagged<'a>(value: &'a Value, tag: &str) -> Option<&'a Value> {
    match value {
        Value::Tagged(t) if t.tag == tag => Some(&t.value),
        _ => None,
    }
}

/// The name in `!Ref <name>`.
fn reference(value: &Value) -> Option<&str> {
    tagged(value, "Ref").and_then(Value::as_str)
}

fn resources(template: &Value) -> impl Iterator<Item = (&str, &Value)> {
    template["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .map(|(name, resource)| (name.as_str().expect("a resource name"), resource))
}

fn resources_of<'a>(
    template: &'a Value,
    kind: &'a str,
) -> impl Iterator<Item = (&'a str, &'a Value)> {
    resources(template).filter(move |(_, resource)| resource["Type"].as_str() == Some(kind))
}

// ---- (a) Limits: every route its own throttle, the webhooks' apart.

/// Every `HttpApi` event of every function: its route key and the function.
fn routes(template: &Value) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (function, resource) in resources_of(template, "AWS::Serverless::Function") {
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for event in events
            .values()
            .filter(|e| e["Type"].as_str() == Some("HttpApi"))
        {
            let properties = &event["Properties"];
            let method = properties["Method"]
                .as_str()
                .expect("an HttpApi event's Method");
            let path = properties["Path"]
                .as_str()
                .expect("an HttpApi event's Path");
            found.push((format!("{method} {path}"), function.to_owned()));
        }
    }
    found
}

/// The throttle of one route settings entry: its rate and burst parameters.
fn throttle_parameters(settings: &Value) -> Result<(String, String), String> {
    let parameter = |key: &str| {
        reference(&settings[key])
            .map(str::to_owned)
            .ok_or_else(|| format!("{key} is not a !Ref to a parameter"))
    };
    Ok((
        parameter("ThrottlingRateLimit")?,
        parameter("ThrottlingBurstLimit")?,
    ))
}

/// A parameter's default, if it is a number parameter with a minimum of at least 1.
fn limit_default(template: &Value, parameter: &str) -> Result<f64, String> {
    let declared = &template["Parameters"][parameter];
    if declared["Type"].as_str() != Some("Number") {
        return Err(format!("{parameter} is not a Number parameter"));
    }
    if declared["MinValue"].as_f64().is_none_or(|min| min < 1.0) {
        return Err(format!("{parameter} may be below 1"));
    }
    declared["Default"]
        .as_f64()
        .ok_or_else(|| format!("{parameter} has no default"))
}

/// What is wrong with the API's limits: a route without its own throttle, a setting for
/// a route the API does not have (the stage would not deploy), limits that are not
/// parameters with defaults, webhook limits shared with a merchant route.
fn throttle_problems(template: &Value, webhook_function: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let api = resources_of(template, "AWS::Serverless::HttpApi").collect::<Vec<_>>();
    let [(api_name, api)] = api.as_slice() else {
        return vec![format!("expected one HttpApi, found {}", api.len())];
    };
    let properties = &api["Properties"];
    let settings = properties["RouteSettings"]
        .as_mapping()
        .cloned()
        .unwrap_or_default();
    let routes = routes(template);
    // route key -> (rate, burst) parameters
    let mut limits: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (key, value) in &settings {
        let key = key.as_str().unwrap_or_default().to_owned();
        if !routes.iter().any(|(route, _)| *route == key) {
            problems.push(format!(
                "RouteSettings names {key:?}, which is no route of {api_name}"
            ));
        }
        match throttle_parameters(value) {
            Ok(parameters) => {
                limits.insert(key, parameters);
            }
            Err(problem) => problems.push(format!("{key}: {problem}")),
        }
    }
    let default = throttle_parameters(&properties["DefaultRouteSettings"]);
    if let Err(problem) = &default {
        problems.push(format!("DefaultRouteSettings: {problem}"));
    }
    for (parameters, key) in limits
        .iter()
        .map(|(key, parameters)| (parameters, key.as_str()))
        .chain(default.as_ref().ok().map(|p| (p, "the default")))
    {
        let (rate, burst) = parameters;
        match (
            limit_default(template, rate),
            limit_default(template, burst),
        ) {
            (Ok(rate), Ok(burst)) if burst < rate => {
                problems.push(format!("{key}: its burst default is below its rate"));
            }
            (Ok(_), Ok(_)) => {}
            (rate, burst) => problems.extend(rate.err().into_iter().chain(burst.err())),
        }
    }
    let mut webhook_routes = 0;
    for (route, function) in &routes {
        let Some(own) = limits.get(route) else {
            problems.push(format!("{route} has no throttle of its own"));
            continue;
        };
        if function != webhook_function {
            continue;
        }
        webhook_routes += 1;
        let shared = limits
            .iter()
            .filter(|(other, _)| *other != route)
            .map(|(other, parameters)| (other.as_str(), parameters))
            .chain(default.as_ref().ok().map(|p| ("the default", p)))
            .filter(|(_, (rate, burst))| [rate, burst].iter().any(|p| **p == own.0 || **p == own.1))
            .map(|(other, _)| other.to_owned())
            .collect::<Vec<_>>();
        if !shared.is_empty() {
            problems.push(format!("{route} shares its limits with {shared:?}"));
        }
    }
    if webhook_routes == 0 {
        problems.push(format!("{webhook_function} has no route"));
    }
    problems
}

#[test]
fn every_route_has_its_own_throttle_and_the_webhooks_limits_are_their_own() {
    let template = parse(TEMPLATE);
    let routes = routes(&template);
    assert!(routes.len() >= 13, "routes: {routes:?}");
    assert!(routes.contains(&(
        "POST /webhooks/{gateway}".into(),
        "WebhookCallbackFunction".into()
    )));
    assert_eq!(
        throttle_problems(&template, "WebhookCallbackFunction"),
        Vec::<String>::new()
    );

    // The same check on broken templates finds what is wrong.
    let without_refunds = broken(
        "        \"POST /v1/deposits/{id}/refunds\":\n          ThrottlingRateLimit: !Ref RefundsRateLimit\n          ThrottlingBurstLimit: !Ref RefundsBurstLimit\n",
        "",
    );
    assert_eq!(
        throttle_problems(&without_refunds, "WebhookCallbackFunction"),
        ["POST /v1/deposits/{id}/refunds has no throttle of its own"]
    );
    let webhooks_as_reads = broken(
        "          ThrottlingRateLimit: !Ref WebhooksRateLimit",
        "          ThrottlingRateLimit: !Ref ReadsRateLimit",
    );
    let problems = throttle_problems(&webhooks_as_reads, "WebhookCallbackFunction");
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("POST /webhooks/{gateway} shares its limits")),
        "{problems:?}"
    );
    let stale = broken(
        "\"GET /v1/balance/transactions\":",
        "\"GET /v1/balance/entries\":",
    );
    let problems = throttle_problems(&stale, "WebhookCallbackFunction");
    assert!(
        problems.contains(
            &"RouteSettings names \"GET /v1/balance/entries\", which is no route of HttpApi".into()
        ),
        "{problems:?}"
    );
    assert!(
        problems.contains(&"GET /v1/balance/transactions has no throttle of its own".into()),
        "{problems:?}"
    );
    let literal = broken(
        "          ThrottlingBurstLimit: !Ref DepositsBurstLimit",
        "          ThrottlingBurstLimit: 100",
    );
    assert_eq!(
        throttle_problems(&literal, "WebhookCallbackFunction"),
        [
            "POST /v1/deposits: ThrottlingBurstLimit is not a !Ref to a parameter",
            "POST /v1/deposits has no throttle of its own",
        ]
    );
}

// ---- (b), (c) IAM: what the functions may do.

/// One, or a list of, strings or values.
fn one_or_many(value: &Value) -> Vec<&Value> {
    match value {
        Value::Sequence(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        one => vec![one],
    }
}

/// One IAM statement of the template, and the condition it is under (`!If [name, ...]`).
struct Statement<'a> {
    /// Where it is: the resource's logical id.
    owner: &'a str,
    condition: Option<&'a str>,
    body: &'a Value,
}

impl Statement<'_> {
    fn actions(&self) -> Vec<&str> {
        one_or_many(&self.body["Action"])
            .into_iter()
            .map(|action| action.as_str().expect("an action is a string"))
            .collect()
    }

    fn resources(&self) -> Vec<&Value> {
        one_or_many(&self.body["Resource"])
    }
}

/// Every statement in `value`: under any `Statement` key, in any policy of any resource,
/// through `!If` (its branches carry the condition; `AWS::NoValue` is no statement).
fn collect_statements<'a>(
    owner: &'a str,
    value: &'a Value,
    condition: Option<&'a str>,
    in_statements: bool,
    out: &mut Vec<Statement<'a>>,
) {
    if let Some(branches) = tagged(value, "If") {
        let [name, then, otherwise] = branches.as_sequence().expect("!If [c, a, b]").as_slice()
        else {
            panic!("{owner}: !If without three parts");
        };
        let name = name.as_str().expect("a condition name");
        for branch in [then, otherwise] {
            if reference(branch) != Some("AWS::NoValue") {
                collect_statements(owner, branch, Some(name), in_statements, out);
            }
        }
        return;
    }
    match value {
        Value::Mapping(_) if in_statements => out.push(Statement {
            owner,
            condition,
            body: value,
        }),
        Value::Mapping(mapping) => {
            for (key, inner) in mapping {
                let statements = key.as_str() == Some("Statement");
                collect_statements(owner, inner, condition, statements, out);
            }
        }
        Value::Sequence(items) => {
            for item in items {
                collect_statements(owner, item, condition, in_statements, out);
            }
        }
        Value::Tagged(other) if in_statements => {
            panic!("{owner}: a statement written as {other:?}")
        }
        _ => {}
    }
}

fn statements(template: &Value) -> Vec<Statement<'_>> {
    let mut out = Vec::new();
    for (name, resource) in resources(template) {
        // SAM policy templates and managed policies would grant what no statement here
        // shows: the functions carry inline statements only.
        if resource["Type"].as_str() == Some("AWS::Serverless::Function") {
            for policy in one_or_many(&resource["Properties"]["Policies"]) {
                let keys: Vec<_> = policy
                    .as_mapping()
                    .map(|m| m.keys().collect())
                    .unwrap_or_default();
                assert!(
                    keys.len() == 1 && keys[0].as_str() == Some("Statement"),
                    "{name}: a policy that is not an inline statement list: {policy:?}"
                );
            }
        }
        collect_statements(name, resource, None, false, &mut out);
    }
    out
}

/// A statement's resource as a table: its logical id, and the index for
/// `${Table.Arn}/index/<name>`.
fn table_of(resource: &Value) -> Option<(&str, Option<&str>)> {
    if let Some(attribute) = tagged(resource, "GetAtt").and_then(Value::as_str) {
        return attribute.strip_suffix(".Arn").map(|table| (table, None));
    }
    let sub = tagged(resource, "Sub").and_then(Value::as_str)?;
    let (table, index) = sub.strip_prefix("${")?.split_once(".Arn}/index/")?;
    Some((table, Some(index)))
}

/// The DynamoDB actions a function may be granted, per table (and per index: `Query`
/// only), derived from the adapters' calls in `shared/aws/src`. A `TransactWriteItems`
/// needs each item's own action: Put -> PutItem, Update -> UpdateItem,
/// Delete -> DeleteItem, ConditionCheck -> ConditionCheckItem (none is used).
fn dynamodb_allowed() -> BTreeMap<&'static str, &'static [&'static str]> {
    BTreeMap::from([
        // event_store/dynamo.rs: `load` queries a stream; an append puts each event
        // (a Put in its transaction).
        ("EventsTable", &["dynamodb:Query", "dynamodb:PutItem"][..]),
        // event_store/dynamo.rs: `view` (get_consistent) and the append's Update of the
        // read model (never a Put: it keeps published_version); event_store/sweep.rs:
        // `publish_state` (GetItem), `defer` and `mark_published` (UpdateItem).
        (
            "DepositsTable",
            &["dynamodb:GetItem", "dynamodb:UpdateItem"],
        ),
        // event_store/dynamo.rs: `idempotency_record`, the claim's Put in the append's
        // transaction, `transition_idempotency`.
        (
            "IdempotencyTable",
            &[
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
            ],
        ),
        // merchants/dynamo.rs: `merchant_for` (register and revoke are paygate-ops', not
        // a function's).
        ("MerchantsTable", &["dynamodb:GetItem"]),
        // event_store/dynamo.rs: `find_by_external_id`, `lookup_put` in the transaction.
        ("LookupsTable", &["dynamodb:GetItem", "dynamodb:PutItem"]),
        // event_store/ledger.rs: `read_head` and `read_deferred` (Query), the head, entry
        // and deferred Puts and the folded Deletes in `ledger_writes`/`deferred_writes`;
        // event_store/lists.rs: `entries` (Query).
        (
            "LedgerTable",
            &["dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem"],
        ),
        // registry/dynamo.rs: `list` (Scan), `read` (get_consistent), the conditional
        // status and config updates.
        (
            "GatewaysTable",
            &["dynamodb:Scan", "dynamodb:GetItem", "dynamodb:UpdateItem"],
        ),
    ])
}

/// What a table's indexes may be asked: event_store/sweep.rs (`by_sweep_due`,
/// `by_outbox`) and event_store/lists.rs (`by_merchant`, `by_merchant_payouts`) query.
const DYNAMODB_INDEX_ALLOWED: &[&str] = &["dynamodb:Query"];

/// The DynamoDB grants outside the allow-list, and grants on what is no table or index
/// of the template.
fn dynamodb_problems(template: &Value) -> Vec<String> {
    let allowed = dynamodb_allowed();
    let mut problems = Vec::new();
    for (table, _) in resources_of(template, "AWS::DynamoDB::Table") {
        if !allowed.contains_key(table) {
            problems.push(format!(
                "{table} has no allow-list: derive one from its adapter"
            ));
        }
    }
    for statement in statements(template) {
        let actions: Vec<&str> = statement
            .actions()
            .into_iter()
            .filter(|a| a.to_ascii_lowercase().starts_with("dynamodb:"))
            .collect();
        if actions.is_empty() {
            continue;
        }
        for resource in statement.resources() {
            let Some((table, index)) = table_of(resource) else {
                problems.push(format!(
                    "{}: DynamoDB actions on {resource:?}",
                    statement.owner
                ));
                continue;
            };
            let indexes = template["Resources"][table]["Properties"]["GlobalSecondaryIndexes"]
                .as_sequence()
                .cloned()
                .unwrap_or_default();
            let permitted = match index {
                None => allowed.get(table).copied().unwrap_or_default(),
                Some(name)
                    if indexes
                        .iter()
                        .any(|i| i["IndexName"].as_str() == Some(name)) =>
                {
                    DYNAMODB_INDEX_ALLOWED
                }
                Some(name) => {
                    problems.push(format!("{}: no index {table}/{name}", statement.owner));
                    continue;
                }
            };
            for action in &actions {
                if !permitted.contains(action) {
                    let on = index.map_or(table.to_owned(), |i| format!("{table}/index/{i}"));
                    let under = statement
                        .condition
                        .map(|c| format!(" (if {c})"))
                        .unwrap_or_default();
                    problems.push(format!("{}: {action} on {on}{under}", statement.owner));
                }
            }
        }
    }
    problems
}

#[test]
fn no_function_may_put_deposits_and_every_dynamodb_grant_is_one_the_code_uses() {
    let template = parse(TEMPLATE);
    let all = statements(&template);
    assert!(
        all.iter()
            .filter(|s| s.actions().iter().any(|a| a.starts_with("dynamodb:")))
            .count()
            >= 10,
        "the walk found too few DynamoDB statements"
    );
    for statement in &all {
        for resource in statement.resources() {
            assert!(
                !(table_of(resource) == Some(("DepositsTable", None))
                    && statement.actions().contains(&"dynamodb:PutItem")),
                "{} may PutItem on the deposits table",
                statement.owner
            );
        }
    }
    assert_eq!(dynamodb_problems(&template), Vec::<String>::new());

    // The same check on broken templates finds what is wrong.
    let put_deposits = broken(
        "              Action: [dynamodb:GetItem, dynamodb:UpdateItem]\n              Resource: !GetAtt DepositsTable.Arn\n            # A submission",
        "              Action: [dynamodb:GetItem, dynamodb:UpdateItem, dynamodb:PutItem]\n              Resource: !GetAtt DepositsTable.Arn\n            # A submission",
    );
    assert_eq!(
        dynamodb_problems(&put_deposits),
        ["GatewayProcessorFunction: dynamodb:PutItem on DepositsTable"]
    );
    let any_index = broken(
        "                - !Sub \"${DepositsTable.Arn}/index/by_merchant_payouts\"",
        "                - !Sub \"${DepositsTable.Arn}/index/*\"",
    );
    assert_eq!(
        dynamodb_problems(&any_index),
        ["DepositIntakeFunction: no index DepositsTable/*"]
    );
    let scan_merchants = broken(
        "              Action: [dynamodb:GetItem]\n              Resource: !GetAtt MerchantsTable.Arn",
        "              Action: [dynamodb:GetItem, dynamodb:Scan]\n              Resource: !GetAtt MerchantsTable.Arn",
    );
    assert_eq!(
        dynamodb_problems(&scan_merchants),
        ["DepositIntakeFunction: dynamodb:Scan on MerchantsTable"]
    );
    let conditional = broken(
        "            - Effect: Allow\n              Action: [dynamodb:Scan]\n              Resource: !GetAtt GatewaysTable.Arn",
        "            - !If\n              - HasAlarmEmail\n              - Effect: Allow\n                Action: [dynamodb:Scan, dynamodb:DeleteItem]\n                Resource: !GetAtt GatewaysTable.Arn\n              - !Ref AWS::NoValue",
    );
    assert_eq!(
        dynamodb_problems(&conditional),
        ["DepositIntakeFunction: dynamodb:DeleteItem on GatewaysTable (if HasAlarmEmail)"]
    );
}

/// What is wrong with the KMS grants: one not under `HasFieldKeysKmsKey`, on another
/// key than `FieldKeysKmsKeyArn`, other than `kms:Decrypt` through Secrets Manager, or a
/// function reading the field keys without one (or one that does not read them with one).
fn kms_problems(template: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let parameter = &template["Parameters"]["FieldKeysKmsKeyArn"];
    if parameter["Default"].as_str() != Some("") {
        problems.push("FieldKeysKmsKeyArn does not default to empty".to_owned());
    }
    let condition = &template["Conditions"]["HasFieldKeysKmsKey"];
    let expected = parse("!Not [!Equals [!Ref FieldKeysKmsKeyArn, \"\"]]");
    if *condition != expected {
        problems.push(format!("HasFieldKeysKmsKey is {condition:?}"));
    }
    let all = statements(template);
    let mut readers = BTreeSet::new();
    let mut granted = BTreeMap::<&str, usize>::new();
    for statement in &all {
        let actions = statement.actions();
        if actions.contains(&"secretsmanager:GetSecretValue")
            && statement
                .resources()
                .iter()
                .any(|r| reference(r) == Some("FieldKeysSecretArn"))
        {
            readers.insert(statement.owner);
        }
        if !actions
            .iter()
            .any(|a| a.to_ascii_lowercase().starts_with("kms:"))
        {
            continue;
        }
        *granted.entry(statement.owner).or_default() += 1;
        let owner = statement.owner;
        if statement.condition != Some("HasFieldKeysKmsKey") {
            problems.push(format!("{owner}: KMS under {:?}", statement.condition));
        }
        if actions != ["kms:Decrypt"] {
            problems.push(format!("{owner}: KMS actions {actions:?}"));
        }
        let resources = statement.resources();
        if resources.len() != 1 || reference(resources[0]) != Some("FieldKeysKmsKeyArn") {
            problems.push(format!("{owner}: KMS on {resources:?}"));
        }
        let via = &statement.body["Condition"]["StringEquals"]["kms:ViaService"];
        let secrets_manager = tagged(via, "Sub")
            .and_then(Value::as_str)
            .is_some_and(|s| s.starts_with("secretsmanager."));
        if !secrets_manager {
            problems.push(format!("{owner}: KMS not limited to Secrets Manager"));
        }
    }
    for reader in &readers {
        if granted.get(reader) != Some(&1) {
            problems.push(format!(
                "{reader} reads the field keys without one KMS grant"
            ));
        }
    }
    for owner in granted.keys() {
        if !readers.contains(owner) {
            problems.push(format!("{owner} has KMS but does not read the field keys"));
        }
    }
    problems
}

#[test]
fn kms_decrypt_is_granted_only_under_the_key_parameters_condition() {
    let template = parse(TEMPLATE);
    assert_eq!(kms_problems(&template), Vec::<String>::new());
    let readers: BTreeSet<&str> = statements(&template)
        .into_iter()
        .filter(|s| s.condition == Some("HasFieldKeysKmsKey"))
        .map(|s| s.owner)
        .collect();
    assert_eq!(
        readers,
        BTreeSet::from(["DepositIntakeFunction", "GatewayProcessorFunction"])
    );
    // The raw text agrees: no KMS action (`kms:<Action>`) the walk above missed, outside
    // comments and the `kms:ViaService` condition key.
    let kms_lines = TEMPLATE
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.match_indices("kms:").any(|(at, _)| {
                let action = &line[at + 4..];
                action.starts_with(|c: char| c.is_ascii_uppercase())
                    && !action.starts_with("ViaService")
            })
        })
        .count();
    assert_eq!(kms_lines, readers.len());

    // The same check on broken templates finds what is wrong.
    let unconditional = broken(
        "      Policies:\n        - Statement:\n            - Effect: Allow\n              Action: [events:PutEvents]",
        "      Policies:\n        - Statement:\n            - Effect: Allow\n              Action: [kms:Decrypt]\n              Resource: !Ref FieldKeysKmsKeyArn\n            - Effect: Allow\n              Action: [events:PutEvents]",
    );
    assert_eq!(
        kms_problems(&unconditional),
        [
            "HealthProbeFunction: KMS under None",
            "HealthProbeFunction: KMS not limited to Secrets Manager",
            "HealthProbeFunction has KMS but does not read the field keys"
        ]
    );
    let other_condition =
        parse(&TEMPLATE.replacen("- HasFieldKeysKmsKey\n", "- HasAlarmEmail\n", 1));
    assert_eq!(
        kms_problems(&other_condition),
        ["DepositIntakeFunction: KMS under Some(\"HasAlarmEmail\")"]
    );
}

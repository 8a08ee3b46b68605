use super::*;
use crate::gateways::checks::MAX_NAME_LEN;
use crate::gateways::fixtures::{acme, entry, problems, with};
use crate::gateways::raw::FILE_SHAPE;
use serde_json::json;

#[test]
fn an_array_or_a_single_object_becomes_configs() {
    assert_eq!(
        parse_put_file(&json!([entry()]).to_string()),
        Ok(vec![acme()])
    );
    assert_eq!(parse_put_file(&entry().to_string()), Ok(vec![acme()]));
    let soap = with(
        json!({"name": "globex_soap", "format": "soap", "enabled": false,
                           "base_url": "http://127.0.0.1:8080", "priority": 0}),
    );
    let configs = parse_put_file(&json!([entry(), soap]).to_string()).unwrap();
    assert_eq!(configs.len(), 2);
    assert_eq!(configs[1].format, WireFormat::Soap);
    assert_eq!(configs[1].base_url, "http://127.0.0.1:8080");
    assert_eq!((configs[1].priority, configs[1].enabled), (0, false));
}

#[test]
fn the_devstack_seed_shape_is_accepted_once_it_has_base_urls() {
    let seed: Value =
        serde_json::from_str(include_str!("../../../../devstack/gateways.json")).unwrap();
    // As it is, every entry lacks its base URL (the devstack simulates them)...
    let refused = problems(&seed);
    assert_eq!(refused.len(), seed.as_array().unwrap().len(), "{refused:?}");
    assert!(
        refused.iter().all(|p| p.ends_with("base_url: is required")),
        "{refused:?}"
    );
    // ...and with one it is a valid put file.
    let mut seed = seed;
    for entry in seed.as_array_mut().unwrap() {
        entry["base_url"] = json!("https://psp.example");
    }
    assert_eq!(parse_put_file(&seed.to_string()).unwrap().len(), 3);
}

#[test]
fn every_problem_names_its_entry_and_field() {
    let file = json!([
        entry(),
        with(json!({"name": "b", "countries": ["AE", "ZZ"], "currencies": [], "priority": -1})),
        with(json!({"name": "c", "format": "SOAP", "enabled": "yes", "bse_url": "x"})),
        with(json!({"name": null, "priority": 1.5})),
        "acme",
    ]);
    assert_eq!(
        problems(&file),
        [
            "entry 2 (\"b\"), countries[1]: \"ZZ\": country must be an ISO 3166-1 alpha-2 code such as AE, US or JP",
            "entry 2 (\"b\"), currencies: must list at least one currency",
            "entry 2 (\"b\"), priority: must be a whole number from 0 to 4294967295 (lower is preferred)",
            "entry 3 (\"c\"), bse_url: unknown field (the fields are name, format, base_url, countries, currencies, priority, enabled, capabilities)",
            "entry 3 (\"c\"), format: \"SOAP\" is not a known format (known: json, soap)",
            "entry 3 (\"c\"), enabled: must be true or false",
            "entry 4, name: is required",
            "entry 4, priority: must be a whole number from 0 to 4294967295 (lower is preferred)",
            "entry 5: is a string, not a gateway object",
        ]
    );
}

#[test]
fn missing_repeated_and_mistyped_fields_are_refused() {
    let missing = problems(&json!({"name": "x"}));
    // Every field but the name, which this entry has, and the optional capabilities.
    let required = FIELDS
        .iter()
        .filter(|f| !["name", "capabilities"].contains(*f));
    for field in required {
        assert!(
            missing.contains(&format!("entry 1 (\"x\"), {field}: is required")),
            "{field}: {missing:?}"
        );
    }
    // serde_json keeps the last of two equal keys; the file is refused instead.
    let repeated = r#"{"name":"x","format":"json","base_url":"https://p.example",
        "countries":["AE"],"currencies":["AED"],"priority":1,"enabled":false,"enabled":true}"#;
    match parse_put_file(repeated) {
        Err(PutFileError::Invalid(p)) => assert_eq!(
            p.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["entry 1 (\"x\"), enabled: given more than once"]
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        problems(&with(
            json!({"name": 7, "countries": "AE", "currencies": ["AED", 1],
                              "format": 1, "base_url": false})
        )),
        [
            "entry 1, name: must be a string",
            "entry 1, format: must be a string, one of json, soap",
            "entry 1, base_url: must be a string",
            "entry 1, countries: must be an array of country codes",
            "entry 1, currencies[1]: must be a currency code (a string)",
        ]
    );
}

#[test]
fn capabilities_default_to_payments_and_refunds_and_are_checked() {
    let configs = parse_put_file(&json!([entry()]).to_string()).unwrap();
    assert_eq!(
        configs[0].capabilities,
        [Capability::Payments, Capability::Refunds]
    );
    let paying_out = with(json!({"capabilities": ["payments", "refunds", "payouts"]}));
    let configs = parse_put_file(&json!([paying_out]).to_string()).unwrap();
    assert!(configs[0].can(Capability::Payouts));
    for (bad, problem) in [
        (
            json!(["payouts", "payouts"]),
            "capabilities[1]: payouts is listed twice",
        ),
        (
            json!(["wire"]),
            "capabilities[0]: \"wire\": unknown capability `wire` (known: payments, refunds, payouts)",
        ),
        (json!([]), "capabilities: must list at least one capability"),
    ] {
        let refused = problems(&with(json!({ "capabilities": bad })));
        assert!(
            refused.iter().any(|p| p.ends_with(problem)),
            "{problem}: {refused:?}"
        );
    }
}

#[test]
fn codes_go_through_the_domain_types_and_appear_once() {
    for (field, bad) in [
        ("countries", json!(["ae"])),
        ("countries", json!(["ARE"])),
        ("countries", json!(["AE", "AE"])),
        ("currencies", json!(["usd"])),
        ("currencies", json!(["XAU"])),
        ("currencies", json!(["AED", "AED"])),
    ] {
        let refused = problems(&with(json!({ field: bad })));
        assert_eq!(refused.len(), 1, "{bad}: {refused:?}");
        assert!(refused[0].starts_with(&format!("entry 1 (\"acme_json\"), {field}")));
    }
    assert!(
        problems(&with(json!({"countries": ["AE", "AE"]})))[0]
            .ends_with("countries[1]: AE is listed twice")
    );
}

#[test]
fn names_must_be_unique_and_fit_the_webhook_route() {
    assert_eq!(
        problems(&json!([entry(), with(json!({"priority": 5})), entry()])),
        [
            "entry 2 (\"acme_json\"), name: entry 1 has the same name: names must be unique",
            "entry 3 (\"acme_json\"), name: entry 1 has the same name: names must be unique",
        ]
    );
    for good in [
        "a",
        "acme_json",
        "Globex-SOAP.v2",
        "x~1",
        &"n".repeat(MAX_NAME_LEN),
    ] {
        assert_eq!(check_name(good), Ok(()), "{good}");
    }
    for bad in [
        "",
        ".",
        "..",
        "a/b",
        "a b",
        "a%20b",
        "acme?x",
        "a#b",
        "é",
        "a:b",
        "a+b",
        &"n".repeat(MAX_NAME_LEN + 1),
    ] {
        assert!(check_name(bad).is_err(), "{bad:?}");
        assert_eq!(problems(&with(json!({ "name": bad }))).len(), 1, "{bad:?}");
    }
    assert_eq!(
        problems(&with(json!({"name": "a/b"}))),
        [
            "entry 1, name: \"a/b\": '/' is not allowed: use letters, digits, '-', '_', '.' \
          or '~' (the name is the unencoded last segment of /webhooks/{gateway})"
        ]
    );
}

#[test]
fn base_urls_are_absolute_https_or_loopback_http_without_query() {
    for good in [
        "https://psp.example",
        "https://psp.example/api/",
        "https://psp.example:8443/v1",
        "https://user:secret@psp.example/v1",
        "http://127.0.0.1:9001",
        "http://127.8.0.1/x",
        "http://localhost:3000",
        "http://[::1]:8080/sim",
    ] {
        assert!(check_base_url(good).is_ok(), "{good}");
    }
    for bad in [
        "psp.example",
        "//psp.example",
        "https:psp.example",
        "https:\\\\psp.example",
        "HTTPS://psp.example",
        "ftp://psp.example",
        "http://psp.example",
        "http://10.0.0.1",
        "http://localhost.psp.example",
        "https://",
        "https://psp.example/?key=1",
        "https://psp.example/#x",
        "https://psp.example:99999",
        " https://psp.example",
        "https://psp.example/a b",
        "https://psp.example/\n",
    ] {
        assert!(check_base_url(bad).is_err(), "{bad:?}");
    }
    // The message never quotes the URL, which may carry credentials.
    let refused = problems(&with(
        json!({"base_url": "http://user:s3cr3t@psp.example/k"}),
    ));
    assert_eq!(
        refused,
        [
            "entry 1 (\"acme_json\"), base_url: must use https:// (http:// is only for a \
          loopback host: localhost, 127.0.0.0/8, [::1])"
        ]
    );
    let refused = problems(&with(
        json!({"base_url": "https://psp.example/?token=s3cr3t"}),
    ));
    assert!(!refused[0].contains("s3cr3t"), "{refused:?}");
}

#[test]
fn files_that_are_not_gateway_lists_are_refused_without_quoting_them() {
    assert_eq!(parse_put_file("[]"), Err(PutFileError::Empty));
    for bad in ["", "[", "{\"name\": \"a\",}", "[{}] x"] {
        assert!(
            matches!(parse_put_file(bad), Err(PutFileError::Json(_))),
            "{bad:?}"
        );
    }
    let Err(PutFileError::Json(message)) = parse_put_file("\"https://psp.example/?k=s3cr3t\"")
    else {
        panic!("a bare string is no gateway file");
    };
    assert!(message.starts_with(FILE_SHAPE), "{message}");
    assert!(message.contains("line 1"), "{message}");
    assert!(!message.contains("s3cr3t"), "{message}");
    assert_eq!(
        problems(&json!([["https://psp.example/?k=s3cr3t"], null, 3])),
        [
            "entry 1: is an array, not a gateway object",
            "entry 2: is null, not a gateway object",
            "entry 3: is a number, not a gateway object",
        ]
    );
}

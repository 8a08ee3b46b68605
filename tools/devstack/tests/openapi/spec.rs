//! Reading `shared/api/openapi.json`: its operations, their responses (through
//! `components/responses` references), examples, and JSON Schema validation of any value
//! against any schema in the document, with `$ref`s resolved by `jsonschema` offline.

use jsonschema::{Draft, Registry, Validator};
use paygate_api::spec::documented_errors;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// The base URI the document is registered under; its `#/...` references resolve inside it.
const BASE: &str = "https://paygate.invalid/openapi.json";

/// The HTTP methods an OpenAPI path item may hold.
pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

pub struct Spec {
    pub doc: Value,
    registry: Registry<'static>,
    validators: Mutex<BTreeMap<String, Arc<Validator>>>,
}

/// One documented response of one operation.
#[derive(Debug, Clone)]
pub struct ResponseSpec {
    /// JSON pointer of the Response Object (after following a `$ref`).
    pub pointer: String,
    /// Header name (lower case) → (required, JSON pointer of its schema).
    pub headers: BTreeMap<String, (bool, String)>,
    /// Media type → (JSON pointer of its schema, its examples by name).
    pub content: BTreeMap<String, (String, BTreeMap<String, Value>)>,
}

impl ResponseSpec {
    /// The JSON schema pointer and examples of the `application/json` content.
    pub fn json(&self) -> (&str, &BTreeMap<String, Value>) {
        let (schema, examples) = self
            .content
            .get("application/json")
            .unwrap_or_else(|| panic!("{} has no application/json content", self.pointer));
        (schema, examples)
    }
}

impl Spec {
    pub fn load() -> Self {
        let doc: Value =
            serde_json::from_str(paygate_api::OPENAPI_JSON).expect("openapi.json is JSON");
        let registry = Registry::new()
            .draft(Draft::Draft202012)
            .add(BASE, doc.clone())
            .expect("the base URI is valid")
            .prepare()
            .expect("the document registers as a JSON Schema resource");
        Self {
            doc,
            registry,
            validators: Mutex::new(BTreeMap::new()),
        }
    }

    /// The value at a JSON pointer, or at a local `$ref` (`#/...`).
    pub fn at(&self, pointer: &str) -> &Value {
        let pointer = pointer.trim_start_matches('#');
        self.doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("nothing at {pointer} in openapi.json"))
    }

    /// Follows one OpenAPI Reference Object, if `pointer` holds one; returns the pointer of
    /// the object itself.
    pub fn deref(&self, pointer: &str) -> String {
        match self.at(pointer).get("$ref").and_then(Value::as_str) {
            Some(target) => {
                assert!(
                    target.starts_with("#/"),
                    "only local references are used: {target}"
                );
                self.deref(target.trim_start_matches('#'))
            }
            None => pointer.to_owned(),
        }
    }

    /// Every documented (path template, method) with its statuses.
    pub fn operations(&self) -> Vec<(String, String, Vec<String>)> {
        let mut operations = Vec::new();
        for (path, item) in self.doc["paths"].as_object().expect("paths") {
            for method in METHODS {
                if let Some(operation) = item.get(method) {
                    let statuses = operation["responses"]
                        .as_object()
                        .expect("responses")
                        .keys()
                        .cloned()
                        .collect();
                    operations.push((path.clone(), method.to_owned(), statuses));
                }
            }
        }
        operations
    }

    /// The methods (lower case) documented for a path template.
    pub fn methods_of(&self, template: &str) -> BTreeSet<String> {
        self.operations()
            .into_iter()
            .filter(|(path, _, _)| path == template)
            .map(|(_, method, _)| method)
            .collect()
    }

    /// The path template a concrete path falls under, if any.
    pub fn template_for(&self, path: &str) -> Option<String> {
        let segments: Vec<&str> = path.split('/').collect();
        self.doc["paths"]
            .as_object()
            .expect("paths")
            .keys()
            .find(|template| {
                let pattern: Vec<&str> = template.split('/').collect();
                pattern.len() == segments.len()
                    && pattern.iter().zip(&segments).all(|(p, s)| {
                        p == s || (p.starts_with('{') && p.ends_with('}') && !s.is_empty())
                    })
            })
            .cloned()
    }

    pub fn response(&self, template: &str, method: &str, status: u16) -> Option<ResponseSpec> {
        let pointer = format!("/paths/{}/{method}/responses/{status}", escape(template));
        self.doc.pointer(&pointer)?;
        Some(self.response_at(&pointer))
    }

    /// A response in `components/responses` by name.
    pub fn component_response(&self, name: &str) -> ResponseSpec {
        self.response_at(&format!("/components/responses/{name}"))
    }

    fn response_at(&self, pointer: &str) -> ResponseSpec {
        let pointer = self.deref(pointer);
        let response = self.at(&pointer);
        let mut headers = BTreeMap::new();
        if let Some(declared) = response.get("headers").and_then(Value::as_object) {
            for name in declared.keys() {
                let header = self.deref(&format!("{pointer}/headers/{}", escape(name)));
                let required = self.at(&header)["required"].as_bool().unwrap_or(false);
                headers.insert(
                    name.to_ascii_lowercase(),
                    (required, format!("{header}/schema")),
                );
            }
        }
        let mut content = BTreeMap::new();
        if let Some(media) = response.get("content").and_then(Value::as_object) {
            for (media_type, body) in media {
                let base = format!("{pointer}/content/{}", escape(media_type));
                content.insert(
                    media_type.clone(),
                    (format!("{base}/schema"), examples(body)),
                );
            }
        }
        ResponseSpec {
            pointer,
            headers,
            content,
        }
    }

    /// The schema pointer and examples of an operation's request body, by media type.
    pub fn request_body(
        &self,
        template: &str,
        method: &str,
    ) -> BTreeMap<String, (String, BTreeMap<String, Value>)> {
        let pointer = self.deref(&format!("/paths/{}/{method}/requestBody", escape(template)));
        let mut content = BTreeMap::new();
        for (media_type, body) in self.at(&pointer)["content"]
            .as_object()
            .expect("request content")
        {
            let base = format!("{pointer}/content/{}", escape(media_type));
            content.insert(
                media_type.clone(),
                (format!("{base}/schema"), examples(body)),
            );
        }
        content
    }

    /// Every event type the event schema `schema` (`Event`, `PayoutEvent`) documents.
    pub fn event_types(&self, schema: &str) -> BTreeSet<String> {
        self.at(&format!(
            "/components/schemas/{schema}/properties/type/enum"
        ))
        .as_array()
        .expect("event types")
        .iter()
        .map(|t| t.as_str().expect("a type").to_owned())
        .collect()
    }

    /// Validates `instance` against the schema at `pointer`; `Err` lists every violation.
    pub fn validate(&self, pointer: &str, instance: &Value) -> Result<(), Vec<String>> {
        let validator = self.validator(pointer);
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|error| format!("{} at {}", error, error.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    fn validator(&self, pointer: &str) -> Arc<Validator> {
        let mut cache = self.validators.lock().expect("the cache lock");
        cache
            .entry(pointer.to_owned())
            .or_insert_with(|| {
                let schema = serde_json::json!({ "$ref": format!("{BASE}#{pointer}") });
                let validator = jsonschema::options()
                    .with_draft(Draft::Draft202012)
                    .with_registry(&self.registry)
                    .should_validate_formats(true)
                    .offline()
                    .build(&schema)
                    .unwrap_or_else(|e| panic!("the schema at {pointer} compiles: {e}"));
                Arc::new(validator)
            })
            .clone()
    }

    /// Every `code` an error response's schema allows (see [`documented_errors`]).
    pub fn error_codes(&self, schema_pointer: &str) -> BTreeSet<String> {
        documented_errors(self.at(schema_pointer))
            .into_iter()
            .map(|(_, code)| code)
            .collect()
    }
}

fn examples(media: &Value) -> BTreeMap<String, Value> {
    let mut found = BTreeMap::new();
    if let Some(example) = media.get("example") {
        found.insert("example".to_owned(), example.clone());
    }
    for (name, example) in media
        .get("examples")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let value = example
            .get("value")
            .unwrap_or_else(|| panic!("example {name} has an inline value"));
        found.insert(name.clone(), value.clone());
    }
    found
}

/// JSON pointer escaping of one reference token.
pub fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

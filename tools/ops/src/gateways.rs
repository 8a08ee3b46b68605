//! `paygate-ops gateways …`: the gateway registry as operators see it.
//!
//! * `list`: one line per gateway, with what the system learnt about it (health, breaker)
//!   and its base URL's host only (a path or query could carry credentials).
//! * `put <file.json>`: add or update gateways from a file shaped like the devstack seed,
//!   with `base_url` required. The whole file is checked first and refused on any problem
//!   ([`parse_put_file`]); then each new or changed entry is upserted, which keeps what was
//!   learnt about a gateway already there.
//! * `enable` / `disable <name>`: flip `enabled`, keeping the rest of the configuration.
//!
//! The gateway processor lists the registry afresh for every message it handles (a
//! consistent scan, nothing cached), so every change here applies from the next message.

use crate::OpsError;
use paygate_aws::aws_sdk_dynamodb::Client as DynamoClient;
use paygate_aws::{DynamoGatewayRegistry, Resources};
use paygate_domain::gateways::{BreakerState, Gateway, GatewayConfig, GatewayStatus, Health};
use paygate_domain::ports::GatewayRegistry;
use paygate_domain::{Country, Currency};
use paygate_gateways::WireFormat;
use reqwest::Url;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::fmt;
use std::io::{self, Write};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A `gateways` command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayCommand {
    List,
    Put { file: PathBuf },
    Enable { name: String },
    Disable { name: String },
}

/// The longest gateway name `put` accepts.
pub const MAX_NAME_LEN: usize = 64;

/// The fields of a `put` entry: the devstack seed's, with `base_url` required.
pub const FIELDS: [&str; 7] = [
    "name",
    "format",
    "base_url",
    "countries",
    "currencies",
    "priority",
    "enabled",
];

/// Said after every change: how soon routing sees it.
pub const TAKES_EFFECT: &str = "the gateway processor reads the registry afresh (consistent read, no cache) \
for every message, so routing uses this from the next message it starts; a call already under way finishes";

/// The formats `put` names when refusing one. Checking itself goes through
/// `WireFormat`'s own deserialisation, so a format the connectors do not speak is never
/// accepted.
fn known_formats() -> [WireFormat; 2] {
    // Fails to compile when a format is added, so that this list is updated with it.
    match WireFormat::Json {
        WireFormat::Json | WireFormat::Soap => {}
    }
    [WireFormat::Json, WireFormat::Soap]
}

/// Checks a gateway name. Gateways report outcomes to `POST /webhooks/{name}`, whose
/// handler takes the raw (still percent-encoded) path segment as the name, so a name must
/// reach it unencoded and unchanged: only URL-unreserved characters (letters, digits, `-`,
/// `_`, `.`, `~`), never `/`, and not a dot segment (`.`, `..`), which clients remove.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!("must be at most {MAX_NAME_LEN} characters long"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~')))
    {
        return Err(format!(
            "{bad:?} is not allowed: use letters, digits, '-', '_', '.' or '~' (the name is \
             the unencoded last segment of /webhooks/{{gateway}})"
        ));
    }
    if name == "." || name == ".." {
        return Err("must not be a dot segment (\".\" or \"..\")".into());
    }
    Ok(())
}

/// Checks a base URL: absolute `https://`, or `http://` for a loopback host (emulators,
/// simulators); a host; no query or fragment (the connectors append paths to it and refuse
/// both). Messages never quote the URL, which may carry credentials.
pub fn check_base_url(raw: &str) -> Result<Url, String> {
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters".into());
    }
    // Exactly these prefixes: the URL standard would also read `https:host` or
    // `https:\\host` as absolute, which is not what anyone meant.
    let plain_http = raw.starts_with("http://");
    if !plain_http && !raw.starts_with("https://") {
        return Err("must be an absolute URL starting with https://".into());
    }
    let url = Url::parse(raw).map_err(|e| format!("is not a valid URL ({e})"))?;
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err("must name a host".into());
    };
    if plain_http && !is_loopback(host) {
        return Err(
            "must use https:// (http:// is only for a loopback host: localhost, 127.0.0.0/8, [::1])"
                .into(),
        );
    }
    if url.query().is_some() {
        return Err("must not carry a query (the connectors append paths to it)".into());
    }
    if url.fragment().is_some() {
        return Err("must not carry a fragment".into());
    }
    Ok(url)
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
        || host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .and_then(|h| h.parse::<Ipv6Addr>().ok())
            .is_some_and(|ip| ip.is_loopback())
}

/// A base URL's host and non-default port, nothing else: no credentials, path or query.
pub fn display_host(base_url: &str) -> String {
    match Url::parse(base_url.trim()) {
        Ok(url) => match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => "(no host)".into(),
        },
        Err(_) => "(not a URL)".into(),
    }
}

// ---------------------------------------------------------------- the put file

/// One thing wrong with a `put` file: which entry (1-based, with its name when it has a
/// usable one), which field, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub entry: usize,
    pub name: Option<String>,
    /// The field (`countries[1]`), or empty when the entry as a whole is wrong.
    pub field: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "entry {}", self.entry)?;
        if let Some(name) = &self.name {
            write!(f, " ({name:?})")?;
        }
        if !self.field.is_empty() {
            write!(f, ", {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Why a `put` file was refused. Nothing is written when it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutFileError {
    /// Not JSON, or not an array of objects / one object (serde's message, with the line
    /// and column; it never quotes a value from the file).
    Json(String),
    /// An empty array.
    Empty,
    Invalid(Vec<Problem>),
}

impl fmt::Display for PutFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json(message) => write!(f, "not a gateway file: {message}"),
            Self::Empty => f.write_str("the file lists no gateways"),
            Self::Invalid(problems) => {
                write!(f, "{} problem(s):", problems.len())?;
                for problem in problems {
                    write!(f, "\n  {problem}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for PutFileError {}

/// Reads a `put` file: a JSON array of gateway entries, or one entry, each with exactly the
/// [`FIELDS`], each once. Every problem in every entry is reported, not just the first.
pub fn parse_put_file(json: &str) -> Result<Vec<GatewayConfig>, PutFileError> {
    let RawFile(entries) =
        serde_json::from_str(json).map_err(|e| PutFileError::Json(e.to_string()))?;
    if entries.is_empty() {
        return Err(PutFileError::Empty);
    }
    let mut problems = Vec::new();
    let mut configs = Vec::new();
    let mut names: Vec<(&str, usize)> = Vec::new();
    for (index, raw) in entries.iter().enumerate() {
        let entry = index + 1;
        if let Some(Value::String(name)) = raw.get("name")
            && check_name(name).is_ok()
        {
            if let Some((_, first)) = names.iter().find(|(n, _)| n == name) {
                problems.push(Problem {
                    entry,
                    name: Some(name.clone()),
                    field: "name".into(),
                    message: format!("entry {first} has the same name: names must be unique"),
                });
            } else {
                names.push((name, entry));
            }
        }
        if let Some(config) = check_entry(entry, raw, &mut problems) {
            configs.push(config);
        }
    }
    if problems.is_empty() {
        Ok(configs)
    } else {
        Err(PutFileError::Invalid(problems))
    }
}

/// Checks one entry; `Some` when it has no problem.
fn check_entry(entry: usize, raw: &RawEntry, problems: &mut Vec<Problem>) -> Option<GatewayConfig> {
    let before = problems.len();
    let name = match raw.get("name") {
        Some(Value::String(name)) if check_name(name).is_ok() => Some(name.clone()),
        _ => None,
    };
    let mut problem = |field: &str, message: String| {
        problems.push(Problem {
            entry,
            name: name.clone(),
            field: field.into(),
            message,
        })
    };
    if let Some(kind) = raw.not_an_object {
        problem("", format!("is {kind}, not a gateway object"));
        return None;
    }
    for field in &raw.unknown {
        problem(
            field,
            format!("unknown field (the fields are {})", FIELDS.join(", ")),
        );
    }
    for field in &raw.repeated {
        problem(field, "given more than once".into());
    }
    let mut required = |field: &str| {
        let value = raw.get(field);
        if value.is_none() {
            problem(field, "is required".into());
        }
        value
    };
    let (name_value, format, base_url, countries, currencies, priority, enabled) = (
        required("name"),
        required("format"),
        required("base_url"),
        required("countries"),
        required("currencies"),
        required("priority"),
        required("enabled"),
    );

    let checked_name = name_value.and_then(|value| match value {
        Value::String(text) => match check_name(text) {
            Ok(()) => Some(text.clone()),
            Err(message) => {
                problem("name", format!("{text:?}: {message}"));
                None
            }
        },
        _ => {
            problem("name", "must be a string".into());
            None
        }
    });

    let format = format.and_then(|value| {
        let known = known_formats().map(|f| f.as_str()).join(", ");
        match value {
            Value::String(text) => match serde_json::from_value::<WireFormat>(value.clone()) {
                Ok(format) => Some(format),
                Err(_) => {
                    problem(
                        "format",
                        format!("{text:?} is not a known format (known: {known})"),
                    );
                    None
                }
            },
            _ => {
                problem("format", format!("must be a string, one of {known}"));
                None
            }
        }
    });

    let base_url = base_url.and_then(|value| match value {
        Value::String(text) => match check_base_url(text) {
            Ok(_) => Some(text.clone()),
            Err(message) => {
                problem("base_url", message);
                None
            }
        },
        _ => {
            problem("base_url", "must be a string".into());
            None
        }
    });

    let countries = countries.and_then(|value| {
        codes(value, "countries", "country", Country::parse, |c| c.code())
            .map_err(|(field, message)| problem(&field, message))
            .ok()
    });
    let currencies = currencies.and_then(|value| {
        codes(value, "currencies", "currency", Currency::parse, |c| {
            c.code()
        })
        .map_err(|(field, message)| problem(&field, message))
        .ok()
    });

    let priority = priority.and_then(|value| {
        let priority = value.as_u64().and_then(|p| u32::try_from(p).ok());
        if priority.is_none() {
            problem(
                "priority",
                format!(
                    "must be a whole number from 0 to {} (lower is preferred)",
                    u32::MAX
                ),
            );
        }
        priority
    });

    let enabled = enabled.and_then(|value| match value {
        Value::Bool(enabled) => Some(*enabled),
        _ => {
            problem("enabled", "must be true or false".into());
            None
        }
    });

    if problems.len() > before {
        return None;
    }
    Some(GatewayConfig {
        name: checked_name?,
        format: format?,
        base_url: base_url?,
        countries: countries?,
        currencies: currencies?,
        priority: priority?,
        enabled: enabled?,
    })
}

/// A non-empty array of distinct codes, each parsed by the domain type; the first problem
/// as `(field, message)`.
fn codes<T: PartialEq, E: fmt::Display>(
    value: &Value,
    field: &str,
    what: &str,
    parse: impl Fn(&str) -> Result<T, E>,
    code: impl Fn(&T) -> &'static str,
) -> Result<Vec<T>, (String, String)> {
    let Value::Array(items) = value else {
        return Err((field.into(), format!("must be an array of {what} codes")));
    };
    if items.is_empty() {
        return Err((field.into(), format!("must list at least one {what}")));
    }
    let mut parsed: Vec<T> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let at = format!("{field}[{index}]");
        let Value::String(text) = item else {
            return Err((at, format!("must be a {what} code (a string)")));
        };
        let value = parse(text).map_err(|e| (at.clone(), format!("{text:?}: {e}")))?;
        if parsed.contains(&value) {
            return Err((at, format!("{} is listed twice", code(&value))));
        }
        parsed.push(value);
    }
    Ok(parsed)
}

/// One entry as written: the known fields (each kept once, as JSON), and what was wrong
/// with its shape. Deserialised by hand so that unknown and repeated fields, and entries
/// that are not objects, become [`Problem`]s of their entry instead of one parse error.
#[derive(Debug, Default)]
struct RawEntry {
    fields: Vec<(&'static str, Value)>,
    unknown: Vec<String>,
    repeated: Vec<&'static str>,
    /// What the entry was instead of an object (`"a string"`).
    not_an_object: Option<&'static str>,
}

impl RawEntry {
    fn get(&self, field: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|(name, _)| *name == field)
            .map(|(_, value)| value)
    }

    fn not_an_object(kind: &'static str) -> Self {
        Self {
            not_an_object: Some(kind),
            ..Self::default()
        }
    }

    fn read<'de, A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut entry = Self::default();
        while let Some(key) = map.next_key::<String>()? {
            match FIELDS.iter().find(|f| **f == key) {
                None => {
                    map.next_value::<IgnoredAny>()?;
                    if !entry.unknown.contains(&key) {
                        entry.unknown.push(key);
                    }
                }
                Some(field) if entry.get(field).is_some() => {
                    map.next_value::<IgnoredAny>()?;
                    if !entry.repeated.contains(field) {
                        entry.repeated.push(field);
                    }
                }
                Some(field) => {
                    let value = map.next_value::<Value>()?;
                    entry.fields.push((field, value));
                }
            }
        }
        Ok(entry)
    }
}

struct EntryVisitor;

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = RawEntry;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a gateway object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawEntry, A::Error> {
        RawEntry::read(map)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawEntry, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(RawEntry::not_an_object("an array"))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<RawEntry, E> {
        Ok(RawEntry::not_an_object("a string"))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawEntry, E> {
        Ok(RawEntry::not_an_object("a boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawEntry, E> {
        Ok(RawEntry::not_an_object("a number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawEntry, E> {
        Ok(RawEntry::not_an_object("a number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawEntry, E> {
        Ok(RawEntry::not_an_object("a number"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<RawEntry, E> {
        Ok(RawEntry::not_an_object("null"))
    }
}

impl<'de> Deserialize<'de> for RawEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EntryVisitor)
    }
}

/// The whole file: an array of entries, or one entry.
struct RawFile(Vec<RawEntry>);

struct FileVisitor;

const FILE_SHAPE: &str =
    "the file must hold a JSON array of gateway objects, or one gateway object";

impl<'de> Visitor<'de> for FileVisitor {
    type Value = RawFile;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(FILE_SHAPE)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawFile, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = seq.next_element::<RawEntry>()? {
            entries.push(entry);
        }
        Ok(RawFile(entries))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawFile, A::Error> {
        Ok(RawFile(vec![RawEntry::read(map)?]))
    }

    // Anything else is refused without serde's default message, which quotes the value.
    fn visit_str<E: de::Error>(self, _: &str) -> Result<RawFile, E> {
        Err(E::custom(FILE_SHAPE))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawFile, E> {
        Err(E::custom(FILE_SHAPE))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawFile, E> {
        Err(E::custom(FILE_SHAPE))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawFile, E> {
        Err(E::custom(FILE_SHAPE))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawFile, E> {
        Err(E::custom(FILE_SHAPE))
    }

    fn visit_unit<E: de::Error>(self) -> Result<RawFile, E> {
        Err(E::custom(FILE_SHAPE))
    }
}

impl<'de> Deserialize<'de> for RawFile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FileVisitor)
    }
}

// ---------------------------------------------------------------- the commands

/// The registry the `gateways` commands work on.
pub struct GatewayOps {
    pub registry: Arc<dyn GatewayRegistry>,
    /// Where the registry is, for messages (the table's name).
    pub table: String,
}

impl GatewayOps {
    /// The DynamoDB registry in `PAYGATE_GATEWAYS_TABLE` (from `resources`).
    pub fn connect(dynamodb: DynamoClient, resources: &Resources) -> Self {
        Self {
            registry: Arc::new(DynamoGatewayRegistry::new(dynamodb, resources)),
            table: resources.gateways_table.clone(),
        }
    }

    /// Runs one command, writing its report to `out`.
    pub async fn run(&self, command: &GatewayCommand, out: &mut dyn Write) -> Result<(), OpsError> {
        match command {
            GatewayCommand::List => {
                let gateways = self.registry.list().await?;
                write_gateways(out, &gateways, OffsetDateTime::now_utc())?;
            }
            GatewayCommand::Put { file } => {
                let configs = read_put_file(file)?;
                self.put(&configs, out).await?;
            }
            GatewayCommand::Enable { name } => self.set_enabled(name, true, out).await?,
            GatewayCommand::Disable { name } => self.set_enabled(name, false, out).await?,
        }
        Ok(())
    }

    /// Upserts every entry that is new or changed, reporting each as it is written.
    async fn put(&self, configs: &[GatewayConfig], out: &mut dyn Write) -> Result<(), OpsError> {
        let before = self.registry.list().await?;
        let (mut added, mut updated, mut unchanged) = (Vec::new(), Vec::new(), Vec::new());
        for config in configs {
            let old = before
                .iter()
                .find(|g| g.config.name == config.name)
                .map(|g| &g.config);
            let line = match old {
                Some(old) if old == config => {
                    unchanged.push(config.name.clone());
                    writeln!(out, "unchanged {}", config.name)?;
                    continue;
                }
                Some(old) => format!(
                    "updated {}: {}",
                    config.name,
                    changes(old, config).join(", ")
                ),
                None => format!(
                    "added {}: {}, priority {}, {}, {} / {}, host {}",
                    config.name,
                    config.format,
                    config.priority,
                    if config.enabled {
                        "enabled"
                    } else {
                        "disabled"
                    },
                    join(&config.countries, Country::code),
                    join(&config.currencies, Currency::code),
                    display_host(&config.base_url),
                ),
            };
            if let Err(error) = self.registry.upsert_config(config).await {
                return Err(OpsError::PartialPut {
                    written: added.iter().chain(&updated).cloned().collect(),
                    failed: config.name.clone(),
                    error,
                });
            }
            writeln!(out, "{line}")?;
            if old.is_some() {
                updated.push(config.name.clone());
            } else {
                added.push(config.name.clone());
            }
        }
        writeln!(
            out,
            "{} gateway(s) in the file, table {}: {} added, {} updated, {} unchanged; \
             health and breaker state of existing gateways kept",
            configs.len(),
            self.table,
            added.len(),
            updated.len(),
            unchanged.len()
        )?;
        if added.is_empty() && updated.is_empty() {
            return Ok(());
        }
        writeln!(out, "{TAKES_EFFECT}")?;
        if !added.is_empty() {
            writeln!(
                out,
                "note: the health probe checks new gateways on its next run; their webhooks are \
                 refused until they are in the webhook configuration (PAYGATE_WEBHOOK_GATEWAYS)"
            )?;
        }
        let before: Vec<GatewayConfig> = before.into_iter().map(|g| g.config).collect();
        let mut after = before.clone();
        for config in configs {
            match after.iter_mut().find(|c| c.name == config.name) {
                Some(slot) => *slot = config.clone(),
                None => after.push(config.clone()),
            }
        }
        write_unserved(out, &unserved_after(&before, &after))?;
        Ok(())
    }

    /// Sets `enabled` on a gateway, keeping the rest of its configuration.
    async fn set_enabled(
        &self,
        name: &str,
        enabled: bool,
        out: &mut dyn Write,
    ) -> Result<(), OpsError> {
        let gateways = self.registry.list().await?;
        let Some(gateway) = gateways.iter().find(|g| g.config.name == name) else {
            return Err(OpsError::UnknownGateway {
                name: name.to_owned(),
                table: self.table.clone(),
            });
        };
        let word = if enabled { "enabled" } else { "disabled" };
        if gateway.config.enabled == enabled {
            writeln!(out, "{name} is already {word}; nothing changed")?;
            return Ok(());
        }
        // Only `enabled` changes, on the configuration as stored at the time of the write:
        // a concurrent `put` of other fields is kept, never overwritten with what we listed.
        let change = |current: &GatewayConfig| GatewayConfig {
            enabled,
            ..current.clone()
        };
        let Some(config) = self.registry.change_config(name, &change).await? else {
            return Err(OpsError::UnknownGateway {
                name: name.to_owned(),
                table: self.table.clone(),
            });
        };
        writeln!(out, "{word} {name} in {}", self.table)?;
        writeln!(out, "{TAKES_EFFECT}")?;
        if enabled {
            for note in routing_notes(&gateway.status, OffsetDateTime::now_utc()) {
                writeln!(out, "note: {note}")?;
            }
        } else {
            writeln!(
                out,
                "note: payments it already holds are still settled with it (open attempts, \
                 refunds, the recovery sweeper), and the health probe keeps probing it"
            )?;
            let before: Vec<GatewayConfig> = gateways.iter().map(|g| g.config.clone()).collect();
            let after: Vec<GatewayConfig> = before
                .iter()
                .map(|c| {
                    if c.name == name {
                        config.clone()
                    } else {
                        c.clone()
                    }
                })
                .collect();
            write_unserved(out, &unserved_after(&before, &after))?;
        }
        Ok(())
    }
}

/// Reads and checks a `put` file; nothing is written when it fails.
fn read_put_file(path: &Path) -> Result<Vec<GatewayConfig>, OpsError> {
    let text = std::fs::read_to_string(path).map_err(|error| OpsError::ReadFile {
        path: path.to_owned(),
        error,
    })?;
    parse_put_file(&text).map_err(|error| OpsError::PutFile {
        path: path.to_owned(),
        error,
    })
}

/// What an update changes, for the report. A base URL is shown by its host only.
fn changes(old: &GatewayConfig, new: &GatewayConfig) -> Vec<String> {
    let mut changes = Vec::new();
    if old.format != new.format {
        changes.push(format!("format {} -> {}", old.format, new.format));
    }
    if old.base_url != new.base_url {
        let (from, to) = (display_host(&old.base_url), display_host(&new.base_url));
        changes.push(if from == to {
            format!("base_url changed (host {to})")
        } else {
            format!("base_url host {from} -> {to}")
        });
    }
    if old.countries != new.countries {
        changes.push(format!(
            "countries {} -> {}",
            join(&old.countries, Country::code),
            join(&new.countries, Country::code)
        ));
    }
    if old.currencies != new.currencies {
        changes.push(format!(
            "currencies {} -> {}",
            join(&old.currencies, Currency::code),
            join(&new.currencies, Currency::code)
        ));
    }
    if old.priority != new.priority {
        changes.push(format!("priority {} -> {}", old.priority, new.priority));
    }
    if old.enabled != new.enabled {
        changes.push(format!("enabled {} -> {}", old.enabled, new.enabled));
    }
    changes
}

fn join<T: Copy>(items: &[T], code: impl Fn(T) -> &'static str) -> String {
    items
        .iter()
        .map(|item| code(*item))
        .collect::<Vec<_>>()
        .join(",")
}

/// Why routing may still skip a gateway that is enabled.
fn routing_notes(status: &GatewayStatus, now: OffsetDateTime) -> Vec<String> {
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

fn write_unserved(out: &mut dyn Write, pairs: &[String]) -> io::Result<()> {
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

fn breaker(state: &BreakerState, now: OffsetDateTime) -> String {
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
    use async_trait::async_trait;
    use paygate_domain::gateways::{BreakerPolicy, CallResult};
    use paygate_domain::ports::StoreError;
    use paygate_memory::MemoryGatewayRegistry;
    use serde_json::json;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-23 10:00 UTC);

    fn entry() -> Value {
        json!({
            "name": "acme_json", "format": "json", "base_url": "https://psp.example/api",
            "countries": ["AE", "US"], "currencies": ["AED", "USD"],
            "priority": 10, "enabled": true
        })
    }

    fn with(changes: Value) -> Value {
        let mut entry = entry();
        for (key, value) in changes.as_object().unwrap() {
            if value.is_null() {
                entry.as_object_mut().unwrap().remove(key);
            } else {
                entry[key] = value.clone();
            }
        }
        entry
    }

    fn problems(file: &Value) -> Vec<String> {
        match parse_put_file(&file.to_string()) {
            Err(PutFileError::Invalid(problems)) => {
                problems.iter().map(ToString::to_string).collect()
            }
            other => panic!("expected problems, got {other:?}"),
        }
    }

    fn country(code: &str) -> Country {
        Country::parse(code).unwrap()
    }

    fn currency(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    fn acme() -> GatewayConfig {
        GatewayConfig {
            name: "acme_json".into(),
            format: paygate_domain::gateways::WireFormat::Json,
            base_url: "https://psp.example/api".into(),
            countries: vec![country("AE"), country("US")],
            currencies: vec![currency("AED"), currency("USD")],
            priority: 10,
            enabled: true,
        }
    }

    // ------------------------------------------------------------ put file

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
            serde_json::from_str(include_str!("../../devstack/gateways.json")).unwrap();
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
                "entry 3 (\"c\"), bse_url: unknown field (the fields are name, format, base_url, countries, currencies, priority, enabled)",
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
        for field in [
            "format",
            "base_url",
            "countries",
            "currencies",
            "priority",
            "enabled",
        ] {
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

    // ------------------------------------------------------------ list

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

    #[test]
    fn hosts_never_show_credentials_paths_or_queries() {
        assert_eq!(display_host("https://u:p@psp.example/a?b=c"), "psp.example");
        assert_eq!(display_host("https://psp.example:443/a"), "psp.example");
        assert_eq!(display_host("http://127.0.0.1:9001/x"), "127.0.0.1:9001");
        assert_eq!(display_host("not a url/with?secret"), "(not a URL)");
    }

    #[test]
    fn unserved_pairs_are_those_no_enabled_gateway_covers_any_more() {
        let us_only = GatewayConfig {
            name: "us_only".into(),
            countries: vec![country("US")],
            currencies: vec![currency("USD")],
            ..acme()
        };
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

    // ------------------------------------------------------------ commands (memory registry)

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
        let path =
            std::env::temp_dir().join(format!("paygate-ops-unit-{}-{name}", std::process::id()));
        std::fs::write(&path, json.to_string()).unwrap();
        TempFile(path)
    }

    async fn run(ops: &GatewayOps, command: GatewayCommand) -> Result<String, OpsError> {
        let mut out = Vec::new();
        ops.run(&command, &mut out).await?;
        Ok(String::from_utf8(out).unwrap())
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

        let out = run(
            &ops,
            GatewayCommand::Put {
                file: file.0.clone(),
            },
        )
        .await
        .unwrap();

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
        assert_eq!(lines[3], TAKES_EFFECT);
        assert!(
            lines[4].starts_with("note: the health probe checks new gateways"),
            "{out}"
        );
        // acme served US/USD and the AE/USD, US/AED crossings alone.
        assert_eq!(
            lines[5],
            "warning: no enabled gateway serves AE/USD US/AED US/USD any more: new deposits \
             there fail at once (no_gateway) instead of waiting for a gateway"
        );
        let listed = memory.list().await.unwrap();
        assert_eq!(listed[0].config.priority, 5);
        assert!(!listed[0].config.enabled);
        assert_eq!(listed[0].status, learnt, "what was learnt is kept");
        assert_eq!(listed[1].config.name, "initech_json");
        assert_eq!(listed[1].status, GatewayStatus::default());

        // The same file again changes nothing.
        let out = run(
            &ops,
            GatewayCommand::Put {
                file: file.0.clone(),
            },
        )
        .await
        .unwrap();
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
        let err = run(
            &ops,
            GatewayCommand::Put {
                file: file.0.clone(),
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, OpsError::PutFile { .. }), "{err}");
        assert_eq!(memory.list().await.unwrap()[0].config, acme());
        assert_eq!(memory.list().await.unwrap().len(), 1);
    }

    /// A registry whose writes of one gateway fail.
    struct FailingUpsert {
        inner: MemoryGatewayRegistry,
        fails: &'static str,
    }

    #[async_trait]
    impl GatewayRegistry for FailingUpsert {
        async fn list(&self) -> Result<Vec<Gateway>, StoreError> {
            self.inner.list().await
        }

        async fn record_call(
            &self,
            gateway: &str,
            result: CallResult,
            now: OffsetDateTime,
            policy: &BreakerPolicy,
        ) -> Result<BreakerState, StoreError> {
            self.inner.record_call(gateway, result, now, policy).await
        }

        async fn change_status(
            &self,
            gateway: &str,
            change: &(dyn for<'s> Fn(&'s GatewayStatus) -> GatewayStatus + Send + Sync),
        ) -> Result<GatewayStatus, StoreError> {
            self.inner.change_status(gateway, change).await
        }

        async fn upsert_config(&self, config: &GatewayConfig) -> Result<(), StoreError> {
            if config.name == self.fails {
                return Err(StoreError("UpdateItem: ThrottlingException".into()));
            }
            self.inner.upsert_config(config).await
        }
        async fn change_config(
            &self,
            gateway: &str,
            change: &(dyn for<'c> Fn(&'c GatewayConfig) -> GatewayConfig + Send + Sync),
        ) -> Result<Option<GatewayConfig>, StoreError> {
            self.inner.change_config(gateway, change).await
        }
    }

    #[tokio::test]
    async fn a_failed_write_says_what_was_already_written() {
        let ops = ops(Arc::new(FailingUpsert {
            inner: MemoryGatewayRegistry::new(),
            fails: "b",
        }));
        let file = write_file(
            "partial.json",
            &json!([
                entry(),
                with(json!({"name": "b"})),
                with(json!({"name": "c"}))
            ]),
        );
        let err = run(
            &ops,
            GatewayCommand::Put {
                file: file.0.clone(),
            },
        )
        .await
        .unwrap_err();
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
        let us_only = GatewayConfig {
            name: "us_only".into(),
            countries: vec![country("US")],
            currencies: vec![currency("USD")],
            ..acme()
        };
        let memory = Arc::new(MemoryGatewayRegistry::with_gateways([acme(), us_only]));
        memory
            .update_status("acme_json", |s| s.health = Health::Unhealthy)
            .unwrap();
        let ops = ops(memory.clone());

        let out = run(
            &ops,
            GatewayCommand::Disable {
                name: "acme_json".into(),
            },
        )
        .await
        .unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "disabled acme_json in paygate-gateways");
        assert_eq!(lines[1], TAKES_EFFECT);
        assert!(
            lines[2].starts_with("note: payments it already holds"),
            "{out}"
        );
        assert_eq!(
            lines[3],
            "warning: no enabled gateway serves AE/AED AE/USD US/AED any more: new deposits \
             there fail at once (no_gateway) instead of waiting for a gateway"
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

        let out = run(
            &ops,
            GatewayCommand::Disable {
                name: "acme_json".into(),
            },
        )
        .await
        .unwrap();
        assert_eq!(out, "acme_json is already disabled; nothing changed\n");

        let out = run(
            &ops,
            GatewayCommand::Enable {
                name: "acme_json".into(),
            },
        )
        .await
        .unwrap();
        assert_eq!(
            out,
            format!(
                "enabled acme_json in paygate-gateways\n{TAKES_EFFECT}\nnote: it is unhealthy: \
                 routing skips it until a health probe passes\n"
            )
        );
        assert_eq!(memory.list().await.unwrap()[0].config, acme());

        let err = run(
            &ops,
            GatewayCommand::Enable {
                name: "acme".into(),
            },
        )
        .await
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "no gateway named \"acme\" in paygate-gateways (`paygate-ops gateways list` shows them)"
        );
    }
}

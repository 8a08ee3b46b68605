//! The `put` file: a JSON array of gateway entries (or one entry) shaped like the devstack
//! seed, with `base_url` required. Every entry is checked before anything is written, and
//! every problem in every entry is reported, not just the first.

use super::checks::{check_base_url, check_name};
use super::raw::{FIELDS, RawEntry, RawFile};
use paygate_domain::gateways::{Capability, GatewayConfig, default_capabilities};
use paygate_domain::{Country, Currency};
use paygate_gateways::WireFormat;
use serde_json::Value;
use std::fmt;

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
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PutFileError {
    /// Not JSON, or not an array of objects / one object (serde's message, with the line
    /// and column; it never quotes a value from the file).
    #[error("not a gateway file: {0}")]
    Json(String),
    /// An empty array.
    #[error("the file lists no gateways")]
    Empty,
    #[error("{} problem(s):{}", .0.len(), listed(.0))]
    Invalid(Vec<Problem>),
}

/// One problem per line, indented under the count.
fn listed(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("\n  {p}")).collect()
}

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

    // Optional: a gateway configured without it takes payments and refunds them.
    let capabilities = match raw.get("capabilities") {
        None => Some(default_capabilities()),
        Some(value) => codes(
            value,
            "capabilities",
            "capability",
            Capability::parse,
            |c| c.as_str(),
        )
        .map_err(|(field, message)| problem(&field, message))
        .ok(),
    };

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
        capabilities: capabilities?,
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

#[cfg(test)]
mod tests;

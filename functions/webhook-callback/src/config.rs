//! Which gateways may call, in which format they write, and their signing secrets.

use paygate_gateways::WireFormat;
use secrecy::SecretString;
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;

/// The webhook configuration is not valid JSON of the expected shape. Only the kind of
/// error and where it is are kept: serde's own message can quote the offending value,
/// which here could be a secret.
#[derive(Debug, thiserror::Error)]
#[error("invalid webhook gateway configuration: {category:?} error at line {line} column {column}")]
pub struct ConfigError {
    category: serde_json::error::Category,
    line: usize,
    column: usize,
}

#[derive(Deserialize)]
pub struct WebhookGateway {
    pub format: WireFormat,
    /// Current secrets; more than one while a secret is being rotated.
    pub secrets: Vec<SecretString>,
}

/// Gateway name → its webhook settings.
#[derive(Deserialize, Default)]
#[serde(transparent)]
pub struct WebhookGateways(HashMap<String, WebhookGateway>);

impl fmt::Debug for WebhookGateways {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.0.keys().collect();
        names.sort();
        write!(f, "WebhookGateways({names:?}, secrets: ***)")
    }
}

impl WebhookGateways {
    /// From JSON `{"<gateway>": {"format": "json"|"soap", "secrets": ["..."]}}`, which
    /// Lambda gets from Secrets Manager (`PAYGATE_WEBHOOK_GATEWAYS_SECRET_ARN`).
    pub fn from_json(json: &str) -> Result<Self, ConfigError> {
        serde_json::from_str(json).map_err(|err| ConfigError {
            category: err.classify(),
            line: err.line(),
            column: err.column(),
        })
    }

    pub fn insert(&mut self, name: impl Into<String>, gateway: WebhookGateway) {
        self.0.insert(name.into(), gateway);
    }

    pub fn get(&self, name: &str) -> Option<&WebhookGateway> {
        self.0.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_never_prints_secrets() {
        let gateways =
            WebhookGateways::from_json(r#"{"acme":{"format":"soap","secrets":["s3cr3t","old"]}}"#)
                .unwrap();
        let acme = gateways.get("acme").unwrap();
        assert_eq!(acme.format, WireFormat::Soap);
        assert_eq!(acme.secrets.len(), 2);
        assert!(!format!("{gateways:?}").contains("s3cr3t"));
    }

    #[test]
    fn a_malformed_configuration_is_refused_without_quoting_it() {
        // A secret given as a string instead of a list: serde would quote it.
        let err = WebhookGateways::from_json(r#"{"acme":{"format":"json","secrets":"s3cr3t"}}"#)
            .unwrap_err();
        let message = err.to_string();
        assert!(message.contains("line 1"), "{message}");
        assert!(!message.contains("s3cr3t"), "{message}");
    }
}

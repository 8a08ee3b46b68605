//! Which gateways may call, in which format they write, and their signing secrets.

use paygate_gateways::WireFormat;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;

/// The shortest signing secret accepted: a short (or empty) HMAC key would let anyone
/// who guesses it forge a gateway's outcome reports.
pub const MIN_SECRET_BYTES: usize = 16;

/// Why the webhook configuration was refused. Messages never quote a value: serde's own
/// message can, and here the value could be a secret.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Not JSON of the expected shape; only the kind of error and where it is are kept.
    #[error(
        "invalid webhook gateway configuration: {category:?} error at line {line} column {column}"
    )]
    Malformed {
        category: serde_json::error::Category,
        line: usize,
        column: usize,
    },
    /// A gateway without any secret, or with one too short to be a signing key.
    #[error(
        "webhook gateway {gateway}: every gateway needs at least one secret of at least \
         {MIN_SECRET_BYTES} bytes"
    )]
    WeakSecret { gateway: String },
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
        let gateways: Self = serde_json::from_str(json).map_err(|err| ConfigError::Malformed {
            category: err.classify(),
            line: err.line(),
            column: err.column(),
        })?;
        let mut names: Vec<&String> = gateways.0.keys().collect();
        names.sort();
        for name in names {
            let secrets = &gateways.0[name].secrets;
            let weak = |secret: &SecretString| secret.expose_secret().len() < MIN_SECRET_BYTES;
            if secrets.is_empty() || secrets.iter().any(weak) {
                return Err(ConfigError::WeakSecret {
                    gateway: name.clone(),
                });
            }
        }
        Ok(gateways)
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
        let gateways = WebhookGateways::from_json(
            r#"{"acme":{"format":"soap","secrets":["s3cr3t_0123456789","old_0123456789abcdef"]}}"#,
        )
        .unwrap();
        let acme = gateways.get("acme").unwrap();
        assert_eq!(acme.format, WireFormat::Soap);
        assert_eq!(acme.secrets.len(), 2);
        assert!(!format!("{gateways:?}").contains("s3cr3t"));
    }

    #[test]
    fn a_gateway_without_a_strong_enough_secret_is_refused() {
        for secrets in [r#"[]"#, r#"[""]"#, r#"["whsec_long_enough_1234", "short"]"#] {
            let json = format!(r#"{{"acme":{{"format":"json","secrets":{secrets}}}}}"#);
            let err = WebhookGateways::from_json(&json).unwrap_err();
            assert!(matches!(err, ConfigError::WeakSecret { .. }), "{secrets}");
            assert!(!err.to_string().contains("short"), "{err}");
        }
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

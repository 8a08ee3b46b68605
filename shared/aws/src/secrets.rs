//! Secrets the functions need at start-up (field-encryption keys, webhook secrets), read
//! by reference: the template passes a Secrets Manager ARN in `<NAME>_SECRET_ARN` and the
//! value is fetched once per cold start, so it never sits in the function's configuration
//! where `lambda:GetFunctionConfiguration` would show it. Locally (devstack, emulators,
//! `sam local invoke`) the value may be given directly in `<NAME>`.

use crate::AwsError;
use aws_sdk_secretsmanager::Client;
use secrecy::SecretString;

/// Why a secret setting could not be read. Messages name the variable, never the value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Neither `<NAME>_SECRET_ARN` nor `<NAME>` is set.
    #[error("{name} is not configured: set {name}_SECRET_ARN (a Secrets Manager ARN) or {name}")]
    Missing { name: String },
    /// The secret exists but holds no `SecretString` (binary secrets are not supported).
    #[error("the secret in {name}_SECRET_ARN has no SecretString")]
    NotAString { name: String },
    /// Secrets Manager refused or could not be reached.
    #[error("reading {name}_SECRET_ARN: {source}")]
    Fetch { name: String, source: AwsError },
    /// The value was read but is not what the setting must hold.
    #[error("{name}: {reason}")]
    Invalid { name: String, reason: String },
}

/// Reads the secret setting `name`: from Secrets Manager when `<name>_SECRET_ARN` is set
/// (it wins), else the literal value of `<name>`. `lookup` maps a variable name to its
/// value (the process environment in the functions); blank values count as unset.
pub async fn secret_setting(
    client: &Client,
    name: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<SecretString, SecretError> {
    let set = |variable: &str| lookup(variable).filter(|value| !value.trim().is_empty());
    if let Some(arn) = set(&format!("{name}_SECRET_ARN")) {
        let output = client
            .get_secret_value()
            .secret_id(arn.trim())
            .send()
            .await
            .map_err(|err| SecretError::Fetch {
                name: name.to_owned(),
                source: AwsError::call("GetSecretValue", &err),
            })?;
        return output.secret_string.map(SecretString::from).ok_or_else(|| {
            SecretError::NotAString {
                name: name.to_owned(),
            }
        });
    }
    set(name)
        .map(SecretString::from)
        .ok_or_else(|| SecretError::Missing {
            name: name.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    /// A client that is never called: these cases must not reach Secrets Manager.
    fn offline_client() -> Client {
        Client::from_conf(
            aws_sdk_secretsmanager::Config::builder()
                .behavior_version_latest()
                .region(aws_sdk_secretsmanager::config::Region::new("eu-west-1"))
                .build(),
        )
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[tokio::test]
    async fn a_literal_value_is_used_when_no_arn_is_given() {
        let secret = secret_setting(&offline_client(), "PAYGATE_X", env(&[("PAYGATE_X", "k1")]))
            .await
            .unwrap();
        assert_eq!(secret.expose_secret(), "k1");
    }

    #[tokio::test]
    async fn missing_or_blank_settings_name_both_variables_and_no_value() {
        let blank = env(&[("PAYGATE_X", "  "), ("PAYGATE_X_SECRET_ARN", "")]);
        let err = secret_setting(&offline_client(), "PAYGATE_X", blank)
            .await
            .unwrap_err();
        assert!(matches!(err, SecretError::Missing { .. }));
        let message = err.to_string();
        assert!(message.contains("PAYGATE_X_SECRET_ARN") && message.contains("PAYGATE_X"));
    }
}

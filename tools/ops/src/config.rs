//! Where the commands find what they work on: resource names from the same `PAYGATE_*`
//! variables the functions read ([`Resources`]); endpoint, region and credentials from the
//! AWS SDK's usual environment. [`environment`] lists them at the end of `paygate-ops help`.

use paygate_aws::Resources;
use paygate_aws::aws_sdk_dynamodb::Client as DynamoClient;
use paygate_aws::aws_sdk_sqs::Client as SqsClient;

/// The variables the commands read, each with who reads it for what; defaults as
/// [`Resources`] has them, so the text cannot drift from what is read.
fn variables(defaults: &Resources) -> Vec<(&'static str, String)> {
    vec![
        (
            "PAYGATE_DEPOSITS_DLQ",
            format!(
                "dlq: the dead-letter queue's name (default {})",
                defaults.deposits_dlq
            ),
        ),
        (
            "PAYGATE_DEPOSITS_DLQ_URL",
            "dlq: its URL instead (skips a GetQueueUrl)".into(),
        ),
        (
            "PAYGATE_DEPOSITS_QUEUE",
            format!(
                "dlq: the deposits queue's name, redrive's target (default {})",
                defaults.deposits_queue
            ),
        ),
        (
            "PAYGATE_DEPOSITS_QUEUE_URL",
            "dlq: its URL instead (skips a GetQueueUrl)".into(),
        ),
        (
            "PAYGATE_GATEWAYS_TABLE",
            format!(
                "gateways: the registry table (default {})",
                defaults.gateways_table
            ),
        ),
        (
            "PAYGATE_LEDGER_TABLE",
            format!(
                "ledger: the merchants' ledgers (default {})",
                defaults.ledger_table
            ),
        ),
        (
            "PAYGATE_MERCHANTS_TABLE",
            format!(
                "merchants: the table of API key hashes (default {})",
                defaults.merchants_table
            ),
        ),
        (
            "AWS_ENDPOINT_URL",
            "all: the endpoint, e.g. an emulator's (unset: AWS itself)".into(),
        ),
        (
            "AWS_REGION, AWS_PROFILE, …",
            "all: region and credentials, as the AWS SDK reads them".into(),
        ),
    ]
}

/// The `environment:` section of `paygate-ops help`.
pub fn environment() -> String {
    let rows = variables(&Resources::default());
    let width = rows.iter().map(|(name, _)| name.chars().count()).max();
    let width = width.unwrap_or_default();
    let mut text = String::from("environment:");
    for (name, meaning) in rows {
        text.push_str(&format!("\n  {name:width$}  {meaning}"));
    }
    text
}

/// An SQS client on the SDK's environment (the `dlq` commands).
pub async fn sqs() -> SqsClient {
    SqsClient::new(&operator_config().await)
}

/// A DynamoDB client on the SDK's environment (the `gateways`, `ledger` and `merchants`
/// commands).
pub async fn dynamodb() -> DynamoClient {
    DynamoClient::new(&operator_config().await)
}

/// An operator's workstation: the SDK's whole provider chain (environment, profiles, SSO,
/// web identity, instance metadata) on paygate's HTTP client. The functions need only
/// the environment Lambda gives them ([`paygate_aws::sdk_config`]).
async fn operator_config() -> paygate_aws::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(paygate_aws::http_client())
        .load()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_paygate_variable_listed_is_one_the_resources_are_read_from() {
        let defaults = Resources::default();
        let listed: Vec<&str> = variables(&defaults)
            .into_iter()
            .map(|(name, _)| name)
            .filter(|name| name.starts_with("PAYGATE_"))
            .collect();
        assert_eq!(listed.len(), 7, "{listed:?}");
        for name in listed {
            let set = Resources::from_lookup(|n| (n == name).then(|| "set-by-test".to_owned()));
            assert_ne!(set, defaults, "{name} changes nothing Resources reads");
        }
    }

    #[test]
    fn the_section_lists_each_variable_with_its_default() {
        let text = environment();
        assert!(text.starts_with("environment:\n  PAYGATE_"), "{text}");
        for (name, meaning) in variables(&Resources::default()) {
            assert!(text.contains(&format!("  {name} ")), "{name} in:\n{text}");
            assert!(text.contains(&meaning), "{meaning} in:\n{text}");
        }
        for default in [
            "paygate-deposits-dlq",
            "paygate-deposits",
            "paygate-gateways",
            "paygate-ledger",
            "paygate-merchants",
        ] {
            assert!(
                text.contains(&format!("(default {default})")),
                "{default} in:\n{text}"
            );
        }
    }
}

//! The AWS SDK configuration and the names of paygate's resources.

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_http_client::Builder;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use aws_types::SdkConfig;
use aws_types::region::Region;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};
use std::collections::HashMap;
use std::time::Duration;

/// Amazon Trust Services' roots (Amazon Root CA 1–4 and the Starfield Services G2 root
/// that cross-signs them): every AWS endpoint's certificate chains to one of them. Copied
/// from Mozilla's list (`webpki-root-certs`; a test checks they are still there).
const AMAZON_ROOTS: &str = include_str!("amazon_roots.pem");

/// How long a connection to AWS may take to open (the SDK's own default).
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3_100);

/// The SDK configuration a Lambda function runs with, from the environment Lambda gives
/// it: `AWS_REGION` (or `AWS_DEFAULT_REGION`), the execution role's `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, and endpoints as the SDK defines
/// them: `AWS_ENDPOINT_URL` for every service, `AWS_ENDPOINT_URL_<SERVICE>` (e.g.
/// `AWS_ENDPOINT_URL_DYNAMODB`) for one, the service-specific one winning. Standard
/// retries (3 attempts), a 3.1 s connect timeout, and [`http_client`].
///
/// Not `aws-config`'s provider chain: profiles, SSO, web identity and instance metadata
/// are for workstations and servers (the ops tool loads them), and the chain was a sixth
/// of every function's package.
pub fn sdk_config() -> SdkConfig {
    sdk_config_from(std::env::vars())
}

/// [`sdk_config`] from these variables.
fn sdk_config_from(variables: impl IntoIterator<Item = (String, String)>) -> SdkConfig {
    let variables: HashMap<String, String> = variables
        .into_iter()
        .filter(|(_, value)| !value.trim().is_empty())
        .collect();
    let env = |name: &str| variables.get(name).cloned();
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http_client())
        .retry_config(RetryConfig::standard())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .build(),
        )
        .region(
            env("AWS_REGION")
                .or_else(|| env("AWS_DEFAULT_REGION"))
                .map(Region::new),
        );
    if let (Some(id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        config = config.credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            id,
            secret,
            env("AWS_SESSION_TOKEN"),
            None,
            "environment",
        )));
    }
    let endpoints = variables
        .into_iter()
        .filter(|(name, _)| name.starts_with(ENDPOINT_URL))
        .collect();
    config.service_config(EndpointsFromEnv(endpoints)).build()
}

const ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";

/// The endpoint variables, answered as the SDK asks for them: `<VARIABLE>_<SERVICE ID>`
/// (the service id upper-cased, spaces and dashes as underscores), else `<VARIABLE>`.
#[derive(Debug)]
struct EndpointsFromEnv(HashMap<String, String>);

impl LoadServiceConfig for EndpointsFromEnv {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        let service = key
            .service_id()
            .to_ascii_uppercase()
            .replace([' ', '-'], "_");
        self.0
            .get(&format!("{}_{service}", key.env()))
            .or_else(|| self.0.get(key.env()))
            .cloned()
    }
}

/// The one HTTP client this workspace builds for the SDK: hyper + rustls on ring,
/// trusting [`AMAZON_ROOTS`] compiled in (reading the system's store, file by file, was
/// most of a function's init) unless `SSL_CERT_FILE` or `SSL_CERT_DIR` names other
/// certificates (a TLS-inspecting proxy on a workstation). The workspace builds the SDK
/// without its default features: without this client it has none.
pub fn http_client() -> SharedHttpClient {
    Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .tls_context(trusted_roots())
        .build_https()
}

fn trusted_roots() -> TlsContext {
    roots_from(
        std::env::var_os("SSL_CERT_FILE").is_some() || std::env::var_os("SSL_CERT_DIR").is_some(),
    )
}

/// The system's store when `from_files`, else [`AMAZON_ROOTS`].
fn roots_from(from_files: bool) -> TlsContext {
    let store = if from_files {
        TrustStore::default()
    } else {
        TrustStore::empty()
            .with_native_roots(false)
            .with_pem_certificate(AMAZON_ROOTS.as_bytes())
    };
    TlsContext::builder()
        .with_trust_store(store)
        .build()
        .expect("a TLS context from a trust store alone builds")
}

/// The names of paygate's tables, queues and event bus, from `PAYGATE_*` variables (the same ones
/// `localstack/init/ready.d/init_resources.py` reads) with the defaults below.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    /// `PAYGATE_EVENTS_TABLE`, default `paygate-events`.
    pub events_table: String,
    /// `PAYGATE_DEPOSITS_TABLE`, default `paygate-deposits`.
    pub deposits_table: String,
    /// `PAYGATE_IDEMPOTENCY_TABLE`, default `paygate-idempotency`.
    pub idempotency_table: String,
    /// `PAYGATE_MERCHANTS_TABLE`, default `paygate-merchants`.
    pub merchants_table: String,
    /// `PAYGATE_LOOKUPS_TABLE`, default `paygate-lookups`.
    pub lookups_table: String,
    /// `PAYGATE_GATEWAYS_TABLE`, default `paygate-gateways`.
    pub gateways_table: String,
    /// `PAYGATE_LEDGER_TABLE`, default `paygate-ledger`.
    pub ledger_table: String,
    /// `PAYGATE_DEPOSITS_QUEUE`, default `paygate-deposits`: the queue's name.
    pub deposits_queue: String,
    /// `PAYGATE_DEPOSITS_QUEUE_URL`: the queue's URL when deployed (skips `GetQueueUrl`).
    pub deposits_queue_url: Option<String>,
    /// `PAYGATE_DEPOSITS_DLQ`, default `paygate-deposits-dlq`: the dead-letter queue's name.
    pub deposits_dlq: String,
    /// `PAYGATE_DEPOSITS_DLQ_URL`: the dead-letter queue's URL when deployed.
    pub deposits_dlq_url: Option<String>,
    /// `PAYGATE_EVENT_BUS`, default `paygate-bus`: the EventBridge bus domain events go
    /// to, by name (or ARN).
    pub event_bus: String,
    /// `PAYGATE_INDEX_SHARDS`, default 1 (1 to [`MAX_INDEX_SHARDS`]; anything else is the
    /// default): how many partitions the deposits table's two sparse indexes spread
    /// their items over. Only ever raise it: items stay in the partition they were
    /// written to until they leave the index.
    pub index_shards: u32,
}

/// The most partitions a sparse index is spread over.
pub const MAX_INDEX_SHARDS: u32 = 32;

impl Default for Resources {
    /// The default names, as if no variable were set.
    fn default() -> Self {
        Self::from_lookup(|_| None)
    }
}

impl Resources {
    /// Reads the process environment.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads names through `lookup` (a variable name → its value); unset or blank
    /// variables take the default.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let optional = |name: &str| {
            lookup(name)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        let named = |name: &str, default: &str| optional(name).unwrap_or_else(|| default.into());
        Self {
            events_table: named("PAYGATE_EVENTS_TABLE", "paygate-events"),
            deposits_table: named("PAYGATE_DEPOSITS_TABLE", "paygate-deposits"),
            idempotency_table: named("PAYGATE_IDEMPOTENCY_TABLE", "paygate-idempotency"),
            merchants_table: named("PAYGATE_MERCHANTS_TABLE", "paygate-merchants"),
            lookups_table: named("PAYGATE_LOOKUPS_TABLE", "paygate-lookups"),
            gateways_table: named("PAYGATE_GATEWAYS_TABLE", "paygate-gateways"),
            ledger_table: named("PAYGATE_LEDGER_TABLE", "paygate-ledger"),
            deposits_queue: named("PAYGATE_DEPOSITS_QUEUE", "paygate-deposits"),
            deposits_queue_url: optional("PAYGATE_DEPOSITS_QUEUE_URL"),
            deposits_dlq: named("PAYGATE_DEPOSITS_DLQ", "paygate-deposits-dlq"),
            deposits_dlq_url: optional("PAYGATE_DEPOSITS_DLQ_URL"),
            event_bus: named("PAYGATE_EVENT_BUS", "paygate-bus"),
            index_shards: optional("PAYGATE_INDEX_SHARDS")
                .and_then(|value| value.parse().ok())
                .filter(|shards| (1..=MAX_INDEX_SHARDS).contains(shards))
                .unwrap_or(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key<'a>(service_id: &'a str) -> ServiceConfigKey<'a> {
        ServiceConfigKey::builder()
            .service_id(service_id)
            .env(ENDPOINT_URL)
            .profile("endpoint_url")
            .build()
            .unwrap()
    }

    #[test]
    fn a_service_endpoint_variable_wins_over_the_global_one() {
        let endpoints = EndpointsFromEnv(HashMap::from([
            ("AWS_ENDPOINT_URL".to_owned(), "http://moto".to_owned()),
            (
                "AWS_ENDPOINT_URL_DYNAMODB".to_owned(),
                "http://dynamodb-local".to_owned(),
            ),
            (
                "AWS_ENDPOINT_URL_SECRETS_MANAGER".to_owned(),
                "http://secrets".to_owned(),
            ),
        ]));
        let endpoint = |service| endpoints.load_config(key(service));
        assert_eq!(
            endpoint("DynamoDB").as_deref(),
            Some("http://dynamodb-local")
        );
        assert_eq!(
            endpoint("Secrets Manager").as_deref(),
            Some("http://secrets")
        );
        assert_eq!(endpoint("SQS").as_deref(), Some("http://moto"));
        assert_eq!(
            EndpointsFromEnv(HashMap::new()).load_config(key("SQS")),
            None
        );
    }

    #[test]
    fn region_and_credentials_come_from_lambdas_variables() {
        let vars = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<Vec<_>>()
        };
        let config = sdk_config_from(vars(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
        ]));
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert!(config.credentials_provider().is_some());
        assert_eq!(config.retry_config().map(|r| r.max_attempts()), Some(3));
        let fallback = sdk_config_from(vars(&[("AWS_DEFAULT_REGION", "us-east-1")]));
        assert_eq!(fallback.region().map(|r| r.as_ref()), Some("us-east-1"));
        assert!(
            fallback.credentials_provider().is_none(),
            "no keys, no provider"
        );
        let blank = sdk_config_from(vars(&[("AWS_REGION", " "), ("AWS_ACCESS_KEY_ID", "a")]));
        assert!(blank.region().is_none());
        assert!(blank.credentials_provider().is_none());
    }

    /// The SDK panics on a PEM block or certificate it cannot read, at its first request:
    /// each compiled-in root must load as a trust anchor, as the SDK loads them, and still
    /// be one Mozilla trusts.
    #[test]
    fn the_compiled_in_roots_are_amazons_five_and_mozilla_still_trusts_them() {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;

        let mut roots = rustls::RootCertStore::empty();
        for der in CertificateDer::pem_slice_iter(AMAZON_ROOTS.as_bytes()) {
            let der = der.expect("a PEM block");
            assert!(
                webpki_root_certs::TLS_SERVER_ROOT_CERTS.contains(&der),
                "a root Mozilla no longer lists"
            );
            roots.add(der).expect("a trust anchor");
        }
        assert_eq!(roots.len(), 5);
        let compiled_in = format!("{:?}", roots_from(false));
        assert!(
            compiled_in.contains("enable_native_roots: false"),
            "{compiled_in}"
        );
        let from_files = format!("{:?}", roots_from(true));
        assert!(
            from_files.contains("enable_native_roots: true"),
            "{from_files}"
        );
    }

    #[test]
    fn index_shards_take_a_number_in_range_else_one() {
        let with = |value: &str| {
            let value = value.to_owned();
            Resources::from_lookup(move |name| {
                (name == "PAYGATE_INDEX_SHARDS").then(|| value.clone())
            })
            .index_shards
        };
        assert_eq!(Resources::default().index_shards, 1);
        assert_eq!(with("8"), 8);
        assert_eq!(with(" 32 "), 32);
        for ignored in ["0", "33", "-1", "eight", ""] {
            assert_eq!(with(ignored), 1, "{ignored:?}");
        }
    }

    #[test]
    fn defaults_match_the_init_script() {
        let r = Resources::default();
        assert_eq!(r.events_table, "paygate-events");
        assert_eq!(r.deposits_table, "paygate-deposits");
        assert_eq!(r.idempotency_table, "paygate-idempotency");
        assert_eq!(r.merchants_table, "paygate-merchants");
        assert_eq!(r.lookups_table, "paygate-lookups");
        assert_eq!(r.gateways_table, "paygate-gateways");
        assert_eq!(r.ledger_table, "paygate-ledger");
        assert_eq!(r.deposits_queue, "paygate-deposits");
        assert_eq!(r.deposits_dlq, "paygate-deposits-dlq");
        assert_eq!(r.deposits_queue_url, None);
        assert_eq!(r.deposits_dlq_url, None);
        assert_eq!(r.event_bus, "paygate-bus");
    }

    #[test]
    fn variables_override_and_blank_means_unset() {
        let r = Resources::from_lookup(|name| match name {
            "PAYGATE_EVENTS_TABLE" => Some("t-events".into()),
            "PAYGATE_DEPOSITS_QUEUE" => Some("  ".into()),
            "PAYGATE_DEPOSITS_QUEUE_URL" => Some(" http://q/1/x ".into()),
            _ => None,
        });
        assert_eq!(r.events_table, "t-events");
        assert_eq!(r.deposits_queue, "paygate-deposits");
        assert_eq!(r.deposits_queue_url.as_deref(), Some("http://q/1/x"));
    }
}

//! The HTTP side both connectors share: a deadline on every call, bounded answers, and
//! the one distinction that matters for safety: whether the request may have reached the
//! PSP.
//!
//! The exchange itself is a seam ([`HttpExchange`]): in production it is
//! [`ReqwestExchange`] (one pooled client per connector); a deterministic simulation can
//! put an in-process PSP behind it instead. Connectors build a complete
//! `http::Request` (method, absolute URI, headers, body bytes), so whatever stands behind
//! the seam sees exactly what would go on the wire.

use crate::config::{ConnectorConfig, Timeouts};
use async_trait::async_trait;
use paygate_domain::ports::gateway::HealthOutcome;
use reqwest::{Method, Url};
use std::error::Error as _;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Answers are small; anything larger is read no further and counts as an empty body.
pub(crate) const MAX_BODY_BYTES: usize = 256 * 1024;

/// Idle pooled connections are dropped before a PSP's usual keep-alive limit, so a
/// request is rarely written onto a connection the PSP already closed (which would make
/// its outcome ambiguous).
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(15);

const USER_AGENT: &str = concat!("paygate-gateways/", env!("CARGO_PKG_VERSION"));

/// A call that got no HTTP answer. Reasons never contain a body or a header value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// Nothing reached the PSP: refused, DNS, connect timeout, TLS handshake, or a
    /// request that could not even be built. Safe to try elsewhere.
    #[error("not sent: {0}")]
    NotSent(String),
    /// The request was (or may have been) sent, then the answer never came whole:
    /// timeout, reset, closed connection. The PSP may have acted.
    #[error("sent, unanswered: {0}")]
    Unanswered(String),
}

impl TransportError {
    pub fn reason(&self) -> &str {
        match self {
            Self::NotSent(reason) | Self::Unanswered(reason) => reason,
        }
    }
}

/// One HTTP round trip to a PSP. `deadline` bounds the whole exchange, from connecting to
/// the last byte of the answer; past it the call is [`TransportError::Unanswered`] (or
/// `NotSent` if no connection was ever made).
///
/// An implementation may return a body of any size; connectors ignore one larger than
/// 256 KiB (as if it were empty), like the production transport does.
#[async_trait]
pub trait HttpExchange: Send + Sync {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
        deadline: Duration,
    ) -> Result<http::Response<Vec<u8>>, TransportError>;
}

impl From<reqwest::Error> for TransportError {
    fn from(err: reqwest::Error) -> Self {
        // A connect-phase failure (DNS and TLS happen there too) means no byte of the
        // request was written; everything else may have been.
        let not_sent = err.is_connect() || err.is_dns() || err.is_builder();
        let reason = describe(err);
        if not_sent {
            Self::NotSent(reason)
        } else {
            Self::Unanswered(reason)
        }
    }
}

/// The error and its causes on one line, without the URL (it carries the idempotency key
/// as a query parameter on status calls; harmless, but logs need no URLs).
fn describe(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = if err.is_timeout() {
        format!("timed out: {err}")
    } else {
        err.to_string()
    };
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    truncate(text, 300)
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// The production exchange: reqwest over rustls (ring), the OS roots, a connect timeout,
/// an idle-pool limit, no proxy and no redirects.
pub struct ReqwestExchange {
    /// `Err` if the client could not be built: every call is then `NotSent`.
    client: Result<reqwest::Client, String>,
}

impl ReqwestExchange {
    /// Builds the client once; `timeouts.effective_connect()` bounds connecting.
    pub fn new(timeouts: &Timeouts) -> Self {
        let client = build_client(timeouts).inspect_err(|reason| {
            tracing::error!(%reason, "gateway HTTP client could not be built");
        });
        Self { client }
    }
}

#[async_trait]
impl HttpExchange for ReqwestExchange {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
        deadline: Duration,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let client = self
            .client
            .as_ref()
            .map_err(|e| TransportError::NotSent(e.clone()))?;
        let mut request = reqwest::Request::try_from(request)?;
        *request.timeout_mut() = Some(deadline);
        let mut response = client.execute(request).await?;
        let status = response.status();
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) if body.len() + chunk.len() <= MAX_BODY_BYTES => {
                    body.extend_from_slice(&chunk);
                }
                Ok(Some(_)) => {
                    tracing::warn!(
                        http.status = status.as_u16(),
                        "gateway answer too large; body ignored"
                    );
                    body.clear();
                    break;
                }
                Ok(None) => break,
                // The status line arrived, so the PSP decided; classify by the status alone.
                Err(err) => {
                    let reason = TransportError::from(err);
                    tracing::warn!(
                        http.status = status.as_u16(),
                        reason = reason.reason(),
                        "gateway answer body unreadable"
                    );
                    body.clear();
                    break;
                }
            }
        }
        let mut answer = http::Response::new(body);
        *answer.status_mut() = status;
        Ok(answer)
    }
}

/// What came back: the HTTP status and the body (empty if it could not be read whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl From<http::Response<Vec<u8>>> for Reply {
    fn from(response: http::Response<Vec<u8>>) -> Self {
        let status = response.status().as_u16();
        let mut body = response.into_body();
        if body.len() > MAX_BODY_BYTES {
            body.clear();
        }
        Self { status, body }
    }
}

/// One PSP's endpoint, the exchange that reaches it, and the deadlines.
pub(crate) struct Transport {
    exchange: Arc<dyn HttpExchange>,
    /// Normalised without a trailing slash; `Err` if the configured URL is unusable.
    base: Result<String, String>,
    timeouts: Timeouts,
}

impl Transport {
    /// Over the production exchange.
    pub(crate) fn new(config: ConnectorConfig) -> Self {
        let exchange = Arc::new(ReqwestExchange::new(&config.timeouts));
        Self::over(config, exchange)
    }

    pub(crate) fn over(config: ConnectorConfig, exchange: Arc<dyn HttpExchange>) -> Self {
        let base = parse_base(&config.base_url).inspect_err(|reason| {
            tracing::error!(%reason, "gateway base URL is unusable");
        });
        Self {
            exchange,
            base,
            timeouts: config.timeouts,
        }
    }

    /// `base URL + path` (`path` starts with `/`).
    pub(crate) fn endpoint(&self, path: &str) -> Result<Url, TransportError> {
        let base = self
            .base
            .as_ref()
            .map_err(|e| TransportError::NotSent(e.clone()))?;
        Url::parse(&format!("{base}{path}"))
            .map_err(|e| TransportError::NotSent(format!("invalid endpoint: {e}")))
    }

    /// `base URL + path + /segment`, the segment percent-encoded: an id never changes
    /// the route.
    pub(crate) fn endpoint_with_segment(
        &self,
        path: &str,
        segment: &str,
    ) -> Result<Url, TransportError> {
        let mut url = self.endpoint(path)?;
        url.path_segments_mut()
            .map_err(|()| TransportError::NotSent("base URL cannot take a path".into()))?
            .push(segment);
        Ok(url)
    }

    /// `base URL + path + ?name=value`, the value form-encoded.
    pub(crate) fn endpoint_with_query(
        &self,
        path: &str,
        name: &str,
        value: &str,
    ) -> Result<Url, TransportError> {
        let mut url = self.endpoint(path)?;
        url.query_pairs_mut().append_pair(name, value);
        Ok(url)
    }

    /// Sends one call within the request deadline and reads the whole answer.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: Url,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Reply, TransportError> {
        let request = build_request(method, &url, headers, body)?;
        let reply = Reply::from(self.exchange.send(request, self.timeouts.request).await?);
        tracing::debug!(http.status = reply.status, "gateway answered");
        Ok(reply)
    }

    /// `GET {base}{path}`: a 2xx within the health deadline is healthy.
    pub(crate) async fn health(&self, path: &str) -> HealthOutcome {
        let started = Instant::now();
        let answer = match self
            .endpoint(path)
            .and_then(|url| build_request(Method::GET, &url, &[], Vec::new()))
        {
            Ok(request) => self
                .exchange
                .send(request, self.timeouts.health)
                .await
                .map(Reply::from),
            Err(err) => Err(err),
        };
        let latency = started.elapsed();
        let outcome = match answer {
            Ok(reply) if (200..300).contains(&reply.status) => HealthOutcome::Healthy { latency },
            Ok(reply) => HealthOutcome::Unhealthy {
                reason: format!("http {}", reply.status),
                latency,
            },
            Err(err) => HealthOutcome::Unhealthy {
                reason: err.reason().to_owned(),
                latency,
            },
        };
        match &outcome {
            HealthOutcome::Healthy { latency } => {
                tracing::debug!(latency_ms = latency.as_millis() as u64, "gateway healthy");
            }
            HealthOutcome::Unhealthy { reason, latency } => {
                tracing::warn!(%reason, latency_ms = latency.as_millis() as u64, "gateway unhealthy");
            }
        }
        outcome
    }
}

/// A complete request. A header value HTTP cannot carry (a control character in an
/// idempotency key) means nothing is sent.
fn build_request(
    method: Method,
    url: &Url,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<http::Request<Vec<u8>>, TransportError> {
    let mut request = http::Request::builder().method(method).uri(url.as_str());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request
        .body(body)
        .map_err(|e| TransportError::NotSent(format!("request cannot be built: {e}")))
}

fn parse_base(raw: &str) -> Result<String, String> {
    let url = Url::parse(raw.trim()).map_err(|e| format!("invalid base URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("base URL must be http(s)://host[:port][/prefix]".to_owned());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("base URL must not carry a query or fragment".to_owned());
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn build_client(timeouts: &Timeouts) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config()?)
        .connect_timeout(timeouts.effective_connect())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        // A PSP's answer is classified as the PSP's: no proxy's 502 in between, no redirects.
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(USER_AGENT)
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

/// rustls with the ring provider (the workspace's AWS SDK uses the same: no aws-lc, no
/// OpenSSL) and the roots [`roots`] picks.
fn tls_config() -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_root_certificates(roots())
        .with_no_client_auth();
    Ok(config)
}

/// Mozilla's roots, compiled in as trust anchors (nothing to read or parse: loading the
/// system's store, file by file, was most of a function's cold start); or, when
/// `SSL_CERT_FILE` or `SSL_CERT_DIR` is set, the certificates there (a PSP behind a
/// private CA). Once per process.
fn roots() -> Arc<rustls::RootCertStore> {
    static ROOTS: OnceLock<Arc<rustls::RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            if std::env::var_os("SSL_CERT_FILE").is_none()
                && std::env::var_os("SSL_CERT_DIR").is_none()
            {
                return Arc::new(webpki_roots::TLS_SERVER_ROOTS.iter().cloned().collect());
            }
            let mut roots = rustls::RootCertStore::empty();
            let loaded = rustls_native_certs::load_native_certs();
            let (added, ignored) = roots.add_parsable_certificates(loaded.certs);
            if added == 0 {
                tracing::error!(
                    ignored,
                    "no CA root certificates loaded from SSL_CERT_FILE / SSL_CERT_DIR; \
                     https gateways will fail"
                );
            }
            Arc::new(roots)
        })
        .clone()
}

#[cfg(test)]
mod tests;

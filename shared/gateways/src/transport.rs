//! The HTTP side both connectors share: one client per connector, a deadline on every
//! call, bounded answers, and the one distinction that matters for safety: whether the
//! request may have reached the PSP.

use crate::connector::{ConnectorConfig, Timeouts};
use paygate_domain::ports::gateway::HealthOutcome;
use reqwest::{Method, RequestBuilder, Url};
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

/// What came back: the HTTP status and the body (empty if it could not be read whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

/// A call that got no HTTP answer. Reasons never contain a body or a header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TransportError {
    /// Nothing reached the PSP: refused, DNS, connect timeout, TLS handshake, or a
    /// request that could not even be built.
    NotSent(String),
    /// The request was (or may have been) sent, then the answer never came whole:
    /// timeout, reset, closed connection.
    Unanswered(String),
}

impl TransportError {
    pub(crate) fn reason(&self) -> &str {
        match self {
            Self::NotSent(reason) | Self::Unanswered(reason) => reason,
        }
    }
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

/// One PSP's HTTP endpoint and the client that talks to it.
pub(crate) struct Transport {
    /// `Err` if the client could not be built: every call is then `NotSent`.
    client: Result<reqwest::Client, String>,
    /// Normalised without a trailing slash; `Err` if the configured URL is unusable.
    base: Result<String, String>,
    timeouts: Timeouts,
}

impl Transport {
    pub(crate) fn new(config: ConnectorConfig) -> Self {
        let client = build_client(&config.timeouts).inspect_err(|reason| {
            tracing::error!(%reason, "gateway HTTP client could not be built");
        });
        let base = parse_base(&config.base_url).inspect_err(|reason| {
            tracing::error!(%reason, "gateway base URL is unusable");
        });
        Self {
            client,
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

    /// A request with the call deadline already set.
    pub(crate) fn request(
        &self,
        method: Method,
        url: Url,
    ) -> Result<RequestBuilder, TransportError> {
        let client = self
            .client
            .as_ref()
            .map_err(|e| TransportError::NotSent(e.clone()))?;
        Ok(client.request(method, url).timeout(self.timeouts.request))
    }

    /// Sends and reads the whole answer, within the deadline set on the request.
    pub(crate) async fn send(&self, request: RequestBuilder) -> Result<Reply, TransportError> {
        let mut response = request.send().await?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) if body.len() + chunk.len() <= MAX_BODY_BYTES => {
                    body.extend_from_slice(&chunk);
                }
                Ok(Some(_)) => {
                    tracing::warn!(
                        http.status = status,
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
                        http.status = status,
                        reason = reason.reason(),
                        "gateway answer body unreadable"
                    );
                    body.clear();
                    break;
                }
            }
        }
        tracing::debug!(http.status = status, "gateway answered");
        Ok(Reply { status, body })
    }

    /// `GET {base}{path}`: a 2xx within the health deadline is healthy.
    pub(crate) async fn health(&self, path: &str) -> HealthOutcome {
        let started = Instant::now();
        let answer = match self
            .endpoint(path)
            .and_then(|url| self.request(Method::GET, url))
        {
            Ok(request) => self.send(request.timeout(self.timeouts.health)).await,
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
/// OpenSSL) and the operating system's root certificates.
fn tls_config() -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_root_certificates(native_roots())
        .with_no_client_auth();
    Ok(config)
}

/// Loaded once per process. An empty store still builds: https calls then fail at the
/// handshake (nothing sent, transient) while http ones work.
fn native_roots() -> Arc<rustls::RootCertStore> {
    static ROOTS: OnceLock<Arc<rustls::RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            let loaded = rustls_native_certs::load_native_certs();
            let (added, ignored) = roots.add_parsable_certificates(loaded.certs);
            if added == 0 {
                tracing::error!(
                    ignored,
                    "no CA root certificates loaded; https gateways will fail"
                );
            } else {
                tracing::debug!(added, ignored, "CA root certificates loaded");
            }
            Arc::new(roots)
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpSocket, TcpStream};

    fn transport(base_url: String, request: Duration) -> Transport {
        Transport::new(ConnectorConfig {
            base_url,
            timeouts: Timeouts {
                connect: Duration::from_secs(2),
                request,
                health: Duration::from_millis(500),
            },
        })
    }

    async fn get(transport: &Transport, path: &str) -> Result<Reply, TransportError> {
        let url = transport.endpoint(path)?;
        let request = transport.request(Method::GET, url)?;
        transport.send(request).await
    }

    /// A port that was just free: nothing listens there.
    async fn closed_port() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        format!("http://{addr}")
    }

    /// Accepts one connection, reads the request head, then lets `then` act on the socket.
    async fn one_shot_server<F, Fut>(then: F) -> String
    where
        F: FnOnce(TcpStream) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            then(socket).await;
        });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn connection_refused_is_not_sent() {
        let t = transport(closed_port().await, Duration::from_secs(2));
        let err = get(&t, "/v1/payments").await.unwrap_err();
        assert!(matches!(err, TransportError::NotSent(_)), "{err:?}");
    }

    #[tokio::test]
    async fn dns_failure_is_not_sent() {
        // A resolver that always fails stands in for DNS, so no query leaves the machine.
        struct NoDns;
        impl reqwest::dns::Resolve for NoDns {
            fn resolve(&self, _: reqwest::dns::Name) -> reqwest::dns::Resolving {
                Box::pin(async { Err("no such host".into()) })
            }
        }
        let client = reqwest::Client::builder()
            .dns_resolver(NoDns)
            .tls_backend_preconfigured(tls_config().unwrap())
            .build()
            .unwrap();
        let err = client
            .get("http://psp.test/health")
            .send()
            .await
            .unwrap_err();
        assert!(matches!(
            TransportError::from(err),
            TransportError::NotSent(_)
        ));
    }

    #[tokio::test]
    async fn connect_timeout_is_not_sent() {
        // A listener that never accepts, its backlog filled: further SYNs go unanswered.
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(1).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut fillers = Vec::new();
        for _ in 0..8 {
            if let Ok(Ok(stream)) =
                tokio::time::timeout(Duration::from_millis(100), TcpStream::connect(addr)).await
            {
                fillers.push(stream);
            }
        }
        let t = transport(format!("http://{addr}"), Duration::from_secs(1));
        let started = Instant::now();
        let err = get(&t, "/v1/payments").await.unwrap_err();
        assert!(matches!(err, TransportError::NotSent(_)), "{err:?}");
        // Capped at half the request deadline.
        assert!(started.elapsed() < Duration::from_millis(900));
        drop(listener);
    }

    #[tokio::test]
    async fn timeout_after_sending_is_unanswered() {
        let base = one_shot_server(|socket| async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            drop(socket);
        })
        .await;
        let t = transport(base, Duration::from_millis(300));
        let err = get(&t, "/v1/payments").await.unwrap_err();
        assert!(matches!(err, TransportError::Unanswered(_)), "{err:?}");
        assert!(err.reason().contains("timed out"), "{err:?}");
    }

    #[tokio::test]
    async fn connection_closed_after_sending_is_unanswered() {
        let base = one_shot_server(|socket| async move { drop(socket) }).await;
        let t = transport(base, Duration::from_secs(2));
        let err = get(&t, "/v1/payments").await.unwrap_err();
        assert!(matches!(err, TransportError::Unanswered(_)), "{err:?}");
    }

    #[tokio::test]
    async fn connection_reset_after_sending_is_unanswered() {
        let base = one_shot_server(|socket| async move {
            // Linger zero: closing sends RST instead of FIN.
            socket.set_zero_linger().unwrap();
            drop(socket);
        })
        .await;
        let t = transport(base, Duration::from_secs(2));
        let err = get(&t, "/v1/payments").await.unwrap_err();
        assert!(matches!(err, TransportError::Unanswered(_)), "{err:?}");
    }

    #[tokio::test]
    async fn status_line_then_dead_body_is_classified_by_status() {
        let base = one_shot_server(|mut socket| async move {
            let _ = socket
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 100\r\n\r\n{\"sta")
                .await;
            drop(socket);
        })
        .await;
        let t = transport(base, Duration::from_secs(2));
        let reply = get(&t, "/v1/payments").await.unwrap();
        assert_eq!(
            reply,
            Reply {
                status: 503,
                body: Vec::new()
            }
        );
    }

    #[tokio::test]
    async fn oversized_body_is_ignored() {
        let base = one_shot_server(|mut socket| async move {
            let size = MAX_BODY_BYTES + 10;
            let head = format!("HTTP/1.1 201 Created\r\nContent-Length: {size}\r\n\r\n");
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(&vec![b'a'; size]).await;
        })
        .await;
        let t = transport(base, Duration::from_secs(2));
        let reply = get(&t, "/v1/payments").await.unwrap();
        assert_eq!(
            reply,
            Reply {
                status: 201,
                body: Vec::new()
            }
        );
    }

    #[tokio::test]
    async fn unusable_base_url_is_not_sent_and_unhealthy() {
        for base in ["not a url", "ftp://psp.test", "http://psp.test/?x=1"] {
            let t = transport(base.to_owned(), Duration::from_secs(1));
            assert!(
                matches!(t.endpoint("/health"), Err(TransportError::NotSent(_))),
                "{base}"
            );
            assert!(matches!(
                t.health("/health").await,
                HealthOutcome::Unhealthy { .. }
            ));
        }
    }

    #[test]
    fn base_url_keeps_its_prefix_without_trailing_slash() {
        assert_eq!(
            parse_base("https://psp.test/api/").unwrap(),
            "https://psp.test/api"
        );
        assert_eq!(
            parse_base("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
    }

    #[tokio::test]
    async fn health_is_unhealthy_when_nothing_listens() {
        let t = transport(closed_port().await, Duration::from_secs(1));
        assert!(matches!(
            t.health("/health").await,
            HealthOutcome::Unhealthy { .. }
        ));
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("ééé".to_owned(), 3), "é");
        assert_eq!(truncate("abc".to_owned(), 10), "abc");
    }
}

//! A local stand-in for the Lambda Runtime API (`AWS_LAMBDA_RUNTIME_API`), enough for
//! `lambda_runtime` to start, take invocations and answer them:
//!
//! * `GET /2018-06-01/runtime/invocation/next`: waits for the next event queued with
//!   [`RuntimeApi::invoke`], then answers it with the headers Lambda sends
//!   (`Lambda-Runtime-Aws-Request-Id`, `-Deadline-Ms`, `-Invoked-Function-Arn`,
//!   `-Trace-Id`). The first such request marks the end of the function's init.
//! * `POST /2018-06-01/runtime/invocation/{id}/response` and `.../{id}/error`: the
//!   outcome of an invocation, `202`.
//! * `POST /2018-06-01/runtime/init/error`: a failed init, `202`.

use crate::{Error, Result};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, get, post};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{Mutex, Notify, mpsc};

const NEXT: &str = "/2018-06-01/runtime/invocation/next";
const RESPONSE: &str = "/2018-06-01/runtime/invocation/{id}/response";
const ERROR: &str = "/2018-06-01/runtime/invocation/{id}/error";
const INIT_ERROR: &str = "/2018-06-01/runtime/init/error";
/// The deadline each invocation is given (the template's function time-out).
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(30);

/// What the function reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `.../{id}/response` with its body.
    Response { request_id: String, body: String },
    /// `.../{id}/error` with its body.
    Error { request_id: String, body: String },
    /// `/runtime/init/error` with its body.
    InitError { body: String },
}

struct Shared {
    function_arn: String,
    /// When the first `GET .../next` arrived.
    first_next: OnceLock<Instant>,
    first_next_seen: Notify,
    events: Mutex<mpsc::UnboundedReceiver<(String, Bytes)>>,
    outcomes: mpsc::UnboundedSender<Outcome>,
}

/// The running stand-in; dropping it stops the server.
pub struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    events: mpsc::UnboundedSender<(String, Bytes)>,
    outcomes: mpsc::UnboundedReceiver<Outcome>,
    next_id: AtomicU64,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    /// Serves on a free port of 127.0.0.1 for the function `function_name`.
    pub async fn start(function_name: &str) -> Result<RuntimeApi> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(Error::io("bind the Runtime API stand-in"))?;
        let addr = listener
            .local_addr()
            .map_err(Error::io("read the stand-in's address"))?;
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (outcomes_tx, outcomes_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}"),
            first_next: OnceLock::new(),
            first_next_seen: Notify::new(),
            events: Mutex::new(events_rx),
            outcomes: outcomes_tx,
        });
        let app = Router::new()
            .route(NEXT, get(next))
            .route(
                RESPONSE,
                invocation_outcome(|request_id, body| Outcome::Response { request_id, body }),
            )
            .route(
                ERROR,
                invocation_outcome(|request_id, body| Outcome::Error { request_id, body }),
            )
            .route(INIT_ERROR, post(init_error))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(RuntimeApi {
            addr,
            shared,
            events: events_tx,
            outcomes: outcomes_rx,
            next_id: AtomicU64::new(1),
            server,
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// When the first `GET .../next` arrived; waits for it.
    pub async fn first_next(&self) -> Instant {
        loop {
            let seen = self.shared.first_next_seen.notified();
            if let Some(at) = self.shared.first_next.get() {
                return *at;
            }
            seen.await;
        }
    }

    /// Queues `event` for the next `GET .../next`; returns its request id.
    pub fn invoke(&self, event: impl Into<Bytes>) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let request_id = format!("00000000-0000-4000-8000-{n:012}");
        // The receiver lives in `shared` as long as we do.
        let _ = self.events.send((request_id.clone(), event.into()));
        request_id
    }

    /// The next outcome the function reported (`None` once the server has stopped).
    pub async fn outcome(&mut self) -> Option<Outcome> {
        self.outcomes.recv().await
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    if shared.first_next.set(Instant::now()).is_ok() {
        shared.first_next_seen.notify_waiters();
    }
    let mut events = shared.events.lock().await;
    let Some((request_id, body)) = events.recv().await else {
        return StatusCode::GONE.into_response();
    };
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        + INVOCATION_TIMEOUT;
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", request_id.clone());
    set(
        "lambda-runtime-deadline-ms",
        deadline.as_millis().to_string(),
    );
    set(
        "lambda-runtime-invoked-function-arn",
        shared.function_arn.clone(),
    );
    set(
        "lambda-runtime-trace-id",
        format!(
            "Root=1-00000000-{:024x};Parent=0000000000000001;Sampled=0",
            deadline.as_millis()
        ),
    );
    set("content-type", "application/json".to_owned());
    (StatusCode::OK, headers, body).into_response()
}

/// Hands what the function reported to [`RuntimeApi::outcome`]; answers `202`.
fn report(shared: &Shared, outcome: Outcome) -> impl IntoResponse + use<> {
    let _ = shared.outcomes.send(outcome);
    (
        StatusCode::ACCEPTED,
        [("content-type", "application/json")],
        "{\"status\":\"OK\"}",
    )
}

fn text(body: &Bytes) -> String {
    String::from_utf8_lossy(body).into_owned()
}

/// `POST .../{id}/response` or `.../{id}/error`: `outcome` of the request id and the body.
fn invocation_outcome(outcome: fn(String, String) -> Outcome) -> MethodRouter<Arc<Shared>> {
    post(
        move |shared: State<Arc<Shared>>, request_id: Path<String>, body: Bytes| async move {
            report(&shared, outcome(request_id.0, text(&body)))
        },
    )
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> impl IntoResponse {
    report(&shared, Outcome::InitError { body: text(&body) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::Connection;

    #[tokio::test]
    async fn a_function_takes_an_event_and_answers_it() {
        let mut api = RuntimeApi::start("hello").await.unwrap();
        let mut client = Connection::open(api.addr()).await.unwrap();

        let started = Instant::now();
        let request_id = api.invoke(r#"{"ping":1}"#);
        let next = client.get(NEXT).await.unwrap();
        assert_eq!(next.status, 200);
        assert_eq!(next.body, r#"{"ping":1}"#);
        assert_eq!(
            next.header("lambda-runtime-aws-request-id"),
            Some(request_id.as_str())
        );
        assert_eq!(
            next.header("lambda-runtime-invoked-function-arn"),
            Some("arn:aws:lambda:us-east-1:123456789012:function:hello")
        );
        let deadline: u128 = next
            .header("lambda-runtime-deadline-ms")
            .unwrap()
            .parse()
            .unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis();
        assert!(deadline > now && deadline <= now + 30_000);
        assert!(
            next.header("lambda-runtime-trace-id")
                .unwrap()
                .starts_with("Root=1-")
        );
        assert!(api.first_next().await >= started);

        let path = format!("/2018-06-01/runtime/invocation/{request_id}/response");
        let answer = client.post(&path, "{\"pong\":1}").await.unwrap();
        assert_eq!(answer.status, 202);
        assert_eq!(
            api.outcome().await,
            Some(Outcome::Response {
                request_id: request_id.clone(),
                body: "{\"pong\":1}".into()
            })
        );

        let second = api.invoke("{}");
        let next = client.get(NEXT).await.unwrap();
        assert_eq!(
            next.header("lambda-runtime-aws-request-id"),
            Some(second.as_str())
        );
        let path = format!("/2018-06-01/runtime/invocation/{second}/error");
        assert_eq!(
            client
                .post(&path, "{\"errorType\":\"x\"}")
                .await
                .unwrap()
                .status,
            202
        );
        assert!(
            matches!(api.outcome().await, Some(Outcome::Error { request_id, .. }) if request_id == second)
        );

        assert_eq!(client.post(INIT_ERROR, "boom").await.unwrap().status, 202);
        assert_eq!(
            api.outcome().await,
            Some(Outcome::InitError {
                body: "boom".into()
            })
        );
    }

    #[tokio::test]
    async fn next_waits_for_an_event() {
        let api = RuntimeApi::start("hello").await.unwrap();
        let mut client = Connection::open(api.addr()).await.unwrap();
        let waiting = tokio::time::timeout(Duration::from_millis(100), client.get(NEXT)).await;
        assert!(waiting.is_err(), "answered without an event");
    }
}

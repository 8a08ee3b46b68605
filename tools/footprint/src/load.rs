//! The load generator: `connections` HTTP/1 connections, each sending one request at a
//! time for a warm-up and then a measured window; every answer's latency inside the
//! window is kept. Also the one-connection client the other modules use.

use crate::{Error, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{HeaderMap, Method, Request};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One kept-alive HTTP/1 connection, one request at a time.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

/// An answer, its body read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

fn http_error(e: impl std::fmt::Display) -> Error {
    Error::Http(e.to_string())
}

impl Connection {
    pub async fn open(addr: SocketAddr) -> Result<Connection> {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(Error::io(format!("connect to {addr}")))?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(http_error)?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Connection {
            sender,
            host: addr.to_string(),
        })
    }

    /// A request to this connection's host (the `Host` header is added).
    pub fn request(&self, method: Method, path: &str) -> hyper::http::request::Builder {
        Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host)
    }

    pub async fn send(&mut self, request: Request<Full<Bytes>>) -> Result<Reply> {
        self.sender.ready().await.map_err(http_error)?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(http_error)?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(http_error)?.to_bytes();
        Ok(Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }

    pub async fn get(&mut self, path: &str) -> Result<Reply> {
        let request = self
            .request(Method::GET, path)
            .body(Full::default())
            .map_err(http_error)?;
        self.send(request).await
    }

    pub async fn post(&mut self, path: &str, body: &str) -> Result<Reply> {
        let request = self
            .request(Method::POST, path)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_owned())))
            .map_err(http_error)?;
        self.send(request).await
    }
}

/// Makes request number `n` (numbers are unique across connections) for a connection.
pub type MakeRequest = dyn Fn(&Connection, u64) -> Request<Full<Bytes>> + Send + Sync;

/// How to load a server.
pub struct Load {
    pub addr: SocketAddr,
    pub connections: usize,
    /// Sent but not counted: lets the server reach its steady state.
    pub warmup: Duration,
    /// The measured window, after the warm-up.
    pub window: Duration,
    /// Answers with this status count as accepted; any other as refused.
    pub accepted_status: u16,
}

/// What the window saw.
#[derive(Debug, Default)]
pub struct Report {
    /// Answers with the accepted status completed in the window.
    pub accepted: u64,
    /// Other answers and failed requests in the window.
    pub refused: u64,
    /// The accepted answers' latencies, in microseconds, sorted.
    pub latencies_us: Vec<u32>,
    pub window: Duration,
    /// The first refusal seen, for the message.
    pub first_refusal: Option<String>,
}

impl Report {
    pub fn per_second(&self) -> f64 {
        self.accepted as f64 / self.window.as_secs_f64()
    }
}

/// Runs `load`, each request made by `make`; returns once the window has passed.
pub async fn run(load: &Load, make: Arc<MakeRequest>) -> Result<Report> {
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let window_start = start + load.warmup;
    let window_end = window_start + load.window;
    let mut workers = Vec::new();
    for _ in 0..load.connections {
        let connection = Connection::open(load.addr).await?;
        workers.push(tokio::spawn(worker(
            connection,
            load.addr,
            make.clone(),
            counter.clone(),
            load.accepted_status,
            (window_start, window_end),
        )));
    }
    let mut report = Report {
        window: load.window,
        ..Report::default()
    };
    for worker in workers {
        let part = worker.await.map_err(http_error)?;
        report.accepted += part.accepted;
        report.refused += part.refused;
        report.latencies_us.extend(part.latencies_us);
        report.first_refusal = report.first_refusal.or(part.first_refusal);
    }
    report.latencies_us.sort_unstable();
    Ok(report)
}

async fn worker(
    mut connection: Connection,
    addr: SocketAddr,
    make: Arc<MakeRequest>,
    counter: Arc<AtomicU64>,
    accepted_status: u16,
    (window_start, window_end): (Instant, Instant),
) -> Report {
    let mut part = Report::default();
    loop {
        let n = counter.fetch_add(1, Ordering::Relaxed);
        let request = make(&connection, n);
        let sent = Instant::now();
        let result = connection.send(request).await;
        let done = Instant::now();
        if done >= window_end {
            return part;
        }
        let counted = sent >= window_start;
        match result {
            Ok(reply) if reply.status == accepted_status => {
                if counted {
                    part.accepted += 1;
                    let micros = (done - sent).as_micros();
                    part.latencies_us
                        .push(u32::try_from(micros).unwrap_or(u32::MAX));
                }
            }
            Ok(reply) => {
                if counted {
                    part.refused += 1;
                }
                part.first_refusal
                    .get_or_insert_with(|| format!("{} {}", reply.status, reply.body));
            }
            Err(error) => {
                if counted {
                    part.refused += 1;
                }
                part.first_refusal.get_or_insert_with(|| error.to_string());
                match Connection::open(addr).await {
                    Ok(fresh) => connection = fresh,
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::post;

    #[tokio::test]
    async fn the_window_counts_accepted_answers_with_their_latencies() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route(
            "/echo",
            post(|body: String| async move {
                if body.ends_with('7') {
                    (axum::http::StatusCode::CONFLICT, body)
                } else {
                    (axum::http::StatusCode::ACCEPTED, body)
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        let load = Load {
            addr,
            connections: 2,
            warmup: Duration::from_millis(50),
            window: Duration::from_millis(200),
            accepted_status: 202,
        };
        let make: Arc<MakeRequest> = Arc::new(|connection, n| {
            connection
                .request(Method::POST, "/echo")
                .body(Full::new(Bytes::from(n.to_string())))
                .unwrap()
        });
        let report = run(&load, make).await.unwrap();
        assert!(report.accepted > 10, "{report:?}");
        assert!(
            report.refused > 0 && report.refused < report.accepted,
            "{report:?}"
        );
        assert_eq!(report.latencies_us.len() as u64, report.accepted);
        assert!(report.latencies_us.is_sorted());
        assert!(report.first_refusal.as_deref().unwrap().starts_with("409 "));
        assert!(report.per_second() > 50.0);
    }
}

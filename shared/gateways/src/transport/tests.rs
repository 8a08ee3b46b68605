//! The production exchange over real sockets: what counts as sent, what as unanswered.

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
    transport.send(Method::GET, url, &[], Vec::new()).await
}

/// `GET /v1/payments` from the server at `base`, within a 2 s request deadline.
async fn get_payments(base: String) -> Result<Reply, TransportError> {
    get(&transport(base, Duration::from_secs(2)), "/v1/payments").await
}

/// What the transport keeps of an answer whose body it could not read whole: the status.
fn without_body(status: u16) -> Reply {
    Reply {
        status,
        body: Vec::new(),
    }
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
    let err = get_payments(closed_port().await).await.unwrap_err();
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
    let err = get_payments(base).await.unwrap_err();
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
    let err = get_payments(base).await.unwrap_err();
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
    assert_eq!(get_payments(base).await.unwrap(), without_body(503));
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
    assert_eq!(get_payments(base).await.unwrap(), without_body(201));
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

#[path = "../../tests/common/canned.rs"]
mod canned;

/// What the connector handed to the seam: each request and its deadline.
type Seen = Arc<std::sync::Mutex<Vec<(http::Request<Vec<u8>>, Duration)>>>;

/// A transport over a seam that records what it is handed and answers `answer`.
fn over(answer: Result<(u16, Vec<u8>), TransportError>) -> (Transport, Seen) {
    let seen = Seen::default();
    let record = seen.clone();
    let canned = canned::Canned(move |request, deadline| {
        record.lock().unwrap().push((request, deadline));
        answer.clone()
    });
    let config = ConnectorConfig {
        base_url: "https://psp.test/api/".into(),
        timeouts: Timeouts {
            connect: Duration::from_secs(1),
            request: Duration::from_secs(4),
            health: Duration::from_millis(700),
        },
    };
    (Transport::over(config, Arc::new(canned)), seen)
}

#[tokio::test]
async fn the_seam_gets_a_complete_request_and_the_request_deadline() {
    let (t, seen) = over(Ok((201, b"{}".to_vec())));
    let url = t
        .endpoint_with_query("/v1/payments", "idempotency_key", "d 1:&x")
        .unwrap();
    let reply = t
        .send(
            Method::POST,
            url,
            &[("Idempotency-Key", "d1:1")],
            b"body".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 201);
    let seen = seen.lock().unwrap();
    let (request, deadline) = &seen[0];
    assert_eq!(*deadline, Duration::from_secs(4));
    assert_eq!(request.method(), Method::POST);
    assert_eq!(
        request.uri().to_string(),
        "https://psp.test/api/v1/payments?idempotency_key=d+1%3A%26x"
    );
    assert_eq!(request.headers()["idempotency-key"], "d1:1");
    assert_eq!(request.body(), b"body");
}

#[tokio::test]
async fn ids_are_one_percent_encoded_path_segment() {
    let (t, seen) = over(Ok((200, Vec::new())));
    let url = t.endpoint_with_segment("/v1/payments", "../x?y").unwrap();
    t.send(Method::GET, url, &[], Vec::new()).await.unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen[0].0.uri().to_string(),
        "https://psp.test/api/v1/payments/..%2Fx%3Fy"
    );
}

#[tokio::test]
async fn a_header_http_cannot_carry_is_not_sent() {
    let (t, seen) = over(Ok((200, Vec::new())));
    let url = t.endpoint("/v1/payments").unwrap();
    let err = t
        .send(
            Method::POST,
            url,
            &[("Idempotency-Key", "a\nb")],
            Vec::new(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::NotSent(_)), "{err:?}");
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn oversized_answers_from_the_seam_are_ignored_too() {
    let (t, _) = over(Ok((200, vec![b'a'; MAX_BODY_BYTES + 1])));
    let url = t.endpoint("/health").unwrap();
    let reply = t.send(Method::GET, url, &[], Vec::new()).await.unwrap();
    assert!(reply.body.is_empty());
}

#[tokio::test]
async fn health_goes_through_the_seam_with_the_health_deadline() {
    let (t, seen) = over(Ok((200, b"OK".to_vec())));
    assert!(matches!(
        t.health("/health").await,
        HealthOutcome::Healthy { .. }
    ));
    let (t2, _) = over(Err(TransportError::Unanswered("timed out".into())));
    assert!(matches!(
        t2.health("/health").await,
        HealthOutcome::Unhealthy { reason, .. } if reason == "timed out"
    ));
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].1, Duration::from_millis(700));
    assert_eq!(seen[0].0.uri().to_string(), "https://psp.test/api/health");
}

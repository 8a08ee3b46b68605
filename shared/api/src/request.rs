//! Reading the parts of a request every endpoint needs.

use http::HeaderMap;
use paygate_domain::CorrelationId;
use paygate_domain::ports::ApiKey;

pub const CORRELATION_HEADER: &str = "x-correlation-id";
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// The API key from `Authorization: Bearer <key>`, if well-formed.
pub fn bearer_key(headers: &HeaderMap) -> Option<ApiKey> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = value.split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty() && key.len() <= 256)
        .then(|| ApiKey::new(key))
}

/// The caller's correlation id if usable, else the platform's request id, else `fallback`.
pub fn correlation_id(headers: &HeaderMap, fallback: impl FnOnce() -> String) -> CorrelationId {
    headers
        .get(CORRELATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(CorrelationId::from_header)
        .unwrap_or_else(|| CorrelationId(fallback()))
}

/// A header's value: `None` when absent, `Some(Err(NotAscii))` when present but not
/// visible ASCII, so "missing" and "malformed" stay distinguishable.
pub fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<Result<&'a str, NotAscii>> {
    headers.get(name).map(|v| v.to_str().map_err(|_| NotAscii))
}

/// A header value that is not visible ASCII.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAscii;

/// The body API Gateway hands a function for these bytes: none, text when it is UTF-8,
/// binary otherwise (for the local stack and tests that play API Gateway).
pub fn lambda_body(bytes: &[u8]) -> lambda_http::Body {
    if bytes.is_empty() {
        return lambda_http::Body::Empty;
    }
    match String::from_utf8(bytes.to_vec()) {
        Ok(text) => lambda_http::Body::Text(text),
        Err(raw) => lambda_http::Body::Binary(raw.into_bytes()),
    }
}

/// The HTTP response API Gateway sends for a handler's response: the same parts, the body
/// as its text or bytes (for the local stack and tests that play API Gateway).
pub fn http_response<B>(response: lambda_http::Response<lambda_http::Body>) -> http::Response<B>
where
    B: From<String> + From<Vec<u8>> + Default,
{
    let (parts, body) = response.into_parts();
    let body = match body {
        lambda_http::Body::Text(text) => B::from(text),
        lambda_http::Body::Binary(bytes) => B::from(bytes),
        _ => B::default(),
    };
    http::Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn bearer_keys_need_the_scheme_and_a_value() {
        let mut headers = HeaderMap::new();
        assert!(bearer_key(&headers).is_none());
        headers.insert("authorization", HeaderValue::from_static("Basic abc"));
        assert!(bearer_key(&headers).is_none());
        headers.insert("authorization", HeaderValue::from_static("Bearer "));
        assert!(bearer_key(&headers).is_none());
        headers.insert(
            "authorization",
            HeaderValue::from_static("Bearer sk_test_1"),
        );
        assert_eq!(
            bearer_key(&headers).unwrap().hash(),
            ApiKey::new("sk_test_1").hash()
        );
    }

    #[test]
    fn unsafe_correlation_ids_are_replaced() {
        let mut headers = HeaderMap::new();
        headers.insert(CORRELATION_HEADER, HeaderValue::from_static("abc-123"));
        assert_eq!(correlation_id(&headers, || "x".into()).0, "abc-123");
        headers.insert(CORRELATION_HEADER, HeaderValue::from_static("has space"));
        assert_eq!(correlation_id(&headers, || "fallback".into()).0, "fallback");
    }

    #[test]
    fn a_lambda_response_keeps_its_parts_and_body_over_http() {
        for (body, expected) in [
            (lambda_http::Body::Text("{}".into()), b"{}".to_vec()),
            (lambda_http::Body::Binary(vec![0xff]), vec![0xff]),
            (lambda_http::Body::Empty, Vec::new()),
        ] {
            let response = http::Response::builder()
                .status(202)
                .header("location", "/v1/deposits/1")
                .body(body)
                .unwrap();
            let served: http::Response<Vec<u8>> = http_response(response);
            assert_eq!(served.status(), 202);
            assert_eq!(served.headers()["location"], "/v1/deposits/1");
            assert_eq!(served.body(), &expected);
        }
    }
}

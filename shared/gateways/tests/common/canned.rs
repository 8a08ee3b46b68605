//! An exchange that answers every request with what a function makes of it: no network.
//! Shared by the transport's unit tests and the classification table; both parents bring
//! `HttpExchange` and `TransportError` into scope.

use super::{HttpExchange, TransportError};
use async_trait::async_trait;
use std::time::Duration;

/// Answers `(HTTP status, body)` or a transport failure, as the function says for the
/// request and the deadline it was handed.
pub struct Canned<F>(pub F);

#[async_trait]
impl<F> HttpExchange for Canned<F>
where
    F: Fn(http::Request<Vec<u8>>, Duration) -> Result<(u16, Vec<u8>), TransportError> + Send + Sync,
{
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
        deadline: Duration,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let (status, body) = (self.0)(request, deadline)?;
        let mut response = http::Response::new(body);
        *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
        Ok(response)
    }
}

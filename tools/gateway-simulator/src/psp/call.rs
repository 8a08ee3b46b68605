//! What both formats share: the calls a PSP understands, the answers it gives (put into
//! words by `json` or `soap`), and the small amount of HTTP reading they need.

use super::ledger::{
    Lookup, NewPayment, NewPayout, NewRefund, PaymentRecord, PayoutRecord, RefundError,
    RefundRecord,
};

/// A request, taken off the wire and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Call {
    CreatePayment(NewPayment),
    PaymentStatus(Lookup),
    Refund(NewRefund),
    RefundStatus(Lookup),
    CreatePayout(NewPayout),
    PayoutStatus(Lookup),
    Health,
}

impl Call {
    /// The idempotency key of a mutating call.
    pub fn key(&self) -> Option<&str> {
        match self {
            Call::CreatePayment(new) => Some(&new.order.idempotency_key),
            Call::Refund(new) => Some(&new.idempotency_key),
            Call::CreatePayout(new) => Some(&new.order.idempotency_key),
            _ => None,
        }
    }
}

/// `call(new)`, or the request refused as invalid when `new` has a problem.
pub(crate) fn checked<T>(
    new: T,
    problem: impl FnOnce(&T) -> Option<String>,
    call: impl FnOnce(T) -> Call,
) -> Result<Call, Refusal> {
    match problem(&new) {
        Some(problem) => Err(Refusal::Invalid(problem)),
        None => Ok(call(new)),
    }
}

/// Why a request is answered at once, before any work is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The request is wrong (400 / `soap:Client` `InvalidRequest`).
    Invalid(String),
    NoRoute,
    MethodNotAllowed,
}

/// What the PSP says, before a format puts it into words.
#[derive(Debug)]
pub(crate) enum Answer<'a> {
    /// The create answer (replayed as is for the same key).
    Created(&'a PaymentRecord),
    Payment(&'a PaymentRecord),
    PaymentNotFound,
    RefundCreated(&'a RefundRecord),
    Refund(&'a RefundRecord),
    RefundNotFound,
    RefundRefused(RefundError),
    /// The create answer (replayed as is for the same key).
    PayoutCreated(&'a PayoutRecord),
    Payout(&'a PayoutRecord),
    PayoutNotFound,
    /// Unavailable, nothing was done (outage, injected error).
    Unavailable,
    /// An earlier request with the same key is still being worked on.
    KeyInFlight(u16),
    Health(bool),
}

pub(crate) type Response = http::Response<Vec<u8>>;

pub(crate) fn response(status: u16, content_type: &str, body: Vec<u8>) -> Response {
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, content_type)
        .body(body)
        .expect("a valid status and content type")
}

/// A header's value, trimmed; `None` if absent, blank or not text.
pub(crate) fn header<'r>(request: &'r http::Request<Vec<u8>>, name: &str) -> Option<&'r str> {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// A form-encoded query parameter (`+` is a space), non-empty.
pub(crate) fn query_param(uri: &http::Uri, name: &str) -> Option<String> {
    uri.query()?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(&key.replace('+', " "))?;
        if key != name {
            return None;
        }
        percent_decode(&value.replace('+', " ")).filter(|v| !v.is_empty())
    })
}

/// `%XX` escapes decoded; `None` for a broken escape or bytes that are not UTF-8.
pub(crate) fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The one segment after `prefix/` in `path`, decoded (`/v1/payments/{id}`).
pub(crate) fn id_after(path: &str, prefix: &str) -> Option<String> {
    let segment = path.strip_prefix(prefix)?.strip_prefix('/')?;
    if segment.is_empty() || segment.contains('/') {
        return None;
    }
    percent_decode(segment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_form_decoded() {
        let uri: http::Uri = "/v1/payments?x=1&idempotency_key=d+1%3A%26x"
            .parse()
            .unwrap();
        assert_eq!(
            query_param(&uri, "idempotency_key").as_deref(),
            Some("d 1:&x")
        );
        assert_eq!(query_param(&uri, "missing"), None);
        let empty: http::Uri = "/v1/payments?idempotency_key=".parse().unwrap();
        assert_eq!(query_param(&empty, "idempotency_key"), None);
    }

    #[test]
    fn ids_are_one_decoded_segment() {
        assert_eq!(
            id_after("/v1/payments/pay_1", "/v1/payments").as_deref(),
            Some("pay_1")
        );
        assert_eq!(
            id_after("/v1/payments/..%2Fx%3Fy", "/v1/payments").as_deref(),
            Some("../x?y")
        );
        assert_eq!(id_after("/v1/payments/a/b", "/v1/payments"), None);
        assert_eq!(id_after("/v1/payments/", "/v1/payments"), None);
        assert_eq!(id_after("/v1/paymentsx", "/v1/payments"), None);
        assert_eq!(id_after("/v1/payments/%zz", "/v1/payments"), None);
    }
}

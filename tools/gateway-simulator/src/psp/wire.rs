//! The wire: which format reads a request and words an answer.

use super::call::{Answer, Call, Refusal, Response};
use super::{json, soap};
use crate::Format;

pub(crate) fn parse(format: Format, request: &http::Request<Vec<u8>>) -> Result<Call, Refusal> {
    match format {
        Format::Json => json::parse(request),
        Format::Soap => soap::parse(request),
    }
}

pub(crate) fn refuse(format: Format, refusal: Refusal) -> Response {
    match format {
        Format::Json => json::refuse(refusal),
        Format::Soap => soap::refuse(refusal),
    }
}

pub(crate) fn render(format: Format, answer: Answer<'_>) -> Response {
    match format {
        Format::Json => json::render(answer),
        Format::Soap => soap::render(answer),
    }
}

//! The HTTP edge shared by paygate's HTTP functions and the local stack: what merchants
//! see (API models), the single error shape every failure uses, and request helpers.
//! Domain types never leak to the wire directly, so either side can change alone.

pub mod error;
pub mod json;
pub mod list;
pub mod models;
pub mod request;
pub mod spec;

pub use error::{ApiError, ErrorCode, ErrorType};

/// The OpenAPI 3.1 description of the merchant API and the webhook endpoint
/// (`shared/api/openapi.json`), as the devstack serves it at `GET /openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

#[cfg(test)]
mod tests {
    #[test]
    fn the_openapi_document_is_an_openapi_3_1_json_document() {
        let document: serde_json::Value =
            serde_json::from_str(super::OPENAPI_JSON).expect("openapi.json is JSON");
        assert_eq!(document["openapi"], "3.1.0");
        assert!(document["paths"].as_object().is_some_and(|p| !p.is_empty()));
    }
}

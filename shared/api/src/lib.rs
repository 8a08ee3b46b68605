//! The HTTP edge shared by paygate's HTTP functions and the local stack: what merchants
//! see (API models), the single error shape every failure uses, and request helpers.
//! Domain types never leak to the wire directly, so either side can change alone.

pub mod error;
pub mod json;
pub mod models;
pub mod request;
pub mod telemetry;

pub use error::{ApiError, ErrorType};

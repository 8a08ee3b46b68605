//! The hello-world Lambda: `lambda_runtime` answering every event with a greeting.
//! `cargo xtask bench` compares each function's init time, peak memory and zip size
//! with this floor (same release profile, same runtime crate).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

async fn hello(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!({ "message": "hello", "request_id": event.context.request_id }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(hello)).await
}

//! The local stack: hosts the same handler code the Lambdas run, behind one HTTP address.

mod http_bridge;
mod settings;
mod wiring;

pub use settings::{Backend, Settings};

use std::io::Write;
use tokio::net::TcpListener;

/// Binds, prints where to send requests, and serves until Ctrl-C.
pub async fn run(settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    let stack = wiring::build(&settings).await?;
    let listener = TcpListener::bind(&settings.addr).await?;
    let base_url = format!("http://{}", listener.local_addr()?);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "paygate devstack ({} backend)",
        settings.backend.name()
    )?;
    writeln!(out, "  base URL:  {base_url}")?;
    writeln!(out, "  merchant:  {}", stack.merchant)?;
    writeln!(out, "  API key:   {}", settings.api_key_for_display())?;
    writeln!(
        out,
        "  try:       curl -s -X POST {base_url}/v1/deposits \\"
    )?;
    writeln!(
        out,
        "               -H 'Authorization: Bearer {}' \\",
        settings.api_key_for_display()
    )?;
    writeln!(
        out,
        "               -H 'Idempotency-Key: demo-1' -H 'Content-Type: application/json' \\"
    )?;
    writeln!(
        out,
        "               -d '{{\"amount\":10099,\"currency\":\"AED\",\"country\":\"AE\",\"customer_id\":\"cus_42\"}}'"
    )?;
    out.flush()?;
    drop(out);
    axum::serve(listener, http_bridge::router(stack.intake))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

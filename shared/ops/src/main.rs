//! `paygate-ops`: see the library's documentation, or run `paygate-ops help`.

use paygate_aws::Resources;
use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = std::env::args_os().skip(1).collect();
    let code = paygate_ops::cli(
        args,
        &Resources::from_env(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
    .await;
    ExitCode::from(code)
}

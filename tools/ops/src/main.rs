//! `paygate-ops`: see the library's documentation, or run `paygate-ops help`.

use paygate_aws::Resources;
use paygate_ops::Input;
use std::io::IsTerminal;
use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = std::env::args_os().skip(1).collect();
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    let code = paygate_ops::cli_with_input(
        args,
        &Resources::from_env(),
        Input {
            reader: &mut stdin.lock(),
            terminal,
            progress: std::io::stderr().is_terminal(),
        },
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
    .await;
    ExitCode::from(code)
}

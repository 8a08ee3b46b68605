//! `cargo run --release -p devstack`: the whole system on one address, on in-memory
//! adapters by default (`--backend aws`, built with `--features aws`, uses `AWS_ENDPOINT_URL` instead).

use devstack::{Settings, run};

#[tokio::main]
async fn main() {
    paygate_telemetry::init();
    let settings = match Settings::from_args_and_env(std::env::args().skip(1), |name| {
        std::env::var(name).ok()
    }) {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("{message}\n\n{}", Settings::USAGE);
            std::process::exit(2);
        }
    };
    if let Err(error) = run(settings).await {
        eprintln!("devstack failed: {error}");
        std::process::exit(1);
    }
}

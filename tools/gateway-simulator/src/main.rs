//! `gateway-simulator --gateway name:format:port [--gateway ...] [--webhook-base-url URL]`
//!
//! Runs one simulated PSP per `--gateway` on 127.0.0.1 (port 0 picks a free one) until
//! Ctrl-C. Each gateway's webhook secret comes from `PAYGATE_SIM_SECRET_<NAME>` (the name
//! upper-cased, `-` as `_`); without it a random dev secret is generated and printed.
//! Prints one `gateway <name> <format> <base url>` line per gateway, then `ready`.

use std::io::IsTerminal;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use gateway_simulator::{Format, GatewaySpec, spawn};
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

const USAGE: &str = "usage: gateway-simulator --gateway NAME:FORMAT:PORT [--gateway ...] [--webhook-base-url URL]
  FORMAT is json or soap; PORT 0 picks a free port.
  Webhook secrets: env PAYGATE_SIM_SECRET_<NAME> (upper case, '-' as '_'), else a random dev secret.";

struct Args {
    gateways: Vec<(String, Format, u16)>,
    webhook_base_url: Option<String>,
}

fn parse_gateway(value: &str) -> Result<(String, Format, u16), String> {
    let mut parts = value.split(':');
    let (Some(name), Some(format), Some(port), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("--gateway {value:?}: expected NAME:FORMAT:PORT"));
    };
    let format = format
        .parse::<Format>()
        .map_err(|e| format!("--gateway {value:?}: {e}"))?;
    let port = port
        .parse::<u16>()
        .map_err(|e| format!("--gateway {value:?}: bad port: {e}"))?;
    Ok((name.to_owned(), format, port))
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        gateways: Vec::new(),
        webhook_base_url: None,
    };
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg, None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--gateway" => parsed.gateways.push(parse_gateway(&value()?)?),
            "--webhook-base-url" => parsed.webhook_base_url = Some(value()?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if parsed.gateways.is_empty() {
        return Err("at least one --gateway is required".into());
    }
    Ok(parsed)
}

fn secret_env_var(name: &str) -> String {
    let upper: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("PAYGATE_SIM_SECRET_{upper}")
}

#[tokio::main]
async fn main() -> ExitCode {
    let filter: Targets = std::env::var("RUST_LOG")
        .ok()
        .and_then(|directives| directives.parse().ok())
        .unwrap_or_else(|| Targets::new().with_target("gateway_simulator", Level::INFO));
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .finish()
        .with(filter)
        .init();

    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            if message.is_empty() {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            eprintln!("gateway-simulator: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };

    let mut running = Vec::new();
    for (name, format, port) in args.gateways {
        let env_var = secret_env_var(&name);
        let secret = match std::env::var(&env_var) {
            Ok(secret) if !secret.is_empty() => secret,
            _ => {
                let secret = format!("whsec_dev_{}", uuid::Uuid::new_v4().simple());
                println!("secret {name} {secret} (random dev secret; set {env_var} to choose one)");
                secret
            }
        };
        let spec = GatewaySpec {
            name: name.clone(),
            format,
            secret,
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            webhook_base_url: args.webhook_base_url.clone(),
        };
        match spawn(spec).await {
            Ok(gateway) => {
                println!(
                    "gateway {} {} {}",
                    gateway.name(),
                    gateway.format(),
                    gateway.base_url()
                );
                running.push(gateway);
            }
            Err(error) => {
                eprintln!("gateway-simulator: cannot start {name} on port {port}: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    println!("ready");

    if let Err(error) = tokio::signal::ctrl_c().await {
        eprintln!("gateway-simulator: cannot wait for Ctrl-C: {error}");
        return ExitCode::FAILURE;
    }
    drop(running);
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Args, String> {
        parse_args(list.iter().map(|s| s.to_string()))
    }

    #[test]
    fn parses_repeated_gateways_and_the_webhook_url() {
        let parsed = args(&[
            "--gateway",
            "acme:json:0",
            "--gateway=globex:soap:8081",
            "--webhook-base-url",
            "http://127.0.0.1:9000",
        ])
        .unwrap();
        assert_eq!(
            parsed.gateways,
            vec![
                ("acme".to_owned(), Format::Json, 0),
                ("globex".to_owned(), Format::Soap, 8081)
            ]
        );
        assert_eq!(
            parsed.webhook_base_url.as_deref(),
            Some("http://127.0.0.1:9000")
        );
    }

    #[test]
    fn rejects_bad_gateways() {
        assert!(args(&[]).is_err());
        assert!(args(&["--gateway", "acme:xml:0"]).is_err());
        assert!(args(&["--gateway", "acme:json"]).is_err());
        assert!(args(&["--gateway", "acme:json:99999"]).is_err());
        assert!(args(&["--gateway"]).is_err());
        assert!(args(&["--nope"]).is_err());
    }

    #[test]
    fn secret_variable_is_the_upper_cased_name() {
        assert_eq!(secret_env_var("psp-a"), "PAYGATE_SIM_SECRET_PSP_A");
    }
}

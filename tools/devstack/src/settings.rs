//! Command line and environment of the local stack.

use paygate_domain::service::sweep::SweepPolicy;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// In-memory adapters: nothing to install, state is lost on exit.
    Memory,
    /// The AWS adapters, against `AWS_ENDPOINT_URL` (an emulator) or real AWS.
    Aws,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Aws => "aws",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub backend: Backend,
    /// `PAYGATE_ADDR`, default `127.0.0.1:3000`.
    pub addr: String,
    /// `PAYGATE_DEV_API_KEY`, or a fresh random key.
    api_key: String,
    /// `PAYGATE_DEV_MERCHANT`, default `mer_dev`.
    pub merchant: String,
    /// `PAYGATE_FIELD_KEYS` (`id:base64,...`); a random key when unset.
    pub field_keys: Option<String>,
    /// `PAYGATE_PROBE_INTERVAL_SECS`, default 10: how often the health probe runs (the
    /// EventBridge schedule's `rate(1 minute)`, shortened so changes show quickly).
    pub probe_interval: std::time::Duration,
    /// `PAYGATE_SWEEP_PENDING_AFTER_SECS`, `…_ATTEMPT_AFTER_SECS`, `…_SUBMITTED_AFTER_SECS`,
    /// `…_REFUND_AFTER_SECS`: the recovery sweeper's thresholds, as in Lambda.
    pub sweep: SweepPolicy,
    /// `PAYGATE_DEV_QUEUE_DUPLICATES`, 0.0–1.0, default 0: the share of queue messages
    /// also delivered a second time, at once, to another processor run.
    pub queue_duplicates: f64,
}

impl Settings {
    pub const USAGE: &'static str = "usage: devstack [--backend memory|aws] [--addr HOST:PORT]\n\
        env: PAYGATE_ADDR, PAYGATE_DEV_API_KEY, PAYGATE_DEV_MERCHANT, PAYGATE_FIELD_KEYS,\n     PAYGATE_GATEWAYS_FILE, PAYGATE_PROBE_INTERVAL_SECS, PAYGATE_SWEEP_*_AFTER_SECS,\n     PAYGATE_DEV_QUEUE_DUPLICATES, AWS_ENDPOINT_URL";

    pub fn from_args_and_env(
        args: impl IntoIterator<Item = String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        let mut settings = Settings {
            backend: Backend::Memory,
            addr: env("PAYGATE_ADDR").unwrap_or_else(|| "127.0.0.1:3000".into()),
            api_key: env("PAYGATE_DEV_API_KEY")
                .filter(|k| !k.is_empty())
                .unwrap_or_else(|| format!("sk_dev_{}", Uuid::new_v4().simple())),
            merchant: env("PAYGATE_DEV_MERCHANT").unwrap_or_else(|| "mer_dev".into()),
            field_keys: env("PAYGATE_FIELD_KEYS").filter(|k| !k.is_empty()),
            probe_interval: std::time::Duration::from_secs(
                env("PAYGATE_PROBE_INTERVAL_SECS")
                    .map(|v| {
                        v.parse().map_err(|_| {
                            format!("PAYGATE_PROBE_INTERVAL_SECS must be whole seconds, not {v:?}")
                        })
                    })
                    .transpose()?
                    .unwrap_or(10)
                    .max(1),
            ),
            sweep: SweepPolicy::from_settings(&env).map_err(|e| e.to_string())?,
            queue_duplicates: match env("PAYGATE_DEV_QUEUE_DUPLICATES") {
                None => 0.0,
                Some(v) => v
                    .parse::<f64>()
                    .ok()
                    .filter(|share| (0.0..=1.0).contains(share))
                    .ok_or_else(|| {
                        format!("PAYGATE_DEV_QUEUE_DUPLICATES must be a share from 0.0 to 1.0, not {v:?}")
                    })?,
            },
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
                None => (arg, None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or(format!("{flag} needs a value"))
            };
            match flag.as_str() {
                "--backend" => {
                    settings.backend = match value()?.as_str() {
                        "memory" => Backend::Memory,
                        "aws" => Backend::Aws,
                        other => return Err(format!("unknown backend {other:?}")),
                    }
                }
                "--addr" => settings.addr = value()?,
                "-h" | "--help" => return Err(String::new()),
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(settings)
    }

    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The dev key is printed on purpose: it only opens this local stack.
    pub fn api_key_for_display(&self) -> &str {
        &self.api_key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Settings, String> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_args_and_env(args.iter().map(|s| s.to_string()), |name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_to_memory_on_port_3000_with_a_random_key() {
        let settings = parse(&[], &[]).unwrap();
        assert_eq!(settings.backend, Backend::Memory);
        assert_eq!(settings.addr, "127.0.0.1:3000");
        assert!(settings.api_key().starts_with("sk_dev_"));
        assert_ne!(settings.api_key(), parse(&[], &[]).unwrap().api_key());
    }

    #[test]
    fn environment_and_flags_override_defaults() {
        let settings = parse(
            &["--backend", "aws", "--addr=127.0.0.1:0"],
            &[
                ("PAYGATE_DEV_API_KEY", "sk_fixed"),
                ("PAYGATE_ADDR", "0.0.0.0:1"),
            ],
        )
        .unwrap();
        assert_eq!(settings.backend, Backend::Aws);
        assert_eq!(settings.addr, "127.0.0.1:0");
        assert_eq!(settings.api_key(), "sk_fixed");
        assert!(parse(&["--backend", "kafka"], &[]).is_err());
        assert!(parse(&["--bogus"], &[]).is_err());
    }

    #[test]
    fn the_sweepers_thresholds_come_from_the_same_variables_as_in_lambda() {
        let settings = parse(&[], &[("PAYGATE_SWEEP_PENDING_AFTER_SECS", "20")]).unwrap();
        assert_eq!(settings.sweep.pending_after, time::Duration::seconds(20));
        assert_eq!(parse(&[], &[]).unwrap().sweep, SweepPolicy::default());
        let refused = parse(&[], &[("PAYGATE_SWEEP_REFUND_AFTER_SECS", "soon")]).unwrap_err();
        assert!(
            refused.contains("PAYGATE_SWEEP_REFUND_AFTER_SECS"),
            "{refused}"
        );
    }

    #[test]
    fn the_share_of_duplicated_messages_is_between_zero_and_one() {
        assert_eq!(parse(&[], &[]).unwrap().queue_duplicates, 0.0);
        let half = parse(&[], &[("PAYGATE_DEV_QUEUE_DUPLICATES", "0.5")]).unwrap();
        assert_eq!(half.queue_duplicates, 0.5);
        for bad in ["1.5", "-0.1", "half", "NaN"] {
            let refused = parse(&[], &[("PAYGATE_DEV_QUEUE_DUPLICATES", bad)]).unwrap_err();
            assert!(
                refused.contains("PAYGATE_DEV_QUEUE_DUPLICATES"),
                "{refused}"
            );
        }
    }
}

use paygate_domain::idempotency::IdempotencyPolicy;

/// Tunables of the intake, with their defaults.
#[derive(Debug, Clone, Copy)]
pub struct IntakeConfig {
    /// Larger bodies get 413 before they are parsed. Default 64 KiB: a deposit is < 2 KiB.
    pub max_body_bytes: usize,
    pub idempotency: IdempotencyPolicy,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024,
            idempotency: IdempotencyPolicy::default(),
        }
    }
}

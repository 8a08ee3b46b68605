//! The sweeper's thresholds as deployments set them: whole seconds in environment
//! variables (the same names in Lambda and in the devstack), defaults when unset.

use super::SweepPolicy;

/// One threshold: its variable, and where it goes in the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepSetting {
    PendingAfter,
    AttemptAfter,
    SubmittedAfter,
    RefundAfter,
}

impl SweepSetting {
    pub const ALL: [SweepSetting; 4] = [
        Self::PendingAfter,
        Self::AttemptAfter,
        Self::SubmittedAfter,
        Self::RefundAfter,
    ];

    pub fn variable(self) -> &'static str {
        match self {
            Self::PendingAfter => "PAYGATE_SWEEP_PENDING_AFTER_SECS",
            Self::AttemptAfter => "PAYGATE_SWEEP_ATTEMPT_AFTER_SECS",
            Self::SubmittedAfter => "PAYGATE_SWEEP_SUBMITTED_AFTER_SECS",
            Self::RefundAfter => "PAYGATE_SWEEP_REFUND_AFTER_SECS",
        }
    }

    fn slot(self, policy: &mut SweepPolicy) -> &mut time::Duration {
        match self {
            Self::PendingAfter => &mut policy.pending_after,
            Self::AttemptAfter => &mut policy.attempt_after,
            Self::SubmittedAfter => &mut policy.submitted_after,
            Self::RefundAfter => &mut policy.refund_after,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable} must be a whole number of seconds from 1 to 86400, not {value:?}")]
pub struct SettingError {
    pub variable: &'static str,
    pub value: String,
}

impl SweepPolicy {
    /// The defaults, with each threshold whose variable `lookup` finds replaced.
    pub fn from_settings(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<SweepPolicy, SettingError> {
        let mut policy = SweepPolicy::default();
        for setting in SweepSetting::ALL {
            let variable = setting.variable();
            if let Some(value) = lookup(variable) {
                let seconds = value
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|s| (1..=86_400).contains(s))
                    .ok_or_else(|| SettingError {
                        variable,
                        value: value.clone(),
                    })?;
                *setting.slot(&mut policy) = time::Duration::seconds(seconds);
            }
        }
        Ok(policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_variables_keep_the_defaults_and_set_ones_replace_them() {
        assert_eq!(
            SweepPolicy::from_settings(|_| None),
            Ok(SweepPolicy::default())
        );
        let policy = SweepPolicy::from_settings(|name| {
            (name == "PAYGATE_SWEEP_REFUND_AFTER_SECS").then(|| " 42 ".to_owned())
        })
        .unwrap();
        assert_eq!(policy.refund_after, time::Duration::seconds(42));
        assert_eq!(policy.pending_after, SweepPolicy::default().pending_after);
    }

    #[test]
    fn every_threshold_has_its_own_variable() {
        for setting in SweepSetting::ALL {
            let policy = SweepPolicy::from_settings(|name| {
                (name == setting.variable()).then(|| "7".to_owned())
            })
            .unwrap();
            let mut expected = SweepPolicy::default();
            *setting.slot(&mut expected) = time::Duration::seconds(7);
            assert_eq!(policy, expected, "{}", setting.variable());
        }
    }

    #[test]
    fn nonsense_is_refused_with_the_variable_named() {
        for value in ["", "0", "-5", "1.5", "ten", "86401"] {
            let error = SweepPolicy::from_settings(|name| {
                (name == "PAYGATE_SWEEP_PENDING_AFTER_SECS").then(|| value.to_owned())
            })
            .unwrap_err();
            assert_eq!(
                error.variable, "PAYGATE_SWEEP_PENDING_AFTER_SECS",
                "{value}"
            );
        }
    }
}

//! `assert_outcome!`, shared by the unit tests of both formats and the integration tests.

/// `assert!(matches!(outcome, pattern))` that shows the outcome when it does not match,
/// after the context (a `format!` message) when one is given.
macro_rules! assert_outcome {
    ($outcome:expr, $pattern:pat $(if $guard:expr)?) => {{
        let outcome = $outcome;
        assert!(matches!(&outcome, $pattern $(if $guard)?), "{outcome:?}");
    }};
    ($outcome:expr, $pattern:pat $(if $guard:expr)?, $($context:tt)+) => {{
        let outcome = $outcome;
        assert!(
            matches!(&outcome, $pattern $(if $guard)?),
            "{}: {outcome:?}",
            format_args!($($context)+)
        );
    }};
}
pub(crate) use assert_outcome;

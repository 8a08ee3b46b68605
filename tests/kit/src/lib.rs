//! paygate's test kit: what every suite shares, so no suite copies it. One job a module:
//!
//! * [`http`]: requests for the two HTTP handlers and one [`http::Reply`] with the
//!   assertions every suite makes;
//! * [`sqs`]: the processor's SQS trigger driver (the devstack's too), draining a queue
//!   with it, hand-made invocations, a backoff recorder;
//! * [`gateways`]: simulated gateways, their registry entries and behaviours;
//! * [`fixtures`]: start time, merchants, bodies, deposits taken by the real intake, and
//!   readings of a stored stream;
//! * [`fuzz`]: the fuzzing suites' proptest configuration and JSON strategies;
//! * [`faults`]: the switchboard every suite makes ports misbehave with;
//! * [`streams`]: hand-built deposit streams and event constructors (the domain's tests);
//! * [`contract`]: one contract suite per port, run against the in-memory and the AWS
//!   adapters alike;
//! * [`gateway_reports`]: the notifications a well-behaved gateway sends;
//! * [`samples`]: the sample events in `events/<function>/` that the functions' tests run;
//! * [`require_emulators`] / [`emulated_dynamodb`] / [`run_to_completion`]: the guard,
//!   the DynamoDB client and the clean-up every emulator-backed suite uses;
//! * [`in_case`]: a table row's name on the failures of THEN-helpers that cannot know it.

pub mod contract;
mod emulators;
pub mod faults;
pub mod fixtures;
pub mod fuzz;
pub mod gateway_reports;
pub mod gateways;
pub mod http;
pub mod samples;
pub mod sqs;
pub mod streams;

pub use emulators::{emulated_dynamodb, require_emulators, run_to_completion};
pub mod world;

/// Runs `check` (a THEN-helper's assertions, which cannot know the table row they check);
/// if it fails, fails again with `case` in front of its message.
pub fn in_case<T>(case: &str, check: impl FnOnce() -> T) -> T {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(check)).unwrap_or_else(|failure| {
        let message = failure
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| failure.downcast_ref::<&str>().copied())
            .unwrap_or("a failed assertion");
        panic!("{case}: {message}")
    })
}

#[cfg(test)]
mod tests {
    #[test]
    #[should_panic(expected = "row 2: assertion `left == right` failed")]
    fn in_case_puts_the_row_in_front_of_a_failure() {
        super::in_case("row 2", || assert_eq!(1 + 1, 3));
    }
}

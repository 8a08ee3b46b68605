//! The one guard of every emulator-backed test suite.

/// Fails (never skips) unless `PAYGATE_TEST_EMULATORS=1`: a suite that quietly passed
/// without its emulators would prove nothing.
pub fn require_emulators() {
    if std::env::var("PAYGATE_TEST_EMULATORS").as_deref() != Ok("1") {
        panic!(
            "PAYGATE_TEST_EMULATORS is not set to 1: this test needs the AWS emulators. \
             Run `cargo xtask test`, or start them with `cargo xtask emulators` and \
             `source .tools/emulators.env` first."
        );
    }
}

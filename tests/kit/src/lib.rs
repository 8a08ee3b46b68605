//! paygate's test kit: what every suite shares, so no suite copies it.
//!
//! * [`contract`]: one contract suite per port, run against the in-memory and the AWS
//!   adapters alike;
//! * [`gateway_reports`]: the notifications a well-behaved gateway sends;
//! * [`samples`]: the sample events in `events/<function>/` that the functions' tests run;
//! * [`require_emulators`] / [`run_to_completion`]: the guard and clean-up every
//!   emulator-backed suite uses.

pub mod contract;
mod emulators;
pub mod gateway_reports;
pub mod samples;

pub use emulators::{require_emulators, run_to_completion};

//! Each function's world, as its own suites run it: the real handler on in-memory ports
//! behind one fault [`Switchboard`](crate::faults::Switchboard), a clock the test moves by
//! hand, and the GIVEN / THEN helpers of that function's tests.

pub mod intake;
pub mod probe;
pub mod processor;
pub mod webhooks;

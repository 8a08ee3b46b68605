//! The gateway simulator over real HTTP on 127.0.0.1: every behaviour and knob in both
//! wire formats, payouts, bad requests and reconfiguration, and the binary itself. One test
//! binary (modules below) so the shared client is compiled and linked once.

mod common;
mod each_format;
mod edges;
mod knobs;
mod payouts;
mod scenarios;

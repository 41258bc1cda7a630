//! The real client against the simulator over loopback, one module per concern, each test
//! asserting the exact outcome (records once and byte-exact, the request log, the ending and
//! error kind, timings within a tolerance). One test binary: one link, shared harness.

#[path = "../common/mod.rs"]
mod common;

mod connect;
mod control;
mod harness;
mod reconnect;
mod redundancy;
mod replay;
mod security;
mod stream;

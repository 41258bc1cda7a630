//! The `gnip-stream` command as scripts and operators drive it, one test binary: `stream`
//! (records, limits, exit statuses, signals, demo, simulate, `--help` against
//! docs/command.md), `rules`, `replay` and `recover`, and running it as a service (metrics,
//! Prometheus, logs, the slow-reader warning, systemd).

#[path = "../common/mod.rs"]
mod common;

mod operations;
mod replay;
mod rules;
mod stream;

//! Delivery into a real NATS JetStream cluster on loopback (feature `jetstream`): the protocol
//! against real servers (acks, duplicates, refusals, PING, reconnect, TLS, credentials), and
//! the command's hosts (redundant hosts, leases, backpressure, message ids). Each test starts
//! its own servers (`GNIP_NATS_SERVER` or `nats-server` on PATH; `.ci/run` installs 2.15.1)
//! and skips with a printed reason when there is none. The cluster tests run one at a time.

#[path = "../common/cli.rs"]
#[allow(dead_code)]
mod cli;

mod harness;
mod hosts;
#[path = "../common/net.rs"]
mod net;
mod protocol;
#[path = "../common/tls.rs"]
#[allow(dead_code)]
mod tls;
#[path = "../common/watch.rs"]
#[allow(dead_code)]
mod watch;

//! Establishing a connection under its own timeout: a response head (or TLS handshake) later
//! than the read tick costs no attempt, a head that never comes is given up on after the
//! connect timeout, and a stop ends a partition that is still waiting for its head.

use std::time::{Duration, Instant};

use gnip_stream::Product;
use gnip_stream::client::{ClientConfig, ClientEvent};
use gnip_stream::simulator::{Fault, Rate, Simulator, SimulatorConfig, Which};
use gnip_stream::unversioned::protocol::policy::Ending;

use crate::common;
use crate::harness::*;

/// A quiet stream whose server sends its head `late` after the request, and a heartbeat every
/// `late` after that: the acceptance report's reproduction.
fn late_head(late: Duration) -> SimulatorConfig {
    SimulatorConfig::default()
        .rate(Rate::PerSecond(20.0))
        .heartbeat(late)
        .fault(Which::Every, Fault::DelayHead { duration: late })
}

/// Exactly one request, one connect, no disconnect before the stop, records delivered exactly.
fn one_request_and_records(sim: &Simulator, cfg: ClientConfig) {
    let (running, seen) = start(cfg);
    seen.wait("records", |s| s.data().len() >= 10);
    let reports = stop_and_join(running);
    assert_eq!(sim.requests().len(), 1, "{:?}", statuses(sim));
    assert_eq!(reports[0].stats.connects, 1);
    assert_eq!(
        reports[0].stats.disconnects_for(Ending::NetworkError),
        0,
        "no attempt lost to the read tick"
    );
    assert_eq!(reports[0].ending, Ending::Stopped);
    assert_exact_once(sim, &seen.data());
}

fn slow_head_plain(late: Duration, stall: Duration) {
    let sim = Simulator::start(late_head(late)).unwrap();
    let cfg = config(&sim, Product::PowerTrack).stall_timeout(stall);
    one_request_and_records(&sim, cfg);
}

fn slow_head_tls(late: Duration, stall: Duration) {
    let tls = common::tls::test_ca();
    let sim = common::tls::tls_simulator(&tls, late_head(late));
    let ca = common::tls::ca_file(&tls, &format!("late-{}", late.as_millis()));
    let cfg = config(&sim, Product::PowerTrack)
        .ca_file(&ca)
        .stall_timeout(stall);
    one_request_and_records(&sim, cfg);
}

#[test]
fn a_head_300_ms_late_costs_no_attempt() {
    slow_head_plain(Duration::from_millis(300), Duration::from_secs(1));
}

#[test]
fn a_head_1_s_late_costs_no_attempt() {
    slow_head_plain(Duration::from_secs(1), Duration::from_secs(3));
}

#[test]
fn a_head_300_ms_late_over_tls_costs_no_attempt() {
    slow_head_tls(Duration::from_millis(300), Duration::from_secs(1));
}

#[test]
fn a_head_1_s_late_over_tls_costs_no_attempt() {
    slow_head_tls(Duration::from_secs(1), Duration::from_secs(3));
}

#[test]
fn a_head_that_never_comes_is_given_up_on_after_the_connect_timeout() {
    let sim = Simulator::start(SimulatorConfig::default().fault(
        Which::Every,
        Fault::DelayHead {
            duration: Duration::from_secs(60),
        },
    ))
    .unwrap();
    let cfg = config(&sim, Product::PowerTrack).connect_timeout(Duration::from_millis(700));
    let (running, seen) = start(cfg);
    seen.wait("a disconnect", |s| {
        s.count(|e| matches!(e, ClientEvent::Disconnected { .. })) >= 1
    });
    let reports = stop_and_join(running);
    let events = seen.events();
    let connecting = events
        .iter()
        .find(|(_, _, e)| matches!(e, ClientEvent::Connecting { .. }))
        .map(|(_, t, _)| *t)
        .unwrap();
    let (_, at, ending) = events
        .iter()
        .find_map(|(p, t, e)| match e {
            ClientEvent::Disconnected { ending, error } => Some((p, *t, (*ending, error.clone()))),
            _ => None,
        })
        .unwrap();
    assert_eq!(ending.0, Ending::NetworkError);
    assert!(
        matches!(&ending.1, Some(gnip_stream::Error::Io { kind, .. }) if *kind == std::io::ErrorKind::TimedOut),
        "{:?}",
        ending.1
    );
    let waited = at - connecting;
    assert!(
        waited >= Duration::from_millis(650) && waited < Duration::from_secs(3),
        "gave up after {waited:?}"
    );
    assert!(reports[0].stats.connects >= 1);
}

/// Stops a client whose server holds its response head back 20 s: the partition ends within
/// a second, plain or over TLS (the handshake done, the head awaited).
fn stop_while_waiting_for_the_head(tls: bool) {
    let config = SimulatorConfig::default().fault(
        Which::Every,
        Fault::DelayHead {
            duration: Duration::from_secs(20),
        },
    );
    let ca = common::tls::test_ca();
    let (sim, cfg) = if tls {
        let sim = common::tls::tls_simulator(&ca, config);
        let file = common::tls::ca_file(&ca, "stop-slow");
        let cfg = crate::harness::config(&sim, Product::PowerTrack).ca_file(&file);
        (sim, cfg)
    } else {
        let sim = Simulator::start(config).unwrap();
        let cfg = crate::harness::config(&sim, Product::PowerTrack);
        (sim, cfg)
    };
    let (running, seen) = start(cfg);
    seen.wait("connecting", |s| {
        s.count(|e| matches!(e, ClientEvent::Connecting { .. })) == 1
    });
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    let reports = stop_and_join(running);
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    assert_eq!(reports[0].ending, Ending::Stopped);
    assert_eq!(reports[0].stats.connects, 1);
    drop(sim);
}

#[test]
fn a_stop_ends_a_partition_that_is_waiting_for_its_head() {
    stop_while_waiting_for_the_head(false);
}

#[test]
fn a_stop_ends_a_partition_that_is_waiting_for_its_tls_head() {
    stop_while_waiting_for_the_head(true);
}

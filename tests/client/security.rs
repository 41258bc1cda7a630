//! Credentials and TLS: plain http refused off loopback, no credential in any output, a test
//! CA trusted, the wrong CA refused at once.

use std::sync::Mutex;

use gnip_stream::client::{Client, ClientConfig, ClientEvent, Delivery, Flow};
use gnip_stream::simulator::{Fault, Rate, Simulator, SimulatorConfig, Which};
use gnip_stream::unversioned::protocol::policy::Ending;
use gnip_stream::{Error, Product};

use crate::common;
use crate::harness::*;

#[test]
fn plain_http_with_credentials_to_a_remote_host_is_refused_before_connecting() {
    let cfg = ClientConfig::stream(Product::PowerTrack, "acme", "prod")
        .host("http://gnip-stream.example.com")
        .credentials("u", "p");
    match Client::start(cfg, |_: &Delivery<'_>| Flow::Continue) {
        Err(e) => assert_eq!(
            e,
            Error::InsecureTransport {
                host: "gnip-stream.example.com".into()
            }
        ),
        Ok(_) => panic!("must refuse"),
    }
}

/// A `log` logger that keeps every line, to look for credentials in them.
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        self.0
            .lock()
            .unwrap()
            .push(format!("{} {}", r.target(), r.args()));
    }
    fn flush(&self) {}
}

static LOGS: Capture = Capture(Mutex::new(Vec::new()));

#[test]
fn credentials_appear_in_no_log_line_event_error_or_debug_output() {
    let _ = log::set_logger(&LOGS);
    log::set_max_level(log::LevelFilter::Trace);
    let secret = "s3cr3t-Pa55word";
    let sim = Simulator::start(
        SimulatorConfig::default()
            .credentials("demo", secret)
            .fault(Which::Connection(1), Fault::DropAfter { bytes: 100 }),
    )
    .unwrap();
    let cfg = config(&sim, Product::PowerTrack).credentials("demo", secret);
    let cfg_debug = format!("{cfg:?}");
    let (running, seen) = start(cfg);
    seen.wait("the reconnect", |_| sim.requests().len() >= 2);
    let reports = stop_and_join(running);
    // And a refused one, whose error must not carry the password either.
    let bad = Simulator::start(SimulatorConfig::default().credentials("demo", "other")).unwrap();
    let (r2, _) = start(config(&bad, Product::PowerTrack).credentials("demo", secret));
    let bad_reports = join(r2);
    let b64 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("demo:{secret}"))
    };
    let mut everything = LOGS.0.lock().unwrap().join("\n");
    everything.push_str(&cfg_debug);
    everything.push_str(&format!(
        "{:?}{:?}{:?}",
        seen.events(),
        reports,
        bad_reports
    ));
    everything.push_str(&format!("{:?}{:?}", sim.requests(), bad.requests()));
    if let Some(e) = &bad_reports[0].error {
        everything.push_str(&e.to_string());
    }
    assert!(
        everything.contains("connecting to http://127.0.0.1"),
        "the log was captured"
    );
    assert!(!everything.contains(secret), "password leaked");
    assert!(!everything.contains(&b64), "Basic header leaked");
}

#[test]
fn tls_with_the_test_ca_streams_byte_exact() {
    let tls = common::tls::test_ca();
    let sim = common::tls::tls_simulator(
        &tls,
        SimulatorConfig::default().rate(Rate::PerSecond(300.0)),
    );
    assert!(sim.base_url().starts_with("https://"));
    let ca = common::tls::ca_file(&tls, "good");
    let (running, seen) = start(config(&sim, Product::PowerTrack).ca_file(&ca));
    seen.wait("records over TLS", |s| s.records().len() >= 50);
    let reports = stop_and_join(running);
    assert_exact_once(&sim, &seen.data());
    assert_eq!(reports[0].stats.connects, 1);
}

#[test]
fn tls_with_the_wrong_ca_stops_at_once_without_a_retry_loop() {
    let tls = common::tls::test_ca();
    let other = common::tls::test_ca();
    let sim = common::tls::tls_simulator(&tls, SimulatorConfig::default());
    let ca = common::tls::ca_file(&other, "wrong");
    let (running, seen) = start(config(&sim, Product::PowerTrack).ca_file(&ca));
    let reports = join(running);
    assert_eq!(reports[0].ending, Ending::TlsFailure);
    assert!(
        matches!(&reports[0].error, Some(Error::Tls { message }) if message.contains("certificate")),
        "{:?}",
        reports[0].error
    );
    assert_eq!(
        seen.count(|e| matches!(e, ClientEvent::Connecting { .. })),
        1,
        "one attempt, no retry loop"
    );
    assert!(
        sim.requests().is_empty(),
        "no request was sent over an untrusted connection"
    );
}

#[test]
fn a_ca_file_without_certificates_is_a_clear_error() {
    let dir = gnip_stream::testing::scratch_dir("empty-ca");
    let path = dir.join("empty.pem");
    std::fs::write(&path, "not a certificate\n").unwrap();
    let cfg = ClientConfig::stream(Product::PowerTrack, "a", "b").ca_file(&path);
    let err = Client::start(cfg, |_: &Delivery<'_>| Flow::Continue)
        .err()
        .unwrap();
    assert!(
        matches!(&err, Error::BadInput { reason } if reason.contains("no certificate")),
        "{err}"
    );
    assert!(!err.is_retryable());
}

//! The simulator with real peers: curl, as the seed documents use it, and TLS (a test CA made
//! with rcgen, served through rustls), read by the crate's own decoder and by curl.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::client::{Get, get_over};
use common::tls::{provider, test_ca, tls_simulator};
use gnip_stream::Product;
use gnip_stream::core::record_id;
use gnip_stream::simulator::{Rate, SimulatorConfig};
use gnip_stream::simulator::{Simulator, record_id_for};
use rustls::pki_types::{CertificateDer, ServerName};

fn curl_available() -> bool {
    match Command::new("curl").arg("--version").output() {
        Ok(o) if o.status.success() => true,
        _ => {
            eprintln!("SKIP: curl is not installed here; the curl checks need it");
            false
        }
    }
}

/// Records in a curl body: lines split on `\r\n`, heartbeats dropped, the possibly cut last
/// line (curl was stopped by --max-time) dropped too.
fn curl_records(body: &[u8]) -> Vec<Vec<u8>> {
    let mut lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
    lines.pop(); // unterminated tail
    lines
        .into_iter()
        .map(|l| l.strip_suffix(b"\r").expect("every line ends in \\r\\n"))
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn check_exact(sim: &Simulator, recs: &[Vec<u8>]) {
    assert!(recs.len() >= 20, "{} records", recs.len());
    let mut last = None;
    for rec in recs {
        let id: u64 = record_id(rec).unwrap().parse().unwrap();
        let g = id - record_id_for(0);
        assert_eq!(
            *rec,
            sim.record(g),
            "record {g} intact after curl's inflate"
        );
        if let Some(prev) = last {
            assert_eq!(g, prev + 1);
        }
        last = Some(g);
    }
}

#[test]
fn curl_compressed_prints_the_records_decompressed_and_intact() {
    if !curl_available() {
        return;
    }
    let sim = Simulator::start(
        SimulatorConfig::default()
            .credentials("user", "pass")
            .rate(Rate::PerSecond(200.0)),
    )
    .unwrap();
    let url = sim.stream_url(Product::PowerTrack, "acme", "prod");
    // The seed documents' command, stopped after 1.5 s (the stream never ends by itself).
    let out = Command::new("curl")
        .args([
            "--compressed",
            "-v",
            "-u",
            "user:pass",
            "--max-time",
            "1.5",
            &url,
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(28),
        "curl stops at --max-time: the stream was still open"
    );
    let verbose = String::from_utf8_lossy(&out.stderr);
    assert!(verbose.contains("< HTTP/1.1 200 OK"), "{verbose}");
    assert!(verbose.contains("< Content-Encoding: gzip"));
    assert!(verbose.contains("< Transfer-Encoding: chunked"));
    check_exact(&sim, &curl_records(&out.stdout));
    // Without --compressed curl sends no Accept-Encoding: the service's 406.
    let out = Command::new("curl")
        .args(["-sS", "-u", "user:pass", &url])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("This connection requires compression"));
}

fn tls_client(
    trusted: &CertificateDer<'static>,
    addr: std::net::SocketAddr,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trusted.clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("127.0.0.1").unwrap().to_owned();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

#[test]
fn tls_serves_the_stream_to_a_client_that_trusts_the_test_ca() {
    let tls = test_ca();
    let sim = tls_simulator(
        &tls,
        SimulatorConfig::default().rate(Rate::PerSecond(200.0)),
    );
    assert!(sim.base_url().starts_with("https://127.0.0.1:"));
    let path = "/stream/powertrack/accounts/acme/publishers/twitter/prod.json";
    let mut r = get_over(tls_client(&tls.cert_der, sim.addr()), &Get::new(path));
    assert_eq!(r.status, 200);
    let recs = r.records(30, Duration::from_secs(5));
    check_exact(&sim, &recs);
    drop(r);
    sim.shutdown();
}

#[test]
fn tls_with_the_wrong_ca_fails_the_handshake() {
    let tls = test_ca();
    let other = test_ca();
    let sim = tls_simulator(
        &tls,
        SimulatorConfig::default().rate(Rate::PerSecond(200.0)),
    );
    let mut client = tls_client(&other.cert_der, sim.addr());
    let wrote = client
        .write_all(b"GET / HTTP/1.1\r\n\r\n")
        .and_then(|()| client.flush());
    let mut buf = [0u8; 64];
    let read = client.read(&mut buf);
    let err = wrote.err().or(read.err()).expect("the handshake must fail");
    assert!(
        err.to_string().contains("invalid peer certificate"),
        "{err}"
    );
    assert!(sim.requests().is_empty(), "no request got through");
}

#[test]
fn curl_over_tls_with_the_test_ca() {
    if !curl_available() {
        return;
    }
    let tls = test_ca();
    let sim = tls_simulator(
        &tls,
        SimulatorConfig::default().rate(Rate::PerSecond(200.0)),
    );
    let dir = gnip_stream::testing::scratch_dir("sim-ca");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &tls.cert_pem).unwrap();
    let url = sim.stream_url(Product::PowerTrack, "acme", "prod");
    let out = Command::new("curl")
        .args([
            "--compressed",
            "-sS",
            "-u",
            "demo:demo",
            "--max-time",
            "1.5",
            "--cacert",
        ])
        .arg(&ca)
        .arg(&url)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        out.status.code(),
        Some(28),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    check_exact(&sim, &curl_records(&out.stdout));
}

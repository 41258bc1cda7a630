//! Running a v2 stream as a service, exactly as a Gnip one: redundant connections with a
//! `--dedupe-window`, the JSON logs, the `/metrics` endpoint and the slow-reader warning; the
//! TooManyConnections warning that names `connections kill`; and `demo --api v2`, offline.

use std::sync::atomic::Ordering;
use std::time::Duration;

use gnip_stream::simulator::{DEMO_BEARER_TOKEN, Fault, Rate, Simulator, SimulatorConfig, Which};
use gnip_stream::unversioned::protocol::v2::problems;
use gnip_stream::unversioned::protocol::v2::products::V2Product;

use crate::common::watch::{Watched, scrape, sum};
use crate::{assert_exact_once, lines, stderr, stream, stream_cmd, v2_cmd};

#[test]
fn redundant_connections_with_a_dedupe_window_log_json_and_count_their_duplicates() {
    let sim = Simulator::start(
        SimulatorConfig::default()
            .rate(Rate::PerSecond(300.0))
            .redundant_connections(2),
    )
    .unwrap();
    let out = stream(
        &sim,
        "firehose",
        &[
            "--partition",
            "7",
            "--redundant",
            "2",
            "--dedupe-window",
            "1000",
            "--log-format",
            "json",
            "--max-records",
            "400",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let recs = lines(&out);
    assert_eq!(recs.len(), 400);
    assert_exact_once(&sim, V2Product::Firehose, &recs);
    let err = stderr(&out);
    let events: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect();
    let named = |e: &str| -> Vec<&serde_json::Value> {
        events.iter().filter(|v| v["event"] == e).collect()
    };
    let connected = named("connected");
    assert_eq!(connected.len(), 2, "{err}");
    assert!(
        connected
            .iter()
            .all(|v| v["partition"] == 7 && v["level"] == "info"),
        "{err}"
    );
    let dedupe = named("dedupe_summary");
    assert_eq!(dedupe.len(), 1, "{err}");
    assert!(
        dedupe[0]["duplicates_dropped"].as_u64().unwrap() > 0,
        "{err}"
    );
    let summary = named("summary");
    assert_eq!(summary.last().unwrap()["records"], 400, "{err}");
    assert!(!err.contains(DEMO_BEARER_TOKEN), "the token in the logs");
}

#[test]
fn metrics_and_the_slow_reader_warning_cover_every_v2_partition() {
    let sim = Simulator::start(SimulatorConfig::default().rate(Rate::PerSecond(2000.0))).unwrap();
    let mut c = stream_cmd(&sim.base_url(), "decahose", Some(DEMO_BEARER_TOKEN));
    c.args([
        "--log-format",
        "json",
        "--slow-reader-period",
        "2",
        "--metrics-listen",
        "127.0.0.1:0",
    ]);
    // Nobody reads stdout: the pipe fills and the handler blocks in its write.
    let w = Watched::spawn(c, false);
    let addr = w.metrics_addr();
    let is = |l: &str, e: &str| l.contains(&format!("\"event\":\"{e}\""));
    // Each partition's handler blocks: each is warned, once.
    let mut warned = Vec::new();
    while warned.len() < 2 {
        let warn = w.wait_line(Duration::from_secs(20), |l| is(l, "slow_reader"));
        let v: serde_json::Value = serde_json::from_str(&warn).unwrap();
        assert_eq!(v["level"], "warn");
        assert!(v["handler_share"].as_f64().unwrap() > 0.5, "{warn}");
        warned.push(v["partition"].as_u64().unwrap());
    }
    warned.sort_unstable();
    assert_eq!(warned, [1, 2]);
    let text = scrape(&addr);
    for p in ["1", "2"] {
        let warnings = format!(
            "gnip_stream_slow_reader_warnings_total{{product=\"decahose\",partition=\"{p}\"}}"
        );
        assert_eq!(sum(&text, &warnings), 1.0, "partition {p}:\n{text}");
        let records = format!("gnip_stream_records_total{{product=\"decahose\",partition=\"{p}\"");
        assert!(sum(&text, &records) > 0.0, "partition {p}:\n{text}");
    }
    w.reading.store(true, Ordering::SeqCst);
    w.wait_line(Duration::from_secs(10), |l| is(l, "slow_reader_recovered"));
    let (status, records, _) = w.stop();
    assert_eq!(status.code(), Some(0));
    assert!(records > 0);
}

#[test]
fn demo_streams_sample10_from_its_own_loopback_simulator_without_a_token() {
    let mut c = v2_cmd(None);
    c.args(["demo", "--api", "v2", "--seconds", "1", "--rate", "200"]);
    let out = crate::common::cli::run(c, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = stderr(&out);
    assert!(
        text.contains("streaming X API v2 sample10 (2 partitions)"),
        "{text}"
    );
    for p in [1, 2] {
        let connect = format!("/2/tweets/sample10/stream?partition={p}");
        let line = err
            .lines()
            .find(|l| l.contains(&connect))
            .unwrap_or_else(|| panic!("{err}"));
        assert!(line.contains("http://127.0.0.1:"), "offline: {line}");
        let records = text
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("partition {p}: ")))
            .and_then(|l| l.split(' ').next()?.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{text}"));
        assert!(records > 0, "{text}");
    }
    assert!(text.contains("the simulator answered 2 requests"), "{text}");
}

#[test]
fn too_many_connections_warns_naming_connections_kill_and_a_stop_ends_the_wait() {
    let sim = Simulator::start(SimulatorConfig::default().rate(Rate::PerSecond(100.0))).unwrap();
    sim.add_fault(
        Which::Connection(1),
        Fault::Status {
            status: 429,
            message: problems::too_many_connections_body(),
        },
    );
    let c = stream_cmd(&sim.base_url(), "sample", Some(DEMO_BEARER_TOKEN));
    let w = Watched::spawn(c, true);
    let warn = w.wait_line(Duration::from_secs(20), |l| {
        l.contains("TooManyConnections")
    });
    assert!(
        warn.contains("'gnip-stream connections kill --endpoint NAME' (or --all)"),
        "{warn}"
    );
    assert!(warn.contains("retrying from 1 minute, doubling"), "{warn}");
    // Waiting out the minute: one request so far; SIGTERM ends the wait at once, exit 0.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sim.requests().len(), 1);
    let (status, records, _) = w.stop();
    assert_eq!(status.code(), Some(0));
    assert_eq!(records, 0);
}

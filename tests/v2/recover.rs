//! `recover --api v2`: start_time/end_time on the stream URL, one connection per partition, a
//! body that ends cleanly is complete (exit 0); a drop resumes without duplicates; a refused
//! resume ends the job incomplete (exit 6, naming the partition); the 1 % sample has no
//! Recovery (exit 2).

use std::time::Duration;

use gnip_stream::simulator::{DEMO_BEARER_TOKEN, Fault, Rate, Simulator, SimulatorConfig, Which};
use gnip_stream::unversioned::protocol::time::iso8601_z;
use gnip_stream::unversioned::protocol::v2::products::V2Product;
use gnip_stream::unversioned::protocol::v2::records::key_and_time;

use crate::{assert_exact_once, lines, stderr, stream_requests, v2_cmd};

/// A simulator an hour behind, with 30 s of its feed (20 a second) already published; the
/// range is 10 s of it.
fn setup() -> (Simulator, i64, i64) {
    let sim = Simulator::start(
        SimulatorConfig::default()
            .rate(Rate::PerSecond(20.0))
            .clock_back(Duration::from_secs(3600)),
    )
    .unwrap();
    let t0 = sim.now_secs();
    sim.advance_clock(Duration::from_secs(30));
    (sim, t0 + 5, t0 + 15)
}

fn recover(sim: &Simulator, product: &str, from: i64, to: i64) -> std::process::Output {
    let mut c = v2_cmd(Some(DEMO_BEARER_TOKEN));
    c.args([
        "recover",
        "--api",
        "v2",
        "--product",
        product,
        "--host",
        &sim.base_url(),
    ])
    .args(["--from", &iso8601_z(from), "--to", &iso8601_z(to)]);
    crate::common::cli::run(c, Duration::from_secs(60))
}

fn assert_range(recs: &[Vec<u8>], from: i64, to: i64) {
    for r in recs {
        let t = key_and_time(r).unwrap().1.unwrap();
        assert!((from..to).contains(&t), "{t} outside {from}..{to}");
    }
}

#[test]
fn recovery_asks_every_partition_for_the_range_and_completes_at_the_body_end() {
    let (sim, from, to) = setup();
    let out = recover(&sim, "decahose", from, to);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let recs = lines(&out);
    assert_eq!(recs.len(), 200, "10 s at 20 a second");
    assert_exact_once(&sim, V2Product::Decahose, &recs);
    assert_range(&recs, from, to);
    let reqs = stream_requests(&sim);
    assert_eq!(reqs.len(), 2, "one connection per partition");
    for r in &reqs {
        assert_eq!(r.path, "/2/tweets/sample10/stream");
        assert_eq!(r.param("start_time"), Some(iso8601_z(from).as_str()));
        assert_eq!(r.param("end_time"), Some(iso8601_z(to).as_str()));
        assert_eq!(r.header("authorization"), Some("Bearer <redacted>"));
    }
    assert!(
        stderr(&out).contains("recovery complete: 2 partitions, 200 records"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_dropped_recovery_resumes_without_duplicates_and_a_refused_resume_exits_6() {
    let (sim, from, to) = setup();
    sim.add_fault(Which::Connection(1), Fault::DropAfter { bytes: 300 });
    let out = recover(&sim, "tweet-compliance", from, to);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let recs = lines(&out);
    assert_eq!(recs.len(), 200);
    assert_exact_once(&sim, V2Product::TweetCompliance, &recs);
    let reqs = stream_requests(&sim);
    assert_eq!(reqs.len(), 5, "4 partitions and one resume: {reqs:?}");
    let resumed = &reqs[4];
    assert_eq!(resumed.param("partition"), reqs[0].param("partition"));
    assert!(resumed.param("start_time").unwrap() >= iso8601_z(from).as_str());

    let (sim, from, to) = setup();
    sim.add_fault(Which::Connection(1), Fault::DropAfter { bytes: 300 });
    sim.add_fault(
        Which::From(3),
        Fault::Status {
            status: 400,
            message: "Invalid Request".into(),
        },
    );
    let out = recover(&sim, "decahose", from, to);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    let p = stream_requests(&sim)[0]
        .param("partition")
        .unwrap()
        .to_owned();
    assert!(
        stderr(&out).contains(&format!("recovery incomplete on partition {p}")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_sample_stream_has_no_recovery() {
    let (sim, from, to) = setup();
    let out = recover(&sim, "sample", from, to);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no Recovery"), "{}", stderr(&out));
    assert!(sim.requests().is_empty());
    let mut c = v2_cmd(Some(DEMO_BEARER_TOKEN));
    c.args([
        "replay",
        "--api",
        "v2",
        "--product",
        "decahose",
        "--from",
        "202601010000",
        "--to",
        "202601010100",
    ]);
    let out = crate::common::cli::run(c, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no Replay"), "{}", stderr(&out));
}

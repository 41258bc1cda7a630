//! `gnip-stream replay` over long ranges, as scripts drive it: consecutive `--window` requests,
//! failed minutes and unprocessed ranges requested again once, exit 6 naming what still failed,
//! a drop resumed without duplicates, and the progress line's figures.

use crate::common;

use std::collections::BTreeSet;
use std::process::Output;
use std::time::Duration;

use common::cli::{cmd, named, run};
use gnip_stream::core::record_id;
use gnip_stream::simulator::{Fault, Simulator, SimulatorConfig, Which};
use gnip_stream::unversioned::protocol::time::{iso8601, replay_date};

/// A simulator with 2 records a minute, and a 3-hour range that ended an hour ago.
fn setup(faults: Vec<(Which, Fault)>) -> (Simulator, i64, i64) {
    let mut config = SimulatorConfig::default().replay_records_per_minute(2);
    for (w, f) in faults {
        config = config.fault(w, f);
    }
    let sim = Simulator::start(config).unwrap();
    let now = gnip_stream::unversioned::clock::now_secs() / 60 * 60;
    let from = now - 4 * 3600;
    (sim, from, from + 3 * 3600)
}

fn replay(sim: &Simulator, from: i64, to: i64, extra: &[&str]) -> Output {
    let mut c = cmd("demo", "demo");
    c.arg("replay")
        .args(named("powertrack", &sim.base_url()))
        .args(["--from", &replay_date(from), "--to", &replay_date(to)]);
    c.args(extra);
    run(c, Duration::from_secs(60))
}

fn ids(out: &Output) -> (usize, BTreeSet<String>) {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    let set = lines
        .iter()
        .map(|l| record_id(l.as_bytes()).unwrap().to_owned())
        .collect();
    (lines.len(), set)
}

/// `(fromDate, toDate)` of every request, as seconds.
fn ranges(sim: &Simulator) -> Vec<(i64, i64)> {
    sim.requests()
        .iter()
        .map(|r| {
            let d = |n| {
                gnip_stream::unversioned::protocol::time::parse_replay_date(r.param(n).unwrap())
                    .unwrap()
            };
            (d("fromDate"), d("toDate"))
        })
        .collect()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn three_hours_in_three_consecutive_windows_every_record_once() {
    let (sim, from, to) = setup(vec![]);
    let out = replay(&sim, from, to, &["--window", "60"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (n, distinct) = ids(&out);
    assert_eq!((n, distinct.len()), (360, 360), "every record once");
    assert_eq!(
        ranges(&sim),
        vec![
            (from, from + 3600),
            (from + 3600, from + 7200),
            (from + 7200, to)
        ]
    );
    let log = sim.requests();
    assert!(log.windows(2).all(|w| w[0].at <= w[1].at), "in order");
    assert!(stderr(&out).contains("replay complete: 360 records in 3 requests (0 re-requests)"));
}

#[test]
fn a_failed_minute_is_requested_again_once_and_then_the_job_is_complete() {
    let (sim, from, to) = setup(vec![]);
    sim.add_fault(
        Which::Connection(1),
        Fault::ReplayMinutesFailed {
            minutes: vec![from + 300],
        },
    );
    let out = replay(&sim, from, to, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        ranges(&sim),
        vec![
            (from, from + 3600),
            (from + 300, from + 360), // before the next window
            (from + 3600, from + 7200),
            (from + 7200, to)
        ]
    );
    let (n, distinct) = ids(&out);
    assert_eq!((n, distinct.len()), (360, 360));
    assert!(stderr(&out).contains("(1 re-requests)"), "{}", stderr(&out));
}

#[test]
fn a_minute_that_fails_again_is_named_and_the_exit_status_is_6() {
    let (sim, from, to) = setup(vec![]);
    sim.add_fault(
        Which::Every,
        Fault::ReplayMinutesFailed {
            minutes: vec![from + 300, from + 360],
        },
    );
    let out = replay(&sim, from, to, &[]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    let e = stderr(&out);
    assert!(
        e.contains(&format!(
            "still failed after a re-request: {} to {}",
            iso8601(from + 300),
            iso8601(from + 420)
        )),
        "{e}"
    );
    assert!(e.contains("replay incomplete"), "{e}");
    assert_eq!(
        ranges(&sim)[1],
        (from + 300, from + 420),
        "one re-request, merged"
    );
    let (n, distinct) = ids(&out);
    assert_eq!(
        (n, distinct.len()),
        (356, 356),
        "everything but the 2 failed minutes"
    );
}

#[test]
fn an_unprocessed_range_is_requested_again() {
    let (sim, from, to) = setup(vec![]);
    sim.add_fault(
        Which::Connection(1),
        Fault::ReplayStopsAt { at: from + 1800 },
    );
    let out = replay(&sim, from, to, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(ranges(&sim)[1], (from + 1800, from + 3600));
    let (n, distinct) = ids(&out);
    assert_eq!((n, distinct.len()), (360, 360));
}

#[test]
fn a_drop_mid_window_resumes_without_duplicates() {
    // Cut the first connection's body after 20 kB of gzip: inside the first window.
    let (sim, from, to) = setup(vec![(
        Which::Connection(1),
        Fault::DropAfter { bytes: 20_000 },
    )]);
    let out = replay(&sim, from, to, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = ranges(&sim);
    assert_eq!(r.len(), 4);
    assert_eq!(r[1].1, from + 3600, "the resume finishes the same window");
    assert!(
        r[1].0 > from && r[1].0 < from + 3600,
        "from the last record's minute"
    );
    let (n, distinct) = ids(&out);
    assert_eq!((n, distinct.len()), (360, 360), "no duplicates");
}

#[test]
fn the_progress_line_says_where_the_job_is() {
    let (sim, from, to) = setup(vec![(
        Which::Every,
        Fault::DelayHead {
            duration: Duration::from_millis(400),
        },
    )]);
    let out = replay(
        &sim,
        from,
        to,
        &["--window", "60", "--stats-interval", "0.1"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let e = stderr(&out);
    let lines: Vec<&str> = e.lines().filter(|l| l.contains(" | records ")).collect();
    assert!(lines.len() >= 3, "a line every 0.1 s while it runs: {e}");
    let last = lines.last().unwrap();
    let end = &iso8601(to)[..16];
    assert!(
        last.starts_with(&format!(
            "gnip-stream: reached {end} of {end} | records 360 | 100% |"
        )),
        "{last}"
    );
    assert!(last.contains("request 3"), "{last}");
    // Earlier lines: less reached, fewer records, a percentage below 100 and a time left.
    assert!(
        lines
            .iter()
            .any(|l| l.contains("% | ") && !l.contains("100%") && l.contains("left"))
    );
}

/// `recover` end to end: Recovery on the realtime URL, one connection per partition, each
/// ending on "Recovery Request Completed"; every record published in the range once.
#[test]
fn recover_delivers_the_range_on_every_partition_and_completes() {
    let sim = Simulator::start(
        SimulatorConfig::default().rate(gnip_stream::simulator::Rate::PerSecond(100.0)),
    )
    .unwrap();
    let start = gnip_stream::unversioned::clock::now_secs() + 1;
    std::thread::sleep(Duration::from_millis(4500));
    let (from, to) = (start, start + 3);
    let mut c = cmd("demo", "demo");
    c.arg("recover")
        .args(named("decahose", &sim.base_url()))
        .args([
            "--from",
            &gnip_stream::unversioned::protocol::time::iso8601_z(from),
            "--to",
            &gnip_stream::unversioned::protocol::time::iso8601_z(to),
            "--stats-interval",
            "0.2",
        ]);
    let out = run(c, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (n, distinct) = ids(&out);
    assert_eq!(
        (n, distinct.len()),
        (300, 300),
        "3 s at 100 a second, each once"
    );
    let reqs = sim.requests();
    assert_eq!(reqs.len(), 2, "one connection per partition");
    let mut parts: Vec<&str> = reqs.iter().map(|r| r.param("partition").unwrap()).collect();
    parts.sort_unstable();
    assert_eq!(parts, vec!["1", "2"]);
    for r in &reqs {
        assert!(r.path.starts_with("/stream/sample10/"), "the realtime URL");
        assert_eq!(
            r.param("startTime"),
            Some(gnip_stream::unversioned::protocol::time::iso8601_z(from).as_str())
        );
    }
    let e = stderr(&out);
    assert!(e.contains("Recovery Request Completed"), "{e}");
    assert!(
        e.contains("recovery complete: 2 partitions, 300 records"),
        "{e}"
    );
    assert!(e.contains("| records 300 | 100% |"), "{e}");
    // Outside the last 24 hours: refused (400), a non-retryable failure.
    let mut c = cmd("demo", "demo");
    c.args([
        "recover",
        "--url",
        &sim.stream_url(gnip_stream::Product::PowerTrack, "acme", "prod"),
        "--from",
        &replay_date(from - 2 * 86_400),
        "--to",
        &replay_date(from - 86_400 - 3600),
    ]);
    let out = run(c, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("last 24 hours"), "{}", stderr(&out));
}

#[test]
fn a_range_longer_than_the_service_reaches_back_is_a_usage_error_before_any_request() {
    // Audit L4: year 1 to 9999 in one-minute windows ran out of memory before the first request.
    let (sim, _, _) = setup(Vec::new());
    let mut c = cmd("demo", "demo");
    c.arg("replay")
        .args(named("powertrack", &sim.base_url()))
        .args([
            "--from",
            "000101010000",
            "--to",
            "999912312359",
            "--window",
            "1",
        ]);
    let out = run(c, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Replay reaches back 5 days"),
        "{}",
        stderr(&out)
    );
    assert!(sim.requests().is_empty());
    // Recovery: 24 hours.
    let mut c = cmd("demo", "demo");
    c.arg("recover")
        .args(named("decahose", &sim.base_url()))
        .args(["--from", "202612010000", "--to", "202612030000"]);
    let out = run(c, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Recovery reaches back 24 hours"),
        "{}",
        stderr(&out)
    );
    assert!(sim.requests().is_empty());
    sim.shutdown();
}

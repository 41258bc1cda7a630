//! The archive on the X API v2 dialect: records byte for byte and once per partition, and a
//! restart's gap over five minutes closed by v2 Recovery (`start_time`/`end_time` on the stream
//! URL) beside live backfill (`backfill_minutes`), exactly once across the crash.

use std::time::Duration;

use super::*;
use gnip_stream::Product;
use gnip_stream::simulator::{DEMO_BEARER_TOKEN, v2_record_index};
use gnip_stream::unversioned::protocol::time;
use gnip_stream::unversioned::protocol::v2::products::V2Product;

/// `stream --api v2 --product decahose --host SIM --archive DIR` and `extra`, with the demo token.
fn v2_archive_cmd(sim: &Simulator, dir: &Path, extra: &[&str]) -> Command {
    let mut c = common::cli::bin();
    c.env_remove("GNIP_USERNAME")
        .env_remove("GNIP_PASSWORD")
        .env_remove("GNIP_CORPUS")
        .env("X_BEARER_TOKEN", DEMO_BEARER_TOKEN)
        .stdin(Stdio::null())
        .args(["stream", "--api", "v2", "--product", "decahose", "--host"])
        .arg(sim.base_url())
        .arg("--archive")
        .arg(dir)
        .args(extra);
    c
}

/// Every archived record is the simulator's own v2 decahose record, byte for byte, and none is
/// there twice; the global indexes, sorted.
fn v2_indexes_once(sim: &Simulator, dir: &Path) -> Vec<u64> {
    let mut seen = std::collections::BTreeSet::new();
    for (name, records) in archive(dir) {
        for r in records {
            let g = v2_record_index(&r).unwrap_or_else(|| {
                panic!("{name}: not a v2 record: {}", String::from_utf8_lossy(&r))
            });
            assert_eq!(
                String::from_utf8_lossy(&r),
                String::from_utf8_lossy(&sim.record_of(Product::V2(V2Product::Decahose), g)),
                "{name}: record {g} byte-exact"
            );
            assert!(seen.insert(g), "{name}: record {g} archived twice");
        }
    }
    seen.into_iter().collect()
}

#[test]
fn v2_records_are_archived_byte_exact_and_once_per_partition() {
    let s = sim(200.0, Duration::ZERO);
    let dir = scratch("archive-v2-max");
    let out = common::cli::run(
        v2_archive_cmd(&s, &dir, &["--max-records", "150"]),
        Duration::from_secs(20),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(out.stdout.is_empty());
    assert!(
        names(&dir).iter().all(|n| !n.ends_with(".part")),
        "{:?}",
        names(&dir)
    );
    let all = v2_indexes_once(&s, &dir);
    assert_eq!(all.len(), 150);
    contiguous(&all, 1, 2).unwrap();
    contiguous(&all, 2, 2).unwrap();
    // Both partitions over v2 paths with the bearer token.
    let streams: Vec<_> = s
        .requests()
        .into_iter()
        .filter(|r| r.path == "/2/tweets/sample10/stream")
        .collect();
    let mut parts: Vec<_> = streams
        .iter()
        .filter_map(|r| r.param("partition"))
        .collect();
    parts.sort_unstable();
    assert_eq!(parts, ["1", "2"]);
    s.shutdown();
}

#[test]
fn a_v2_gap_over_five_minutes_runs_v2_recovery_beside_live_backfill_and_lands_once() {
    // The simulator's clock 10 minutes behind: the checkpoint is 10 minutes old at once.
    let s = sim(100.0, Duration::from_secs(600));
    let dir = scratch("archive-v2-gap-recovery");
    let mut child = spawn(v2_archive_cmd(&s, &dir, &[]), &dir);
    let grown = wait_for(Duration::from_secs(20), || {
        names(&dir)
            .iter()
            .filter_map(|n| std::fs::metadata(dir.join(n)).ok())
            .map(|m| m.len())
            .sum::<u64>()
            > 200 * 300
    });
    // A moment for the once-a-second checkpoint, then a crash.
    std::thread::sleep(Duration::from_millis(1200));
    crash(&mut child);
    assert!(grown, "nothing archived: {}", logs(&dir).1);

    let before = s.requests().len();
    let mut child = spawn(v2_archive_cmd(&s, &dir, &[]), &dir);
    let ok = wait_for(Duration::from_secs(30), || {
        logs(&dir).1.matches("Recovery of").count() >= 2
    });
    let code = stop(&mut child);
    let err = logs(&dir).1;
    assert!(ok, "no Recovery finished: {err}");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("complete"), "{err}");

    let reqs: Vec<_> = s.requests()[before..].to_vec();
    for p in ["1", "2"] {
        let mine = || {
            reqs.iter().filter(move |r| {
                r.path == "/2/tweets/sample10/stream" && r.param("partition") == Some(p)
            })
        };
        let live = mine()
            .find(|r| r.param("start_time").is_none())
            .unwrap_or_else(|| panic!("no live request for partition {p}"));
        assert_eq!(live.param("backfill_minutes"), Some("5"), "{}", live.query);
        let rec = mine()
            .find(|r| r.param("start_time").is_some())
            .unwrap_or_else(|| panic!("no Recovery for partition {p}: {err}"));
        let from = time::parse_timestamp(rec.param("start_time").unwrap());
        let to = time::parse_timestamp(rec.param("end_time").unwrap_or(""));
        assert!(from.is_some() && to.is_some(), "v2 times: {}", rec.query);
        assert!(from < to, "{}", rec.query);
        assert_eq!(rec.param("backfill_minutes"), None, "{}", rec.query);
        // v2 names, never Gnip's.
        assert_eq!(rec.param("startTime"), None, "{}", rec.query);
        assert_eq!(live.param("backfillMinutes"), None, "{}", live.query);
    }
    // Recovery beside live backfill: much twice on the wire, once in the archive, no hole.
    let all = v2_indexes_once(&s, &dir);
    contiguous(&all, 1, 2).unwrap();
    contiguous(&all, 2, 2).unwrap();
    assert!(!dir.join(".gnip-stream/sample10-p1.recovery").exists());
    s.shutdown();
}

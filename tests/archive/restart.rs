//! Crashes and restarts: leftover `.part` files sealed at their last whole record (plain and
//! gzip), the three gap cases as the request log shows them, and exactly once across them.

use std::io::Write;
use std::time::Duration;

use super::*;
use gnip_stream::unversioned::protocol::time;

/// The checkpoint a start said it found for `partition`.
fn checkpoint(err: &str, partition: u32) -> i64 {
    let head = format!("partition {partition}: latest record archived ");
    let at = err
        .find(&head)
        .unwrap_or_else(|| panic!("no checkpoint: {err}"))
        + head.len();
    time::parse_timestamp(&err[at..at + 20]).unwrap()
}

/// Runs the archive until `records` are archived (sealed or not), then kills it (SIGKILL).
fn run_and_crash(s: &Simulator, dir: &Path, extra: &[&str], records: usize) {
    let mut child = spawn(archive_cmd(s, "decahose", dir, extra), dir);
    let grown = wait_for(Duration::from_secs(20), || {
        names(dir)
            .iter()
            .filter_map(|n| std::fs::metadata(dir.join(n)).ok())
            .map(|m| m.len())
            .sum::<u64>()
            > (records * 300) as u64
    });
    // A moment for the once-a-second checkpoint.
    std::thread::sleep(Duration::from_millis(1200));
    crash(&mut child);
    assert!(grown, "nothing archived: {}", logs(dir).1);
}

/// Starts again, waits for `until`, stops with SIGTERM (exit 0 expected).
fn run_until(s: &Simulator, dir: &Path, extra: &[&str], until: impl FnMut() -> bool) -> String {
    let mut child = spawn(archive_cmd(s, "decahose", dir, extra), dir);
    let ok = wait_for(Duration::from_secs(30), until);
    let code = stop(&mut child);
    let err = logs(dir).1;
    assert!(ok, "condition never held: {err}");
    assert_eq!(code, 0, "{err}");
    err
}

#[test]
fn a_crash_mid_record_leaves_a_part_the_next_start_seals_at_its_last_whole_record() {
    let s = sim(100.0, Duration::ZERO);
    let dir = scratch("archive-torn");
    run_and_crash(&s, &dir, &["--partition", "1"], 100);
    let part = names(&dir)
        .into_iter()
        .find(|n| n.ends_with(".ndjson.part"))
        .expect("a .part after the crash");
    assert!(part.starts_with(".sample10-p1-"), "{part}");
    // A power cut mid-write: half a record at the end.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join(&part))
        .unwrap();
    f.write_all(br#"{"created_at":"Fri Dec 04 20:00:00 +0000 2026","id_str":"16000"#)
        .unwrap();
    drop(f);
    let sealed = part[1..part.len() - 5].to_owned();
    let err = run_until(&s, &dir, &["--partition", "1"], || names(&dir).len() >= 2);
    assert!(
        err.contains(&format!(
            "archive: sealed {} left by an earlier run",
            dir.join(&sealed).display()
        )),
        "{err}"
    );
    assert!(err.contains("a torn tail of 62 bytes dropped"), "{err}");
    let files = archive(&dir);
    assert!(files.contains_key(&sealed), "{:?}", files.keys());
    for records in files.values() {
        for r in records {
            assert_eq!(r, &s.record(record_index(r).unwrap()), "torn or changed");
        }
    }
    // The restart asked for the gap (backfill) and nothing is missing or twice.
    contiguous(&indexes_once(&s, &files), 1, 2).unwrap();
    s.shutdown();
}

#[test]
fn a_crash_mid_gzip_member_is_sealed_as_the_longest_whole_record_prefix() {
    let s = sim(100.0, Duration::ZERO);
    let dir = scratch("archive-torn-gz");
    run_and_crash(&s, &dir, &["--partition", "1", "--archive-gzip"], 300);
    let part = names(&dir)
        .into_iter()
        .find(|n| n.ends_with(".ndjson.gz.part"))
        .expect("a .part after the crash");
    let path = dir.join(&part);
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(len > 1000, "{len}");
    // Cut inside the member (no trailer; the last deflate block torn).
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(len * 2 / 3).unwrap();
    drop(f);
    let sealed = part[1..part.len() - 5].to_owned();
    run_until(&s, &dir, &["--partition", "1", "--archive-gzip"], || {
        names(&dir).contains(&sealed)
    });
    let kept = records_of(&dir.join(&sealed));
    assert!(!kept.is_empty());
    let indexes: Vec<u64> = kept.iter().map(|r| record_index(r).unwrap()).collect();
    for (r, g) in kept.iter().zip(&indexes) {
        assert_eq!(r, &s.record(*g));
    }
    // A prefix: partition 1's records in order from its first.
    assert!(indexes.windows(2).all(|w| w[1] == w[0] + 2), "{indexes:?}");
    s.shutdown();
}

#[test]
fn a_part_without_a_whole_record_is_removed() {
    let s = sim(50.0, Duration::ZERO);
    let dir = scratch("archive-empty-part");
    std::fs::create_dir_all(&dir).unwrap();
    let part = ".sample10-p1-20261204T000000Z.ndjson.part";
    std::fs::write(dir.join(part), br#"{"created_at":"Fri"#).unwrap();
    let out = common::cli::run(
        archive_cmd(
            &s,
            "decahose",
            &dir,
            &["--partition", "1", "--max-records", "5"],
        ),
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("held no whole record: removed"), "{err}");
    assert!(!names(&dir).contains(&part.to_owned()));
    assert!(
        !names(&dir)
            .iter()
            .any(|n| n.starts_with("sample10-p1-20261204T000000Z")),
        "{:?}",
        names(&dir)
    );
    s.shutdown();
}

#[test]
fn a_short_gap_is_backfilled_sized_to_it_and_lands_once() {
    let s = sim(100.0, Duration::ZERO);
    let dir = scratch("archive-gap-short");
    run_and_crash(&s, &dir, &[], 200);
    let before = s.requests().len();
    std::thread::sleep(Duration::from_secs(2));
    let mut seen: Option<std::time::Instant> = None;
    run_until(&s, &dir, &[], || {
        // Both partitions connected, then a second for the backfill to arrive.
        if s.requests().len() >= before + 2 {
            return seen.get_or_insert_with(std::time::Instant::now).elapsed()
                > Duration::from_secs(1);
        }
        false
    });
    let firsts: Vec<_> = s.requests()[before..].to_vec();
    for p in ["1", "2"] {
        let r = firsts
            .iter()
            .find(|r| r.param("partition") == Some(p))
            .unwrap();
        // A gap of a few seconds: 1 minute rounded up, plus one.
        assert_eq!(r.param("backfillMinutes"), Some("2"), "{}", r.query);
        assert_eq!(r.param("startTime"), None, "no Recovery for a short gap");
    }
    let all = indexes_once(&s, &archive(&dir));
    contiguous(&all, 1, 2).unwrap();
    contiguous(&all, 2, 2).unwrap();
    s.shutdown();
}

#[test]
fn a_gap_over_five_minutes_runs_recovery_beside_live_backfill_and_lands_once() {
    // The simulator's clock 10 minutes behind: the checkpoint is 10 minutes old at once.
    let s = sim(100.0, Duration::from_secs(600));
    let dir = scratch("archive-gap-recovery");
    run_and_crash(&s, &dir, &[], 200);
    let before = s.requests().len();
    let err = run_until(&s, &dir, &[], || {
        logs(&dir).1.matches("Recovery of").count() >= 2
    });
    let cps = [checkpoint(&err, 1), checkpoint(&err, 2)];
    let reqs: Vec<_> = s.requests()[before..].to_vec();
    let now = time::parse_timestamp(
        reqs.iter()
            .find_map(|r| r.param("endTime"))
            .expect("a Recovery request"),
    )
    .unwrap()
        + 240;
    for (i, p) in ["1", "2"].iter().enumerate() {
        let live = reqs
            .iter()
            .find(|r| r.param("partition") == Some(p) && r.param("startTime").is_none())
            .unwrap();
        assert_eq!(live.param("backfillMinutes"), Some("5"), "{}", live.query);
        let rec = reqs
            .iter()
            .find(|r| r.param("partition") == Some(p) && r.param("startTime").is_some())
            .unwrap_or_else(|| panic!("no Recovery for partition {p}: {err}"));
        let from = time::parse_timestamp(rec.param("startTime").unwrap()).unwrap();
        let to = time::parse_timestamp(rec.param("endTime").unwrap()).unwrap();
        assert_eq!(from, cps[i] - 60, "{}", rec.query);
        assert!((to - (now - 240)).abs() <= 2, "{}", rec.query);
        assert_eq!(rec.param("backfillMinutes"), None);
    }
    assert!(err.contains("complete"), "{err}");
    // Recovery beside live backfill: everything twice on the wire, once in the archive.
    let all = indexes_once(&s, &archive(&dir));
    contiguous(&all, 1, 2).unwrap();
    contiguous(&all, 2, 2).unwrap();
    assert!(!dir.join(".gnip-stream/sample10-p1.recovery").exists());
    s.shutdown();
}

#[test]
fn a_gap_over_a_day_recovers_the_last_day_and_names_the_rest_with_its_replay_command() {
    let s = sim(50.0, Duration::from_secs(26 * 3600));
    let dir = scratch("archive-gap-day");
    run_and_crash(&s, &dir, &["--partition", "1"], 50);
    let before = s.requests().len();
    let err = run_until(&s, &dir, &["--partition", "1"], || {
        logs(&dir).1.contains("Recovery of")
    });
    let cp = checkpoint(&err, 1);
    let rec = s.requests()[before..]
        .iter()
        .find(|r| r.param("startTime").is_some())
        .cloned()
        .expect("a Recovery request");
    let from = time::parse_timestamp(rec.param("startTime").unwrap()).unwrap();
    let to = time::parse_timestamp(rec.param("endTime").unwrap()).unwrap();
    // The last 24 hours (2 minutes inside the edge), to 4 minutes before the start.
    assert!(
        (to - from - (24 * 3600 - 120 - 240)).abs() <= 2,
        "{}",
        rec.query
    );
    let minute = |t: i64| time::replay_date(t - t.rem_euclid(60));
    assert!(
        err.contains(&format!(
            "the gap from {} to {} will not be fetched: it is older than Recovery's 24 hours",
            time::iso8601_z(cp),
            time::iso8601_z(from)
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "gnip-stream replay --product sample10 --account acme --label prod --from {} --to {}",
            minute(cp),
            minute(from + 59)
        )),
        "{err}"
    );
    s.shutdown();
}

#[test]
fn no_recover_gaps_backfills_the_most_and_names_the_gap() {
    let s = sim(50.0, Duration::from_secs(900));
    let dir = scratch("archive-no-recovery");
    run_and_crash(&s, &dir, &["--partition", "2"], 50);
    let before = s.requests().len();
    let err = run_until(&s, &dir, &["--partition", "2", "--no-recover-gaps"], || {
        s.requests().len() > before
    });
    let reqs = &s.requests()[before..];
    assert!(
        reqs.iter().all(|r| r.param("startTime").is_none()),
        "{reqs:?}"
    );
    assert_eq!(reqs[0].param("backfillMinutes"), Some("5"));
    assert!(err.contains("Recovery is off (--no-recover-gaps)"), "{err}");
    s.shutdown();
}

#[test]
fn a_reconnect_long_after_the_latest_record_runs_recovery_inside_the_run() {
    // The clock 10 minutes behind: every record is 10 minutes old when archived, so any
    // reconnect in the run finds a gap over 5 minutes.
    let s = sim(100.0, Duration::from_secs(600));
    let dir = scratch("archive-gap-in-run");
    let mut child = spawn(
        archive_cmd(&s, "decahose", &dir, &["--partition", "1"]),
        &dir,
    );
    assert!(wait_for(Duration::from_secs(15), || {
        !s.streaming_connections().is_empty() && !names(&dir).is_empty()
    }));
    std::thread::sleep(Duration::from_millis(1500));
    for conn in s.streaming_connections() {
        s.disrupt(conn, gnip_stream::simulator::Fault::DropAfter { bytes: 0 });
    }
    let done = wait_for(Duration::from_secs(30), || {
        logs(&dir).1.contains("Recovery of")
    });
    assert_eq!(stop(&mut child), 0);
    let err = logs(&dir).1;
    assert!(done, "{err}");
    assert!(err.contains("partition 1: reconnecting"), "{err}");
    assert!(err.contains("complete ("), "{err}");
    let rec = s
        .requests()
        .into_iter()
        .filter(|r| r.param("startTime").is_some())
        .count();
    assert_eq!(rec, 1, "one Recovery for the one gap");
    contiguous(&indexes_once(&s, &archive(&dir)), 1, 2).unwrap();
    s.shutdown();
}

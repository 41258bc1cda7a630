//! Names, windows, rotation (by time, quiet, by size), gzip, and the clean stops that seal.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::*;
use gnip_stream::sink::archive::compact_utc;
use gnip_stream::unversioned::protocol::time::days_from_civil;

/// The window start written in a sealed name, as Unix seconds.
fn window_of(name: &str) -> i64 {
    let stamp = &name.split('-').nth(2).unwrap()[..16];
    let n = |r: std::ops::Range<usize>| stamp[r].parse::<i64>().unwrap();
    let days = days_from_civil(n(0..4), n(4..6) as u32, n(6..8) as u32);
    let t = days * 86_400 + n(9..11) * 3600 + n(11..13) * 60 + n(13..15);
    assert_eq!(compact_utc(t), stamp);
    t
}

#[test]
fn records_go_to_per_partition_files_named_by_product_partition_and_aligned_window() {
    let s = sim(40.0, Duration::ZERO);
    let dir = scratch("archive-names");
    let mut child = spawn(
        archive_cmd(&s, "decahose", &dir, &["--rotate-every", "2s"]),
        &dir,
    );
    assert!(wait_for(Duration::from_secs(15), || {
        archive(&dir).keys().filter(|n| n.contains("-p1-")).count() >= 2
    }));
    assert_eq!(stop(&mut child), 0, "{}", logs(&dir).1);
    let (out, err) = logs(&dir);
    assert_eq!(out, "", "stdout stays empty");
    let files = archive(&dir);
    assert!(
        names(&dir).iter().all(|n| !n.ends_with(".part")),
        "{:?}",
        names(&dir)
    );
    for (name, records) in &files {
        // sample10 is Decahose's path name; the window start is a multiple of 2 s.
        assert!(
            name.starts_with("sample10-p1-") || name.starts_with("sample10-p2-"),
            "{name}"
        );
        assert!(name.ends_with("Z.ndjson"), "{name}");
        assert_eq!(window_of(name) % 2, 0, "{name}");
        assert!(!records.is_empty(), "{name}: no empty files");
        let p: u64 = name[10..11].parse().unwrap();
        for r in records {
            let g = record_index(r).unwrap();
            assert_eq!(g % 2 + 1, p, "{name}: record {g} of the other partition");
            assert_eq!(r, &s.record(g), "{name}: record {g} not byte for byte");
        }
    }
    let all = indexes_once(&s, &files);
    contiguous(&all, 1, 2).unwrap();
    contiguous(&all, 2, 2).unwrap();
    assert!(err.contains("archive:"), "{err}");
    s.shutdown();
}

#[test]
fn a_quiet_partition_seals_its_file_within_a_second_of_the_window_end() {
    // One record every 3 s, windows of 1 s: most windows end with nothing after their record.
    let s = sim(0.35, Duration::ZERO);
    let dir = scratch("archive-quiet");
    let mut child = spawn(
        archive_cmd(&s, "powertrack", &dir, &["--rotate-every", "1s"]),
        &dir,
    );
    let mut sealed_at: BTreeMap<String, f64> = BTreeMap::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(9) && sealed_at.len() < 2 {
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        for n in names(&dir) {
            if n.ends_with(".ndjson") {
                sealed_at.entry(n).or_insert(t);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(stop(&mut child), 0);
    assert!(sealed_at.len() >= 2, "{sealed_at:?}");
    for (name, at) in sealed_at {
        let end = (window_of(&name) + 1) as f64;
        assert!(
            at - end <= 1.25,
            "{name} sealed {:.2} s after its window ended",
            at - end
        );
        assert!(at >= end, "{name} sealed before its window ended");
    }
    s.shutdown();
}

#[test]
fn size_rotation_seals_before_the_limit_and_numbers_the_window_files() {
    let s = sim(200.0, Duration::ZERO);
    let dir = scratch("archive-size");
    let mut child = spawn(
        archive_cmd(
            &s,
            "decahose",
            &dir,
            &[
                "--partition",
                "1",
                "--rotate-size",
                "4k",
                "--rotate-every",
                "1d",
            ],
        ),
        &dir,
    );
    assert!(wait_for(Duration::from_secs(15), || names(&dir).len() >= 6));
    assert_eq!(stop(&mut child), 0);
    let files = archive(&dir);
    let window = files.keys().next().unwrap()[..28].to_owned();
    for (i, (name, records)) in files.iter().enumerate() {
        let bytes: usize = records.iter().map(|r| r.len() + 1).sum();
        assert!(
            bytes <= 4096 || records.len() == 1,
            "{name}: {bytes} bytes in {} records",
            records.len()
        );
        // One window: the base name, then -1, -2, … (sorted as text: -10 before -2).
        assert!(name.starts_with(&window), "{name}");
        let _ = i;
    }
    let suffixes: std::collections::BTreeSet<u32> = files
        .keys()
        .map(|n| {
            n[28..]
                .trim_end_matches(".ndjson")
                .trim_start_matches('-')
                .parse()
                .unwrap_or(0)
        })
        .collect();
    assert_eq!(
        suffixes,
        (0..files.len() as u32).collect(),
        "{:?}",
        files.keys()
    );
    contiguous(&indexes_once(&s, &files), 1, 2).unwrap();
    s.shutdown();
}

#[test]
fn gzip_files_are_complete_gzip_of_exactly_the_records() {
    let s = sim(100.0, Duration::ZERO);
    let dir = scratch("archive-gzip");
    let mut child = spawn(
        archive_cmd(
            &s,
            "decahose",
            &dir,
            &["--archive-gzip", "--rotate-every", "2s"],
        ),
        &dir,
    );
    assert!(wait_for(Duration::from_secs(15), || {
        names(&dir)
            .iter()
            .filter(|n| n.ends_with(".ndjson.gz"))
            .count()
            >= 3
    }));
    assert_eq!(stop(&mut child), 0);
    let files = archive(&dir);
    assert!(
        files.keys().all(|n| n.ends_with(".ndjson.gz")),
        "{:?}",
        files.keys()
    );
    for records in files.values() {
        for r in records {
            assert_eq!(r, &s.record(record_index(r).unwrap()));
        }
    }
    let all = indexes_once(&s, &files);
    contiguous(&all, 1, 2).unwrap();
    contiguous(&all, 2, 2).unwrap();
    s.shutdown();
}

#[test]
fn max_records_seals_everything_and_exits_0_with_exactly_that_many() {
    let s = sim(200.0, Duration::ZERO);
    let dir = scratch("archive-max");
    let out = common::cli::run(
        archive_cmd(&s, "decahose", &dir, &["--max-records", "150"]),
        Duration::from_secs(20),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    assert!(
        names(&dir).iter().all(|n| !n.ends_with(".part")),
        "{:?}",
        names(&dir)
    );
    let files = archive(&dir);
    assert_eq!(indexes_once(&s, &files).len(), 150);
    s.shutdown();
}

#[test]
fn metrics_count_what_the_archive_did() {
    use std::io::{Read, Write};
    let s = sim(100.0, Duration::ZERO);
    let dir = scratch("archive-metrics");
    let port = gnip_stream::testing::free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = spawn(
        archive_cmd(
            &s,
            "decahose",
            &dir,
            &["--rotate-every", "1s", "--metrics-listen", &addr],
        ),
        &dir,
    );
    assert!(wait_for(Duration::from_secs(15), || names(&dir).len() >= 4));
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    conn.read_to_string(&mut text).unwrap();
    assert_eq!(stop(&mut child), 0);
    let value = |name: &str| -> f64 {
        let head = format!("gnip_stream_{name}{{product=\"sample10\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&head)?.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing: {text}"))
    };
    assert!(value("archive_records_total") > 0.0);
    assert!(value("archive_files_sealed_total") >= 2.0);
    assert!(value("archive_bytes_total") > 0.0);
    assert_eq!(value("archive_write_errors_total"), 0.0);
    assert_eq!(value("archive_hooks_pending"), 0.0);
    assert_eq!(value("archive_gaps_unrecoverable_total"), 0.0);
    s.shutdown();
}

//! Nothing lost, nothing twice: redundant connections per partition and backfill overlap,
//! de-duplicated by the record key; `DedupeConfig::off` shows the copies; the window forgets
//! the oldest; compliance events are keyed by kind, id and time; never more than N
//! connections per partition.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gnip_stream::Product;
use gnip_stream::client::{ClientConfig, DedupeConfig};
use gnip_stream::simulator::{Fault, Rate, Simulator, SimulatorConfig, Which};

use crate::common;
use crate::harness::*;

/// Waits until `n` live streams are being served.
fn wait_streams(sim: &Simulator, n: usize) -> Vec<u64> {
    let t = Instant::now();
    loop {
        let live = sim.streaming_connections();
        if live.len() == n {
            return live;
        }
        assert!(t.elapsed() < WAIT, "{} streams, wanted {n}", live.len());
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The records' generator indexes, sorted, and whether each came once.
fn gs(recs: &[Vec<u8>]) -> (Vec<u64>, bool) {
    let mut g: Vec<u64> = recs.iter().map(|r| record_index(r).unwrap()).collect();
    let n = g.len();
    g.sort_unstable();
    g.dedup();
    let once = g.len() == n;
    (g, once)
}

/// Runs `cfg` against a simulator, cuts the first connection mid-record after about 300
/// records, and streams on for about 300 more; returns what was handed out and the report.
fn cut_one_connection(
    cfg: impl Fn(&Simulator) -> ClientConfig,
    streams: usize,
) -> (
    Simulator,
    Vec<Vec<u8>>,
    gnip_stream::client::PartitionReport,
) {
    let sim = Simulator::start(SimulatorConfig::default().rate(Rate::PerSecond(300.0))).unwrap();
    let (running, seen) = start(cfg(&sim));
    let live = wait_streams(&sim, streams);
    seen.wait("300 records", |s| s.data().len() >= 300);
    sim.disrupt(live[0], Fault::DropMidRecord { after_records: 0 });
    seen.wait("the reconnect", |s| {
        s.count(|e| matches!(e, gnip_stream::client::ClientEvent::Connected)) > streams
    });
    let at = seen.data().len();
    seen.wait("300 more", |s| s.data().len() >= at + 300);
    let mut reports = stop_and_join(running);
    (sim, seen.data(), reports.remove(0))
}

#[test]
fn two_connections_one_cut_deliver_every_record_once_without_a_gap() {
    let (sim, recs, report) = cut_one_connection(
        |sim| {
            config(sim, Product::PowerTrack)
                .redundant(2)
                .backfill_minutes(1)
        },
        2,
    );
    assert_exact_once(&sim, &recs);
    let (g, _) = gs(&recs);
    assert_eq!(
        g.len() as u64,
        g[g.len() - 1] - g[0] + 1,
        "no gap from the first record to the last"
    );
    assert!(report.stats.duplicates_dropped > 300, "{:?}", report.stats);
    let firsts = report.stats.first_by_connection;
    assert_eq!(firsts[0] + firsts[1], recs.len() as u64);
    assert_eq!(report.stats.connects, 3);
    // Every request of the partition was the same stream; the reconnect asked for backfill.
    let reqs = sim.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[2].param("backfillMinutes"), Some("1"));
}

#[test]
fn without_dedupe_the_copies_come_through() {
    let (sim, recs, report) = cut_one_connection(
        |sim| {
            config(sim, Product::PowerTrack)
                .redundant(2)
                .backfill_minutes(1)
                .dedupe(DedupeConfig::off())
        },
        2,
    );
    let (g, once) = gs(&recs);
    assert!(
        !once,
        "two connections without de-duplication hand out two copies"
    );
    assert!(recs.len() as u64 > g.len() as u64 + 300);
    assert_eq!(report.stats.duplicates_dropped, 0);
    for r in &recs {
        assert_eq!(*r, sim.record(record_index(r).unwrap()), "still byte-exact");
    }
}

#[test]
fn one_connection_with_backfill_hands_out_the_overlap_once() {
    let (sim, recs, report) = cut_one_connection(
        |sim| config(sim, Product::PowerTrack).backfill_minutes(1),
        1,
    );
    assert_exact_once(&sim, &recs);
    let (g, _) = gs(&recs);
    assert_eq!(g.len() as u64, g[g.len() - 1] - g[0] + 1, "no gap");
    assert!(
        report.stats.duplicates_dropped >= 300,
        "the backfill's overlap"
    );
    assert_eq!(report.stats.first_by_connection[0], recs.len() as u64);
}

#[test]
fn the_window_forgets_the_oldest_so_an_older_resend_comes_again() {
    let (_sim, recs, report) = cut_one_connection(
        |sim| {
            config(sim, Product::PowerTrack)
                .backfill_minutes(1)
                .dedupe(DedupeConfig::on().window(5))
        },
        1,
    );
    let (g, once) = gs(&recs);
    assert!(
        !once,
        "records older than the window were handed out again (documented)"
    );
    assert!(recs.len() > g.len() + 250);
    // The resend comes oldest first: each record it hands out again is remembered in place of
    // an older id, so by the time it reaches the newest ones the window holds the resend's own.
    assert!(
        report.stats.duplicates_dropped <= 5,
        "at most the window's 5 ids: {}",
        report.stats.duplicates_dropped
    );
}

#[test]
fn never_more_than_the_redundant_connections_per_partition() {
    let sim = Simulator::start(
        SimulatorConfig::default()
            .rate(Rate::PerSecond(300.0))
            .fault(Which::Every, Fault::DropAfter { bytes: 20_000 }),
    )
    .unwrap();
    let (running, seen) = start(
        config(&sim, Product::Decahose)
            .partitions(&[1])
            .redundant(2)
            .backfill_minutes(1),
    );
    let t = Instant::now();
    let mut most = 0;
    while t.elapsed() < Duration::from_secs(3) {
        most = most.max(sim.streaming_connections().len());
        std::thread::sleep(Duration::from_millis(2));
    }
    let reports = stop_and_join(running);
    assert!(most <= 2, "{most} at once");
    assert_eq!(most, 2, "both connections streamed");
    assert!(reports[0].stats.connects >= 4, "the connections churned");
    assert_exact_once(&sim, &seen.data());
}

/// A one-off server that answers every request with the same gzip body and drops the
/// connection: the same compliance events again on every reconnect.
fn compliance_server(body: &[u8]) -> (String, Arc<AtomicBool>, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!(
        "http://{}/stream/powertrack/accounts/a/publishers/twitter/l.json",
        listener.local_addr().unwrap()
    );
    let stop = Arc::new(AtomicBool::new(false));
    let s = Arc::clone(&stop);
    let wire = common::gzip_flushed([body], false);
    let server = std::thread::spawn(move || {
        let started = Instant::now();
        while !s.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(20) {
            let Ok((mut c, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            c.set_nonblocking(false).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut head = Vec::new();
            let mut b = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match c.read(&mut b) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&b[..n]),
                }
            }
            let _ = c.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
            );
            let _ = c.write_all(format!("{:x}\r\n", wire.len()).as_bytes());
            let _ = c.write_all(&wire);
            let _ = c.write_all(b"\r\n");
            // Drop the connection (no last chunk): the client reconnects and gets it all again.
        }
    });
    (url, stop, server)
}

#[test]
fn compliance_events_are_keyed_by_kind_id_and_time() {
    let body = concat!(
        r#"{"delete":{"status":{"id":5,"id_str":"5","user_id":3},"timestamp_ms":"1432228155593"}}"#,
        "\r\n",
        r#"{"scrub_geo":{"user_id":3,"user_id_str":"3","up_to_status_id":5,"up_to_status_id_str":"5","timestamp_ms":"1432228155593"}}"#,
        "\r\n",
        r#"{"user_protect":{"id":9,"timestamp_ms":"1432228155593"}}"#,
        "\r\n",
        r#"{"user_protect":{"id":9,"timestamp_ms":"1432228455593"}}"#,
        "\r\n",
        r#"{"delete":{"status":{"id":5,"id_str":"5","user_id":3},"timestamp_ms":"1432228155593"}}"#,
        "\r\n",
    );
    let (url, stop, server) = compliance_server(body.as_bytes());
    let (running, seen) = start(
        ClientConfig::url(&url)
            .unwrap()
            .dedupe(DedupeConfig::on())
            .backoff(fast_backoff()),
    );
    seen.wait("three connections", |s| {
        s.count(|e| matches!(e, gnip_stream::client::ClientEvent::Connected)) >= 3
    });
    let reports = stop_and_join(running);
    stop.store(true, Ordering::SeqCst);
    server.join().unwrap();
    let got: BTreeSet<String> = seen
        .data()
        .iter()
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .collect();
    assert_eq!(seen.data().len(), 4, "each event once: {got:?}");
    assert_eq!(got.len(), 4);
    // The repeated delete, then all five again on each of the (at least two) reconnects.
    assert!(reports[0].stats.duplicates_dropped > 10);
}

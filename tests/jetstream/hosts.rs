//! The command's hosts against a 3-node cluster and the simulator's Decahose (~2,000
//! records/s, two partitions): redundant hosts with a host and the stream leader killed;
//! failover with leases; lease exclusivity with two hosts per partition; all three servers
//! stopped for 5 s; message ids (the same record once, compliance events by kind, id and time);
//! `publish` giving the ids `stream` gives; an X API v2 stream stored once under its v2 keys.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use gnip_stream::simulator::{Rate, Simulator, SimulatorConfig};
use gnip_stream::testing::nats_cluster::NatsCluster;
use gnip_stream::unversioned::nats::api::StreamSpec;
use gnip_stream::unversioned::nats::encode::Auth;

use crate::cli;
use crate::harness::*;
use crate::watch::scrape;

const RATE: f64 = 2_000.0;

fn decahose() -> Simulator {
    Simulator::start(SimulatorConfig::default().rate(Rate::PerSecond(RATE))).unwrap()
}

/// `stream --product decahose … --jetstream URLS` plus `more`.
fn host(sim: &Simulator, urls: &str, more: &[&str]) -> Host {
    let named = cli::named("decahose", &sim.base_url());
    let mut args = vec!["stream"];
    args.extend(named.iter().map(String::as_str));
    args.extend_from_slice(&["--jetstream", urls, "--log-format", "json"]);
    args.extend_from_slice(more);
    Host::start(&args, &[])
}

fn wait_all_acked(cluster: &NatsCluster, settle: Duration) {
    // The count stops moving once the hosts are gone and the last acks are in.
    let mut last = (u64::MAX, Instant::now());
    let t = Instant::now();
    loop {
        let n = cluster.stream_state("GNIP").map(|s| s.0).unwrap_or(0);
        if n != last.0 {
            last = (n, Instant::now());
        } else if last.1.elapsed() >= settle {
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the stream never settled"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Once the last acks are in, reads everything back and checks it; returns the per-partition
/// (first, last, count).
fn verify(cluster: &NatsCluster) -> BTreeMap<u64, (u64, u64, usize)> {
    wait_all_acked(cluster, Duration::from_millis(500));
    let msgs = cluster.read_stream("GNIP").unwrap();
    let (count, _) = cluster.stream_state("GNIP").unwrap();
    let per = check_exactly_once(&msgs, 2);
    let distinct: usize = per.values().map(|v| v.2).sum();
    assert_eq!(
        count as usize, distinct,
        "stream message count = distinct ids"
    );
    eprintln!("stored: {count} messages, per partition (first, last, count): {per:?}");
    per
}

#[test]
fn redundant_hosts_lose_nothing_and_store_nothing_twice() {
    let _s = serial();
    let Some(mut cluster) = cluster_or_skip("redundant_hosts", 3, "", Auth::None) else {
        return;
    };
    init(&cluster, 3, None);
    let sim = decahose();
    let mut a = host(&sim, &cluster.urls_from(0), &["--backfill-minutes", "5"]);
    let mut b = host(&sim, &cluster.urls_from(1), &["--backfill-minutes", "5"]);
    for h in [&mut a, &mut b] {
        h.wait_for("\"event\":\"connected\"", 2, Duration::from_secs(20));
    }
    std::thread::sleep(Duration::from_secs(2));
    a.kill();
    std::thread::sleep(Duration::from_secs(1));
    let leader = cluster.leader_of("GNIP").expect("a stream leader");
    cluster.kill(leader);
    std::thread::sleep(Duration::from_secs(3));
    cluster.restart(leader).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let status = b.term(Duration::from_secs(60));
    let err = b.stderr();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.contains("\"unacknowledged\":0"), "{err}");
    let per = verify(&cluster);
    assert_eq!(per.len(), 2);
    for (first, last, _) in per.values() {
        assert!(last - first > (RATE as u64) * 6, "{first}..{last}");
    }
}

#[test]
fn a_waiting_host_takes_over_with_backfill_when_the_holder_dies() {
    let _s = serial();
    let Some(cluster) = cluster_or_skip("failover", 3, "", Auth::None) else {
        return;
    };
    const TTL: u64 = 6;
    init(&cluster, 3, Some(("leases", TTL as u32)));
    let sim = decahose();
    let lease = |id: &'static str| -> Vec<&'static str> {
        vec![
            "--leases",
            "leases",
            "--host-id",
            id,
            "--lease-ttl",
            "6",
            "--backfill-minutes",
            "5",
        ]
    };
    let mut a = host(&sim, &cluster.urls_from(0), &lease("host-a"));
    a.wait_for("\"event\":\"lease_gained\"", 2, Duration::from_secs(20));
    let mut b = host(&sim, &cluster.urls_from(1), &lease("host-b"));
    b.wait_for("\"event\":\"leases_started\"", 1, Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(b.count("lease_gained"), 0, "B waits while A holds both");
    let killed = Instant::now();
    a.kill();
    let took = b.wait_for("\"event\":\"lease_gained\"", 2, Duration::from_secs(30)) - killed;
    eprintln!("takeover after {took:?} (TTL {TTL} s)");
    let limit = Duration::from_secs(TTL + TTL / 3) + Duration::from_millis(500);
    assert!(took <= limit, "took {took:?}, limit {limit:?}");
    let err = b.stderr();
    assert!(
        err.contains("\"backfill_minutes\":1") || err.contains("\"backfill_minutes\":2"),
        "started with backfill: {err}"
    );
    std::thread::sleep(Duration::from_secs(2));
    b.term_ok();
    verify(&cluster);
}

#[test]
fn never_more_than_two_hosts_per_partition_and_slots_refilled() {
    let _s = serial();
    let Some(cluster) = cluster_or_skip("exclusivity", 3, "", Auth::None) else {
        return;
    };
    const TTL: u64 = 3;
    init(&cluster, 3, Some(("slots", TTL as u32)));
    let sim = decahose();
    let args = |id: &'static str| -> Vec<&'static str> {
        vec![
            "--leases",
            "slots",
            "--host-id",
            id,
            "--lease-ttl",
            "3",
            "--hosts-per-partition",
            "2",
        ]
    };
    let mut hosts: Vec<Host> = ["h1", "h2", "h3"]
        .into_iter()
        .enumerate()
        .map(|(i, id)| host(&sim, &cluster.urls_from(i), &args(id)))
        .collect();
    // Streams per partition, from the simulator's own view.
    let live = |sim: &Simulator| -> BTreeMap<String, usize> {
        let reqs = sim.requests();
        let mut per = BTreeMap::new();
        for c in sim.streaming_connections() {
            if let Some(r) = reqs.iter().find(|r| r.connection == c) {
                *per.entry(r.param("partition").unwrap_or("?").to_owned())
                    .or_insert(0) += 1;
            }
        }
        per
    };
    let sample = |until: Instant, max_seen: &mut usize| -> BTreeMap<String, usize> {
        let mut now = live(&sim);
        while Instant::now() < until {
            now = live(&sim);
            *max_seen = (*max_seen).max(now.values().copied().max().unwrap_or(0));
            std::thread::sleep(Duration::from_millis(100));
        }
        now
    };
    let mut max_seen = 0;
    let t = Instant::now();
    let mut full = false;
    while t.elapsed() < Duration::from_secs(20) {
        let now = sample(Instant::now() + Duration::from_millis(100), &mut max_seen);
        if now.len() == 2 && now.values().all(|&n| n == 2) {
            full = true;
            break;
        }
    }
    assert!(full, "every slot filled: {:?}", live(&sim));
    sample(Instant::now() + Duration::from_secs(4), &mut max_seen);
    // Kill a host that streams (h1 or h2 hold slots; the third waits).
    let victim = (0..3)
        .find(|&i| hosts[i].count("lease_gained") > 0)
        .unwrap();
    let before: BTreeSet<u64> = sim.streaming_connections().into_iter().collect();
    let victim_slots = hosts[victim].count("\"event\":\"lease_gained\"");
    let killed = Instant::now();
    hosts[victim].kill();
    let mut refilled = None;
    while killed.elapsed() < Duration::from_secs(15) {
        let now = sample(Instant::now() + Duration::from_millis(100), &mut max_seen);
        let new = sim
            .streaming_connections()
            .into_iter()
            .filter(|c| !before.contains(c))
            .count();
        if now.len() == 2 && now.values().all(|&n| n == 2) && new >= victim_slots {
            refilled = Some(killed.elapsed());
            break;
        }
    }
    let refilled = refilled.expect("slots refilled");
    eprintln!(
        "slots refilled {refilled:?} after the kill (TTL {TTL} s); most streams on one partition: {max_seen}"
    );
    assert!(refilled <= Duration::from_secs(TTL + 1) + Duration::from_millis(500));
    sample(Instant::now() + Duration::from_secs(2), &mut max_seen);
    assert!(
        max_seen <= 2,
        "{max_seen} hosts streamed one partition at once"
    );
    for (i, h) in hosts.iter_mut().enumerate() {
        if i != victim {
            h.term_ok();
        }
    }
    verify(&cluster);
}

#[test]
fn all_three_servers_stopped_for_5_s_lose_nothing() {
    let _s = serial();
    let Some(cluster) = cluster_or_skip("backpressure", 3, "", Auth::None) else {
        return;
    };
    init(&cluster, 3, None);
    let sim = decahose();
    let mut h = host(
        &sim,
        &cluster.urls_from(0),
        &[
            "--backfill-minutes",
            "5",
            "--queue",
            "2000",
            // Below the 5 s the servers stay stopped: the window's publishes are resent.
            "--ack-timeout",
            "2",
            "--metrics-listen",
            "127.0.0.1:0",
            "--stats-interval",
            "1",
        ],
    );
    h.wait_for("\"event\":\"connected\"", 2, Duration::from_secs(20));
    let addr = metrics_address(&h);
    std::thread::sleep(Duration::from_secs(2));
    for i in 0..3 {
        cluster.signal(i, "-STOP");
    }
    std::thread::sleep(Duration::from_secs(4));
    // The queue has filled (2,000 records is one second of the stream): the stream waits.
    let stopped = scrape(&addr);
    let queue = metric(&stopped, "gnip_stream_jetstream_queue_depth");
    let in_flight = metric(&stopped, "gnip_stream_jetstream_in_flight");
    assert!(
        queue >= 1_900.0 && in_flight >= 1.0,
        "queue {queue}, in flight {in_flight}"
    );
    std::thread::sleep(Duration::from_secs(1));
    for i in 0..3 {
        cluster.signal(i, "-CONT");
    }
    // The cluster elects its leaders again before it acknowledges (2 s here, 6.5 s on a loaded
    // 2-core CI machine), then the stream catches up: wait (bounded) until more than 15 s of
    // the stream is acknowledged, so the span checked below covers the stop and what follows,
    // and until the backlog is gone (under half a second of records queued), so the stop's
    // drain has only the live stream's tail to publish.
    let caught_up = |m: &str| {
        metric(m, "gnip_stream_jetstream_acks_total") > RATE * 15.0
            && metric(m, "gnip_stream_jetstream_queue_depth") < RATE / 2.0
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let after = loop {
        let after = scrape(&addr);
        if caught_up(&after) || Instant::now() > deadline {
            break after;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(
        metric(&after, "gnip_stream_jetstream_resends_total") >= 1.0,
        "{after}"
    );
    assert!(
        caught_up(&after),
        "not caught up within 60 s of the servers' return: {after}"
    );
    assert_eq!(metric(&after, "gnip_stream_jetstream_connected"), 1.0);
    let status = h.term(Duration::from_secs(60));
    let err = h.stderr();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(
        err.contains("\"jetstream_queue\":"),
        "the stats line: {err}"
    );
    let per = verify(&cluster);
    for (first, last, _) in per.values() {
        assert!(last - first > (RATE as u64) * 14, "{first}..{last}: {err}");
    }
}

/// The metrics address a host printed.
fn metrics_address(h: &Host) -> String {
    let t = Instant::now();
    loop {
        if let Some((_, l)) = h
            .lines()
            .into_iter()
            .find(|(_, l)| l.contains("metrics_listening"))
        {
            let v: serde_json::Value = serde_json::from_str(&l).unwrap();
            return v["address"].as_str().unwrap().to_owned();
        }
        assert!(t.elapsed() < Duration::from_secs(10), "{}", h.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The value of a metric with one sample.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && !l.starts_with('#'))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

/// SIGTERM while node 0 is stopped (SIGSTOP), then SIGCONT: the exit code, how long the
/// stop took, and stderr.
fn term_during_outage(h: &mut Host, cluster: &NatsCluster) -> (Option<i32>, Duration, String) {
    let t = Instant::now();
    let status = h.term(Duration::from_secs(20));
    let took = t.elapsed();
    cluster.signal(0, "-CONT");
    (status.code(), took, h.stderr())
}

/// The records the `unacknowledged` event names, checking its text says the same.
fn unacknowledged(err: &str) -> u64 {
    let line = err
        .lines()
        .find(|l| l.contains("\"event\":\"unacknowledged\""))
        .unwrap_or_else(|| panic!("{err}"));
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let n = v["records"].as_u64().unwrap();
    assert!(
        line.contains(&format!(
            "{n} records taken from the service were not acknowledged"
        )),
        "{line}"
    );
    n
}

/// The flags of a host whose queue and window fill at once (150 records) and whose drain
/// gives up after 1 s.
const SMALL_QUEUE: [&str; 6] = [
    "--drain-timeout",
    "1",
    "--queue",
    "100",
    "--publish-window",
    "50",
];

#[test]
fn a_stop_with_the_queue_full_and_nats_away_ends_within_the_drain_timeout() {
    // Audit H1: the handlers waited in a full queue, the stream never ended, the drain's
    // clock never started, and SIGKILL lost what was queued without a count.
    let _s = serial();
    let Some(cluster) = cluster_or_skip("full_queue_stop", 1, "", Auth::None) else {
        return;
    };
    init(&cluster, 1, None);
    let sim = decahose();
    let mut h = host(&sim, &cluster.urls_from(0), &SMALL_QUEUE);
    h.wait_for("\"event\":\"connected\"", 2, Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(300));
    cluster.signal(0, "-STOP");
    // At 2,000 records a second the queue and the window (150) are full long before this.
    std::thread::sleep(Duration::from_secs(2));
    let (code, took, err) = term_during_outage(&mut h, &cluster);
    assert_eq!(code, Some(7), "{err}");
    assert!(
        took < Duration::from_secs(1 + 2),
        "within the drain + 2 s: {took:?}"
    );
    let n = unacknowledged(&err);
    assert!((100..=150).contains(&n), "queue + window, no more: {n}");
}

#[test]
fn a_leased_host_losing_its_leases_with_nats_away_still_stops_within_the_drain_timeout() {
    // Audit H1, leased mode: the lost lease's partition was joined in the main loop while its
    // handler waited on the full queue, so the signal was never read.
    let _s = serial();
    let Some(cluster) = cluster_or_skip("full_queue_leased_stop", 1, "", Auth::None) else {
        return;
    };
    init(&cluster, 1, Some(("leases", 2)));
    let sim = decahose();
    let mut args = vec!["--leases", "leases", "--host-id", "h1", "--lease-ttl", "2"];
    args.extend(SMALL_QUEUE);
    let mut h = host(&sim, &cluster.urls_from(0), &args);
    h.wait_for("\"event\":\"lease_gained\"", 2, Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(300));
    cluster.signal(0, "-STOP");
    // The queue fills at once; the leases are given up after their TTL.
    h.wait_for("\"event\":\"lease_lost\"", 1, Duration::from_secs(15));
    std::thread::sleep(Duration::from_millis(500));
    let (code, took, err) = term_during_outage(&mut h, &cluster);
    assert_eq!(code, Some(7), "{err}");
    assert!(
        took < Duration::from_secs(1 + 2),
        "within the drain + 2 s: {took:?}"
    );
    unacknowledged(&err);
}

#[test]
fn records_not_acknowledged_at_stop_exit_7_saying_how_many() {
    let _s = serial();
    let Some(cluster) = cluster_or_skip("unacknowledged", 1, "", Auth::None) else {
        return;
    };
    init(&cluster, 1, None);
    let sim = decahose();
    let mut h = host(&sim, &cluster.urls_from(0), &["--drain-timeout", "1"]);
    h.wait_for("\"event\":\"connected\"", 2, Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(500));
    cluster.signal(0, "-STOP");
    std::thread::sleep(Duration::from_millis(500));
    let (code, took, err) = term_during_outage(&mut h, &cluster);
    assert_eq!(code, Some(7), "{err}");
    assert!(
        took < Duration::from_secs(5),
        "the drain is bounded: {took:?}"
    );
    assert!(unacknowledged(&err) >= 100, "{err}");
}

/// The message ids stream GNIP holds, in order.
fn stored_ids(cluster: &NatsCluster) -> Vec<String> {
    cluster
        .read_stream("GNIP")
        .unwrap()
        .into_iter()
        .map(|m| m.msg_id.unwrap_or_default())
        .collect()
}

#[test]
fn message_ids_the_same_record_once_compliance_by_kind_id_and_time() {
    let _s = serial();
    let Some(cluster) = cluster_or_skip("message_ids", 1, "", Auth::None) else {
        return;
    };
    init(&cluster, 1, None);
    let lines = [
        r#"{"created_at":"Sat Nov 28 05:00:00 +0000 2026","id":1001,"id_str":"1001","text":"x"}"#,
        r#"{"created_at":"Sat Nov 28 05:00:00 +0000 2026","id":1001,"id_str":"1001","text":"x"}"#,
        r#"{"user_protect":{"id":9,"timestamp_ms":"1432228155593"}}"#,
        r#"{"user_protect":{"id":9,"timestamp_ms":"1432228455593"}}"#,
        r#"{"delete":{"status":{"id":1001,"id_str":"1001","user_id":3},"timestamp_ms":"1432228155593"}}"#,
        r#"{"info":{"message":"Replay Request Completed"}}"#,
        "this is not json",
    ];
    let dir = scratch("ids");
    let file = dir.join("in.ndjson");
    std::fs::write(&file, lines.join("\r\n") + "\n").unwrap();
    let out = publish(&cluster.urls_from(0), "gnip.compliance.0", &file, &[], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("line 7: not a record"), "{err}");
    assert!(
        err.contains("1 system messages, 1 malformed lines"),
        "{err}"
    );
    assert!(err.contains("5 acknowledged (1 duplicates)"), "{err}");
    let ids = stored_ids(&cluster);
    assert_eq!(
        ids,
        vec![
            "activity:1001",
            "user_protect:9:1432228155593",
            "user_protect:9:1432228455593",
            "delete:1001:1432228155593",
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_record_over_the_servers_max_payload_is_skipped_and_the_rest_published() {
    // Audit M2 (b): one record over max_payload got '-ERR Maximum Payload Violation', and the
    // publisher stopped with exit 7 (a crash loop with --backfill-on-start).
    let _s = serial();
    let Some(cluster) = cluster_or_skip("max_payload", 1, "max_payload: 4096\n", Auth::None) else {
        return;
    };
    init(&cluster, 1, None);
    let big = "x".repeat(6000);
    let lines = [
        r#"{"id":1,"id_str":"1","text":"small"}"#.to_owned(),
        format!(r#"{{"id":2,"id_str":"2","text":"{big}"}}"#),
        r#"{"id":3,"id_str":"3","text":"small"}"#.to_owned(),
    ];
    let dir = scratch("max-payload");
    let file = dir.join("in.ndjson");
    // Line 4 is longer than any NATS server takes (64 MiB): passed over, not read whole
    // (audit L8), and line 5 still goes.
    let mut text = (lines.join("\n") + "\n").into_bytes();
    text.extend(std::iter::repeat_n(b'x', (64 << 20) + 100));
    text.extend_from_slice(b"\n{\"id\":5,\"id_str\":\"5\",\"text\":\"after\"}\n");
    std::fs::write(&file, text).unwrap();
    let out = publish(&cluster.urls_from(0), "gnip.x.0", &file, &[], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("line 2: record activity:2 is ")
            && err.contains("over the server's max_payload"),
        "{err}"
    );
    assert!(
        err.contains("line 4: over 67108864 bytes (67108964)"),
        "{err}"
    );
    assert!(err.contains("2 over max_payload"), "{err}");
    let ids = stored_ids(&cluster);
    assert_eq!(ids, ["activity:1", "activity:3", "activity:5"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn publish_gives_the_ids_stream_gives() {
    let _s = serial();
    let Some(cluster) = cluster_or_skip("publish_ids", 1, "", Auth::None) else {
        return;
    };
    init(&cluster, 1, None);
    let sim = decahose();
    let mut h = host(&sim, &cluster.urls_from(0), &["--partition", "1"]);
    h.wait_for("\"event\":\"connected\"", 1, Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(h.term(Duration::from_secs(30)).code(), Some(0));
    let streamed = cluster.read_stream("GNIP").unwrap();
    assert!(streamed.len() > 100);
    // The same bytes through `publish` to another subject (a second stream's).
    let dir = scratch("pubids");
    let file = dir.join("in.ndjson");
    let mut body = Vec::new();
    for m in &streamed {
        body.extend_from_slice(&m.data);
        body.push(b'\n');
    }
    std::fs::write(&file, body).unwrap();
    init_stream(&cluster, "COPY", "copy.>", 1, None);
    let out = publish(&cluster.urls_from(0), "copy.all", &file, &[], &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let copied = cluster.read_stream("COPY").unwrap();
    let a: Vec<(&[u8], Option<&String>)> = streamed
        .iter()
        .map(|m| (m.data.as_slice(), m.msg_id.as_ref()))
        .collect();
    let b: Vec<(&[u8], Option<&String>)> = copied
        .iter()
        .map(|m| (m.data.as_slice(), m.msg_id.as_ref()))
        .collect();
    assert_eq!(a, b);
    let distinct: BTreeSet<_> = a.iter().map(|x| x.1).collect();
    assert_eq!(distinct.len(), a.len());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_lease_taken_by_another_host_stops_its_partition_and_a_wrong_ttl_is_refused() {
    let _s = serial();
    let Some(cluster) = cluster_or_skip("lease_lost", 1, "", Auth::None) else {
        return;
    };
    init(&cluster, 1, Some(("leases", 3)));
    let sim = decahose();
    // --lease-ttl must equal the bucket's max_age; a bucket that is not there is refused.
    for (bucket, ttl, code, says) in [
        (
            "leases",
            "5",
            2,
            "--lease-ttl 5 s does not equal the max_age of lease bucket 'leases', 3 s",
        ),
        ("nobucket", "3", 7, "lease bucket 'nobucket'"),
    ] {
        let mut h = host(
            &sim,
            &cluster.urls_from(0),
            &["--leases", bucket, "--lease-ttl", ttl],
        );
        let status = cli::exit_within(&mut h.child, Instant::now(), Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(status.code(), Some(code), "{}", h.stderr());
        assert!(h.stderr().contains(says), "{}", h.stderr());
    }
    let mut a = host(
        &sim,
        &cluster.urls_from(0),
        &[
            "--leases",
            "leases",
            "--host-id",
            "host-a",
            "--lease-ttl",
            "3",
        ],
    );
    a.wait_for("\"event\":\"lease_gained\"", 2, Duration::from_secs(20));
    // Another writer takes partition 1's key (as a host that thought it expired would).
    let key = "$KV.leases.sample10.prod.1.0";
    let mut c = cluster.connect().unwrap();
    let (subject, body) = gnip_stream::unversioned::nats::api::last_msg_request("KV_leases", key);
    let (h, p) = c
        .request(&subject, &[], &body, Duration::from_secs(2))
        .unwrap();
    let held = gnip_stream::unversioned::nats::api::stored_msg(
        gnip_stream::unversioned::nats::api::reply(h.as_deref(), &p),
    )
    .unwrap()
    .unwrap();
    assert_eq!(held.data, b"host-a");
    let seq = held.seq.to_string();
    let (h, p) = c
        .request(
            key,
            &[("Nats-Expected-Last-Subject-Sequence", &seq)],
            b"intruder",
            Duration::from_secs(2),
        )
        .unwrap();
    assert!(gnip_stream::unversioned::nats::PubAck::parse(h.as_deref(), &p).is_delivered());
    let taken = Instant::now();
    let lost = a.wait_for("\"event\":\"lease_lost\"", 1, Duration::from_secs(10));
    assert!(
        lost - taken <= Duration::from_secs(2),
        "lost after {:?}",
        lost - taken
    );
    assert!(
        a.stderr()
            .contains("\"event\":\"lease_lost\",\"partition\":1"),
        "{}",
        a.stderr()
    );
    // Partition 1 stopped (its stream closed) at once; partition 2 goes on.
    a.wait_for(
        "\"event\":\"disconnected\",\"partition\":1",
        1,
        Duration::from_secs(2),
    );
    assert_eq!(
        a.term(Duration::from_secs(30)).code(),
        Some(0),
        "{}",
        a.stderr()
    );
}

#[test]
fn publish_and_jetstream_init_stop_within_2_s_of_a_signal() {
    let _s = serial();
    let Some(cluster) = cluster_or_skip("signals", 1, "", Auth::None) else {
        return;
    };
    init(&cluster, 1, None);
    // publish reading an input that stays open: a signal is its end, as for stream.
    let mut c = cli::bin();
    c.env_remove("NATS_USER")
        .env_remove("NATS_PASSWORD")
        .env_remove("NATS_TOKEN")
        .args([
            "publish",
            "--jetstream",
            &cluster.urls_from(0),
            "--subject",
            "gnip.signals.1",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    for id in 1..=3 {
        use std::io::Write as _;
        writeln!(
            input,
            "{{\"id\":\"tag:search.twitter.com,2005:{id}\",\"verb\":\"post\"}}"
        )
        .unwrap();
    }
    std::thread::sleep(Duration::from_millis(1500));
    cli::signal(&child, "-TERM");
    let since = Instant::now();
    let status = cli::exit_within(&mut child, since, Duration::from_secs(2));
    let mut err = String::new();
    let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err);
    drop(input);
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(
        err.contains("3 records taken, 3 acknowledged, 0 not acknowledged"),
        "{err}"
    );
    // jetstream-init against a server that does not answer: stopped, 128 + SIGTERM.
    cluster.signal(0, "-STOP");
    let mut c = cli::bin();
    c.env_remove("NATS_USER")
        .env_remove("NATS_PASSWORD")
        .env_remove("NATS_TOKEN")
        .args([
            "jetstream-init",
            "--jetstream",
            &cluster.urls_from(0),
            "--stream",
            "OTHER",
            "--subjects",
            "other.>",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    cli::signal(&child, "-TERM");
    let since = Instant::now();
    let status = cli::exit_within(&mut child, since, Duration::from_secs(2));
    cluster.signal(0, "-CONT");
    let mut err = String::new();
    let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err);
    assert_eq!(status.code(), Some(143), "{err}");
    assert!(err.contains("jetstream-init stopped by a signal"), "{err}");
}

#[test]
fn a_restart_with_state_backfills_each_partition_s_own_gap_and_loses_nothing() {
    let _s = serial();
    let Some(cluster) = cluster_or_skip("state", 1, "", Auth::None) else {
        return;
    };
    init(&cluster, 1, None);
    let sim = decahose();
    let state = scratch("state").join("acked");
    let path = state.display().to_string();
    let mut a = host(&sim, &cluster.urls_from(0), &["--state", &path]);
    a.wait_for("\"event\":\"connected\"", 2, Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(3));
    // A crash: the state file is at most a second old.
    a.kill();
    let text = std::fs::read_to_string(&state).unwrap();
    let times: BTreeMap<u32, i64> = text
        .lines()
        .map(|l| {
            let (p, t) = l.split_once(' ').unwrap();
            (p.parse().unwrap(), t.parse().unwrap())
        })
        .collect();
    assert_eq!(
        times.keys().copied().collect::<Vec<_>>(),
        vec![1, 2],
        "{text}"
    );
    let before = sim.requests().len();
    std::thread::sleep(Duration::from_secs(2));
    let mut b = host(&sim, &cluster.urls_from(0), &["--state", &path]);
    b.wait_for("\"event\":\"connected\"", 2, Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(2));
    b.term_ok();
    // Each partition's first request after the restart: its gap (seconds) → 2 minutes.
    for p in ["1", "2"] {
        let r = sim.requests()[before..]
            .iter()
            .find(|r| r.param("partition") == Some(p))
            .cloned()
            .unwrap();
        assert_eq!(r.param("backfillMinutes"), Some("2"), "{}", r.query);
    }
    assert!(
        b.stderr().contains("latest record acknowledged"),
        "{}",
        b.stderr()
    );
    // Nothing lost across the crash (JetStream's duplicate window drops the overlap).
    for (p, (first, last, n)) in verify(&cluster) {
        assert_eq!((last - first) / 2 + 1, n as u64, "partition {p}");
    }
    drop(cluster);
    sim.shutdown();
}

#[test]
fn a_v2_stream_stores_each_record_once_under_its_v2_key() {
    use gnip_stream::Product;
    use gnip_stream::core::Record;
    use gnip_stream::simulator::{DEMO_BEARER_TOKEN, v2_record_index};
    use gnip_stream::unversioned::protocol::dialect::Dialect;
    use gnip_stream::unversioned::protocol::v2::products::V2Product;

    let _s = serial();
    let Some(cluster) = cluster_or_skip("v2_ids", 1, "", Auth::None) else {
        return;
    };
    init(&cluster, 1, None);
    let sim = Simulator::start(SimulatorConfig::default().rate(Rate::PerSecond(500.0))).unwrap();
    let (base, urls) = (sim.base_url(), cluster.urls_from(0));
    let args = [
        "stream",
        "--api",
        "v2",
        "--product",
        "decahose",
        "--host",
        &base,
        "--jetstream",
        &urls,
        "--log-format",
        "json",
    ];
    let mut h = Host::start(&args, &[("X_BEARER_TOKEN", DEMO_BEARER_TOKEN)]);
    std::thread::sleep(Duration::from_secs(3));
    let status = h.term(Duration::from_secs(30));
    let err = h.stderr();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.contains("\"unacknowledged\":0"), "{err}");
    wait_all_acked(&cluster, Duration::from_millis(500));
    let msgs = cluster.read_stream("GNIP").unwrap();
    let mut by: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    let mut ids = BTreeSet::new();
    for m in &msgs {
        let g = v2_record_index(&m.data).expect("a v2 simulator record");
        assert_eq!(
            m.data,
            sim.record_of(Product::V2(V2Product::Decahose), g),
            "record {g} byte-exact"
        );
        let own = Dialect::V2
            .record_key(&Record::new(&m.data))
            .expect("a key")
            .message_id();
        let id = m.msg_id.clone().unwrap_or_default();
        assert_eq!(id, own, "message id of record {g}");
        assert!(id.starts_with("activity:"), "{id}");
        assert!(ids.insert(id), "record {g} stored twice");
        let p = g % 2 + 1;
        assert!(
            m.subject.starts_with("gnip.") && m.subject.ends_with(&format!(".{p}")),
            "subject {} of record {g}",
            m.subject
        );
        by.entry(p).or_default().push(g);
    }
    assert_eq!(by.len(), 2, "both partitions stored");
    for (p, gs) in &mut by {
        gs.sort_unstable();
        assert_eq!(
            gs.len() as u64,
            (gs[gs.len() - 1] - gs[0]) / 2 + 1,
            "partition {p}: no record missing"
        );
    }
    sim.shutdown();
}

#[test]
fn a_record_the_stream_refuses_for_its_size_is_skipped_and_the_rest_published() {
    // Audit M2 (c): a final refusal of one message (over the stream's max_msg_size, below the
    // server's max_payload) stopped the publisher with exit 7.
    let _s = serial();
    let Some(cluster) = cluster_or_skip("max_msg_size", 1, "", Auth::None) else {
        return;
    };
    // Stream GNIP as jetstream-init makes it, but taking messages of 4096 bytes at most.
    let spec = StreamSpec::records("GNIP", "gnip.>", 1, 60_000_000_000);
    let mut config: serde_json::Value = serde_json::from_slice(&spec.config()).unwrap();
    config["max_msg_size"] = 4096.into();
    let mut c = cluster.connect().unwrap();
    let reply = c
        .request(
            &spec.create_subject(),
            &[],
            config.to_string().as_bytes(),
            Duration::from_secs(10),
        )
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&reply.1).contains("\"error\""),
        "{}",
        String::from_utf8_lossy(&reply.1)
    );
    let big = "x".repeat(6000);
    let lines = [
        r#"{"id":1,"id_str":"1","text":"small"}"#.to_owned(),
        format!(r#"{{"id":2,"id_str":"2","text":"{big}"}}"#),
        r#"{"id":3,"id_str":"3","text":"small"}"#.to_owned(),
    ];
    let dir = scratch("max-msg-size");
    let file = dir.join("in.ndjson");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let out = publish(&cluster.urls_from(0), "gnip.x.0", &file, &[], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("record activity:2 of partition 0 (")
            && err.contains("refused for itself: message size exceeds maximum allowed"),
        "{err}"
    );
    assert!(err.contains("1 not published (too large)"), "{err}");
    assert_eq!(stored_ids(&cluster), ["activity:1", "activity:3"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn stream_skips_a_record_over_the_servers_max_payload_and_says_so() {
    // Audit M2 (b) through `stream --jetstream`: the handler passes over a record no server
    // takes, logs it with its key and size, counts it, and every other record is stored.
    use gnip_stream::Product;
    use gnip_stream::core::Record;
    use gnip_stream::simulator::record_index;
    use gnip_stream::unversioned::protocol::dialect::Dialect;

    let _s = serial();
    let sim = decahose();
    // A limit that the simulator's larger records are over: the median record's size with
    // room for the headers.
    let mut sizes: Vec<usize> = (0..400)
        .map(|g| sim.record_of(Product::Decahose, g).len())
        .collect();
    sizes.sort_unstable();
    let limit = sizes[sizes.len() / 2] + 60;
    let config = format!("max_payload: {limit}\n");
    let Some(cluster) = cluster_or_skip("stream_max_payload", 1, &config, Auth::None) else {
        sim.shutdown();
        return;
    };
    init(&cluster, 1, None);
    let mut h = host(&sim, &cluster.urls_from(0), &[]);
    std::thread::sleep(Duration::from_secs(2));
    let status = h.term(Duration::from_secs(30));
    let err = h.stderr();
    assert_eq!(status.code(), Some(0), "{err}");
    wait_all_acked(&cluster, Duration::from_millis(500));
    let stored = cluster.read_stream("GNIP").unwrap();
    assert!(!stored.is_empty(), "{err}");
    // Per partition (record g is partition g % 2 + 1), the records taken span first..=last.
    let mut seen: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    for m in &stored {
        let g = record_index(&m.data).expect("a simulator record");
        assert_eq!(
            m.data,
            sim.record_of(Product::Decahose, g),
            "record {g} byte-exact"
        );
        let p = g % 2 + 1;
        assert!(
            m.subject.ends_with(&format!(".{p}")),
            "record {g} on {}",
            m.subject
        );
        seen.entry(p).or_default().insert(g);
    }
    // Each record of a partition's span is stored, or was over the limit and is named on
    // stderr as one JSON warning.
    let mut skipped = 0;
    for (p, gs) in &seen {
        let (first, last) = (*gs.first().unwrap(), *gs.last().unwrap());
        for g in (first..=last).step_by(2) {
            if gs.contains(&g) {
                continue;
            }
            let data = sim.record_of(Product::Decahose, g);
            let id = Dialect::Gnip
                .record_key(&Record::new(&data))
                .expect("a key")
                .message_id();
            assert!(
                data.len() + id.len() + 24 > limit,
                "record {g} ({} bytes) lost",
                data.len()
            );
            let said = format!("record {id} of partition {p} is ");
            let line = err
                .lines()
                .find(|l| l.contains(&said))
                .unwrap_or_else(|| panic!("record {g} ({id}) not named: {err}"));
            assert!(
                line.contains("over the server's max_payload: not published"),
                "{line}"
            );
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(
                (v["level"].as_str(), v["event"].as_str()),
                (Some("warn"), Some("jetstream"))
            );
            assert_eq!(line.matches("\"message\":").count(), 1, "{line}");
            skipped += 1;
        }
    }
    assert!(skipped > 0, "no record over {limit} bytes taken");
    assert!(err.contains("\"skipped\":"), "{err}");
    sim.shutdown();
}

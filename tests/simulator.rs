//! The simulator against the crate's own frame decoder over plain TCP on loopback: every
//! behaviour issue 3 lists (URLs, auth, gzip, partitions, rate limits, heartbeats, the record
//! feed, backfill, redundant connections, Replay, each scripted fault, the request log).

mod common;

use std::time::{Duration, Instant};

use common::client::{BodyEnd, Get, get};
use common::records;
use gnip_stream::Product;
use gnip_stream::core::record_id;
use gnip_stream::simulator::{
    Fault, Rate, RecordSource, Simulator, SimulatorConfig, Which, record_id_for, record_index,
    record_index_for,
};
use gnip_stream::testing::oracle::Owned;
use gnip_stream::unversioned::protocol::time;

const SECS: Duration = Duration::from_secs(5);

fn sim(config: SimulatorConfig) -> Simulator {
    Simulator::start(config).unwrap()
}

fn path(product: Product, query: &str) -> String {
    let p = format!(
        "/stream/{}/accounts/acme/publishers/twitter/prod.json",
        product.path_name()
    );
    if query.is_empty() {
        p
    } else {
        format!("{p}?{query}")
    }
}

fn ids(recs: &[Vec<u8>]) -> Vec<u64> {
    recs.iter()
        .map(|r| record_id(r).unwrap().parse().unwrap())
        .collect()
}

#[test]
fn serves_records_byte_exact_flushed_one_by_one_with_fresh_ids() {
    let s = sim(SimulatorConfig::default().rate(Rate::PerSecond(200.0)));
    assert!(s.addr().ip().is_loopback());
    let mut r = get(s.addr(), &Get::new(&path(Product::PowerTrack, "")));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let recs = r.records(50, SECS);
    assert!(recs.len() >= 50, "{}", recs.len());
    let got = ids(&recs);
    for (w, rec) in got.windows(2).zip(&recs) {
        assert_eq!(w[1], w[0] + 1, "consecutive, no gaps or repeats");
        assert_eq!(
            *rec,
            s.record(record_index_for(w[0]).unwrap()),
            "byte-exact"
        );
    }
    // Ids are fresh: above 2^53 and not the corpus's own.
    assert!(got[0] > 1 << 53);
    s.shutdown();
}

#[test]
fn each_record_arrives_as_soon_as_it_is_published() {
    // 4 records a second: a server that did not flush would leave them in its compressor.
    let s = sim(SimulatorConfig::default().rate(Rate::PerSecond(4.0)));
    let mut r = get(s.addr(), &Get::new(&path(Product::PowerTrack, "")));
    let start = Instant::now();
    assert_eq!(r.records(3, SECS).len(), 3);
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn heartbeats_on_an_idle_stream() {
    let s = sim(SimulatorConfig::default()
        .rate(Rate::PerSecond(0.0))
        .heartbeat(Duration::from_millis(100)));
    let mut r = get(s.addr(), &Get::new(&path(Product::PowerTrack, "")));
    assert!(r.read_until(SECS, |r| r.heartbeats() >= 5));
    assert!(records(&r.events).is_empty());
}

#[test]
fn unknown_paths_are_404_and_bad_partitions_400() {
    let s = sim(SimulatorConfig::default());
    for bad in [
        "/",
        "/stream/decahose/accounts/a/publishers/twitter/p.json",
        "/stream/powertrack/accounts/a/publishers/twitter/p",
    ] {
        assert_eq!(get(s.addr(), &Get::new(bad)).status, 404, "{bad}");
    }
    for (product, query) in [
        (Product::Decahose, ""),
        (Product::Decahose, "partition=3"),
        (Product::Firehose, "partition=0"),
        (Product::Firehose, "partition=21"),
        (Product::Compliance, "partition=9"),
        (Product::PowerTrack, "partition=1"),
        (Product::PowerTrack, "backfillMinutes=6"),
        (Product::PowerTrack, "backfillMinutes=0"),
    ] {
        let r = get(s.addr(), &Get::new(&path(product, query)));
        assert_eq!(r.status, 400, "{product:?} {query}");
        assert!(r.text_body().contains("\"error\""));
    }
    for (product, query) in [
        (Product::Decahose, "partition=2"),
        (Product::Firehose, "partition=20"),
        (Product::Compliance, "partition=8"),
    ] {
        assert_eq!(
            get(s.addr(), &Get::new(&path(product, query))).status,
            200,
            "{product:?} {query}"
        );
    }
}

#[test]
fn wrong_or_missing_credentials_are_401_with_a_json_body() {
    let s = sim(SimulatorConfig::default().credentials("acme", "s3cret"));
    let p = path(Product::PowerTrack, "");
    for auth in [None, Some(("acme", "wrong")), Some(("other", "s3cret"))] {
        let r = get(
            s.addr(),
            &Get {
                auth,
                ..Get::new(&p)
            },
        );
        assert_eq!(r.status, 401);
        let body: serde_json::Value = serde_json::from_str(&r.text_body()).unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("credentials")
        );
    }
    let ok = get(
        s.addr(),
        &Get {
            auth: Some(("acme", "s3cret")),
            ..Get::new(&p)
        },
    );
    assert_eq!(ok.status, 200);
}

#[test]
fn no_gzip_is_406_with_the_service_message() {
    let s = sim(SimulatorConfig::default());
    let r = get(
        s.addr(),
        &Get {
            gzip: false,
            ..Get::new(&path(Product::PowerTrack, ""))
        },
    );
    assert_eq!(r.status, 406);
    let body: serde_json::Value = serde_json::from_str(&r.text_body()).unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("This connection requires compression.")
    );
    assert!(body["error"]["sent"].is_string());
}

#[test]
fn connection_rate_limit_is_429_until_the_window_passes() {
    let s = sim(SimulatorConfig::default().rate_limit_window(Duration::from_millis(1500)));
    let p = path(Product::Decahose, "partition=1");
    let statuses: Vec<u16> = (0..11)
        .map(|_| get(s.addr(), &Get::new(&p)).status)
        .collect();
    assert_eq!(&statuses[..10], &[200; 10], "10 a window for Decahose");
    assert_eq!(statuses[10], 429);
    let r = get(s.addr(), &Get::new(&p));
    assert_eq!(r.status, 429);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&r.text_body()).unwrap()["error"]["message"],
        "Exceeded rate limit"
    );
    // Another product has its own budget; PowerTrack allows 60.
    let pt = path(Product::PowerTrack, "");
    assert!((0..60).all(|_| get(s.addr(), &Get::new(&pt)).status == 200));
    assert_eq!(get(s.addr(), &Get::new(&pt)).status, 429);
    std::thread::sleep(Duration::from_millis(1600));
    assert_eq!(get(s.addr(), &Get::new(&p)).status, 200, "a new window");
}

#[test]
fn partitions_get_disjoint_shares_that_add_up_to_the_stream() {
    let s = sim(SimulatorConfig::default().rate(Rate::PerSecond(400.0)));
    let mut parts: Vec<_> = (1..=2)
        .map(|p| {
            get(
                s.addr(),
                &Get::new(&path(Product::Decahose, &format!("partition={p}"))),
            )
        })
        .collect();
    let mut all = Vec::new();
    for (i, r) in parts.iter_mut().enumerate() {
        let got = ids(&r.records(40, SECS));
        assert!(got.len() >= 40);
        assert!(
            got.iter()
                .all(|id| record_index_for(*id).unwrap() % 2 == i as u64),
            "partition {} has only its lane",
            i + 1
        );
        assert!(got.windows(2).all(|w| w[1] == w[0] + 2));
        all.extend(got);
    }
    all.sort_unstable();
    all.dedup();
    assert!(all.len() >= 80, "disjoint: no id in both");
}

#[test]
fn backfill_replays_the_last_minutes_oldest_first_then_goes_live() {
    let s = sim(SimulatorConfig::default().rate(Rate::PerSecond(100.0)));
    std::thread::sleep(Duration::from_millis(1200));
    let mut live = get(s.addr(), &Get::new(&path(Product::PowerTrack, "")));
    let first_live = ids(&live.records(1, SECS))[0];
    assert!(
        record_index_for(first_live).unwrap() >= 100,
        "live starts at now: {}",
        record_index_for(first_live).unwrap()
    );
    let mut back = get(
        s.addr(),
        &Get::new(&path(Product::PowerTrack, "backfillMinutes=1")),
    );
    let got = ids(&back.records((record_index_for(first_live).unwrap() + 20) as usize, SECS));
    assert_eq!(
        record_index_for(got[0]).unwrap(),
        0,
        "the minute goes back past the simulator's start"
    );
    assert!(
        got.windows(2).all(|w| w[1] == w[0] + 1),
        "oldest first, no gap into live"
    );
    assert!(
        got.contains(&first_live),
        "overlap with what the live connection had: duplicates, as documented"
    );
    assert_eq!(
        s.requests().last().unwrap().param("backfillMinutes"),
        Some("1")
    );
}

#[test]
fn the_connection_over_the_redundancy_limit_is_force_disconnected() {
    let s = sim(SimulatorConfig::default()
        .rate(Rate::PerSecond(50.0))
        .redundant_connections(1)
        .force_disconnect_after(Duration::from_millis(300)));
    let p = path(Product::Firehose, "partition=7");
    let mut first = get(s.addr(), &Get::new(&p));
    first.records(1, SECS);
    let mut second = get(s.addr(), &Get::new(&p));
    assert!(second.read_until(SECS, |r| r.end.is_some()));
    assert_eq!(second.end, Some(BodyEnd::LastChunk));
    assert_eq!(
        second.systems,
        vec!["Forced Disconnect: Too many connections. (Allowed Connections = 1)".to_owned()]
    );
    // The first one goes on; another partition is another stream.
    let before = records(&first.events).len();
    assert!(first.read_until(SECS, |r| records(&r.events).len() > before + 10));
    assert!(first.end.is_none());
    let mut other = get(s.addr(), &Get::new(&path(Product::Firehose, "partition=8")));
    assert!(!other.read_until(Duration::from_millis(600), |r| r.end.is_some()));
}

#[test]
fn replay_validates_dates_with_406_and_its_message() {
    let s = sim(SimulatorConfig::default());
    let base = "/replay/powertrack/accounts/acme/publishers/twitter/prod.json";
    let now = gnip_stream::unversioned::clock::now_secs();
    let (from_ok, to_ok) = (
        time::replay_date(now - 3 * 3600),
        time::replay_date(now - 2 * 3600),
    );
    for (q, says) in [
        (
            format!("fromDate=2017&toDate={to_ok}"),
            "Invalid date format for query parameter 'fromDate'",
        ),
        (
            format!("fromDate={to_ok}&toDate={from_ok}"),
            "must be before",
        ),
        (
            format!(
                "fromDate={}&toDate={to_ok}",
                time::replay_date(now - 6 * 86_400)
            ),
            "within the last 5 days",
        ),
        (
            format!("fromDate={from_ok}&toDate={}", time::replay_date(now - 600)),
            "at least 30 minutes ago",
        ),
    ] {
        let r = get(s.addr(), &Get::new(&format!("{base}?{q}")));
        assert_eq!(r.status, 406, "{q}");
        assert!(r.text_body().contains(says), "{q}");
    }
}

#[test]
fn replay_streams_the_range_then_completes_with_a_count_and_a_clean_end() {
    let s = sim(SimulatorConfig::default().replay_records_per_minute(30));
    let now = gnip_stream::unversioned::clock::now_secs() / 60 * 60;
    let (from, to) = (now - 3 * 3600, now - 3 * 3600 + 10 * 60);
    let q = format!(
        "fromDate={}&toDate={}",
        time::replay_date(from),
        time::replay_date(to)
    );
    let mut r = get(
        s.addr(),
        &Get::new(&format!(
            "/replay/firehose/accounts/acme/publishers/twitter/prod.json?{q}"
        )),
    );
    assert_eq!(r.status, 200);
    assert!(r.read_until(SECS, |r| r.end.is_some()));
    assert_eq!(
        r.end,
        Some(BodyEnd::LastChunk),
        "zero chunk, and the gzip trailer checked (CRC on)"
    );
    let recs = records(&r.events);
    let data = &recs[..recs.len() - 1];
    assert_eq!(data.len(), 300);
    assert_eq!(r.systems, vec!["Replay Request Completed".to_owned()]);
    let done: serde_json::Value = serde_json::from_slice(recs.last().unwrap()).unwrap();
    assert_eq!(done["info"]["activity_count"], 300);
    // Every record's time lies in [from, to), in order.
    let mut last = from;
    for rec in data {
        let v: serde_json::Value = serde_json::from_slice(rec).unwrap();
        let t = v
            .get("created_at")
            .or(v.get("postedTime"))
            .and_then(|t| t.as_str());
        if let Some(t) = t {
            let secs = time::parse_timestamp(t).unwrap();
            assert!((last..to).contains(&secs), "{t}");
            last = secs;
        }
    }
    // A re-request of the second half returns the same records (same ids): resumable.
    let half = format!(
        "fromDate={}&toDate={}",
        time::replay_date(from + 300),
        time::replay_date(to)
    );
    let mut again = get(
        s.addr(),
        &Get::new(&format!(
            "/replay/firehose/accounts/acme/publishers/twitter/prod.json?{half}"
        )),
    );
    again.read_until(SECS, |r| r.end.is_some());
    let second = records(&again.events);
    assert_eq!(&second[..150], &data[150..]);
}

#[test]
fn fault_status_answers_503_then_the_next_connection_streams() {
    let s = sim(SimulatorConfig::default().fault(
        Which::Connection(1),
        Fault::Status {
            status: 503,
            message: "Service Unavailable".into(),
        },
    ));
    let p = path(Product::PowerTrack, "");
    let r = get(s.addr(), &Get::new(&p));
    assert_eq!(r.status, 503);
    assert!(r.text_body().contains("Service Unavailable"));
    assert_eq!(get(s.addr(), &Get::new(&p)).status, 200);
    let log: Vec<u16> = s.requests().iter().map(|r| r.status).collect();
    assert_eq!(log, vec![503, 200]);
}

#[test]
fn fault_drop_after_bytes_cuts_the_stream_mid_record() {
    // The records' compressed sizes vary with their fresh ids and times, so a cut can land on
    // a record's end by chance: each length is checked exactly, and a cut inside a record must
    // show in one of three lengths (all three on a boundary would be a one-in-millions run).
    let mut mid_record = Vec::new();
    for bytes in [3000u64, 3001, 3003] {
        let s = sim(SimulatorConfig::default()
            .rate(Rate::PerSecond(500.0))
            .fault(Which::Every, Fault::DropAfter { bytes }));
        let mut r = get(s.addr(), &Get::new(&path(Product::PowerTrack, "")));
        assert!(r.read_until(SECS, |r| r.end.is_some()));
        assert_eq!(r.end, Some(BodyEnd::Closed), "no last chunk");
        assert_eq!(r.body_bytes, bytes);
        mid_record.push(matches!(r.events.last(), Some(Owned::Incomplete(_))));
        // What did arrive is exact.
        for rec in records(&r.events) {
            let g = record_index(&rec).unwrap();
            assert_eq!(rec, s.record(g));
        }
    }
    assert!(
        mid_record.contains(&true),
        "cut inside a record: {mid_record:?}"
    );
}

#[test]
fn fault_stall_sends_nothing_not_even_heartbeats() {
    let s = sim(SimulatorConfig::default()
        .rate(Rate::PerSecond(100.0))
        .heartbeat(Duration::from_millis(50))
        .fault(
            Which::Every,
            Fault::Stall {
                after_records: 5,
                duration: Duration::from_millis(800),
            },
        ));
    let mut r = get(s.addr(), &Get::new(&path(Product::PowerTrack, "")));
    r.records(5, SECS);
    let (n, hb) = (r.events.len(), r.heartbeats());
    let t = Instant::now();
    assert!(!r.read_until(Duration::from_millis(600), |r| r.events.len() > n));
    assert_eq!(r.heartbeats(), hb);
    assert!(
        r.read_until(SECS, |r| records(&r.events).len() > 6),
        "the stream resumes"
    );
    assert!(t.elapsed() >= Duration::from_millis(600));
}

#[test]
fn fault_corrupt_after_bytes_breaks_the_gzip_stream() {
    let s = sim(SimulatorConfig::default()
        .rate(Rate::PerSecond(500.0))
        .fault(Which::Every, Fault::CorruptAfter { bytes: 2000 }));
    let mut r = get(s.addr(), &Get::new(&path(Product::PowerTrack, "")));
    assert!(r.read_until(SECS, |r| r.end.is_some()));
    assert!(matches!(r.end, Some(BodyEnd::Decode(_))), "{:?}", r.end);
    assert!(
        !records(&r.events).is_empty(),
        "the records before the corruption arrived"
    );
}

#[test]
fn fault_bare_newline_system_message_and_overlong_record() {
    let s = sim(SimulatorConfig::default()
        .rate(Rate::PerSecond(100.0))
        .fault(Which::Every, Fault::BareNewlineSystemMessage)
        .fault(Which::Every, Fault::OverlongRecord { bytes: 100_000 }));
    let mut r = get(s.addr(), &Get::new(&path(Product::PowerTrack, "")));
    r.records(4, SECS);
    assert_eq!(
        r.systems,
        vec!["This system message ends in a bare newline".to_owned()]
    );
    assert!(
        r.events.contains(&Owned::Overlong(100_000)),
        "the test client's limit is 64 KiB"
    );
    assert!(records(&r.events).len() >= 4, "and the stream goes on");
}

#[test]
fn fault_buffer_limit_closes_a_slow_reader() {
    let s = sim(SimulatorConfig::default()
        .rate(Rate::Unlimited)
        .fault(Which::Every, Fault::BufferLimit { bytes: 256 * 1024 }));
    let mut r = get(s.addr(), &Get::new(&path(Product::PowerTrack, "")));
    // Read nothing for a while: kernel buffers fill, then the simulator's backlog.
    let t = Instant::now();
    while s.live_connections() > 0 && t.elapsed() < SECS {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        s.live_connections(),
        0,
        "the simulator closed the connection"
    );
    // Draining what was queued ends in a closed socket, never a last chunk.
    assert!(r.read_until(Duration::from_secs(20), |r| r.end.is_some()));
    assert_ne!(r.end, Some(BodyEnd::LastChunk));
}

#[test]
fn the_request_log_has_every_request_without_the_password() {
    let s = sim(SimulatorConfig::default().credentials("acme", "hunter2-secret"));
    let p = path(Product::Firehose, "partition=3&backfillMinutes=2");
    let _ = get(
        s.addr(),
        &Get {
            auth: Some(("acme", "hunter2-secret")),
            ..Get::new(&p)
        },
    );
    let _ = get(
        s.addr(),
        &Get {
            auth: Some(("acme", "wrong-pass")),
            ..Get::new(&p)
        },
    );
    let log = s.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(
        (log[0].connection, log[0].status, log[1].status),
        (1, 200, 401)
    );
    assert_eq!(
        log[0].path,
        "/stream/firehose/accounts/acme/publishers/twitter/prod.json"
    );
    assert_eq!(
        (log[0].param("partition"), log[0].param("backfillMinutes")),
        (Some("3"), Some("2"))
    );
    assert_eq!(
        log[0].header("authorization"),
        Some("Basic acme:<redacted>")
    );
    assert_eq!(log[0].header("accept-encoding"), Some("gzip"));
    let dump = format!("{log:?}");
    assert!(
        !dump.contains("hunter2") && !dump.contains("wrong-pass"),
        "{dump}"
    );
}

#[test]
fn shutdown_ends_open_streams_and_joins_every_thread_promptly() {
    let s = sim(SimulatorConfig::default().rate(Rate::PerSecond(0.0)));
    let mut open: Vec<_> = (0..5)
        .map(|_| get(s.addr(), &Get::new(&path(Product::PowerTrack, ""))))
        .collect();
    let t = Instant::now();
    while s.live_connections() < 5 && t.elapsed() < SECS {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(s.live_connections(), 5);
    let t = Instant::now();
    s.shutdown();
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    for r in &mut open {
        assert!(r.read_until(SECS, |r| r.end.is_some()));
    }
}

#[test]
fn the_generator_source_needs_no_files() {
    let s = sim(SimulatorConfig::default()
        .source(RecordSource::generated(7, 50))
        .rate(Rate::PerSecond(300.0)));
    assert!(s.source().description().contains("generated"));
    let mut r = get(s.addr(), &Get::new(&path(Product::PowerTrack, "")));
    let recs = r.records(60, SECS);
    assert!(recs.len() >= 60);
    for rec in &recs {
        assert_eq!(*rec, s.record(record_index(rec).unwrap()));
    }
}

#[test]
fn the_corpus_source_replays_every_real_record_with_a_fresh_id() {
    let Some(files) = common::corpus_or_skip("simulator corpus source") else {
        return;
    };
    let dir = gnip_stream::simulator::corpus::dir().unwrap();
    let src = RecordSource::corpus(&dir).unwrap();
    let data: usize = files
        .iter()
        .filter(|f| f.name != "system_messages.ndjson")
        .map(|f| f.records.len())
        .sum();
    assert_eq!(
        src.len(),
        data,
        "every activity and compliance record, no system message"
    );
    for g in 0..src.len() as u64 {
        let mut out = Vec::new();
        src.render(g, 1_700_000_000, &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert!(v.is_object());
        assert_eq!(
            record_id(&out),
            Some(record_id_for(g).to_string().as_str()),
            "record {g}"
        );
    }
}

#[test]
fn fault_status_works_for_every_listed_code_on_its_own_connection() {
    let codes = [500u16, 503, 429, 401, 406];
    let mut config = SimulatorConfig::default();
    for (i, code) in codes.iter().enumerate() {
        let message = format!("scripted {code}");
        config = config.fault(
            Which::Connection(i as u64 + 1),
            Fault::Status {
                status: *code,
                message,
            },
        );
    }
    let s = sim(config);
    let p = path(Product::PowerTrack, "");
    for code in codes {
        let r = get(s.addr(), &Get::new(&p));
        assert_eq!(r.status, code);
        let body: serde_json::Value = serde_json::from_str(&r.text_body()).unwrap();
        assert_eq!(body["error"]["message"], format!("scripted {code}"));
    }
    assert_eq!(
        get(s.addr(), &Get::new(&p)).status,
        200,
        "connection 6 has no fault"
    );
    // Faults added while running apply to later connections.
    s.add_fault(
        Which::From(7),
        Fault::Status {
            status: 500,
            message: "later".into(),
        },
    );
    assert_eq!(get(s.addr(), &Get::new(&p)).status, 500);
    s.clear_faults();
    assert_eq!(get(s.addr(), &Get::new(&p)).status, 200);
}

#[test]
fn fault_drop_mid_record_cuts_inside_the_next_record_whatever_the_timing() {
    let s = sim(SimulatorConfig::default()
        .rate(Rate::PerSecond(1000.0))
        .fault(Which::Every, Fault::DropMidRecord { after_records: 25 }));
    let mut r = get(s.addr(), &Get::new(&path(Product::PowerTrack, "")));
    assert!(r.read_until(SECS, |r| r.end.is_some()));
    assert_eq!(r.end, Some(BodyEnd::Closed));
    assert_eq!(records(&r.events).len(), 25);
    assert!(
        matches!(r.events.last(), Some(Owned::Incomplete(n)) if *n > 0),
        "{:?}",
        r.events.last()
    );
}

//! The real client against the simulator over loopback: one test per row of issue 4, each
//! asserting the exact outcome (records once and byte-exact, the request log, the ending and
//! error kind, timings within a tolerance).

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gnip_stream::client::{
    Client, ClientConfig, ClientEvent, Delivery, Flow, ReplayRange, Running,
};
use gnip_stream::core::{DecoderConfig, RecordKind, record_id};
use gnip_stream::policy::{BackoffConfig, Ending};
use gnip_stream::simulator::{Fault, Rate, Simulator, SimulatorConfig, Which, record_id_for};
use gnip_stream::{Error, Product, time};

const WAIT: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Seen {
    records: Mutex<Vec<(u32, Vec<u8>)>>,
    events: Mutex<Vec<(u32, Instant, ClientEvent)>>,
}

impl Seen {
    fn records(&self) -> Vec<(u32, Vec<u8>)> {
        self.records.lock().unwrap().clone()
    }
    fn data(&self) -> Vec<Vec<u8>> {
        self.records()
            .into_iter()
            .map(|(_, r)| r)
            .filter(|r| !r.starts_with(b"{\"info\"") && !r.starts_with(b"{\"error\""))
            .collect()
    }
    fn events(&self) -> Vec<(u32, Instant, ClientEvent)> {
        self.events.lock().unwrap().clone()
    }
    fn count(&self, f: impl Fn(&ClientEvent) -> bool) -> usize {
        self.events().iter().filter(|(_, _, e)| f(e)).count()
    }
    fn wait(&self, what: &str, f: impl Fn(&Seen) -> bool) {
        let t = Instant::now();
        while !f(self) {
            assert!(t.elapsed() < WAIT, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn fast_backoff() -> BackoffConfig {
    BackoffConfig {
        network_step: Duration::from_millis(50),
        http_base: Duration::from_millis(100),
        rate_limited_base: Duration::from_millis(200),
        healthy_after: Duration::from_secs(2),
        ..BackoffConfig::default()
    }
}

fn config(sim: &Simulator, product: Product) -> ClientConfig {
    ClientConfig::stream(product, "acme", "prod")
        .host(&sim.base_url())
        .credentials("demo", "demo")
        .backoff(fast_backoff())
}

fn start(config: ClientConfig) -> (Running, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let (s1, s2) = (Arc::clone(&seen), Arc::clone(&seen));
    let running = Client::start_observed(
        config,
        move |d: &Delivery<'_>| {
            s1.records
                .lock()
                .unwrap()
                .push((d.partition(), d.record().bytes().to_vec()));
            Flow::Continue
        },
        Some(Arc::new(move |p: u32, e: &ClientEvent| {
            s2.events
                .lock()
                .unwrap()
                .push((p, Instant::now(), e.clone()))
        })),
    )
    .unwrap();
    (running, seen)
}

fn g_of(rec: &[u8]) -> u64 {
    record_id(rec).unwrap().parse::<u64>().unwrap() - record_id_for(0)
}

/// Every record is the simulator's own, byte for byte, and none comes twice.
fn assert_exact_once(sim: &Simulator, recs: &[Vec<u8>]) {
    let mut gs: Vec<u64> = recs.iter().map(|r| g_of(r)).collect();
    for (r, &g) in recs.iter().zip(&gs) {
        assert_eq!(*r, sim.record(g), "record {g} byte-exact");
    }
    let n = gs.len();
    gs.sort_unstable();
    gs.dedup();
    assert_eq!(gs.len(), n, "no duplicates");
}

fn statuses(sim: &Simulator) -> Vec<u16> {
    sim.requests().iter().map(|r| r.status).collect()
}

#[test]
fn normal_stream_delivers_every_record_once_in_order_byte_exact() {
    let sim = Simulator::start(SimulatorConfig::default().rate(Rate::PerSecond(300.0))).unwrap();
    let (running, seen) = start(config(&sim, Product::PowerTrack));
    seen.wait("100 records", |s| s.records().len() >= 100);
    let reports = running.stop_and_join();
    let recs = seen.data();
    assert_exact_once(&sim, &recs);
    let gs: Vec<u64> = recs.iter().map(|r| g_of(r)).collect();
    assert!(gs.windows(2).all(|w| w[1] == w[0] + 1), "in order, no gap");
    let req = &sim.requests()[0];
    assert_eq!(req.header("accept-encoding"), Some("gzip"));
    assert_eq!(req.header("connection"), Some("keep-alive"));
    assert_eq!(req.header("accept"), Some("application/json"));
    assert!(
        req.header("user-agent")
            .unwrap()
            .starts_with("gnip-stream/")
    );
    assert_eq!(req.header("authorization"), Some("Basic demo:<redacted>"));
    assert_eq!(
        req.query, "",
        "no partition, no backfill on a first PowerTrack connect"
    );
    let r = &reports[0];
    assert_eq!((r.partition, r.ending), (0, Ending::Stopped));
    assert_eq!(r.stats.activities + r.stats.compliance, recs.len() as u64);
    assert!(r.stats.bytes_wire > 0 && r.stats.bytes_inflated > 3 * r.stats.bytes_wire);
}

#[test]
fn random_chunking_changes_nothing() {
    let sim = Simulator::start(
        SimulatorConfig::default()
            .rate(Rate::PerSecond(500.0))
            .fault(Which::Every, Fault::RandomChunks { seed: 7 }),
    )
    .unwrap();
    let (running, seen) = start(config(&sim, Product::PowerTrack));
    seen.wait("200 records", |s| s.records().len() >= 200);
    running.stop_and_join();
    let recs = seen.data();
    assert_exact_once(&sim, &recs);
    assert!(
        recs.iter()
            .map(|r| g_of(r))
            .collect::<Vec<_>>()
            .windows(2)
            .all(|w| w[1] == w[0] + 1)
    );
    assert_eq!(sim.requests().len(), 1, "no reconnect");
}

#[test]
fn heartbeats_are_counted_and_keep_an_idle_stream_alive() {
    let sim = Simulator::start(
        SimulatorConfig::default()
            .rate(Rate::PerSecond(0.0))
            .heartbeat(Duration::from_millis(100)),
    )
    .unwrap();
    let (running, _seen) =
        start(config(&sim, Product::PowerTrack).stall_timeout(Duration::from_millis(600)));
    std::thread::sleep(Duration::from_millis(1500));
    let stats = running.stats();
    let reports = running.stop_and_join();
    assert!(stats[0].heartbeats >= 8, "{}", stats[0].heartbeats);
    assert_eq!(
        reports[0].stats.disconnects_for(Ending::Stalled),
        0,
        "heartbeats are not a stall"
    );
    assert_eq!(sim.requests().len(), 1);
}

#[test]
fn bare_newline_system_message_reaches_the_observer_and_the_stream_goes_on() {
    let sim = Simulator::start(
        SimulatorConfig::default()
            .rate(Rate::PerSecond(200.0))
            .fault(Which::Every, Fault::BareNewlineSystemMessage),
    )
    .unwrap();
    let (running, seen) = start(config(&sim, Product::PowerTrack));
    seen.wait("records after the message", |s| s.records().len() >= 20);
    running.stop_and_join();
    let msgs: Vec<String> = seen
        .events()
        .into_iter()
        .filter_map(|(_, _, e)| match e {
            ClientEvent::SystemMessage { message, .. } => Some(message),
            _ => None,
        })
        .collect();
    assert_eq!(
        msgs,
        vec!["This system message ends in a bare newline".to_owned()]
    );
    let first = &seen.records()[0].1;
    assert!(
        matches!(gnip_stream::core::classify(first), RecordKind::System(_)),
        "handed to the handler too"
    );
    assert_exact_once(&sim, &seen.data());
}

#[test]
fn a_drop_mid_record_reconnects_at_once_and_never_delivers_the_cut_record() {
    let sim = Simulator::start(
        SimulatorConfig::default()
            .rate(Rate::PerSecond(300.0))
            .fault(
                Which::Connection(1),
                Fault::DropMidRecord { after_records: 30 },
            ),
    )
    .unwrap();
    let (running, seen) = start(config(&sim, Product::PowerTrack));
    seen.wait("a second connection", |_| sim.requests().len() >= 2);
    seen.wait("records on it", |s| s.records().len() >= 60);
    let reports = running.stop_and_join();
    assert_exact_once(&sim, &seen.data());
    let s = &reports[0].stats;
    assert_eq!(s.disconnects_for(Ending::Dropped), 1);
    assert_eq!(
        s.incomplete, 1,
        "the record cut by the drop was dropped, not delivered"
    );
    assert_eq!(s.connects, 2);
    let ev = seen.events();
    let dropped = ev
        .iter()
        .find(|(_, _, e)| {
            matches!(
                e,
                ClientEvent::Disconnected {
                    ending: Ending::Dropped,
                    ..
                }
            )
        })
        .unwrap()
        .1;
    let reconnect = ev
        .iter()
        .filter(|(_, _, e)| matches!(e, ClientEvent::Connecting { .. }))
        .nth(1)
        .unwrap()
        .1;
    assert!(
        reconnect.duration_since(dropped) < Duration::from_millis(100),
        "at once"
    );
}

#[test]
fn a_stall_is_detected_and_reconnected() {
    let sim = Simulator::start(
        SimulatorConfig::default()
            .rate(Rate::PerSecond(100.0))
            .heartbeat(Duration::from_secs(30))
            .fault(
                Which::Connection(1),
                Fault::Stall {
                    after_records: 5,
                    duration: Duration::from_secs(20),
                },
            ),
    )
    .unwrap();
    let (running, seen) =
        start(config(&sim, Product::PowerTrack).stall_timeout(Duration::from_millis(700)));
    seen.wait("the reconnect", |_| sim.requests().len() >= 2);
    let reports = running.stop_and_join();
    let stalled: Vec<_> = seen
        .events()
        .into_iter()
        .filter_map(|(_, t, e)| match e {
            ClientEvent::Disconnected {
                ending: Ending::Stalled,
                error,
            } => Some((t, error)),
            _ => None,
        })
        .collect();
    assert_eq!(stalled.len(), 1);
    assert!(
        matches!(stalled[0].1, Some(Error::Stalled { idle }) if idle >= Duration::from_millis(700) && idle < Duration::from_millis(1000))
    );
    assert_eq!(reports[0].stats.disconnects_for(Ending::Stalled), 1);
}

#[test]
fn a_forced_disconnect_message_means_reconnect_at_once() {
    let sim = Simulator::start(
        SimulatorConfig::default()
            .rate(Rate::PerSecond(100.0))
            .redundant_connections(1)
            .force_disconnect_after(Duration::from_millis(300)),
    )
    .unwrap();
    // Another connection holds the one allowed place; ours is over the limit.
    let holder = Client::start(
        config(&sim, Product::PowerTrack).partitions(&[]),
        |_: &Delivery<'_>| Flow::Continue,
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let (running, seen) = start(config(&sim, Product::PowerTrack));
    seen.wait("a forced disconnect", |s| {
        s.count(|e| {
            matches!(
                e,
                ClientEvent::Disconnected {
                    ending: Ending::ForcedDisconnect,
                    ..
                }
            )
        }) >= 1
    });
    seen.wait("the reconnect", |s| {
        s.count(|e| matches!(e, ClientEvent::Connecting { .. })) >= 2
    });
    running.stop_and_join();
    holder.stop_and_join();
    assert!(seen.events().iter().any(|(_, _, e)| matches!(e, ClientEvent::SystemMessage { message, .. } if message.starts_with("Forced Disconnect: Too many connections. (Allowed Connections = 1)"))));
}

#[test]
fn http_503_twice_then_200_backs_off_exponentially() {
    let sim = Simulator::start(
        SimulatorConfig::default()
            .rate(Rate::PerSecond(100.0))
            .fault(
                Which::Connection(1),
                Fault::Status {
                    status: 503,
                    message: "Service Unavailable".into(),
                },
            )
            .fault(
                Which::Connection(2),
                Fault::Status {
                    status: 503,
                    message: "Service Unavailable".into(),
                },
            ),
    )
    .unwrap();
    let (running, seen) = start(config(&sim, Product::PowerTrack));
    seen.wait("records", |s| !s.records().is_empty());
    running.stop_and_join();
    assert_eq!(statuses(&sim), vec![503, 503, 200]);
    let at: Vec<Duration> = sim.requests().iter().map(|r| r.at).collect();
    let (gap1, gap2) = (at[1] - at[0], at[2] - at[1]);
    // 100 ms then 200 ms, each ±20 % jitter.
    assert!(
        gap1 >= Duration::from_millis(80) && gap1 < Duration::from_millis(250),
        "{gap1:?}"
    );
    assert!(
        gap2 >= Duration::from_millis(160) && gap2 < Duration::from_millis(400),
        "{gap2:?}"
    );
    let errors: Vec<Error> = seen
        .events()
        .into_iter()
        .filter_map(|(_, _, e)| match e {
            ClientEvent::Disconnected { error: Some(e), .. } => Some(e),
            _ => None,
        })
        .collect();
    assert_eq!(
        errors[0],
        Error::Http {
            status: 503,
            message: "Service Unavailable".into()
        }
    );
}

#[test]
fn http_429_backs_off_on_the_rate_limit_schedule() {
    let sim = Simulator::start(
        SimulatorConfig::default()
            .rate(Rate::PerSecond(100.0))
            .fault(
                Which::Connection(1),
                Fault::Status {
                    status: 429,
                    message: "Exceeded rate limit".into(),
                },
            ),
    )
    .unwrap();
    let (running, seen) = start(config(&sim, Product::PowerTrack));
    seen.wait("records", |s| !s.records().is_empty());
    running.stop_and_join();
    assert_eq!(statuses(&sim), vec![429, 200]);
    let at: Vec<Duration> = sim.requests().iter().map(|r| r.at).collect();
    assert!(
        at[1] - at[0] >= Duration::from_millis(160),
        "{:?}",
        at[1] - at[0]
    );
    assert!(seen.events().iter().any(|(_, _, e)| matches!(
        e,
        ClientEvent::BackingOff {
            kind: Some(gnip_stream::policy::BackoffKind::RateLimited),
            ..
        }
    )));
}

#[test]
fn http_401_stops_after_exactly_one_request() {
    let sim = Simulator::start(SimulatorConfig::default().credentials("demo", "right")).unwrap();
    let (running, seen) =
        start(config(&sim, Product::PowerTrack).credentials("demo", "wrong-password-xyz"));
    let reports = running.join();
    assert_eq!(statuses(&sim), vec![401]);
    assert_eq!(reports[0].ending, Ending::Http(401));
    let Some(Error::Http {
        status: 401,
        message,
    }) = &reports[0].error
    else {
        panic!("{:?}", reports[0].error)
    };
    assert!(message.contains("Invalid credentials"));
    assert!(seen.records().is_empty());
}

#[test]
fn http_406_stops_and_reports_the_service_message() {
    let sim = Simulator::start(SimulatorConfig::default()).unwrap();
    let now = time::now_secs() / 60 * 60;
    // Within the last 30 minutes: the service refuses the range with 406.
    let range = ReplayRange {
        from: now - 20 * 60,
        to: now - 10 * 60,
    };
    let cfg = ClientConfig::replay(Product::PowerTrack, "acme", "prod", range)
        .host(&sim.base_url())
        .credentials("demo", "demo");
    let (running, _seen) = start(cfg);
    let reports = running.join();
    assert_eq!(statuses(&sim), vec![406]);
    assert_eq!(reports[0].ending, Ending::Http(406));
    assert!(
        matches!(&reports[0].error, Some(Error::Http { status: 406, message }) if message.contains("at least 30 minutes ago"))
    );
}

#[test]
fn accept_then_drop_storm_backs_off_growing_after_the_first_immediate_reconnect() {
    let sim = Simulator::start(
        SimulatorConfig::default().fault(Which::Every, Fault::DropAfter { bytes: 0 }),
    )
    .unwrap();
    // The documented schedule, untouched: +250 ms an attempt.
    let cfg = config(&sim, Product::PowerTrack).backoff(BackoffConfig::default());
    let (running, _seen) = start(cfg);
    std::thread::sleep(Duration::from_millis(4200));
    running.stop_and_join();
    let at: Vec<Duration> = sim.requests().iter().map(|r| r.at).collect();
    let gaps: Vec<u128> = at.windows(2).map(|w| (w[1] - w[0]).as_millis()).collect();
    assert!(gaps[0] < 100, "the first reconnect is immediate: {gaps:?}");
    // Then 250, 500, 750, 1000, … ms, each within ±20 % jitter plus scheduling slack.
    for (i, g) in gaps.iter().enumerate().skip(1) {
        let want = 250 * i as u128;
        assert!(
            *g >= want * 8 / 10 && *g <= want * 12 / 10 + 80,
            "gap {i}: {g} ms, want ~{want}: {gaps:?}"
        );
    }
    assert!(
        (5..=8).contains(&at.len()),
        "{} connects in 4.2 s: {gaps:?}",
        at.len()
    );
}

#[test]
fn no_storm_gets_past_the_connection_rate_limiter() {
    let sim = Simulator::start(
        SimulatorConfig::default().fault(Which::Every, Fault::DropAfter { bytes: 0 }),
    )
    .unwrap();
    // A tiny backoff step: without the limiter this would connect dozens of times a second.
    let fast = BackoffConfig {
        network_step: Duration::from_millis(5),
        network_max: Duration::from_millis(20),
        ..fast_backoff()
    };
    let (running, seen) = start(
        config(&sim, Product::Decahose)
            .partitions(&[1])
            .backoff(fast),
    );
    std::thread::sleep(Duration::from_millis(2500));
    running.stop_and_join();
    assert_eq!(
        sim.requests().len(),
        10,
        "Decahose allows 10 connection requests a minute"
    );
    assert!(seen.events().iter().any(|(_, _, e)| matches!(e, ClientEvent::BackingOff { kind: None, delay } if *delay > Duration::from_secs(50))));
}

#[test]
fn backfill_only_on_reconnects_sized_to_the_gap_and_covering_it() {
    let sim = Simulator::start(
        SimulatorConfig::default()
            .rate(Rate::PerSecond(200.0))
            .fault(Which::Connection(1), Fault::DropAfter { bytes: 20_000 }),
    )
    .unwrap();
    let (running, seen) = start(config(&sim, Product::PowerTrack).backfill_minutes(3));
    seen.wait("the reconnect", |_| sim.requests().len() >= 2);
    seen.wait("records after it", |s| s.records().len() >= 300);
    running.stop_and_join();
    let log = sim.requests();
    assert_eq!(
        log[0].param("backfillMinutes"),
        None,
        "never on the first connect"
    );
    assert_eq!(
        log[1].param("backfillMinutes"),
        Some("1"),
        "a gap under a minute rounds up to 1"
    );
    // Backfill covers the gap: no id is missing (duplicates are expected, as documented).
    let mut gs: Vec<u64> = seen.data().iter().map(|r| g_of(r)).collect();
    for (r, g) in seen.data().iter().zip(&gs) {
        assert_eq!(*r, sim.record(*g));
    }
    gs.sort_unstable();
    gs.dedup();
    assert!(
        gs.windows(2).all(|w| w[1] == w[0] + 1),
        "no gap across the reconnect"
    );
}

/// A live stream has no CRC (its trailer never comes): deflate data corrupted on the way is
/// noticed only when it stops being valid deflate, so the line or two inflated from the bad
/// bytes before that can be garbage. (Over HTTPS, TLS rejects corrupted bytes before they get
/// here.) Everything before the corruption is exact, the connection ends as corrupt, and the
/// next one is clean.
#[test]
fn corrupt_gzip_mid_stream_reconnects_and_loses_only_the_corrupted_lines() {
    let sim = Simulator::start(
        SimulatorConfig::default()
            .rate(Rate::PerSecond(300.0))
            .fault(Which::Connection(1), Fault::CorruptAfter { bytes: 8000 }),
    )
    .unwrap();
    let (running, seen) = start(config(&sim, Product::PowerTrack));
    seen.wait("the reconnect", |_| sim.requests().len() >= 2);
    seen.wait("records after it", |s| s.records().len() >= 80);
    let reports = running.stop_and_join();
    let (exact, garbled): (Vec<Vec<u8>>, Vec<Vec<u8>>) = seen.data().into_iter().partition(|r| {
        record_id(r)
            .and_then(|id| id.parse::<u64>().ok())
            .is_some_and(|id| id >= record_id_for(0) && *r == sim.record(id - record_id_for(0)))
    });
    assert!(
        garbled.len() <= 2,
        "only what was inflated from the corrupt bytes: {}",
        garbled.len()
    );
    assert_exact_once(&sim, &exact);
    assert!(exact.len() >= 78);
    assert_eq!(reports[0].stats.disconnects_for(Ending::CorruptStream), 1);
    let corrupt = seen.events().into_iter().find_map(|(_, _, e)| match e {
        ClientEvent::Disconnected {
            ending: Ending::CorruptStream,
            error,
        } => error,
        _ => None,
    });
    assert!(
        matches!(
            corrupt,
            Some(Error::CorruptDeflate | Error::NotGzip { .. } | Error::ReservedFlags { .. })
        ),
        "{corrupt:?}"
    );
}

#[test]
fn an_overlong_record_is_skipped_and_counted() {
    let sim = Simulator::start(
        SimulatorConfig::default()
            .rate(Rate::PerSecond(200.0))
            .fault(Which::Every, Fault::OverlongRecord { bytes: 300_000 }),
    )
    .unwrap();
    let cfg =
        config(&sim, Product::PowerTrack).decoder(DecoderConfig::default().max_record(100_000));
    let (running, seen) = start(cfg);
    seen.wait("records", |s| s.records().len() >= 20);
    let reports = running.stop_and_join();
    assert_eq!(reports[0].stats.overlong, 1);
    assert_exact_once(&sim, &seen.data());
    assert_eq!(
        sim.requests().len(),
        1,
        "no reconnect for an overlong record"
    );
}

fn partitions_test(product: Product, n: u32) {
    let sim =
        Simulator::start(SimulatorConfig::default().rate(Rate::PerSecond(40.0 * f64::from(n))))
            .unwrap();
    let (running, seen) = start(config(&sim, product));
    seen.wait("records on every partition", |s| {
        let r = s.records();
        (1..=n).all(|p| r.iter().filter(|(q, _)| *q == p).count() >= 5)
    });
    let reports = running.stop_and_join();
    assert_eq!(reports.len(), n as usize);
    assert_eq!(
        reports.iter().map(|r| r.partition).collect::<Vec<_>>(),
        (1..=n).collect::<Vec<_>>()
    );
    let mut partitions: Vec<String> = sim
        .requests()
        .iter()
        .map(|r| r.param("partition").unwrap().to_owned())
        .collect();
    partitions.sort_by_key(|p| p.parse::<u32>().unwrap());
    assert_eq!(
        partitions,
        (1..=n).map(|p| p.to_string()).collect::<Vec<_>>(),
        "one connection per partition"
    );
    for (p, rec) in seen.records() {
        assert_eq!(
            g_of(&rec) % u64::from(n),
            u64::from(p - 1),
            "partition {p} has only its share"
        );
    }
    assert_exact_once(&sim, &seen.data());
}

#[test]
fn decahose_two_partitions_two_threads_disjoint_shares() {
    partitions_test(Product::Decahose, 2);
}

#[test]
fn firehose_twenty_partitions_twenty_threads_disjoint_shares() {
    partitions_test(Product::Firehose, 20);
}

#[test]
fn stop_on_an_idle_stream_takes_under_a_second() {
    let sim = Simulator::start(
        SimulatorConfig::default()
            .rate(Rate::PerSecond(0.0))
            .heartbeat(Duration::from_secs(60)),
    )
    .unwrap();
    let (running, seen) = start(config(&sim, Product::PowerTrack));
    seen.wait("connected", |s| {
        s.count(|e| matches!(e, ClientEvent::Connected)) == 1
    });
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    let reports = running.stop_and_join();
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    assert_eq!(reports[0].ending, Ending::Stopped);
}

#[test]
fn the_handler_can_stop_the_client() {
    let sim = Simulator::start(SimulatorConfig::default().rate(Rate::PerSecond(300.0))).unwrap();
    let count = Arc::new(Mutex::new(0));
    let c = Arc::clone(&count);
    let running = Client::start(config(&sim, Product::Decahose), move |_: &Delivery<'_>| {
        let mut n = c.lock().unwrap();
        *n += 1;
        if *n >= 25 { Flow::Stop } else { Flow::Continue }
    })
    .unwrap();
    let reports = running.join();
    assert!(reports.iter().all(|r| r.ending == Ending::Stopped));
    assert!(*count.lock().unwrap() >= 25);
}

#[test]
fn plain_http_with_credentials_to_a_remote_host_is_refused_before_connecting() {
    let cfg = ClientConfig::stream(Product::PowerTrack, "acme", "prod")
        .host("http://gnip-stream.example.com")
        .credentials("u", "p");
    match Client::start(cfg, |_: &Delivery<'_>| Flow::Continue) {
        Err(e) => assert_eq!(
            e,
            Error::InsecureTransport {
                host: "gnip-stream.example.com".into()
            }
        ),
        Ok(_) => panic!("must refuse"),
    }
}

#[test]
fn replay_completes_and_resumes_after_a_drop_without_duplicates() {
    let sim = Simulator::start(
        SimulatorConfig::default()
            .replay_records_per_minute(30)
            .fault(Which::Connection(1), Fault::DropAfter { bytes: 60_000 }),
    )
    .unwrap();
    let now = time::now_secs() / 60 * 60;
    let range = ReplayRange {
        from: now - 3 * 3600,
        to: now - 3 * 3600 + 10 * 60,
    };
    let cfg = ClientConfig::replay(Product::Firehose, "acme", "prod", range)
        .host(&sim.base_url())
        .credentials("demo", "demo");
    let (running, seen) = start(cfg);
    let reports = running.join();
    let r = &reports[0];
    assert_eq!((r.partition, r.ending), (0, Ending::ReplayCompleted));
    assert_eq!(r.error, None);
    let log = sim.requests();
    assert_eq!(log.len(), 2, "one resume");
    assert_eq!(
        log[0].param("fromDate"),
        Some(time::replay_date(range.from).as_str())
    );
    let resumed = time::parse_replay_date(log[1].param("fromDate").unwrap()).unwrap();
    assert!(
        resumed > range.from && resumed < range.to,
        "resumed from the last record's minute"
    );
    assert_eq!(
        log[1].param("toDate"),
        Some(time::replay_date(range.to).as_str())
    );
    // Each of the 300 records exactly once, in order, though the resume sent some again.
    let data = seen.data();
    assert_eq!(data.len(), 300);
    let ids: Vec<String> = data
        .iter()
        .map(|r| record_id(r).unwrap().to_owned())
        .collect();
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(unique.len(), 300);
    assert!(
        r.stats.duplicates_dropped > 0,
        "the resumed minute came again and was filtered"
    );
    let summary = r.replay.as_ref().unwrap();
    assert_eq!(summary.message, "Replay Request Completed");
    let resumed_records = (range.to - resumed) / 60 * 30;
    assert_eq!(summary.activity_count, Some(resumed_records as u64));
}

/// A `log` logger that keeps every line, to look for credentials in them.
struct Capture(Mutex<Vec<String>>);
impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        self.0
            .lock()
            .unwrap()
            .push(format!("{} {}", r.target(), r.args()));
    }
    fn flush(&self) {}
}
static LOGS: Capture = Capture(Mutex::new(Vec::new()));

#[test]
fn credentials_appear_in_no_log_line_event_error_or_debug_output() {
    let _ = log::set_logger(&LOGS);
    log::set_max_level(log::LevelFilter::Trace);
    let secret = "s3cr3t-Pa55word";
    let sim = Simulator::start(
        SimulatorConfig::default()
            .credentials("demo", secret)
            .fault(Which::Connection(1), Fault::DropAfter { bytes: 100 }),
    )
    .unwrap();
    let cfg = config(&sim, Product::PowerTrack).credentials("demo", secret);
    let cfg_debug = format!("{cfg:?}");
    let (running, seen) = start(cfg);
    seen.wait("the reconnect", |_| sim.requests().len() >= 2);
    let reports = running.stop_and_join();
    // And a refused one, whose error must not carry the password either.
    let bad = Simulator::start(SimulatorConfig::default().credentials("demo", "other")).unwrap();
    let (r2, _) = start(config(&bad, Product::PowerTrack).credentials("demo", secret));
    let bad_reports = r2.join();
    let b64 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("demo:{secret}"))
    };
    let mut everything = LOGS.0.lock().unwrap().join("\n");
    everything.push_str(&cfg_debug);
    everything.push_str(&format!(
        "{:?}{:?}{:?}",
        seen.events(),
        reports,
        bad_reports
    ));
    everything.push_str(&format!("{:?}{:?}", sim.requests(), bad.requests()));
    if let Some(e) = &bad_reports[0].error {
        everything.push_str(&e.to_string());
    }
    assert!(
        everything.contains("connecting to http://127.0.0.1"),
        "the log was captured"
    );
    assert!(!everything.contains(secret), "password leaked");
    assert!(!everything.contains(&b64), "Basic header leaked");
}

#[test]
fn tls_with_the_test_ca_streams_byte_exact() {
    let tls = common::tls::test_ca();
    let sim = common::tls::tls_simulator(
        &tls,
        SimulatorConfig::default().rate(Rate::PerSecond(300.0)),
    );
    assert!(sim.base_url().starts_with("https://"));
    let ca = common::tls::ca_file(&tls, "good");
    let (running, seen) = start(config(&sim, Product::PowerTrack).ca_file(&ca));
    seen.wait("records over TLS", |s| s.records().len() >= 50);
    let reports = running.stop_and_join();
    assert_exact_once(&sim, &seen.data());
    assert_eq!(reports[0].stats.connects, 1);
}

#[test]
fn tls_with_the_wrong_ca_stops_at_once_without_a_retry_loop() {
    let tls = common::tls::test_ca();
    let other = common::tls::test_ca();
    let sim = common::tls::tls_simulator(&tls, SimulatorConfig::default());
    let ca = common::tls::ca_file(&other, "wrong");
    let (running, seen) = start(config(&sim, Product::PowerTrack).ca_file(&ca));
    let reports = running.join();
    assert_eq!(reports[0].ending, Ending::TlsFailure);
    assert!(
        matches!(&reports[0].error, Some(Error::Tls { message }) if message.contains("certificate")),
        "{:?}",
        reports[0].error
    );
    assert_eq!(
        seen.count(|e| matches!(e, ClientEvent::Connecting { .. })),
        1,
        "one attempt, no retry loop"
    );
    assert!(
        sim.requests().is_empty(),
        "no request was sent over an untrusted connection"
    );
}

#[test]
fn a_ca_file_without_certificates_is_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("gnip-empty-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("empty.pem");
    std::fs::write(&path, "not a certificate\n").unwrap();
    let cfg = ClientConfig::stream(Product::PowerTrack, "a", "b").ca_file(&path);
    let err = Client::start(cfg, |_: &Delivery<'_>| Flow::Continue)
        .err()
        .unwrap();
    assert!(
        matches!(&err, Error::BadInput { reason } if reason.contains("no certificate")),
        "{err}"
    );
    assert!(!err.is_retryable());
}

#[test]
fn the_share_of_time_in_the_handler_is_measured() {
    let sim = Simulator::start(SimulatorConfig::default().rate(Rate::PerSecond(100.0))).unwrap();
    // 5 ms of work per record at 100 records a second: about half the thread's time.
    let running = Client::start(config(&sim, Product::PowerTrack), |_: &Delivery<'_>| {
        std::thread::sleep(Duration::from_millis(5));
        Flow::Continue
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(2000));
    let live = running.stats();
    let reports = running.stop_and_join();
    let share = live[0].handler_share;
    assert!((0.3..0.7).contains(&share), "handler share {share}");
    assert!(reports[0].stats.handler_time >= Duration::from_millis(500));
    assert!(live[0].last_record_unix_ms.is_some());
}

#[test]
fn a_server_slower_than_the_read_tick_is_waited_for_on_the_next_attempts() {
    // Every response head comes 300 ms late; reads tick every 100 ms. The tick doubles after
    // each attempt that times out waiting for the head: 100, 200, then 400 ms, which works.
    let sim = Simulator::start(
        SimulatorConfig::default()
            .rate(Rate::PerSecond(100.0))
            .fault(
                Which::Every,
                Fault::DelayHead {
                    duration: Duration::from_millis(300),
                },
            ),
    )
    .unwrap();
    let cfg = config(&sim, Product::PowerTrack)
        .read_tick(Duration::from_millis(100))
        .stall_timeout(Duration::from_secs(2));
    let (running, seen) = start(cfg);
    seen.wait("records", |s| s.records().len() >= 10);
    let reports = running.stop_and_join();
    assert_eq!(reports[0].stats.connects, 3);
    assert_eq!(reports[0].stats.disconnects_for(Ending::NetworkError), 2);
    assert_exact_once(&sim, &seen.data());
}

#[test]
fn redundant_clients_to_one_stream_share_the_rate_limit_and_show_their_backoff() {
    let sim = Simulator::start(
        SimulatorConfig::default().fault(Which::Every, Fault::DropAfter { bytes: 0 }),
    )
    .unwrap();
    let fast = BackoffConfig {
        network_step: Duration::from_millis(5),
        network_max: Duration::from_millis(20),
        ..fast_backoff()
    };
    let cfg = || {
        config(&sim, Product::Firehose)
            .partitions(&[3])
            .backoff(fast)
    };
    let a = Client::start(cfg(), |_: &Delivery<'_>| Flow::Continue).unwrap();
    let b = Client::start(cfg(), |_: &Delivery<'_>| Flow::Continue).unwrap();
    std::thread::sleep(Duration::from_millis(2000));
    let waiting: Vec<Duration> = a
        .stats()
        .into_iter()
        .chain(b.stats())
        .map(|s| s.backoff)
        .collect();
    a.stop_and_join();
    b.stop_and_join();
    assert_eq!(
        sim.requests().len(),
        10,
        "two clients, one budget of 10 a minute for the stream"
    );
    assert!(
        waiting.iter().all(|d| *d > Duration::from_secs(50)),
        "both wait for the window: {waiting:?}"
    );
}

/// Regression (found under emulation, where the wall-clock minute happened to put compliance
/// events in the resumed minute): compliance events carry no time of their own, so resume
/// de-duplication must place them in the minute of the record before them. Here two of every
/// three records are compliance events, so every minute has some.
#[test]
fn replay_resume_drops_duplicate_compliance_events_too() {
    use gnip_stream::generator::{Format, Generator};
    let dir = std::env::temp_dir().join(format!("gnip-mixed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut g = Generator::new(3);
    let mut file = Vec::new();
    for i in 0..60 {
        if i % 3 == 0 {
            g.activity_in(Format::Native, &mut file);
        } else {
            let kind = gnip_stream::core::ComplianceKind::ALL[i % 13];
            g.compliance(
                kind,
                if i % 2 == 0 {
                    Format::Native
                } else {
                    Format::ActivityStreams
                },
                &mut file,
            );
        }
        file.push(b'\n');
    }
    std::fs::write(dir.join("mixed.ndjson"), &file).unwrap();
    let source = gnip_stream::simulator::RecordSource::corpus(&dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    for cut in [3_000u64, 7_000, 11_000] {
        let sim = Simulator::start(
            SimulatorConfig::default()
                .source(source.clone())
                .replay_records_per_minute(30)
                .fault(Which::Connection(1), Fault::DropAfter { bytes: cut }),
        )
        .unwrap();
        let now = time::now_secs() / 60 * 60;
        let range = ReplayRange {
            from: now - 3 * 3600,
            to: now - 3 * 3600 + 5 * 60,
        };
        let cfg = ClientConfig::replay(Product::PowerTrack, "acme", "prod", range)
            .host(&sim.base_url())
            .credentials("demo", "demo");
        let (running, seen) = start(cfg);
        let reports = running.join();
        assert_eq!(reports[0].ending, Ending::ReplayCompleted, "cut {cut}");
        assert_eq!(sim.requests().len(), 2, "cut {cut}: one resume");
        let ids: Vec<String> = seen
            .data()
            .iter()
            .map(|r| record_id(r).unwrap().to_owned())
            .collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            (ids.len(), unique.len()),
            (150, 150),
            "cut {cut}: each record once"
        );
        assert!(reports[0].stats.duplicates_dropped > 0, "cut {cut}");
    }
}

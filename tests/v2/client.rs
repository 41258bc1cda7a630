//! The library speaking X API v2 to the simulator: an in-stream disconnect reconnects at once
//! with backfill sized to the gap, the refusals each take their own path (TooManyConnections
//! backs off and warns, a plain 429 waits for its reset, not the 429 schedule), and redundant
//! connections hand out Likes (string ids) and compliance events (quote_tweet_id in the key)
//! once each; ProvisioningSubscription waits a minute; the service's rate-limit headers hold
//! a reconnect; a drop mid-record, a stall and a corrupt gzip stream lose nothing.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gnip_stream::client::{Client, ClientConfig, ClientEvent, Delivery, Flow, Running};
use gnip_stream::simulator::{Fault, LoggedRequest, Rate, Simulator, SimulatorConfig, Which};
use gnip_stream::unversioned::protocol::policy::{
    BackoffConfig, Ending, PROVISIONING_WAIT, Refusal,
};
use gnip_stream::unversioned::protocol::v2::products::V2Product;

use crate::{assert_exact_once, stream_requests};

type Events = Arc<Mutex<Vec<(Instant, ClientEvent)>>>;

fn start(config: ClientConfig) -> (Running, Arc<Mutex<Vec<Vec<u8>>>>, Events) {
    let recs: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let events: Events = Arc::default();
    let (r, e) = (Arc::clone(&recs), Arc::clone(&events));
    let running = Client::start_observed(
        config,
        move |d: &Delivery<'_>| {
            r.lock().unwrap().push(d.record().bytes().to_vec());
            Flow::Continue
        },
        Some(Arc::new(move |_p: u32, _c: u8, ev: &ClientEvent| {
            e.lock().unwrap().push((Instant::now(), ev.clone()))
        })),
    )
    .unwrap();
    (running, recs, events)
}

fn wait(what: &str, f: impl Fn() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn config(sim: &Simulator, p: V2Product) -> ClientConfig {
    ClientConfig::v2(p)
        .host(&sim.base_url())
        .bearer_token("demo-token")
        .backoff(
            BackoffConfig::default()
                .network_step(Duration::from_millis(50))
                .http_base(Duration::from_millis(100))
                .rate_limited_base(Duration::from_millis(200)),
        )
}

fn stop(running: Running) -> Vec<gnip_stream::client::PartitionReport> {
    running.stop_handle().stop();
    running.join()
}

#[test]
fn an_in_stream_disconnect_is_logged_and_reconnected_at_once_with_backfill() {
    let sim = Simulator::start(SimulatorConfig::default().rate(Rate::PerSecond(200.0))).unwrap();
    let (running, recs, events) = start(
        config(&sim, V2Product::Firehose)
            .partitions(&[4])
            .backfill_minutes(2),
    );
    wait("records", || recs.lock().unwrap().len() >= 5);
    let conn = sim.streaming_connections()[0];
    sim.disrupt(conn, Fault::ForcedDisconnect);
    wait("a second connection", || stream_requests(&sim).len() >= 2);
    wait("records after it", || {
        let n = recs.lock().unwrap().len();
        std::thread::sleep(Duration::from_millis(300));
        recs.lock().unwrap().len() > n
    });
    let reports = stop(running);
    let reqs = stream_requests(&sim);
    assert_eq!(
        reqs[0].query, "partition=4",
        "no backfill on the first connect"
    );
    assert_eq!(
        reqs[1].query, "partition=4&backfill_minutes=1",
        "sized to the gap"
    );
    let ev = events.lock().unwrap().clone();
    let said = ev.iter().any(|(_, e)| {
        matches!(e, ClientEvent::SystemMessage { message, .. } if message.starts_with("OperationalDisconnect: "))
    });
    assert!(said, "{ev:?}");
    let ended = ev.iter().any(|(_, e)| {
        matches!(
            e,
            ClientEvent::Disconnected {
                ending: Ending::ForcedDisconnect,
                ..
            }
        )
    });
    assert!(ended, "{ev:?}");
    // The errors line is handed on as a system message, never as a record on stdout's path.
    let data: Vec<Vec<u8>> = recs
        .lock()
        .unwrap()
        .iter()
        .filter(|r| !r.starts_with(b"{\"errors\""))
        .cloned()
        .collect();
    assert_exact_once(&sim, V2Product::Firehose, &data);
    assert_eq!(reports[0].stats.system, 1);
}

#[test]
fn too_many_connections_backs_off_and_a_plain_429_waits_for_its_reset() {
    // One connection allowed: the redundant second is refused at connect.
    let sim = Simulator::start(
        SimulatorConfig::default()
            .rate(Rate::PerSecond(100.0))
            .redundant_connections(1),
    )
    .unwrap();
    let (running, _recs, events) = start(
        config(&sim, V2Product::Decahose)
            .partitions(&[1])
            .redundant(2),
    );
    wait("two refusals", || {
        events
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, e)| {
                matches!(
                    e,
                    ClientEvent::Disconnected {
                        ending: Ending::Refused(Refusal::TooManyConnections),
                        ..
                    }
                )
            })
            .count()
            >= 2
    });
    stop(running);
    let refused: Vec<_> = stream_requests(&sim)
        .into_iter()
        .filter(|r| r.status == 429)
        .collect();
    assert!(refused.len() >= 2);
    // Backing off on the 429 schedule: the second refusal comes at least the base later.
    assert!(
        refused[1].at - refused[0].at >= Duration::from_millis(150),
        "{refused:?}"
    );

    // A plain 429 waits until x-rate-limit-reset (about a second here), not the 60 s schedule.
    let sim = Simulator::start(SimulatorConfig::default().rate(Rate::PerSecond(100.0))).unwrap();
    sim.add_fault(
        Which::Connection(1),
        Fault::Status {
            status: 429,
            message: "Too Many Requests".into(),
        },
    );
    let cfg = ClientConfig::v2(V2Product::Sample)
        .host(&sim.base_url())
        .bearer_token("demo-token");
    let (running, recs, events) = start(cfg);
    wait("records after the wait", || {
        !recs.lock().unwrap().is_empty()
    });
    stop(running);
    let reqs = stream_requests(&sim);
    assert_eq!((reqs[0].status, reqs[1].status), (429, 200));
    let gap = reqs[1].at - reqs[0].at;
    assert!(
        gap >= Duration::from_millis(500) && gap < Duration::from_secs(5),
        "{gap:?}"
    );
    let ev = events.lock().unwrap().clone();
    assert!(
        ev.iter().any(|(_, e)| matches!(
            e,
            ClientEvent::Disconnected {
                ending: Ending::Refused(Refusal::RateLimited { wait_secs: Some(_) }),
                ..
            }
        )),
        "{ev:?}"
    );
}

#[test]
fn redundant_connections_hand_out_likes_and_compliance_events_once() {
    let sim = Simulator::start(
        SimulatorConfig::default()
            .rate(Rate::PerSecond(400.0))
            .redundant_connections(2),
    )
    .unwrap();
    for p in [
        V2Product::LikesFirehose,
        V2Product::TweetCompliance,
        V2Product::Labels,
    ] {
        let parts: &[u32] = if p.partitions().is_some() { &[1] } else { &[] };
        let (running, recs, _) = start(config(&sim, p).partitions(parts).redundant(2));
        wait("records", || recs.lock().unwrap().len() >= 60);
        let reports = stop(running);
        let recs = recs.lock().unwrap().clone();
        assert_exact_once(&sim, p, &recs);
        assert!(
            reports[0].stats.duplicates_dropped > 0,
            "{p:?}: both connections delivered"
        );
        if p == V2Product::TweetCompliance {
            let quotes = recs
                .iter()
                .filter(|r| r.windows(14).any(|w| w == b"quote_tweet_id"))
                .count();
            assert!(
                quotes > 0,
                "a delete and its quote's delete, same Post, both handed out"
            );
        }
    }
}

#[test]
fn a_subscription_being_provisioned_is_retried_after_a_minute_and_the_wait_stops_at_once() {
    let sim = Simulator::start(SimulatorConfig::default().rate(Rate::PerSecond(100.0))).unwrap();
    let body = r#"{"title":"ConnectionException","detail":"Your subscription change is currently being provisioned, please try again in a minute.","connection_issue":"ProvisioningSubscription","type":"https://api.x.com/2/problems/streaming-connection"}"#;
    sim.add_fault(
        Which::Connection(1),
        Fault::Status {
            status: 409,
            message: body.into(),
        },
    );
    let (running, recs, events) = start(config(&sim, V2Product::Sample));
    wait("the wait", || {
        events
            .lock()
            .unwrap()
            .iter()
            .any(|(_, e)| matches!(e, ClientEvent::BackingOff { .. }))
    });
    let ev = events.lock().unwrap().clone();
    let refused = ev.iter().any(|(_, e)| {
        matches!(
            e,
            ClientEvent::Disconnected {
                ending: Ending::Refused(Refusal::Provisioning),
                ..
            }
        )
    });
    assert!(refused, "{ev:?}");
    let delay = ev.iter().find_map(|(_, e)| match e {
        ClientEvent::BackingOff { delay, .. } => Some(*delay),
        _ => None,
    });
    assert_eq!(delay, Some(PROVISIONING_WAIT), "not the backoff schedule");
    // Still waiting a moment later: no second request, no record.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(stream_requests(&sim).len(), 1);
    let t = Instant::now();
    let reports = stop(running);
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "stop cuts the minute short"
    );
    assert!(recs.lock().unwrap().is_empty());
    assert_eq!(stream_requests(&sim)[0].status, 409);
    assert_eq!(reports[0].ending, Ending::Stopped);
}

/// Asks for `path` with a wrong token and reads the answer (a 401, no stream kept open), so
/// the request is counted against the endpoint's connect rate.
fn use_one_connect(sim: &Simulator, path: &str) {
    use std::io::{Read, Write};
    let addr = sim.base_url().trim_start_matches("http://").to_string();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer not-the-token\r\n\r\n"
    )
    .unwrap();
    let mut head = [0u8; 12];
    s.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 401");
}

#[test]
fn a_window_the_service_says_is_used_up_holds_the_reconnect_until_its_reset() {
    // The 1 % sample allows 50 connects a window (3 s here); another process used 49.
    let sim = Simulator::start(
        SimulatorConfig::default()
            .rate(Rate::PerSecond(200.0))
            .rate_limit_window(Duration::from_secs(3)),
    )
    .unwrap();
    let path = V2Product::Sample.path();
    for _ in 0..49 {
        use_one_connect(&sim, path);
    }
    let (running, recs, events) = start(config(&sim, V2Product::Sample));
    wait("records", || recs.lock().unwrap().len() >= 3);
    // The 200 said x-rate-limit-remaining 0: the reconnect after a drop (at once otherwise)
    // waits for the reset instead of meeting a 429.
    let dropped = Instant::now();
    let conn = *sim.streaming_connections().last().unwrap();
    sim.disrupt(conn, Fault::ForcedDisconnect);
    let mine = || -> Vec<LoggedRequest> {
        sim.requests()
            .into_iter()
            .filter(|r| {
                r.headers
                    .iter()
                    .any(|(k, v)| k == "user-agent" && v.starts_with("gnip-stream"))
            })
            .collect()
    };
    wait("the reconnect", || mine().len() >= 2);
    let reconnected = Instant::now();
    stop(running);
    let mine = mine();
    assert_eq!(mine[0].status, 200);
    assert_eq!(mine[1].status, 200, "no 429: {mine:?}");
    assert!(
        reconnected - dropped >= Duration::from_millis(500),
        "{:?}",
        reconnected - dropped
    );
    let ev = events.lock().unwrap().clone();
    let held = ev.iter().any(|(_, e)| {
        matches!(e, ClientEvent::BackingOff { delay, kind: None } if *delay >= Duration::from_millis(500))
    });
    assert!(held, "{ev:?}");
}

#[test]
fn a_drop_mid_record_a_stall_and_a_corrupt_gzip_stream_each_reconnect_and_lose_nothing() {
    let sim = Simulator::start(
        SimulatorConfig::default()
            .rate(Rate::PerSecond(300.0))
            .heartbeat(Duration::from_secs(20))
            .fault(
                Which::Connection(1),
                Fault::DropMidRecord { after_records: 20 },
            )
            .fault(
                Which::Connection(2),
                Fault::Stall {
                    after_records: 10,
                    duration: Duration::from_secs(3),
                },
            )
            .fault(Which::Connection(3), Fault::CorruptAfter { bytes: 3000 }),
    )
    .unwrap();
    let (running, recs, events) = start(
        config(&sim, V2Product::LikesFirehose)
            .partitions(&[3])
            .backfill_minutes(1)
            .stall_timeout(Duration::from_secs(1)),
    );
    wait("the fourth connection's records", || {
        stream_requests(&sim).len() >= 4 && recs.lock().unwrap().len() >= 80
    });
    let reports = stop(running);
    let endings: Vec<Ending> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(_, e)| match e {
            ClientEvent::Disconnected { ending, .. } => Some(*ending),
            _ => None,
        })
        .collect();
    assert_eq!(
        endings[..3],
        [Ending::Dropped, Ending::Stalled, Ending::CorruptStream],
        "{endings:?}"
    );
    // Each reconnect asked for the gap again; the copies it brought were dropped.
    let reqs = stream_requests(&sim);
    assert!(
        reqs[1..4]
            .iter()
            .all(|r| r.query == "partition=3&backfill_minutes=1"),
        "{reqs:?}"
    );
    let recs = recs.lock().unwrap().clone();
    assert_exact_once(&sim, V2Product::LikesFirehose, &recs);
    assert!(reports[0].stats.duplicates_dropped > 0);
    // Nothing lost: every record up to the newest one handed out is there.
    let mut got: Vec<u64> = recs
        .iter()
        .map(|r| gnip_stream::simulator::v2_record_index(r).unwrap())
        .collect();
    got.sort_unstable();
    // The simulator deals records round-robin over the 20 partitions.
    let step = u64::from(V2Product::LikesFirehose.partitions().unwrap());
    assert!(
        got.windows(2).all(|w| w[1] - w[0] == step),
        "a gap in {got:?}"
    );
}

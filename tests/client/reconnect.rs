//! Every way a connection ends and what follows: drops, stalls, forced disconnects, each
//! HTTP status, storms, the rate limiter, backfill, corrupt gzip, a slow response head.

use std::time::Duration;

use gnip_stream::client::{Client, ClientConfig, ClientEvent, Delivery, Flow, ReplayRange};
use gnip_stream::core::record_id;
use gnip_stream::simulator::{Fault, Rate, Simulator, SimulatorConfig, Which, record_id_for};
use gnip_stream::unversioned::protocol::policy::{BackoffConfig, Ending};
use gnip_stream::{Error, Product};

use crate::harness::*;

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
    let reports = stop_and_join(running);
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

/// A stream whose first connection stalls after `after_records` (100 a second) under a
/// `stall` timeout: the idle time each stall was detected at, and the stall disconnects
/// counted.
fn stalls(after_records: u64, stall: Duration) -> (Vec<Duration>, u64) {
    let sim = Simulator::start(
        SimulatorConfig::default()
            .rate(Rate::PerSecond(100.0))
            .heartbeat(Duration::from_secs(30))
            .fault(
                Which::Connection(1),
                Fault::Stall {
                    after_records,
                    duration: Duration::from_secs(20),
                },
            ),
    )
    .unwrap();
    let (running, seen) = start(config(&sim, Product::PowerTrack).stall_timeout(stall));
    seen.wait("the reconnect", |_| sim.requests().len() >= 2);
    let reports = stop_and_join(running);
    let idle = seen
        .events()
        .into_iter()
        .filter_map(|(_, _, e)| match e {
            ClientEvent::Disconnected {
                ending: Ending::Stalled,
                error: Some(Error::Stalled { idle }),
            } => Some(idle),
            _ => None,
        })
        .collect();
    (idle, reports[0].stats.disconnects_for(Ending::Stalled))
}

#[test]
fn a_stall_is_detected_and_reconnected() {
    let (idle, counted) = stalls(5, Duration::from_millis(700));
    assert_eq!(idle.len(), 1, "{idle:?}");
    assert!(idle[0] >= Duration::from_millis(700) && idle[0] < Duration::from_millis(1000));
    assert_eq!(counted, 1);
}

/// Past a body's first 2 s (read a tick at a time) reads wait up to half the stall timeout:
/// the stall is still seen on time.
#[test]
fn a_stall_past_the_first_seconds_is_detected_on_time() {
    let (idle, counted) = stalls(300, Duration::from_millis(1200));
    assert_eq!(idle.len(), 1, "{idle:?}");
    assert!(
        idle[0] >= Duration::from_millis(1200) && idle[0] < Duration::from_millis(1500),
        "{idle:?}"
    );
    assert_eq!(counted, 1);
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
    stop_and_join(running);
    stop_and_join(holder);
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
    stop_and_join(running);
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
    stop_and_join(running);
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
            kind: Some(gnip_stream::unversioned::protocol::policy::BackoffKind::RateLimited),
            ..
        }
    )));
}

#[test]
fn http_401_stops_after_exactly_one_request() {
    let sim = Simulator::start(SimulatorConfig::default().credentials("demo", "right")).unwrap();
    let (running, seen) =
        start(config(&sim, Product::PowerTrack).credentials("demo", "wrong-password-xyz"));
    let reports = join(running);
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
    let now = gnip_stream::unversioned::clock::now_secs() / 60 * 60;
    // Within the last 30 minutes: the service refuses the range with 406.
    let range = ReplayRange {
        from: now - 20 * 60,
        to: now - 10 * 60,
    };
    let cfg = ClientConfig::replay(Product::PowerTrack, "acme", "prod", range)
        .host(&sim.base_url())
        .credentials("demo", "demo");
    let (running, _seen) = start(cfg);
    let reports = join(running);
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
    stop_and_join(running);
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
    let fast = fast_backoff()
        .network_step(Duration::from_millis(5))
        .network_max(Duration::from_millis(20));
    let (running, seen) = start(
        config(&sim, Product::Decahose)
            .partitions(&[1])
            .backoff(fast),
    );
    std::thread::sleep(Duration::from_millis(2500));
    stop_and_join(running);
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
    stop_and_join(running);
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
    let mut gs: Vec<u64> = seen
        .data()
        .iter()
        .map(|r| record_index(r).unwrap())
        .collect();
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

/// `backfill_on_start`: the first connection asks for backfill too, so a host that starts (or
/// restarts) late gets what was published before it connected; the reconnects keep their own
/// rule (here: none).
#[test]
fn backfill_on_start_covers_what_was_published_before_the_first_connect() {
    let sim = Simulator::start(SimulatorConfig::default().rate(Rate::PerSecond(200.0))).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let (running, seen) = start(config(&sim, Product::PowerTrack).backfill_on_start(2));
    seen.wait("records", |s| s.records().len() >= 400);
    stop_and_join(running);
    assert_eq!(sim.requests()[0].param("backfillMinutes"), Some("2"));
    let gs: Vec<u64> = seen
        .data()
        .iter()
        .map(|r| record_index(r).unwrap())
        .collect();
    assert_eq!(gs[0], 0, "from the first record the simulator published");
    assert!(gs.windows(2).all(|w| w[1] == w[0] + 1), "no gap");
    // Without it the first record is one published after the connect.
    let (running, seen) = start(config(&sim, Product::PowerTrack));
    seen.wait("records", |s| !s.records().is_empty());
    stop_and_join(running);
    assert_eq!(sim.requests()[1].param("backfillMinutes"), None);
    assert!(record_index(&seen.data()[0]).unwrap() > 300);
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
    let reports = stop_and_join(running);
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
fn redundant_clients_to_one_stream_share_the_rate_limit_and_show_their_backoff() {
    let sim = Simulator::start(
        SimulatorConfig::default().fault(Which::Every, Fault::DropAfter { bytes: 0 }),
    )
    .unwrap();
    let fast = fast_backoff()
        .network_step(Duration::from_millis(5))
        .network_max(Duration::from_millis(20));
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
    stop_and_join(a);
    stop_and_join(b);
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

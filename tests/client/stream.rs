//! Streaming as it should go: records once, in order, byte-exact, whatever the chunking;
//! heartbeats, system messages, overlong records, partitions, the handler's share of time.

use std::time::Duration;

use gnip_stream::Product;
use gnip_stream::client::{Client, ClientEvent, Delivery, Flow};
use gnip_stream::core::{DecoderConfig, RecordKind};
use gnip_stream::simulator::{Fault, Rate, Simulator, SimulatorConfig, Which};
use gnip_stream::unversioned::protocol::policy::Ending;

use crate::harness::*;

#[test]
fn normal_stream_delivers_every_record_once_in_order_byte_exact() {
    let sim = Simulator::start(SimulatorConfig::default().rate(Rate::PerSecond(300.0))).unwrap();
    let (running, seen) = start(config(&sim, Product::PowerTrack));
    seen.wait("100 records", |s| s.records().len() >= 100);
    let reports = stop_and_join(running);
    let recs = seen.data();
    assert_exact_once(&sim, &recs);
    let gs: Vec<u64> = recs.iter().map(|r| record_index(r).unwrap()).collect();
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
    stop_and_join(running);
    let recs = seen.data();
    assert_exact_once(&sim, &recs);
    assert!(
        recs.iter()
            .map(|r| record_index(r).unwrap())
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
    let reports = stop_and_join(running);
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
    stop_and_join(running);
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
    let reports = stop_and_join(running);
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
    let reports = stop_and_join(running);
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
            record_index(&rec).unwrap() % u64::from(n),
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
    let reports = stop_and_join(running);
    let share = live[0].handler_share;
    assert!((0.3..0.7).contains(&share), "handler share {share}");
    assert!(reports[0].stats.handler_time >= Duration::from_millis(500));
    assert!(live[0].last_record_unix_ms.is_some());
}

//! Replay: completion, and resuming a dropped job without handing anything out twice.

use gnip_stream::Product;
use gnip_stream::client::{ClientConfig, ReplayRange};
use gnip_stream::core::record_id;
use gnip_stream::simulator::{Fault, Simulator, SimulatorConfig, Which};
use gnip_stream::unversioned::protocol::policy::Ending;
use gnip_stream::unversioned::protocol::time;

use crate::harness::*;

/// A Replay of `minutes` starting three hours ago (whole minutes) from `sim`, and its range.
fn replay_config(sim: &Simulator, product: Product, minutes: i64) -> (ClientConfig, ReplayRange) {
    let now = gnip_stream::unversioned::clock::now_secs() / 60 * 60;
    let range = ReplayRange {
        from: now - 3 * 3600,
        to: now - 3 * 3600 + minutes * 60,
    };
    let cfg = ClientConfig::replay(product, "acme", "prod", range)
        .host(&sim.base_url())
        .credentials("demo", "demo");
    (cfg, range)
}

#[test]
fn replay_completes_and_resumes_after_a_drop_without_duplicates() {
    let sim = Simulator::start(
        SimulatorConfig::default()
            .replay_records_per_minute(30)
            .fault(Which::Connection(1), Fault::DropAfter { bytes: 60_000 }),
    )
    .unwrap();
    let (cfg, range) = replay_config(&sim, Product::Firehose, 10);
    let (running, seen) = start(cfg);
    let reports = join(running);
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

/// Regression (found under emulation, where the wall-clock minute happened to put compliance
/// events in the resumed minute): compliance events carry no time of their own, so resume
/// de-duplication must place them in the minute of the record before them. Here two of every
/// three records are compliance events, so every minute has some.
#[test]
fn replay_resume_drops_duplicate_compliance_events_too() {
    use gnip_stream::simulator::generator::{Format, Generator};
    let dir = gnip_stream::testing::scratch_dir("mixed");
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
        let (cfg, _) = replay_config(&sim, Product::PowerTrack, 5);
        let (running, seen) = start(cfg);
        let reports = join(running);
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

#[test]
fn a_replay_jobs_progress_adds_up_its_requests_counters() {
    use gnip_stream::client::{Delivery, Flow, JobProgress, ReplayJob};
    use std::time::Duration;
    let sim = Simulator::start(SimulatorConfig::default().replay_records_per_minute(20)).unwrap();
    let (cfg, _) = replay_config(&sim, Product::PowerTrack, 30);
    let job = ReplayJob::new(cfg)
        .unwrap()
        .window(Duration::from_secs(10 * 60));
    let mut last: Option<JobProgress> = None;
    let report = job
        .run(
            |_: &Delivery<'_>| Flow::Continue,
            None,
            |p| last = Some(p.clone()),
        )
        .unwrap();
    assert!(report.complete);
    assert_eq!((report.steps.len(), report.records), (3, 600));
    // The last progress carries the three requests' counters added up, per connection too.
    let last = last.unwrap();
    let stats = &last.stats[0];
    assert_eq!(stats.activities + stats.compliance, 600);
    assert_eq!(stats.connects, 3);
    assert_eq!(stats.disconnects_for(Ending::ReplayCompleted), 3);
    assert_eq!(stats.connections[0].connects, 3);
    assert!(stats.bytes_wire > 0 && stats.bytes_wire == stats.connections[0].bytes_wire);
    assert_eq!((last.requests, last.fraction()), (3, 1.0));
}

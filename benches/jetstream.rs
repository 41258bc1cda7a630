//! Records per second into a replicated (R3) JetStream stream on a real 3-node cluster on
//! loopback: the publisher alone (real simulator records, the default window of 1,024), and
//! the whole path (`gnip-stream stream --jetstream` on the simulator's Decahose at a fixed high
//! rate for a fixed time, counted in the stream afterwards).
//!
//! `cargo bench --features jetstream --bench jetstream` (`GNIP_NATS_SERVER=PATH`, else
//! `nats-server` on PATH; `GNIP_JS_RECORDS=N`, default 200,000; `GNIP_JS_SECONDS=S`, default 10;
//! `GNIP_JS_RATE=R` records/s of the simulator, default 20,000).

use std::sync::Arc;
use std::time::{Duration, Instant};

use gnip_stream::core::Record;
use gnip_stream::simulator::{Rate, Simulator, SimulatorConfig};
use gnip_stream::sink::jetstream::{
    Message, NatsOptions, Publisher, PublisherConfig, ensure_stream,
};
use gnip_stream::testing::nats_cluster::NatsCluster;
use gnip_stream::unversioned::nats::api::StreamSpec;
use gnip_stream::unversioned::nats::encode::Auth;
use gnip_stream::unversioned::nats::servers::parse_servers;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn fresh_stream(cluster: &NatsCluster, name: &str, subjects: &str) {
    let mut c = cluster.connect().expect("a node");
    ensure_stream(
        &mut c,
        &StreamSpec::records(name, subjects, 3, 120_000_000_000),
        Duration::from_secs(10),
    )
    .expect("the stream");
}

fn main() {
    let cluster = match NatsCluster::start(3, "", Auth::None, None) {
        Ok(c) => c,
        Err(why) => {
            println!("SKIPPED: {why}");
            return;
        }
    };
    let n = env_number("GNIP_JS_RECORDS", 200_000);
    let seconds = env_number("GNIP_JS_SECONDS", 10);
    let sim = Simulator::start(SimulatorConfig::default().rate(Rate::Unlimited)).expect("sim");

    // The publisher alone.
    fresh_stream(&cluster, "BENCH", "bench.>");
    let records: Vec<Vec<u8>> = (0..n).map(|g| sim.record(g)).collect();
    let bytes: usize = records.iter().map(Vec::len).sum();
    let subject: Arc<str> = "bench.all".into();
    let options = NatsOptions {
        servers: parse_servers(&cluster.urls_from(0)).expect("urls"),
        auth: Auth::None,
        ca_file: None,
        connect_timeout: Duration::from_secs(5),
        name: "bench".into(),
        allow_plaintext: false,
    };
    let publisher =
        Publisher::start(PublisherConfig::new(options), &[subject.to_string()]).expect("publisher");
    let queue = publisher.queue().expect("queue");
    let t = Instant::now();
    for r in &records {
        if let Some(m) = Message::of_record(&subject, &Record::new(r)) {
            queue.send(m).expect("running");
        }
    }
    drop(queue);
    let report = publisher.finish(Duration::from_secs(120));
    let secs = t.elapsed().as_secs_f64();
    let (count, _) = cluster.stream_state("BENCH").expect("state");
    println!(
        "publisher -> R3: {} records ({:.1} MB) acknowledged in {secs:.2} s: {:.0} records/s, {:.1} MB/s; stored {count}; unacknowledged {}",
        report.stats.delivered,
        bytes as f64 / 1e6,
        report.stats.delivered as f64 / secs,
        bytes as f64 / 1e6 / secs,
        report.unacknowledged
    );

    // The whole path: the command on the simulator's Decahose at a high fixed rate (the
    // unlimited simulator repeats one block of records, which JetStream would de-duplicate).
    let rate = env_number("GNIP_JS_RATE", 20_000);
    let sim = Simulator::start(SimulatorConfig::default().rate(Rate::PerSecond(rate as f64)))
        .expect("sim");
    fresh_stream(&cluster, "GNIP", "gnip.>");
    let started = Instant::now();
    let bin = env!("CARGO_BIN_EXE_gnip-stream");
    let mut child = std::process::Command::new(bin)
        .args([
            "stream",
            "--product",
            "decahose",
            "--account",
            "acme",
            "--label",
            "prod",
            "--host",
            &sim.base_url(),
            "--jetstream",
            &cluster.urls_from(0),
        ])
        .env("GNIP_USERNAME", "demo")
        .env("GNIP_PASSWORD", "demo")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("gnip-stream");
    std::thread::sleep(Duration::from_secs(seconds));
    let t = Instant::now();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().expect("exit");
    let drained = t.elapsed().as_secs_f64();
    let (count, _) = cluster.stream_state("GNIP").expect("state");
    let published = sim.published_by(started + Duration::from_secs(seconds));
    println!(
        "stream --jetstream (Decahose at {rate} records/s, 2 partitions) -> R3: {count} records stored in {seconds} s + {drained:.1} s drain ({:.0} records/s; the simulator published about {published} in the {seconds} s); exit {:?}",
        count as f64 / (seconds as f64 + drained),
        status.code()
    );
}

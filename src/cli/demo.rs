//! `gnip-stream demo`: the simulator and the whole client in one process, offline.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gnip_stream::Product;
use gnip_stream::client::{Client, ClientConfig, Delivery, Flow};
use gnip_stream::core::RecordKind;
use gnip_stream::simulator::{DEMO_BEARER_TOKEN, Rate, Simulator, SimulatorConfig};
use gnip_stream::unversioned::protocol::v2::products::V2Product;

use super::args::{Args, Usage, usage};
use super::flags::{self, Flag, Parsed};
use super::report::{exit_code, print_event, start_error, stats_report};
use super::supervise::supervise_client;
use super::{Command, FATAL};

/// Parses the arguments of `demo`.
pub fn parse(args: &[String]) -> Result<Command, Usage> {
    let mut d = DemoArgs {
        seconds: DEFAULT_SECONDS,
        rate: DEFAULT_RATE,
        v2: false,
    };
    let mut it = Args::new("demo", args);
    if let Parsed::Help = flags::read(&mut it, "demo", FLAGS, &mut d, &[], false)? {
        return Ok(Command::Help("demo"));
    }
    Ok(Command::Demo {
        seconds: d.seconds,
        rate: d.rate,
        v2: d.v2,
    })
}

/// How long `demo` streams, and how fast the simulator publishes, unless told otherwise.
const DEFAULT_SECONDS: f64 = 10.0;
const DEFAULT_RATE: f64 = 500.0;

/// What the flags of `demo` gather.
pub struct DemoArgs {
    seconds: f64,
    rate: f64,
    v2: bool,
}

/// The flags of `demo`.
pub const FLAGS: &[Flag<DemoArgs>] = &[
    Flag {
        name: "--api",
        value: Some("API"),
        default: Some(|| "gnip".to_owned()),
        help: "gnip (Decahose over the Gnip 2.0 endpoint) or v2 (sample10 over the X API v2 one, Bearer auth)",
        only: &[],
        set: |d, it, f| {
            d.v2 = match it.value(f)? {
                "gnip" => false,
                "v2" => true,
                v => {
                    return Err(usage(
                        "demo",
                        format!("--api: '{v}' is not one of gnip, v2"),
                    ));
                }
            };
            Ok(())
        },
    },
    Flag {
        name: "--seconds",
        value: Some("N"),
        default: Some(|| DEFAULT_SECONDS.to_string()),
        help: "how long to stream",
        only: &[],
        set: |d, it, f| {
            d.seconds = it.seconds(f, false)?.as_secs_f64();
            Ok(())
        },
    },
    Flag {
        name: "--rate",
        value: Some("RECORDS_PER_S"),
        default: Some(|| DEFAULT_RATE.to_string()),
        help: "records a second the simulator publishes",
        only: &[],
        set: |d, it, f| {
            d.rate = it.number(f)?;
            if !(d.rate > 0.0 && d.rate <= 1e6) {
                return Err(usage(
                    "demo",
                    format!("--rate: '{}' must be above 0 and at most 1000000", d.rate),
                ));
            }
            Ok(())
        },
    },
];

/// `demo`: the simulator and the client in one process, offline.
pub fn run(seconds: f64, rate: f64, v2: bool) -> u8 {
    let sim = match Simulator::start(SimulatorConfig::default().rate(Rate::PerSecond(rate))) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gnip-stream: cannot start the simulator: {e}");
            return FATAL;
        }
    };
    println!(
        "demo: simulator at {} serving {}",
        sim.base_url(),
        sim.source().description()
    );
    let (what, config) = if v2 {
        (
            "X API v2 sample10",
            ClientConfig::v2(V2Product::Decahose).bearer_token(DEMO_BEARER_TOKEN),
        )
    } else {
        (
            "Decahose",
            ClientConfig::stream(Product::Decahose, "demo", "prod").credentials("demo", "demo"),
        )
    };
    println!(
        "demo: streaming {what} (2 partitions) at {rate} records/s for {seconds} s: HTTP, gzip, the decoder, a thread per partition\n"
    );
    let config = config
        .host(&sim.base_url())
        .stall_timeout(Duration::from_secs(5));
    let dialect = config.dialect();
    let samples = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&samples);
    let handler = move |d: &Delivery<'_>| {
        let r = d.record();
        if r.kind() == RecordKind::Activity {
            let mut s = s.lock().unwrap_or_else(|e| e.into_inner());
            if s.len() < 3 {
                let text: String = String::from_utf8_lossy(r.bytes())
                    .chars()
                    .take(110)
                    .collect();
                let id = dialect
                    .record_key(r)
                    .map_or_else(|| "?".to_owned(), |k| k.message_id());
                s.push(format!("partition {} {id}: {text}…", d.partition()));
            }
        }
        Flow::Continue
    };
    let running = match Client::start_observed(config, handler, Some(Arc::new(print_event))) {
        Ok(r) => r,
        Err(e) => return start_error(&e),
    };
    let started = Instant::now();
    let tty = std::io::stderr().is_terminal();
    let stop = running.stop_handle();
    let drew = supervise_client(
        &running,
        None,
        Duration::from_secs(1),
        started,
        |r| stats_report(started.elapsed(), &r.stats()),
        tty,
        || {
            if started.elapsed().as_secs_f64() >= seconds {
                stop.stop();
            }
        },
    );
    if drew {
        eprintln!();
    }
    let reports = running.join();
    let requests = sim.requests().len();
    sim.shutdown();
    println!("sample records:");
    for s in samples.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        println!("  {s}");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total: u64 = reports
        .iter()
        .map(|r| r.stats.activities + r.stats.compliance)
        .sum();
    println!(
        "\nsummary: {total} records in {elapsed:.1} s ({:.0}/s): {} activities, {} compliance, {} system messages",
        total as f64 / elapsed,
        reports.iter().map(|r| r.stats.activities).sum::<u64>(),
        reports.iter().map(|r| r.stats.compliance).sum::<u64>(),
        reports.iter().map(|r| r.stats.system).sum::<u64>(),
    );
    for r in &reports {
        println!(
            "  partition {}: {} records, {} connects, {:.2} MB on the wire, {:.2} MB inflated, ended: {}",
            r.partition,
            r.stats.activities + r.stats.compliance,
            r.stats.connects,
            r.stats.bytes_wire as f64 / 1e6,
            r.stats.bytes_inflated as f64 / 1e6,
            r.ending.name()
        );
    }
    println!("  the simulator answered {requests} requests");
    exit_code(&reports)
}

//! The fault soak: the simulator publishes a deterministic Firehose; faults hit random live
//! connections at random times (drop mid-record, stall, 503, 429, corrupt gzip, forced
//! disconnect, slow-reader close); at the end the records handed out are compared with the
//! ones published, and one line says what was lost and what came twice.
//!
//! ```text
//! cargo run --release --example soak -- [--minutes M] [--partitions P] [--redundant N]
//!     [--backfill-minutes B] [--faults PER_MINUTE] [--seed S] [--rate RECORDS_PER_S]
//! ```
//! Defaults: 1 minute, 2 partitions, 2 connections each, 5 minutes of backfill, 6 faults a
//! minute, seed 1, 100 records a second per partition. With 2 or more connections and backfill
//! the exit status is 1 if anything was lost or duplicated; otherwise the loss is reported
//! (the baseline redundancy beats) and the exit status is 0.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gnip_stream::Product;
use gnip_stream::client::{Client, ClientConfig, Delivery, Flow};
use gnip_stream::core::RecordKind;
use gnip_stream::simulator::{Fault, Rate, RecordSource, Simulator, SimulatorConfig, Which};
use gnip_stream::unversioned::protocol::policy::BackoffConfig;
use gnip_stream::unversioned::rng::Rng;

struct Args {
    minutes: f64,
    partitions: u32,
    redundant: u8,
    backfill: u8,
    faults: f64,
    seed: u64,
    rate: f64,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        minutes: 1.0,
        partitions: 2,
        redundant: 2,
        backfill: 5,
        faults: 6.0,
        seed: 1,
        rate: 100.0,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| format!("{flag} needs a value"))
                .cloned()
        };
        let bad = |v: &str| format!("{flag}: '{v}' is not usable");
        match flag.as_str() {
            "--minutes" => {
                let v = value()?;
                a.minutes = v.parse().map_err(|_| bad(&v))?;
            }
            "--partitions" => {
                let v = value()?;
                a.partitions = v
                    .parse()
                    .ok()
                    .filter(|p| (1..=20).contains(p))
                    .ok_or_else(|| bad(&v))?;
            }
            "--redundant" => {
                let v = value()?;
                a.redundant = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=4).contains(n))
                    .ok_or_else(|| bad(&v))?;
            }
            "--backfill-minutes" => {
                let v = value()?;
                a.backfill = v.parse().ok().filter(|n| *n <= 5).ok_or_else(|| bad(&v))?;
            }
            "--faults" => {
                let v = value()?;
                a.faults = v.parse().map_err(|_| bad(&v))?;
            }
            "--seed" => {
                let v = value()?;
                a.seed = v.parse().map_err(|_| bad(&v))?;
            }
            "--rate" => {
                let v = value()?;
                a.rate = v.parse().map_err(|_| bad(&v))?;
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    if !(a.minutes > 0.0 && a.faults >= 0.0 && a.rate > 0.0) {
        return Err("--minutes and --rate must be above 0, --faults at least 0".into());
    }
    Ok(a)
}

/// The process's peak resident set (VmHWM), in MiB: client and simulator together.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Record `g` of the simulated Firehose belongs to partition `g % 20 + 1`.
const FIREHOSE_PARTITIONS: u32 = 20;

const KINDS: [&str; 7] = [
    "drop",
    "stall",
    "503",
    "429",
    "corrupt",
    "forced",
    "slow-reader",
];

/// Published against handed out, up to record `end` (exclusive).
struct Tally {
    published: u64,
    lost: u64,
    duplicated: u64,
    distinct: usize,
}

/// Per partition, expected = every record it published from its first one handed out to `end`.
fn account(got: &[u64], end: u64) -> Tally {
    let p = u64::from(FIREHOSE_PARTITIONS);
    let mut start_of: BTreeMap<u64, u64> = BTreeMap::new();
    for &g in got {
        let e = start_of.entry(g % p).or_insert(g);
        *e = (*e).min(g);
    }
    let seen: HashSet<u64> = got.iter().copied().filter(|&g| g < end).collect();
    let counted = got.iter().filter(|&&g| g < end).count() as u64;
    let (mut published, mut lost) = (0u64, 0u64);
    for &start in start_of.values() {
        let mut g = start;
        while g < end {
            published += 1;
            if !seen.contains(&g) {
                lost += 1;
            }
            g += p;
        }
    }
    Tally {
        published,
        lost,
        duplicated: counted - seen.len() as u64,
        distinct: seen.len(),
    }
}

fn main() {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("soak: {e}");
            std::process::exit(2);
        }
    };
    let stall = Duration::from_secs(3);
    let sim = Simulator::start(
        SimulatorConfig::default()
            // The generator: the same records on every machine, with or without the corpus.
            .source(RecordSource::generated(a.seed, 500))
            // Firehose records are shared out over its 20 partitions: this is `--rate` for each.
            .rate(Rate::PerSecond(a.rate * f64::from(FIREHOSE_PARTITIONS)))
            .heartbeat(Duration::from_secs(1))
            .redundant_connections(usize::from(a.redundant)),
    )
    .expect("the simulator starts");
    let parts: Vec<u32> = (1..=a.partitions).collect();
    let delivered: Arc<Mutex<Vec<u64>>> = Arc::default();
    let foreign = Arc::new(Mutex::new(0u64));
    let (d, f) = (Arc::clone(&delivered), Arc::clone(&foreign));
    let first = gnip_stream::simulator::record_id_for(0);
    let config = ClientConfig::stream(Product::Firehose, "acme", "soak")
        .host(&sim.base_url())
        .credentials("demo", "demo")
        .partitions(&parts)
        .redundant(a.redundant)
        .backfill_minutes(a.backfill)
        .stall_timeout(stall)
        .backoff(
            BackoffConfig::default()
                .http_base(Duration::from_secs(1))
                .rate_limited_base(Duration::from_secs(2))
                .healthy_after(Duration::from_secs(5)),
        );
    let running = Client::start(config, move |del: &Delivery<'_>| {
        let r = del.record();
        if matches!(r.kind(), RecordKind::Activity | RecordKind::Compliance(_)) {
            match r.id().and_then(|id| id.parse::<u64>().ok()) {
                Some(id) if id >= first => {
                    d.lock().unwrap_or_else(|e| e.into_inner()).push(id - first)
                }
                _ => *f.lock().unwrap_or_else(|e| e.into_inner()) += 1,
            }
        }
        Flow::Continue
    })
    .expect("the client starts");

    // Faults at random times, on random live connections.
    let started = Instant::now();
    let run_for = Duration::from_secs_f64(a.minutes * 60.0);
    let mut rng = Rng::new(a.seed);
    let mut injected: BTreeMap<&str, u32> = KINDS.iter().map(|k| (*k, 0)).collect();
    let mean_gap = if a.faults > 0.0 {
        60.0 / a.faults
    } else {
        f64::INFINITY
    };
    let mut next = started + Duration::from_secs_f64((mean_gap * 2.0 * rng.unit()).min(1e6));
    while started.elapsed() < run_for {
        std::thread::sleep(Duration::from_millis(20));
        if Instant::now() < next {
            continue;
        }
        next = Instant::now() + Duration::from_secs_f64((mean_gap * 2.0 * rng.unit()).min(1e6));
        let live = sim.streaming_connections();
        if live.is_empty() {
            continue;
        }
        let victim = live[rng.below(live.len() as u64) as usize];
        let kind = KINDS[rng.below(KINDS.len() as u64) as usize];
        let fault = match kind {
            "drop" => Fault::DropMidRecord { after_records: 0 },
            "stall" => Fault::Stall {
                after_records: 0,
                duration: stall + Duration::from_secs(1),
            },
            "corrupt" => Fault::CorruptAfter { bytes: 0 },
            "forced" => Fault::ForcedDisconnect,
            "slow-reader" => Fault::BufferLimit { bytes: 0 },
            status => {
                // The victim's next connection is answered with this status.
                let code = if status == "503" { 503 } else { 429 };
                let n = sim.requests().len() as u64 + 1;
                for k in n..n + 2 {
                    sim.add_fault(
                        Which::Connection(k),
                        Fault::Status {
                            status: code,
                            message: if code == 503 {
                                "Service Unavailable".into()
                            } else {
                                "Exceeded rate limit".into()
                            },
                        },
                    );
                }
                Fault::DropAfter { bytes: 0 }
            }
        };
        sim.disrupt(victim, fault);
        *injected.entry(kind).or_default() += 1;
    }
    // Quiet: no more faults; let every connection come back and catch up (a partition that
    // used up its connection-rate limit may wait up to a minute, then backfills the gap).
    sim.clear_faults();
    let protected = a.redundant >= 2 && a.backfill >= 1;
    let quiet = Instant::now();
    let (mut end, mut tally);
    loop {
        std::thread::sleep(Duration::from_millis(500));
        end = sim.published_by(Instant::now() - Duration::from_secs(2));
        tally = account(&delivered.lock().unwrap_or_else(|e| e.into_inner()), end);
        // Without redundancy and backfill what was lost stays lost: no point waiting for it.
        let settled =
            quiet.elapsed() > stall + Duration::from_secs(4) && (tally.lost == 0 || !protected);
        if settled || quiet.elapsed() > Duration::from_secs(90) {
            break;
        }
    }
    let reports = running.stop_and_join();
    let Tally {
        published,
        lost,
        duplicated,
        distinct,
    } = tally;
    let reconnects: u64 = reports
        .iter()
        .map(|r| r.stats.connects.saturating_sub(u64::from(a.redundant)))
        .sum();
    let dedupe_mib: f64 = reports
        .iter()
        .map(|r| r.stats.dedupe_bytes as f64)
        .sum::<f64>()
        / (1024.0 * 1024.0);
    let faults: Vec<String> = injected.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let total: u32 = injected.values().sum();
    println!(
        "soak: seed {}, {:.1} min of faults (+{:.0} s to settle), {} partitions x {} connections, backfill {} min | faults {total} ({}) | published {published}, delivered {}, lost {lost}, duplicated {duplicated}, foreign {} | reconnects {reconnects} | peak RSS {:.1} MiB (client and simulator), de-dup memory {:.2} MiB",
        a.seed,
        run_for.as_secs_f64() / 60.0,
        quiet.elapsed().as_secs_f64(),
        a.partitions,
        a.redundant,
        a.backfill,
        faults.join(", "),
        distinct,
        *foreign.lock().unwrap_or_else(|e| e.into_inner()),
        peak_rss_mib(),
        dedupe_mib,
    );
    if protected && (lost > 0 || duplicated > 0) {
        eprintln!("soak: FAILED: with redundancy and backfill nothing may be lost or duplicated");
        std::process::exit(1);
    }
}

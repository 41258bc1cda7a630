//! The crash soak: the simulator publishes a deterministic Decahose or Firehose; the command
//! runs with `--archive` (5-second files, an `--on-close` hook that moves each sealed file
//! away) and is killed with SIGKILL at random moments — some mid-rotation, some mid-hook — and
//! restarted after a random pause. While the simulator's clock is set back (the first part of
//! the run) every restart finds its checkpoint more than 5 minutes old and runs Recovery
//! beside the live stream; after the clock is moved forward, restarts backfill their gap. At
//! the end every record in the sealed files is compared with every record published, and one
//! line says what was lost, duplicated or torn.
//!
//! ```text
//! cargo build --release && cargo run --release --example crash_soak -- [--minutes M]
//!     [--partitions P] [--kills K] [--gzip] [--seed S] [--rate RECORDS_PER_S]
//! ```
//! Defaults: 1 minute, 2 partitions (Decahose; more than 2: Firehose partitions 1..P), 4 kills,
//! seed 1, 50 records a second per partition. The binary is `target/{profile}/gnip-stream`
//! beside this example (or `$GNIP_STREAM_BIN`). Exit status 1 if anything was lost,
//! duplicated or torn.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gnip_stream::core::GzipDecoder;
use gnip_stream::simulator::{Rate, RecordSource, Simulator, SimulatorConfig, record_index};
use gnip_stream::unversioned::protocol::replay::record_time;
use gnip_stream::unversioned::protocol::time;
use gnip_stream::unversioned::rng::Rng;

struct Args {
    minutes: f64,
    partitions: u32,
    kills: u32,
    gzip: bool,
    seed: u64,
    rate: f64,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        minutes: 1.0,
        partitions: 2,
        kills: 4,
        gzip: false,
        seed: 1,
        rate: 50.0,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        if flag == "--gzip" {
            a.gzip = true;
            continue;
        }
        let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = || format!("{flag}: '{v}' is not usable");
        match flag.as_str() {
            "--minutes" => a.minutes = v.parse().map_err(|_| bad())?,
            "--partitions" => a.partitions = v.parse().map_err(|_| bad())?,
            "--kills" => a.kills = v.parse().map_err(|_| bad())?,
            "--seed" => a.seed = v.parse().map_err(|_| bad())?,
            "--rate" => a.rate = v.parse().map_err(|_| bad())?,
            _ => return Err(format!("unknown option '{flag}'")),
        }
    }
    if !(1..=20).contains(&a.partitions) || a.minutes <= 0.0 || a.rate <= 0.0 {
        return Err("--partitions 1..20, --minutes and --rate above 0".into());
    }
    Ok(a)
}

/// The command beside this example, or `$GNIP_STREAM_BIN`.
fn binary() -> Result<PathBuf, String> {
    if let Ok(b) = std::env::var("GNIP_STREAM_BIN") {
        return Ok(PathBuf::from(b));
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("gnip-stream"))
        .ok_or("no target directory")?;
    if bin.exists() {
        Ok(bin)
    } else {
        Err(format!(
            "{} is not built: run 'cargo build --release' (or set GNIP_STREAM_BIN)",
            bin.display()
        ))
    }
}

/// How far the simulator's clock starts behind: more than 5 minutes, so restarts recover.
const CLOCK_BACK: Duration = Duration::from_secs(8 * 60);

/// Whether every journal's latest record is within 10 s of `now` (the stream caught up).
fn caught_up(state: &Path, now: i64) -> bool {
    let Ok(r) = std::fs::read_dir(state) else {
        return false;
    };
    r.filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".journal"))
        .all(|e| {
            std::fs::read_to_string(e.path())
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.split(' ').next()?.parse::<i64>().ok())
                .max()
                .is_some_and(|t| now - t <= 10)
        })
}

fn main() {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("crash_soak: {e}");
            std::process::exit(2);
        }
    };
    let bin = match binary() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("crash_soak: {e}");
            std::process::exit(2);
        }
    };
    let (product, parts) = if a.partitions <= 2 {
        ("decahose", 2u64)
    } else {
        ("firehose", 20u64)
    };
    let sim = Simulator::start(
        SimulatorConfig::default()
            .source(RecordSource::generated(a.seed, 1000))
            .rate(Rate::PerSecond(a.rate * parts as f64))
            .heartbeat(Duration::from_secs(1))
            .clock_back(CLOCK_BACK),
    )
    .expect("simulator");
    let root = std::env::temp_dir().join(format!("gnip-crash-soak-{}", std::process::id()));
    let (dir, out) = (root.join("archive"), root.join("handed-over"));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&out).expect("scratch directory");
    let hook = format!("sleep 0.2; mv \"$1\" '{}'/", out.display());
    let command = |log: &Path| {
        let mut c = Command::new(&bin);
        c.env("GNIP_USERNAME", "demo")
            .env("GNIP_PASSWORD", "demo")
            .args(["stream", "--product", product, "--account", "acme"])
            .args(["--label", "prod", "--host", &sim.base_url()])
            .arg("--archive")
            .arg(&dir)
            .args(["--rotate-every", "5s", "--on-close", &hook]);
        for p in 1..=a.partitions {
            c.args(["--partition", &p.to_string()]);
        }
        if a.gzip {
            c.arg("--archive-gzip");
        }
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(log).expect("log")));
        c.spawn().expect("the command")
    };
    let mut rng = Rng::new(a.seed);
    let total = Duration::from_secs_f64(a.minutes * 60.0);
    let run_for = total / (a.kills + 1);
    // The clock moves forward at a random kill in the middle third: Recovery before, backfill after.
    let forward_at = a.kills / 3 + rng.below(u64::from(a.kills / 3 + 1)) as u32;
    let started = Instant::now();
    let mut logs = Vec::new();
    for k in 0..=a.kills {
        let log = root.join(format!("run-{k}.log"));
        let mut child: Child = command(&log);
        logs.push(log);
        // Each run lasts a random 50..150 % of its share.
        let share = run_for.mul_f64(0.5 + rng.below(1000) as f64 / 1000.0);
        std::thread::sleep(share);
        if k == a.kills {
            // The last run settles — no Recovery pending, caught up with the simulator's
            // clock (at most 5 minutes) — and stops cleanly: every file sealed.
            let state = dir.join(".gnip-stream");
            let settle = Instant::now();
            while settle.elapsed() < Duration::from_secs(300) {
                let pending = std::fs::read_dir(&state)
                    .map(|r| {
                        r.filter_map(|e| e.ok())
                            .any(|e| e.file_name().to_string_lossy().ends_with(".recovery"))
                    })
                    .unwrap_or(false);
                if !pending && caught_up(&state, sim.now_secs()) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            std::thread::sleep(Duration::from_secs(2));
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
            break;
        }
        let _ = child.kill();
        let _ = child.wait();
        if k == forward_at {
            sim.advance_clock(CLOCK_BACK);
        }
        std::thread::sleep(Duration::from_millis(200 + rng.below(2800)));
    }
    let elapsed = started.elapsed();
    // What the runs said about their restarts.
    let (mut with_backfill, mut with_recovery) = (0, 0);
    for log in &logs[1..] {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(", Recovery ") {
            with_recovery += 1;
        } else if text.contains("latest record archived") {
            with_backfill += 1;
        }
    }
    // Every record in the sealed files, wherever the hook left them.
    let (mut seen, mut duplicated, mut torn, mut files, mut bytes, mut archived) =
        (BTreeSet::new(), 0u64, 0u64, 0u64, 0u64, 0u64);
    for d in [&dir, &out] {
        for e in std::fs::read_dir(d)
            .expect("read dir")
            .filter_map(|e| e.ok())
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                if name.ends_with(".part") {
                    torn += 1; // a clean stop leaves none
                }
                continue;
            }
            files += 1;
            let raw = std::fs::read(e.path()).unwrap_or_default();
            bytes += raw.len() as u64;
            let plain = if name.ends_with(".gz") {
                let mut dec = GzipDecoder::new();
                let mut v = Vec::new();
                let ok =
                    dec.decode(&raw, |b| v.extend_from_slice(b)).is_ok() && dec.finish().is_ok();
                torn += u64::from(!ok);
                v
            } else {
                raw
            };
            if !plain.is_empty() && !plain.ends_with(b"\n") {
                torn += 1;
            }
            for line in plain.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                archived += 1;
                match record_index(line) {
                    Some(g) if sim.record(g) == line => {
                        if !seen.insert(g) {
                            duplicated += 1;
                        }
                    }
                    _ => torn += 1,
                }
            }
        }
    }
    // Published: every record of the streamed partitions from the first archived to the last.
    let mut published = 0u64;
    let mut lost = 0u64;
    let mut by_partition: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for g in &seen {
        by_partition.entry(g % parts + 1).or_default().push(*g);
    }
    for p in 1..=u64::from(a.partitions) {
        let Some(gs) = by_partition.get(&p) else {
            lost += 1;
            continue;
        };
        let (first, last) = (gs[0], gs[gs.len() - 1]);
        let expected = (last - first) / parts + 1;
        published += expected;
        let missing = expected - gs.len() as u64;
        lost += missing;
        if missing > 0 {
            // Where: the first runs of missing records, with their publication times.
            let mut runs = Vec::new();
            for w in gs.windows(2) {
                if w[1] - w[0] > parts && runs.len() < 3 {
                    let when = record_time(&sim.record(w[0] + parts)).map_or(0, |t| t);
                    runs.push(format!(
                        "{} from {}",
                        (w[1] - w[0]) / parts - 1,
                        time::iso8601_z(when)
                    ));
                }
            }
            eprintln!(
                "crash_soak: partition {p}: {missing} lost ({})",
                runs.join(", ")
            );
        }
    }
    println!(
        "crash soak: minutes={:.1} kills={} restarts_backfill={with_backfill} restarts_recovery={with_recovery} published={published} archived={archived} lost={lost} duplicated={duplicated} torn={torn} files={files} bytes={bytes}{}",
        elapsed.as_secs_f64() / 60.0,
        a.kills,
        if a.gzip { " gzip" } else { "" }
    );
    sim.shutdown();
    if lost + duplicated + torn > 0 {
        eprintln!("crash_soak: logs and files kept in {}", root.display());
        std::process::exit(1);
    }
    let _ = std::fs::remove_dir_all(&root);
}

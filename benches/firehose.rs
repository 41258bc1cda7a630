//! Firehose on two cores: the `gnip-stream stream` process on all 20 partitions at full speed
//! from the simulator (pre-compressed blocks, as fast as they are read), against one partition;
//! CPU seconds per GB, peak RSS, the same with `--redundant 2`, one `curl` per partition for
//! comparison, and what an idle 20-partition connection (heartbeats only) costs per hour, its
//! wake-ups and how long SIGTERM takes to end it.
//!
//! `cargo bench --bench firehose` (`GNIP_FIREHOSE_RECORDS=N`, default 2,000,000;
//! `GNIP_IDLE_SECS=S`, default 30; `GNIP_STREAM_BIN=PATH`: another build).

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gnip_stream::simulator::{Rate, Simulator, SimulatorConfig};

/// CPU seconds (user + system) of every child reaped so far.
fn children_cpu() -> f64 {
    // SAFETY: getrusage writes one rusage into the zeroed struct we own; no other effect.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_CHILDREN is a valid `who`.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

/// Voluntary context switches of every thread of `pid` (each one a wake-up from a sleep).
fn wakeups(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
        .filter_map(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
        .sum()
}

fn command(bin: &str, host: &str, extra: &[&str]) -> Command {
    let mut c = Command::new(bin);
    c.args([
        "stream",
        "--product",
        "firehose",
        "--account",
        "acme",
        "--label",
        "prod",
    ])
    .args(["--host", host, "--stats-interval", "0"])
    .args(extra)
    .env("GNIP_USERNAME", "demo")
    .env("GNIP_PASSWORD", "demo")
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    c
}

/// Streams `n` records (`--count`) with `extra` options: wall seconds, CPU seconds, peak RSS.
fn run(bin: &str, host: &str, n: u64, extra: &[&str]) -> (f64, f64, u64) {
    let n_arg = n.to_string();
    let mut args = vec!["--count", "--max-records", n_arg.as_str()];
    args.extend_from_slice(extra);
    let cpu0 = children_cpu();
    let t = Instant::now();
    let child = command(bin, host, &args).spawn().unwrap();
    let pid = child.id();
    let poll = common::peak_rss(pid);
    let out = child.wait_with_output().unwrap();
    let wall = t.elapsed().as_secs_f64();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("records={n}")
    );
    (wall, children_cpu() - cpu0, poll.join().unwrap())
}

fn main() {
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return;
    }
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let bin = std::env::var("GNIP_STREAM_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_gnip-stream").to_owned());
    let n = env("GNIP_FIREHOSE_RECORDS", 2_000_000);
    let idle_secs = env("GNIP_IDLE_SECS", 30);
    let sim = Simulator::start(SimulatorConfig::default().rate(Rate::Unlimited)).unwrap();
    let host = sim.base_url();
    // Every record of the repeated block, with its line terminator.
    let per_record = (0..2000)
        .map(|g| sim.record(g).len() as f64 + 2.0)
        .sum::<f64>()
        / 2000.0;
    let gb = n as f64 * per_record / 1e9;
    println!(
        "binary: {bin}; {n} records of {:.0} bytes on average ({gb:.2} GB inflated); {} cores",
        per_record,
        std::thread::available_parallelism().map_or(0, |p| p.get())
    );

    let (w1, c1, r1) = run(&bin, &host, n, &["--partition", "1"]);
    let (w20, c20, r20) = run(&bin, &host, n, &[]);
    let (wr, cr, rr) = run(
        &bin,
        &host,
        n,
        // The simulator's block repeats its 2,000 ids: a window of 1,000 makes each new.
        &["--redundant", "2", "--dedupe-window", "1000"],
    );
    let curls = curl_20(&host, w20.max(3.0));
    let line = |name: &str, w: f64, c: f64, r: u64| {
        println!(
            "{name:<14} {:8.1} MB/s  {:8.0} records/s  {:5.2} CPU s/GB  peak RSS {:6.2} MiB  ({w:.2} s wall, {c:.2} s CPU)",
            gb * 1e3 / w,
            n as f64 / w,
            c / gb,
            r as f64 / 1024.0
        )
    };
    line("1 partition", w1, c1, r1);
    line("20 partitions", w20, c20, r20);
    line("20 x 2 (--redundant 2)", wr, cr, rr);
    println!(
        "20 / 1 throughput = {:.2}; peak RSS target 4 + 0.5 x 19 = 13.5 MiB; --redundant 2 reads twice the bytes for the same records",
        w1 / w20
    );
    match curls {
        Some((bytes, secs, cpu)) => println!(
            "20 curls (curl --compressed | wc -c, one per partition, {secs:.1} s) {:8.1} MB/s  {:5.2} CPU s/GB; 20 partitions / 20 curls = {:.2}",
            bytes / 1e6 / secs,
            cpu / (bytes / 1e9),
            (gb * 1e3 / w20) / (bytes / 1e6 / secs)
        ),
        None => println!("20 curls: curl not installed here, skipped"),
    }
    sim.shutdown();

    // Idle: no records at all, a heartbeat every 10 s per partition.
    let idle = Simulator::start(SimulatorConfig::default().rate(Rate::PerSecond(0.0))).unwrap();
    let mut child = command(&bin, &idle.base_url(), &["--count"])
        .spawn()
        .unwrap();
    let pid = child.id();
    std::thread::sleep(Duration::from_secs(2)); // connected
    let stat = |pid: u32| -> f64 {
        let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Fields after the command name (which ends with ')'): utime and stime are 14 and 15.
        let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<f64> = rest
            .split_whitespace()
            .map(|v| v.parse().unwrap_or(0.0))
            .collect();
        // SAFETY: sysconf only reads a constant.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / hz
    };
    let (cpu0, wake0, t0) = (stat(pid), wakeups(pid), Instant::now());
    std::thread::sleep(Duration::from_secs(idle_secs));
    let (cpu1, wake1, secs) = (stat(pid), wakeups(pid), t0.elapsed().as_secs_f64());
    let term = Instant::now();
    // SAFETY: `pid` is our child, not yet reaped (so the pid is still ours).
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let _ = child.wait();
    let term = term.elapsed();
    idle.shutdown();
    println!(
        "idle, 20 partitions (heartbeats only): {:.1} CPU s per hour, {:.1} wake-ups/s, over {secs:.0} s; SIGTERM to exit {:.0} ms (target: <= 5 wake-ups/s, < 2 CPU s/h, 250 ms)",
        (cpu1 - cpu0) / secs * 3600.0,
        (wake1 - wake0) as f64 / secs,
        term.as_secs_f64() * 1e3
    );
}

/// One `curl --compressed | wc -c` per Firehose partition, all at once, for `secs`: inflated
/// bytes, wall seconds, CPU seconds (curl and wc); `None` without curl.
fn curl_20(host: &str, secs: f64) -> Option<(f64, f64, f64)> {
    Command::new("curl").arg("--version").output().ok()?;
    let cpu0 = children_cpu();
    let t = Instant::now();
    let children: Vec<_> = (1..=20)
        .map(|p| {
            let url = format!(
                "{host}/stream/firehose/accounts/acme/publishers/twitter/prod.json?partition={p}"
            );
            Command::new("sh")
                .args([
                    "-c",
                    &format!(
                        "curl -sS --compressed -u demo:demo --max-time {secs:.1} '{url}' | wc -c"
                    ),
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let bytes: f64 = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse::<f64>()
                .unwrap_or(0.0)
        })
        .sum();
    Some((bytes, t.elapsed().as_secs_f64(), children_cpu() - cpu0))
}

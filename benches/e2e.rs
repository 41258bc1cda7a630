//! End to end, in one run, against the simulator serving pre-compressed corpus records over
//! loopback as fast as they are read: (a) the `gnip-stream stream --count` process (and (d) with
//! de-duplication on), (b) bare miniz_oxide inflate of the same bytes, (c) `curl --compressed
//! -o /dev/null`. (a), (d), (b) and the other build (e) are five runs each, interleaved where
//! they compare, and medians; (a), (d) and (e) also print CPU time (the command is one busy
//! thread, so CPU time is its cost without the simulator's share of the two cores). Prints MB/s
//! of inflated data, records/s, the client's peak RSS, and the ratios a/b and a/c. Then (v) the
//! same for the X API v2 dialect: `stream --count` on the v2 sample stream's records, gzip and
//! identity bodies, each against curl on the same stream.
//!
//! `cargo bench --bench e2e` (`GNIP_E2E_BLOCKS=N`: records to stream in blocks of 2,000,
//! default 100; `GNIP_STREAM_BIN=PATH`: another build of the binary, e.g. `--profile min-size`;
//! `GNIP_STREAM_EDGE_BIN=PATH`: also run that build, interleaved, and print its ratio;
//! `--features zlib-rs`: also (z), the command with the zlib-rs inflater, and (bz), bare
//! zlib-rs, five runs each too).

#[path = "common/bare.rs"]
mod bare;
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gnip_stream::Product;
use gnip_stream::simulator::{DEMO_BEARER_TOKEN, Rate, Simulator, SimulatorConfig};
use gnip_stream::unversioned::protocol::v2::products::V2Product;

const BLOCK_RECORDS: u64 = 2000;
/// Runs of (a), (d) and (e) each, interleaved; their medians are compared (a 1.5 s run moves by
/// a few percent from one to the next on a shared 2-core machine, as much as the targets'
/// margins).
const RUNS: usize = 5;

/// The X API v2 stream measured in (v): sample (one connection, no partitions, no rules).
const V2_PATH: &str = "/2/tweets/sample/stream";

/// `n` bytes of the body of the stream at `path` (with an `Authorization` header value),
/// de-chunked, read straight from the socket.
fn raw_body(sim: &Simulator, path: &str, auth: &str, n: usize) -> Vec<u8> {
    let mut s = TcpStream::connect(sim.addr()).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nAccept-Encoding: gzip\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::with_capacity(n + (1 << 20));
    let mut buf = vec![0u8; 1 << 20];
    while raw.len() < n + 4096 {
        let k = s.read(&mut buf).unwrap();
        assert!(k > 0);
        raw.extend_from_slice(&buf[..k]);
    }
    let head = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let mut body = Vec::with_capacity(n);
    let mut at = head;
    while body.len() < n {
        let line = raw[at..].windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&raw[at..at + line]).unwrap(), 16).unwrap();
        at += line + 2;
        let take = size.min(raw.len() - at);
        body.extend_from_slice(&raw[at..at + take]);
        if take < size {
            break;
        }
        at += size + 2;
    }
    body
}

/// Bare inflate of a gzip body (header skipped), 16 KiB reads, a 64 KiB output buffer, RUNS
/// times: the bytes `inflate` makes of `body` and its median time (one run moved a/b by 3%).
fn timed(inflate: impl Fn(&[u8], usize) -> u64, body: &[u8]) -> (u64, Duration) {
    let mut total = 0;
    let mut took: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            total = inflate(body, 16 * 1024);
            t.elapsed()
        })
        .collect();
    took.sort();
    (total, took[RUNS / 2])
}

/// Scrapes `http://{addr}/metrics` every second until `stop`; the scrapes answered.
fn scrape_every_second(addr: String, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u32> {
    std::thread::spawn(move || {
        let mut answered = 0;
        let mut next = Instant::now() + Duration::from_secs(1);
        while !stop.load(Ordering::SeqCst) {
            if Instant::now() < next {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            next += Duration::from_secs(1);
            if let Ok(mut s) = TcpStream::connect(&addr) {
                let mut got = Vec::new();
                if s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").is_ok()
                    && s.read_to_end(&mut got).is_ok()
                    && got.starts_with(b"HTTP/1.1 200")
                {
                    answered += 1;
                }
            }
        }
        answered
    })
}

/// Runs `gnip-stream stream --count --max-records n` (plus `extra`) to the end: its wall time,
/// peak RSS (KiB) and CPU seconds. With `scrape`, it serves `/metrics` and is scraped every
/// second.
fn run_client(bin: &str, url: &str, n: u64, extra: &[&str], scrape: bool) -> (f64, u64, f64) {
    let metrics = scrape.then(|| {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        format!("127.0.0.1:{port}")
    });
    let stop = Arc::new(AtomicBool::new(false));
    let t = Instant::now();
    let child = Command::new(bin)
        .args([
            "stream",
            "--url",
            url,
            "--count",
            "--max-records",
            &n.to_string(),
            "--stats-interval",
            "0",
        ])
        .args(extra)
        .args(
            metrics
                .iter()
                .flat_map(|m| ["--metrics-listen".to_owned(), m.clone()]),
        )
        .env("GNIP_USERNAME", "demo")
        .env("GNIP_PASSWORD", "demo")
        .env("X_BEARER_TOKEN", DEMO_BEARER_TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let poll = common::peak_rss(pid);
    let cpu = common::cpu_seconds(pid);
    let scraper = metrics.map(|m| scrape_every_second(m, Arc::clone(&stop)));
    let out = child.wait_with_output().unwrap();
    let secs = t.elapsed().as_secs_f64();
    stop.store(true, Ordering::SeqCst);
    if let Some(s) = scraper {
        println!("(m) {} scrapes answered", s.join().unwrap());
    }
    let rss_kib = poll.join().unwrap();
    let cpu = cpu.join().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("records={n}")
    );
    (secs, rss_kib, cpu)
}

/// Runs `gnip-stream stream --archive DIR --max-records n` (plus `extra`) to the end: wall
/// time, peak RSS (KiB), CPU seconds, and the bytes of the sealed files.
fn run_archive(
    bin: &str,
    url: &str,
    n: u64,
    base: &std::path::Path,
    extra: &[&str],
) -> (f64, u64, f64, u64) {
    let dir = base.join(format!("gnip-e2e-archive-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let t = Instant::now();
    let child = Command::new(bin)
        .args(["stream", "--url", url, "--max-records", &n.to_string()])
        .arg("--archive")
        .arg(&dir)
        // The block repeats its 2,000 ids: a window of 1,000 keys makes each record new (as (d)).
        .args([
            "--stats-interval",
            "0",
            "--inflater",
            "miniz_oxide",
            "--dedupe-window",
            "1000",
        ])
        .args(extra)
        .env("GNIP_USERNAME", "demo")
        .env("GNIP_PASSWORD", "demo")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (rss, cpu) = (
        common::peak_rss(child.id()),
        common::cpu_seconds(child.id()),
    );
    let out = child.wait_with_output().unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert!(out.status.success());
    let bytes = std::fs::read_dir(&dir)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    let _ = std::fs::remove_dir_all(&dir);
    (secs, rss.join().unwrap(), cpu.join().unwrap(), bytes)
}

/// Writes `bytes` of one repeated 64 KiB piece to a file in `base`, fsynced once a second and
/// at the end, as the archive writes; seconds taken.
fn write_alone(base: &std::path::Path, bytes: u64) -> f64 {
    let path = base.join(format!("gnip-e2e-write-{}", std::process::id()));
    let piece = vec![b'x'; 64 * 1024];
    let t = Instant::now();
    let mut f = std::fs::File::create(&path).unwrap();
    let (mut done, mut synced) = (0u64, Instant::now());
    while done < bytes {
        f.write_all(&piece).unwrap();
        done += piece.len() as u64;
        if synced.elapsed() >= Duration::from_secs(1) {
            f.sync_all().unwrap();
            synced = Instant::now();
        }
    }
    f.sync_all().unwrap();
    let secs = t.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&path);
    secs
}

fn main() {
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return;
    }
    let bin = std::env::var("GNIP_STREAM_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_gnip-stream").to_owned());
    let blocks: u64 = std::env::var("GNIP_E2E_BLOCKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let sim = Simulator::start(SimulatorConfig::default().rate(Rate::Unlimited)).unwrap();
    let url = sim.stream_url(Product::PowerTrack, "acme", "prod");
    let per_block: u64 = (0..BLOCK_RECORDS)
        .map(|g| sim.record(g).len() as u64 + 2)
        .sum();
    println!(
        "records: {}; one block = {BLOCK_RECORDS} records, {:.2} MB inflated",
        sim.source().description(),
        per_block as f64 / 1e6
    );
    println!(
        "binary: {bin} ({:.2} MB)",
        std::fs::metadata(&bin)
            .map(|m| m.len() as f64 / 1e6)
            .unwrap_or(0.0)
    );

    // (b) bare inflate of the same bytes (median of RUNS).
    let body = raw_body(
        &sim,
        "/stream/powertrack/accounts/acme/publishers/twitter/prod.json",
        "Basic ZGVtbzpkZW1v",
        64 << 20,
    );
    let (inflated, took) = timed(bare::miniz, &body);
    let ratio = inflated as f64 / (body.len() - 10) as f64;
    let b = inflated as f64 / 1e6 / took.as_secs_f64();
    #[cfg(feature = "zlib-rs")]
    let bz = {
        let (made, took) = timed(bare::zlib_rs, &body);
        made as f64 / 1e6 / took.as_secs_f64()
    };

    // (a) the command, --count, one partition; (d) the same with de-duplication on. The
    // simulator's block repeats its 2,000 ids, so (d) remembers 1,000: every record is then new
    // when it comes, inserted into a full window that forgets one id per record, the steady
    // state of a long run (the cost of a duplicate, a lookup, is less).
    let n = blocks * BLOCK_RECORDS;
    // Every run names its inflater, so a build with zlib-rs (whose default it is) is measured
    // with miniz_oxide in (a) and with zlib-rs in (z).
    let miniz = ["--inflater", "miniz_oxide"];
    let dedupe = [
        "--backfill-minutes",
        "1",
        "--dedupe-window",
        "1000",
        "--inflater",
        "miniz_oxide",
    ];
    // RUNS of each, interleaved, and the median of each, in wall and CPU time.
    let (mut runs_a, mut runs_d, mut rss_kib, mut rss_d) = (Vec::new(), Vec::new(), 0, 0);
    let (mut cpu_a, mut cpu_d) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let (t, r, cpu) = run_client(&bin, &url, n, &miniz, false);
        runs_a.push(t);
        cpu_a.push(cpu);
        rss_kib = rss_kib.max(r);
        let (t, r, cpu) = run_client(&bin, &url, n, &dedupe, false);
        runs_d.push(t);
        cpu_d.push(cpu);
        rss_d = rss_d.max(r);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (secs, secs_d) = (median(runs_a), median(runs_d));
    let (cpu_a, cpu_d) = (median(cpu_a), median(cpu_d));
    let a = (blocks * per_block) as f64 / 1e6 / secs;
    // (r) into the archive, plain; (g) gzip (level 6).
    // (A build without the `archive` feature, e.g. the edge build, skips them.)
    let has_archive = Command::new(&bin)
        .args(["stream", "--help"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("--archive"));
    let tmp = std::env::temp_dir();
    let archive = has_archive.then(|| {
        (
            run_archive(&bin, &url, n, &tmp, &[]),
            run_archive(&bin, &url, n, &tmp, &["--archive-gzip"]),
        )
    });
    // (s) (r) into tmpfs, when there is one: the archive's own cost without the disk's; (w) the
    // disk alone: the bytes (r) wrote, written by this process from memory in 64 KiB pieces
    // and fsynced once a second, into the same directory.
    let shm = std::path::Path::new("/dev/shm");
    let on_tmpfs = (has_archive && shm.is_dir()).then(|| run_archive(&bin, &url, n, shm, &[]));
    let disk_alone = archive.map(|((_, _, _, bytes), _)| write_alone(&tmp, bytes));
    let mb_in = (blocks * per_block) as f64 / 1e6;
    // (m) (a) again, serving /metrics and scraped every second.
    let (secs_m, rss_m, _) = run_client(&bin, &url, n, &miniz, true);
    let m = (blocks * per_block) as f64 / 1e6 / secs_m;
    // (z) (a) with zlib-rs, when this build has it (median of RUNS).
    let z = cfg!(feature = "zlib-rs").then(|| {
        let (mut runs, mut rss_z) = (Vec::new(), 0);
        for _ in 0..RUNS {
            let (t, r, _) = run_client(&bin, &url, n, &["--inflater", "zlib-rs"], false);
            runs.push(t);
            rss_z = rss_z.max(r);
        }
        ((blocks * per_block) as f64 / 1e6 / median(runs), rss_z)
    });
    // (e) another build (the edge profile), interleaved with the first: RUNS each, the median
    // of each, so the ratio compares like with like on a noisy machine.
    let edge = std::env::var("GNIP_STREAM_EDGE_BIN").ok().map(|edge_bin| {
        let (mut ours, mut theirs, mut rss) = (Vec::new(), Vec::new(), 0);
        let (mut cpu_ours, mut cpu_theirs) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            let (t, _, cpu) = run_client(&bin, &url, n, &miniz, false);
            ours.push(t);
            cpu_ours.push(cpu);
            // Its own default inflater (zlib-rs in a build with that feature).
            let (t, r, cpu) = run_client(&edge_bin, &url, n, &[], false);
            theirs.push(t);
            cpu_theirs.push(cpu);
            rss = rss.max(r);
        }
        let mb = (blocks * per_block) as f64 / 1e6;
        let cpu = (median(cpu_ours), median(cpu_theirs));
        (edge_bin, mb / median(ours), mb / median(theirs), rss, cpu)
    });
    let d = (blocks * per_block) as f64 / 1e6 / secs_d;

    // (c) curl, for as long as (a) took (at least 3 s).
    let c = curl(&url, &["-u", "demo:demo", "--compressed"], secs, ratio);
    // (v) X API v2, gzip and identity bodies.
    let v2: Vec<_> = [true, false]
        .into_iter()
        .map(|gzip| (gzip, v2_case(&bin, n, gzip)))
        .collect();

    println!(
        "\n(a) gnip-stream stream --count (median of {RUNS})  {a:8.1} MB/s inflated, {:.0} records/s, peak RSS {:.2} MiB, {n} records in {secs:.2} s",
        n as f64 / secs,
        rss_kib as f64 / 1024.0
    );
    println!(
        "(d) the same, de-duplication on (median of {RUNS}, interleaved with (a))  {d:8.1} MB/s inflated, {:.0} records/s, peak RSS {:.2} MiB",
        n as f64 / secs_d,
        rss_d as f64 / 1024.0
    );
    if let Some(((secs_r, rss_r, cpu_r, bytes_r), (secs_g, rss_g, cpu_g, bytes_g))) = archive {
        println!(
            "(r) --archive DIR (plain)           {:8.1} MB/s inflated, peak RSS {:.2} MiB, {:.2} CPU-s per GB, {:.0} MB written",
            mb_in / secs_r,
            rss_r as f64 / 1024.0,
            cpu_r / (mb_in / 1000.0),
            bytes_r as f64 / 1e6
        );
        println!(
            "(g) --archive DIR --archive-gzip    {:8.1} MB/s inflated, peak RSS {:.2} MiB, {:.2} CPU-s per GB, {:.0} MB written (ratio {:.2})",
            mb_in / secs_g,
            rss_g as f64 / 1024.0,
            cpu_g / (mb_in / 1000.0),
            bytes_g as f64 / 1e6,
            mb_in * 1e6 / bytes_g.max(1) as f64
        );
    }
    println!(
        "(m) the same as (a), /metrics scraped every second {m:8.1} MB/s inflated, peak RSS {:.2} MiB",
        rss_m as f64 / 1024.0
    );
    if let Some((zr, rss_z)) = z {
        println!(
            "(z) the same as (a), zlib-rs inflater (median of {RUNS}) {zr:8.1} MB/s inflated, peak RSS {:.2} MiB",
            rss_z as f64 / 1024.0
        );
    }
    if let Some((edge_bin, a3, e3, rss_e, _)) = &edge {
        println!(
            "(e) {edge_bin} (median of {RUNS}, interleaved with (a) again: {a3:.1} MB/s)  {e3:8.1} MB/s inflated, peak RSS {:.2} MiB, {:.2} MB",
            *rss_e as f64 / 1024.0,
            std::fs::metadata(edge_bin)
                .map(|m| m.len() as f64 / 1e6)
                .unwrap_or(0.0)
        );
    }
    println!(
        "(b) bare miniz_oxide inflate (median of {RUNS})  {b:8.1} MB/s inflated ({:.0} MB, gzip ratio {ratio:.2})",
        inflated as f64 / 1e6
    );
    match c {
        Some(c) => println!("(c) curl --compressed -o /dev/null  {c:8.1} MB/s inflated"),
        None => println!("(c) curl: not installed here, skipped"),
    }
    for (gzip, (v, vz, vc, vn)) in &v2 {
        let body = if *gzip { "gzip" } else { "identity" };
        println!(
            "(v) X API v2 {V2_PATH}, {body} body: stream --count {v:8.1} MB/s inflated{} ({vn} records); curl {}",
            vz.map_or(String::new(), |z| format!(
                " (miniz_oxide), {z:.1} MB/s (zlib-rs)"
            )),
            vc.map_or("not installed".to_owned(), |c| format!("{c:.1} MB/s"))
        );
    }
    #[cfg(feature = "zlib-rs")]
    println!("(bz) bare zlib-rs inflate (median of {RUNS})  {bz:8.1} MB/s inflated");
    println!("\na/b = {:.3} (target >= 0.9)", a / b);
    println!(
        "d/a = {:.3} (de-duplication's cost; target >= 0.97); in CPU time {:.3} ({cpu_a:.2} s against {cpu_d:.2} s, medians)",
        d / a,
        cpu_a / cpu_d
    );
    if let Some(c) = c {
        println!(
            "a/c = {:.3}; b/c = {:.3}, the most any client over miniz_oxide could reach",
            a / c,
            b / c
        );
    }
    #[cfg(feature = "zlib-rs")]
    if let Some((zr, _)) = z {
        println!("z/bz = {:.3} (target >= 0.9)", zr / bz);
        if let Some(c) = c {
            println!(
                "z/c = {:.3}; bz/c = {:.3}, the most any client over zlib-rs could reach",
                zr / c,
                bz / c
            );
        }
    }
    if let Some((secs_s, rss_s, cpu_s, _)) = on_tmpfs {
        println!(
            "(s) --archive /dev/shm/… (tmpfs)    {:8.1} MB/s inflated, peak RSS {:.2} MiB, {:.2} CPU-s per GB",
            mb_in / secs_s,
            rss_s as f64 / 1024.0,
            cpu_s / (mb_in / 1000.0)
        );
    }
    if let (Some(w), Some(((_, _, _, bytes_r), _))) = (disk_alone, archive) {
        println!(
            "(w) the disk alone: {:.0} MB in 64 KiB writes, fsync each second {:8.1} MB/s written",
            bytes_r as f64 / 1e6,
            bytes_r as f64 / 1e6 / w
        );
    }
    if let Some((secs_s, ..)) = on_tmpfs {
        println!(
            "s/a = {:.3} (the archive's cost on tmpfs: no disk; target >= 0.9)",
            (mb_in / secs_s) / a
        );
    }
    if let Some(((secs_r, rss_r, ..), _)) = archive {
        println!(
            "r/a = {:.3} (the archive's cost; target >= 0.9; r/d = {:.3}, the archive de-duplicates); RSS r-a = {:+.2} MiB (target <= 1)",
            (mb_in / secs_r) / a,
            (mb_in / secs_r) / d,
            (rss_r as f64 - rss_kib as f64) / 1024.0
        );
    }
    println!(
        "m/a = {:.3} (the metrics endpoint's cost, scraped every second)",
        m / a
    );
    if let Some((zr, _)) = z {
        println!("z/a = {:.3} (zlib-rs over miniz_oxide, end to end)", zr / a);
    }
    for (gzip, (v, vz, vc, _)) in &v2 {
        if let Some(vc) = vc {
            let body = if *gzip { "gzip" } else { "identity" };
            println!("v/c = {:.3} (X API v2, {body} body, against curl)", v / vc);
            if let Some(vz) = vz {
                println!("vz/c = {:.3} (the same with --inflater zlib-rs)", vz / vc);
            }
        }
    }
    if let Some((_, a3, e3, _, (cpu_a3, cpu_e3))) = edge {
        println!(
            "e/a = {:.3} (the other build against this one; edge target >= 0.95); in CPU time {:.3} ({cpu_a3:.2} s against {cpu_e3:.2} s, medians)",
            e3 / a3,
            cpu_a3 / cpu_e3
        );
    }
    sim.shutdown();
}

/// curl on `url` for `secs` (at least 3 s): MB/s of inflated data (`ratio` inflated bytes per
/// byte downloaded); `None` without curl.
fn curl(url: &str, args: &[&str], secs: f64, ratio: f64) -> Option<f64> {
    let o = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "--max-time",
            &format!("{:.1}", secs.max(3.0)),
        ])
        .args(args)
        .args(["-w", "%{size_download} %{time_total}", url])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut it = text
        .split_whitespace()
        .map(|v| v.parse::<f64>().unwrap_or(0.0));
    let (bytes, time) = (it.next().unwrap_or(0.0), it.next().unwrap_or(1.0));
    Some(bytes * ratio / 1e6 / time)
}

/// (v) `stream --count --max-records n` on the X API v2 sample stream of a simulator serving
/// gzip (or identity) bodies, then curl on the same stream for as long: (MB/s inflated with
/// miniz_oxide, with zlib-rs (a gzip body in a build with it), curl's MB/s, records). v2
/// records are small (about 360 bytes), each sync-flushed: the inflater's per-block table
/// building weighs more than on the Gnip stream's 3.6 KB records.
fn v2_case(bin: &str, n: u64, gzip: bool) -> (f64, Option<f64>, Option<f64>, u64) {
    let sim = Simulator::start(
        SimulatorConfig::default()
            .rate(Rate::Unlimited)
            .v2_gzip(gzip),
    )
    .unwrap();
    let url = format!("{}{V2_PATH}", sim.base_url());
    let product = Product::V2(V2Product::Sample);
    let mb = (0..n)
        .map(|g| sim.record_of(product, g).len() as u64 + 2)
        .sum::<u64>() as f64
        / 1e6;
    let (secs, _, _) = run_client(bin, &url, n, &["--inflater", "miniz_oxide"], false);
    let zlib_rs = (gzip && cfg!(feature = "zlib-rs"))
        .then(|| mb / run_client(bin, &url, n, &["--inflater", "zlib-rs"], false).0);
    let auth = format!("Authorization: Bearer {DEMO_BEARER_TOKEN}");
    let c = if gzip {
        let body = raw_body(
            &sim,
            V2_PATH,
            &format!("Bearer {DEMO_BEARER_TOKEN}"),
            16 << 20,
        );
        let inflated = bare::miniz(&body, 16 * 1024);
        let ratio = inflated as f64 / (body.len() - 10) as f64;
        curl(&url, &["-H", &auth, "--compressed"], secs, ratio)
    } else {
        curl(&url, &["-H", &auth], secs, 1.0)
    };
    sim.shutdown();
    (mb / secs, zlib_rs, c, n)
}

//! `stream --archive DIR` as operators run it, one test binary: file names, windows and
//! rotation, gzip, clean stops (`files.rs`); crashes, restarts and the gaps they close, exactly
//! once across them (`restart.rs`); `--on-close` (`hooks.rs`); write errors through the
//! library's storage seam (`library.rs`); the usage errors (`usage.rs`); and the same on the X
//! API v2 dialect (`v2.rs`).

#[path = "../common/mod.rs"]
mod common;

mod files;
mod hooks;
mod library;
mod restart;
mod usage;
mod v2;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::cli::{cmd, exit_within, named, signal};
use gnip_stream::core::GzipDecoder;
use gnip_stream::simulator::{Rate, RecordSource, Simulator, SimulatorConfig, record_index};

/// A simulator publishing `rate` generated records a second, its clock `back` behind.
pub fn sim(rate: f64, back: Duration) -> Simulator {
    Simulator::start(
        SimulatorConfig::default()
            .source(RecordSource::generated(7, 500))
            .rate(Rate::PerSecond(rate))
            .heartbeat(Duration::from_millis(500))
            .clock_back(back),
    )
    .unwrap()
}

/// `gnip-stream stream --product P … --archive DIR` and `extra`.
pub fn archive_cmd(sim: &Simulator, product: &str, dir: &Path, extra: &[&str]) -> Command {
    let mut c = cmd("demo", "demo");
    c.arg("stream")
        .args(named(product, &sim.base_url()))
        .arg("--archive")
        .arg(dir)
        .args(extra);
    c
}

/// Starts `c` with stdout and stderr into files beside `dir` (read with [`logs`]).
pub fn spawn(mut c: Command, dir: &Path) -> Child {
    let out = std::fs::File::create(log_path(dir, "out")).unwrap();
    let err = std::fs::File::create(log_path(dir, "err")).unwrap();
    c.stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .unwrap()
}

fn log_path(dir: &Path, which: &str) -> PathBuf {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    dir.with_file_name(format!("{name}.{which}"))
}

/// What the last [`spawn`] for `dir` wrote: (stdout, stderr).
pub fn logs(dir: &Path) -> (String, String) {
    let read = |w| std::fs::read_to_string(log_path(dir, w)).unwrap_or_default();
    (read("out"), read("err"))
}

/// SIGTERM, then the exit status (within 10 s).
pub fn stop(child: &mut Child) -> i32 {
    signal(child, "-TERM");
    exit_within(child, Instant::now(), Duration::from_secs(10))
        .code()
        .unwrap_or(-1)
}

/// SIGKILL (a crash), reaped.
pub fn crash(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits (at most `limit`) until `done` holds; false if it never did.
pub fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    done()
}

/// The names in `dir` (not its state directory), sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != ".gnip-stream")
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The records of one sealed file (gzip through `gzip -dc` when installed, else our decoder).
pub fn records_of(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    let plain = if path.to_string_lossy().ends_with(".gz") {
        gunzip(path, &bytes)
    } else {
        bytes
    };
    assert!(
        plain.is_empty() || plain.ends_with(b"\n"),
        "{} ends mid-record",
        path.display()
    );
    plain
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn gunzip(path: &Path, bytes: &[u8]) -> Vec<u8> {
    if let Ok(out) = Command::new("gzip").arg("-dc").arg(path).output() {
        assert!(
            out.status.success(),
            "gzip -dc {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        return out.stdout;
    }
    let mut d = GzipDecoder::new();
    let mut plain = Vec::new();
    d.decode(bytes, |b| plain.extend_from_slice(b)).unwrap();
    d.finish().unwrap();
    plain
}

/// Every sealed file's records, by file name.
pub fn archive(dir: &Path) -> BTreeMap<String, Vec<Vec<u8>>> {
    names(dir)
        .into_iter()
        .filter(|n| !n.starts_with('.'))
        .map(|n| {
            let r = records_of(&dir.join(&n));
            (n, r)
        })
        .collect()
}

/// Checks that every archived record is the simulator's own, byte for byte, and that no
/// record is there twice; returns the global indexes, sorted.
pub fn indexes_once(sim: &Simulator, files: &BTreeMap<String, Vec<Vec<u8>>>) -> Vec<u64> {
    let mut seen = std::collections::BTreeSet::new();
    for (name, records) in files {
        for r in records {
            let g = record_index(r).unwrap_or_else(|| panic!("{name}: not a simulator record"));
            let _ = sim;
            assert!(seen.insert(g), "{name}: record {g} archived twice");
        }
    }
    seen.into_iter().collect()
}

/// Whether the indexes of partition `p` (of `parts`) from the first to the last are all there.
pub fn contiguous(indexes: &[u64], p: u64, parts: u64) -> Result<(), String> {
    let mine: Vec<u64> = indexes
        .iter()
        .copied()
        .filter(|g| g % parts == p - 1)
        .collect();
    let (Some(first), Some(last)) = (mine.first(), mine.last()) else {
        return Err(format!("partition {p}: nothing archived"));
    };
    let expected = (last - first) / parts + 1;
    if mine.len() as u64 != expected {
        let missing: Vec<u64> = (*first..=*last)
            .step_by(parts as usize)
            .filter(|g| mine.binary_search(g).is_err())
            .take(10)
            .collect();
        return Err(format!(
            "partition {p}: {} of {expected} records from {first} to {last}; missing e.g. {missing:?}",
            mine.len()
        ));
    }
    Ok(())
}

/// A fresh directory for one test's archive.
pub fn scratch(test: &str) -> PathBuf {
    let d = gnip_stream::testing::scratch_dir(test);
    let dir = d.join("archive");
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

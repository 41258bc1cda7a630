//! The durable archive: records into time-rotated files per partition under one directory,
//! crash-safe (hidden `.part` files sealed by fsync and rename; leftovers sealed at the next
//! start), with a journal per partition that keeps the checkpoint a restart sizes its gap from
//! and the keys that make the records coming again (backfill, Recovery, redundant connections)
//! land once; `--on-close` hands sealed files to a command.
//!
//! | file | job |
//! |---|---|
//! | `config.rs` | [`ArchiveConfig`], its defaults, and the [`Storage`] seam |
//! | `names.rs` | file names and windows, pure |
//! | `file.rs` | one `.part`: append, write out, make durable, seal |
//! | `writer.rs` | a file's writer thread: pieces, retries after a write error, fsync |
//! | `journal.rs` | a partition's journal: checkpoint and recent keys |
//! | `leftover.rs` | sealing what a crash left |
//! | `hooks.rs` | the `--on-close` runner |
//! | `gaps.rs` | Recovery ranges pending across restarts |

mod config;
mod file;
mod gaps;
mod hooks;
mod journal;
mod leftover;
mod names;
mod partition;
mod writer;

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use crate::metrics::ArchiveStats;
pub use config::{
    ArchiveConfig, DEFAULT_GZIP_LEVEL, DEFAULT_ROTATE_EVERY, DEFAULT_ROTATE_SIZE, DURABLE_EVERY,
    MIN_ROTATE_SIZE, STATE_DIR, Storage, WRITE_RETRY,
};
use config::{KEYS_BEFORE_CHECKPOINT_SECS, TICK};
pub use file::Disk;
pub use names::{compact_utc, part_name, sealed_name, window_start};

use crate::Error;
use crate::client::{Delivery, Flow, Handler};
use crate::core::RecordKind;
use crate::protocol::dedupe::DedupeWindow;
use hooks::Hooks;
use journal::Journal;
use partition::{Failed, Partition};

/// The archive's counters (also exported as metrics).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    records: AtomicU64,
    duplicates: AtomicU64,
    files_sealed: AtomicU64,
    bytes: AtomicU64,
    write_errors: AtomicU64,
    hook_failures: AtomicU64,
    hooks_pending: AtomicU64,
    leftovers_sealed: AtomicU64,
    gaps_recovered: AtomicU64,
    gaps_unrecoverable: AtomicU64,
}

impl Counters {
    fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add_hook_failure(&self) {
        Counters::add(&self.hook_failures, 1);
    }

    pub(crate) fn add_write_error(&self) {
        Counters::add(&self.write_errors, 1);
    }

    pub(crate) fn set_hooks_pending(&self, n: u64) {
        self.hooks_pending.store(n, Ordering::Relaxed);
    }
}

/// The archive: a [`Handler`] that writes records into files; [`Archive::close`] seals them.
///
/// ```no_run
/// use std::sync::Arc;
/// use gnip_stream::client::{Client, ClientConfig, Delivery};
/// use gnip_stream::sink::archive::{Archive, ArchiveConfig};
/// use gnip_stream::Product;
///
/// let config = ClientConfig::stream(Product::Decahose, "acme", "prod").credentials("u", "p");
/// let archive = Archive::open(ArchiveConfig::new("/var/lib/gnip", "decahose"), &config.partition_list())?;
/// let a = Arc::clone(&archive);
/// let running = Client::start(config, move |d: &Delivery<'_>| a.deliver(d))?;
/// running.join();
/// archive.close();
/// # Ok::<(), gnip_stream::Error>(())
/// ```
pub struct Archive {
    config: ArchiveConfig,
    state_dir: PathBuf,
    parts: Vec<Mutex<Partition>>,
    /// The partition of each of `parts`, in the same order.
    numbers: Vec<u32>,
    counters: Arc<Counters>,
    closing: Arc<AtomicBool>,
    hooks: Option<Hooks>,
    ticker: Mutex<Option<JoinHandle<()>>>,
    /// Files sealed at the start from an earlier run's leftovers, and `.part`s removed.
    leftovers: (Vec<PathBuf>, Vec<PathBuf>),
}

impl std::fmt::Debug for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archive")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn storage_error(path: &Path, e: &io::Error) -> Error {
    Error::BadInput {
        reason: format!("archive: {}: {e}", path.display()).into(),
    }
}

/// A record's own time as the checkpoint counts it: `None` (count the arrival) when it is
/// more than [`FUTURE_TOLERANCE_SECS`] ahead of `arrival` — a skewed clock must not make the
/// checkpoint claim a future the stream has not reached. (Old times are normal: backfill and
/// Recovery send them.)
pub(crate) fn trusted_time(own: Option<i64>, arrival: i64) -> Option<i64> {
    own.filter(|t| *t <= arrival + FUTURE_TOLERANCE_SECS)
}

/// How far ahead of its arrival a record's own time may be and still count.
pub const FUTURE_TOLERANCE_SECS: i64 = 300;

impl Archive {
    /// Opens the archive for `partitions` (0: a stream without partitions): creates the
    /// directory, seals what an earlier run left (`.part` files), reads each partition's
    /// journal (checkpoint and recent keys), starts the ticker that seals ended windows and
    /// makes records durable once a second, and the `--on-close` runner.
    ///
    /// Errors: the directory is a file, cannot be created, or cannot be written.
    pub fn open(config: ArchiveConfig, partitions: &[u32]) -> Result<Arc<Archive>, Error> {
        let dir = &config.dir;
        if dir.exists() && !dir.is_dir() {
            return Err(Error::BadInput {
                reason: format!("archive: {} is not a directory", dir.display()).into(),
            });
        }
        let state_dir = dir.join(STATE_DIR);
        fs::create_dir_all(&state_dir).map_err(|e| storage_error(dir, &e))?;
        let probe = state_dir.join(".probe");
        File::create(&probe)
            .and_then(|_| fs::remove_file(&probe))
            .map_err(|e| storage_error(dir, &e))?;
        let counters = Arc::new(Counters::default());
        let hooks = match &config.on_close {
            Some(c) => Some(
                Hooks::start(c, state_dir.join("on-close"), Arc::clone(&counters))
                    .map_err(|e| storage_error(&state_dir, &e))?,
            ),
            None => None,
        };
        let now = crate::clock::now_secs();
        let mut parts = Vec::new();
        for &number in partitions {
            let stem = names::stem(&config.prefix, number);
            let (journal, loaded) =
                Journal::open(&state_dir, &stem, now).map_err(|e| storage_error(dir, &e))?;
            parts.push(Partition {
                number,
                last_name: read_last_name(&state_dir, &stem),
                stem,
                file: None,
                journal,
                checkpoint: loaded.checkpoint(),
                dedupe: DedupeWindow::new(config.dedupe_window),
                durable_at: Instant::now(),
                failing: false,
            });
            // Keys that may come again: near the checkpoint, and in a Recovery still pending.
            let Some(p) = parts.last_mut() else {
                continue;
            };
            let floor = p
                .checkpoint
                .map_or(i64::MIN, |c| c - KEYS_BEFORE_CHECKPOINT_SECS);
            let pending = gaps::read(&state_dir, &p.stem);
            for (t, k) in loaded.entries {
                if t >= floor || pending.iter().any(|(f, to)| (f - 60..=*to).contains(&t)) {
                    p.dedupe.insert(k);
                }
            }
        }
        let mut archive = Archive {
            state_dir,
            parts: Vec::new(),
            numbers: partitions.to_vec(),
            counters,
            closing: Arc::new(AtomicBool::new(false)),
            hooks,
            ticker: Mutex::new(None),
            leftovers: (Vec::new(), Vec::new()),
            config,
        };
        archive.seal_leftovers(&mut parts)?;
        archive.parts = parts.into_iter().map(Mutex::new).collect();
        let archive = Arc::new(archive);
        let weak = Arc::downgrade(&archive);
        let ticker = std::thread::Builder::new()
            .name("gnip-archive".into())
            .spawn(move || tick_loop(&weak))
            .map_err(|e| storage_error(&archive.config.dir, &e))?;
        *lock(&archive.ticker) = Some(ticker);
        Ok(archive)
    }

    /// The checkpoint of `partition`: the latest record time it archived (from its journal, and the
    /// leftovers sealed at the start), or `None` when it has archived nothing.
    pub fn checkpoint(&self, partition: u32) -> Option<i64> {
        self.slot(partition).and_then(|p| lock(p).checkpoint)
    }

    /// Files an earlier run left as `.part` that the start sealed, and those it removed (they
    /// held no whole record).
    pub fn leftovers(&self) -> (&[PathBuf], &[PathBuf]) {
        (&self.leftovers.0, &self.leftovers.1)
    }

    /// The counters.
    pub fn stats(&self) -> ArchiveStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ArchiveStats {
            records: get(&c.records),
            duplicates: get(&c.duplicates),
            files_sealed: get(&c.files_sealed),
            bytes: get(&c.bytes),
            write_errors: get(&c.write_errors),
            hook_failures: get(&c.hook_failures),
            hooks_pending: get(&c.hooks_pending),
            leftovers_sealed: get(&c.leftovers_sealed),
            gaps_recovered: get(&c.gaps_recovered),
            gaps_unrecoverable: get(&c.gaps_unrecoverable),
        }
    }

    fn slot(&self, partition: u32) -> Option<&Mutex<Partition>> {
        let i = self.numbers.iter().position(|n| *n == partition)?;
        self.parts.get(i)
    }

    /// Writes activities and compliance events (once each); everything else goes on.
    /// [`Flow::Stop`] once the record limit is reached or the archive is closing.
    pub fn deliver(&self, d: &Delivery<'_>) -> Flow {
        let record = d.record();
        if !matches!(
            record.kind(),
            RecordKind::Activity | RecordKind::Compliance(_)
        ) {
            return Flow::Continue;
        }
        if self.closing.load(Ordering::SeqCst) {
            return Flow::Stop;
        }
        let Some(slot) = self.slot(d.partition()) else {
            log::error!(
                "archive: partition {} was not opened; stopping it",
                d.partition()
            );
            return Flow::Stop;
        };
        let (k, time) = match self.config.dialect.record_key_and_time(record) {
            Some((key, time)) => (Some(key.as_u64()), trusted_time(time, now_secs())),
            None => (None, None),
        };
        let mut p = lock(slot);
        if k.is_some_and(|k| p.dedupe.contains(k)) {
            Counters::add(&self.counters.duplicates, 1);
            return Flow::Continue;
        }
        let n = self.counters.records.fetch_add(1, Ordering::SeqCst) + 1;
        if self.config.max_records.is_some_and(|m| n > m) {
            self.counters.records.fetch_sub(1, Ordering::SeqCst);
            return Flow::Stop;
        }
        let bytes = record.bytes();
        let len = bytes.len() as u64;
        p = match self.retrying(slot, p, |p, a| p.ready_for(len, now_secs(), a)) {
            Some(p) => p,
            None => {
                self.counters.records.fetch_sub(1, Ordering::SeqCst);
                return Flow::Stop;
            }
        };
        if let Some(f) = &mut p.file {
            f.accept(bytes);
        }
        if let Some(k) = k {
            p.dedupe.insert(k);
        }
        let number = p.number;
        p.journal
            .note(time.unwrap_or_else(now_secs), k.unwrap_or(0));
        Counters::add(&self.counters.bytes, len + 1);
        // Accepted: a write-out that fails is tried again (never accepted twice).
        let flushed = self.retrying(slot, p, |p, _| p.write_out_if_full());
        if flushed.is_none() {
            log::warn!("archive: partition {number} stopped with records not yet written");
            return Flow::Stop;
        }
        if self.config.max_records == Some(n) {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }

    /// Runs `op` until it succeeds: after a failure the error is logged (with the file) and
    /// counted, the lock is let go, and after [`WRITE_RETRY`] it runs again. `None` when the
    /// archive closes meanwhile.
    fn retrying<'a>(
        &'a self,
        slot: &'a Mutex<Partition>,
        mut p: MutexGuard<'a, Partition>,
        op: impl Fn(&mut Partition, &Archive) -> Result<(), Failed>,
    ) -> Option<MutexGuard<'a, Partition>> {
        let mut failed_since: Option<Instant> = None;
        loop {
            match op(&mut p, self) {
                Ok(()) => {
                    if let Some(t) = failed_since {
                        log::warn!(
                            "archive: partition {} writes again after {:.0} s",
                            p.number,
                            t.elapsed().as_secs_f64()
                        );
                        p.failing = false;
                    }
                    return Some(p);
                }
                Err(Failed { path, error }) => {
                    Counters::add(&self.counters.write_errors, 1);
                    log::error!(
                        "archive: cannot write {}: {error}; partition {} stops reading and tries again every {} s",
                        path.display(),
                        p.number,
                        WRITE_RETRY.as_secs()
                    );
                    failed_since.get_or_insert_with(Instant::now);
                    p.failing = true;
                    drop(p);
                    if !self.sleep_unless_closing(WRITE_RETRY) {
                        return None;
                    }
                    p = lock(slot);
                }
            }
        }
    }

    /// What a file's writer thread shares with the archive.
    fn writer_shared(&self) -> writer::Shared {
        writer::Shared {
            storage: Arc::clone(&self.config.storage),
            counters: Arc::clone(&self.counters),
            closing: Arc::clone(&self.closing),
        }
    }

    /// Sleeps `d` unless the archive closes first (then `false`).
    fn sleep_unless_closing(&self, d: Duration) -> bool {
        writer::sleep_unless(&self.closing, d)
    }

    /// Seals every open file and makes every journal durable; stops the ticker and the
    /// `--on-close` runner (what it has not handed over, it hands over after the next start).
    /// Returns the errors of files that could not be sealed (they stay `.part` and are sealed
    /// at the next start).
    pub fn close(&self) -> Vec<Error> {
        self.closing.store(true, Ordering::SeqCst);
        let ticker = lock(&self.ticker).take();
        if let Some(t) = ticker {
            // It sleeps parked: wake it rather than wait out its tick.
            t.thread().unpark();
            let _ = t.join();
        }
        let mut errors = Vec::new();
        for slot in &self.parts {
            let mut p = lock(slot);
            if let Err(Failed { path, error }) = p.seal(self) {
                Counters::add(&self.counters.write_errors, 1);
                log::error!(
                    "archive: cannot seal {}: {error}; it is sealed at the next start",
                    path.display()
                );
                errors.push(storage_error(&path, &error));
            }
        }
        if let Some(h) = &self.hooks {
            h.stop();
        }
        errors
    }

    /// One look at every partition: seal a file whose window ended, make records accepted
    /// more than [`DURABLE_EVERY`] ago durable. The fsync runs without the partition's lock,
    /// so its records go on arriving (the fsync of a second's data can take 100 ms).
    fn tick(&self) {
        for slot in &self.parts {
            let begun = {
                let mut p = lock(slot);
                if p.failing {
                    continue;
                }
                p.tick(now_secs(), self)
            };
            let done = match begun {
                Ok(Some(mut durable)) => {
                    let waited = durable.wait(self);
                    lock(slot).end_durable(durable.journal, waited, self)
                }
                Ok(None) => Ok(()),
                Err(f) => Err(f),
            };
            if let Err(Failed { path, error }) = done {
                Counters::add(&self.counters.write_errors, 1);
                log::error!("archive: cannot write {}: {error}", path.display());
            }
        }
    }
}

impl Handler for Archive {
    fn on_record(&self, d: &Delivery<'_>) -> Flow {
        self.deliver(d)
    }
}

fn now_secs() -> i64 {
    crate::clock::now_secs()
}

/// The ticker thread: every [`TICK`] until the archive closes (which unparks it) or goes
/// away. An early wake-up only makes one look early.
fn tick_loop(archive: &Weak<Archive>) {
    loop {
        std::thread::park_timeout(TICK);
        let Some(a) = archive.upgrade() else {
            return;
        };
        if a.closing.load(Ordering::SeqCst) {
            return;
        }
        a.tick();
    }
}

/// The last name a partition used (`{window} {n}` in `{stem}.name`); `(i64::MIN, 0)` if none.
fn read_last_name(state_dir: &Path, stem: &str) -> (i64, u32) {
    fs::read_to_string(state_dir.join(format!("{stem}.name")))
        .ok()
        .and_then(|s| {
            let (w, n) = s.trim().split_once(' ')?;
            Some((w.parse().ok()?, n.parse().ok()?))
        })
        .unwrap_or((i64::MIN, 0))
}

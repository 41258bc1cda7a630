//! `--on-close`: each sealed file handed to a command (`sh -c COMMAND sh PATH`), one at a time,
//! in seal order, on a thread of its own so the stream never waits for it. A marker file per
//! sealed file, written before the file gets its sealed name, survives a crash: what was not
//! handed over is handed over after the next start. A failure is retried from 5 s, doubling,
//! to 5 minutes. The command's output goes to the log.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::Counters;
use super::file::sync_dir;
use super::names::PART;

/// The first wait after a failure, and the longest.
pub(super) const RETRY_FIRST: Duration = Duration::from_secs(5);
pub(super) const RETRY_MAX: Duration = Duration::from_secs(300);
/// A command still running this long after the stop is killed (it runs again after the next
/// start: hooks must be idempotent).
const STOP_GRACE: Duration = Duration::from_secs(2);

/// The hook runner.
pub(super) struct Hooks {
    markers: PathBuf,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    command: String,
    markers: PathBuf,
    stop: AtomicBool,
    /// Bumped when a marker is ready; the runner waits on it.
    ready: Mutex<u64>,
    wake: Condvar,
    counters: Arc<Counters>,
}

impl Hooks {
    /// Starts the runner for `command`, with markers in `markers` (created if missing).
    pub fn start(command: &str, markers: PathBuf, counters: Arc<Counters>) -> io::Result<Hooks> {
        fs::create_dir_all(&markers)?;
        let shared = Arc::new(Shared {
            command: command.to_owned(),
            markers: markers.clone(),
            stop: AtomicBool::new(false),
            ready: Mutex::new(0),
            wake: Condvar::new(),
            counters,
        });
        let s = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("gnip-archive-hooks".into())
            .spawn(move || run(&s))?;
        Ok(Hooks {
            markers,
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Writes the marker for `sealed` (before it gets that name), durably.
    pub fn prepare(&self, sealed: &Path) -> io::Result<()> {
        let base = sealed.file_name().unwrap_or_default().to_string_lossy();
        if marker_names(&self.markers)?
            .iter()
            .any(|m| m.split_once('-').is_some_and(|(_, b)| b == base))
        {
            return Ok(());
        }
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let marker = self.markers.join(format!("{stamp:024}-{base}"));
        let mut f = File::create(&marker)?;
        f.write_all(sealed.as_os_str().as_encoded_bytes())?;
        f.sync_all()?;
        sync_dir(&self.markers)
    }

    /// Tells the runner a sealed file is ready.
    pub fn notify(&self) {
        let mut n = self.shared.ready.lock().unwrap_or_else(|e| e.into_inner());
        *n += 1;
        self.shared.wake.notify_all();
    }

    /// Stops the runner: no new command starts; one running gets [`STOP_GRACE`], then is killed.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.notify();
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

/// Marker file names, oldest first.
fn marker_names(dir: &Path) -> io::Result<Vec<String>> {
    let mut names: Vec<String> = fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    Ok(names)
}

fn run(s: &Shared) {
    let mut delay = RETRY_FIRST;
    loop {
        if s.stop.load(Ordering::SeqCst) {
            return;
        }
        let names = marker_names(&s.markers).unwrap_or_default();
        s.counters.set_hooks_pending(names.len() as u64);
        let Some(name) = names.first() else {
            wait(s, Duration::from_secs(3600), true);
            continue;
        };
        let marker = s.markers.join(name);
        let path = match fs::read(&marker) {
            Ok(p) => PathBuf::from(String::from_utf8_lossy(&p).into_owned()),
            Err(_) => {
                let _ = fs::remove_file(&marker);
                continue;
            }
        };
        if !path.exists() {
            let part = path.with_file_name(format!(
                ".{}{PART}",
                path.file_name().unwrap_or_default().to_string_lossy()
            ));
            if part.exists() {
                // Not sealed yet (a seal that is being retried): later.
                wait(s, Duration::from_secs(1), true);
            } else {
                // Handed over before a crash (the command moved it), or removed by hand.
                log::info!(
                    "archive: {} is gone; its --on-close is done",
                    path.display()
                );
                let _ = fs::remove_file(&marker);
            }
            continue;
        }
        match run_one(s, &path) {
            Some(true) => {
                let _ = fs::remove_file(&marker);
                delay = RETRY_FIRST;
            }
            Some(false) => {
                s.counters.add_hook_failure();
                log::warn!(
                    "archive: --on-close failed for {}; again in {} s",
                    path.display(),
                    delay.as_secs()
                );
                wait(s, delay, false);
                delay = (delay * 2).min(RETRY_MAX);
            }
            // Stopped while it ran.
            None => return,
        }
    }
}

/// Runs the command for `path`: `Some(success)`, or `None` when stopped while it ran.
fn run_one(s: &Shared, path: &Path) -> Option<bool> {
    let output = s.markers.join(".output");
    let spawned = File::create(&output).and_then(|out| {
        let err = out.try_clone()?;
        Command::new("sh")
            .arg("-c")
            .arg(&s.command)
            .arg("sh")
            .arg(path)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
    });
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            log::warn!("archive: cannot run --on-close: {e}");
            return Some(false);
        }
    };
    let mut stopped_at: Option<Instant> = None;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) => {}
            Err(_) => break None,
        }
        if s.stop.load(Ordering::SeqCst) {
            let at = *stopped_at.get_or_insert_with(Instant::now);
            if at.elapsed() >= STOP_GRACE {
                let _ = child.kill();
                let _ = child.wait();
                log::warn!(
                    "archive: --on-close for {} killed at the stop; it runs again after the next start",
                    path.display()
                );
                return None;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut text = String::new();
    if let Ok(mut f) = File::open(&output) {
        let _ = Read::by_ref(&mut f)
            .take(64 * 1024)
            .read_to_string(&mut text);
    }
    for line in text.lines() {
        log::info!("archive: --on-close {}: {line}", path.display());
    }
    let ok = status.is_some_and(|s| s.success());
    if !ok {
        log::warn!(
            "archive: --on-close exited with {} for {}",
            status.map_or("an unknown status".to_owned(), |s| s.to_string()),
            path.display()
        );
    }
    Some(ok)
}

/// Waits for the stop, `limit`, or (when `on_ready`) a new marker.
fn wait(s: &Shared, limit: Duration, on_ready: bool) {
    let deadline = Instant::now() + limit;
    let mut seen = s.ready.lock().unwrap_or_else(|e| e.into_inner());
    let start = *seen;
    while !(s.stop.load(Ordering::SeqCst) || on_ready && *seen != start) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        seen = s
            .wake
            .wait_timeout(seen, left)
            .map_or_else(|e| e.into_inner().0, |r| r.0);
    }
}

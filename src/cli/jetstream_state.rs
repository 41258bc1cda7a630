//! `stream --jetstream --state FILE`: per partition, the latest record time JetStream
//! acknowledged, kept in FILE (written once a second, atomically) so that a restart sizes each
//! partition's first backfill to its own gap (`RestartPlan`), as the archive does, instead of a
//! fixed `--backfill-on-start`. A gap over 5 minutes gets the most backfill and a warning naming
//! what `gnip-stream recover` would fetch.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use gnip_stream::sink::jetstream::PublishStats;
use gnip_stream::unversioned::protocol::restart::RestartPlan;
use gnip_stream::unversioned::protocol::time;

use super::stderr;

/// `partition time` lines; a line that is not one is skipped.
fn parse(text: &str) -> BTreeMap<u32, i64> {
    text.lines()
        .filter_map(|l| {
            let (p, t) = l.split_once(' ')?;
            Some((p.parse().ok()?, t.trim().parse().ok()?))
        })
        .collect()
}

/// Reads FILE (missing: nothing acknowledged yet). Unreadable: an error for the user.
pub fn read(path: &Path) -> Result<BTreeMap<u32, i64>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(parse(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(format!("--state {}: {e}", path.display())),
    }
}

/// Writes `times` to `path` through a temporary file, fsynced, renamed.
fn write(path: &Path, times: &BTreeMap<u32, i64>) -> std::io::Result<()> {
    let temp = path.with_extension("tmp");
    let text: String = times.iter().map(|(p, t)| format!("{p} {t}\n")).collect();
    std::fs::write(&temp, text)?;
    std::fs::File::open(&temp)?.sync_all()?;
    std::fs::rename(&temp, path)
}

/// The first backfill of each partition with a checkpoint in `times`, at `now`; a gap over
/// 5 minutes is warned about with the Recovery that would fetch the rest.
pub fn plans(times: &BTreeMap<u32, i64>, partitions: &[u32], now: i64) -> Vec<(u32, u8)> {
    let mut starts = Vec::new();
    for &p in partitions {
        let Some(&checkpoint) = times.get(&p) else {
            continue;
        };
        let plan = RestartPlan::new(Some(checkpoint), now, false);
        starts.push((p, plan.backfill_minutes));
        stderr::event("info", "restart_plan")
            .field("partition", p)
            .field("checkpoint", time::iso8601_z(checkpoint))
            .field("backfill_minutes", plan.backfill_minutes)
            .emit(&format!(
                "gnip-stream: partition {p}: latest record acknowledged {} ({} s ago): backfill {} minutes",
                time::iso8601_z(checkpoint),
                now - checkpoint,
                plan.backfill_minutes
            ));
        if let Some((from, to)) = plan.unrecoverable {
            stderr::event("warn", "gap_not_backfilled")
                .field("partition", p)
                .field("from", time::iso8601_z(from))
                .field("to", time::iso8601_z(to))
                .emit(&format!(
                    "gnip-stream: partition {p}: the gap from {} to {} is longer than backfill reaches; Recovery can fetch it: gnip-stream recover … --partition {p} --from {} --to {} | gnip-stream publish --jetstream … --subject …",
                    time::iso8601_z(from),
                    time::iso8601_z(to),
                    time::iso8601_z(from),
                    time::iso8601_z(to)
                ));
        }
    }
    starts
}

/// Writes the acknowledged times to FILE once a second until stopped, and once more at the end.
pub struct StateWriter {
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
    path: PathBuf,
    times: Arc<Mutex<BTreeMap<u32, i64>>>,
    stats: PublishStats,
}

impl StateWriter {
    /// Starts writing `stats`' acknowledged times (over `loaded`, for partitions without an
    /// acknowledgement yet) to `path`.
    pub fn start(path: PathBuf, loaded: BTreeMap<u32, i64>, stats: PublishStats) -> StateWriter {
        let stop = Arc::new(AtomicBool::new(false));
        let times = Arc::new(Mutex::new(loaded));
        let (s, t, st, p) = (
            Arc::clone(&stop),
            Arc::clone(&times),
            stats.clone(),
            path.clone(),
        );
        let thread = std::thread::Builder::new()
            .name("gnip-js-state".into())
            .spawn(move || {
                let mut last = BTreeMap::new();
                while !s.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(200));
                    let now = merged(&t, &st);
                    if now != last {
                        if let Err(e) = write(&p, &now) {
                            stderr::event("error", "state_not_written")
                                .emit(&format!("gnip-stream: --state {}: {e}", p.display()));
                        }
                        last = now;
                    }
                    std::thread::sleep(Duration::from_millis(800));
                }
            })
            .ok();
        StateWriter {
            stop,
            thread: Mutex::new(thread),
            path,
            times,
            stats,
        }
    }

    /// Stops the thread and writes the final times (after the publisher drained).
    pub fn finish(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let t = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = t {
            let _ = t.join();
        }
        let now = merged(&self.times, &self.stats);
        if let Err(e) = write(&self.path, &now) {
            stderr::event("error", "state_not_written").emit(&format!(
                "gnip-stream: --state {}: {e}",
                self.path.display()
            ));
        }
    }
}

/// The loaded times advanced by what was acknowledged since.
fn merged(times: &Mutex<BTreeMap<u32, i64>>, stats: &PublishStats) -> BTreeMap<u32, i64> {
    let mut t = times.lock().unwrap_or_else(|e| e.into_inner());
    for (p, at) in stats.acked_times() {
        let e = t.entry(p).or_insert(at);
        *e = (*e).max(at);
    }
    t.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_file_is_lines_of_partition_and_time() {
        assert_eq!(
            parse("1 1800000000\n2 1800000005\nbad\n3 x\n"),
            BTreeMap::from([(1, 1_800_000_000), (2, 1_800_000_005)])
        );
    }
}

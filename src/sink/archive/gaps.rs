//! The gaps a restart asked Recovery for, kept in `{stem}.recovery` until their Recovery
//! completes: the live stream advances the checkpoint at once, so a Recovery cut short by a
//! crash is known only from here, and the next start runs it again.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use super::file::{sync_dir, write_atomically};
use super::{Archive, Counters, names};

/// The file of `stem`'s pending Recovery ranges.
fn path(state_dir: &Path, stem: &str) -> PathBuf {
    state_dir.join(format!("{stem}.recovery"))
}

/// `stem`'s pending ranges (`from to` lines).
pub(super) fn read(state_dir: &Path, stem: &str) -> Vec<(i64, i64)> {
    fs::read_to_string(path(state_dir, stem))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (f, t) = l.split_once(' ')?;
            Some((f.parse().ok()?, t.parse().ok()?))
        })
        .collect()
}

fn write(state_dir: &Path, stem: &str, ranges: &[(i64, i64)]) -> io::Result<()> {
    let file = path(state_dir, stem);
    if ranges.is_empty() {
        return match fs::remove_file(&file) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => sync_dir(state_dir),
        };
    }
    let text: String = ranges.iter().map(|(f, t)| format!("{f} {t}\n")).collect();
    write_atomically(&file, &text, &super::Disk)
}

/// Whether `inner` lies within `outer`.
fn within(inner: (i64, i64), outer: (i64, i64)) -> bool {
    outer.0 <= inner.0 && inner.1 <= outer.1
}

impl Archive {
    fn stem(&self, partition: u32) -> String {
        names::stem(&self.config.prefix, partition)
    }

    /// Recovery ranges of `partition` that an earlier run started and did not complete.
    pub fn pending_recoveries(&self, partition: u32) -> Vec<(i64, i64)> {
        read(&self.state_dir, &self.stem(partition))
    }

    /// Notes, durably, that a Recovery of `range` on `partition` is to run (it replaces the
    /// pending ranges it covers). Call it before the live stream starts: the live stream
    /// advances the checkpoint past the gap at once.
    pub fn begin_recovery(&self, partition: u32, range: (i64, i64)) -> io::Result<()> {
        let stem = self.stem(partition);
        let mut ranges = read(&self.state_dir, &stem);
        ranges.retain(|r| !within(*r, range));
        ranges.push(range);
        write(&self.state_dir, &stem, &ranges)
    }

    /// Notes that the Recovery of `range` on `partition` completed (the pending ranges it
    /// covers are done too): its records are archived (made durable first).
    pub fn end_recovery(&self, partition: u32, range: (i64, i64)) -> io::Result<()> {
        if let Some(slot) = self.slot(partition) {
            let mut p = super::lock(slot);
            let durable = p.make_durable(self);
            drop(p);
            if let Err(f) = durable {
                return Err(f.error);
            }
        }
        let stem = self.stem(partition);
        let mut ranges = read(&self.state_dir, &stem);
        ranges.retain(|r| !within(*r, range));
        write(&self.state_dir, &stem, &ranges)?;
        Counters::add(&self.counters.gaps_recovered, 1);
        Ok(())
    }

    /// Counts a gap (or part of one) that neither backfill nor Recovery can fetch.
    pub fn note_unrecoverable(&self) {
        self.counters
            .gaps_unrecoverable
            .fetch_add(1, Ordering::Relaxed);
    }
}

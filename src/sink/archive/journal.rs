//! A partition's journal: the time and key of every record it archived, appended once its
//! bytes are durable, so that after a restart the checkpoint (the last record's time) is known
//! and the records that come again (backfill, Recovery) are recognised — even when the sealed
//! files were moved away. Two generations of at least five minutes of arrivals each.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::Storage;

/// How long a generation is written before the next one starts (the previous one is kept).
pub(super) const GENERATION_SECS: i64 = 300;

/// One partition's journal files.
pub(super) struct Journal {
    current: PathBuf,
    previous: PathBuf,
    file: File,
    /// When the current generation started (Unix seconds, the machine's clock).
    started: i64,
    /// Entries not yet appended (their records are not durable yet).
    pending: Vec<(i64, u64)>,
    line: String,
}

/// What a journal held at start.
#[derive(Debug, Default)]
pub(super) struct Loaded {
    /// Entries, oldest first.
    pub entries: Vec<(i64, u64)>,
}

impl Loaded {
    /// The checkpoint: the latest record time archived (backfill and Recovery records are
    /// older than the live ones around them; a pending Recovery is kept apart, `gaps.rs`).
    pub fn checkpoint(&self) -> Option<i64> {
        self.entries.iter().map(|e| e.0).max()
    }
}

impl Journal {
    /// Opens (or starts) the journal of the partition whose files are `{stem}.journal` and
    /// `{stem}.journal.1` in `dir`, and reads what it holds.
    pub fn open(dir: &Path, stem: &str, now: i64) -> io::Result<(Journal, Loaded)> {
        let current = dir.join(format!("{stem}.journal"));
        let previous = dir.join(format!("{stem}.journal.1"));
        let mut loaded = Loaded::default();
        for path in [&previous, &current] {
            match File::open(path) {
                Ok(f) => read_entries(f, &mut loaded.entries)?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&current)?;
        Ok((
            Journal {
                current,
                previous,
                file,
                started: now,
                pending: Vec::new(),
                line: String::new(),
            },
            loaded,
        ))
    }

    /// Notes a record whose bytes are accepted but not yet durable.
    pub fn note(&mut self, time: i64, key: u64) {
        self.pending.push((time, key));
    }

    /// Whether entries wait for [`Journal::commit`].
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Appends the noted entries (their records are durable now) and fsyncs; at `now` past
    /// the generation's end, the current file becomes the previous one first. Returns the
    /// latest record time committed.
    pub fn commit(&mut self, now: i64, storage: &dyn Storage) -> io::Result<Option<i64>> {
        if self.pending.is_empty() {
            return Ok(None);
        }
        if now - self.started >= GENERATION_SECS {
            storage.rename(&self.current, &self.previous)?;
            self.file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.current)?;
            self.started = now;
        }
        self.line.clear();
        for (t, k) in &self.pending {
            use std::fmt::Write as _;
            let _ = writeln!(self.line, "{t} {k:x}");
        }
        self.file.write_all(self.line.as_bytes())?;
        storage.sync(&self.file)?;
        let last = self.pending.iter().map(|e| e.0).max();
        self.pending.clear();
        Ok(last)
    }
}

/// Reads `{time} {key hex}` lines; a last line without its `\n` (a crash mid-append) is
/// torn and skipped, as is anything that is not an entry.
fn read_entries(mut r: impl Read, into: &mut Vec<(i64, u64)>) -> io::Result<()> {
    let mut bytes = Vec::new();
    r.read_to_end(&mut bytes)?;
    let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    for line in bytes[..whole].split(|b| *b == b'\n') {
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        let mut it = line.split(' ');
        if let (Some(t), Some(k), None) = (it.next(), it.next(), it.next()) {
            if let (Ok(t), Ok(k)) = (t.parse(), u64::from_str_radix(k, 16)) {
                into.push((t, k));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_and_foreign_lines_are_skipped() {
        let mut v = Vec::new();
        read_entries(&b"100 ff\n101 1a\nxx yy\n102 1b 3\n103 ff12"[..], &mut v).unwrap();
        assert_eq!(v, vec![(100, 0xff), (101, 0x1a)]);
    }
}

//! A partition's journal: the time and key of every record it archived, so that after a
//! restart the checkpoint (the latest record time) is known and the records that come again
//! (backfill, Recovery) are recognised — even when the sealed files were moved away. Entries
//! are written as records are accepted (a few KiB at a time); a `.` line, written after the
//! data file's fsync, confirms every entry before it. At a start, entries after the last `.`
//! are dropped: the leftover `.part` scan finds which of those records really are on disk.
//! Two generations of at least five minutes of arrivals each.

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
    /// Entries not yet written to the file.
    buf: String,
    /// The latest record time noted since the last confirmation.
    unconfirmed_max: Option<i64>,
    /// Whether anything was noted since the last confirmation.
    noted: bool,
}

/// Entry bytes gathered before they are written (unconfirmed) to the file.
const BUF: usize = 32 * 1024;

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
                buf: String::with_capacity(BUF + 64),
                unconfirmed_max: None,
                noted: false,
            },
            loaded,
        ))
    }

    /// Notes a record whose bytes are accepted but not yet durable (written to the file in
    /// pieces, unconfirmed until [`Journal::commit`]).
    pub fn note(&mut self, time: i64, key: u64) {
        use std::fmt::Write as _;
        let _ = writeln!(self.buf, "{time} {key:x}");
        self.unconfirmed_max = self.unconfirmed_max.max(Some(time));
        self.noted = true;
        // A failed write keeps the bytes for the next try (commit reports the error).
        if self.buf.len() >= BUF && self.file.write_all(self.buf.as_bytes()).is_ok() {
            self.buf.clear();
        }
    }

    /// Whether entries wait for [`Journal::commit`].
    pub fn has_pending(&self) -> bool {
        self.noted
    }

    /// Confirms every noted entry (their records are durable now): the rest of them and a
    /// `.` line written, fsynced; then, at `now` past the generation's end, the current file
    /// becomes the previous one. Returns the latest record time confirmed.
    pub fn commit(&mut self, now: i64, storage: &dyn Storage) -> io::Result<Option<i64>> {
        if !self.noted {
            return Ok(None);
        }
        self.buf.push_str(".\n");
        if let Err(e) = self.file.write_all(self.buf.as_bytes()) {
            self.buf.truncate(self.buf.len() - 2);
            return Err(e);
        }
        self.buf.clear();
        storage.sync(&self.file)?;
        if now - self.started >= GENERATION_SECS {
            storage.rename(&self.current, &self.previous)?;
            self.file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.current)?;
            self.started = now;
        }
        self.noted = false;
        Ok(self.unconfirmed_max.take())
    }
}

/// Reads `{time} {key hex}` lines up to the last `.` line (what follows was never confirmed);
/// anything that is not an entry is skipped.
fn read_entries(mut r: impl Read, into: &mut Vec<(i64, u64)>) -> io::Result<()> {
    let mut bytes = Vec::new();
    r.read_to_end(&mut bytes)?;
    let mut confirmed = into.len();
    for line in bytes.split(|b| *b == b'\n') {
        if line == b"." {
            confirmed = into.len();
            continue;
        }
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
    into.truncate(confirmed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_foreign_and_unconfirmed_lines_are_skipped() {
        let mut v = Vec::new();
        read_entries(&b"100 ff\n101 1a\nxx yy\n102 1b 3\n.\n103 ff12"[..], &mut v).unwrap();
        assert_eq!(v, vec![(100, 0xff), (101, 0x1a)]);
        // Entries after the last confirmation were never confirmed.
        let mut v = Vec::new();
        read_entries(&b"100 ff\n.\n101 1a\n"[..], &mut v).unwrap();
        assert_eq!(v, vec![(100, 0xff)]);
    }
}

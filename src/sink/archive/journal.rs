//! A partition's journal: the time and key of every record it archived, so that after a
//! restart the checkpoint (the latest record time) is known and the records that come again
//! (backfill, Recovery) are recognised — even when the sealed files were moved away. Entries
//! are written as records are accepted (a few KiB at a time). A confirmation is two steps, so
//! that the data file's fsync need not hold the partition: [`Journal::mark`] writes out what
//! was noted and remembers the file's length; once the records are durable,
//! [`Journal::confirm`] appends `.{length}`, which confirms every entry ending within that
//! length (entries noted meanwhile stay unconfirmed; a bare `.`, as older journals have,
//! confirms all before it). At a start, unconfirmed entries are dropped: the leftover `.part`
//! scan finds which of those records really are on disk. Two generations of at least five
//! minutes of arrivals each.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
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
    /// Whether anything was noted since the last mark.
    noted: bool,
    /// Bytes in the current generation's file.
    written: u64,
    /// The last mark handed out, and the last one confirmed.
    marked: u64,
    confirmed: u64,
    /// Generations started since open, and where in the previous file the entries moved to
    /// the current one began (a mark taken before the change maps its length by it).
    generation: u64,
    moved_from: u64,
}

/// Entries written out by [`Journal::mark`], to be confirmed once their records are durable.
#[derive(Debug)]
pub(super) struct Mark {
    seq: u64,
    generation: u64,
    /// The current generation's length when marked: the entries it confirms end within it.
    upto: u64,
    /// The latest record time among them.
    max: Option<i64>,
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
            .read(true) // a new generation reads back the entries it takes over
            .open(&current)?;
        let written = file.metadata()?.len();
        Ok((
            Journal {
                current,
                previous,
                file,
                started: now,
                buf: String::with_capacity(BUF + 64),
                unconfirmed_max: None,
                noted: false,
                written,
                marked: 0,
                confirmed: 0,
                generation: 0,
                moved_from: 0,
            },
            loaded,
        ))
    }

    /// Notes a record whose bytes are accepted but not yet durable (written to the file in
    /// pieces, unconfirmed until a [`Journal::confirm`] of a later [`Journal::mark`]).
    pub fn note(&mut self, time: i64, key: u64) {
        use std::fmt::Write as _;
        let _ = writeln!(self.buf, "{time} {key:x}");
        self.unconfirmed_max = self.unconfirmed_max.max(Some(time));
        self.noted = true;
        if self.buf.len() >= BUF {
            // A failed write keeps the bytes for the next try (mark reports the error).
            let _ = self.write_buf();
        }
    }

    fn write_buf(&mut self) -> io::Result<()> {
        self.file.write_all(self.buf.as_bytes())?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Whether entries were noted since the last mark.
    pub fn has_pending(&self) -> bool {
        self.noted
    }

    /// Writes out every entry noted so far and marks them, to be confirmed once the records
    /// accepted so far are durable. `None` when nothing was noted since the last mark.
    pub fn mark(&mut self) -> io::Result<Option<Mark>> {
        if !self.noted {
            return Ok(None);
        }
        self.write_buf()?;
        self.noted = false;
        self.marked += 1;
        Ok(Some(Mark {
            seq: self.marked,
            generation: self.generation,
            upto: self.written,
            max: self.unconfirmed_max.take(),
        }))
    }

    /// Gives a mark back that could not be confirmed: its entries wait for the next one.
    pub fn unmark(&mut self, mark: Mark) {
        self.noted = true;
        self.unconfirmed_max = self.unconfirmed_max.max(mark.max);
    }

    /// Confirms `mark`'s entries (their records are durable now): `.{length}` written and
    /// fsynced; then, at `now` past the generation's end, the current file becomes the
    /// previous one (entries noted after the mark move to the new one). Returns the latest
    /// record time confirmed. On an error the mark is given back ([`Journal::unmark`]): its
    /// entries wait for the next one.
    pub fn confirm(
        &mut self,
        mark: Mark,
        now: i64,
        storage: &dyn Storage,
    ) -> io::Result<Option<i64>> {
        if mark.seq <= self.confirmed {
            // A later mark, confirmed meanwhile, covered these entries.
            return Ok(mark.max);
        }
        let upto = match self.generation - mark.generation {
            0 => mark.upto,
            // Its entries past the last confirmed mark moved to the start of this file.
            1 => mark.upto.saturating_sub(self.moved_from),
            // Ten minutes or more between a mark and its confirmation: nothing of it is left
            // unconfirmed in this file (what moved was confirmed since).
            _ => 0,
        };
        let end = self.written;
        let line = format!(".{upto}\n");
        let done = self.file.write_all(line.as_bytes()).and_then(|()| {
            self.written += line.len() as u64;
            storage.sync(&self.file)
        });
        if let Err(e) = done {
            self.unmark(mark);
            return Err(e);
        }
        self.confirmed = mark.seq;
        if now - self.started >= GENERATION_SECS {
            if let Err(e) = self.next_generation(upto, end, now, storage) {
                // Confirmed all the same; the rotation is tried again at the next confirm.
                log::warn!("archive: cannot start a new journal generation: {e}");
            }
        }
        Ok(mark.max)
    }

    /// The current file becomes the previous one; the entries in `tail..end` of it (written
    /// after the confirmed mark) start the new one, still unconfirmed.
    fn next_generation(
        &mut self,
        tail: u64,
        end: u64,
        now: i64,
        storage: &dyn Storage,
    ) -> io::Result<()> {
        let mut moved = vec![0u8; usize::try_from(end.saturating_sub(tail)).unwrap_or(0)];
        self.file.read_exact_at(&mut moved, tail)?;
        storage.rename(&self.current, &self.previous)?;
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&self.current)?;
        self.file.write_all(&moved)?;
        self.written = moved.len() as u64;
        self.started = now;
        self.generation += 1;
        self.moved_from = tail;
        Ok(())
    }

    /// Marks and confirms at once: for callers whose records are durable already (the file
    /// sealed, fsynced) or made durable while they hold the partition.
    pub fn commit(&mut self, now: i64, storage: &dyn Storage) -> io::Result<Option<i64>> {
        let Some(mark) = self.mark()? else {
            return Ok(None);
        };
        self.confirm(mark, now, storage)
    }
}

/// Reads `{time} {key hex}` lines that a confirmation covers: `.{length}` confirms the
/// entries ending within the file's first `length` bytes, a bare `.` all before it; anything
/// that is not an entry is skipped.
fn read_entries(mut r: impl Read, into: &mut Vec<(i64, u64)>) -> io::Result<()> {
    let mut bytes = Vec::new();
    r.read_to_end(&mut bytes)?;
    let first = into.len();
    // Where each of this file's entries ends.
    let mut ends: Vec<usize> = Vec::new();
    let mut confirmed = first;
    let mut at = 0;
    for line in bytes.split(|b| *b == b'\n') {
        at += line.len() + 1;
        if let Some(length) = line.strip_prefix(b".") {
            let covered = if length.is_empty() {
                ends.len()
            } else {
                match std::str::from_utf8(length)
                    .ok()
                    .and_then(|l| l.parse::<usize>().ok())
                {
                    Some(l) => ends.partition_point(|&e| e <= l),
                    None => continue,
                }
            };
            confirmed = confirmed.max(first + covered);
            continue;
        }
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        let mut it = line.split(' ');
        if let (Some(t), Some(k), None) = (it.next(), it.next(), it.next()) {
            if let (Ok(t), Ok(k)) = (t.parse(), u64::from_str_radix(k, 16)) {
                into.push((t, k));
                ends.push(at);
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

    #[test]
    fn a_length_confirms_the_entries_within_it_and_not_those_written_after_the_mark() {
        // Marked at 14 bytes ("100 ff\n101 1a\n"); 102 was noted before the confirmation.
        let mut v = Vec::new();
        read_entries(&b"100 ff\n101 1a\n102 1b\n.14\n103 1c\n"[..], &mut v).unwrap();
        assert_eq!(v, vec![(100, 0xff), (101, 0x1a)]);
        // A later confirmation covers 102; one that arrives late never shrinks what is covered.
        let mut v = vec![(1, 1)];
        read_entries(&b"100 ff\n101 1a\n102 1b\n.21\n.14\n"[..], &mut v).unwrap();
        assert_eq!(v, vec![(1, 1), (100, 0xff), (101, 0x1a), (102, 0x1b)]);
    }

    #[test]
    fn a_confirmation_covers_its_mark_only_and_a_new_generation_keeps_the_rest() {
        let dir = std::env::temp_dir().join(format!("gnip-journal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let disk = super::super::Disk;
        let (mut j, loaded) = Journal::open(&dir, "p0", 1000).unwrap();
        assert!(loaded.entries.is_empty());
        j.note(10, 1);
        j.note(12, 2);
        let m = j.mark().unwrap().expect("noted");
        j.note(11, 3); // accepted while the data file's fsync runs
        j.write_buf().unwrap();
        assert_eq!(j.confirm(m, 1001, &disk).unwrap(), Some(12));
        let (_, loaded) = Journal::open(&dir, "p0", 1002).unwrap();
        assert_eq!(loaded.entries, vec![(10, 1), (12, 2)]);
        // Past the generation's end: the unconfirmed entry moves to the new generation.
        let m = j.mark().unwrap().expect("noted");
        j.note(13, 4);
        j.write_buf().unwrap();
        let later = j.mark().unwrap().expect("noted");
        j.note(14, 5);
        j.write_buf().unwrap();
        assert_eq!(
            j.confirm(m, 1000 + GENERATION_SECS, &disk).unwrap(),
            Some(11)
        );
        // A mark taken before the new generation confirms its entries in the new file only.
        assert_eq!(
            j.confirm(later, 1000 + GENERATION_SECS + 1, &disk).unwrap(),
            Some(13)
        );
        let (_, loaded) = Journal::open(&dir, "p0", 2000).unwrap();
        assert_eq!(loaded.entries, vec![(10, 1), (12, 2), (11, 3), (13, 4)]);
        let m = j.mark().unwrap().expect("noted");
        j.unmark(m);
        let m = j.mark().unwrap().expect("an unmarked entry is noted again");
        assert_eq!(
            j.confirm(m, 1000 + GENERATION_SECS + 2, &disk).unwrap(),
            Some(14)
        );
        let (_, loaded) = Journal::open(&dir, "p0", 2000).unwrap();
        assert_eq!(
            loaded.entries,
            vec![(10, 1), (12, 2), (11, 3), (13, 4), (14, 5)]
        );
        let current = std::fs::read_to_string(dir.join("p0.journal")).unwrap();
        let previous = std::fs::read_to_string(dir.join("p0.journal.1")).unwrap();
        assert!(
            current.starts_with("13 4\n14 5\n"),
            "{current:?} {previous:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

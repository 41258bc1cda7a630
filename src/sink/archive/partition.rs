//! One partition of the archive: its open file, journal, checkpoint and keys, and what it does
//! to them — open a file for a window (a name never used before), rotate by window and size,
//! make records durable and advance the checkpoint, seal.

use std::io;
use std::path::PathBuf;
use std::time::Instant;

use super::file::{OpenFile, sync_dir, write_atomically};
use super::journal::Journal;
use super::names::{part_name, sealed_name, window_start};
use super::{Archive, Counters, DURABLE_EVERY};
use crate::protocol::dedupe::DedupeWindow;

/// One partition's state.
pub(super) struct Partition {
    pub number: u32,
    /// `{prefix}-{p}`: the journal's and the name state's file stem.
    pub stem: String,
    pub file: Option<OpenFile>,
    pub journal: Journal,
    pub checkpoint: Option<i64>,
    pub dedupe: DedupeWindow,
    /// The last name used: its window and suffix number.
    pub last_name: (i64, u32),
    pub durable_at: Instant,
    /// Writes fail: the handler is waiting to try again.
    pub failing: bool,
}

/// A failed file operation and the file it was about.
pub(super) struct Failed {
    pub path: PathBuf,
    pub error: io::Error,
}

fn at(path: &std::path::Path) -> impl Fn(io::Error) -> Failed + '_ {
    move |error| Failed {
        path: path.to_owned(),
        error,
    }
}

impl Partition {
    /// Makes room for a record of `len` bytes arriving at `now`: seals the open file when its
    /// window ended or the record would take it past the size limit, and opens one if none is.
    pub fn ready_for(&mut self, len: u64, now: i64, a: &Archive) -> Result<(), Failed> {
        let every = a.config.rotate_every.as_secs() as i64;
        let window = window_start(now, every);
        if let Some(f) = &self.file {
            if f.window != window
                || (f.raw_bytes > 0 && f.raw_bytes + len + 1 > a.config.rotate_size)
            {
                self.seal(a)?;
            }
        }
        if self.file.is_none() {
            self.open_file(window, a)?;
        }
        Ok(())
    }

    /// Writes out the open file's pending bytes once they make a full piece.
    pub fn write_out_if_full(&mut self) -> Result<(), Failed> {
        match &mut self.file {
            Some(f) => f.write_out_if_full().map_err(at(&f.part)),
            None => Ok(()),
        }
    }

    /// A new `.part` for `window`, under a name no file of this partition ever had: the name
    /// state is made durable before the file exists.
    fn open_file(&mut self, window: i64, a: &Archive) -> Result<(), Failed> {
        let c = &a.config;
        let mut n = if self.last_name.0 == window {
            self.last_name.1 + 1
        } else {
            0
        };
        let (part, sealed) = loop {
            let sealed = sealed_name(&c.prefix, self.number, window, n, c.gzip.is_some());
            let (part, sealed) = (c.dir.join(part_name(&sealed)), c.dir.join(sealed));
            if !part.exists() && !sealed.exists() {
                break (part, sealed);
            }
            n += 1;
        };
        let state = a.state_dir.join(format!("{}.name", self.stem));
        write_atomically(&state, &format!("{window} {n}\n"), &*c.storage).map_err(at(&state))?;
        self.last_name = (window, n);
        let file = OpenFile::create(
            part.clone(),
            sealed,
            window,
            c.gzip,
            self.number,
            a.writer_shared(),
        )
        .map_err(at(&part))?;
        sync_dir(&c.dir).map_err(at(&c.dir))?;
        self.file = Some(file);
        Ok(())
    }

    /// Seals the open file (if any): the hook's marker first, then write out and fsync, the
    /// journal's confirmation of its records, then rename and directory fsync (a crash before
    /// the rename leaves a `.part` whose records the journal knows). On an error it stays open.
    pub fn seal(&mut self, a: &Archive) -> Result<(), Failed> {
        if let Some(f) = &mut self.file {
            if let Some(h) = &a.hooks {
                h.prepare(&f.sealed).map_err(at(&f.sealed))?;
            }
            f.finish().map_err(at(&f.part))?;
        }
        self.commit(a)?;
        if let Some(f) = &mut self.file {
            f.seal(&*a.config.storage).map_err(at(&f.part))?;
            Counters::add(&a.counters.files_sealed, 1);
            log::info!(
                "archive: sealed {} ({} records)",
                f.sealed.display(),
                f.records
            );
            self.file = None;
            if let Some(h) = &a.hooks {
                h.notify();
            }
        }
        Ok(())
    }

    /// The journal entries of durable records appended; the checkpoint advanced.
    fn commit(&mut self, a: &Archive) -> Result<(), Failed> {
        let now = crate::clock::now_secs();
        match self.journal.commit(now, &*a.config.storage) {
            Ok(Some(t)) => self.checkpoint = self.checkpoint.max(Some(t)),
            Ok(None) => {}
            Err(e) => return Err(at(&a.state_dir)(e)),
        }
        self.durable_at = Instant::now();
        Ok(())
    }

    /// Makes every accepted record durable now and advances the checkpoint.
    pub fn make_durable(&mut self, a: &Archive) -> Result<(), Failed> {
        if let Some(f) = &mut self.file {
            f.make_durable().map_err(at(&f.part))?;
        }
        self.commit(a)
    }

    /// The ticker's look at `now`: a file whose window ended is sealed; records accepted
    /// [`DURABLE_EVERY`] ago or more are made durable and the checkpoint advanced.
    pub fn tick(&mut self, now: i64, a: &Archive) -> Result<(), Failed> {
        if self.file.as_ref().is_some_and(|f| f.is_failing()) {
            // Its writer is trying again; the next tick looks again.
            return Ok(());
        }
        let every = a.config.rotate_every.as_secs() as i64;
        if self
            .file
            .as_ref()
            .is_some_and(|f| f.window != window_start(now, every))
        {
            return self.seal(a);
        }
        if !self.journal.has_pending() || self.durable_at.elapsed() < DURABLE_EVERY {
            return Ok(());
        }
        self.make_durable(a)
    }
}

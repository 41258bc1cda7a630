//! One partition of the archive: its open file, journal, checkpoint and keys, and what it does
//! to them — open a file for a window (a name never used before), rotate by window and size,
//! make records durable and advance the checkpoint, seal.

use std::io;
use std::path::PathBuf;
use std::time::Instant;

use super::file::{DataMark, OpenFile, sync_dir, write_atomically};
use super::journal::{Journal, Mark};
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

    /// The journal entries of durable records confirmed; the checkpoint advanced.
    fn commit(&mut self, a: &Archive) -> Result<(), Failed> {
        let now = crate::clock::now_secs();
        match self.journal.commit(now, &*a.config.storage) {
            Ok(t) => self.checkpoint = self.checkpoint.max(t),
            Err(e) => return Err(at(&a.state_dir)(e)),
        }
        self.durable_at = Instant::now();
        Ok(())
    }

    /// Makes every accepted record durable now and advances the checkpoint (holding the
    /// partition all along: for the rare callers; the ticker uses [`Partition::begin_durable`]).
    pub fn make_durable(&mut self, a: &Archive) -> Result<(), Failed> {
        let mut durable = self.begin_durable(a)?;
        let waited = durable.wait(a);
        self.end_durable(durable.journal, waited, a)
    }

    /// The first half of making records durable, under the partition's lock: the data marked
    /// in the writer's queue and the journal's entries marked. [`Durable::wait`] (without the
    /// lock) and [`Partition::end_durable`] (with it) finish it.
    pub fn begin_durable(&mut self, a: &Archive) -> Result<Durable, Failed> {
        let data = match &mut self.file {
            Some(f) => Some(f.begin_durable().map_err(at(&f.part))?),
            None => None,
        };
        let journal = self.journal.mark().map_err(at(&a.state_dir))?;
        self.durable_at = Instant::now();
        Ok(Durable { data, journal })
    }

    /// The last half: if the data's fsync (`waited`) succeeded, the journal's mark confirmed
    /// and the checkpoint advanced; otherwise the mark's entries wait for the next one.
    pub fn end_durable(
        &mut self,
        mark: Option<Mark>,
        waited: Result<(), Failed>,
        a: &Archive,
    ) -> Result<(), Failed> {
        let Some(mark) = mark else {
            return waited;
        };
        if let Err(f) = waited {
            self.journal.unmark(mark);
            return Err(f);
        }
        let now = crate::clock::now_secs();
        let t = self
            .journal
            .confirm(mark, now, &*a.config.storage)
            .map_err(at(&a.state_dir))?;
        self.checkpoint = self.checkpoint.max(t);
        Ok(())
    }

    /// The ticker's look at `now`: a file whose window ended is sealed; for records accepted
    /// [`DURABLE_EVERY`] ago or more, making them durable begins (the caller finishes it
    /// without holding the partition).
    pub fn tick(&mut self, now: i64, a: &Archive) -> Result<Option<Durable>, Failed> {
        if self.file.as_ref().is_some_and(|f| f.is_failing()) {
            // Its writer is trying again; the next tick looks again.
            return Ok(None);
        }
        let every = a.config.rotate_every.as_secs() as i64;
        if self
            .file
            .as_ref()
            .is_some_and(|f| f.window != window_start(now, every))
        {
            return self.seal(a).map(|()| None);
        }
        if !self.journal.has_pending() || self.durable_at.elapsed() < DURABLE_EVERY {
            return Ok(None);
        }
        self.begin_durable(a).map(Some)
    }
}

/// Records on their way to being durable: begun under the partition's lock, finished by
/// [`Durable::wait`] without it and [`Partition::end_durable`] with it again.
pub(super) struct Durable {
    data: Option<DataMark>,
    /// The journal's entries of those records.
    pub journal: Option<Mark>,
}

impl Durable {
    /// Waits for the data's fsync (the records go on arriving meanwhile).
    pub fn wait(&mut self, a: &Archive) -> Result<(), Failed> {
        match self.data.take() {
            Some(d) => {
                let path = d.path.clone();
                d.wait(&*a.config.storage).map_err(at(&path))
            }
            None => Ok(()),
        }
    }
}

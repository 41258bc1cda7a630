//! One file being written: records appended (plain, or through one gzip member), handed to its
//! writer thread (`writer.rs`) in pieces that only ever end on what was accepted, made durable
//! on request (a sync flush for gzip, then an fsync that need not hold the partition), and
//! sealed: written out, fsynced, renamed from its hidden `.part` name, the directory fsynced.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::Receiver;

use super::Storage;
use super::writer::{FileWriter, Shared};
use crate::core::GzipEncoder;

/// Bytes gathered before they are written out.
const WRITE_PIECE: usize = 64 * 1024;

/// A `.part` file of the archive.
pub(super) struct OpenFile {
    writer: FileWriter,
    /// The same file, for an fsync that the writer thread does not wait for.
    sync_handle: Arc<File>,
    /// The hidden name it has while written.
    pub part: PathBuf,
    /// The name it gets when sealed.
    pub sealed: PathBuf,
    /// The start of its window (Unix seconds).
    pub window: i64,
    /// Bytes accepted and not yet on disk (compressed, for gzip).
    pending: Vec<u8>,
    gzip: Option<GzipEncoder>,
    /// Record bytes accepted (uncompressed, `\n` included): what `--rotate-size` counts.
    pub raw_bytes: u64,
    /// Records accepted.
    pub records: u64,
    /// Renamed to its sealed name (a seal retried after a failed directory sync skips it).
    renamed: bool,
}

impl OpenFile {
    /// Creates `part` (it must not exist), for records of the window starting at `window`.
    pub fn create(
        part: PathBuf,
        sealed: PathBuf,
        window: i64,
        gzip_level: Option<u8>,
        partition: u32,
        shared: Shared,
    ) -> io::Result<OpenFile> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&part)?;
        let sync_handle = Arc::new(file.try_clone()?);
        Ok(OpenFile {
            writer: FileWriter::start(file, part.clone(), partition, shared)?,
            sync_handle,
            part,
            sealed,
            window,
            pending: Vec::with_capacity(WRITE_PIECE + 4096),
            gzip: gzip_level.map(GzipEncoder::new),
            raw_bytes: 0,
            records: 0,
            renamed: false,
        })
    }

    /// Accepts one record (its `\n` added); [`OpenFile::write_out_if_full`] writes it out.
    pub fn accept(&mut self, record: &[u8]) {
        match &mut self.gzip {
            Some(enc) => {
                enc.write(record, &mut self.pending);
                enc.write(b"\n", &mut self.pending);
            }
            None => {
                self.pending.extend_from_slice(record);
                self.pending.push(b'\n');
            }
        }
        self.raw_bytes += record.len() as u64 + 1;
        self.records += 1;
    }

    /// Hands what is pending to the writer once it makes a full piece.
    pub fn write_out_if_full(&mut self) -> io::Result<()> {
        if self.pending.len() >= WRITE_PIECE {
            self.write_out()?;
        }
        Ok(())
    }

    /// Hands what is pending to the writer (waits while its queue is full: a failing disk
    /// stops the partition here).
    pub fn write_out(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut next = self.writer.write(std::mem::take(&mut self.pending))?;
        next.reserve(WRITE_PIECE + 4096);
        self.pending = next;
        Ok(())
    }

    /// Whether the writer is failing now.
    pub fn is_failing(&self) -> bool {
        self.writer.is_failing()
    }

    /// Starts making every accepted record durable without holding the partition: a sync
    /// flush of the gzip member, written out, and a mark in the writer's queue. The returned
    /// [`DataMark`] waits for the mark and fsyncs, on any thread, while records go on.
    pub fn begin_durable(&mut self) -> io::Result<DataMark> {
        if let Some(enc) = &mut self.gzip {
            enc.write_flush(&[], &mut self.pending);
        }
        self.write_out()?;
        Ok(DataMark {
            written: self.writer.mark()?,
            file: Arc::clone(&self.sync_handle),
            path: self.part.clone(),
        })
    }

    /// The first half of a seal: ends the gzip member, writes out, fsyncs. On an error the
    /// gzip trailer stays pending, so a retry completes it.
    pub fn finish(&mut self) -> io::Result<()> {
        if let Some(enc) = &mut self.gzip {
            enc.finish(&mut self.pending);
        }
        self.write_out()?;
        self.writer.sync()
    }

    /// The second half: renames to the sealed name and fsyncs the directory (a retry after a
    /// failed directory sync does not rename again).
    pub fn seal(&mut self, storage: &dyn Storage) -> io::Result<()> {
        if !self.renamed {
            storage.rename(&self.part, &self.sealed)?;
            self.renamed = true;
        }
        sync_dir(self.sealed.parent().unwrap_or(Path::new(".")))
    }
}

/// The records accepted before [`OpenFile::begin_durable`]: durable once [`DataMark::wait`]
/// returns.
pub(super) struct DataMark {
    written: Receiver<()>,
    file: Arc<File>,
    /// The `.part`, for messages.
    pub path: PathBuf,
}

impl DataMark {
    /// Waits until the writer wrote everything before the mark, then fsyncs the file.
    pub fn wait(self, storage: &dyn Storage) -> io::Result<()> {
        self.written.recv().map_err(|_| super::writer::gone())?;
        storage.sync(&self.file)
    }
}

/// Replaces the small file `path` with `text` so that a crash leaves the old or the new one,
/// never a mix: written beside it under a hidden name, fsynced, renamed over it, the directory
/// fsynced.
pub(super) fn write_atomically(path: &Path, text: &str, storage: &dyn Storage) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temp = dir.join(format!(".{name}"));
    std::fs::write(&temp, text)?;
    File::open(&temp)?.sync_all()?;
    storage.rename(&temp, path)?;
    sync_dir(dir)
}

/// fsyncs a directory, so that a rename or a new file in it survives a power cut.
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The default [`Storage`]: the file system as it is.
#[derive(Debug, Default)]
pub struct Disk;

impl Storage for Disk {
    fn write(&self, file: &mut File, bytes: &[u8]) -> io::Result<()> {
        file.write_all(bytes)
    }
}

//! One file being written: records appended (plain, or through one gzip member), written out
//! in pieces that only ever end on what was accepted, made durable on request (a sync flush
//! for gzip, then fsync), and sealed: written out, fsynced, renamed from its hidden `.part`
//! name, the directory fsynced. A failed write is cut back to the last good length.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::Storage;
use crate::core::GzipEncoder;

/// Bytes gathered before they are written out.
const WRITE_PIECE: usize = 64 * 1024;

/// A `.part` file of the archive.
pub(super) struct OpenFile {
    file: File,
    /// The hidden name it has while written.
    pub part: PathBuf,
    /// The name it gets when sealed.
    pub sealed: PathBuf,
    /// The start of its window (Unix seconds).
    pub window: i64,
    /// Bytes on disk that are known good.
    written: u64,
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
    ) -> io::Result<OpenFile> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&part)?;
        Ok(OpenFile {
            file,
            part,
            sealed,
            window,
            written: 0,
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

    /// Writes out what is pending once it makes a full piece.
    pub fn write_out_if_full(&mut self, storage: &dyn Storage) -> io::Result<()> {
        if self.pending.len() >= WRITE_PIECE {
            self.write_out(storage)?;
        }
        Ok(())
    }

    /// Writes out what is pending. On an error the file is cut back to its last good length
    /// and the bytes stay pending, so a retry writes them again whole.
    pub fn write_out(&mut self, storage: &dyn Storage) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        match storage.write(&mut self.file, &self.pending) {
            Ok(()) => {
                self.written += self.pending.len() as u64;
                self.pending.clear();
                Ok(())
            }
            Err(e) => {
                // Cut back a partial write; if even that fails, the next start's recovery
                // drops what follows the last whole record.
                let _ = self.file.set_len(self.written);
                let _ = self.file.seek(SeekFrom::Start(self.written));
                Err(e)
            }
        }
    }

    /// Makes every accepted record durable in the `.part`: a sync flush of the gzip member
    /// (so a reader can inflate all of it), written out, fsynced.
    pub fn make_durable(&mut self, storage: &dyn Storage) -> io::Result<()> {
        if let Some(enc) = &mut self.gzip {
            enc.write_flush(&[], &mut self.pending);
        }
        self.write_out(storage)?;
        storage.sync(&self.file)
    }

    /// Ends the gzip member, writes out, fsyncs, renames to the sealed name and fsyncs the
    /// directory. On an error the file stays a `.part` (the gzip trailer stays pending, so a
    /// retry completes it).
    pub fn seal(&mut self, storage: &dyn Storage) -> io::Result<()> {
        if !self.renamed {
            if let Some(enc) = &mut self.gzip {
                enc.finish(&mut self.pending);
            }
            self.write_out(storage)?;
            storage.sync(&self.file)?;
            storage.rename(&self.part, &self.sealed)?;
            self.renamed = true;
        }
        sync_dir(self.sealed.parent().unwrap_or(Path::new(".")))
    }
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

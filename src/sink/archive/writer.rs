//! The thread that writes one file's pieces, so the partition's reader thread inflates while
//! the kernel copies: pieces in order through a short queue (a full queue makes the reader
//! wait, which is how a failing disk stops the partition's reading), a failed write cut back to
//! the last good length and tried again every 5 s (counted, logged with the path), fsync on
//! request. When the archive closes during a failure, the thread gives up: the file stays a
//! `.part` with whole records, sealed at the next start. A mark answers once what came before
//! it is written, for an fsync on another thread that does not stop the writing.

use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Counters, Storage, WRITE_RETRY};

/// What the file's owner asks of the thread.
enum Cmd {
    /// Append these bytes.
    Write(Vec<u8>),
    /// fsync once everything before is written; the answer goes back.
    Sync(SyncSender<io::Result<()>>),
    /// Answer once everything before is written (someone else fsyncs).
    Mark(SyncSender<()>),
}

/// What the writer thread needs from the archive.
#[derive(Clone)]
pub(super) struct Shared {
    pub storage: Arc<dyn Storage>,
    pub counters: Arc<Counters>,
    pub closing: Arc<AtomicBool>,
}

/// One file's writer thread.
pub(super) struct FileWriter {
    tx: Option<SyncSender<Cmd>>,
    thread: Option<JoinHandle<()>>,
    /// Buffers written and handed back, for reuse.
    spare: Receiver<Vec<u8>>,
    failing: Arc<AtomicBool>,
}

/// The error of a file whose writer thread is gone (the archive is closing).
pub(super) fn gone() -> io::Error {
    io::Error::other("the archive stopped writing this file (closing)")
}

impl FileWriter {
    /// Starts the thread for `file` (named `path` in messages), of `partition`.
    pub fn start(file: File, path: PathBuf, partition: u32, s: Shared) -> io::Result<FileWriter> {
        let (tx, rx) = sync_channel(2);
        let (spare_tx, spare) = sync_channel(4);
        let failing = Arc::new(AtomicBool::new(false));
        let f = Arc::clone(&failing);
        let thread = std::thread::Builder::new()
            .name("gnip-archive-write".into())
            .spawn(move || run(file, &path, partition, &s, &rx, &spare_tx, &f))?;
        Ok(FileWriter {
            tx: Some(tx),
            thread: Some(thread),
            spare,
            failing,
        })
    }

    /// Queues `bytes` (waits while the queue is full); a buffer to write the next piece into
    /// comes back.
    pub fn write(&self, bytes: Vec<u8>) -> io::Result<Vec<u8>> {
        let tx = self.tx.as_ref().ok_or_else(gone)?;
        tx.send(Cmd::Write(bytes)).map_err(|_| gone())?;
        Ok(self.spare.try_recv().unwrap_or_default())
    }

    /// Waits until everything queued is written, then fsyncs.
    pub fn sync(&self) -> io::Result<()> {
        let tx = self.tx.as_ref().ok_or_else(gone)?;
        let (reply, answer) = sync_channel(1);
        tx.send(Cmd::Sync(reply)).map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())?
    }

    /// Queues a mark: the answer comes once everything queued before it is written (not yet
    /// fsynced), so that another thread can fsync while this one goes on writing.
    pub fn mark(&self) -> io::Result<Receiver<()>> {
        let tx = self.tx.as_ref().ok_or_else(gone)?;
        let (reply, answer) = sync_channel(1);
        tx.send(Cmd::Mark(reply)).map_err(|_| gone())?;
        Ok(answer)
    }

    /// Whether a write is failing now (the thread is waiting to try again).
    pub fn is_failing(&self) -> bool {
        self.failing.load(Ordering::SeqCst)
    }
}

impl Drop for FileWriter {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(
    mut file: File,
    path: &std::path::Path,
    partition: u32,
    s: &Shared,
    rx: &Receiver<Cmd>,
    spare: &SyncSender<Vec<u8>>,
    failing: &AtomicBool,
) {
    let mut written = 0u64;
    for cmd in rx {
        match cmd {
            Cmd::Write(mut bytes) => {
                let mut since: Option<Instant> = None;
                loop {
                    match s.storage.write(&mut file, &bytes) {
                        Ok(()) => break,
                        Err(e) => {
                            // Cut back a partial write (if even that fails, the next start's
                            // recovery drops what follows the last whole record).
                            let _ = file.set_len(written);
                            let _ = file.seek(SeekFrom::Start(written));
                            s.counters.add_write_error();
                            failing.store(true, Ordering::SeqCst);
                            since.get_or_insert_with(Instant::now);
                            log::error!(
                                "archive: cannot write {}: {e}; partition {partition} stops reading and tries again every {} s",
                                path.display(),
                                WRITE_RETRY.as_secs()
                            );
                            if !sleep_unless(&s.closing, WRITE_RETRY) {
                                return;
                            }
                        }
                    }
                }
                if let Some(t) = since {
                    failing.store(false, Ordering::SeqCst);
                    log::warn!(
                        "archive: partition {partition} writes again after {:.0} s",
                        t.elapsed().as_secs_f64()
                    );
                }
                written += bytes.len() as u64;
                bytes.clear();
                let _ = spare.try_send(bytes);
            }
            Cmd::Sync(reply) => {
                let _ = reply.send(s.storage.sync(&file));
            }
            Cmd::Mark(reply) => {
                let _ = reply.send(());
            }
        }
    }
}

/// Sleeps `d` unless `closing` is set first (then `false`).
pub(super) fn sleep_unless(closing: &AtomicBool, d: Duration) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if closing.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    !closing.load(Ordering::SeqCst)
}

//! The thread that writes one file's pieces, so the partition's reader thread inflates while
//! the kernel copies: pieces in order through a short queue (a full queue makes the reader
//! wait, which is how a failing disk stops the partition's reading), a failed write cut back to
//! the last good length and tried again every 5 s (counted, logged with the path), fsync on
//! request. When the archive closes during a failure, the thread gives up: the file stays a
//! `.part` with whole records, sealed at the next start. A mark answers once what came before
//! it is written, for an fsync on another thread that does not stop the writing. A sleeping
//! writer is woken for every second piece, not every piece.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Counters, Storage, WRITE_RETRY, lock};

/// Pieces that may wait for the writer; one more makes the owner wait.
const QUEUED: usize = 2;

/// Pieces that must wait before a sleeping writer is woken for them (a sync, a mark or the
/// close wakes it at once). Waking a thread that sleeps on the other CPU is an
/// inter-processor interrupt: with a wake-up per 64 KiB piece, `perf` put 5.7% of the reader
/// thread in it (2026-12-06). A piece left waiting is written at the next piece, or at the
/// once-a-second mark that makes records durable: durability does not change.
const WAKE_AT: usize = 2;

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

/// The commands between a file's owner and its writer thread.
#[derive(Default)]
struct Queue {
    state: Mutex<QueueState>,
    /// The writer sleeps here while there is nothing to do.
    work: Condvar,
    /// The owner waits here while [`QUEUED`] pieces wait.
    room: Condvar,
}

#[derive(Default)]
struct QueueState {
    cmds: VecDeque<Cmd>,
    /// How many of `cmds` are pieces.
    pieces: usize,
    writer_asleep: bool,
    /// Owners waiting for room (one at a time: the partition's lock holds its file).
    owners_waiting: usize,
    /// The owner is gone: the writer writes what waits, then ends.
    closed: bool,
    /// The writer ended (it gave up while the archive closed): nothing more is taken.
    writer_gone: bool,
    /// How often the writer was woken for work (for the tests).
    #[cfg(test)]
    wakes: usize,
}

impl Queue {
    /// Queues `cmd`, waiting while [`QUEUED`] pieces wait; wakes a sleeping writer for a
    /// command that is answered, or once [`WAKE_AT`] pieces wait.
    fn push(&self, cmd: Cmd) -> io::Result<()> {
        let piece = matches!(cmd, Cmd::Write(_));
        let mut s = lock(&self.state);
        while piece && s.pieces >= QUEUED && !s.writer_gone {
            s.owners_waiting += 1;
            s = self.room.wait(s).unwrap_or_else(|e| e.into_inner());
            s.owners_waiting -= 1;
        }
        if s.writer_gone {
            return Err(gone());
        }
        s.pieces += usize::from(piece);
        s.cmds.push_back(cmd);
        if s.writer_asleep && (!piece || s.pieces >= WAKE_AT) {
            s.writer_asleep = false;
            #[cfg(test)]
            {
                s.wakes += 1;
            }
            self.work.notify_one();
        }
        Ok(())
    }

    /// The writer's next command, sleeping while there is none; `None` once the owner is
    /// gone and everything queued is taken.
    fn next(&self) -> Option<Cmd> {
        let mut s = lock(&self.state);
        loop {
            if let Some(cmd) = s.cmds.pop_front() {
                if matches!(cmd, Cmd::Write(_)) {
                    s.pieces -= 1;
                    if s.owners_waiting > 0 {
                        self.room.notify_one();
                    }
                }
                return Some(cmd);
            }
            if s.closed {
                return None;
            }
            s.writer_asleep = true;
            s = self.work.wait(s).unwrap_or_else(|e| e.into_inner());
            s.writer_asleep = false;
        }
    }

    /// The owner is gone: the writer takes what waits, then ends.
    fn close(&self) {
        lock(&self.state).closed = true;
        self.work.notify_one();
    }
}

/// Marks the queue's writer gone when its thread ends, however it ends, so that the owner's
/// next command fails instead of waiting for room that never comes, and drops what still
/// waits: a sync or a mark queued before the writer gave up answers its waiter with an error
/// instead of never.
struct WriterGone<'a>(&'a Queue);

impl Drop for WriterGone<'_> {
    fn drop(&mut self) {
        let left = {
            let mut s = lock(&self.0.state);
            s.writer_gone = true;
            s.pieces = 0;
            std::mem::take(&mut s.cmds)
        };
        drop(left);
        self.0.room.notify_all();
    }
}

/// One file's writer thread.
pub(super) struct FileWriter {
    queue: Arc<Queue>,
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
        let queue = Arc::new(Queue::default());
        let (spare_tx, spare) = sync_channel(4);
        let failing = Arc::new(AtomicBool::new(false));
        let (q, f) = (Arc::clone(&queue), Arc::clone(&failing));
        let thread = std::thread::Builder::new()
            .name("gnip-archive-write".into())
            .spawn(move || {
                let _gone = WriterGone(&q);
                run(file, &path, partition, &s, &q, &spare_tx, &f);
            })?;
        Ok(FileWriter {
            queue,
            thread: Some(thread),
            spare,
            failing,
        })
    }

    /// Queues `bytes` (waits while the queue is full); a buffer to write the next piece into
    /// comes back.
    pub fn write(&self, bytes: Vec<u8>) -> io::Result<Vec<u8>> {
        self.queue.push(Cmd::Write(bytes))?;
        Ok(self.spare.try_recv().unwrap_or_default())
    }

    /// Waits until everything queued is written, then fsyncs.
    pub fn sync(&self) -> io::Result<()> {
        let (reply, answer) = sync_channel(1);
        self.queue.push(Cmd::Sync(reply))?;
        answer.recv().map_err(|_| gone())?
    }

    /// Queues a mark: the answer comes once everything queued before it is written (not yet
    /// fsynced), so that another thread can fsync while this one goes on writing.
    pub fn mark(&self) -> io::Result<Receiver<()>> {
        let (reply, answer) = sync_channel(1);
        self.queue.push(Cmd::Mark(reply))?;
        Ok(answer)
    }

    /// Whether a write is failing now (the thread is waiting to try again).
    pub fn is_failing(&self) -> bool {
        self.failing.load(Ordering::SeqCst)
    }
}

impl Drop for FileWriter {
    fn drop(&mut self) {
        self.queue.close();
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
    queue: &Queue,
    spare: &SyncSender<Vec<u8>>,
    failing: &AtomicBool,
) {
    let mut written = 0u64;
    while let Some(cmd) = queue.next() {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Waits (bounded) until the writer thread sleeps on the queue.
    fn until_asleep(q: &Queue) {
        let t = Instant::now();
        while !lock(&q.state).writer_asleep {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "the writer never slept"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn piece(n: u8) -> Cmd {
        Cmd::Write(vec![n])
    }

    #[test]
    fn a_sleeping_writer_is_woken_for_every_second_piece_and_at_once_for_a_mark() {
        let q = Arc::new(Queue::default());
        let (taken_tx, taken) = std::sync::mpsc::channel();
        let w = Arc::clone(&q);
        let writer = std::thread::spawn(move || {
            while let Some(cmd) = w.next() {
                let what = match cmd {
                    Cmd::Write(b) => b[0],
                    Cmd::Mark(reply) => {
                        let _ = reply.send(());
                        0
                    }
                    Cmd::Sync(_) => 255,
                };
                taken_tx.send(what).unwrap();
            }
        });
        until_asleep(&q);
        q.push(piece(1)).unwrap();
        // One piece waits; the writer is not woken for it.
        assert_eq!(lock(&q.state).wakes, 0);
        q.push(piece(2)).unwrap();
        assert_eq!(lock(&q.state).wakes, 1);
        let ten = Duration::from_secs(10);
        assert_eq!(taken.recv_timeout(ten), Ok(1));
        assert_eq!(taken.recv_timeout(ten), Ok(2));
        until_asleep(&q);
        // A piece and a mark: the mark wakes it, and comes after the piece.
        q.push(piece(3)).unwrap();
        let (reply, answer) = sync_channel(1);
        q.push(Cmd::Mark(reply)).unwrap();
        assert_eq!(lock(&q.state).wakes, 2);
        assert_eq!(answer.recv_timeout(ten), Ok(()));
        assert_eq!(taken.recv_timeout(ten), Ok(3));
        assert_eq!(taken.recv_timeout(ten), Ok(0));
        until_asleep(&q);
        // The close wakes it for the one piece left, then it ends.
        q.push(piece(4)).unwrap();
        q.close();
        writer.join().unwrap();
        assert_eq!(taken.try_iter().collect::<Vec<_>>(), vec![4]);
    }

    #[test]
    fn the_owner_waits_for_room_and_fails_once_the_writer_is_gone() {
        let q = Arc::new(Queue::default());
        for n in 0..QUEUED as u8 {
            q.push(piece(n)).unwrap();
        }
        // The queue is full: the next piece waits until the writer ends without taking it.
        let owner = {
            let q = Arc::clone(&q);
            std::thread::spawn(move || q.push(piece(9)))
        };
        let t = Instant::now();
        while lock(&q.state).owners_waiting == 0 {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "the owner never waited"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(WriterGone(&q));
        let err = owner.join().unwrap().unwrap_err();
        assert_eq!(err.to_string(), gone().to_string());
        // Every command after that fails too, a mark as well.
        let (reply, _answer) = sync_channel(1);
        assert!(q.push(Cmd::Mark(reply)).is_err());
    }

    #[test]
    fn a_sync_queued_before_the_writer_gives_up_is_answered_not_left_waiting() {
        let q = Queue::default();
        q.push(piece(1)).unwrap();
        let (reply, answer) = sync_channel(1);
        q.push(Cmd::Sync(reply)).unwrap();
        let (reply, marked) = sync_channel(1);
        q.push(Cmd::Mark(reply)).unwrap();
        // The writer ends without taking them (it gave up while the archive closed).
        drop(WriterGone(&q));
        // Both waiters learn it at once (their replies were dropped), neither times out.
        use std::sync::mpsc::RecvTimeoutError::Disconnected;
        let ten = Duration::from_secs(10);
        assert_eq!(answer.recv_timeout(ten).err(), Some(Disconnected));
        assert_eq!(marked.recv_timeout(ten).err(), Some(Disconnected));
        assert_eq!(lock(&q.state).pieces, 0);
    }
}

//! stdout for `stream` and `replay`: records as NDJSON through one buffer that every partition
//! shares, `--max-records` and `--count`, and a quiet stop when the reader goes away.

use std::io::{BufWriter, Stdout, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use gnip_stream::client::{Delivery, Flow};
use gnip_stream::core::RecordKind;

/// stdout: records as NDJSON through one buffer shared by every partition; flushed when the
/// stream goes idle and at exit.
pub struct Out {
    w: Mutex<BufWriter<Stdout>>,
    records: AtomicU64,
    max: Option<u64>,
    count_only: bool,
    dirty: AtomicBool,
    pub broken: AtomicBool,
    started: Instant,
    last_write_ms: AtomicU64,
}

impl Out {
    pub fn new(max: Option<u64>, count_only: bool) -> Out {
        Out {
            w: Mutex::new(BufWriter::with_capacity(64 * 1024, std::io::stdout())),
            records: AtomicU64::new(0),
            max,
            count_only,
            dirty: AtomicBool::new(false),
            broken: AtomicBool::new(false),
            started: Instant::now(),
            last_write_ms: AtomicU64::new(0),
        }
    }

    pub fn record(&self, bytes: &[u8]) -> Flow {
        let n = self.records.fetch_add(1, Ordering::SeqCst) + 1;
        if self.max.is_some_and(|m| n > m) {
            // Another partition got there first: this one is not written.
            self.records.fetch_sub(1, Ordering::SeqCst);
            return Flow::Stop;
        }
        if !self.count_only {
            let mut w = self.w.lock().unwrap_or_else(|e| e.into_inner());
            if w.write_all(bytes)
                .and_then(|()| w.write_all(b"\n"))
                .is_err()
            {
                // The reader went away (e.g. `| head`): stop quietly.
                self.broken.store(true, Ordering::SeqCst);
                return Flow::Stop;
            }
            self.dirty.store(true, Ordering::Release);
            self.last_write_ms
                .store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
        }
        if self.max == Some(n) {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }

    /// Flushes once nothing has been written for 100 ms (or always, when `force`).
    pub fn flush(&self, force: bool) {
        let idle = self.started.elapsed().as_millis() as u64
            >= self.last_write_ms.load(Ordering::Relaxed) + 100;
        if !(force || idle) {
            return;
        }
        // The idle flush never waits for a handler that is writing (it may be blocked on a
        // full pipe): the supervising thread must stay free to see signals and slow readers.
        let mut w = match self.w.try_lock() {
            Ok(w) => w,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) if !force => return,
            Err(std::sync::TryLockError::WouldBlock) => {
                self.w.lock().unwrap_or_else(|e| e.into_inner())
            }
        };
        if self.dirty.swap(false, Ordering::AcqRel) && w.flush().is_err() {
            self.broken.store(true, Ordering::SeqCst);
        }
    }

    /// Whether written records wait for a flush.
    pub fn is_dirty(&self) -> bool {
        self.dirty.load(Ordering::Acquire)
    }

    pub fn count(&self) -> u64 {
        self.records.load(Ordering::SeqCst)
    }
}

impl Out {
    /// The commands' handler: activities and compliance events to stdout; system messages reach
    /// stderr through the observer, and malformed lines are only counted.
    pub fn deliver(&self, d: &Delivery<'_>) -> Flow {
        match d.record().kind() {
            RecordKind::Activity | RecordKind::Compliance(_) => self.record(d.record().bytes()),
            _ => Flow::Continue,
        }
    }
}

//! The NDJSON sink: activities and compliance events, byte for byte, one a line, through one
//! buffer that every partition shares (stdout for the command), with a record limit, a
//! count-only mode, and a quiet stop when the reader goes away.

use std::io::{BufWriter, Stdout, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use crate::client::{Delivery, Flow, Handler};
use crate::core::RecordKind;

/// The buffer in front of the writer: large enough that a busy stream writes in big pieces.
const BUFFER: usize = 64 * 1024;
/// A buffer that has not been written to for this long is flushed by [`NdjsonSink::flush`].
const IDLE_FLUSH_MS: u64 = 100;

/// Records as NDJSON into one writer shared by every partition; flushed when the stream goes
/// idle ([`NdjsonSink::flush`]) and at the end. System messages and malformed lines are not
/// written (the command says system messages on stderr through the observer).
///
/// ```
/// use gnip_stream::client::Flow;
/// use gnip_stream::sink::NdjsonSink;
/// let sink = NdjsonSink::new(Vec::new(), Some(2), false);
/// assert_eq!(sink.record(br#"{"id":1}"#), Flow::Continue);
/// assert_eq!(sink.record(br#"{"id":2}"#), Flow::Stop); // the limit: stop after this one
/// assert_eq!(sink.count(), 2);
/// assert_eq!(sink.into_inner(), b"{\"id\":1}\n{\"id\":2}\n");
/// ```
#[derive(Debug)]
pub struct NdjsonSink<W: Write + Send = Stdout> {
    w: Mutex<BufWriter<W>>,
    records: AtomicU64,
    max: Option<u64>,
    count_only: bool,
    dirty: AtomicBool,
    broken: AtomicBool,
    started: Instant,
    last_write_ms: AtomicU64,
}

impl NdjsonSink<Stdout> {
    /// The command's sink: stdout, at most `max` records (then [`Flow::Stop`]); with
    /// `count_only`, records are counted and not written.
    pub fn stdout(max: Option<u64>, count_only: bool) -> Self {
        NdjsonSink::new(std::io::stdout(), max, count_only)
    }
}

impl<W: Write + Send> NdjsonSink<W> {
    /// A sink writing to `w` (see [`NdjsonSink::stdout`] for `max` and `count_only`).
    pub fn new(w: W, max: Option<u64>, count_only: bool) -> Self {
        NdjsonSink {
            w: Mutex::new(BufWriter::with_capacity(BUFFER, w)),
            records: AtomicU64::new(0),
            max,
            count_only,
            dirty: AtomicBool::new(false),
            broken: AtomicBool::new(false),
            started: Instant::now(),
            last_write_ms: AtomicU64::new(0),
        }
    }

    /// Writes one record and its `\n`. [`Flow::Stop`] at the limit (the record that reaches it
    /// is written; one past it, from another partition at the same moment, is not) and when
    /// the writer fails (a reader that went away, e.g. `| head`: see [`NdjsonSink::is_broken`]).
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

    /// Hands activities and compliance events to [`NdjsonSink::record`]; everything else goes on.
    pub fn deliver(&self, d: &Delivery<'_>) -> Flow {
        match d.record().kind() {
            RecordKind::Activity | RecordKind::Compliance(_) => self.record(d.record().bytes()),
            _ => Flow::Continue,
        }
    }

    /// Flushes once nothing has been written for 100 ms (or always, when `force`).
    pub fn flush(&self, force: bool) {
        let idle = self.started.elapsed().as_millis() as u64
            >= self.last_write_ms.load(Ordering::Relaxed) + IDLE_FLUSH_MS;
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

    /// Whether writing failed (the reader went away).
    pub fn is_broken(&self) -> bool {
        self.broken.load(Ordering::SeqCst)
    }

    /// Records taken so far (written, or counted with `count_only`).
    pub fn count(&self) -> u64 {
        self.records.load(Ordering::SeqCst)
    }

    /// Flushes and returns the writer (a flush error leaves what was written).
    pub fn into_inner(self) -> W {
        let w = self.w.into_inner().unwrap_or_else(|e| e.into_inner());
        match w.into_inner() {
            Ok(w) => w,
            Err(e) => e.into_inner().into_parts().0,
        }
    }
}

impl<W: Write + Send> Handler for NdjsonSink<W> {
    fn on_record(&self, delivery: &Delivery<'_>) -> Flow {
        self.deliver(delivery)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that fails after `ok` writes, like a pipe whose reader left.
    struct Closing {
        ok: usize,
    }

    impl Write for Closing {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.ok == 0 {
                return Err(std::io::ErrorKind::BrokenPipe.into());
            }
            self.ok -= 1;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.write(b"").map(|_| ())
        }
    }

    #[test]
    fn records_are_written_byte_exact_one_a_line() {
        let sink = NdjsonSink::new(Vec::new(), None, false);
        for r in [&b"{\"a\":1}"[..], b"{\"b\":\"\\u00e9\"}"] {
            assert_eq!(sink.record(r), Flow::Continue);
        }
        assert!(sink.is_dirty());
        sink.flush(true);
        assert!(!sink.is_dirty());
        assert_eq!(sink.into_inner(), b"{\"a\":1}\n{\"b\":\"\\u00e9\"}\n");
    }

    #[test]
    fn the_limit_stops_at_exactly_max_records() {
        let sink = NdjsonSink::new(Vec::new(), Some(1), false);
        assert_eq!(sink.record(b"1"), Flow::Stop);
        assert_eq!(sink.record(b"2"), Flow::Stop, "past the limit: not written");
        assert_eq!(sink.count(), 1);
        assert_eq!(sink.into_inner(), b"1\n");
    }

    #[test]
    fn count_only_writes_nothing() {
        let sink = NdjsonSink::new(Vec::new(), None, true);
        sink.record(b"1");
        sink.record(b"2");
        assert_eq!(sink.count(), 2);
        assert!(sink.into_inner().is_empty());
    }

    #[test]
    fn a_reader_that_went_away_stops_the_stream_quietly() {
        // The buffer holds small records: the failure shows at the flush.
        let sink = NdjsonSink::new(Closing { ok: 0 }, None, false);
        assert_eq!(sink.record(b"1"), Flow::Continue);
        sink.flush(true);
        assert!(sink.is_broken());
        // A record larger than the buffer goes straight to the writer and fails there.
        let sink = NdjsonSink::new(Closing { ok: 0 }, None, false);
        assert_eq!(sink.record(&vec![b'x'; BUFFER + 1]), Flow::Stop);
        assert!(sink.is_broken());
    }
}

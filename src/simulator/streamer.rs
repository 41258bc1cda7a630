//! One streaming response: compresses, frames in chunks, applies the scripted faults, and
//! writes without blocking for long (what a slow reader does not take is its backlog).

use std::io;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use super::config::{Connection, Fault};
use super::http;
use super::state::{Shared, TICK};
use crate::core::{GzipEncoder, Level};
use crate::protocol::messages;
use crate::rng::Rng;

/// Why a stream ended (for the connection thread; the client sees only bytes).
#[derive(Debug)]
pub(super) enum End {
    Stopped,
    Dropped,
    Closed,
    Io,
}

impl From<io::Error> for End {
    fn from(_: io::Error) -> End {
        End::Io
    }
}

/// One streaming response: compresses, frames, applies the faults, writes without blocking
/// for long.
pub(super) struct Streamer<'a> {
    pub(super) shared: &'a Shared,
    pub(super) conn: Box<dyn Connection>,
    pub(super) raw: Option<TcpStream>,
    pub(super) enc: GzipEncoder,
    pub(super) wire: Vec<u8>,
    pub(super) framed: Vec<u8>,
    pub(super) pending: Vec<u8>,
    pub(super) body_bytes: u64,
    pub(super) records: u64,
    pub(super) drop_after: Option<u64>,
    pub(super) corrupt_after: Option<u64>,
    /// The deflate stream is broken: every byte from here on is inverted.
    pub(super) corrupting: bool,
    pub(super) stall: Option<(u64, Duration)>,
    pub(super) drop_mid_record: Option<u64>,
    pub(super) backlog_limit: usize,
    pub(super) prelude: Vec<u8>,
    pub(super) random_chunks: Option<Rng>,
    /// This connection's number (from 1).
    pub(super) number: u64,
    /// Send the forced-disconnect message and close at the next step.
    pub(super) force_disconnect: bool,
    /// Varies batch sizes and pauses, so that redundant connections see their own timing and
    /// chunking.
    pub(super) jitter: Option<Rng>,
    /// Replay minutes to leave out and report failed.
    pub(super) replay_failed: Vec<i64>,
    /// Where a Replay stops and reports the rest unprocessed.
    pub(super) replay_stops_at: Option<i64>,
    /// An X API v2 stream: its messages are `{"errors":[…]}` lines, its jobs end with the body.
    pub(super) v2: bool,
    /// The body goes out uncompressed (the request did not accept gzip; X API v2 only).
    pub(super) identity: bool,
}

impl<'a> Streamer<'a> {
    pub(super) fn new(
        number: u64,
        shared: &'a Shared,
        conn: Box<dyn Connection>,
        raw: Option<TcpStream>,
        faults: &[Fault],
    ) -> Self {
        let mut s = Streamer {
            shared,
            conn,
            raw,
            enc: GzipEncoder::new(shared.config.level),
            wire: Vec::new(),
            framed: Vec::new(),
            pending: Vec::new(),
            body_bytes: 0,
            records: 0,
            drop_after: None,
            corrupt_after: None,
            corrupting: false,
            stall: None,
            drop_mid_record: None,
            backlog_limit: shared.config.backlog_limit,
            prelude: Vec::new(),
            random_chunks: None,
            number,
            force_disconnect: false,
            jitter: None,
            replay_failed: Vec::new(),
            replay_stops_at: None,
            v2: false,
            identity: false,
        };
        for f in faults {
            match f {
                Fault::DropAfter { bytes } => s.drop_after = Some(*bytes),
                Fault::CorruptAfter { bytes } => s.corrupt_after = Some(*bytes),
                Fault::Stall {
                    after_records,
                    duration,
                } => s.stall = Some((*after_records, *duration)),
                Fault::DropMidRecord { after_records } => s.drop_mid_record = Some(*after_records),
                Fault::BufferLimit { bytes } => s.backlog_limit = *bytes,
                Fault::RandomChunks { seed } => s.random_chunks = Some(Rng::new(*seed)),
                Fault::BareNewlineSystemMessage => {
                    let m = messages::system_message(
                        Level::Info,
                        "This system message ends in a bare newline",
                        shared.now_secs(),
                        "",
                    );
                    s.prelude.extend_from_slice(m.as_bytes());
                    s.prelude.push(b'\n');
                }
                Fault::OverlongRecord { bytes } => {
                    s.prelude.extend_from_slice(b"{\"overlong\":\"");
                    // `{"overlong":"` + filler + `"}` is exactly `bytes` long.
                    s.prelude
                        .resize(s.prelude.len() + bytes.saturating_sub(15), b'x');
                    s.prelude.extend_from_slice(b"\"}\r\n");
                }
                Fault::ForcedDisconnect => s.force_disconnect = true,
                Fault::ReplayMinutesFailed { minutes } => s.replay_failed.extend(minutes),
                Fault::ReplayStopsAt { at } => s.replay_stops_at = Some(*at),
                Fault::Status { .. } | Fault::DelayHead { .. } => {}
            }
        }
        s
    }

    /// Applies the faults [`Simulator::disrupt`](super::Simulator::disrupt) aimed at this live
    /// connection since the last step. `Err` when one ends the stream at once.
    pub(super) fn take_disruptions(&mut self) -> Result<(), End> {
        if self.shared.disruptions_pending.load(Ordering::Relaxed) == 0 {
            return Ok(());
        }
        let faults = {
            let mut all = super::state::lock(&self.shared.disruptions);
            let mine = all.remove(&self.number).unwrap_or_default();
            self.shared
                .disruptions_pending
                .store(all.len(), Ordering::Relaxed);
            mine
        };
        for f in faults {
            match f {
                Fault::DropMidRecord { .. } => self.drop_mid_record = Some(self.records + 1),
                Fault::DropAfter { .. } => self.drop_after = Some(self.body_bytes),
                Fault::Stall { duration, .. } => self.stall = Some((self.records, duration)),
                Fault::CorruptAfter { .. } => self.corrupt_after = Some(self.body_bytes + 16),
                Fault::BufferLimit { .. } => return Err(self.slow_reader()),
                Fault::ForcedDisconnect => self.force_disconnect = true,
                _ => {}
            }
        }
        Ok(())
    }

    pub(super) fn stopped(&self) -> bool {
        self.shared.stop.load(Ordering::SeqCst)
    }

    /// Writes bytes as they are (the response head).
    pub(super) fn write_raw(&mut self, bytes: &[u8]) -> Result<(), End> {
        self.pending.extend_from_slice(bytes);
        self.flush_pending()
    }

    /// Writes what is waiting, until the socket stops taking bytes for a tick. What it does not
    /// take stays waiting: that is the backlog a slow reader builds.
    pub(super) fn flush_pending(&mut self) -> Result<(), End> {
        let mut written = 0;
        while written < self.pending.len() {
            match self.conn.write(&self.pending[written..]) {
                Ok(0) => return Err(End::Io),
                Ok(k) => written += k,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(End::Io),
            }
        }
        self.pending.drain(..written);
        let _ = self.conn.flush();
        if self.pending.len() > self.backlog_limit {
            return Err(self.slow_reader());
        }
        Ok(())
    }

    /// The service's answer to a client that cannot keep up (protocol.md): an error message
    /// after everything already queued (so it "may never arrive"), then the socket closes.
    pub(super) fn slow_reader(&mut self) -> End {
        let ip = self
            .raw
            .as_ref()
            .and_then(|r| r.peer_addr().ok())
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        let m = if self.v2 {
            crate::protocol::v2::problems::disconnect_line(
                "SlowReader",
                &messages::slow_reader(&ip, self.backlog_limit),
            )
        } else {
            messages::system_message(
                Level::Error,
                &messages::slow_reader(&ip, self.backlog_limit),
                self.shared.now_secs(),
                "",
            )
        };
        let line = format!("{m}\r\n");
        let body = if self.identity {
            line.into_bytes()
        } else {
            self.wire.clear();
            self.enc.write_flush(line.as_bytes(), &mut self.wire);
            std::mem::take(&mut self.wire)
        };
        http::chunk(&body, &mut self.pending);
        // One last try to get something out, then close whatever happened.
        let _ = self.conn.write(&self.pending);
        self.close();
        End::Closed
    }

    /// Closes the socket. The connection leaves the live streams first, so that a client that
    /// reconnects the moment it sees the close never finds it still counted.
    pub(super) fn close(&mut self) {
        super::state::lock(&self.shared.streaming).remove(&self.number);
        if let Some(r) = &self.raw {
            let _ = r.shutdown(Shutdown::Both);
        }
    }

    /// Compresses `plain` with a sync flush and sends it as one chunk.
    pub(super) fn send(&mut self, plain: &[u8]) -> Result<(), End> {
        if self.identity {
            return self.send_body(plain);
        }
        self.wire.clear();
        self.enc.write_flush(plain, &mut self.wire);
        let body = std::mem::take(&mut self.wire);
        let r = self.send_body(&body);
        self.wire = body;
        r
    }

    /// Sends compressed body bytes, applying the corrupt and drop faults.
    pub(super) fn send_body(&mut self, body: &[u8]) -> Result<(), End> {
        let mut body = std::borrow::Cow::Borrowed(body);
        if self.corrupting {
            for b in body.to_mut().iter_mut() {
                *b = !*b;
            }
        } else if let Some(at) = self.corrupt_after {
            // Every write ends on a flush point (byte-aligned, between blocks): after the one
            // that reaches `at`, a block header with BFINAL set and the reserved type 11.
            if at < self.body_bytes + body.len() as u64 {
                body.to_mut().push(0b0000_0111);
                self.corrupting = true;
            }
        }
        let mut cut = None;
        if let Some(at) = self.drop_after {
            let keep = usize::try_from(at.saturating_sub(self.body_bytes)).unwrap_or(usize::MAX);
            if keep <= body.len() {
                cut = Some(keep);
            }
        }
        let send = &body[..cut.unwrap_or(body.len())];
        self.body_bytes += send.len() as u64;
        let mut r = Ok(());
        if let Some(mut rng) = self.random_chunks.take() {
            let mut rest = send;
            while !rest.is_empty() && r.is_ok() {
                let n = (1 + rng.below(4096) as usize).min(rest.len());
                http::chunk(&rest[..n], &mut self.pending);
                rest = &rest[n..];
                r = self.flush_pending();
            }
            self.random_chunks = Some(rng);
        } else {
            self.framed.clear();
            http::chunk(send, &mut self.framed);
            let framed = std::mem::take(&mut self.framed);
            self.pending.extend_from_slice(&framed);
            self.framed = framed;
            r = self.flush_pending();
        }
        if cut.is_some() {
            // Everything up to the cut, then the socket drops: get it out if we can.
            let deadline = Instant::now() + Duration::from_secs(2);
            while !self.pending.is_empty() && Instant::now() < deadline && r.is_ok() {
                if self.flush_pending().is_err() {
                    break;
                }
            }
            self.close();
            return Err(End::Dropped);
        }
        r
    }

    /// Sleeps up to `d`, waking every tick to see whether the simulator stops.
    pub(super) fn pause(&self, d: Duration) -> Result<(), End> {
        let until = Instant::now() + d;
        loop {
            if self.stopped() {
                return Err(End::Stopped);
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            thread::sleep(left.min(TICK));
        }
    }

    pub(super) fn stall_if_due(&mut self) -> Result<(), End> {
        if let Some((after, d)) = self.stall {
            if self.records >= after {
                self.stall = None;
                self.pause(d)?;
            }
        }
        Ok(())
    }

    /// Ends a finite stream (Replay, Recovery): what is in `batch`, then the completion
    /// `message` with `extra` members, then the gzip member's end (deflate final block, CRC-32,
    /// ISIZE: a finite stream's trailer does arrive) and the last chunk.
    pub(super) fn finish_job(
        &mut self,
        mut batch: Vec<u8>,
        message: &str,
        extra: &str,
    ) -> Result<(), End> {
        let done = messages::system_message(Level::Info, message, self.shared.now_secs(), extra);
        batch.extend_from_slice(done.as_bytes());
        batch.extend_from_slice(b"\r\n");
        self.finish_body(batch)
    }

    /// Ends a finite stream without a completion message (X API v2 Recovery): `batch`, the
    /// gzip member's end when compressed, the last chunk.
    pub(super) fn finish_body(&mut self, batch: Vec<u8>) -> Result<(), End> {
        self.send(&batch)?;
        if !self.identity {
            self.wire.clear();
            self.enc.finish(&mut self.wire);
            let tail = std::mem::take(&mut self.wire);
            self.send_body(&tail)?;
        }
        self.write_raw(http::LAST_CHUNK)?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.pending.is_empty() && Instant::now() < deadline {
            self.flush_pending()?;
        }
        Ok(())
    }

    pub(super) fn start_body(&mut self) -> Result<(), End> {
        // The gzip header goes out at once, as a flushing server's does.
        self.send(b"")?;
        if !self.prelude.is_empty() {
            let prelude = std::mem::take(&mut self.prelude);
            self.send(&prelude)?;
        }
        Ok(())
    }
}

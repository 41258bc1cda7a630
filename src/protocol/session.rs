//! One connection's life as a value, sans-IO: the response head, body bytes, instants and the
//! end of the body go in; records go out to an [`Output`], and the session decides how (and
//! whether) the connection ends.
//!
//! The IO loop reads the socket and the clock and hands both in; everything that decides is
//! here: the decoder, which line is a record, a heartbeat or a system message, what a system
//! message means (the service closing the connection, a Replay or Recovery job completing),
//! Replay's resume de-duplication, the stall timeout, corrupt versus truncated bodies, and a
//! handler's [`Flow::Stop`]. Across the connections of one reconnect loop it also remembers the
//! last byte (for backfill sizing) and the job's resume point and completion summary.
//!
//! ```text
//!              on_head(200, now)                   on_bytes(…, now) ─┐ records, heartbeats,
//!   ┌──────┐ ───────────────────▶ ┌───────────┐ ◀────────────────────┘ system messages
//!   │ Idle │                      │ Streaming │ ── "closing" message: same state, and a later
//!   └──────┘ ◀─────────────────── └───────────┘    eof/error ends ForcedDisconnect
//!     │  ▲        End: on_eof, on_error, on_tick past the stall timeout, a corrupt body,
//!     │  │        a completion message (job), Flow::Stop, on_stop
//!     │  └─────────────────────── on_refused(status, body): End Http(status)
//!     └─ on_head(status ≠ 200, now) ─▶ Head::Refused (read the error body, then on_refused)
//! ```
//!
//! Every operation that ends the connection returns an [`End`] and leaves the session `Idle`,
//! ready for the next connection; feeding bytes to an idle session is a no-op.

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use crate::Error;
use crate::core::{
    BodyEncoding, DecoderConfig, Event, FrameDecoder, Level, Record, RecordKind, gunzip_capped,
};
use crate::protocol::dialect::{Dialect, Line};
use crate::protocol::messages::Meaning;
use crate::protocol::policy::{Ending, backfill_minutes};
use crate::protocol::replay::{ReplayResume, ReplaySummary};

/// The most of an error body that is read for its message (the service's are a few hundred
/// bytes; more is not a message).
pub const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// What the handler wants after a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep streaming.
    Continue,
    /// Stop this client: every partition ends (as the stop handle does). No record after this
    /// one is handed to the handler, not even one from the same read.
    Stop,
}

/// A line the session passes over without handing it to [`Output::on_record`], for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skipped {
    /// A keep-alive (an empty line).
    Heartbeat,
    /// A record over the decoder's maximum, skipped; the stream goes on.
    Overlong {
        /// Its length in bytes.
        len: u64,
    },
    /// The body ended (or broke, or stalled) inside a record, which was dropped.
    Incomplete {
        /// The bytes of it that had arrived.
        len: u64,
    },
    /// A Replay/Recovery record an earlier connection of the job already handed out.
    Resent,
}

/// Where a session's records go: the IO shell's statistics, de-duplication and the user's
/// handler. Called on the connection's thread, in stream order.
pub trait Output {
    /// A record to hand on (activities, compliance events, system messages, malformed lines);
    /// [`Flow::Stop`] ends the connection at this record.
    fn on_record(&mut self, record: &Record<'_>) -> Flow;
    /// A system message, before it goes to [`Output::on_record`] (for the log and observers).
    fn on_system(&mut self, _level: Level, _text: &str) {}
    /// A line that is not handed on.
    fn on_skipped(&mut self, _what: Skipped) {}
}

/// How a connection ended, and whether any body byte arrived on it.
#[derive(Debug, Clone, PartialEq)]
pub struct End {
    /// The ending, for the policy table.
    pub ending: Ending,
    /// The error behind it, if there was one.
    pub error: Option<Error>,
    /// Whether any body byte arrived (a connection that delivered resets the backoff).
    pub delivered: bool,
}

impl End {
    /// A connection that failed before any body: the request, the network or TLS.
    pub fn failed(ending: Ending, error: Error) -> End {
        End {
            ending,
            error: Some(error),
            delivered: false,
        }
    }
}

/// What to do after the response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    /// 200: read the body and feed it to [`Session::on_bytes`].
    Stream,
    /// Anything else: read at most [`ERROR_BODY_LIMIT`] bytes of the body (briefly), then
    /// [`Session::on_refused`].
    Refused,
}

/// What one [`Session::on_bytes`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Fed {
    /// Inflated bytes these body bytes gave.
    pub inflated: u64,
    /// Whether any record was handed on (the shell stamps the last-record time once per read).
    pub records: bool,
    /// The connection ended here (corrupt body, completion, [`Flow::Stop`]).
    pub end: Option<End>,
}

/// How a session is set up; one per reconnect loop.
#[derive(Debug, Clone, Copy)]
pub struct SessionConfig {
    /// The service dialect: what a line is, what an error body says.
    pub dialect: Dialect,
    /// The decoder's limits.
    pub decoder: DecoderConfig,
    /// No byte for this long ends the connection as [`Ending::Stalled`].
    pub stall_timeout: Duration,
    /// A Replay or Recovery job over `[from, to)` (Unix seconds): its completion message ends
    /// the connection, and a resumed connection drops what an earlier one handed out. Record
    /// times outside the range are not trusted for the resume point (a far-future `created_at`
    /// would make the job ask for `from > to` and drop everything after a resume).
    pub job: Option<(i64, i64)>,
    /// `backfillMinutes` for the first connection (0: none).
    pub backfill_on_start: u8,
    /// The most `backfillMinutes` a reconnect asks for (0: backfill off).
    pub backfill_max: u8,
}

/// Per-connection state: the session is `Idle` between connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Streaming {
        /// The service said it is closing this connection.
        closing: bool,
        /// A body byte arrived.
        delivered: bool,
    },
}

/// What one decoder callback left behind; kept apart from the decoder to borrow both.
struct Steps<'a, O: Output> {
    out: &'a mut O,
    dialect: Dialect,
    job: bool,
    resume: &'a mut ReplayResume,
    summary: &'a mut Option<ReplaySummary>,
    closing: bool,
    disconnected: bool,
    completed: bool,
    stopped: bool,
    records: bool,
}

impl<O: Output> Steps<'_, O> {
    /// Whether a job's record was handed out by an earlier connection of the job.
    fn is_resent(&mut self, record: &Record<'_>) -> bool {
        let (key, time) = match self.dialect.record_key_and_time(record) {
            Some((k, t)) => (Some(k), t),
            None => (None, None),
        };
        self.resume.is_duplicate_timed(record, key, time)
    }

    fn on(&mut self, e: Event<'_>) -> ControlFlow<()> {
        let record = match e {
            Event::Heartbeat => {
                self.out.on_skipped(Skipped::Heartbeat);
                return ControlFlow::Continue(());
            }
            Event::Overlong { len } => {
                self.out.on_skipped(Skipped::Overlong { len });
                return ControlFlow::Continue(());
            }
            Event::Incomplete { len } => {
                self.out.on_skipped(Skipped::Incomplete { len });
                return ControlFlow::Continue(());
            }
            Event::Record(r) => self.dialect.classify(r),
        };
        match self.dialect.line(&record) {
            Line::System {
                level,
                text,
                meaning,
            } => {
                let disconnect = meaning == Meaning::Disconnect;
                match meaning {
                    Meaning::ClosingConnection => self.closing = true,
                    Meaning::Disconnect => self.disconnected = true,
                    Meaning::ReplayCompleted if self.job => {
                        self.completed = true;
                        *self.summary = Some(ReplaySummary::parse(record.bytes(), &text));
                    }
                    _ => {}
                }
                self.out.on_system(level, &text);
                if disconnect {
                    // The service ended the stream: nothing after this line is read.
                    self.records = true;
                    if self.out.on_record(&record) == Flow::Stop {
                        self.stopped = true;
                    }
                    return ControlFlow::Break(());
                }
            }
            Line::Data
                if self.job
                    && matches!(
                        record.kind(),
                        RecordKind::Activity | RecordKind::Compliance(_)
                    )
                    && self.is_resent(&record) =>
            {
                self.out.on_skipped(Skipped::Resent);
                return ControlFlow::Continue(());
            }
            Line::Data => {}
        }
        self.records = true;
        if self.out.on_record(&record) == Flow::Stop {
            self.stopped = true;
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }
}

/// One reconnect loop's connections, one at a time (see the module's diagram).
#[derive(Debug)]
pub struct Session {
    decoder: FrameDecoder,
    config: SessionConfig,
    state: State,
    /// The last byte of any response (head or body), across connections.
    last_byte: Option<Instant>,
    resume: ReplayResume,
    summary: Option<ReplaySummary>,
}

impl Session {
    /// A session for `config` (the decoder's configuration is checked).
    pub fn new(config: SessionConfig) -> Result<Session, Error> {
        Ok(Session {
            decoder: FrameDecoder::with_config(config.decoder)?,
            config,
            state: State::Idle,
            last_byte: None,
            resume: match config.job {
                Some((from, to)) => ReplayResume::default().within(from, to),
                None => ReplayResume::default(),
            },
            summary: None,
        })
    }

    /// `backfillMinutes` for the next connection at `now`: none for a job; the configured
    /// first backfill before anything arrived; else the gap since the last byte, sized by the
    /// policy.
    pub fn backfill(&self, now: Instant) -> Option<u8> {
        if self.config.job.is_some() {
            return None;
        }
        match self.last_byte {
            None => (self.config.backfill_on_start > 0).then_some(self.config.backfill_on_start),
            Some(t) => backfill_minutes(now.saturating_duration_since(t), self.config.backfill_max),
        }
    }

    /// The minute (Unix seconds) a resumed job asks for: that of its last record.
    pub fn resume_from(&self) -> Option<i64> {
        self.resume.resume_from()
    }

    /// The job's completion summary, once its completion message arrived.
    pub fn summary(&self) -> Option<&ReplaySummary> {
        self.summary.as_ref()
    }

    /// Takes the completion summary out.
    pub fn take_summary(&mut self) -> Option<ReplaySummary> {
        self.summary.take()
    }

    /// Whether a connection is streaming.
    pub fn is_streaming(&self) -> bool {
        matches!(self.state, State::Streaming { .. })
    }

    /// The response head arrived at `now` with `status`; a body follows in `encoding` (its
    /// `Content-Encoding`).
    pub fn on_head(&mut self, status: u16, encoding: BodyEncoding, now: Instant) -> Head {
        // The head is the response's first bytes: a stall is counted from here.
        self.last_byte = Some(now);
        if status != 200 {
            return Head::Refused;
        }
        self.decoder.begin(encoding);
        self.resume.start_connection();
        self.state = State::Streaming {
            closing: false,
            delivered: false,
        };
        Head::Stream
    }

    /// The error body of a refused request (its first bytes; `gzip` when the response said
    /// `Content-Encoding: gzip`): the service's message becomes the error, and the dialect
    /// reads what kind of refusal it is (`reset_in_secs`: the response's rate-limit reset, in
    /// seconds from now).
    pub fn on_refused(
        &mut self,
        status: u16,
        body: &[u8],
        gzip: bool,
        reset_in_secs: Option<u32>,
    ) -> End {
        self.state = State::Idle;
        let body = &body[..body.len().min(ERROR_BODY_LIMIT)];
        let dialect = self.config.dialect;
        // Inflated to at most ERROR_BODY_LIMIT too (a gzip bomb is not read further); a body
        // that does not inflate (cut, corrupt, too big) says nothing: the status decides.
        let plain;
        let body = if gzip {
            plain = gunzip_capped(body, ERROR_BODY_LIMIT, false).unwrap_or_default();
            &plain[..]
        } else {
            body
        };
        let text = dialect.error_message(status, body);
        let ending = dialect
            .refusal(status, body, reset_in_secs)
            .map_or(Ending::Http(status), Ending::Refused);
        End::failed(
            ending,
            Error::Http {
                status,
                message: text.into(),
            },
        )
    }

    /// Body bytes arrived at `now`.
    pub fn on_bytes(&mut self, bytes: &[u8], now: Instant, out: &mut impl Output) -> Fed {
        let State::Streaming { closing, .. } = self.state else {
            return Fed {
                inflated: 0,
                records: false,
                end: None,
            };
        };
        self.last_byte = Some(now);
        let before = self.decoder.bytes_out();
        let mut steps = Steps {
            out,
            dialect: self.config.dialect,
            job: self.config.job.is_some(),
            resume: &mut self.resume,
            summary: &mut self.summary,
            closing,
            disconnected: false,
            completed: false,
            stopped: false,
            records: false,
        };
        let fed = self.decoder.feed_until(bytes, |e| steps.on(e));
        let (closing, disconnected, completed, stopped, records) = (
            steps.closing,
            steps.disconnected,
            steps.completed,
            steps.stopped,
            steps.records,
        );
        let inflated = self.decoder.bytes_out().saturating_sub(before);
        // A body byte arrived; a closing message in it marks the connection.
        self.state = State::Streaming {
            closing,
            delivered: true,
        };
        let end = if stopped {
            // The handler asked, at that record: nothing after it, even from this read.
            Some(self.end(Ending::Stopped, None))
        } else if let Err(e) = fed {
            Some(self.end(Ending::CorruptStream, Some(e)))
        } else if completed {
            Some(self.end(Ending::ReplayCompleted, None))
        } else if disconnected {
            Some(self.end(Ending::ForcedDisconnect, None))
        } else {
            None
        };
        Fed {
            inflated,
            records,
            end,
        }
    }

    /// The clock at `now` with no byte since the last one: past the stall timeout the
    /// connection ends as [`Ending::Stalled`] (a record cut short is dropped and reported).
    pub fn on_tick(&mut self, now: Instant, out: &mut impl Output) -> Option<End> {
        if !self.is_streaming() {
            return None;
        }
        let idle = now.saturating_duration_since(self.last_byte?);
        if idle < self.config.stall_timeout {
            return None;
        }
        self.drop_partial(out);
        Some(self.end(Ending::Stalled, Some(Error::Stalled { idle })))
    }

    /// The body ended cleanly (the server closed it). A live body always ends inside its gzip
    /// member, which is no error; a completed job's body is complete. In a dialect whose jobs
    /// end with their body (X API v2 Recovery), a job's body that ends complete (identity, or
    /// its gzip member whole) is the job's completion.
    pub fn on_eof(&mut self, out: &mut impl Output) -> End {
        let closing = matches!(self.state, State::Streaming { closing: true, .. });
        let finished = self.decoder.finish(|e| {
            if let Event::Incomplete { len } = e {
                out.on_skipped(Skipped::Incomplete { len });
            }
        });
        let complete_job = self.config.job.is_some()
            && self.config.dialect.job_ends_with_body()
            && finished.is_ok()
            && matches!(self.state, State::Streaming { .. });
        let ending = if complete_job {
            Ending::ReplayCompleted
        } else if closing {
            Ending::ForcedDisconnect
        } else {
            Ending::Dropped
        };
        let error = finished.err().filter(|e| *e != Error::Truncated);
        self.end(ending, error)
    }

    /// Reading the body failed with `error` (not a read tick: those are [`Session::on_tick`]).
    pub fn on_error(&mut self, error: Error, out: &mut impl Output) -> End {
        let closing = matches!(self.state, State::Streaming { closing: true, .. });
        self.drop_partial(out);
        let ending = if closing {
            Ending::ForcedDisconnect
        } else {
            Ending::Dropped
        };
        self.end(ending, Some(error))
    }

    /// The client was asked to stop: the connection ends as [`Ending::Stopped`].
    pub fn on_stop(&mut self) -> End {
        self.end(Ending::Stopped, None)
    }

    fn drop_partial(&mut self, out: &mut impl Output) {
        if let Some(len) = self.decoder.reset() {
            out.on_skipped(Skipped::Incomplete { len });
        }
    }

    fn end(&mut self, ending: Ending, error: Option<Error>) -> End {
        let delivered = matches!(
            self.state,
            State::Streaming {
                delivered: true,
                ..
            }
        );
        self.decoder.reset();
        self.state = State::Idle;
        End {
            ending,
            error,
            delivered,
        }
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;

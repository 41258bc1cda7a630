//! One connection's thread (of a partition's 1 to 4): the reconnect loop and the IO of each
//! attempt. It books every attempt with the shared connection-rate limiter, sends the request,
//! feeds the head, the body bytes and the clock to the connection's [`Session`] (which decides
//! what they mean and when the connection ends), and asks the policy table what follows.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use std::io::Read;

use super::config::ClientConfig;
use super::deliver::Deliver;
use super::handler::{ClientEvent, Events, Handler, StopHandle};
use super::http::{authorization, classify_ureq, io_error, is_read_tick};
use super::stats::PartitionStats;
use crate::Error;
use crate::core::BodyEncoding;
use crate::protocol::dedupe::DedupeWindow;
use crate::protocol::endpoint::StreamQuery;
use crate::protocol::policy::{ConnectRateLimiter, Decision, Ending, Reconnect};
use crate::protocol::replay::ReplaySummary;
use crate::protocol::session::{ERROR_BODY_LIMIT, End, Head, Session, SessionConfig};
use crate::rng::Rng;

type SharedLimiter = Arc<Mutex<ConnectRateLimiter>>;

/// One limiter per stream URL and partition, for the whole process: two clients (redundant
/// connections) to the same stream share it, so together they stay under the limit.
/// protocol.md gives the limits per product without saying whether they count per partition;
/// per partition is assumed, since one per product would need two minutes just to open the 20
/// Firehose partitions.
fn limiter_for(config: &ClientConfig, partition: u32) -> SharedLimiter {
    static ALL: OnceLock<Mutex<HashMap<(String, u32), SharedLimiter>>> = OnceLock::new();
    let limit = config
        .dialect
        .connection_limit(config.product, config.replay.is_some() && !config.recovery);
    // X API v2 counts per endpoint: every partition shares one limiter.
    let partition = if config.dialect.limit_per_partition() {
        partition
    } else {
        0
    };
    let mut all = ALL
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    Arc::clone(
        all.entry((config.url.clone(), partition))
            .or_insert_with(|| Arc::new(Mutex::new(ConnectRateLimiter::new(limit)))),
    )
}

/// What one connection's thread returns; [`Running::join`](super::Running::join) merges a
/// partition's.
#[derive(Debug)]
pub(crate) struct ConnectionReport {
    pub ending: Ending,
    pub error: Option<Error>,
    pub replay: Option<ReplaySummary>,
}

/// Everything one connection's thread works with.
pub(crate) struct Connection {
    pub config: Arc<ClientConfig>,
    pub agent: ureq::Agent,
    pub handler: Arc<dyn Handler>,
    pub events: Events,
    pub stop: StopHandle,
    /// The partition's de-duplication window, shared by its connections (when on).
    pub dedupe: Option<Arc<Mutex<DedupeWindow>>>,
    limiter: SharedLimiter,
}

impl Connection {
    pub fn new(
        config: Arc<ClientConfig>,
        agent: ureq::Agent,
        handler: Arc<dyn Handler>,
        events: Events,
        stop: StopHandle,
        dedupe: Option<Arc<Mutex<DedupeWindow>>>,
    ) -> Self {
        let limiter = limiter_for(&config, events.partition);
        Connection {
            config,
            agent,
            handler,
            events,
            stop,
            dedupe,
            limiter,
        }
    }

    fn event(&self, e: ClientEvent) {
        self.events.send(e);
    }

    fn stats(&self) -> &PartitionStats {
        &self.events.stats
    }

    /// Sleeps until `until`, waking every 50 ms for the stop flag. `false` if stopped.
    fn wait_until(&self, until: Instant) -> bool {
        loop {
            if self.stop.is_stopped() {
                return false;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            thread::sleep(left.min(Duration::from_millis(50)));
        }
    }

    fn url(&self, backfill: Option<u8>, session: &Session) -> String {
        let partition = self.events.partition;
        let query = StreamQuery {
            partition: (partition > 0).then_some(partition),
            backfill_minutes: backfill,
            replay: None,
            recovery: None,
        };
        // A job resumes from the minute of its last record (what it had then is dropped).
        let job = self.config.replay.map(|r| {
            let from = session.resume_from().unwrap_or(r.from).clamp(r.from, r.to);
            (from, r.to)
        });
        let query = if self.config.recovery {
            StreamQuery {
                recovery: job,
                ..query
            }
        } else {
            StreamQuery {
                replay: job,
                ..query
            }
        };
        let url = self.config.dialect.url(&self.config.url, &query);
        match (self.config.fields.is_empty(), url.contains('?')) {
            (true, _) => url,
            (false, true) => format!("{url}&{}", self.config.fields),
            (false, false) => format!("{url}?{}", self.config.fields),
        }
    }

    fn set_backoff(&self, wait: Duration) {
        self.stats()
            .conn(self.events.connection)
            .backoff_ms
            .store(wait.as_millis() as u64, Ordering::Relaxed);
    }

    /// Waits out the connection-rate limiter; `false` if stopped meanwhile.
    fn book_attempt(&self) -> bool {
        let now = Instant::now();
        let slot = self
            .limiter
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .reserve(now);
        if slot > now {
            let wait = slot.duration_since(now);
            self.set_backoff(wait);
            self.event(ClientEvent::BackingOff {
                delay: wait,
                kind: None,
            });
            if !self.wait_until(slot) {
                return false;
            }
        }
        self.set_backoff(Duration::ZERO);
        true
    }

    pub fn run(self) -> ConnectionReport {
        let (partition, connection) = (self.events.partition, self.events.connection);
        let mut policy = Reconnect::new(self.config.backoff);
        let mut rng = Rng::new(
            (u64::from(partition) << 8 | u64::from(connection)).wrapping_mul(0x9E37_79B9)
                ^ crate::clock::now_secs() as u64
                ^ u64::from(std::process::id()),
        );
        let config = SessionConfig {
            dialect: self.config.dialect,
            decoder: self.config.decoder_config(),
            stall_timeout: self.config.stall_timeout,
            job: self.config.replay.map(|r| (r.from, r.to)),
            backfill_on_start: self.config.start_backfill(partition),
            backfill_max: self.config.backfill_max,
        };
        // Validated before the threads started.
        let mut session = match Session::new(config) {
            Ok(s) => s,
            Err(e) => {
                return ConnectionReport {
                    ending: Ending::Stopped,
                    error: Some(e),
                    replay: None,
                };
            }
        };
        let mut last_error = None;
        let ending = loop {
            if self.stop.is_stopped() || !self.book_attempt() {
                break Ending::Stopped;
            }
            let backfill = session.backfill(Instant::now());
            let url = self.url(backfill, &session);
            self.event(ClientEvent::Connecting {
                url: url.clone(),
                backfill_minutes: backfill,
            });
            PartitionStats::add(&self.stats().conn(connection).connects, 1);
            let started = Instant::now();
            let mut end = self.attempt(&url, &mut session);
            if self.stop.is_stopped() && end.ending != Ending::ReplayCompleted {
                // Whatever the attempt was doing, it ended because it was asked to.
                end.ending = Ending::Stopped;
                end.error = None;
            }
            PartitionStats::add(
                &self.stats().conn(connection).disconnects[end.ending.index()],
                1,
            );
            self.event(ClientEvent::Disconnected {
                ending: end.ending,
                error: end.error.clone(),
            });
            if end.error.is_some() {
                last_error = end.error.clone();
            }
            let action = self.config.dialect.action_for(end.ending);
            match policy.after_action(action, started.elapsed(), end.delivered, rng.unit()) {
                Decision::Stop => break end.ending,
                Decision::Wait(delay, kind) => {
                    if delay.is_zero() {
                        continue;
                    }
                    self.set_backoff(delay);
                    self.event(ClientEvent::BackingOff { delay, kind });
                    if !self.wait_until(Instant::now() + delay) {
                        break Ending::Stopped;
                    }
                }
            }
        };
        self.set_backoff(Duration::ZERO);
        ConnectionReport {
            ending,
            error: last_error.filter(|_| ending != Ending::ReplayCompleted),
            replay: session.take_summary(),
        }
    }

    /// One connection: the request, its head and body handed to `session` until it ends.
    fn attempt(&self, url: &str, session: &mut Session) -> End {
        let mut req = ureq::http::Request::get(url)
            .header("Accept-Encoding", "gzip")
            .header("Connection", "keep-alive")
            .header("Accept", "application/json");
        if let Some(auth) = authorization(
            self.config.dialect.auth(),
            &self.config.user,
            &self.config.password,
        ) {
            req = req.header("Authorization", auth);
        }
        // The http crate's request (one ureq entry point with the rules and Connections clients).
        let sent = req
            .body(())
            .map_err(ureq::Error::from)
            .and_then(|r| self.agent.run(r));
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                let (ending, error) = classify_ureq(e);
                return End::failed(ending, error);
            }
        };
        let status = resp.status().as_u16();
        let header = |name: &str| resp.headers().get(name).map(|v| v.as_bytes());
        let number = |name: &str| {
            header(name)
                .and_then(|v| std::str::from_utf8(v).ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        // x-rate-limit-reset is Unix seconds: as seconds from now.
        let reset_in = number("x-rate-limit-reset")
            .map(|at| at.saturating_sub(crate::clock::now_secs().max(0) as u64));
        if let (Some(remaining), Some(reset_in)) = (number("x-rate-limit-remaining"), reset_in) {
            self.limiter
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .observe(remaining, Duration::from_secs(reset_in), Instant::now());
        }
        let encoding = BodyEncoding::from_header(header("content-encoding"));
        match session.on_head(status, encoding, Instant::now()) {
            Head::Refused => {
                let gzip = encoding == BodyEncoding::Gzip;
                let body = error_body(resp.into_body().into_reader());
                let reset_in = reset_in.map(|s| s.min(u64::from(u32::MAX)) as u32);
                session.on_refused(status, &body, gzip, reset_in)
            }
            Head::Stream => {
                self.event(ClientEvent::Connected);
                self.read_body(resp.into_body().into_reader(), session)
            }
        }
    }

    /// Reads the body and hands each read (or a read timeout's silence) to `session` until it
    /// says the connection ended, or the client stops (which shuts the socket down: the read
    /// that ends then is the stop, not the server's end).
    fn read_body(&self, mut body: impl Read, session: &mut Session) -> End {
        let connection = self.events.connection;
        let mut out = Deliver {
            dialect: self.config.dialect,
            events: &self.events,
            handler: self.handler.as_ref(),
            dedupe: self.dedupe.as_deref(),
        };
        // 64 KiB a call: fewer places where the compressed input ends mid-block (miniz_oxide's
        // slow path) than 16 KiB, 2% faster end to end (docs/benchmarks.md, 2026-12-05).
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if self.stop.is_stopped() {
                return session.on_stop();
            }
            let read = body.read(&mut buf);
            if !matches!(read, Ok(n) if n > 0) && self.stop.is_stopped() {
                return session.on_stop();
            }
            match read {
                Ok(0) => return session.on_eof(&mut out),
                Ok(n) => {
                    let stats = self.stats();
                    PartitionStats::add(&stats.conn(connection).bytes_wire, n as u64);
                    let fed = session.on_bytes(&buf[..n], Instant::now(), &mut out);
                    if fed.records {
                        stats
                            .last_record_unix_ms
                            .store(crate::clock::now_unix_ms(), Ordering::Relaxed);
                    }
                    PartitionStats::add(&stats.conn(connection).bytes_inflated, fed.inflated);
                    if let Some(end) = fed.end {
                        if end.ending == Ending::Stopped {
                            // The handler asked, at that record: the whole client stops.
                            self.stop.stop();
                        }
                        return end;
                    }
                }
                Err(e) if is_read_tick(&e) => {
                    if let Some(end) = session.on_tick(Instant::now(), &mut out) {
                        return end;
                    }
                }
                Err(e) => return session.on_error(io_error(&e), &mut out),
            }
        }
    }
}

/// The first bytes of an error body, read for at most 2 s and [`ERROR_BODY_LIMIT`] bytes.
fn error_body(mut body: impl Read) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(2);
    while raw.len() < ERROR_BODY_LIMIT && Instant::now() < deadline {
        match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if is_read_tick(&e) => {}
            Err(_) => break,
        }
    }
    raw
}

//! One connection's thread (of a partition's 1 to 4): the reconnect loop. It books every attempt with the shared
//! connection-rate limiter, sizes backfill, runs one attempt ([`conn`](super::conn)), and asks
//! the policy table what follows the ending.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use super::api::{ClientEvent, ConnectionReport, Handler, Observer, StopHandle};
use super::config::ClientConfig;
use super::stats::PartitionStats;
use crate::core::FrameDecoder;
use crate::protocol::dedupe::DedupeWindow;
use crate::protocol::endpoint::StreamQuery;
use crate::protocol::policy::{ConnectRateLimiter, Decision, Ending, Reconnect, backfill_minutes};
use crate::protocol::product::{ConnectionLimit, REPLAY_CONNECTION_LIMIT};
use crate::protocol::replay::{ReplayResume, ReplaySummary};
use crate::rng::Rng;

type SharedLimiter = Arc<Mutex<ConnectRateLimiter>>;

/// One limiter per stream URL and partition, for the whole process: two clients (redundant
/// connections) to the same stream share it, so together they stay under the limit.
/// protocol.md gives the limits per product without saying whether they count per partition;
/// per partition is assumed, since one per product would need two minutes just to open the 20
/// Firehose partitions.
fn limiter_for(config: &ClientConfig, partition: u32) -> SharedLimiter {
    static ALL: OnceLock<Mutex<HashMap<(String, u32), SharedLimiter>>> = OnceLock::new();
    let limit: ConnectionLimit = if config.replay.is_some() && !config.recovery {
        REPLAY_CONNECTION_LIMIT
    } else {
        config.product.connection_limit()
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

/// Replay bookkeeping kept across the connections of one job.
#[derive(Debug, Default)]
pub(crate) struct ReplayProgress {
    pub resume: ReplayResume,
    pub summary: Option<ReplaySummary>,
}

/// Everything one connection's thread works with.
pub(crate) struct Partition {
    pub partition: u32,
    /// Which of the partition's connections this is (from 1).
    pub connection: u8,
    pub config: Arc<ClientConfig>,
    pub agent: ureq::Agent,
    pub handler: Arc<dyn Handler>,
    pub observer: Option<Arc<dyn Observer>>,
    pub stop: StopHandle,
    pub stats: Arc<PartitionStats>,
    /// The partition's de-duplication window, shared by its connections (when on).
    pub dedupe: Option<Arc<Mutex<DedupeWindow>>>,
    limiter: SharedLimiter,
}

impl Partition {
    #[allow(clippy::too_many_arguments)] // one constructor call, in api.rs
    pub fn new(
        partition: u32,
        connection: u8,
        config: Arc<ClientConfig>,
        agent: ureq::Agent,
        handler: Arc<dyn Handler>,
        observer: Option<Arc<dyn Observer>>,
        stop: StopHandle,
        stats: Arc<PartitionStats>,
        dedupe: Option<Arc<Mutex<DedupeWindow>>>,
    ) -> Self {
        let limiter = limiter_for(&config, partition);
        Partition {
            partition,
            connection,
            dedupe,
            config,
            agent,
            handler,
            observer,
            stop,
            stats,
            limiter,
        }
    }

    /// Logs `e` through `log` and hands it to the observer.
    pub fn event(&self, e: ClientEvent) {
        let (p, c) = (self.partition, self.connection);
        match &e {
            ClientEvent::Connected | ClientEvent::Disconnected { .. } => self
                .stats
                .conn(c)
                .connected
                .store(matches!(e, ClientEvent::Connected), Ordering::Relaxed),
            _ => {}
        }
        match &e {
            ClientEvent::Connecting {
                url,
                backfill_minutes,
            } => {
                log::info!("partition {p}/{c}: connecting to {url} (backfill {backfill_minutes:?})")
            }
            ClientEvent::Connected => log::info!("partition {p}/{c}: connected"),
            ClientEvent::Disconnected { ending, error } => match error {
                Some(err) => log::warn!("partition {p}/{c}: {}: {err}", ending.name()),
                None => log::info!("partition {p}/{c}: {}", ending.name()),
            },
            ClientEvent::BackingOff { delay, kind } => {
                log::info!(
                    "partition {p}/{c}: waiting {:.2} s ({kind:?})",
                    delay.as_secs_f64()
                )
            }
            ClientEvent::SystemMessage { level, message } => {
                log::warn!(
                    "partition {p}/{c}: system message ({}): {message}",
                    level.name()
                )
            }
        }
        if let Some(o) = &self.observer {
            o.on_event(p, c, &e);
        }
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

    fn url(&self, backfill: Option<u8>, replay: &ReplayProgress) -> String {
        let query = StreamQuery {
            partition: (self.partition > 0).then_some(self.partition),
            backfill_minutes: backfill,
            replay: None,
            recovery: None,
        };
        // A job resumes from the minute of its last record (what it had then is dropped).
        let job = self.config.replay.map(|r| {
            let from = replay.resume.resume_from().unwrap_or(r.from).max(r.from);
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
        query.apply(&self.config.url)
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
            self.stats
                .conn(self.connection)
                .backoff_ms
                .store(wait.as_millis() as u64, Ordering::Relaxed);
            self.event(ClientEvent::BackingOff {
                delay: wait,
                kind: None,
            });
            if !self.wait_until(slot) {
                return false;
            }
        }
        self.stats
            .conn(self.connection)
            .backoff_ms
            .store(0, Ordering::Relaxed);
        true
    }

    pub fn run(self) -> ConnectionReport {
        let mut policy = Reconnect::new(self.config.backoff);
        let mut rng = Rng::new(
            (u64::from(self.partition) << 8 | u64::from(self.connection)).wrapping_mul(0x9E37_79B9)
                ^ crate::clock::now_secs() as u64
                ^ u64::from(std::process::id()),
        );
        // Validated before the threads started.
        let mut decoder =
            FrameDecoder::with_config(self.config.decoder_config()).unwrap_or_default();
        let mut last_byte: Option<Instant> = None;
        let mut replay = ReplayProgress::default();
        let mut last_error = None;
        let ending = loop {
            if self.stop.is_stopped() || !self.book_attempt() {
                break Ending::Stopped;
            }
            let backfill = match last_byte {
                _ if self.config.replay.is_some() => None,
                // Nothing received yet: the first connection's backfill, if asked for.
                None => {
                    (self.config.backfill_on_start > 0).then_some(self.config.backfill_on_start)
                }
                Some(t) => backfill_minutes(t.elapsed(), self.config.backfill_max),
            };
            let url = self.url(backfill, &replay);
            self.event(ClientEvent::Connecting {
                url: url.clone(),
                backfill_minutes: backfill,
            });
            PartitionStats::add(&self.stats.conn(self.connection).connects, 1);
            let started = Instant::now();
            let mut attempt =
                super::conn::attempt(&self, &url, &mut decoder, &mut last_byte, &mut replay);
            if self.stop.is_stopped() && attempt.ending != Ending::ReplayCompleted {
                // Whatever the attempt was doing, it ended because it was asked to.
                attempt.ending = Ending::Stopped;
                attempt.error = None;
            }
            PartitionStats::add(
                &self.stats.conn(self.connection).disconnects[attempt.ending.index()],
                1,
            );
            self.event(ClientEvent::Disconnected {
                ending: attempt.ending,
                error: attempt.error.clone(),
            });
            if attempt.error.is_some() {
                last_error = attempt.error.clone();
            }
            match policy.after(
                attempt.ending,
                started.elapsed(),
                attempt.delivered,
                rng.unit(),
            ) {
                Decision::Stop => break attempt.ending,
                Decision::Wait(delay, kind) => {
                    if delay.is_zero() {
                        continue;
                    }
                    self.stats
                        .conn(self.connection)
                        .backoff_ms
                        .store(delay.as_millis() as u64, Ordering::Relaxed);
                    self.event(ClientEvent::BackingOff { delay, kind });
                    if !self.wait_until(Instant::now() + delay) {
                        break Ending::Stopped;
                    }
                }
            }
        };
        self.stats
            .conn(self.connection)
            .backoff_ms
            .store(0, Ordering::Relaxed);
        ConnectionReport {
            ending,
            error: last_error.filter(|_| ending != Ending::ReplayCompleted),
            replay: replay.summary,
        }
    }
}

//! The streaming client: one thread per partition, each connecting, streaming, classifying the
//! ending and reconnecting by the [`policy`](crate::policy) table, with backfill, a
//! connection-rate limiter, stall detection, a stop handle and live statistics.
//!
//! ```no_run
//! use gnip_stream::client::{Client, ClientConfig, Flow};
//! use gnip_stream::core::RecordKind;
//! use gnip_stream::Product;
//!
//! let config = ClientConfig::stream(Product::Decahose, "acme", "prod")
//!     .credentials("user@example.com", "password")
//!     .backfill_minutes(5);
//! let running = Client::start(config, |d: &gnip_stream::client::Delivery<'_>| {
//!     if d.record().kind() == RecordKind::Activity {
//!         println!("partition {}: {}", d.partition(), String::from_utf8_lossy(d.record().bytes()));
//!     }
//!     Flow::Continue
//! })?;
//! let stop = running.stop_handle(); // e.g. for a signal handler
//! # stop.stop();
//! for report in running.join() {
//!     println!("partition {} ended: {:?} ({} records)", report.partition, report.ending, report.stats.records());
//! }
//! # Ok::<(), gnip_stream::Error>(())
//! ```

mod conn;
mod stats;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub use stats::{PartitionStats, StatsSnapshot};

use crate::Error;
use crate::core::{DecoderConfig, Level, Record};
use crate::policy::{
    BackoffConfig, BackoffKind, ConnectRateLimiter, Decision, Ending, Reconnect, backfill_minutes,
};
use crate::product::{ConnectionLimit, Product, REPLAY_CONNECTION_LIMIT};

/// The default stream host.
pub const STREAM_HOST: &str = "https://gnip-stream.twitter.com";
/// The default Replay host.
pub const REPLAY_HOST: &str = "https://gnip-stream.gnip.com";

/// What the handler wants after a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep streaming.
    Continue,
    /// Stop this client: every partition ends (as the stop handle does).
    Stop,
}

/// A record handed to the handler, with the partition it came from.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    partition: u32,
    record: Record<'a>,
}

impl<'a> Delivery<'a> {
    /// The partition (1..=N; 0 when the stream has none).
    pub fn partition(&self) -> u32 {
        self.partition
    }

    /// The record: bytes borrowed from the decoder, kind, id.
    pub fn record(&self) -> &Record<'a> {
        &self.record
    }
}

/// Receives every record (activities, compliance events, system messages, malformed lines) on
/// the partition's own thread. Closures `Fn(&Delivery) -> Flow + Send + Sync` are handlers.
///
/// Keep it fast: the service drops readers that fall behind (see
/// [`StatsSnapshot::handler_share`]); send heavy work to another thread.
pub trait Handler: Send + Sync {
    /// Called once per record, in stream order per partition.
    fn on_record(&self, delivery: &Delivery<'_>) -> Flow;
}

impl<F: Fn(&Delivery<'_>) -> Flow + Send + Sync> Handler for F {
    fn on_record(&self, delivery: &Delivery<'_>) -> Flow {
        self(delivery)
    }
}

/// Something that happened to a connection, for an [`Observer`] (also logged through `log`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// About to connect (the URL has no credentials in it).
    Connecting {
        /// The request URL.
        url: String,
        /// `backfillMinutes` sent, if any.
        backfill_minutes: Option<u8>,
    },
    /// The service answered 200: streaming.
    Connected,
    /// The connection ended.
    Disconnected {
        /// How.
        ending: Ending,
        /// The error behind it, if there was one.
        error: Option<Error>,
    },
    /// Waiting before the next attempt.
    BackingOff {
        /// How long.
        delay: Duration,
        /// Which schedule (`None`: a wait imposed by the connection-rate limiter).
        kind: Option<BackoffKind>,
    },
    /// A system message from the service.
    SystemMessage {
        /// Its level.
        level: Level,
        /// Its text.
        message: String,
    },
}

/// Receives [`ClientEvent`]s. Closures `Fn(u32, &ClientEvent) + Send + Sync` are observers; the
/// first argument is the partition.
pub trait Observer: Send + Sync {
    /// Called on the partition's thread.
    fn on_event(&self, partition: u32, event: &ClientEvent);
}

impl<F: Fn(u32, &ClientEvent) + Send + Sync> Observer for F {
    fn on_event(&self, partition: u32, event: &ClientEvent) {
        self(partition, event)
    }
}

/// A Replay range, seconds since the epoch (UTC), `from` inclusive, `to` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayRange {
    /// Start, inclusive (minute precision).
    pub from: i64,
    /// End, exclusive (minute precision).
    pub to: i64,
}

/// The client's settings: a builder with documented defaults.
#[derive(Clone)]
pub struct ClientConfig {
    url: String,
    product: Product,
    replay: Option<ReplayRange>,
    user: String,
    password: String,
    partitions: Option<Vec<u32>>,
    backfill_max: u8,
    stall_timeout: Duration,
    read_tick: Duration,
    connect_timeout: Duration,
    backoff: BackoffConfig,
    ca_file: Option<PathBuf>,
    decoder: DecoderConfig,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("url", &self.url)
            .field("product", &self.product)
            .field("replay", &self.replay)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("partitions", &self.partitions)
            .field("backfill_max", &self.backfill_max)
            .field("stall_timeout", &self.stall_timeout)
            .field("backoff", &self.backoff)
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

fn stream_path(product: Product, account: &str, label: &str, replay: bool) -> String {
    let kind = if replay { "replay" } else { "stream" };
    format!(
        "/{kind}/{}/accounts/{account}/publishers/twitter/{label}.json",
        product.path_name()
    )
}

impl ClientConfig {
    fn with(url: String, product: Product, replay: Option<ReplayRange>) -> Self {
        ClientConfig {
            url,
            product,
            replay,
            user: String::new(),
            password: String::new(),
            partitions: None,
            backfill_max: 0,
            stall_timeout: Duration::from_secs(35),
            read_tick: Duration::from_millis(250),
            connect_timeout: Duration::from_secs(10),
            backoff: BackoffConfig::default(),
            ca_file: None,
            decoder: DecoderConfig::default(),
        }
    }

    /// A live stream on the default host ([`STREAM_HOST`]); every partition of the product.
    pub fn stream(product: Product, account: &str, label: &str) -> Self {
        Self::with(
            format!(
                "{STREAM_HOST}{}",
                stream_path(product, account, label, false)
            ),
            product,
            None,
        )
    }

    /// A Replay of `range` on the default Replay host ([`REPLAY_HOST`]).
    pub fn replay(product: Product, account: &str, label: &str, range: ReplayRange) -> Self {
        Self::with(
            format!(
                "{REPLAY_HOST}{}",
                stream_path(product, account, label, true)
            ),
            product,
            Some(range),
        )
    }

    /// A stream at a full URL (no query): the product, and whether it is Replay, come from the
    /// path (`/stream/{product}/…` or `/replay/{product}/…`). A Replay URL needs
    /// [`ClientConfig::replay_range`]. No `partition` is sent unless
    /// [`ClientConfig::partitions`] names some.
    pub fn url(url: &str) -> Result<Self, Error> {
        let bad = |reason: String| Error::BadInput {
            reason: reason.into(),
        };
        let (_, rest) = url
            .split_once("://")
            .ok_or_else(|| bad(format!("not a URL: {url}")))?;
        let path = rest.find('/').map_or("", |i| &rest[i..]);
        let path = path.split('?').next().unwrap_or_default();
        let mut parts = path.trim_start_matches('/').split('/');
        let (kind, name) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        let product = Product::from_path_name(name)
            .filter(|_| kind == "stream" || kind == "replay")
            .ok_or_else(|| bad(format!("cannot tell the product from the URL path {path:?}: expected /stream/{{product}}/… or /replay/{{product}}/…")))?;
        let mut c = Self::with(
            url.split('?').next().unwrap_or(url).to_owned(),
            product,
            None,
        );
        if kind == "replay" {
            c.replay = Some(ReplayRange { from: 0, to: 0 });
        }
        c.partitions = Some(Vec::new());
        Ok(c)
    }

    /// Replaces scheme and host (and port) of the URL, e.g. `https://gnip-stream.x.com` or a
    /// simulator's `http://127.0.0.1:PORT`: hosts have changed before.
    pub fn host(mut self, base: &str) -> Self {
        let path = self
            .url
            .split_once("://")
            .map(|(_, r)| r.find('/').map_or("", |i| &r[i..]))
            .unwrap_or("");
        self.url = format!("{}{path}", base.trim_end_matches('/'));
        self
    }

    /// The Replay range for a Replay URL given with [`ClientConfig::url`].
    pub fn replay_range(mut self, range: ReplayRange) -> Self {
        self.replay = Some(range);
        self
    }

    /// HTTP Basic credentials. Never shown in `Debug`, logs, errors or URLs.
    pub fn credentials(mut self, user: &str, password: &str) -> Self {
        self.user = user.to_owned();
        self.password = password.to_owned();
        self
    }

    /// Which partitions to connect to, one thread each (default: every partition of the product;
    /// none for a URL or for PowerTrack).
    pub fn partitions(mut self, partitions: &[u32]) -> Self {
        self.partitions = Some(partitions.to_vec());
        self
    }

    /// Backfill on reconnects: `backfillMinutes` sized to the gap, at most `max` (1..=5; 0, the
    /// default, turns it off). Never on the first connect.
    pub fn backfill_minutes(mut self, max: u8) -> Self {
        self.backfill_max = max;
        self
    }

    /// Reconnect when nothing at all has arrived for this long (default 35 s: above the 30 s
    /// the documentation sets, heartbeats come at least every 10 s).
    pub fn stall_timeout(mut self, d: Duration) -> Self {
        self.stall_timeout = d;
        self
    }

    /// How often a blocked read wakes to look at the stop flag and count idle time (default
    /// 250 ms). A stop takes effect within one tick.
    pub fn read_tick(mut self, d: Duration) -> Self {
        self.read_tick = d;
        self
    }

    /// Connecting (TCP and TLS handshake) may take this long (default 10 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// The backoff schedules (default: the documented ones).
    pub fn backoff(mut self, b: BackoffConfig) -> Self {
        self.backoff = b;
        self
    }

    /// Trust the root certificates in this PEM file instead of Mozilla's (for private
    /// deployments and tests; ureq 3 takes either its bundled roots or a list of its own).
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// The frame decoder's settings (maximum record length; CRC checking is turned on for
    /// Replay by the client itself).
    pub fn decoder(mut self, d: DecoderConfig) -> Self {
        self.decoder = d;
        self
    }

    /// The product the URL names.
    pub fn product(&self) -> Product {
        self.product
    }

    /// The stream URL, without query.
    pub fn base_url(&self) -> &str {
        &self.url
    }

    fn partition_list(&self) -> Vec<u32> {
        if self.replay.is_some() {
            return vec![0]; // Replay carries every partition in one connection
        }
        match (&self.partitions, self.product.partitions()) {
            (Some(p), _) if !p.is_empty() => p.clone(),
            (Some(_), _) | (None, None) => vec![0],
            (None, Some(n)) => (1..=n).collect(),
        }
    }

    fn validate(&self) -> Result<(), Error> {
        let cfg = |reason| Err(Error::InvalidConfig { reason });
        if self.backfill_max > 5 {
            return cfg("backfill minutes must be 0 (off) to 5");
        }
        if self.read_tick.is_zero() || self.stall_timeout < self.read_tick {
            return cfg(
                "the stall timeout must be at least one read tick, and the tick above zero",
            );
        }
        if let Some(r) = self.replay {
            if r.from >= r.to {
                return cfg("a Replay needs a range with from before to");
            }
        }
        if let (Some(n), Some(p)) = (self.product.partitions(), &self.partitions) {
            if p.iter().any(|&x| x == 0 || x > n) {
                return cfg("a partition is out of the product's range");
            }
        }
        conn::check_transport(&self.url, !self.user.is_empty())?;
        Ok(())
    }
}

/// Stops every partition of a client, from any thread (or a signal handler: it only stores an
/// atomic flag). Each partition ends within one read tick (250 ms by default).
#[derive(Debug, Clone, Default)]
pub struct StopHandle(Arc<AtomicBool>);

impl StopHandle {
    /// Asks every partition to stop.
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was asked for.
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// How a Replay job finished, from its completion message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplaySummary {
    /// "Replay Request Completed", "… with Errors", or "… Failed to Complete".
    pub message: String,
    /// `activity_count` as the service reported it.
    pub activity_count: Option<u64>,
    /// `minutes_failed`: minutes to request again.
    pub minutes_failed: Vec<String>,
    /// `unprocessed_range` (`fromDate`, `toDate`): a range to request again.
    pub unprocessed_range: Option<(String, String)>,
}

/// What one partition did, from [`Running::join`].
#[derive(Debug, Clone)]
pub struct PartitionReport {
    /// The partition (0 when none).
    pub partition: u32,
    /// Why it ended: [`Ending::Stopped`] when asked to, [`Ending::ReplayCompleted`], or the
    /// ending that the policy table says to stop on.
    pub ending: Ending,
    /// The last error seen, if any (the reason for a stop on a fatal ending).
    pub error: Option<Error>,
    /// Its counters at the end.
    pub stats: StatsSnapshot,
    /// For Replay: how the job finished.
    pub replay: Option<ReplaySummary>,
}

/// A started client.
pub struct Running {
    stop: StopHandle,
    threads: Vec<JoinHandle<PartitionReport>>,
    stats: Vec<Arc<PartitionStats>>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("partitions", &self.stats.len())
            .finish_non_exhaustive()
    }
}

impl Running {
    /// A handle that stops every partition.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Whether every partition has ended (by itself, or after a stop).
    pub fn is_finished(&self) -> bool {
        self.threads.iter().all(|t| t.is_finished())
    }

    /// Every partition's counters now.
    pub fn stats(&self) -> Vec<StatsSnapshot> {
        self.stats.iter().map(|s| s.snapshot()).collect()
    }

    /// Waits for every partition to end and returns what each did.
    pub fn join(self) -> Vec<PartitionReport> {
        self.threads
            .into_iter()
            .zip(&self.stats)
            .map(|(t, s)| {
                t.join().unwrap_or_else(|_| PartitionReport {
                    partition: s.snapshot().partition,
                    ending: Ending::Stopped,
                    error: Some(Error::BadInput {
                        reason: "the partition thread panicked (in the handler?)".into(),
                    }),
                    stats: s.snapshot(),
                    replay: None,
                })
            })
            .collect()
    }

    /// Stops every partition and waits for them.
    pub fn stop_and_join(self) -> Vec<PartitionReport> {
        self.stop.stop();
        self.join()
    }
}

/// Starts clients.
#[derive(Debug)]
pub struct Client;

impl Client {
    /// Starts one thread per partition, each calling `handler` with its records.
    pub fn start(config: ClientConfig, handler: impl Handler + 'static) -> Result<Running, Error> {
        Self::start_observed(config, handler, None)
    }

    /// [`Client::start`] with an observer for connection events.
    pub fn start_observed(
        config: ClientConfig,
        handler: impl Handler + 'static,
        observer: Option<Arc<dyn Observer>>,
    ) -> Result<Running, Error> {
        config.validate()?;
        let agent = conn::agent(&config)?;
        let handler: Arc<dyn Handler> = Arc::new(handler);
        let stop = StopHandle::default();
        let config = Arc::new(config);
        let mut threads = Vec::new();
        let mut all_stats = Vec::new();
        for partition in config.partition_list() {
            let stats = Arc::new(PartitionStats::new(partition));
            all_stats.push(Arc::clone(&stats));
            let ctx = Partition {
                partition,
                config: Arc::clone(&config),
                agent: agent.clone(),
                handler: Arc::clone(&handler),
                observer: observer.clone(),
                stop: stop.clone(),
                stats,
                limiter: limiter_for(&config, partition),
            };
            let t = thread::Builder::new()
                .name(format!("gnip-partition-{partition}"))
                .spawn(move || ctx.run())
                .map_err(|e| Error::Io {
                    kind: e.kind(),
                    message: e.to_string().into(),
                })?;
            threads.push(t);
        }
        Ok(Running {
            stop,
            threads,
            stats: all_stats,
        })
    }
}

type SharedLimiter = Arc<Mutex<ConnectRateLimiter>>;

/// One limiter per stream URL and partition, for the whole process: two clients (redundant
/// connections) to the same stream share it, so together they stay under the limit.
/// protocol.md gives the limits per product without saying whether they count per partition;
/// per partition is assumed, since one per product would need two minutes just to open the 20
/// Firehose partitions.
fn limiter_for(config: &ClientConfig, partition: u32) -> SharedLimiter {
    static ALL: OnceLock<Mutex<HashMap<(String, u32), SharedLimiter>>> = OnceLock::new();
    let limit: ConnectionLimit = if config.replay.is_some() {
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

/// What one connection attempt reported back to the loop.
pub(crate) struct Attempt {
    pub ending: Ending,
    pub error: Option<Error>,
    /// Whether any body byte arrived.
    pub delivered: bool,
    /// Whether the response head timed out (the read tick may be too short for this link).
    pub head_timed_out: bool,
}

/// Replay bookkeeping for resuming after a drop without handing anything out twice.
#[derive(Debug, Default)]
pub(crate) struct ReplayProgress {
    /// The minute (seconds since the epoch, a multiple of 60) of the last record received.
    pub resume_from: Option<i64>,
    /// Ids received in that minute: on a resume they arrive again and are dropped.
    pub seen_in_minute: std::collections::HashSet<String>,
    pub summary: Option<ReplaySummary>,
}

struct Partition {
    partition: u32,
    config: Arc<ClientConfig>,
    agent: ureq::Agent,
    handler: Arc<dyn Handler>,
    observer: Option<Arc<dyn Observer>>,
    stop: StopHandle,
    stats: Arc<PartitionStats>,
    limiter: SharedLimiter,
}

impl Partition {
    fn event(&self, e: ClientEvent) {
        match &e {
            ClientEvent::Connecting {
                url,
                backfill_minutes,
            } => {
                log::info!(
                    "partition {}: connecting to {url} (backfill {backfill_minutes:?})",
                    self.partition
                )
            }
            ClientEvent::Connected => log::info!("partition {}: connected", self.partition),
            ClientEvent::Disconnected { ending, error } => match error {
                Some(err) => log::warn!("partition {}: {}: {err}", self.partition, ending.name()),
                None => log::info!("partition {}: {}", self.partition, ending.name()),
            },
            ClientEvent::BackingOff { delay, kind } => {
                log::info!(
                    "partition {}: waiting {:.2} s ({kind:?})",
                    self.partition,
                    delay.as_secs_f64()
                )
            }
            ClientEvent::SystemMessage { level, message } => {
                log::warn!(
                    "partition {}: system message ({}): {message}",
                    self.partition,
                    level.name()
                )
            }
        }
        if let Some(o) = &self.observer {
            o.on_event(self.partition, &e);
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
        let mut q = Vec::new();
        if self.partition > 0 {
            q.push(format!("partition={}", self.partition));
        }
        if let Some(m) = backfill {
            q.push(format!("backfillMinutes={m}"));
        }
        if let Some(r) = self.config.replay {
            let from = replay.resume_from.unwrap_or(r.from).max(r.from);
            q.push(format!("fromDate={}", crate::time::replay_date(from)));
            q.push(format!("toDate={}", crate::time::replay_date(r.to)));
        }
        if q.is_empty() {
            self.config.url.clone()
        } else {
            format!("{}?{}", self.config.url, q.join("&"))
        }
    }

    fn run(self) -> PartitionReport {
        let mut policy = Reconnect::new(self.config.backoff);
        let mut rng = crate::generator::Rng::new(
            u64::from(self.partition).wrapping_mul(0x9E37_79B9)
                ^ crate::time::now_secs() as u64
                ^ u64::from(std::process::id()),
        );
        let mut decoder = conn::decoder(&self.config);
        let mut last_byte: Option<Instant> = None;
        let mut tick = self.config.read_tick;
        let mut replay = ReplayProgress::default();
        let mut last_error = None;
        let ending = loop {
            if self.stop.is_stopped() {
                break Ending::Stopped;
            }
            let now = Instant::now();
            let slot = self
                .limiter
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .reserve(now);
            if slot > now {
                self.stats.backoff_ms.store(
                    slot.duration_since(now).as_millis() as u64,
                    Ordering::Relaxed,
                );
                self.event(ClientEvent::BackingOff {
                    delay: slot.duration_since(now),
                    kind: None,
                });
                if !self.wait_until(slot) {
                    break Ending::Stopped;
                }
            }
            self.stats.backoff_ms.store(0, Ordering::Relaxed);
            let backfill = if self.config.replay.is_some() {
                None
            } else {
                last_byte.and_then(|t| backfill_minutes(t.elapsed(), self.config.backfill_max))
            };
            let url = self.url(backfill, &replay);
            self.event(ClientEvent::Connecting {
                url: url.clone(),
                backfill_minutes: backfill,
            });
            PartitionStats::add(&self.stats.connects, 1);
            let started = Instant::now();
            let attempt =
                conn::attempt(&self, &url, tick, &mut decoder, &mut last_byte, &mut replay);
            PartitionStats::add(&self.stats.disconnects[attempt.ending.index()], 1);
            self.event(ClientEvent::Disconnected {
                ending: attempt.ending,
                error: attempt.error.clone(),
            });
            if attempt.error.is_some() {
                last_error = attempt.error.clone();
            }
            if attempt.head_timed_out {
                // A link slower than the tick: give the next attempt's reads more time.
                tick = (tick * 2).min(self.config.stall_timeout);
            }
            match policy.after(
                attempt.ending,
                started.elapsed(),
                attempt.delivered,
                unit(&mut rng),
            ) {
                Decision::Stop => break attempt.ending,
                Decision::Wait(delay, kind) => {
                    if delay.is_zero() {
                        continue;
                    }
                    self.stats
                        .backoff_ms
                        .store(delay.as_millis() as u64, Ordering::Relaxed);
                    self.event(ClientEvent::BackingOff { delay, kind });
                    if !self.wait_until(Instant::now() + delay) {
                        break Ending::Stopped;
                    }
                }
            }
        };
        self.stats.backoff_ms.store(0, Ordering::Relaxed);
        PartitionReport {
            partition: self.partition,
            ending,
            error: last_error.filter(|_| ending != Ending::ReplayCompleted),
            stats: self.stats.snapshot(),
            replay: replay.summary,
        }
    }
}

fn unit(rng: &mut crate::generator::Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

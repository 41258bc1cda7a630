//! The client's settings: a builder with documented defaults, checked before anything starts.
//! Over 600 lines: every setting has its documented default, its bound and its check here,
//! with the tests of those checks.

use std::path::PathBuf;
use std::time::Duration;

use crate::Error;
use crate::core::DecoderConfig;
use crate::protocol::dedupe::{DEFAULT_DEDUPE_WINDOW, MAX_DEDUPE_WINDOW};
use crate::protocol::dialect::Dialect;
use crate::protocol::dialect::V2_STALL_TIMEOUT;
use crate::protocol::endpoint::{REPLAY_HOST, STREAM_HOST, Service, StreamPath, UrlParts};
use crate::protocol::policy::{
    BackoffConfig, DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TICK, DEFAULT_STALL_TIMEOUT,
};
use crate::protocol::product::{MAX_BACKFILL_MINUTES, Product};
use crate::protocol::v2::products::{V2_HOST, V2Product};

/// A Replay range, seconds since the epoch (UTC), `from` inclusive, `to` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayRange {
    /// Start, inclusive (minute precision).
    pub from: i64,
    /// End, exclusive (minute precision).
    pub to: i64,
}

/// The most connections per partition: the service allows "typically 2"; more only burns the
/// connection-rate limit.
pub const MAX_REDUNDANT: u8 = 4;
/// The longest read tick, stall timeout or connect timeout accepted: 10,000,000 s (about 115
/// days, what the command's seconds allow); `Instant` arithmetic with more could overflow.
pub const MAX_CONFIG_DURATION: Duration = Duration::from_secs(10_000_000);

/// De-duplication across a partition's connections and backfill overlap.
///
/// ```
/// use gnip_stream::client::DedupeConfig;
/// let d = DedupeConfig::default().window(250_000); // on when useful; remember 250,000 ids
/// assert_eq!(d.window_len(), 250_000);
/// let off = DedupeConfig::off();
/// # let _ = off;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DedupeConfig {
    mode: Option<bool>,
    window: usize,
}

impl Default for DedupeConfig {
    /// On when it can matter (two or more connections per partition, or backfill), with the
    /// default window ([`DEFAULT_DEDUPE_WINDOW`] keys per partition).
    fn default() -> Self {
        DedupeConfig {
            mode: None,
            window: DEFAULT_DEDUPE_WINDOW,
        }
    }
}

impl DedupeConfig {
    /// Always on, even with one connection and no backfill.
    pub fn on() -> Self {
        DedupeConfig {
            mode: Some(true),
            ..Self::default()
        }
    }

    /// Off: every record every connection receives is handed out.
    pub fn off() -> Self {
        DedupeConfig {
            mode: Some(false),
            ..Self::default()
        }
    }

    /// Keys remembered per partition (oldest forgotten first; at least 1).
    pub fn window(mut self, keys: usize) -> Self {
        self.window = keys;
        self
    }

    /// Keys remembered per partition.
    pub fn window_len(&self) -> usize {
        self.window
    }

    /// Whether it is on for `redundant` connections and `backfill` minutes.
    pub fn enabled(&self, redundant: u8, backfill: u8) -> bool {
        self.mode.unwrap_or(redundant >= 2 || backfill > 0)
    }
}

/// The client's settings: a builder with documented defaults.
///
/// ```
/// use gnip_stream::client::ClientConfig;
/// use gnip_stream::Product;
/// use std::time::Duration;
/// let c = ClientConfig::stream(Product::Decahose, "acme", "prod")
///     .host("https://gnip-stream.x.com")
///     .credentials("user@example.com", "password")
///     .backfill_minutes(5)
///     .connect_timeout(Duration::from_secs(10));
/// assert_eq!(c.base_url(), "https://gnip-stream.x.com/stream/sample10/accounts/acme/publishers/twitter/prod.json");
/// ```
#[derive(Clone)]
pub struct ClientConfig {
    pub(crate) dialect: Dialect,
    pub(crate) url: String,
    pub(crate) product: Product,
    /// The range of a Replay or, with `recovery`, a Recovery job.
    pub(crate) replay: Option<ReplayRange>,
    /// The job is a Recovery (on the realtime URL, `startTime`/`endTime`, every partition).
    pub(crate) recovery: bool,
    pub(crate) user: String,
    pub(crate) password: String,
    pub(crate) partitions: Option<Vec<u32>>,
    pub(crate) backfill_max: u8,
    pub(crate) backfill_on_start: u8,
    /// Per-partition overrides of `backfill_on_start` (a restart plan per partition).
    pub(crate) backfill_on_start_for: Vec<(u32, u8)>,
    pub(crate) stall_timeout: Duration,
    pub(crate) read_tick: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) backoff: BackoffConfig,
    pub(crate) ca_file: Option<PathBuf>,
    pub(crate) decoder: DecoderConfig,
    pub(crate) redundant: u8,
    pub(crate) dedupe: DedupeConfig,
    /// X API v2 field parameters passed through (`tweet.fields=…&expansions=…`).
    pub(crate) fields: String,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("dialect", &self.dialect)
            .field("url", &self.url)
            .field("product", &self.product)
            .field("replay", &self.replay)
            .field("recovery", &self.recovery)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("partitions", &self.partitions)
            .field("backfill_max", &self.backfill_max)
            .field("backfill_on_start", &self.backfill_on_start)
            .field("stall_timeout", &self.stall_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("backoff", &self.backoff)
            .field("ca_file", &self.ca_file)
            .field("redundant", &self.redundant)
            .field("dedupe", &self.dedupe)
            .field("fields", &self.fields)
            .finish_non_exhaustive()
    }
}

impl ClientConfig {
    fn with(url: String, product: Product, replay: Option<ReplayRange>) -> Self {
        ClientConfig {
            dialect: Dialect::default(),
            url,
            product,
            replay,
            recovery: false,
            user: String::new(),
            password: String::new(),
            partitions: None,
            backfill_max: 0,
            backfill_on_start: 0,
            backfill_on_start_for: Vec::new(),
            stall_timeout: DEFAULT_STALL_TIMEOUT,
            read_tick: DEFAULT_READ_TICK,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            backoff: BackoffConfig::default(),
            ca_file: None,
            decoder: DecoderConfig::default(),
            redundant: 1,
            dedupe: DedupeConfig::default(),
            fields: String::new(),
        }
    }

    /// An X API v2 enterprise stream on the default host ([`V2_HOST`]); every partition of the
    /// product. Credentials: [`ClientConfig::bearer_token`]. The stall timeout defaults to
    /// [`V2_STALL_TIMEOUT`] (30 s).
    ///
    /// ```
    /// use gnip_stream::client::ClientConfig;
    /// use gnip_stream::unversioned::protocol::v2::products::V2Product;
    /// let c = ClientConfig::v2(V2Product::Decahose).bearer_token("token").fields("tweet.fields=created_at");
    /// assert_eq!(c.base_url(), "https://api.x.com/2/tweets/sample10/stream");
    /// assert_eq!(c.partition_list(), [1, 2]);
    /// assert!(c.validate().is_ok());
    /// ```
    pub fn v2(product: V2Product) -> Self {
        let mut c = Self::with(
            format!("{V2_HOST}{}", product.path()),
            Product::V2(product),
            None,
        );
        c.dialect = Dialect::V2;
        c.stall_timeout = V2_STALL_TIMEOUT;
        c
    }

    /// An OAuth 2.0 App-only bearer token (X API v2), sent as `Authorization: Bearer …`. Never
    /// shown in `Debug`, logs, errors or URLs.
    pub fn bearer_token(mut self, token: &str) -> Self {
        self.user = String::new();
        self.password = token.to_owned();
        self
    }

    /// X API v2 field parameters, passed through as they are (`tweet.fields=created_at&
    /// expansions=author_id`): each key must be one the product takes
    /// ([`V2Product::check_fields`]), checked by [`ClientConfig::validate`].
    pub fn fields(mut self, query: &str) -> Self {
        self.fields = query.trim_start_matches('?').to_owned();
        self
    }

    /// A live stream on the default host ([`STREAM_HOST`]); every partition of the product.
    pub fn stream(product: Product, account: &str, label: &str) -> Self {
        let path = StreamPath::new(Service::Stream, product, account, label);
        Self::with(path.url(STREAM_HOST), product, None)
    }

    /// A Replay of `range` on the default Replay host ([`REPLAY_HOST`]).
    pub fn replay(product: Product, account: &str, label: &str, range: ReplayRange) -> Self {
        let path = StreamPath::new(Service::Replay, product, account, label);
        Self::with(path.url(REPLAY_HOST), product, Some(range))
    }

    /// A Recovery of `range` (within the last 24 hours) on the realtime stream URL: every
    /// partition of the product (or those [`ClientConfig::partitions`] names), one connection
    /// each, each ending on "Recovery Request Completed".
    pub fn recovery(product: Product, account: &str, label: &str, range: ReplayRange) -> Self {
        Self::stream(product, account, label).recovery_range(range)
    }

    /// Makes a live stream configuration (a realtime URL) a Recovery of `range`.
    pub fn recovery_range(mut self, range: ReplayRange) -> Self {
        self.replay = Some(range);
        self.recovery = true;
        self
    }

    /// A stream at a full URL (a query is ignored): the product, and whether it is Replay, come
    /// from the path (`/stream/{product}/accounts/{account}/publishers/twitter/{label}.json`, or
    /// the same under `/replay/`). A Replay URL needs [`ClientConfig::replay_range`]. Every
    /// partition of the product the path names is streamed, as with [`ClientConfig::stream`]
    /// ([`ClientConfig::partitions`] picks some).
    pub fn url(url: &str) -> Result<Self, Error> {
        let bad = |reason: String| Error::BadInput {
            reason: reason.into(),
        };
        let parts = UrlParts::split(url).ok_or_else(|| bad(format!("not a URL: {url}")))?;
        let (dialect, path) = Dialect::of_path(parts.path).ok_or_else(|| {
            bad(format!(
                "not a stream URL path: {:?}: expected /stream/{{product}}/accounts/{{account}}/publishers/twitter/{{label}}.json (or /replay/…)",
                parts.path
            ))
        })?;
        let mut c = Self::with(path.url(&parts.base()), path.product, None);
        c.dialect = dialect;
        c.stall_timeout = dialect.stall_timeout();
        if path.service == Service::Replay {
            c.replay = Some(ReplayRange { from: 0, to: 0 });
        }
        Ok(c)
    }

    /// Replaces scheme and host (and port) of the URL, e.g. `https://gnip-stream.x.com` or a
    /// simulator's `http://127.0.0.1:PORT`: hosts have changed before.
    pub fn host(mut self, base: &str) -> Self {
        let path = UrlParts::split(&self.url).map_or("", |p| p.path);
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

    /// Backfill on reconnects: `backfillMinutes` sized to the gap, at most `max` (1 to
    /// [`MAX_BACKFILL_MINUTES`]; 0, the default, turns it off). Never on the first connect.
    pub fn backfill_minutes(mut self, max: u8) -> Self {
        self.backfill_max = max;
        self
    }

    /// `backfillMinutes` on the first connection of each listed partition (`(partition,
    /// minutes)`, minutes 0..=5; 0: none), in place of [`ClientConfig::backfill_on_start`]
    /// for those partitions: what a restart plan sized to each partition's own gap asks.
    pub fn backfill_on_start_for(mut self, plans: &[(u32, u8)]) -> Self {
        self.backfill_on_start_for = plans.to_vec();
        self
    }

    /// The first connection's backfill for `partition`.
    pub(crate) fn start_backfill(&self, partition: u32) -> u8 {
        self.backfill_on_start_for
            .iter()
            .find(|(p, _)| *p == partition)
            .map_or(self.backfill_on_start, |(_, m)| (*m).min(5))
    }

    /// Backfill on the first connection too: `backfillMinutes=minutes` until the first byte
    /// arrives (1 to [`MAX_BACKFILL_MINUTES`]; 0, the default, turns it off). A restarted host
    /// closes its own gap; the overlap with what it had before is the consumer's to drop
    /// (`--dedupe`, or JetStream's duplicate window).
    pub fn backfill_on_start(mut self, minutes: u8) -> Self {
        self.backfill_on_start = minutes;
        self
    }

    /// Reconnect when nothing at all has arrived for this long, counted from the last byte of
    /// the response, head or body (default [`DEFAULT_STALL_TIMEOUT`], 35 s: above the 30 s the
    /// documentation sets; heartbeats come at least every 10 s; X API v2:
    /// [`V2_STALL_TIMEOUT`], 30 s, heartbeats at least every 20 s).
    pub fn stall_timeout(mut self, d: Duration) -> Self {
        self.stall_timeout = d;
        self
    }

    /// How often a read wakes to look at the stop flag while a connection is established and
    /// for a body's first 2 s (an error body's time) (default [`DEFAULT_READ_TICK`], 250 ms).
    /// A stop takes effect within one tick there; a streaming body is read up to half the
    /// stall timeout at a time (a quiet stream wakes only for its heartbeats), and a stop
    /// shuts its socket down, which ends the read at once.
    pub fn read_tick(mut self, d: Duration) -> Self {
        self.read_tick = d;
        self
    }

    /// How long each step of establishing a connection may take: TCP connect with the TLS
    /// handshake, sending the request, and the response head (default
    /// [`DEFAULT_CONNECT_TIMEOUT`], 30 s). The read tick applies to body reads only, so a slow
    /// link or a server that sends its head late costs no connection attempts.
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
    /// Replay by the client itself). Checked by [`Client::start`](super::Client::start).
    pub fn decoder(mut self, d: DecoderConfig) -> Self {
        self.decoder = d;
        self
    }

    /// Connections per partition, each its own thread with its own reconnects and backfill,
    /// all under the partition's connection-rate limit (1 to [`MAX_REDUNDANT`]; default 1).
    /// With two or more, a record is handed out once, by the connection that had it first
    /// (see [`ClientConfig::dedupe`]).
    pub fn redundant(mut self, n: u8) -> Self {
        self.redundant = n;
        self
    }

    /// De-duplication (default: on when [`ClientConfig::redundant`] is 2 or more or backfill is
    /// on, remembering [`DEFAULT_DEDUPE_WINDOW`] keys per partition). A record older than the
    /// window is handed out again if it comes again.
    pub fn dedupe(mut self, d: DedupeConfig) -> Self {
        self.dedupe = d;
        self
    }

    /// Whether records are de-duplicated (live streams; Replay has its own resume check).
    pub(crate) fn dedupe_enabled(&self) -> bool {
        self.replay.is_none() && self.dedupe.enabled(self.redundant, self.backfill_max)
    }

    /// The service dialect the URL is written in (Gnip 2.0 for every URL today): it decides
    /// the authentication, the query, what each line is and what each ending leads to.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The product the URL names.
    pub fn product(&self) -> Product {
        self.product
    }

    /// The stream URL, without query.
    pub fn base_url(&self) -> &str {
        &self.url
    }

    /// The partitions to run, one thread each (0 for a stream without partitions, and Replay).
    pub fn partition_list(&self) -> Vec<u32> {
        if self.replay.is_some() && !self.recovery {
            return vec![0]; // Replay carries every partition in one connection
        }
        match (&self.partitions, self.product.partitions()) {
            (Some(p), _) if !p.is_empty() => p.clone(),
            // Recovery: every partition, one connection each, even from a bare URL.
            (Some(_), Some(n)) if self.recovery => (1..=n).collect(),
            (Some(_), _) | (None, None) => vec![0],
            (None, Some(n)) => (1..=n).collect(),
        }
    }

    /// The decoder each connection uses: a live stream's trailer never comes; Replay's does,
    /// and is checked.
    pub(crate) fn decoder_config(&self) -> DecoderConfig {
        self.decoder.check_crc(self.replay.is_some())
    }

    /// Every setting checked, as [`Client::start`](super::Client::start) does first.
    pub fn validate(&self) -> Result<(), Error> {
        let cfg = |reason| Err(Error::InvalidConfig { reason });
        if self.backfill_on_start > MAX_BACKFILL_MINUTES {
            return cfg("backfill on start must be 0 (off) to 5 minutes");
        }
        if self.backfill_max > MAX_BACKFILL_MINUTES {
            return cfg("backfill minutes must be 0 (off) to 5");
        }
        if self.read_tick.is_zero() || self.stall_timeout < self.read_tick {
            return cfg(
                "the stall timeout must be at least one read tick, and the tick above zero",
            );
        }
        if self.connect_timeout.is_zero() {
            return cfg("the connect timeout must be above zero");
        }
        // Upper bounds (audit L5): an Instant plus any of these must not overflow.
        if [self.read_tick, self.stall_timeout, self.connect_timeout]
            .iter()
            .any(|d| *d > MAX_CONFIG_DURATION)
        {
            return cfg(
                "the read tick, stall timeout and connect timeout must be at most 10,000,000 s",
            );
        }
        if self.dedupe.window > MAX_DEDUPE_WINDOW {
            return cfg("the de-duplication window must hold at most 100,000,000 ids");
        }
        if !(1..=MAX_REDUNDANT).contains(&self.redundant) {
            return cfg("redundant connections must be 1 to 4");
        }
        if self.redundant > 1 && self.replay.is_some() {
            return cfg("Replay has one connection: redundant connections are for live streams");
        }
        if self.dedupe.window == 0 {
            return cfg("the de-duplication window must hold at least 1 id");
        }
        if let Some(r) = self.replay {
            if r.from >= r.to {
                return cfg("a Replay needs a range with from before to");
            }
        }
        if let Product::V2(p) = self.product {
            if let Err(reason) = p.check_fields(&self.fields) {
                return Err(Error::BadInput {
                    reason: reason.into(),
                });
            }
            if self.recovery && !p.recovery() {
                return Err(Error::BadInput {
                    reason: format!("the {} stream has no Recovery", p.name()).into(),
                });
            }
        } else if !self.fields.is_empty() {
            return cfg("field parameters are X API v2's: the Gnip streams send whole records");
        }
        let asked = self.partitions.as_deref().unwrap_or_default();
        match (self.product.partitions(), asked.iter().find(|&&x| x != 0)) {
            (None, Some(p)) => {
                let all: Vec<Product> = match self.product {
                    Product::V2(_) => V2Product::ALL.into_iter().map(Product::V2).collect(),
                    _ => Product::ALL.to_vec(),
                };
                let with: Vec<String> = all
                    .iter()
                    .filter_map(|x| x.partitions().map(|n| format!("{} 1..{n}", x.path_name())))
                    .collect();
                return Err(Error::BadInput {
                    reason: format!(
                        "partition {p}: {} has no partitions (those with partitions: {})",
                        self.product.path_name(),
                        with.join(", ")
                    )
                    .into(),
                });
            }
            (Some(n), _) => {
                if let Some(p) = asked.iter().find(|&&x| x == 0 || x > n) {
                    return Err(Error::BadInput {
                        reason: format!(
                            "partition {p} is out of {}'s range 1..{n}",
                            self.product.path_name()
                        )
                        .into(),
                    });
                }
            }
            (None, None) => {}
        }
        self.backoff.validate()?;
        self.decoder.validate()?;
        let has_credentials = !self.user.is_empty() || !self.password.is_empty();
        crate::protocol::endpoint::check_transport(&self.url, has_credentials)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_checked_against_the_product_and_the_error_names_both() {
        let err = |c: ClientConfig| match c.validate() {
            Err(Error::BadInput { reason }) => reason.to_string(),
            other => panic!("{other:?}"),
        };
        let pt = ClientConfig::stream(Product::PowerTrack, "a", "l").partitions(&[3]);
        let e = err(pt);
        assert!(
            e.contains("partition 3: powertrack has no partitions"),
            "{e}"
        );
        assert!(
            e.contains("sample10 1..2") && e.contains("firehose 1..20"),
            "{e}"
        );
        let dh = ClientConfig::stream(Product::Decahose, "a", "l").partitions(&[1, 3]);
        assert_eq!(err(dh), "partition 3 is out of sample10's range 1..2");
        assert!(
            ClientConfig::stream(Product::Firehose, "a", "l")
                .partitions(&[20])
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn an_invalid_decoder_or_backoff_is_an_error_not_a_silent_default() {
        let c = ClientConfig::stream(Product::PowerTrack, "a", "l");
        assert!(c.validate().is_ok());
        assert_eq!(
            c.clone()
                .decoder(DecoderConfig::default().max_record(0))
                .validate(),
            Err(Error::InvalidConfig {
                reason: "max_record must be at least 1 byte"
            })
        );
        assert!(matches!(
            c.clone()
                .backoff(BackoffConfig::default().http_max(Duration::MAX))
                .validate(),
            Err(Error::InvalidConfig { .. })
        ));
        assert!(
            c.clone()
                .connect_timeout(Duration::ZERO)
                .validate()
                .is_err()
        );
        // Upper bounds (audit L5): each overflowed in Instant or length arithmetic before.
        let bad = [
            c.clone()
                .decoder(DecoderConfig::default().max_record(usize::MAX)),
            c.clone().connect_timeout(Duration::MAX),
            c.clone()
                .read_tick(Duration::MAX)
                .stall_timeout(Duration::MAX),
            c.clone().stall_timeout(Duration::MAX),
            c.clone().dedupe(DedupeConfig::on().window(usize::MAX)),
        ];
        for b in bad {
            assert!(
                matches!(b.validate(), Err(Error::InvalidConfig { .. })),
                "{b:?}"
            );
        }
        assert!(
            c.clone()
                .decoder(DecoderConfig::default().max_record(crate::core::MAX_RECORD_LIMIT))
                .connect_timeout(MAX_CONFIG_DURATION)
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn urls_are_read_by_the_protocol_layer() {
        let c = ClientConfig::url(
            "http://127.0.0.1:9/replay/sample10/accounts/a/publishers/twitter/l.json?x=1",
        )
        .unwrap();
        assert_eq!(c.product(), Product::Decahose);
        assert!(c.replay.is_some());
        assert_eq!(
            c.base_url(),
            "http://127.0.0.1:9/replay/sample10/accounts/a/publishers/twitter/l.json"
        );
        assert!(ClientConfig::url("http://h/other/path").is_err());
        assert!(ClientConfig::url("nonsense").is_err());
    }
}

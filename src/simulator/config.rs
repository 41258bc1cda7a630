//! The simulator's settings and the faults it can be scripted with.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use super::feed::RecordSource;

/// A byte stream the simulator can serve: a `TcpStream`, or one wrapped in TLS.
pub trait Connection: Read + Write + Send {}
impl<T: Read + Write + Send> Connection for T {}

/// Turns an accepted socket into the stream to serve, e.g. a TLS server stream (tests do this
/// with rustls; the library has no TLS server of its own).
pub type Wrapper = dyn Fn(TcpStream) -> io::Result<Box<dyn Connection>> + Send + Sync;

/// How fast records are published.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// Records per second for the whole stream (shared out among its partitions).
    PerSecond(f64),
    /// As fast as the client reads: a pre-compressed block of records sent over and over (ids
    /// repeat from block to block; for throughput measurements).
    Unlimited,
}

/// Something to go wrong on purpose, on the connections a [`Which`] selects.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this status and `{"error":{"message":…}}` instead of streaming.
    Status {
        /// The HTTP status (500, 503, 429, 401, 406, …).
        status: u16,
        /// The error body's message.
        message: String,
    },
    /// Close the socket after this many compressed body bytes (anywhere: mid-chunk,
    /// mid-record), without the last chunk.
    DropAfter {
        /// Compressed body bytes sent before the drop (0: right after the response head).
        bytes: u64,
    },
    /// After this many records, send the first half of the next record's compressed bytes and
    /// close the socket: a drop that is inside a record whatever the timing.
    DropMidRecord {
        /// Whole records sent first.
        after_records: u64,
    },
    /// After this many records, send nothing at all (no heartbeats) for `duration`, then go on.
    Stall {
        /// Records sent before the stall.
        after_records: u64,
        /// How long to stay silent.
        duration: Duration,
    },
    /// Break the deflate stream at the first flush point at or after this compressed body
    /// byte: the write that holds the byte goes intact, then a block of the reserved type
    /// (BTYPE 11), which a decoder rejects at once (nothing garbled is inflated first), and
    /// every byte after it inverted.
    CorruptAfter {
        /// Compressed body bytes sent intact first.
        bytes: u64,
    },
    /// Start the stream with an `info` system message that ends in a bare `\n`.
    BareNewlineSystemMessage,
    /// Start the stream with one record of this many bytes (beyond any sane maximum).
    OverlongRecord {
        /// Its length, without the terminator.
        bytes: usize,
    },
    /// Wait this long before answering at all (a slow or far-away server).
    DelayHead {
        /// How long the response head is held back.
        duration: Duration,
    },
    /// Cut the compressed body into HTTP chunks of random sizes (1 byte to 4 KiB), each written
    /// on its own, so the client sees records split anywhere, across chunks and reads.
    RandomChunks {
        /// Seed for the sizes.
        seed: u64,
    },
    /// Treat the client as a slow reader once this many bytes wait unsent: send the service's
    /// "Force closing connection … maximum allowed backup" error (it may never arrive) and close.
    BufferLimit {
        /// Backlog, in bytes, that the connection may accumulate.
        bytes: usize,
    },
    /// Send "Forced Disconnect: Too many connections" and close (at once; or, on a stream given
    /// it with [`Simulator::disrupt`](super::Simulator::disrupt), when it comes).
    ForcedDisconnect,
    /// Replay: leave out these minutes (seconds since the epoch, multiples of 60) and end with
    /// "Replay Request Completed with Errors" listing them in `minutes_failed`.
    ReplayMinutesFailed {
        /// The minutes that fail.
        minutes: Vec<i64>,
    },
    /// Replay: stop at this time (seconds since the epoch, a multiple of 60) and end with
    /// "Replay Request Failed to Complete", the rest in `unprocessed_range`.
    ReplayStopsAt {
        /// Where the request stops.
        at: i64,
    },
}

/// Which connections a fault applies to. Connections are numbered from 1 in the order their
/// requests arrive, across the whole simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// Only connection `n`.
    Connection(u64),
    /// Connection `n` and every later one.
    From(u64),
    /// Every connection.
    Every,
}

impl Which {
    pub(super) fn selects(self, n: u64) -> bool {
        match self {
            Which::Connection(k) => n == k,
            Which::From(k) => n >= k,
            Which::Every => true,
        }
    }
}

/// The bearer token a simulator accepts on its X API v2 endpoints unless told otherwise.
pub const DEMO_BEARER_TOKEN: &str = "demo-token";

/// The simulator's settings. Every field has a documented default.
#[derive(Clone)]
pub struct SimulatorConfig {
    pub(super) listen: SocketAddr,
    pub(super) user: String,
    pub(super) password: String,
    pub(super) bearer_token: String,
    pub(super) v2_gzip: bool,
    pub(super) source: Option<RecordSource>,
    pub(super) rate: Rate,
    pub(super) heartbeat: Duration,
    pub(super) rate_window: Option<Duration>,
    pub(super) redundant_connections: usize,
    pub(super) force_disconnect_after: Duration,
    pub(super) replay_per_minute: u32,
    pub(super) replay_window_days: i64,
    pub(super) level: u8,
    pub(super) backlog_limit: usize,
    pub(super) max_connections: usize,
    pub(super) faults: Vec<(Which, Fault)>,
    pub(super) wrapper: Option<Arc<Wrapper>>,
    pub(super) compress_rules_responses: bool,
    pub(super) rules_latency: Duration,
    pub(super) clock_back: Duration,
}

impl std::fmt::Debug for SimulatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatorConfig")
            .field("listen", &self.listen)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("rate", &self.rate)
            .field("heartbeat", &self.heartbeat)
            .field("faults", &self.faults)
            .field("tls", &self.wrapper.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            user: "demo".into(),
            password: "demo".into(),
            bearer_token: DEMO_BEARER_TOKEN.into(),
            v2_gzip: true,
            source: None,
            rate: Rate::PerSecond(100.0),
            heartbeat: Duration::from_secs(10),
            rate_window: None,
            redundant_connections: 2,
            force_disconnect_after: Duration::from_secs(60),
            replay_per_minute: 20,
            replay_window_days: 5,
            level: 6,
            backlog_limit: 8 << 20,
            max_connections: 256,
            faults: Vec::new(),
            wrapper: None,
            compress_rules_responses: true,
            rules_latency: Duration::ZERO,
            clock_back: Duration::ZERO,
        }
    }
}

impl SimulatorConfig {
    /// Starts the simulator's clock this far behind the machine's (default: none): records
    /// carry times that old, so a client's checkpoint is old without waiting.
    /// [`Simulator::advance_clock`](super::Simulator::advance_clock) moves it forward later.
    /// Recovery requests are judged against the machine's clock (an `endTime` ahead of the
    /// simulator's is accepted) and stream what was published in their range.
    pub fn clock_back(mut self, by: Duration) -> Self {
        self.clock_back = by;
        self
    }

    /// Address to bind (default `127.0.0.1:0`: loopback, a free port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Whether its X API v2 streams compress when the request accepts gzip (default `true`;
    /// `false`: always a plain body, as the service may send, x-api-v2.md §2.1).
    pub fn v2_gzip(mut self, on: bool) -> Self {
        self.v2_gzip = on;
        self
    }

    /// The bearer token its X API v2 endpoints accept (default [`DEMO_BEARER_TOKEN`]).
    pub fn bearer_token(mut self, token: &str) -> Self {
        self.bearer_token = token.to_owned();
        self
    }

    /// The one valid user and password of its Gnip endpoints (default `demo` / `demo`).
    pub fn credentials(mut self, user: &str, password: &str) -> Self {
        self.user = user.to_owned();
        self.password = password.to_owned();
        self
    }

    /// Where records come from (default [`RecordSource::auto`]: the shared corpus when present,
    /// else the generator).
    pub fn source(mut self, source: RecordSource) -> Self {
        self.source = Some(source);
        self
    }

    /// How fast records are published (default 100 a second per stream).
    pub fn rate(mut self, rate: Rate) -> Self {
        self.rate = rate;
        self
    }

    /// A heartbeat after this long without a record (default 10 s, the documented interval).
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every;
        self
    }

    /// The window of the connection-rate limits, in place of the real 60 s (Replay: 300 s);
    /// the counts stay the product's own. For tests that cannot wait a minute.
    pub fn rate_limit_window(mut self, window: Duration) -> Self {
        self.rate_window = Some(window);
        self
    }

    /// Connections allowed at once to one stream and partition (default 2, the usual
    /// contract); the newest one past it is force-disconnected.
    pub fn redundant_connections(mut self, n: usize) -> Self {
        self.redundant_connections = n;
        self
    }

    /// How long a connection over the redundancy limit streams before it is force-disconnected
    /// (default 60 s, "about a minute" in the documentation).
    pub fn force_disconnect_after(mut self, after: Duration) -> Self {
        self.force_disconnect_after = after;
        self
    }

    /// Records per minute of a Replay range (default 20).
    pub fn replay_records_per_minute(mut self, n: u32) -> Self {
        self.replay_per_minute = n.max(1);
        self
    }

    /// gzip level of the stream (default 6).
    pub fn compression_level(mut self, level: u8) -> Self {
        self.level = level;
        self
    }

    /// Bytes a connection may have waiting unsent before it is closed as a slow reader
    /// (default 8 MiB).
    pub fn backlog_limit(mut self, bytes: usize) -> Self {
        self.backlog_limit = bytes;
        self
    }

    /// Adds a fault for the connections `which` selects (faults can also be added while
    /// running: [`Simulator::add_fault`](super::Simulator::add_fault)).
    pub fn fault(mut self, which: Which, fault: Fault) -> Self {
        self.faults.push((which, fault));
        self
    }

    /// Whether Rules API responses are gzip-compressed when the request accepts gzip (default
    /// on; off serves them plain, the other way the service may answer).
    pub fn compress_rules_responses(mut self, on: bool) -> Self {
        self.compress_rules_responses = on;
        self
    }

    /// How long each Rules API request takes to process (default none), so that concurrent
    /// requests can be seen being refused.
    pub fn rules_latency(mut self, d: Duration) -> Self {
        self.rules_latency = d;
        self
    }

    /// Serves every accepted socket through `wrap` (e.g. a TLS handshake).
    pub fn wrap_connections(mut self, wrap: Arc<Wrapper>) -> Self {
        self.wrapper = Some(wrap);
        self
    }
}

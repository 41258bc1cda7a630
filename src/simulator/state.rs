//! What every thread of a running simulator shares: its configuration and record source, the
//! request log, faults, connection counts, rule books and stop flag; and the few helpers
//! every route uses (the lock that shrugs off poisoning, the tick, the service's error body).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::config::{Fault, SimulatorConfig, Which};
use super::feed::RecordSource;
use super::http;
use super::route::Route;
use super::rule_book::RuleBooks;
use super::v2_feed::V2Feed;
use crate::protocol::messages;
use crate::protocol::policy::ConnectRateLimiter;
use crate::protocol::v2::products::Family;

/// One request as the simulator saw it. The password never appears: the `Authorization`
/// header is kept as `Basic <user>:<redacted>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// The connection number (from 1).
    pub connection: u64,
    /// When it arrived, since the simulator started.
    pub at: Duration,
    /// The request method.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The raw query string (without `?`).
    pub query: String,
    /// The headers, the password redacted.
    pub headers: Vec<(String, String)>,
    /// The status answered (200 for a stream).
    pub status: u16,
    /// The request body's length (rules requests; 0 for streams).
    pub body_bytes: usize,
    /// When the answer was ready to be written (rules requests), or, for a stream, when it
    /// was accepted: with `at`, shows whether two rules requests overlapped in time.
    pub done: Duration,
}

impl LoggedRequest {
    /// A query parameter's raw value.
    pub fn param(&self, name: &str) -> Option<&str> {
        http::raw_param(&self.query, name)
    }

    /// A header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// How often blocked loops look at the stop flag, and the socket write timeout.
pub(super) const TICK: Duration = Duration::from_millis(20);

/// One v2 stream connection, as the Connections API lists it.
#[derive(Debug, Clone)]
pub(crate) struct V2Connection {
    pub uuid: String,
    pub number: u64,
    pub endpoint: &'static str,
    pub client_ip: String,
    pub connected_at: i64,
    pub disconnected: Option<(i64, &'static str)>,
}

/// Unlimited-rate blocks by record family (`None`: Gnip) and whether gzip.
pub(super) type Blocks = HashMap<(Option<Family>, bool), Arc<Vec<u8>>>;

/// What every connection thread shares.
pub(super) struct Shared {
    pub(super) config: SimulatorConfig,
    pub(super) source: RecordSource,
    pub(super) scheme: &'static str,
    pub(super) addr: SocketAddr,
    pub(super) started: Instant,
    pub(super) started_secs: i64,
    /// How far [`Simulator::advance_clock`](super::Simulator::advance_clock) has moved the
    /// clock forward since the start, in milliseconds.
    pub(super) advanced_ms: AtomicU64,
    pub(super) stop: AtomicBool,
    pub(super) requests: AtomicU64,
    pub(super) live_connections: AtomicUsize,
    pub(super) log: Mutex<Vec<LoggedRequest>>,
    pub(super) faults: Mutex<Vec<(Which, Fault)>>,
    pub(super) windows: Mutex<HashMap<String, ConnectRateLimiter>>,
    pub(super) active: Mutex<HashMap<(Route, u32), usize>>,
    pub(super) threads: Mutex<Vec<JoinHandle<()>>>,
    pub(super) unlimited_block: Option<Vec<u8>>,
    /// [`Rate::Unlimited`](super::Rate::Unlimited)'s blocks for X API v2 streams and identity
    /// bodies, made on first use: by record family (`None`: Gnip) and whether gzip.
    pub(super) blocks: Mutex<Blocks>,
    /// Every X API v2 stream connection served (the Connections API's list).
    pub(super) v2_connections: Mutex<Vec<V2Connection>>,
    /// The X API v2 records, made from the source on first use.
    pub(super) v2: OnceLock<V2Feed>,
    pub(super) rules: Mutex<RuleBooks>,
    /// Faults for live connections, by connection number ([`Simulator::disrupt`]).
    pub(super) disruptions: Mutex<HashMap<u64, Vec<Fault>>>,
    pub(super) disruptions_pending: AtomicUsize,
    /// Live streams' connection numbers.
    pub(super) streaming: Mutex<std::collections::BTreeSet<u64>>,
}

impl Shared {
    /// The simulator's clock, Unix seconds: the machine's, less `clock_back`, plus what
    /// [`Simulator::advance_clock`](super::Simulator::advance_clock) added.
    pub(super) fn now_secs(&self) -> i64 {
        let advanced = self.advanced_ms.load(std::sync::atomic::Ordering::SeqCst) / 1000;
        crate::clock::now_secs() - self.config.clock_back.as_secs() as i64 + advanced as i64
    }

    /// The X API v2 feed.
    pub(super) fn v2_feed(&self) -> &V2Feed {
        self.v2.get_or_init(|| V2Feed::new(&self.source))
    }

    /// Time on the simulator's clock since it started, at `at`.
    pub(super) fn elapsed_at(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.started)
            + Duration::from_millis(self.advanced_ms.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// The instant the simulator's clock reads `started + since`.
    pub(super) fn instant_of(&self, since: Duration) -> Instant {
        let advanced =
            Duration::from_millis(self.advanced_ms.load(std::sync::atomic::Ordering::SeqCst));
        self.started + since.saturating_sub(advanced)
    }
}

/// Locks, shrugging off poisoning: a connection thread that panicked must not take the whole
/// simulator (or the test reading its log) down with it.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// An error body as the service writes one, with a transaction id naming the connection.
pub(super) fn error_body(message: &str, connection: u64) -> String {
    messages::error_body(
        message,
        crate::clock::now_secs(),
        &format!("sim-{connection}"),
    )
}

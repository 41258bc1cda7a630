//! A loopback server that behaves like the service, for tests, the demo and benchmarks.
//!
//! It follows `protocol.md`: the stream URL shapes, Basic auth, 406 without gzip, partitions,
//! one gzip member per connection sync-flushed after every write, `\r\n`-terminated records,
//! heartbeats on idle, connection-rate limits with 429, `backfillMinutes`, redundant-connection
//! limits with the "Forced Disconnect" message, Replay with its date rules and completion
//! message, a slow-reader backlog limit, and faults scripted per connection. Where the
//! documentation is silent, the choice made is said in a comment at the place it is made.
//!
//! ```
//! use gnip_stream::simulator::{Simulator, SimulatorConfig};
//! let sim = Simulator::start(SimulatorConfig::default())?;
//! let url = sim.stream_url(gnip_stream::Product::PowerTrack, "acme", "prod");
//! assert!(url.starts_with("http://127.0.0.1:"));
//! sim.shutdown(); // also on drop: every thread is joined
//! # Ok::<(), std::io::Error>(())
//! ```

mod feed;
mod http;
mod route;

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use base64::Engine as _;

pub use feed::{RecordSource, record_id_for};
use http::Request;
use route::{Plan, Refusal, Route};

use crate::core::{GzipEncoder, MINIMAL_HEADER};
use crate::product::{Product, REPLAY_CONNECTION_LIMIT};
use crate::time;

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
    /// From this compressed body byte on, every byte sent is inverted.
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
    fn selects(self, n: u64) -> bool {
        match self {
            Which::Connection(k) => n == k,
            Which::From(k) => n >= k,
            Which::Every => true,
        }
    }
}

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

/// The simulator's settings. Every field has a documented default.
#[derive(Clone)]
pub struct SimulatorConfig {
    listen: SocketAddr,
    user: String,
    password: String,
    source: Option<RecordSource>,
    rate: Rate,
    heartbeat: Duration,
    rate_window: Option<Duration>,
    redundant_connections: usize,
    force_disconnect_after: Duration,
    replay_per_minute: u32,
    replay_window_days: i64,
    level: u8,
    backlog_limit: usize,
    max_connections: usize,
    faults: Vec<(Which, Fault)>,
    wrapper: Option<Arc<Wrapper>>,
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
        }
    }
}

impl SimulatorConfig {
    /// Address to bind (default `127.0.0.1:0`: loopback, a free port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// The one valid user and password (default `demo` / `demo`).
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
    /// running: [`Simulator::add_fault`]).
    pub fn fault(mut self, which: Which, fault: Fault) -> Self {
        self.faults.push((which, fault));
        self
    }

    /// Serves every accepted socket through `wrap` (e.g. a TLS handshake).
    pub fn wrap_connections(mut self, wrap: Arc<Wrapper>) -> Self {
        self.wrapper = Some(wrap);
        self
    }
}

/// How often blocked loops look at the stop flag, and the socket write timeout.
const TICK: Duration = Duration::from_millis(20);

struct Shared {
    config: SimulatorConfig,
    source: RecordSource,
    scheme: &'static str,
    addr: SocketAddr,
    started: Instant,
    started_secs: i64,
    stop: AtomicBool,
    requests: AtomicU64,
    live_connections: AtomicUsize,
    log: Mutex<Vec<LoggedRequest>>,
    faults: Mutex<Vec<(Which, Fault)>>,
    windows: Mutex<HashMap<(String, String), VecDeque<Instant>>>,
    active: Mutex<HashMap<(Route, u32), usize>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    unlimited_block: Option<Vec<u8>>,
}

/// Locks, shrugging off poisoning: a connection thread that panicked must not take the whole
/// simulator (or the test reading its log) down with it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running simulator. Dropping it shuts it down.
pub struct Simulator {
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("addr", &self.shared.addr)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// Binds and starts serving on a thread of its own.
    pub fn start(config: SimulatorConfig) -> io::Result<Simulator> {
        let listener = TcpListener::bind(config.listen)?;
        let addr = listener.local_addr()?;
        let source = config.source.clone().unwrap_or_else(RecordSource::auto);
        let started_secs = time::now_secs();
        let unlimited_block = (config.rate == Rate::Unlimited)
            .then(|| unlimited_block(&source, config.level, started_secs));
        let shared = Arc::new(Shared {
            scheme: if config.wrapper.is_some() {
                "https"
            } else {
                "http"
            },
            faults: Mutex::new(config.faults.clone()),
            config,
            source,
            addr,
            started: Instant::now(),
            started_secs,
            stop: AtomicBool::new(false),
            requests: AtomicU64::new(0),
            live_connections: AtomicUsize::new(0),
            log: Mutex::new(Vec::new()),
            windows: Mutex::new(HashMap::new()),
            active: Mutex::new(HashMap::new()),
            threads: Mutex::new(Vec::new()),
            unlimited_block,
        });
        let s = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name("gnip-sim-accept".into())
            .spawn(move || accept_loop(&s, &listener))?;
        Ok(Simulator {
            shared,
            accept: Some(accept),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// `http://127.0.0.1:PORT` (or `https://…` when connections are wrapped in TLS).
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.shared.scheme, self.shared.addr)
    }

    /// The URL of a live stream (no partition parameter).
    pub fn stream_url(&self, product: Product, account: &str, label: &str) -> String {
        format!(
            "{}/stream/{}/accounts/{account}/publishers/twitter/{label}.json",
            self.base_url(),
            product.path_name()
        )
    }

    /// The URL of a Replay stream (no dates).
    pub fn replay_url(&self, product: Product, account: &str, label: &str) -> String {
        format!(
            "{}/replay/{}/accounts/{account}/publishers/twitter/{label}.json",
            self.base_url(),
            product.path_name()
        )
    }

    /// Where the records come from.
    pub fn source(&self) -> &RecordSource {
        &self.shared.source
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.shared.log).clone()
    }

    /// Adds a fault while running (for connections that have not arrived yet).
    pub fn add_fault(&self, which: Which, fault: Fault) {
        lock(&self.shared.faults).push((which, fault));
    }

    /// Removes every scripted fault.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Connections being served right now.
    pub fn live_connections(&self) -> usize {
        self.shared.live_connections.load(Ordering::SeqCst)
    }

    /// The global index of the first record published at or after `at` (how the feed is laid
    /// out; see [`RecordSource::render`]). With [`Rate::Unlimited`], 0.
    pub fn published_by(&self, at: Instant) -> u64 {
        due(&self.shared, at)
    }

    /// Live record `g` exactly as this simulator sends it, without `\r\n` (it belongs to
    /// partition `g % partitions + 1`).
    pub fn record(&self, g: u64) -> Vec<u8> {
        let mut out = Vec::new();
        render_live(&self.shared, g, &mut out);
        out
    }

    /// Stops accepting, ends every connection (within about 20 ms of its next step) and joins
    /// every thread.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept with a connection of our own.
        let _ = TcpStream::connect_timeout(&self.shared.addr, Duration::from_secs(1));
        if let Some(a) = self.accept.take() {
            let _ = a.join();
        }
        let threads = std::mem::take(&mut *lock(&self.shared.threads));
        for t in threads {
            let _ = t.join();
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

fn accept_loop(shared: &Arc<Shared>, listener: &TcpListener) {
    for incoming in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = incoming else { continue };
        let mut threads = lock(&shared.threads);
        threads.retain(|t| !t.is_finished());
        if threads.len() >= shared.config.max_connections {
            // Bounded: past the limit the service is "busy".
            drop(threads);
            let mut s = stream;
            let _ = http::write_error(
                &mut s,
                503,
                &error_body("Too many connections to the simulator", 0),
            );
            continue;
        }
        let s = Arc::clone(shared);
        let spawned = thread::Builder::new()
            .name("gnip-sim-conn".into())
            .spawn(move || {
                s.live_connections.fetch_add(1, Ordering::SeqCst);
                serve(&s, stream);
                s.live_connections.fetch_sub(1, Ordering::SeqCst);
            });
        if let Ok(handle) = spawned {
            threads.push(handle);
        }
    }
}

/// `{"error":{"message":…,"sent":…,"transactionId":…}}`, as the service's error bodies.
fn error_body(message: &str, connection: u64) -> String {
    format!(
        r#"{{"error":{{"message":{},"sent":"{}","transactionId":"sim-{connection}"}}}}"#,
        serde_json::Value::String(message.to_owned()),
        time::iso8601(time::now_secs())
    )
}

fn system_message(level: &str, message: &str, extra: &str) -> String {
    format!(
        r#"{{"{level}":{{"message":{},"sent":"{}"{extra}}}}}"#,
        serde_json::Value::String(message.to_owned()),
        time::iso8601(time::now_secs())
    )
}

fn redacted(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            if !k.eq_ignore_ascii_case("authorization") {
                return (k.clone(), v.clone());
            }
            let user = basic_credentials(v).map(|(u, _)| u).unwrap_or_default();
            (k.clone(), format!("Basic {user}:<redacted>"))
        })
        .collect()
}

fn basic_credentials(header: &str) -> Option<(String, String)> {
    let b64 = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

fn serve(shared: &Shared, stream: TcpStream) {
    // A request head must arrive promptly; writes time out often so stop is noticed.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(TICK));
    let _ = stream.set_nodelay(true);
    let raw = stream.try_clone().ok();
    let conn: Box<dyn Connection> = match &shared.config.wrapper {
        Some(wrap) => match wrap(stream) {
            Ok(c) => c,
            Err(_) => return,
        },
        None => Box::new(stream),
    };
    let mut conn = conn;
    let Ok(Some(req)) = http::read_request(&mut conn) else {
        return;
    };
    if shared.stop.load(Ordering::SeqCst) {
        return;
    }
    let n = shared.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let faults: Vec<Fault> = lock(&shared.faults)
        .iter()
        .filter(|(w, _)| w.selects(n))
        .map(|(_, f)| f.clone())
        .collect();
    for f in &faults {
        if let Fault::DelayHead { duration } = f {
            let until = Instant::now() + *duration;
            while Instant::now() < until {
                if shared.stop.load(Ordering::SeqCst) {
                    return;
                }
                thread::sleep(TICK);
            }
        }
    }
    let log = |status: u16| {
        lock(&shared.log).push(LoggedRequest {
            connection: n,
            at: shared.started.elapsed(),
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.query.clone(),
            headers: redacted(&req.headers),
            status,
        });
    };
    let plan = match admit(shared, &req, &faults) {
        Ok(plan) => plan,
        Err(Refusal { status, message }) => {
            log(status);
            let _ = http::write_error(&mut conn, status, &error_body(&message, n));
            return;
        }
    };
    log(200);
    let (route, plan) = plan;
    let mut out = Streamer::new(shared, conn, raw, &faults);
    if out.write_raw(http::stream_head()).is_err() {
        return;
    }
    let _ = match plan {
        Plan::Live {
            partition,
            backfill_minutes,
        } => {
            let key = (route.clone(), partition);
            let over_limit = {
                let mut active = lock(&shared.active);
                let count = active.entry(key.clone()).or_insert(0);
                *count += 1;
                *count > shared.config.redundant_connections
            };
            let result = out.live(&route, partition, backfill_minutes, over_limit);
            if let Some(c) = lock(&shared.active).get_mut(&key) {
                *c = c.saturating_sub(1);
            }
            result
        }
        Plan::Replay { from, to } => out.replay(from, to),
    };
}

/// Every check before streaming, in the order the simulator applies them: path (404), method
/// (405), connection-rate limit (429, per stream and partition), scripted status, credentials (401), gzip (406),
/// parameters (400; Replay dates 406). The docs do not say in which order the service checks;
/// rate limiting first follows protocol.md's note that retrying a 401 "only burns the rate
/// limit", so failed attempts count.
fn admit(shared: &Shared, req: &Request, faults: &[Fault]) -> Result<(Route, Plan), Refusal> {
    let refuse = |status: u16, message: &str| Refusal {
        status,
        message: message.to_owned(),
    };
    let route = route::route(&req.path).ok_or_else(|| refuse(404, "Not found"))?;
    if req.method != "GET" {
        return Err(refuse(405, "Only GET is supported on stream endpoints"));
    }
    rate_limit(shared, &route, req)?;
    if let Some(Fault::Status { status, message }) =
        faults.iter().find(|f| matches!(f, Fault::Status { .. }))
    {
        return Err(refuse(*status, message));
    }
    let authorised = req
        .header("authorization")
        .and_then(basic_credentials)
        .is_some_and(|(u, p)| u == shared.config.user && p == shared.config.password);
    if !authorised {
        return Err(refuse(
            401,
            "Invalid credentials: check the username and password (HTTP Basic).",
        ));
    }
    if !route::accepts_gzip(req) {
        return Err(refuse(406, route::NEEDS_GZIP));
    }
    let plan = if route.replay {
        let (from, to) =
            route::replay_dates(req, time::now_secs(), shared.config.replay_window_days)?;
        Plan::Replay { from, to }
    } else {
        route::live_params(&route, req)?
    };
    Ok((route, plan))
}

/// Sliding-window connection-rate limit per stream and partition (Replay counted apart).
/// protocol.md gives the limits per product without saying whether they count per partition;
/// per partition is assumed, since one budget of 10 a minute for the whole product would need
/// two minutes just to open the 20 Firehose partitions. Only admitted requests take a place:
/// the documentation does not say whether refused ones count, and counting them would keep a
/// client that retries at the limit locked out for good.
fn rate_limit(shared: &Shared, route: &Route, req: &Request) -> Result<(), Refusal> {
    let mut limit = if route.replay {
        REPLAY_CONNECTION_LIMIT
    } else {
        route.product.connection_limit()
    };
    if let Some(w) = shared.config.rate_window {
        limit.window = w;
    }
    let kind = if route.replay {
        "replay"
    } else {
        route.product.path_name()
    };
    let partition = req.param("partition").unwrap_or_default();
    let key = (
        format!("{kind}/{}/{partition}", route.label),
        route.account.clone(),
    );
    let now = Instant::now();
    let mut windows = lock(&shared.windows);
    let seen = windows.entry(key).or_default();
    while seen
        .front()
        .is_some_and(|t| now.duration_since(*t) >= limit.window)
    {
        seen.pop_front();
    }
    if seen.len() >= limit.requests as usize {
        return Err(Refusal {
            status: 429,
            message: "Exceeded rate limit".into(),
        });
    }
    seen.push_back(now);
    Ok(())
}

/// Global records published by `at` (`g < due` are out).
fn due(shared: &Shared, at: Instant) -> u64 {
    match shared.config.rate {
        Rate::PerSecond(r) if r > 0.0 => {
            (at.saturating_duration_since(shared.started).as_secs_f64() * r) as u64
        }
        _ => 0,
    }
}

/// Live record `g` rendered as it is sent: published at `start + g / rate` (at the start when
/// there is no rate). The one place that says when a record was published, so that
/// [`Simulator::record`] and the streams agree byte for byte.
fn render_live(shared: &Shared, g: u64, out: &mut Vec<u8>) {
    let secs = match shared.config.rate {
        Rate::PerSecond(r) if r > 0.0 => shared.started_secs + (g as f64 / r) as i64,
        _ => shared.started_secs,
    };
    shared.source.render(g, secs, out);
}

/// The block [`Rate::Unlimited`] repeats: 2,000 records, each sync-flushed, raw deflate from a
/// fresh compressor, so its back-references stay inside it and it can follow itself.
fn unlimited_block(source: &RecordSource, level: u8, secs: i64) -> Vec<u8> {
    let mut enc = GzipEncoder::new(level);
    let mut wire = Vec::new();
    let mut line = Vec::new();
    for g in 0..2000 {
        line.clear();
        source.render(g, secs, &mut line);
        line.extend_from_slice(b"\r\n");
        enc.write_flush(&line, &mut wire);
    }
    wire.split_off(MINIMAL_HEADER.len())
}

/// Why a stream ended (for the connection thread; the client sees only bytes).
#[derive(Debug)]
enum End {
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
struct Streamer<'a> {
    shared: &'a Shared,
    conn: Box<dyn Connection>,
    raw: Option<TcpStream>,
    enc: GzipEncoder,
    wire: Vec<u8>,
    framed: Vec<u8>,
    pending: Vec<u8>,
    body_bytes: u64,
    records: u64,
    drop_after: Option<u64>,
    corrupt_after: Option<u64>,
    stall: Option<(u64, Duration)>,
    drop_mid_record: Option<u64>,
    backlog_limit: usize,
    prelude: Vec<u8>,
    random_chunks: Option<crate::generator::Rng>,
}

impl<'a> Streamer<'a> {
    fn new(
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
            stall: None,
            drop_mid_record: None,
            backlog_limit: shared.config.backlog_limit,
            prelude: Vec::new(),
            random_chunks: None,
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
                Fault::RandomChunks { seed } => {
                    s.random_chunks = Some(crate::generator::Rng::new(*seed))
                }
                Fault::BareNewlineSystemMessage => {
                    let m =
                        system_message("info", "This system message ends in a bare newline", "");
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
                Fault::Status { .. } | Fault::DelayHead { .. } => {}
            }
        }
        s
    }

    fn stopped(&self) -> bool {
        self.shared.stop.load(Ordering::SeqCst)
    }

    /// Writes bytes as they are (the response head).
    fn write_raw(&mut self, bytes: &[u8]) -> Result<(), End> {
        self.pending.extend_from_slice(bytes);
        self.flush_pending()
    }

    /// Writes what is waiting, until the socket stops taking bytes for a tick. What it does not
    /// take stays waiting: that is the backlog a slow reader builds.
    fn flush_pending(&mut self) -> Result<(), End> {
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
    fn slow_reader(&mut self) -> End {
        let ip = self
            .raw
            .as_ref()
            .and_then(|r| r.peer_addr().ok())
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        let m = system_message(
            "error",
            &format!(
                "Force closing connection to {ip} because it reached the maximum allowed backup (buffer size is {}).",
                self.backlog_limit
            ),
            "",
        );
        self.wire.clear();
        self.enc
            .write_flush(format!("{m}\r\n").as_bytes(), &mut self.wire);
        let body = std::mem::take(&mut self.wire);
        http::chunk(&body, &mut self.pending);
        // One last try to get something out, then close whatever happened.
        let _ = self.conn.write(&self.pending);
        self.close();
        End::Closed
    }

    fn close(&mut self) {
        if let Some(r) = &self.raw {
            let _ = r.shutdown(Shutdown::Both);
        }
    }

    /// Compresses `plain` with a sync flush and sends it as one chunk.
    fn send(&mut self, plain: &[u8]) -> Result<(), End> {
        self.wire.clear();
        self.enc.write_flush(plain, &mut self.wire);
        let body = std::mem::take(&mut self.wire);
        let r = self.send_body(&body);
        self.wire = body;
        r
    }

    /// Sends compressed body bytes, applying the corrupt and drop faults.
    fn send_body(&mut self, body: &[u8]) -> Result<(), End> {
        let mut body = std::borrow::Cow::Borrowed(body);
        if let Some(at) = self.corrupt_after {
            let start = usize::try_from(at.saturating_sub(self.body_bytes)).unwrap_or(usize::MAX);
            if start < body.len() {
                for b in &mut body.to_mut()[start..] {
                    *b = !*b;
                }
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
    fn pause(&self, d: Duration) -> Result<(), End> {
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

    fn stall_if_due(&mut self) -> Result<(), End> {
        if let Some((after, d)) = self.stall {
            if self.records >= after {
                self.stall = None;
                self.pause(d)?;
            }
        }
        Ok(())
    }

    fn start_body(&mut self) -> Result<(), End> {
        // The gzip header goes out at once, as a flushing server's does.
        self.send(b"")?;
        if !self.prelude.is_empty() {
            let prelude = std::mem::take(&mut self.prelude);
            self.send(&prelude)?;
        }
        Ok(())
    }

    fn live(
        &mut self,
        route: &Route,
        partition: u32,
        backfill_minutes: u32,
        over_limit: bool,
    ) -> Result<(), End> {
        let config = &self.shared.config;
        let opened = Instant::now();
        if let Some(block) = &self.shared.unlimited_block {
            // Fast path: the gzip header, then the same pre-compressed block again and again.
            self.send_body(&MINIMAL_HEADER)?;
            let block = block.clone();
            loop {
                if self.stopped() {
                    return Err(End::Stopped);
                }
                self.send_body(&block)?;
                while self.pending.len() > block.len() {
                    if self.stopped() {
                        return Err(End::Stopped);
                    }
                    self.flush_pending()?;
                }
            }
        }
        self.start_body()?;
        let rate = match config.rate {
            Rate::PerSecond(r) if r > 0.0 => r,
            _ => 0.0,
        };
        let parts = u64::from(route.product.partitions().unwrap_or(1));
        let lane = u64::from(partition.saturating_sub(1));
        let from = opened
            .checked_sub(Duration::from_secs(60 * u64::from(backfill_minutes)))
            .unwrap_or(self.shared.started);
        let g0 = due(self.shared, from.max(self.shared.started));
        // The first record of this partition at or after g0.
        let mut g = g0 + (lane + parts - g0 % parts) % parts;
        let mut last_send = Instant::now();
        let mut batch = Vec::with_capacity(64 * 1024);
        loop {
            if self.stopped() {
                return Err(End::Stopped);
            }
            if over_limit && opened.elapsed() >= config.force_disconnect_after {
                let m = system_message(
                    "error",
                    &format!(
                        "Forced Disconnect: Too many connections. (Allowed Connections = {})",
                        config.redundant_connections
                    ),
                    "",
                );
                self.send(format!("{m}\r\n").as_bytes())?;
                self.write_raw(http::LAST_CHUNK)?;
                self.close();
                return Ok(());
            }
            self.stall_if_due()?;
            let now = Instant::now();
            let published = due(self.shared, now);
            batch.clear();
            while g < published && batch.len() < 256 * 1024 {
                render_live(self.shared, g, &mut batch);
                batch.extend_from_slice(b"\r\n");
                g += parts;
                self.records += 1;
                if self.stall.is_some_and(|(after, _)| self.records >= after)
                    || self.drop_mid_record == Some(self.records)
                {
                    break;
                }
            }
            if self.drop_mid_record == Some(self.records) {
                let b = std::mem::take(&mut batch);
                self.send(&b)?;
                // Half of the next record's compressed bytes, then the socket goes.
                let mut next = Vec::new();
                render_live(self.shared, g, &mut next);
                next.extend_from_slice(b"\r\n");
                self.wire.clear();
                self.enc.write_flush(&next, &mut self.wire);
                let half = self.wire[..self.wire.len() / 2].to_vec();
                self.drop_after = Some(self.body_bytes + half.len() as u64);
                return self.send_body(&half);
            }
            if !batch.is_empty() {
                let b = std::mem::take(&mut batch);
                let r = self.send(&b);
                batch = b;
                r?;
                last_send = Instant::now();
                continue;
            }
            if !self.pending.is_empty() {
                self.flush_pending()?;
            }
            if last_send.elapsed() >= config.heartbeat {
                self.send(b"\r\n")?;
                last_send = Instant::now();
                continue;
            }
            // Sleep until the next record of this partition, the heartbeat, or a tick.
            let next_at = if rate > 0.0 {
                self.shared.started + Duration::from_secs_f64(g as f64 / rate)
            } else {
                now + TICK
            };
            let wake = next_at.min(last_send + config.heartbeat);
            thread::sleep(wake.saturating_duration_since(Instant::now()).min(TICK));
        }
    }

    fn replay(&mut self, from: i64, to: i64) -> Result<(), End> {
        self.start_body()?;
        let per_minute = u64::from(self.shared.config.replay_per_minute);
        let minutes = ((to - from) / 60) as u64;
        // Ids depend only on the minute and the place in it, so a re-request of part of a
        // range returns the same records with the same ids.
        let first_minute = (from / 60) as u64;
        let mut batch = Vec::with_capacity(64 * 1024);
        let mut sent = 0u64;
        for j in 0..minutes * per_minute {
            if self.stopped() {
                return Err(End::Stopped);
            }
            self.stall_if_due()?;
            let minute = first_minute + j / per_minute;
            let g = minute * per_minute + j % per_minute;
            let secs = (minute * 60) as i64 + ((j % per_minute) * 60 / per_minute) as i64;
            self.shared.source.render(g, secs, &mut batch);
            batch.extend_from_slice(b"\r\n");
            self.records += 1;
            sent += 1;
            if batch.len() >= 64 * 1024
                || self.stall.is_some_and(|(after, _)| self.records >= after)
            {
                let b = std::mem::take(&mut batch);
                let r = self.send(&b);
                batch = b;
                batch.clear();
                r?;
            }
        }
        let done = system_message(
            "info",
            "Replay Request Completed",
            &format!(",\"activity_count\":{sent}"),
        );
        batch.extend_from_slice(done.as_bytes());
        batch.extend_from_slice(b"\r\n");
        self.send(&batch)?;
        // A finite stream: the member ends (deflate final block, CRC-32, ISIZE), then the body.
        self.wire.clear();
        self.enc.finish(&mut self.wire);
        let tail = std::mem::take(&mut self.wire);
        self.send_body(&tail)?;
        self.write_raw(http::LAST_CHUNK)?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.pending.is_empty() && Instant::now() < deadline {
            self.flush_pending()?;
        }
        Ok(())
    }
}

//! The running simulator: the listener, one thread per connection, the request log, shutdown.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::admit::{admit, redacted};
use super::config::{Connection, Fault, Rate, SimulatorConfig, Which};
use super::feed::RecordSource;
use super::http;
use super::live::{due, render_live, unlimited_block};
use super::route::{Plan, Refusal};
use super::rule_book::RuleBooks;
use super::state::{LoggedRequest, Shared, TICK, error_body, lock};
use super::streamer::Streamer;
use crate::protocol::endpoint::{Service, StreamPath};
use crate::protocol::product::Product;
use crate::protocol::rules::{Rule, RuleSet, RulesPath};

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
        let started_secs = crate::clock::now_secs() - config.clock_back.as_secs() as i64;
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
            advanced_ms: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            requests: AtomicU64::new(0),
            live_connections: AtomicUsize::new(0),
            log: Mutex::new(Vec::new()),
            windows: Mutex::new(HashMap::new()),
            active: Mutex::new(HashMap::new()),
            threads: Mutex::new(Vec::new()),
            unlimited_block,
            blocks: Mutex::new(HashMap::new()),
            v2_connections: Mutex::new(Vec::new()),
            v2: std::sync::OnceLock::new(),
            rules: Mutex::new(RuleBooks::default()),
            disruptions: Mutex::new(HashMap::new()),
            disruptions_pending: AtomicUsize::new(0),
            streaming: Mutex::new(Default::default()),
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
        StreamPath::new(Service::Stream, product, account, label).url(&self.base_url())
    }

    /// The URL of a Replay stream (no dates).
    pub fn replay_url(&self, product: Product, account: &str, label: &str) -> String {
        StreamPath::new(Service::Replay, product, account, label).url(&self.base_url())
    }

    /// The URL of a stream's rules (PowerTrack's, or PowerTrack Replay's).
    pub fn rules_url(&self, set: RuleSet, account: &str, label: &str) -> String {
        RulesPath::new(set, account, label).url(&self.base_url())
    }

    /// The X API v2 filtered stream's rules now, in the order they were added.
    pub fn v2_rules(&self) -> Vec<Rule> {
        lock(&self.shared.rules)
            .v2_rules()
            .iter()
            .map(|s| s.rule.clone())
            .collect()
    }

    /// A stream's rules now, in the order they were added (ids exact).
    pub fn rules(&self, set: RuleSet, account: &str, label: &str) -> Vec<Rule> {
        lock(&self.shared.rules).rules(&RulesPath::new(set, account, label))
    }

    /// Where the records come from.
    pub fn source(&self) -> &RecordSource {
        &self.shared.source
    }

    /// Every request so far, in arrival order (at most the last [`MAX_LOGGED_REQUESTS`]).
    /// A request is logged when it is answered, so concurrent connections are logged out of
    /// order: the list is put back in the order their numbers were given on arrival.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        let mut log = lock(&self.shared.log).clone();
        log.sort_by_key(|r| r.connection);
        log
    }

    /// Adds a fault while running (for connections that have not arrived yet).
    pub fn add_fault(&self, which: Which, fault: Fault) {
        lock(&self.shared.faults).push((which, fault));
    }

    /// Removes every scripted fault.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// The connection numbers of the live streams being served now (not Replay, not rules).
    pub fn streaming_connections(&self) -> Vec<u64> {
        lock(&self.shared.streaming).iter().copied().collect()
    }

    /// Applies `fault` to live stream connection `connection` at its next step: `DropMidRecord`
    /// (after the next record), `DropAfter` (now), `Stall` (now, for its duration),
    /// `CorruptAfter` (from the next bytes), `BufferLimit` (the slow-reader close, now),
    /// `ForcedDisconnect` (now). Other faults apply to new connections only
    /// ([`Simulator::add_fault`]).
    pub fn disrupt(&self, connection: u64, fault: Fault) {
        let mut all = lock(&self.shared.disruptions);
        all.entry(connection).or_default().push(fault);
        self.shared
            .disruptions_pending
            .store(all.len(), Ordering::Relaxed);
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
        self.record_of(Product::Firehose, g)
    }

    /// Live record `g` of `product`'s stream exactly as this simulator sends it, without
    /// `\r\n`: the Gnip record for a Gnip product, the X API v2 record of the product's kind
    /// for a v2 one.
    pub fn record_of(&self, product: Product, g: u64) -> Vec<u8> {
        let mut out = Vec::new();
        render_live(&self.shared, product, g, &mut out);
        out
    }

    /// Moves the simulator's clock forward by `by` (see [`SimulatorConfig::clock_back`]): what
    /// would have been published in that time is published at once, stamped with its times.
    pub fn advance_clock(&self, by: Duration) {
        self.shared
            .advanced_ms
            .fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }

    /// The simulator's clock, Unix seconds (the machine's unless set back or advanced).
    pub fn now_secs(&self) -> i64 {
        self.shared.now_secs()
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

/// The most requests [`Simulator::requests`] keeps (the oldest half is forgotten past it).
pub const MAX_LOGGED_REQUESTS: usize = 100_000;

fn serve(shared: &Shared, stream: TcpStream) {
    // A request head must arrive promptly; writes time out often so stop is noticed.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(TICK));
    let _ = stream.set_nodelay(true);
    let raw = stream.try_clone().ok();
    let client_ip = stream
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
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
    let at = shared.started.elapsed();
    let log = |status: u16, body_bytes: usize| {
        let mut l = lock(&shared.log);
        if l.len() >= MAX_LOGGED_REQUESTS {
            // Bounded (audit L13): the oldest half goes.
            l.drain(..MAX_LOGGED_REQUESTS / 2);
        }
        l.push(LoggedRequest {
            connection: n,
            at,
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.query.clone(),
            headers: redacted(&req.headers),
            status,
            body_bytes,
            done: shared.started.elapsed(),
        });
    };
    if req.path == crate::protocol::v2::rules::V2_RULES_PATH {
        super::rules_v2::serve(shared, &mut conn, req.clone(), &faults, log);
        return;
    }
    if req
        .path
        .starts_with(crate::protocol::v2::connections::CONNECTIONS_PATH)
    {
        super::connections::serve(shared, &mut conn, req.clone(), &faults, log);
        return;
    }
    if req.path.starts_with("/rules/") {
        super::rules::serve(shared, &mut conn, req.clone(), n, &faults, log);
        return;
    }
    let plan = match admit(shared, &req, &faults) {
        Ok(plan) => plan,
        Err(Refusal {
            status,
            message,
            body,
            headers,
        }) => {
            log(status, 0);
            let _ = match body {
                Some(body) => http::write_json(&mut conn, status, &headers, body.as_bytes(), false),
                None => http::write_error(&mut conn, status, &error_body(&message, n)),
            };
            return;
        }
    };
    log(200, 0);
    let (route, plan, headers) = plan;
    let mut out = Streamer::new(n, shared, conn, raw, &faults);
    let head = if matches!(route.product, Product::V2(_)) {
        // X API v2: gzip only when asked for (x-api-v2.md §2.1).
        out.v2 = true;
        out.identity = !(shared.config.v2_gzip && super::route::accepts_gzip(&req));
        http::v2_stream_head(!out.identity, &headers)
    } else {
        http::stream_head().to_vec()
    };
    if out.write_raw(&head).is_err() {
        return;
    }
    let _ = match plan {
        Plan::Live {
            partition,
            backfill_minutes,
        } => {
            let key = (route.clone(), partition);
            let (over_limit, redundant) = {
                let mut active = lock(&shared.active);
                let count = active.entry(key.clone()).or_insert(0);
                if !out.v2 {
                    *count += 1; // a v2 connection was counted when admitted
                }
                (*count > shared.config.redundant_connections, *count > 1)
            };
            if redundant {
                // A second copy of the same stream: its own batch sizes and pauses.
                out.jitter = Some(crate::rng::Rng::new(n.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
            }
            lock(&shared.streaming).insert(n);
            let listed = match route.product {
                Product::V2(p) => Some(super::connections::opened(shared, n, p, client_ip)),
                _ => None,
            };
            let result = out.live(&route, partition, backfill_minutes, over_limit);
            if let Some(i) = listed {
                super::connections::closed(shared, i);
            }
            lock(&shared.streaming).remove(&n);
            lock(&shared.disruptions).remove(&n);
            if let Some(c) = lock(&shared.active).get_mut(&key) {
                *c = c.saturating_sub(1);
            }
            result
        }
        Plan::Replay { from, to } => out.replay(from, to),
        Plan::Recovery {
            partition,
            from,
            to,
        } => out.recovery(&route, partition, from, to),
    };
}

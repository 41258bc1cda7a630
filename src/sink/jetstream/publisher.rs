//! The JetStream publisher, IO only: one thread that takes records from the queue the stream
//! handlers fill (`queue.rs`, bounded: backpressure), keeps a window of publishes in flight over one
//! NATS connection, resends what is refused for a while or not acknowledged in time,
//! reconnects to the next server and resends everything unacknowledged, and on finish drains
//! within a deadline. What replies mean, when a silent server is pinged or given up, and what
//! a refusal costs are [`Publishing`]'s decisions.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::conn::{NatsConnection, NatsOptions};
use super::queue::{PublishQueue, PublishStats, Shared, queued_size};
use crate::Error;
use crate::metrics::PublishSnapshot;
use crate::nats::api::{self, MSG_ID};
use crate::nats::{DEFAULT_PUBLISH_WINDOW, Liveness, Message, Publishing, Verdict, encode};

/// Default queue between the stream handlers and the publisher, in records.
pub const DEFAULT_QUEUE: usize = 10_000;
/// The most records [`PublisherConfig::queue`] may hold (its slots are allocated up front,
/// about 100 bytes each: 100 MB at most).
pub const MAX_QUEUE: usize = 1_000_000;
/// Default bound of the queue in bytes (record payloads and ids): 64 MiB.
pub const DEFAULT_QUEUE_BYTES: usize = 64 << 20;
/// The largest [`PublisherConfig::queue_bytes`]: 1 GiB.
pub const MAX_QUEUE_BYTES: usize = 1 << 30;
/// Default ack timeout.
pub const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time `finish` waits for the last acknowledgements.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The publisher's settings, with the documented defaults.
#[derive(Debug, Clone)]
pub struct PublisherConfig {
    /// Where NATS is.
    pub nats: NatsOptions,
    /// Unacknowledged publishes at most (default [`DEFAULT_PUBLISH_WINDOW`]).
    pub window: usize,
    /// No ack within this: resend (default 5 s).
    pub ack_timeout: Duration,
    /// Records queued between the handlers and the publisher (default 10,000, at most
    /// [`MAX_QUEUE`]).
    pub queue: usize,
    /// Bytes (payloads and message ids) queued at most (default 64 MiB, at most
    /// [`MAX_QUEUE_BYTES`]); a record larger than this alone waits for an empty queue and
    /// then goes in by itself.
    pub queue_bytes: usize,
}

impl PublisherConfig {
    /// The defaults for `nats`.
    pub fn new(nats: NatsOptions) -> Self {
        PublisherConfig {
            nats,
            window: DEFAULT_PUBLISH_WINDOW,
            ack_timeout: DEFAULT_ACK_TIMEOUT,
            queue: DEFAULT_QUEUE,
            queue_bytes: DEFAULT_QUEUE_BYTES,
        }
    }
}

/// How a publisher ended.
#[derive(Debug)]
pub struct PublishReport {
    /// The figures at the end.
    pub stats: PublishSnapshot,
    /// Records taken but never acknowledged (still queued or in flight at the deadline, or
    /// refused).
    pub unacknowledged: u64,
    /// Why it stopped early, if it did.
    pub error: Option<Error>,
}

/// A running publisher.
#[derive(Debug)]
pub struct Publisher {
    queue: Option<PublishQueue>,
    shared: Arc<Shared>,
    started: Instant,
    thread: Option<JoinHandle<u64>>,
}

impl Publisher {
    /// Connects (trying the servers in turn), checks that a stream captures each of
    /// `subjects` (none: [`Error::JetStream`] naming the subject), and starts the thread.
    pub fn start(config: PublisherConfig, subjects: &[String]) -> Result<Publisher, Error> {
        let mut conn = NatsConnection::connect(&config.nats, 0)?;
        for s in subjects {
            check_captured(&mut conn, s, config.ack_timeout)?;
        }
        let (tx, rx) = sync_channel(config.queue.clamp(1, MAX_QUEUE));
        let shared = Arc::new(Shared {
            queue_bytes: config.queue_bytes.clamp(1, MAX_QUEUE_BYTES),
            ..Shared::default()
        });
        shared.connected.store(true, Ordering::Relaxed);
        shared
            .max_payload
            .store(conn.info().max_payload, Ordering::Relaxed);
        let started = Instant::now();
        let worker = Worker {
            publishing: Publishing::new(config.window, config.ack_timeout),
            config,
            shared: Arc::clone(&shared),
            rx,
            started,
        };
        let thread = std::thread::Builder::new()
            .name("jetstream-publisher".into())
            .spawn(move || worker.run(conn))
            .map_err(|e| Error::Io {
                kind: e.kind(),
                message: format!("starting the publisher thread: {e}").into(),
            })?;
        Ok(Publisher {
            queue: Some(PublishQueue {
                tx,
                shared: Arc::clone(&shared),
            }),
            shared,
            started,
            thread: Some(thread),
        })
    }

    /// A queue for a handler.
    pub fn queue(&self) -> Option<PublishQueue> {
        self.queue.clone()
    }

    /// The figures now.
    pub fn snapshot(&self) -> PublishSnapshot {
        self.shared.snapshot()
    }

    /// A handle on its figures for another thread.
    pub fn stats(&self) -> PublishStats {
        PublishStats(Arc::clone(&self.shared))
    }

    /// The error that stopped it, once it has failed (the handlers should stop).
    pub fn failure(&self) -> Option<Error> {
        self.shared.failed.lock().ok().and_then(|f| f.clone())
    }

    /// Closes the queue: a [`PublishQueue::send`] waiting for room (NATS unreachable, the
    /// queue full) gives up at once, and every later one is refused. A stop calls this first,
    /// so the stream's threads end and the drain's clock can start (audit H1).
    pub fn close_queue(&self) {
        self.shared.queue_closed.store(true, Ordering::SeqCst);
        self.shared.room.notify_all();
    }

    /// No more records come (every [`PublishQueue`] clone must be dropped too): waits up to
    /// `drain_timeout` for everything queued and in flight to be acknowledged.
    pub fn finish(mut self, drain_timeout: Duration) -> PublishReport {
        self.close_queue();
        let at = self.started.elapsed() + drain_timeout;
        self.shared
            .drain_deadline_ms
            .store(at.as_millis() as u64, Ordering::SeqCst);
        self.queue = None;
        let left = match self.thread.take().map(JoinHandle::join) {
            Some(Ok(n)) => n,
            _ => self.shared.queued.load(Ordering::SeqCst),
        };
        let stats = self.shared.snapshot();
        let error = self.failure();
        PublishReport {
            unacknowledged: left,
            stats,
            error,
        }
    }
}

/// Asks JetStream which stream captures `subject`; none is [`Error::JetStream`]. No
/// responders (JetStream starting, or electing) is asked again until `patience` is over.
pub fn check_captured(
    conn: &mut NatsConnection,
    subject: &str,
    patience: Duration,
) -> Result<String, Error> {
    let until = Instant::now() + patience;
    loop {
        let (h, p) = conn.request(
            api::STREAM_NAMES,
            &[],
            &api::stream_names_request(subject),
            patience,
        )?;
        match api::reply(h.as_deref(), &p) {
            Ok(v) => {
                return api::stream_names(&v).into_iter().next().ok_or_else(|| {
                    Error::JetStream {
                        message: format!(
                            "no stream captures subject '{subject}' (create one: gnip-stream jetstream-init)"
                        )
                        .into(),
                    }
                });
            }
            Err(e) if e.is_retryable() && Instant::now() < until => {
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => {
                return Err(Error::JetStream {
                    message: format!("looking up the stream for '{subject}': {e}").into(),
                });
            }
        }
    }
}

struct Worker {
    config: PublisherConfig,
    shared: Arc<Shared>,
    rx: Receiver<Message>,
    publishing: Publishing,
    started: Instant,
}

impl Worker {
    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn closing(&self) -> bool {
        self.shared.drain_deadline_ms.load(Ordering::SeqCst) != 0
    }

    fn draining_past_deadline(&self) -> bool {
        let d = self.shared.drain_deadline_ms.load(Ordering::SeqCst);
        d != 0 && self.now_ms() >= d
    }

    fn fail(&self, e: Error) {
        if let Ok(mut f) = self.shared.failed.lock() {
            f.get_or_insert(e);
        }
    }

    fn count(&self, counter: &AtomicU64, n: u64) {
        if n > 0 {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Runs until the queue is closed and everything acknowledged, or the drain deadline, or
    /// a refusal. Returns the records never acknowledged.
    fn run(mut self, conn: NatsConnection) -> u64 {
        let mut conn = Some(conn);
        let mut closed = false;
        let mut next_server = 0;
        self.publishing.on_connected(self.now_ms());
        loop {
            // Fill the window from the queue.
            while !closed && self.publishing.has_room() {
                match self.rx.try_recv() {
                    Ok(m) => self.take(m),
                    // After `finish` every handler has stopped: empty is the end.
                    Err(TryRecvError::Empty) if self.closing() => closed = true,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => closed = true,
                }
            }
            if (closed && self.publishing.is_empty()) || self.draining_past_deadline() {
                break;
            }
            // Connected?
            let Some(c) = conn.as_mut() else {
                match self.reconnect(&mut next_server) {
                    Ok(c) => conn = Some(c),
                    Err(e @ (Error::NatsAuth { .. } | Error::Tls { .. })) => {
                        self.fail(e);
                        break;
                    }
                    Err(_) => {}
                }
                continue;
            };
            // Nothing to do: wait for a record.
            if self.publishing.is_empty() && !closed {
                match self.rx.recv_timeout(Duration::from_millis(100)) {
                    Ok(m) => {
                        self.take(m);
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => closed = true,
                    Err(RecvTimeoutError::Timeout) => {}
                }
            }
            // Write what is due.
            let now = self.now_ms();
            let mut wrote = 0usize;
            let mut refused = None;
            while let Some((token, m)) = self.publishing.next_to_send(now) {
                let reply = c.reply_subject(token);
                let headers = [(MSG_ID, m.id.as_str())];
                if let Err(e) = encode::publish_with_headers(
                    c.out(),
                    &m.subject,
                    Some(&reply),
                    &headers,
                    &m.payload,
                ) {
                    // Refused before it was written (a bad subject): nothing can deliver it.
                    refused = Some(Error::JetStream {
                        message: format!("cannot publish to '{}': {e}", m.subject).into(),
                    });
                    break;
                }
                wrote += 1;
                if c.out().len() >= 256 * 1024 {
                    break;
                }
            }
            if let Some(e) = refused {
                self.fail(e);
                return self.abandon();
            }
            if wrote > 0 && c.flush().is_err() {
                self.lost_connection(&mut conn, &mut next_server);
                continue;
            }
            // Read replies until the next thing falls due (at most 50 ms at a time).
            let publishing = &mut self.publishing;
            match c.poll(publishing.wait(now), |op| publishing.on_op(&op)) {
                Ok(true) => self.publishing.on_read(self.now_ms()),
                Ok(false) => {}
                Err(_) => {
                    self.lost_connection(&mut conn, &mut next_server);
                    continue;
                }
            }
            let now = self.now_ms();
            let (tally, verdict) = self.publishing.settle(now);
            self.count(&self.shared.delivered, tally.delivered);
            self.shared
                .in_window
                .fetch_sub(tally.delivered, Ordering::Relaxed);
            self.count(&self.shared.duplicates, tally.duplicates);
            self.count(&self.shared.resends, tally.resends);
            // Refused for itself alone (too large for the stream): the stream goes on (M2).
            for k in self.publishing.take_skipped() {
                self.shared.in_window.fetch_sub(1, Ordering::Relaxed);
                self.shared.skipped.fetch_add(1, Ordering::Relaxed);
                log::warn!(
                    "JetStream: record {} of partition {} ({} bytes) refused for itself: {}: not published",
                    k.id,
                    k.partition,
                    k.bytes,
                    k.reason
                );
            }
            if tally.delivered > 0 {
                self.shared
                    .acked
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone_from(self.publishing.acked_times());
            }
            match verdict {
                Verdict::Go => {}
                Verdict::Reconnect => self.lost_connection(&mut conn, &mut next_server),
                Verdict::Fail { error, refused } => {
                    self.fail(error);
                    return refused + self.abandon();
                }
            }
            let expired = self.publishing.expire(now);
            self.count(&self.shared.resends, expired as u64);
            // A silent server: PING; no PONG within the ack timeout: the next server.
            if let Some(c) = conn.as_mut() {
                match self.publishing.liveness(now) {
                    Liveness::Fine => {}
                    Liveness::Dead => self.lost_connection(&mut conn, &mut next_server),
                    Liveness::Ping => {
                        encode::ping(c.out());
                        if c.flush().is_err() {
                            self.lost_connection(&mut conn, &mut next_server);
                        } else {
                            self.publishing.ping_sent(now);
                        }
                    }
                }
            }
        }
        self.abandon()
    }

    fn take(&mut self, m: Message) {
        self.shared.queued.fetch_sub(1, Ordering::Relaxed);
        self.shared
            .queued_bytes
            .fetch_sub(queued_size(&m), Ordering::SeqCst);
        self.shared.in_window.fetch_add(1, Ordering::Relaxed);
        self.publishing.push(m);
        if self.shared.waiting.load(Ordering::SeqCst) > 0 {
            self.shared.room.notify_one();
        }
    }

    fn lost_connection(&mut self, conn: &mut Option<NatsConnection>, next_server: &mut usize) {
        if let Some(c) = conn.take() {
            *next_server = c.server_index() + 1;
            log::info!("NATS connection to server {} lost", c.server_index());
        }
        self.shared.connected.store(false, Ordering::Relaxed);
    }

    /// The next server in turn (all of them tried once; a short pause if none answered).
    fn reconnect(&mut self, next_server: &mut usize) -> Result<NatsConnection, Error> {
        // Given up at the drain's deadline, also one set by a stop during the attempt.
        let (started, shared) = (self.started, &self.shared);
        let until = || {
            let ms = shared.drain_deadline_ms.load(Ordering::SeqCst);
            (ms != 0).then(|| started + Duration::from_millis(ms))
        };
        match NatsConnection::connect_until(&self.config.nats, *next_server, &until) {
            Ok(c) => {
                self.shared.reconnects.fetch_add(1, Ordering::Relaxed);
                self.shared.connected.store(true, Ordering::Relaxed);
                self.shared
                    .max_payload
                    .store(c.info().max_payload, Ordering::Relaxed);
                let n = self.publishing.on_connected(self.now_ms());
                self.shared.resends.fetch_add(n as u64, Ordering::Relaxed);
                Ok(c)
            }
            Err(e) => {
                *next_server += 1;
                std::thread::sleep(Duration::from_millis(250));
                Err(e)
            }
        }
    }

    /// Gives up: what is queued and in the window is not acknowledged.
    fn abandon(&mut self) -> u64 {
        let in_window = self.publishing.abandon();
        let mut queued = 0;
        while let Ok(m) = self.rx.try_recv() {
            self.shared
                .queued_bytes
                .fetch_sub(queued_size(&m), Ordering::SeqCst);
            queued += 1;
        }
        self.shared.queued.fetch_sub(queued, Ordering::Relaxed);
        self.shared.in_window.store(0, Ordering::Relaxed);
        in_window + queued
    }
}

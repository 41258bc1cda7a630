//! The lease thread, IO only: every TTL/3 it renews this host's leases, polls the others'
//! keys and tries for free or expired slots, over its own NATS connection, and reports each
//! partition gained (with the backfill to start it with) or lost. The rules are
//! [`LeaseTable`]'s.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::conn::{NatsConnection, NatsOptions};
use crate::Error;
use crate::nats::api::{self, EXPECTED_LAST_SUBJECT_SEQUENCE, StreamSpec};
use crate::nats::lease::{check_token, key, key_subject};
use crate::nats::{Gained, LeaseTable, PubAck};

/// The leases one host takes part in.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// The bucket (`KV_<bucket>`, made by `jetstream-init --lease-bucket`).
    pub bucket: String,
    /// The product segment of the stream's URL.
    pub product: String,
    /// The stream's label.
    pub label: String,
    /// This host's id (the keys' value).
    pub host_id: String,
    /// The lease TTL: must equal the bucket's `max_age`.
    pub ttl: Duration,
    /// Slots per partition.
    pub per_partition: u8,
    /// The partitions shared.
    pub partitions: Vec<u32>,
    /// Backfill for a partition whose key never had a holder.
    pub backfill_on_start: Option<u8>,
}

/// What the lease thread reports.
#[derive(Debug)]
pub enum LeaseEvent {
    /// Start this partition.
    Gained(Gained),
    /// Stop this partition now: another host holds its slot.
    Lost(u32),
    /// The thread stopped for good (credentials refused, the bucket gone).
    Failed(Error),
}

/// The running lease thread.
#[derive(Debug)]
pub struct Leases {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Leases {
    /// Checks the configuration and the bucket, then starts the thread; events go to `events`.
    pub fn start(
        nats: NatsOptions,
        config: LeaseConfig,
        events: Sender<LeaseEvent>,
    ) -> Result<Leases, Error> {
        check_token("lease bucket", &config.bucket)?;
        check_token("host id", &config.host_id)?;
        check_token("product", &config.product)?;
        check_token("label", &config.label)?;
        let mut conn = NatsConnection::connect(&nats, 0)?;
        check_bucket(&mut conn, &config.bucket, config.ttl)?;
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("jetstream-leases".into())
            .spawn(move || run(nats, conn, config, events, &s))
            .map_err(|e| Error::Io {
                kind: e.kind(),
                message: format!("starting the lease thread: {e}").into(),
            })?;
        Ok(Leases {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the thread (the leases age out of the bucket after their TTL), waiting at most
    /// [`LEASE_STOP_WAIT`] for it: a thread inside a connect to a server that does not answer
    /// ends by itself within the connect timeout, and a stop must not wait for that (the
    /// drain's bound, audit H1); a lease it still writes ages out like the others.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let until = Instant::now() + LEASE_STOP_WAIT;
            while !t.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(10));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

/// How long [`Leases::stop`] waits for the lease thread.
pub const LEASE_STOP_WAIT: Duration = Duration::from_millis(500);

/// The bucket must exist and keep keys for exactly `ttl`: a mismatch is the user's error
/// ([`Error::InvalidConfig`]-like [`Error::BadInput`] naming both), a missing bucket JetStream's
/// refusal.
pub fn check_bucket(conn: &mut NatsConnection, bucket: &str, ttl: Duration) -> Result<(), Error> {
    let stream = format!("KV_{bucket}");
    let (h, p) = conn.request(
        &api::stream_info_subject(&stream),
        &[],
        b"",
        Duration::from_secs(5),
    )?;
    let info = api::reply(h.as_deref(), &p).map_err(|e| Error::JetStream {
        message: format!(
            "lease bucket '{bucket}' (stream {stream}): {e}; create it with gnip-stream jetstream-init --lease-bucket {bucket} --lease-ttl SECS"
        )
        .into(),
    })?;
    let max_age = info
        .pointer("/config/max_age")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    if max_age != ttl.as_nanos() as u64 {
        return Err(Error::BadInput {
            reason: format!(
                "--lease-ttl {} s does not equal the max_age of lease bucket '{bucket}', {} s",
                ttl.as_secs_f64(),
                max_age as f64 / 1e9
            )
            .into(),
        });
    }
    Ok(())
}

fn run(
    nats: NatsOptions,
    conn: NatsConnection,
    config: LeaseConfig,
    events: Sender<LeaseEvent>,
    stop: &AtomicBool,
) {
    let mut table = LeaseTable::new(
        &config.partitions,
        config.per_partition,
        config.ttl.as_millis() as u64,
        config.backfill_on_start,
    );
    let subjects: Vec<String> = table
        .slots()
        .map(|(_, p, s)| key_subject(&config.bucket, &key(&config.product, &config.label, p, s)))
        .collect();
    let stream = format!("KV_{}", config.bucket);
    let period = Duration::from_millis(table.period_ms());
    let timeout = period.min(Duration::from_secs(5));
    let started = Instant::now();
    let now_ms = || started.elapsed().as_millis() as u64;
    let mut conn = Some(conn);
    let mut next_server = 0;
    let mut next_round = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        if Instant::now() < next_round {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        next_round += period;
        for p in table.expire(now_ms()) {
            log::info!("lease of partition {p} not renewed for a TTL: given up");
            let _ = events.send(LeaseEvent::Lost(p));
        }
        let c = match conn.as_mut() {
            Some(c) => c,
            // A stop ends a connect in progress too (DNS and TCP included).
            None => match NatsConnection::connect_until(&nats, next_server, &|| {
                stop.load(Ordering::SeqCst).then(Instant::now)
            }) {
                Ok(c) => conn.insert(c),
                Err(e @ Error::NatsAuth { .. }) => {
                    let _ = events.send(LeaseEvent::Failed(e));
                    return;
                }
                Err(_) => {
                    next_server += 1;
                    continue;
                }
            },
        };
        match round(
            c,
            &mut table,
            &subjects,
            &stream,
            &config.host_id,
            timeout,
            &now_ms,
            &events,
        ) {
            Ok(()) => {}
            Err(e) => {
                log::info!("lease round: {e}");
                next_server = c.server_index() + 1;
                conn = None;
            }
        }
    }
}

/// Publishes `host_id` to `subject` if its last sequence is `expected`: the new sequence,
/// `Ok(None)` when someone else wrote it since, `Err` for anything else.
fn put(
    c: &mut NatsConnection,
    subject: &str,
    host_id: &str,
    expected: u64,
    timeout: Duration,
) -> Result<Option<u64>, Error> {
    let seq = expected.to_string();
    let (h, p) = c.request(
        subject,
        &[(EXPECTED_LAST_SUBJECT_SEQUENCE, &seq)],
        host_id.as_bytes(),
        timeout,
    )?;
    match PubAck::parse(h.as_deref(), &p) {
        PubAck::Stored { seq, .. } => Ok(Some(seq)),
        PubAck::Refused {
            err_code: Some(api::ERR_WRONG_LAST_SEQUENCE),
            ..
        } => Ok(None),
        other => Err(Error::JetStream {
            message: format!("lease {subject}: {other:?}").into(),
        }),
    }
}

/// One round: renew, poll, acquire.
#[allow(clippy::too_many_arguments)]
fn round(
    c: &mut NatsConnection,
    table: &mut LeaseTable,
    subjects: &[String],
    stream: &str,
    host_id: &str,
    timeout: Duration,
    now_ms: &impl Fn() -> u64,
    events: &Sender<LeaseEvent>,
) -> Result<(), Error> {
    for (i, seq) in table.to_renew() {
        // Counted from the send: the bucket's clock starts later, so this host gives a lease
        // up before the bucket can hand it to another.
        let sent = now_ms();
        match put(c, &subjects[i], host_id, seq, timeout)? {
            Some(new) => table.renewed(i, new, sent),
            None => {
                if let Some(p) = table.lost(i) {
                    log::info!("lease {} taken by another host", subjects[i]);
                    let _ = events.send(LeaseEvent::Lost(p));
                }
            }
        }
    }
    let held: Vec<usize> = table.to_renew().into_iter().map(|(i, _)| i).collect();
    for (i, key_subject) in subjects.iter().enumerate() {
        if held.contains(&i) {
            continue;
        }
        let (subject, body) = api::last_msg_request(stream, key_subject);
        let (h, p) = c.request(&subject, &[], &body, timeout)?;
        match api::stored_msg(api::reply(h.as_deref(), &p)) {
            Ok(m) => table.observe(
                i,
                m.as_ref().map(|m| (m.seq, m.data.as_slice())),
                host_id,
                now_ms(),
            ),
            Err(e) if e.is_retryable() => return Ok(()),
            Err(e) => {
                return Err(Error::JetStream {
                    message: format!("reading lease {key_subject}: {e}").into(),
                });
            }
        }
    }
    for (i, expected) in table.to_acquire(now_ms()) {
        let sent = now_ms();
        match put(c, &subjects[i], host_id, expected, timeout)? {
            Some(seq) => {
                let g = table.acquired(i, seq, sent);
                log::info!("lease {} acquired", subjects[i]);
                let _ = events.send(LeaseEvent::Gained(g));
            }
            None => table.refused(i),
        }
    }
    Ok(())
}

/// Creates (or checks) the lease bucket: `KV_<bucket>`, keys aging out after `ttl`.
pub fn bucket_spec(bucket: &str, ttl: Duration, replicas: u32) -> Result<StreamSpec, Error> {
    check_token("lease bucket", bucket)?;
    Ok(StreamSpec::kv_bucket(
        bucket,
        ttl.as_nanos() as u64,
        replicas,
    ))
}

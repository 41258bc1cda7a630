//! `gnip-stream stream --jetstream --leases BUCKET` (feature `jetstream`): the lease thread's
//! events turned into partitions started (with the backfill the lease says) and stopped, one
//! client per partition, all publishing through one queue.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

use gnip_stream::client::{Client, ClientConfig, PartitionReport, Running, StatsSnapshot};
use gnip_stream::sink::jetstream::{LeaseConfig, LeaseEvent, Leases, PublishHandler, PublishQueue};
use gnip_stream::unversioned::protocol::dialect::Dialect;
use gnip_stream::unversioned::protocol::endpoint::UrlParts;
use gnip_stream::unversioned::protocol::product::MAX_BACKFILL_MINUTES;

use super::jetstream_delivery::{Delivering, fail, serve_metrics, stats_line, stream_status};
use super::monitor::Monitor;
use super::report::{print_event, start_error};
use super::stderr;
use super::stream_args::StreamArgs;
use super::supervise::{Supervised, supervise};
use super::{FATAL, OK};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// This host's id: `--host-id`, else the machine's host name (letters, digits, `-`, `_`).
fn host_id(given: Option<&str>) -> String {
    if let Some(h) = given {
        return h.to_owned();
    }
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_else(|_| "host".into());
    let clean: String = name
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() {
        "host".into()
    } else {
        clean
    }
}

/// A host streaming the partitions it holds leases on, as the supervising loop sees it: lease
/// events start and stop a client per partition while it waits.
struct LeasedHost<'a> {
    rx: mpsc::Receiver<LeaseEvent>,
    running: &'a Mutex<BTreeMap<u32, Running>>,
    reports: Vec<PartitionReport>,
    code: u8,
    stopping: bool,
    disconnected: bool,
    /// Partitions stopped after their lease was lost, joined once they have ended (a join
    /// here could wait on a full queue while NATS is away, and the signal would go unread).
    lost: Vec<Running>,
    d: &'a Delivering,
    config: &'a ClientConfig,
    queue: &'a PublishQueue,
    monitor: &'a mut Monitor,
    started: Instant,
}

impl LeasedHost<'_> {
    fn stats(&self) -> Vec<StatsSnapshot> {
        lock(self.running)
            .values()
            .flat_map(Running::stats)
            .collect()
    }

    fn on(&mut self, event: LeaseEvent) {
        match event {
            LeaseEvent::Gained(g) => {
                let backfill = g.backfill_minutes.unwrap_or(0).min(MAX_BACKFILL_MINUTES);
                stderr::event("info", "lease_gained")
                    .partition(g.partition)
                    .field("backfill_minutes", backfill)
                    .emit(&format!(
                        "gnip-stream: partition {}: lease gained, starting (backfill {backfill} min)",
                        g.partition
                    ));
                let c = self
                    .config
                    .clone()
                    .partitions(&[g.partition])
                    .backfill_on_start(backfill);
                match Client::start_observed(
                    c,
                    PublishHandler::new(
                        self.queue.clone(),
                        Arc::clone(&self.d.subjects),
                        self.config.dialect(),
                    ),
                    Some(Arc::new(print_event)),
                ) {
                    Ok(r) => {
                        lock(self.running).insert(g.partition, r);
                    }
                    Err(e) => self.code = start_error(&e),
                }
            }
            LeaseEvent::Lost(p) => {
                stderr::event("warn", "lease_lost")
                    .partition(p)
                    .emit(&format!("gnip-stream: partition {p}: lease lost, stopping"));
                let r = lock(self.running).remove(&p);
                if let Some(r) = r {
                    r.stop_handle().stop();
                    self.lost.push(r);
                }
            }
            LeaseEvent::Failed(e) => self.code = fail(&e),
        }
    }
}

impl Supervised for LeasedHost<'_> {
    fn is_finished(&self) -> bool {
        self.stopping
            || self.disconnected
            || self.code != OK
            || self.d.publisher.failure().is_some()
    }

    fn stop(&mut self) {
        self.stopping = true;
        // Sends waiting on a full queue give up, so every partition can end (audit H1).
        self.d.publisher.close_queue();
    }

    fn line(&self) -> Option<(stderr::Event, String)> {
        Some(stats_line(
            self.started.elapsed(),
            &self.stats(),
            &self.d.publisher.snapshot(),
        ))
    }

    fn each_second(&mut self) {
        let stats = self.stats();
        self.monitor.check(&stats);
    }

    /// Lease events, then the partitions that ended by themselves (credentials refused, …),
    /// which end the host.
    fn wait(&mut self, pace: Duration) {
        match self.rx.recv_timeout(pace.min(Duration::from_millis(50))) {
            Ok(event) => self.on(event),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => self.disconnected = true,
        }
        let (ended, going): (Vec<Running>, Vec<Running>) = std::mem::take(&mut self.lost)
            .into_iter()
            .partition(Running::is_finished);
        self.lost = going;
        for r in ended {
            self.reports.extend(r.join());
        }
        if self.code != OK {
            return;
        }
        let ended: Vec<u32> = lock(self.running)
            .iter()
            .filter(|(_, r)| r.is_finished())
            .map(|(p, _)| *p)
            .collect();
        for p in ended {
            if let Some(r) = lock(self.running).remove(&p) {
                let rs = r.join();
                self.code = self.code.max(stream_status(&rs));
                self.reports.extend(rs);
            }
        }
    }
}

/// `stream --jetstream --leases BUCKET`: the partitions this host holds a lease on, each
/// started when gained (with the backfill the lease says) and stopped when lost.
pub(super) fn run_leased(a: &StreamArgs, config: ClientConfig, mut monitor: Monitor) -> u8 {
    let js = &a.jetstream;
    let product = config.product().path_name();
    let label = UrlParts::split(config.base_url())
        .and_then(|u| Dialect::of_path(u.path))
        .map(|(_, p)| p.label)
        .unwrap_or_default();
    let partitions = config.partition_list();
    let host = host_id(js.host_id.as_deref());
    let nats = match js.nats() {
        Ok(n) => n,
        Err(e) => return fail(&e),
    };
    let (tx, rx) = mpsc::channel();
    let lease_config = LeaseConfig {
        bucket: js.leases.clone().unwrap_or_default(),
        product: product.to_owned(),
        label,
        host_id: host.clone(),
        ttl: js.lease_ttl,
        per_partition: js.hosts_per_partition,
        partitions: partitions.clone(),
        backfill_on_start: (a.backfill_on_start > 0).then_some(a.backfill_on_start),
    };
    let d = match Delivering::start(&a.jetstream, &config, &partitions) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let leases = match Leases::start(nats, lease_config, tx) {
        Ok(l) => l,
        Err(e) => {
            let code = fail(&e);
            d.finish(js.drain_timeout, OK);
            return code;
        }
    };
    let Some(queue) = d.queue() else {
        leases.stop();
        return d.finish(js.drain_timeout, FATAL);
    };
    stderr::event("info", "leases_started")
        .field("host_id", host.clone())
        .field("partitions", partitions.clone())
        .emit(&format!(
            "gnip-stream: host {host} waiting for leases on partitions {partitions:?}"
        ));
    let running: Arc<Mutex<BTreeMap<u32, Running>>> = Arc::default();
    let r = Arc::clone(&running);
    let stats = Arc::new(move || {
        r.lock()
            .map(|m| m.values().flat_map(Running::stats).collect())
            .unwrap_or_default()
    });
    if let Err(code) = serve_metrics(
        a.metrics_listen.as_deref(),
        &mut monitor,
        product,
        stats,
        d.publisher.stats(),
    ) {
        leases.stop();
        drop(queue);
        return d.finish(js.drain_timeout, code);
    }
    let interval = a.stats_interval.unwrap_or(Duration::ZERO);
    let started = Instant::now();
    let mut host = LeasedHost {
        rx,
        running: &running,
        reports: Vec::new(),
        code: OK,
        stopping: false,
        disconnected: false,
        lost: Vec::new(),
        d: &d,
        config: &config,
        queue: &queue,
        monitor: &mut monitor,
        started,
    };
    supervise(&mut host, None, interval, started, false);
    let (mut reports, code, lost) = (host.reports, host.code, host.lost);
    leases.stop();
    // Whatever ended the host, nothing may wait on a full queue now.
    d.publisher.close_queue();
    let all: Vec<Running> = std::mem::take(&mut *lock(&running)).into_values().collect();
    for r in all.into_iter().chain(lost) {
        reports.extend(r.stop_and_join());
    }
    drop(queue);
    let stream = stream_status(&reports);
    d.finish(js.drain_timeout, code.max(stream))
}

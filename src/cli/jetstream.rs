//! `gnip-stream stream --jetstream` (feature `jetstream`): records into JetStream instead of
//! stdout, on every partition or, with `--leases`, on those this host holds (`leased.rs`).

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use gnip_stream::client::{Client, ClientConfig, StatsHandle};

use gnip_stream::sink::jetstream::PublishHandler;

use super::jetstream_delivery::{Delivering, serve_metrics, stats_line, stream_status};
use super::monitor::Monitor;
use super::report::{print_event, start_error};
use super::stream_args::StreamArgs;
use super::{FATAL, OK, signal};

/// `stream --jetstream`: every partition (or, with `--leases`, those this host holds) into
/// JetStream until stopped.
pub fn run_stream(a: &StreamArgs, config: ClientConfig, monitor: Monitor) -> u8 {
    if a.jetstream.leases.is_some() {
        return super::leased::run_leased(a, config, monitor);
    }
    let mut monitor = monitor;
    let partitions = config.partition_list();
    let d = match Delivering::start(&a.jetstream, &config, &partitions) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let Some(queue) = d.queue() else {
        return d.finish(a.jetstream.drain_timeout, FATAL);
    };
    let product = config.product().path_name();
    let live: Arc<OnceLock<StatsHandle>> = Arc::default();
    let l = Arc::clone(&live);
    let stats = Arc::new(move || l.get().map(StatsHandle::snapshot).unwrap_or_default());
    if let Err(code) = serve_metrics(
        a.metrics_listen.as_deref(),
        &mut monitor,
        product,
        stats,
        d.publisher.stats(),
    ) {
        return code;
    }
    let dialect = config.dialect();
    // --state: each partition's first backfill sized to its own gap.
    let mut config = config;
    let state = match &a.jetstream.state {
        Some(path) => match super::jetstream_state::read(path) {
            Ok(times) => {
                let now = gnip_stream::unversioned::clock::now_secs();
                config = config.backfill_on_start_for(&super::jetstream_state::plans(
                    &times,
                    &partitions,
                    now,
                ));
                Some(super::jetstream_state::StateWriter::start(
                    path.clone(),
                    times,
                    d.publisher.stats(),
                ))
            }
            Err(m) => {
                eprintln!("gnip-stream: {m}");
                drop(queue);
                d.finish(a.jetstream.drain_timeout, OK);
                return super::USAGE;
            }
        },
        None => None,
    };
    let running = match Client::start_observed(
        config,
        PublishHandler::new(queue.clone(), Arc::clone(&d.subjects), dialect),
        Some(Arc::new(print_event)),
    ) {
        Ok(r) => r,
        Err(e) => {
            drop(queue);
            d.finish(a.jetstream.drain_timeout, OK);
            return start_error(&e);
        }
    };
    let _ = live.set(running.stats_handle());
    let started = Instant::now();
    let interval = a.stats_interval.unwrap_or(Duration::ZERO);
    let stop = running.stop_handle();
    super::supervise::supervise_client(
        &running,
        None,
        interval,
        started,
        |r| stats_line(started.elapsed(), &r.stats(), &d.publisher.snapshot()),
        false,
        || {
            monitor.check(&running.stats());
            if d.publisher.failure().is_some() {
                stop.stop();
            }
            // A stop must not wait on a full queue (NATS away): waiting sends give up, the
            // stream's threads end, and the drain's clock starts (audit H1).
            if signal::received() {
                d.publisher.close_queue();
            }
        },
    );
    let reports = running.join();
    drop(queue);
    let code = stream_status(&reports);
    let code = d.finish(a.jetstream.drain_timeout, code);
    if let Some(s) = state {
        s.finish();
    }
    code
}

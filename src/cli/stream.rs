//! `gnip-stream stream` to stdout, and where `replay`, `recover` and `stream --jetstream` branch
//! off.

use std::io::IsTerminal;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use gnip_stream::client::{Client, ClientConfig, Delivery, StatsHandle, StatsSnapshot};
use gnip_stream::sink::NdjsonSink;
use gnip_stream::unversioned::protocol::dialect::Dialect;

use super::USAGE;
use super::monitor::Monitor;
use super::report::{
    exit_code, print_dedupe, print_event, say_partition_errors, start_error, stats_report,
};
use super::stderr;
use super::stream_args::{StreamArgs, Target, config_for};
use super::supervise::supervise_client;

/// `stream`, `replay` and `recover`.
pub fn run(a: StreamArgs) -> u8 {
    stderr::set_format(a.log_format);
    let Some((user, password)) = credentials(a.dialect) else {
        return USAGE;
    };
    let config = match config_for(&a, &user, &password) {
        Ok(c) => c,
        Err((code, m)) => {
            eprintln!("gnip-stream: {m}");
            return code;
        }
    };
    let monitor = Monitor::new(a.slow_reader_threshold, a.slow_reader_period);
    if a.recovery {
        return super::replay::run_recovery(&a, config, monitor);
    }
    if a.range.is_some() {
        return super::replay::run(&a, config, monitor);
    }
    if matches!(a.target, Target::Url(_)) && a.partitions.is_empty() {
        // The product is known from the URL's path: every partition, as with --product.
        let partitions = config.partition_list();
        if partitions != [0] {
            stderr::event("info", "partitions_from_url")
                .field("product", config.product().path_name())
                .field("partitions", partitions.clone())
                .emit(&format!(
                    "gnip-stream: the URL names {}: streaming every partition ({}..{}); --partition N picks some",
                    config.product().path_name(),
                    partitions.first().copied().unwrap_or_default(),
                    partitions.last().copied().unwrap_or_default()
                ));
        }
    }
    #[cfg(feature = "jetstream")]
    if a.jetstream.is_on() {
        return super::jetstream::run_stream(&a, config, monitor);
    }
    #[cfg(feature = "archive")]
    if a.archive.dir.is_some() {
        return super::archive::run(&a, config, monitor);
    }
    run_stream(&a, config, monitor)
}

/// The credentials of `dialect` from the environment (never flags): `GNIP_USERNAME` and
/// `GNIP_PASSWORD`, or X API v2's `X_BEARER_TOKEN` (as the secret, with no user). `None`, said
/// on stderr, when they are missing.
pub fn credentials(dialect: Dialect) -> Option<(String, String)> {
    read_credentials(dialect)
        .map_err(|why| eprintln!("gnip-stream: {why}"))
        .ok()
}

/// The credentials from the environment, or what to set (every command reads them here).
pub fn read_credentials(dialect: Dialect) -> Result<(String, String), &'static str> {
    if dialect == Dialect::V2 {
        return match std::env::var("X_BEARER_TOKEN") {
            Ok(t) if !t.trim().is_empty() => Ok((String::new(), t.trim().to_owned())),
            _ => Err(
                "set X_BEARER_TOKEN in the environment for --api v2 (an App-only bearer token; credentials are never flags)",
            ),
        };
    }
    match (
        std::env::var("GNIP_USERNAME"),
        std::env::var("GNIP_PASSWORD"),
    ) {
        (Ok(user), Ok(password)) => Ok((user, password)),
        _ => Err(
            "set GNIP_USERNAME and GNIP_PASSWORD in the environment (credentials are never flags)",
        ),
    }
}

/// `stream`: every partition to stdout until stopped.
fn run_stream(a: &StreamArgs, config: ClientConfig, mut monitor: Monitor) -> u8 {
    let product = config.product().path_name();
    // The endpoint is up (or its address refused) before the first connection.
    let live: Arc<OnceLock<StatsHandle>> = Arc::default();
    let l = Arc::clone(&live);
    let source = move || (l.get().map(StatsHandle::snapshot).unwrap_or_default(), None);
    if let Err(code) = monitor.serve(a.metrics_listen.as_deref(), product, Arc::new(source)) {
        return code;
    }
    let out = Arc::new(NdjsonSink::stdout(a.max_records, a.count));
    let o = Arc::clone(&out);
    let handler = move |d: &Delivery<'_>| o.deliver(d);
    let running = match Client::start_observed(config, handler, Some(Arc::new(print_event))) {
        Ok(r) => r,
        Err(e) => return start_error(&e),
    };
    let _ = live.set(running.stats_handle());
    let interval = a
        .stats_interval
        .unwrap_or(if std::io::stderr().is_terminal() {
            Duration::from_secs(10)
        } else {
            Duration::ZERO
        });
    let started = Instant::now();
    supervise_client(
        &running,
        Some(&out),
        interval,
        started,
        |r| stats_report(started.elapsed(), &r.stats()),
        false,
        || monitor.check(&running.stats()),
    );
    let reports = running.join();
    out.flush(true);
    if !interval.is_zero() {
        let stats: Vec<StatsSnapshot> = reports.iter().map(|r| r.stats.clone()).collect();
        let (event, text) = stats_report(started.elapsed(), &stats);
        event.emit(&text);
    }
    let deduped = !a.no_dedupe && (a.redundant >= 2 || a.backfill_minutes > 0);
    if deduped {
        for r in &reports {
            print_dedupe(&r.stats, a.redundant);
        }
    }
    say_partition_errors(&reports);
    if a.count {
        println!("records={}", out.count());
    }
    let code = exit_code(&reports);
    stderr::event(if code == 0 { "info" } else { "error" }, "summary")
        .field("records", out.count())
        .field("exit_status", code)
        .field("elapsed_seconds", started.elapsed().as_secs_f64())
        .emit_json_only(&format!(
            "stream ended: {} records, exit status {code}",
            out.count()
        ));
    code
}

//! `gnip-stream replay` (a `ReplayJob` over the range in `--window` requests) and `gnip-stream
//! recover` (Recovery, a connection per partition): records to stdout, progress on stderr,
//! what still failed listed at the end (exit 6).

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use gnip_stream::Error;
use gnip_stream::client::{Client, ClientConfig, Delivery, JobProgress, ReplayJob};
use gnip_stream::protocol::policy::Ending;
use gnip_stream::protocol::replay::record_time;
use gnip_stream::protocol::time;

use super::output::Out;
use super::report::{exit_code, print_event, start_error};
use super::signal;
use super::stream::StreamArgs;
use super::supervise::supervise;
use super::{AUTH, FATAL, INCOMPLETE, OK};

/// A minute as the progress line shows it: `2026-11-27T10:05`.
fn minute(t: i64) -> String {
    let iso = time::iso8601(t);
    iso[..16].to_owned()
}

/// The progress line: time reached of the range end, records, percent, elapsed, time left.
pub fn progress_line(p: &JobProgress) -> String {
    let left = p.estimate_left().map_or_else(
        || "time left unknown".to_owned(),
        |d| format!("about {:.0} s left", d.as_secs_f64()),
    );
    format!(
        "gnip-stream: reached {} of {} | records {} | {:.0}% | {:.1} s elapsed, {left} | request {}",
        minute(p.reached),
        minute(p.range.1),
        p.records,
        p.fraction() * 100.0,
        p.elapsed.as_secs_f64(),
        p.requests
    )
}

/// `replay`, planned and run by the library's `ReplayJob`.
pub fn run(a: &StreamArgs, config: ClientConfig) -> u8 {
    let job = match ReplayJob::new(config) {
        Ok(j) => j.window(Duration::from_secs(u64::from(a.window_minutes) * 60)),
        Err(e) => return start_error(&e),
    };
    let out = Arc::new(Out::new(a.max_records, a.count));
    let o = Arc::clone(&out);
    let handler = move |d: &Delivery<'_>| o.deliver(d);
    let tty = std::io::stderr().is_terminal();
    let interval = a.stats_interval.unwrap_or(if tty {
        Duration::from_millis(500)
    } else {
        Duration::ZERO
    });
    let stop = job.stop_handle();
    let mut last = Instant::now();
    let mut drew = false;
    let mut latest: Option<JobProgress> = None;
    let result = job.run(handler, Some(Arc::new(print_event)), |p| {
        latest = Some(p.clone());
        if signal::received() || out.broken.load(Ordering::SeqCst) {
            stop.stop();
        }
        out.flush(false);
        if !interval.is_zero() && last.elapsed() >= interval {
            last = Instant::now();
            if tty {
                eprint!("\r{}", progress_line(p));
                drew = true;
            } else {
                eprintln!("{}", progress_line(p));
            }
        }
    });
    // The last figures, always (the job may end between two lines).
    if let Some(p) = latest.filter(|_| !interval.is_zero()) {
        if tty {
            eprintln!("\r{}", progress_line(&p));
        } else {
            eprintln!("{}", progress_line(&p));
        }
    } else if drew {
        eprintln!();
    }
    out.flush(true);
    let report = match result {
        Ok(r) => r,
        Err(e) => return start_error(&e),
    };
    if a.count {
        println!("records={}", out.count());
    }
    let requests = report.steps.len();
    if let Some(e) = &report.error {
        eprintln!("gnip-stream: replay stopped: {e}");
        return match e {
            Error::Http { status: 401, .. } => AUTH,
            _ => FATAL,
        };
    }
    if report.stopped {
        eprintln!(
            "gnip-stream: replay stopped after {} records in {requests} requests",
            report.records
        );
        return OK;
    }
    for (from, to) in &report.still_failed {
        eprintln!(
            "gnip-stream: still failed after a re-request: {} to {}",
            time::iso8601(*from),
            time::iso8601(*to)
        );
    }
    if report.complete {
        eprintln!(
            "gnip-stream: replay complete: {} records in {requests} requests ({} re-requests)",
            report.records,
            report.retried.len()
        );
        OK
    } else {
        eprintln!(
            "gnip-stream: replay incomplete: {} records in {requests} requests; {} ranges still failed",
            report.records,
            report.still_failed.len()
        );
        INCOMPLETE
    }
}

/// `recover`: one connection per partition, each ending on "Recovery Request Completed".
pub fn run_recovery(a: &StreamArgs, config: ClientConfig) -> u8 {
    let range = a.range.unwrap_or_default();
    let out = Arc::new(Out::new(a.max_records, a.count));
    let (o, reached) = (Arc::clone(&out), Arc::new(AtomicI64::new(range.0)));
    let r = Arc::clone(&reached);
    let handler = move |d: &Delivery<'_>| {
        if let Some(t) = record_time(d.record().bytes()) {
            r.fetch_max(t, Ordering::Relaxed);
        }
        o.deliver(d)
    };
    let running = match Client::start_observed(config, handler, Some(Arc::new(print_event))) {
        Ok(r) => r,
        Err(e) => return start_error(&e),
    };
    let tty = std::io::stderr().is_terminal();
    let interval = a.stats_interval.unwrap_or(if tty {
        Duration::from_millis(500)
    } else {
        Duration::ZERO
    });
    let started = Instant::now();
    let progress = |running: &gnip_stream::client::Running| {
        JobProgress::new(
            range,
            reached.load(Ordering::Relaxed),
            running
                .stats()
                .iter()
                .map(|s| s.activities + s.compliance)
                .sum(),
            running.stats().iter().map(|s| s.connects as u32).sum(),
            started.elapsed(),
        )
    };
    let drew = supervise(
        &running,
        Some(&out),
        interval,
        started,
        |r| progress_line(&progress(r)),
        tty,
        || {},
    );
    let mut last_figures = progress(&running);
    let reports = running.join();
    if reports.iter().all(|r| r.ending == Ending::ReplayCompleted) {
        // Every partition said its range is complete: all of it was reached.
        last_figures = JobProgress::new(
            range,
            range.1,
            reports
                .iter()
                .map(|r| r.stats.activities + r.stats.compliance)
                .sum(),
            last_figures.requests,
            started.elapsed(),
        );
    }
    let final_line = progress_line(&last_figures);
    out.flush(true);
    if !interval.is_zero() {
        if tty {
            eprintln!("\r{final_line}");
        } else {
            eprintln!("{final_line}");
        }
    } else if drew {
        eprintln!();
    }
    if a.count {
        println!("records={}", out.count());
    }
    let code = exit_code(&reports);
    if code != OK {
        return code;
    }
    let stopped = reports.iter().any(|r| r.ending == Ending::Stopped);
    let incomplete: Vec<u32> = reports
        .iter()
        .filter(|r| {
            r.ending != Ending::ReplayCompleted
                || r.replay.as_ref().is_some_and(|s| !s.is_complete())
        })
        .map(|r| r.partition)
        .collect();
    if stopped {
        eprintln!("gnip-stream: recovery stopped");
        return OK;
    }
    if incomplete.is_empty() {
        eprintln!(
            "gnip-stream: recovery complete: {} partitions, {} records",
            reports.len(),
            reports
                .iter()
                .map(|r| r.stats.activities + r.stats.compliance)
                .sum::<u64>()
        );
        OK
    } else {
        for p in &incomplete {
            eprintln!("gnip-stream: recovery incomplete on partition {p}");
        }
        INCOMPLETE
    }
}

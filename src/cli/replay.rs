//! `gnip-stream replay`: a `ReplayJob` over the range in `--window` requests, records to
//! stdout, progress on stderr, what still failed listed at the end (exit 6).

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gnip_stream::Error;
use gnip_stream::client::{ClientConfig, Delivery, Flow, JobProgress, ReplayJob};
use gnip_stream::core::RecordKind;
use gnip_stream::protocol::time;

use super::output::Out;
use super::report::{print_event, start_error};
use super::signal;
use super::stream::StreamArgs;
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
    let handler = move |d: &Delivery<'_>| match d.record().kind() {
        RecordKind::Activity | RecordKind::Compliance(_) => o.record(d.record().bytes()),
        _ => Flow::Continue,
    };
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
        if signal::received() || out.broken.load(std::sync::atomic::Ordering::SeqCst) {
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

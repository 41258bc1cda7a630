//! What the commands write on stderr: connection events, the statistics line, the reasons a
//! partition stopped; and the exit status that follows from how the partitions ended.

use std::time::Duration;

use gnip_stream::Error;
use gnip_stream::client::{ClientEvent, PartitionReport, StatsSnapshot};
use gnip_stream::protocol::policy::Ending;

use super::{AUTH, FATAL, OK, USAGE};

pub fn print_event(p: u32, c: u8, e: &ClientEvent) {
    let who = match (p, c) {
        (0, 1) => String::new(),
        (0, c) => format!(" connection {c}:"),
        (p, 1) => format!(" partition {p}:"),
        (p, c) => format!(" partition {p}/{c}:"),
    };
    match e {
        ClientEvent::Connecting {
            url,
            backfill_minutes: Some(m),
        } => {
            eprintln!("gnip-stream:{who} connecting to {url} (backfill {m} min)")
        }
        ClientEvent::Connecting { url, .. } => eprintln!("gnip-stream:{who} connecting to {url}"),
        ClientEvent::Connected => eprintln!("gnip-stream:{who} connected"),
        ClientEvent::Disconnected {
            ending,
            error: Some(err),
        } => {
            eprintln!("gnip-stream:{who} disconnected ({}): {err}", ending.name())
        }
        ClientEvent::Disconnected {
            ending,
            error: None,
        } => eprintln!("gnip-stream:{who} disconnected ({})", ending.name()),
        ClientEvent::BackingOff { delay, kind } => {
            let why = match kind {
                Some(k) => format!("{k:?} backoff"),
                None => "connection-rate limit".to_owned(),
            };
            eprintln!(
                "gnip-stream:{who} waiting {:.1} s before reconnecting ({why})",
                delay.as_secs_f64()
            )
        }
        ClientEvent::SystemMessage { level, message } => {
            eprintln!(
                "gnip-stream:{who} system message ({}): {message}",
                level.name()
            )
        }
        _ => eprintln!("gnip-stream:{who} {e:?}"),
    }
}

pub fn stats_line(elapsed: Duration, stats: &[StatsSnapshot]) -> String {
    let sum = |f: fn(&StatsSnapshot) -> u64| stats.iter().map(f).sum::<u64>();
    let records = sum(|s| s.activities + s.compliance);
    let secs = elapsed.as_secs_f64().max(0.001);
    let handler = stats.iter().map(|s| s.handler_share).fold(0.0, f64::max);
    let backoff = stats.iter().map(|s| s.backoff).max().unwrap_or_default();
    format!(
        "gnip-stream: {secs:.1} s | records {records} ({} activities, {} compliance, {}/s) | duplicates dropped {} | system {} | heartbeats {} | connects {} | {:.1} MB wire, {:.1} MB inflated | overlong {} | handler {:.0}% | backoff {:.1} s",
        sum(|s| s.activities),
        sum(|s| s.compliance),
        (records as f64 / secs).round(),
        sum(|s| s.duplicates_dropped),
        sum(|s| s.system),
        sum(|s| s.heartbeats),
        sum(|s| s.connects),
        sum(|s| s.bytes_wire) as f64 / 1e6,
        sum(|s| s.bytes_inflated) as f64 / 1e6,
        sum(|s| s.overlong),
        handler * 100.0,
        backoff.as_secs_f64(),
    )
}

/// Exit status from what every partition did: 3 for a refused login, 4 for any other ending
/// that the policy stops on, else 0.
pub fn exit_code(reports: &[PartitionReport]) -> u8 {
    if reports.iter().any(|r| r.ending == Ending::Http(401)) {
        AUTH
    } else if reports
        .iter()
        .any(|r| matches!(r.ending, Ending::Http(_) | Ending::TlsFailure))
    {
        FATAL
    } else {
        OK
    }
}

pub fn start_error(e: &Error) -> u8 {
    eprintln!("gnip-stream: {e}");
    match e {
        Error::InvalidConfig { .. } | Error::BadInput { .. } => USAGE,
        _ => FATAL,
    }
}

/// The final report's line for a partition whose records were de-duplicated: duplicates dropped
/// and which connection delivered first how often.
pub fn dedupe_line(s: &StatsSnapshot, redundant: u8) -> String {
    let who = if s.partition == 0 {
        String::new()
    } else {
        format!("partition {} ", s.partition)
    };
    let firsts: Vec<String> = (0..usize::from(redundant.clamp(1, 4)))
        .map(|c| format!("connection {} {}", c + 1, s.first_by_connection[c]))
        .collect();
    format!(
        "gnip-stream: {who}duplicates dropped {}; delivered first: {}",
        s.duplicates_dropped,
        firsts.join(", ")
    )
}

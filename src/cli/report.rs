//! What the commands write on stderr: connection events, the statistics line, the reasons a
//! partition stopped; and the exit status that follows from how the partitions ended.

use std::time::Duration;

use gnip_stream::Error;
use gnip_stream::client::{ClientEvent, PartitionReport, StatsSnapshot};
use gnip_stream::unversioned::protocol::policy::{Ending, Refusal};

use super::stderr;
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
            backfill_minutes,
        } => {
            let text = match backfill_minutes {
                Some(m) => format!("gnip-stream:{who} connecting to {url} (backfill {m} min)"),
                None => format!("gnip-stream:{who} connecting to {url}"),
            };
            stderr::event("info", "connecting")
                .at(p, c)
                .field("url", url.as_str())
                .field("backfill_minutes", *backfill_minutes)
                .emit(&text)
        }
        ClientEvent::Connected => stderr::event("info", "connected")
            .at(p, c)
            .emit(&format!("gnip-stream:{who} connected")),
        ClientEvent::Disconnected { ending, error } => {
            let text = match error {
                Some(err) => format!("gnip-stream:{who} disconnected ({}): {err}", ending.name()),
                None => format!("gnip-stream:{who} disconnected ({})", ending.name()),
            };
            let status = match ending {
                Ending::Http(s) => Some(*s),
                Ending::Refused(r) => Some(r.status()),
                _ => None,
            };
            if *ending == Ending::Refused(Refusal::TooManyConnections) {
                // The edge build has no `connections` command: say where it is.
                let build = if cfg!(feature = "connections") {
                    ""
                } else {
                    " (in a build with cargo feature `connections`)"
                };
                stderr::event("warn", "too_many_connections").at(p, c).emit(&format!(
                    "gnip-stream:{who} the stream is at its connection limit (429 TooManyConnections); stale connections can be cleared with 'gnip-stream connections kill --endpoint NAME' (or --all){build}; retrying from 1 minute, doubling"
                ));
            }
            stderr::event(
                if error.is_some() { "warn" } else { "info" },
                "disconnected",
            )
            .at(p, c)
            .field("reason", ending.name())
            .field("status", status)
            .field("error", error.as_ref().map(|e| e.to_string()))
            .emit(&text)
        }
        ClientEvent::BackingOff { delay, kind } => {
            let why = match kind {
                Some(k) => format!("{k:?} backoff"),
                None => "connection-rate limit".to_owned(),
            };
            stderr::event("info", "backing_off")
                .at(p, c)
                .field("delay_seconds", delay.as_secs_f64())
                .field(
                    "schedule",
                    kind.map_or("connection-rate-limit".to_owned(), |k| {
                        format!("{k:?}").to_ascii_lowercase()
                    }),
                )
                .emit(&format!(
                    "gnip-stream:{who} waiting {:.1} s before reconnecting ({why})",
                    delay.as_secs_f64()
                ))
        }
        ClientEvent::SystemMessage { level, message } => {
            let l = match level.name() {
                "error" => "error",
                "warn" => "warn",
                _ => "info",
            };
            stderr::event(l, "system_message")
                .at(p, c)
                .field("service_level", level.name())
                .field("text", message.as_str())
                .emit(&format!(
                    "gnip-stream:{who} system message ({}): {message}",
                    level.name()
                ))
        }
        _ => stderr::event("info", "client_event")
            .at(p, c)
            .emit(&format!("gnip-stream:{who} {e:?}")),
    }
}

/// The statistics line: the `stats` event and its text, from the same figures.
pub fn stats_report(elapsed: Duration, stats: &[StatsSnapshot]) -> (stderr::Event, String) {
    let sum = |f: fn(&StatsSnapshot) -> u64| stats.iter().map(f).sum::<u64>();
    let (activities, compliance) = (sum(|s| s.activities), sum(|s| s.compliance));
    let records = activities + compliance;
    let (duplicates, system, heartbeats) = (
        sum(|s| s.duplicates_dropped),
        sum(|s| s.system),
        sum(|s| s.heartbeats),
    );
    let (connects, wire, inflated, overlong) = (
        sum(|s| s.connects),
        sum(|s| s.bytes_wire),
        sum(|s| s.bytes_inflated),
        sum(|s| s.overlong),
    );
    let handler = stats.iter().map(|s| s.handler_share).fold(0.0, f64::max);
    let backoff = stats
        .iter()
        .map(|s| s.backoff)
        .max()
        .unwrap_or_default()
        .as_secs_f64();
    let secs = elapsed.as_secs_f64().max(0.001);
    let event = stderr::event("info", "stats")
        .field("elapsed_seconds", elapsed.as_secs_f64())
        .field("records", records)
        .field("activities", activities)
        .field("compliance", compliance)
        .field("duplicates_dropped", duplicates)
        .field("system", system)
        .field("heartbeats", heartbeats)
        .field("connects", connects)
        .field("wire_bytes", wire)
        .field("inflated_bytes", inflated)
        .field("overlong", overlong)
        .field("handler_share", handler)
        .field("backoff_seconds", backoff);
    let text = format!(
        "gnip-stream: {secs:.1} s | records {records} ({activities} activities, {compliance} compliance, {}/s) | duplicates dropped {duplicates} | system {system} | heartbeats {heartbeats} | connects {connects} | {:.1} MB wire, {:.1} MB inflated | overlong {overlong} | handler {:.0}% | backoff {backoff:.1} s",
        (records as f64 / secs).round(),
        wire as f64 / 1e6,
        inflated as f64 / 1e6,
        handler * 100.0,
    );
    (event, text)
}

/// Says on stderr why each partition that ended by itself ended (a stop is not said).
pub fn say_partition_errors(reports: &[PartitionReport]) {
    for r in reports {
        if let Some(e) = &r.error {
            if r.ending != Ending::Stopped {
                stderr::event("error", "partition_stopped")
                    .partition(r.partition)
                    .field("reason", r.ending.name())
                    .field("error", e.to_string())
                    .emit(&format!(
                        "gnip-stream: partition {} stopped ({}): {e}",
                        r.partition,
                        r.ending.name()
                    ));
            }
        }
    }
}

/// Exit status from what every partition did: 3 for a refused login, 4 for any other ending
/// that the policy stops on, else 0.
pub fn exit_code(reports: &[PartitionReport]) -> u8 {
    if reports.iter().any(|r| r.ending == Ending::Http(401)) {
        AUTH
    } else if reports.iter().any(|r| {
        matches!(
            r.ending,
            Ending::Http(_) | Ending::Refused(_) | Ending::TlsFailure
        )
    }) {
        FATAL
    } else {
        OK
    }
}

pub fn start_error(e: &Error) -> u8 {
    stderr::event("error", "start_failed")
        .field("error", e.to_string())
        .emit(&format!("gnip-stream: {e}"));
    match e {
        Error::InvalidConfig { .. } | Error::BadInput { .. } => USAGE,
        _ => FATAL,
    }
}

/// The final report's event for a partition whose records were de-duplicated: duplicates
/// dropped and which connection delivered first how often.
pub fn print_dedupe(s: &StatsSnapshot, redundant: u8) {
    let who = if s.partition == 0 {
        String::new()
    } else {
        format!("partition {} ", s.partition)
    };
    let n = usize::from(redundant.clamp(1, 4));
    let firsts: Vec<String> = (0..n)
        .map(|c| format!("connection {} {}", c + 1, s.first_by_connection[c]))
        .collect();
    stderr::event("info", "dedupe_summary")
        .partition(s.partition)
        .field("duplicates_dropped", s.duplicates_dropped)
        .field("delivered_first", s.first_by_connection[..n].to_vec())
        .emit(&format!(
            "gnip-stream: {who}duplicates dropped {}; delivered first: {}",
            s.duplicates_dropped,
            firsts.join(", ")
        ))
}

//! The IO shell around the sans-IO core: one GET with ureq, its status mapped to an ending,
//! then the body read with a short per-read tick (stop checks, stall counting) and fed to the
//! frame decoder, each record handed to the user's handler.

use std::io::Read;
use std::net::Ipv4Addr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use base64::Engine as _;

use super::stats::PartitionStats;
use super::{
    Attempt, ClientConfig, ClientEvent, Delivery, Flow, Partition, ReplayProgress, ReplaySummary,
};
use crate::Error;
use crate::core::{Event, FrameDecoder, GzipDecoder, Level, RecordKind};
use crate::policy::Ending;

/// Refuses to send credentials over plain `http://` to anything but loopback.
pub(crate) fn check_transport(url: &str, has_credentials: bool) -> Result<(), Error> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(Error::BadInput {
            reason: format!("not a URL: {url}").into(),
        });
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(()),
        "http" if !has_credentials => Ok(()),
        "http" => {
            let loopback = host.eq_ignore_ascii_case("localhost")
                || host == "::1"
                || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback());
            if loopback {
                Ok(())
            } else {
                Err(Error::InsecureTransport { host: host.into() })
            }
        }
        other => Err(Error::BadInput {
            reason: format!("unsupported URL scheme {other:?}: use https").into(),
        }),
    }
}

/// The HTTP agent every partition shares: no decompression (our decoder inflates), 4xx/5xx as
/// responses, a per-read timeout as the stop/stall tick, Mozilla's roots or the CA file's.
/// Proxies come from the environment (`HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`), ureq's default.
pub(crate) fn agent(config: &ClientConfig) -> Result<ureq::Agent, Error> {
    let mut tls = ureq::tls::TlsConfig::builder();
    if let Some(path) = &config.ca_file {
        let bad = |why: String| Error::BadInput {
            reason: format!("CA file {}: {why}", path.display()).into(),
        };
        let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        let mut certs = Vec::new();
        for item in ureq::tls::parse_pem(&pem) {
            if let ureq::tls::PemItem::Certificate(c) = item.map_err(|e| bad(e.to_string()))? {
                certs.push(c);
            }
        }
        if certs.is_empty() {
            return Err(bad("no certificate in it".into()));
        }
        tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
    }
    let cfg = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(config.connect_timeout))
        .timeout_per_read(Some(config.read_tick))
        .user_agent(format!("gnip-stream/{}", env!("CARGO_PKG_VERSION")))
        .tls_config(tls.build())
        .build();
    Ok(ureq::Agent::new_with_config(cfg))
}

pub(crate) fn decoder(config: &ClientConfig) -> FrameDecoder {
    // A live stream's trailer never comes; Replay's does, and is checked.
    let c = config.decoder.check_crc(config.replay.is_some());
    FrameDecoder::with_config(c).unwrap_or_default()
}

fn io_error(e: &std::io::Error) -> Error {
    Error::Io {
        kind: e.kind(),
        message: e.to_string().into(),
    }
}

/// How ureq's errors map to endings: certificate and TLS setup problems are final, timeouts and
/// everything else are network trouble to retry.
fn classify_ureq(e: ureq::Error) -> (Ending, Error, bool) {
    let text = e.to_string();
    let tls_text =
        text.contains("certificate") || text.contains("InvalidCertificate") || text.contains("tls");
    match e {
        ureq::Error::Timeout(_) => (
            Ending::NetworkError,
            Error::Io {
                kind: std::io::ErrorKind::TimedOut,
                message: text.into(),
            },
            true,
        ),
        ureq::Error::Tls(_) | ureq::Error::Pem(_) | ureq::Error::Rustls(_) => (
            Ending::TlsFailure,
            Error::Tls {
                message: text.into(),
            },
            false,
        ),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::InvalidData && tls_text => (
            Ending::TlsFailure,
            Error::Tls {
                message: text.into(),
            },
            false,
        ),
        ureq::Error::Io(io) => (Ending::NetworkError, io_error(&io), false),
        other => (
            Ending::NetworkError,
            Error::Io {
                kind: std::io::ErrorKind::Other,
                message: other.to_string().into(),
            },
            false,
        ),
    }
}

fn is_read_tick(e: &std::io::Error) -> bool {
    // ureq reports its per-read timeout as an io::Error wrapping `ureq::Error::Timeout`.
    let wrapped = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<ureq::Error>());
    matches!(wrapped, Some(ureq::Error::Timeout(_)))
        || matches!(
            e.kind(),
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
        )
}

/// One connection: request, status, stream until it ends.
pub(crate) fn attempt(
    p: &Partition,
    url: &str,
    tick: Duration,
    decoder: &mut FrameDecoder,
    last_byte: &mut Option<Instant>,
    replay: &mut ReplayProgress,
) -> Attempt {
    let fail = |ending, error, head_timed_out| Attempt {
        ending,
        error: Some(error),
        delivered: false,
        head_timed_out,
    };
    let mut req = p
        .agent
        .get(url)
        .header("Accept-Encoding", "gzip")
        .header("Connection", "keep-alive")
        .header("Accept", "application/json");
    if !p.config.user.is_empty() {
        let b64 = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", p.config.user, p.config.password));
        req = req.header("Authorization", format!("Basic {b64}"));
    }
    let req = req.config().timeout_per_read(Some(tick)).build();
    let resp = match req.call() {
        Ok(r) => r,
        Err(e) => {
            let (ending, error, timed_out) = classify_ureq(e);
            return fail(ending, error, timed_out);
        }
    };
    let status = resp.status().as_u16();
    if status != 200 {
        let gzip = resp
            .headers()
            .get("content-encoding")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
        let message = error_message(resp.into_body().into_reader(), gzip);
        return fail(
            Ending::Http(status),
            Error::Http {
                status,
                message: message.into(),
            },
            false,
        );
    }
    p.event(ClientEvent::Connected);
    decoder.reset();
    stream(
        p,
        resp.into_body().into_reader(),
        tick,
        decoder,
        last_byte,
        replay,
    )
}

/// The service's message from an error body (JSON `error.message`), read for at most 2 s and
/// 64 KiB; the start of the body when it is something else.
fn error_message(mut body: impl Read, gzip: bool) -> String {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(2);
    while raw.len() < 64 * 1024 && Instant::now() < deadline {
        match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if is_read_tick(&e) => {}
            Err(_) => break,
        }
    }
    if gzip {
        let mut plain = Vec::new();
        if GzipDecoder::new()
            .decode(&raw, |b| plain.extend_from_slice(b))
            .is_ok()
        {
            raw = plain;
        }
    }
    serde_json::from_slice::<serde_json::Value>(&raw)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| {
            String::from_utf8_lossy(&raw[..raw.len().min(300)])
                .trim()
                .to_owned()
        })
}

/// Where decoded events go during one connection.
struct Sink<'a> {
    p: &'a Partition,
    replay: &'a mut ReplayProgress,
    resumed_from: Option<i64>,
    forced: bool,
    completed: bool,
    stop: bool,
    /// Whether a record arrived since the last-record time was stamped (once per read: a
    /// clock read per record would cost more than the stamp is worth).
    any_record: bool,
}

impl Sink<'_> {
    fn on(&mut self, e: Event<'_>) {
        let s = &self.p.stats;
        let record = match e {
            Event::Heartbeat => return PartitionStats::add(&s.heartbeats, 1),
            Event::Overlong { .. } => return PartitionStats::add(&s.overlong, 1),
            Event::Incomplete { .. } => return PartitionStats::add(&s.incomplete, 1),
            Event::Record(r) => r,
        };
        match record.kind() {
            RecordKind::System(m) => {
                PartitionStats::add(&s.system, 1);
                let text = m.message();
                if m.level() == Level::Error
                    && (text.starts_with("Forced Disconnect")
                        || text.starts_with("Force closing connection"))
                {
                    self.forced = true;
                }
                if self.p.config.replay.is_some()
                    && m.level() == Level::Info
                    && text.starts_with("Replay Request")
                {
                    self.completed = true;
                    self.replay.summary = Some(replay_summary(record.bytes(), &text));
                }
                self.p.event(ClientEvent::SystemMessage {
                    level: m.level(),
                    message: text.into_owned(),
                });
            }
            RecordKind::Activity | RecordKind::Compliance(_) if self.p.config.replay.is_some() => {
                if self.replay_duplicate(record.bytes(), record.id()) {
                    return PartitionStats::add(&s.duplicates_dropped, 1);
                }
                PartitionStats::add(
                    if record.kind() == RecordKind::Activity {
                        &s.activities
                    } else {
                        &s.compliance
                    },
                    1,
                );
            }
            RecordKind::Activity => PartitionStats::add(&s.activities, 1),
            RecordKind::Compliance(_) => PartitionStats::add(&s.compliance, 1),
            RecordKind::Malformed => PartitionStats::add(&s.malformed, 1),
        }
        self.any_record = true;
        let started = Instant::now();
        let flow = self.p.handler.on_record(&Delivery {
            partition: self.p.partition,
            record,
        });
        PartitionStats::add(&s.handler_ns, started.elapsed().as_nanos() as u64);
        if flow == Flow::Stop {
            self.stop = true;
        }
    }

    /// Replay resumes from the minute of the last record received, so that minute arrives
    /// again: its records already handed out are dropped, by id. A record without a time of its
    /// own (compliance events have none) belongs to the minute of the record before it: Replay
    /// sends in time order, and a resumed connection starts in the resume minute.
    fn replay_duplicate(&mut self, bytes: &[u8], id: Option<&str>) -> bool {
        let minute = match record_time(bytes) {
            Some(t) => t - t.rem_euclid(60),
            None => match self.replay.resume_from {
                Some(m) => m,
                None => return false, // nothing timed yet on the first connection: no resume point
            },
        };
        let dup = match (self.resumed_from, id) {
            (Some(m), _) if minute < m => true,
            (Some(m), Some(id)) if minute == m => self.replay.seen_in_minute.contains(id),
            _ => false,
        };
        if !dup {
            if self.replay.resume_from.is_none_or(|r| minute > r) {
                self.replay.resume_from = Some(minute);
                self.replay.seen_in_minute.clear();
            }
            if let Some(id) = id.filter(|_| self.replay.resume_from == Some(minute)) {
                self.replay.seen_in_minute.insert(id.to_owned());
            }
        }
        dup
    }
}

/// A record's own time: native `created_at` or Activity Streams `postedTime`.
fn record_time(bytes: &[u8]) -> Option<i64> {
    crate::core::json::members(bytes, crate::core::json::skip_ws(bytes, 0))
        .find(|(k, _)| *k == b"created_at" || *k == b"postedTime")
        .and_then(|(_, v)| crate::core::json::string_contents(v))
        .and_then(|t| std::str::from_utf8(t).ok())
        .and_then(crate::time::parse_timestamp)
}

fn replay_summary(bytes: &[u8], message: &str) -> ReplaySummary {
    let v: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
    let info = &v["info"];
    ReplaySummary {
        message: message.to_owned(),
        activity_count: info["activity_count"].as_u64(),
        minutes_failed: info["minutes_failed"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        unprocessed_range: info["unprocessed_range"]["fromDate"]
            .as_str()
            .zip(info["unprocessed_range"]["toDate"].as_str())
            .map(|(f, t)| (f.to_owned(), t.to_owned())),
    }
}

fn stream(
    p: &Partition,
    mut body: impl Read,
    tick: Duration,
    decoder: &mut FrameDecoder,
    last_byte: &mut Option<Instant>,
    replay: &mut ReplayProgress,
) -> Attempt {
    let resumed_from = replay.resume_from;
    let mut sink = Sink {
        p,
        replay,
        resumed_from,
        forced: false,
        completed: false,
        stop: false,
        any_record: false,
    };
    let mut buf = vec![0u8; 16 * 1024];
    let mut idle = Duration::ZERO;
    let mut delivered = false;
    let done = |ending, error, delivered| Attempt {
        ending,
        error,
        delivered,
        head_timed_out: false,
    };
    loop {
        if p.stop.is_stopped() || sink.stop {
            if sink.stop {
                p.stop.stop(); // the handler asked: the whole client stops
            }
            decoder.reset();
            return done(Ending::Stopped, None, delivered);
        }
        match body.read(&mut buf) {
            Ok(0) => {
                let end = decoder.finish(|e| sink.on(e));
                let ending = if sink.completed {
                    Ending::ReplayCompleted
                } else if sink.forced {
                    Ending::ForcedDisconnect
                } else {
                    Ending::Dropped
                };
                // A live body always ends inside its gzip member (Truncated): that is no error.
                let error = end
                    .err()
                    .filter(|e| *e != Error::Truncated && ending != Ending::ReplayCompleted);
                return done(ending, error, delivered);
            }
            Ok(n) => {
                delivered = true;
                idle = Duration::ZERO;
                *last_byte = Some(Instant::now());
                PartitionStats::add(&p.stats.bytes_wire, n as u64);
                let before = decoder.bytes_out();
                let fed = decoder.feed(&buf[..n], |e| sink.on(e));
                if std::mem::take(&mut sink.any_record) {
                    let ms = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis() as u64);
                    p.stats.last_record_unix_ms.store(ms, Ordering::Relaxed);
                }
                PartitionStats::add(
                    &p.stats.bytes_inflated,
                    decoder.bytes_out().saturating_sub(before),
                );
                if let Err(e) = fed {
                    decoder.reset();
                    return done(Ending::CorruptStream, Some(e), delivered);
                }
                if sink.completed {
                    decoder.reset();
                    return done(Ending::ReplayCompleted, None, delivered);
                }
            }
            Err(e) if is_read_tick(&e) => {
                idle += tick;
                if idle >= p.config.stall_timeout {
                    if decoder.reset().is_some() {
                        PartitionStats::add(&p.stats.incomplete, 1);
                    }
                    return done(Ending::Stalled, Some(Error::Stalled { idle }), delivered);
                }
            }
            Err(e) => {
                if decoder.reset().is_some() {
                    PartitionStats::add(&p.stats.incomplete, 1);
                }
                let ending = if sink.forced {
                    Ending::ForcedDisconnect
                } else {
                    Ending::Dropped
                };
                return done(ending, Some(io_error(&e)), delivered);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_go_over_plain_http_to_a_remote_host() {
        for ok in [
            "https://gnip-stream.twitter.com/x",
            "http://127.0.0.1:8080/x",
            "http://localhost/x",
            "http://[::1]:9/x",
            "http://127.2.3.4/x",
        ] {
            assert!(check_transport(ok, true).is_ok(), "{ok}");
        }
        for bad in [
            "http://gnip-stream.twitter.com/x",
            "http://10.0.0.1/x",
            "http://[2001:db8::1]/x",
            "http://localhost.evil.com/x",
        ] {
            assert!(
                matches!(
                    check_transport(bad, true),
                    Err(Error::InsecureTransport { .. })
                ),
                "{bad}"
            );
        }
        assert!(
            check_transport("http://example.com/x", false).is_ok(),
            "no credentials, nothing to leak"
        );
        assert!(matches!(
            check_transport("ftp://x/y", true),
            Err(Error::BadInput { .. })
        ));
    }

    #[test]
    fn replay_completion_messages_are_summarised() {
        // The shapes protocol.md quotes.
        let ok = br#"{"info":{"message":"Replay Request Completed","sent":"2016-05-27T22:15:50+00:00","activity_count":8874}}"#;
        let s = replay_summary(ok, "Replay Request Completed");
        assert_eq!(
            (
                s.activity_count,
                s.minutes_failed.len(),
                s.unprocessed_range
            ),
            (Some(8874), 0, None)
        );
        let errors = br#"{"info":{"message":"Replay Request Completed with Errors","sent":"2016-05-27T16:00:02+00:00","activity_count":56333,"minutes_failed":["2013-02-20T00:05:00+00:00","2013-02-20T00:06:00+00:00"]}}"#;
        let s = replay_summary(errors, "Replay Request Completed with Errors");
        assert_eq!(
            s.minutes_failed,
            vec!["2013-02-20T00:05:00+00:00", "2013-02-20T00:06:00+00:00"]
        );
        let failed = br#"{"info":{"message":"Replay Request Failed to Complete","sent":"2016-06-27T16:37:13+00:00","unprocessed_range":{"fromDate":"2016-06-26T00:00:00+00:00","toDate":"2016-06-26T00:01:00+00:00"},"activity_count":1822}}"#;
        let s = replay_summary(failed, "Replay Request Failed to Complete");
        assert_eq!(
            s.unprocessed_range,
            Some((
                "2016-06-26T00:00:00+00:00".to_owned(),
                "2016-06-26T00:01:00+00:00".to_owned()
            ))
        );
        assert_eq!(s.activity_count, Some(1822));
    }

    #[test]
    fn record_times_in_both_formats() {
        assert_eq!(
            record_time(br#"{"created_at":"Thu Jan 01 00:01:00 +0000 1970","id":1}"#),
            Some(60)
        );
        assert_eq!(
            record_time(br#"{"id":"x","postedTime":"1970-01-01T00:02:00.000Z"}"#),
            Some(120)
        );
        assert_eq!(record_time(br#"{"delete":{"status":{"id":1}}}"#), None);
    }
}

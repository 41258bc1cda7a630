//! The session's unit tests: gzip bytes and fake instants in, no socket and no clock read
//! (beyond one `Instant` to count from). Over 600 lines: one test per outcome of one value's
//! life (both dialects, each ending, refusals, backfill), which reads best together.

use super::*;
use crate::core::GzipEncoder;
use crate::protocol::policy::Refusal;

const SEC: Duration = Duration::from_secs(1);

fn config() -> SessionConfig {
    SessionConfig {
        dialect: Dialect::default(),
        decoder: DecoderConfig::default(),
        stall_timeout: 30 * SEC,
        job: None,
        backfill_on_start: 0,
        backfill_max: 5,
    }
}

/// Records what the session hands out; stops at the `stop_at`-th record.
#[derive(Default)]
struct Seen {
    records: Vec<Vec<u8>>,
    system: Vec<(Level, String)>,
    skipped: Vec<Skipped>,
    stop_at: Option<usize>,
}

impl Output for Seen {
    fn on_record(&mut self, record: &Record<'_>) -> Flow {
        self.records.push(record.bytes().to_vec());
        if self.stop_at == Some(self.records.len()) {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }
    fn on_system(&mut self, level: Level, text: &str) {
        self.system.push((level, text.to_owned()));
    }
    fn on_skipped(&mut self, what: Skipped) {
        self.skipped.push(what);
    }
}

fn gzip(lines: &[&str]) -> Vec<u8> {
    let mut wire = Vec::new();
    let mut enc = GzipEncoder::new(6);
    for l in lines {
        enc.write_flush(format!("{l}\r\n").as_bytes(), &mut wire);
    }
    wire
}

fn streaming(config: SessionConfig, t0: Instant) -> Session {
    let mut s = Session::new(config).unwrap();
    assert_eq!(s.on_head(200, BodyEncoding::Gzip, t0), Head::Stream);
    s
}

const A: &str = r#"{"id":"tag:search.twitter.com,2005:1","postedTime":"2026-01-01T00:00:10.000Z"}"#;
const B: &str = r#"{"id":"tag:search.twitter.com,2005:2","postedTime":"2026-01-01T00:00:20.000Z"}"#;
const C: &str = r#"{"id":"tag:search.twitter.com,2005:3","postedTime":"2026-01-01T00:01:05.000Z"}"#;

fn system(level: &str, text: &str) -> String {
    format!(r#"{{"{level}":{{"message":"{text}","sent":"2026-01-01T00:00:00+00:00"}}}}"#)
}

#[test]
fn records_go_out_byte_exact_and_the_body_end_is_a_drop() {
    let t0 = Instant::now();
    let mut s = streaming(config(), t0);
    let mut out = Seen::default();
    let fed = s.on_bytes(&gzip(&[A, "", B]), t0 + SEC, &mut out);
    assert_eq!(fed.end, None);
    assert!(fed.records);
    assert_eq!(fed.inflated, (A.len() + 2 + 2 + B.len() + 2) as u64);
    assert_eq!(
        out.records,
        vec![A.as_bytes().to_vec(), B.as_bytes().to_vec()]
    );
    assert_eq!(out.skipped, vec![Skipped::Heartbeat]);
    let end = s.on_eof(&mut out);
    assert_eq!(
        end,
        End {
            ending: Ending::Dropped,
            error: None,
            delivered: true
        }
    );
    assert!(!s.is_streaming());
}

#[test]
fn a_record_split_at_every_offset_comes_out_once_and_whole() {
    let wire = gzip(&[A, "", B, C]);
    for cut in 0..=wire.len() {
        let t0 = Instant::now();
        let mut s = streaming(config(), t0);
        let mut out = Seen::default();
        assert_eq!(s.on_bytes(&wire[..cut], t0, &mut out).end, None);
        assert_eq!(
            s.on_bytes(&wire[cut..], t0, &mut out).end,
            None,
            "cut {cut}"
        );
        assert_eq!(out.records.len(), 3, "cut {cut}");
        assert_eq!(out.records[2], C.as_bytes(), "cut {cut}");
    }
}

#[test]
fn heartbeats_keep_a_quiet_stream_from_stalling() {
    let t0 = Instant::now();
    let mut s = streaming(config(), t0);
    let mut out = Seen::default();
    let mut enc = GzipEncoder::new(6);
    for i in 1..=10u32 {
        // A heartbeat every 10 s and a tick 9 s later: 19 s idle at most.
        let mut heartbeat = Vec::new();
        enc.write_flush(b"\r\n", &mut heartbeat);
        assert_eq!(
            s.on_bytes(&heartbeat, t0 + i * 10 * SEC, &mut out).end,
            None
        );
        assert_eq!(s.on_tick(t0 + i * 10 * SEC + 9 * SEC, &mut out), None);
    }
    assert_eq!(out.skipped, vec![Skipped::Heartbeat; 10]);
    assert!(out.records.is_empty());
}

#[test]
fn silence_past_the_stall_timeout_ends_the_connection_as_stalled() {
    let t0 = Instant::now();
    let mut s = streaming(config(), t0);
    let mut out = Seen::default();
    s.on_bytes(&gzip(&[A]), t0 + SEC, &mut out);
    assert_eq!(s.on_tick(t0 + 30 * SEC, &mut out), None, "29 s idle");
    let end = s.on_tick(t0 + 31 * SEC, &mut out).unwrap();
    assert_eq!(end.ending, Ending::Stalled);
    assert_eq!(end.error, Some(Error::Stalled { idle: 30 * SEC }));
    assert!(end.delivered);
    // Idle again: ticks do nothing until the next head.
    assert_eq!(s.on_tick(t0 + 99 * SEC, &mut out), None);
}

#[test]
fn a_stall_counts_from_the_head_when_no_body_byte_came() {
    let t0 = Instant::now();
    let mut s = streaming(config(), t0);
    let mut out = Seen::default();
    let end = s.on_tick(t0 + 30 * SEC, &mut out).unwrap();
    assert_eq!(end.ending, Ending::Stalled);
    assert!(!end.delivered);
}

#[test]
fn a_stall_mid_record_drops_and_reports_the_partial_record() {
    let t0 = Instant::now();
    let mut s = streaming(config(), t0);
    let mut out = Seen::default();
    let mut wire = Vec::new();
    GzipEncoder::new(6).write_flush(b"{\"id\":\"cut", &mut wire);
    s.on_bytes(&wire, t0, &mut out);
    let end = s.on_tick(t0 + 40 * SEC, &mut out).unwrap();
    assert_eq!(end.ending, Ending::Stalled);
    assert_eq!(out.skipped, vec![Skipped::Incomplete { len: 10 }]);
    assert!(out.records.is_empty());
}

#[test]
fn a_forced_disconnect_message_makes_the_close_a_forced_disconnect() {
    let t0 = Instant::now();
    let mut s = streaming(config(), t0);
    let mut out = Seen::default();
    let msg = system(
        "error",
        "Forced Disconnect: Too many connections. (Allowed Connections = 2)",
    );
    assert_eq!(s.on_bytes(&gzip(&[A, &msg]), t0, &mut out).end, None);
    assert_eq!(out.system.len(), 1);
    assert_eq!(out.system[0].0, Level::Error);
    // The system message goes to the handler too.
    assert_eq!(out.records.len(), 2);
    assert_eq!(s.on_eof(&mut out).ending, Ending::ForcedDisconnect);
    // The next connection starts over.
    s.on_head(200, BodyEncoding::Gzip, t0);
    assert_eq!(s.on_eof(&mut out).ending, Ending::Dropped);
}

#[test]
fn a_read_error_after_a_closing_message_is_a_forced_disconnect() {
    let t0 = Instant::now();
    let mut s = streaming(config(), t0);
    let mut out = Seen::default();
    let msg = system(
        "error",
        "Force closing connection to because it reached the maximum allowed backup (buffer size is 2000)",
    );
    s.on_bytes(&gzip(&[&msg]), t0, &mut out);
    let err = Error::Io {
        kind: std::io::ErrorKind::ConnectionReset,
        message: "reset".into(),
    };
    let end = s.on_error(err.clone(), &mut out);
    assert_eq!(end.ending, Ending::ForcedDisconnect);
    assert_eq!(end.error, Some(err));
}

#[test]
fn a_read_error_is_a_drop_and_drops_the_partial_record() {
    let t0 = Instant::now();
    let mut s = streaming(config(), t0);
    let mut out = Seen::default();
    let mut wire = Vec::new();
    GzipEncoder::new(6).write_flush(format!("{A}\r\n{{\"id\":").as_bytes(), &mut wire);
    s.on_bytes(&wire, t0, &mut out);
    let err = Error::Io {
        kind: std::io::ErrorKind::UnexpectedEof,
        message: "eof".into(),
    };
    let end = s.on_error(err, &mut out);
    assert_eq!(end.ending, Ending::Dropped);
    assert_eq!(out.records, vec![A.as_bytes().to_vec()]);
    assert_eq!(out.skipped, vec![Skipped::Incomplete { len: 6 }]);
}

#[test]
fn replay_completion_ends_the_connection_with_its_summary() {
    let t0 = Instant::now();
    let mut s = streaming(
        SessionConfig {
            job: Some((0, i64::MAX)),
            ..config()
        },
        t0,
    );
    let mut out = Seen::default();
    let done = r#"{"info":{"message":"Replay Request Completed","sent":"2026-01-01T00:10:00+00:00","activity_count":2}}"#;
    let fed = s.on_bytes(&gzip(&[A, B, done]), t0, &mut out);
    let end = fed.end.unwrap();
    assert_eq!(end.ending, Ending::ReplayCompleted);
    assert_eq!(end.error, None);
    assert!(s.summary().is_some_and(|x| x.is_complete()));
    assert_eq!(out.records.len(), 3);
    assert!(!s.is_streaming());
}

#[test]
fn recovery_completion_ends_the_connection_too() {
    let t0 = Instant::now();
    let mut s = streaming(
        SessionConfig {
            job: Some((0, i64::MAX)),
            ..config()
        },
        t0,
    );
    let mut out = Seen::default();
    let done = system("info", "Recovery Request Completed");
    let end = s.on_bytes(&gzip(&[A, &done]), t0, &mut out).end.unwrap();
    assert_eq!(end.ending, Ending::ReplayCompleted);
    assert!(s.take_summary().is_some());
    assert!(s.summary().is_none());
}

#[test]
fn a_completion_message_on_a_live_stream_is_only_a_notice() {
    let t0 = Instant::now();
    let mut s = streaming(config(), t0);
    let mut out = Seen::default();
    let done = system("info", "Replay Request Completed");
    assert_eq!(s.on_bytes(&gzip(&[&done]), t0, &mut out).end, None);
    assert!(s.summary().is_none());
    assert!(s.is_streaming());
}

#[test]
fn a_resumed_job_drops_what_the_dropped_connection_handed_out() {
    let t0 = Instant::now();
    let mut s = streaming(
        SessionConfig {
            job: Some((0, i64::MAX)),
            ..config()
        },
        t0,
    );
    let mut out = Seen::default();
    s.on_bytes(&gzip(&[A, B]), t0, &mut out);
    s.on_eof(&mut out);
    let minute = s.resume_from().unwrap();
    assert_eq!(minute % 60, 0);
    // The service resends the minute of the last record, then goes on.
    s.on_head(200, BodyEncoding::Gzip, t0);
    s.on_bytes(&gzip(&[A, B, C]), t0, &mut out);
    assert_eq!(
        out.records,
        vec![
            A.as_bytes().to_vec(),
            B.as_bytes().to_vec(),
            C.as_bytes().to_vec()
        ]
    );
    assert_eq!(out.skipped, vec![Skipped::Resent, Skipped::Resent]);
}

#[test]
fn flow_stop_mid_read_hands_out_nothing_after_that_record() {
    let t0 = Instant::now();
    let mut s = streaming(config(), t0);
    let mut out = Seen {
        stop_at: Some(2),
        ..Seen::default()
    };
    let fed = s.on_bytes(&gzip(&[A, B, C]), t0, &mut out);
    let end = fed.end.unwrap();
    assert_eq!(end.ending, Ending::Stopped);
    assert_eq!(end.error, None);
    assert_eq!(out.records.len(), 2);
    // Bytes after the end are not decoded.
    assert_eq!(s.on_bytes(&gzip(&[C]), t0, &mut out).end, None);
    assert_eq!(out.records.len(), 2);
}

#[test]
fn a_corrupt_body_ends_with_its_error_after_the_records_before_it() {
    let t0 = Instant::now();
    let mut s = streaming(config(), t0);
    let mut out = Seen::default();
    let mut wire = gzip(&[A]);
    wire.push(0b0000_0111); // BFINAL=1, BTYPE=11 (reserved): corrupt
    let end = s.on_bytes(&wire, t0, &mut out).end.unwrap();
    assert_eq!(end.ending, Ending::CorruptStream);
    assert!(end.error.is_some());
    assert_eq!(out.records, vec![A.as_bytes().to_vec()]);
}

#[test]
fn a_truncated_body_is_a_plain_drop_but_a_bad_trailer_is_corrupt() {
    let t0 = Instant::now();
    let mut out = Seen::default();
    // Live: the body ends inside its member, as every live connection does: no error.
    let mut s = streaming(config(), t0);
    s.on_bytes(&gzip(&[A]), t0, &mut out);
    assert_eq!(
        s.on_eof(&mut out),
        End {
            ending: Ending::Dropped,
            error: None,
            delivered: true
        }
    );
    // A whole member whose CRC is wrong is corrupt when CRCs are checked.
    let mut whole = Vec::new();
    let mut enc = GzipEncoder::new(6);
    enc.write_flush(format!("{A}\r\n").as_bytes(), &mut whole);
    enc.finish(&mut whole);
    let n = whole.len();
    whole[n - 8] ^= 0xff;
    let mut s = streaming(
        SessionConfig {
            decoder: DecoderConfig::default().check_crc(true),
            ..config()
        },
        t0,
    );
    let end = s.on_bytes(&whole, t0, &mut out).end.unwrap();
    assert_eq!(end.ending, Ending::CorruptStream);
    assert!(end.error.is_some());
}

#[test]
fn a_refused_request_ends_with_the_services_message() {
    let t0 = Instant::now();
    let mut s = Session::new(config()).unwrap();
    assert_eq!(s.on_head(429, BodyEncoding::Gzip, t0), Head::Refused);
    let body = br#"{"error":{"message":"Exceeded rate limit","sent":"x"}}"#;
    let end = s.on_refused(429, body, false, None);
    assert_eq!(end.ending, Ending::Http(429));
    assert_eq!(
        end.error,
        Some(Error::Http {
            status: 429,
            message: "Exceeded rate limit".into()
        })
    );
    assert!(!end.delivered);
    // Gzip'd error bodies are inflated first.
    let mut wire = Vec::new();
    let mut enc = GzipEncoder::new(6);
    enc.write_flush(body, &mut wire);
    enc.finish(&mut wire);
    let end = s.on_refused(503, &wire, true, None);
    assert_eq!(
        end.error,
        Some(Error::Http {
            status: 503,
            message: "Exceeded rate limit".into()
        })
    );
}

#[test]
fn a_gzip_bomb_error_body_is_not_inflated_past_the_bound_and_the_status_decides() {
    let t0 = Instant::now();
    let mut s = Session::new(config()).unwrap();
    assert_eq!(s.on_head(503, BodyEncoding::Gzip, t0), Head::Refused);
    // 64 MiB of `[0,0,…` (it would parse into millions of values) in under 64 KiB of gzip.
    let mut wire = Vec::new();
    let mut enc = GzipEncoder::new(9);
    enc.write(b"[", &mut wire);
    let zeros = b"0,".repeat(1 << 19);
    for _ in 0..64 {
        enc.write(&zeros, &mut wire);
    }
    enc.finish(&mut wire);
    assert!(wire.len() <= ERROR_BODY_LIMIT, "{}", wire.len());
    let end = s.on_refused(503, &wire, true, None);
    assert_eq!(end.ending, Ending::Http(503));
    match end.error {
        Some(Error::Http {
            status: 503,
            message,
        }) => assert!(message.len() < 400, "{message}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn backfill_is_sized_to_the_gap_since_the_last_byte() {
    let t0 = Instant::now();
    let mut s = Session::new(SessionConfig {
        backfill_on_start: 3,
        ..config()
    })
    .unwrap();
    assert_eq!(s.backfill(t0), Some(3), "the first connection's");
    s.on_head(200, BodyEncoding::Gzip, t0);
    let mut out = Seen::default();
    s.on_bytes(&gzip(&[A]), t0, &mut out);
    s.on_eof(&mut out);
    assert_eq!(s.backfill(t0 + 10 * SEC), Some(1));
    assert_eq!(s.backfill(t0 + 61 * SEC), Some(2));
    assert_eq!(s.backfill(t0 + 3600 * SEC), Some(5), "at most the maximum");
    let job = Session::new(SessionConfig {
        job: Some((0, i64::MAX)),
        ..config()
    })
    .unwrap();
    assert_eq!(job.backfill(t0), None, "a job never backfills");
    let off = Session::new(SessionConfig {
        backfill_max: 0,
        ..config()
    })
    .unwrap();
    assert_eq!(off.backfill(t0), None);
}

#[test]
fn an_idle_session_ignores_bytes_and_a_stop_ends_a_streaming_one() {
    let t0 = Instant::now();
    let mut s = Session::new(config()).unwrap();
    let mut out = Seen::default();
    assert!(!s.on_bytes(&gzip(&[A]), t0, &mut out).records);
    assert!(out.records.is_empty());
    s.on_head(200, BodyEncoding::Gzip, t0);
    s.on_bytes(&gzip(&[A]), t0, &mut out);
    let end = s.on_stop();
    assert_eq!(
        end,
        End {
            ending: Ending::Stopped,
            error: None,
            delivered: true
        }
    );
}

#[test]
fn overlong_records_are_skipped_and_the_stream_goes_on() {
    let t0 = Instant::now();
    let mut s = streaming(
        SessionConfig {
            decoder: DecoderConfig::default().max_record(20),
            ..config()
        },
        t0,
    );
    let mut out = Seen::default();
    assert_eq!(
        s.on_bytes(&gzip(&[A, "{\"id\":1}"]), t0, &mut out).end,
        None
    );
    assert_eq!(out.records, vec![b"{\"id\":1}".to_vec()]);
    assert_eq!(
        out.skipped,
        vec![Skipped::Overlong {
            len: A.len() as u64
        }]
    );
}

const V2_POST: &str = r#"{"data":{"edit_history_tweet_ids":["1600000000000000001"],"id":"1600000000000000001","text":"héllo"},"includes":{"users":[{"id":"9","username":"u"}]}}"#;
const V2_LIKE: &str = r#"{"data":{"created_at":"2026-12-05T00:00:00.000Z","id":"8ba4f34e6235d905a46bac021d98e923","liked_tweet_id":"5"}}"#;
const V2_DELETE: &str = r#"{"data":{"delete":{"tweet":{"id":"7","author_id":"3"},"event_at":"2026-12-05T00:00:00.000Z"}}}"#;
const V2_QUOTE: &str = r#"{"data":{"delete":{"tweet":{"id":"7","author_id":"3"},"quote_tweet_id":"8","event_at":"2026-12-05T00:00:00.000Z"}}}"#;
const V2_PARTIAL: &str = r#"{"data":{"id":"1600000000000000002","text":"x"},"errors":[{"title":"Not Found Error","type":"https://api.x.com/2/problems/resource-not-found"}]}"#;
const V2_OFF: &str = r#"{"errors":[{"title":"operational-disconnect","disconnect_type":"OperationalDisconnect","detail":"This stream has been disconnected for operational reasons.","type":"https://api.x.com/2/problems/operational-disconnect"}]}"#;

fn v2(job: bool) -> SessionConfig {
    SessionConfig {
        dialect: Dialect::V2,
        job: job.then_some((0, i64::MAX)),
        ..config()
    }
}

#[test]
fn v2_records_split_at_every_offset_come_out_once_whole_and_keyed_gzip_or_plain() {
    let lines = [V2_POST, "", V2_LIKE, V2_DELETE, V2_QUOTE, V2_PARTIAL];
    let plain: String = lines.iter().map(|l| format!("{l}\r\n")).collect();
    for (encoding, wire) in [
        (BodyEncoding::Gzip, gzip(&lines)),
        (BodyEncoding::Identity, plain.into_bytes()),
    ] {
        for cut in 0..=wire.len() {
            let t0 = Instant::now();
            let mut s = Session::new(v2(false)).unwrap();
            assert_eq!(s.on_head(200, encoding, t0), Head::Stream);
            let mut out = Seen::default();
            assert_eq!(
                s.on_bytes(&wire[..cut], t0, &mut out).end,
                None,
                "cut {cut}"
            );
            assert_eq!(
                s.on_bytes(&wire[cut..], t0, &mut out).end,
                None,
                "cut {cut}"
            );
            let want: Vec<&[u8]> = lines
                .iter()
                .filter(|l| !l.is_empty())
                .map(|l| l.as_bytes())
                .collect();
            assert_eq!(out.records, want, "{encoding:?} cut {cut}");
            assert_eq!(out.skipped, [Skipped::Heartbeat]);
        }
    }
    let keys: std::collections::HashSet<u64> = [V2_POST, V2_LIKE, V2_DELETE, V2_QUOTE, V2_PARTIAL]
        .iter()
        .map(|l| {
            Dialect::V2
                .record_key(&Record::new(l.as_bytes()))
                .unwrap()
                .as_u64()
        })
        .collect();
    assert_eq!(keys.len(), 5, "the quote's delete is its own record");
}

#[test]
fn a_v2_errors_line_ends_the_connection_at_once_and_is_no_record_key() {
    let t0 = Instant::now();
    let mut s = Session::new(v2(false)).unwrap();
    s.on_head(200, BodyEncoding::Gzip, t0);
    let mut out = Seen::default();
    let fed = s.on_bytes(&gzip(&[V2_POST, V2_OFF, V2_LIKE]), t0, &mut out);
    let end = fed.end.expect("ended at the disconnect");
    assert_eq!(end.ending, Ending::ForcedDisconnect);
    assert_eq!(
        out.records,
        [V2_POST.as_bytes(), V2_OFF.as_bytes()],
        "nothing after it"
    );
    assert_eq!(out.system.len(), 1);
    assert!(
        out.system[0].1.starts_with("OperationalDisconnect: "),
        "{:?}",
        out.system
    );
    // Reconnected with backfill sized to the gap.
    assert_eq!(s.backfill(t0 + 30 * SEC), Some(1));
}

#[test]
fn a_v2_recovery_is_complete_when_its_body_ends_whole() {
    let t0 = Instant::now();
    let mut whole = Vec::new();
    let mut enc = GzipEncoder::new(6);
    enc.write_flush(format!("{V2_LIKE}\r\n").as_bytes(), &mut whole);
    let cut = whole.clone();
    enc.finish(&mut whole);
    for (wire, encoding, ending) in [
        (whole, BodyEncoding::Gzip, Ending::ReplayCompleted),
        (cut, BodyEncoding::Gzip, Ending::Dropped),
        (
            format!("{V2_LIKE}\r\n").into_bytes(),
            BodyEncoding::Identity,
            Ending::ReplayCompleted,
        ),
    ] {
        let mut s = Session::new(v2(true)).unwrap();
        s.on_head(200, encoding, t0);
        let mut out = Seen::default();
        assert_eq!(s.on_bytes(&wire, t0, &mut out).end, None);
        assert_eq!(s.on_eof(&mut out).ending, ending, "{encoding:?}");
        assert_eq!(out.records.len(), 1);
    }
    // A Gnip job's body end is no completion: only its message is.
    let mut s = Session::new(SessionConfig {
        job: Some((0, i64::MAX)),
        ..config()
    })
    .unwrap();
    s.on_head(200, BodyEncoding::Identity, t0);
    let mut out = Seen::default();
    s.on_bytes(b"{\"id_str\":\"1\"}\r\n", t0, &mut out);
    assert_eq!(s.on_eof(&mut out).ending, Ending::Dropped);
}

#[test]
fn v2_refusals_become_their_endings() {
    let t0 = Instant::now();
    let mut s = Session::new(v2(false)).unwrap();
    assert_eq!(s.on_head(429, BodyEncoding::Identity, t0), Head::Refused);
    let body = crate::protocol::v2::problems::too_many_connections_body();
    let end = s.on_refused(429, body.as_bytes(), false, Some(60));
    assert_eq!(end.ending, Ending::Refused(Refusal::TooManyConnections));
    let end = s.on_refused(429, b"{}", false, Some(42));
    assert_eq!(
        end.ending,
        Ending::Refused(Refusal::RateLimited {
            wait_secs: Some(42)
        })
    );
    let end = s.on_refused(401, b"{\"title\":\"Unauthorized\"}", false, None);
    assert_eq!(end.ending, Ending::Http(401));
    assert!(matches!(end.error, Some(Error::Http { status: 401, .. })));
}

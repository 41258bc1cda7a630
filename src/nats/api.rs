//! JetStream's API, sans-IO: the request subjects and bodies this client sends (which stream
//! captures a subject, create a stream, create a key-value bucket, read a key's last message)
//! and their replies read, with JetStream's error codes.

use serde_json::{Value, json};

use super::jetstream::PubAck;
use super::parser::Headers;

/// The API's subject prefix.
pub const API: &str = "$JS.API";
/// `$JS.API.INFO`: answers once JetStream is up (the account's usage and limits).
pub const ACCOUNT_INFO: &str = "$JS.API.INFO";
/// `$JS.API.STREAM.NAMES`: the streams, filtered by a subject they capture.
pub const STREAM_NAMES: &str = "$JS.API.STREAM.NAMES";

/// JetStream error code: a stream of that name exists with another configuration.
pub const ERR_STREAM_NAME_IN_USE: u64 = 10058;
/// JetStream error code: no message found (a key never written, or aged out).
pub const ERR_NO_MESSAGE_FOUND: u64 = 10037;
/// JetStream error code: `Nats-Expected-Last-Subject-Sequence` did not match (someone else
/// wrote the key since).
pub const ERR_WRONG_LAST_SEQUENCE: u64 = 10071;
/// JetStream error code: a stream's subjects overlap another stream's.
pub const ERR_SUBJECTS_OVERLAP: u64 = 10065;

/// Header: the message id JetStream de-duplicates by within the stream's duplicate window.
pub const MSG_ID: &str = "Nats-Msg-Id";
/// Header: store only if the subject's last sequence is this (0: no message on the subject).
pub const EXPECTED_LAST_SUBJECT_SEQUENCE: &str = "Nats-Expected-Last-Subject-Sequence";

/// An API error: `{"error":{"code":…,"err_code":…,"description":…}}`, or no responders
/// (`code` 503, no `err_code`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP-like code: 400, 404, 500, 503.
    pub code: u16,
    /// JetStream's own code, when given.
    pub err_code: Option<u64>,
    /// What it said.
    pub description: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.err_code {
            Some(e) => write!(f, "{} (code {}, err_code {e})", self.description, self.code),
            None => write!(f, "{} (code {})", self.description, self.code),
        }
    }
}

impl ApiError {
    /// Whether asking again can help: no responders or 503 (no leader yet, an election).
    pub fn is_retryable(&self) -> bool {
        self.code == 503
    }

    fn no_responders() -> ApiError {
        ApiError {
            code: 503,
            err_code: None,
            description: "no responders: JetStream is not answering on this subject (not enabled, or electing a leader)".into(),
        }
    }
}

/// An API reply read: the JSON object, or the error it carries (looked at first).
pub fn reply(headers: Option<&[u8]>, payload: &[u8]) -> Result<Value, ApiError> {
    match PubAck::parse(headers, payload) {
        PubAck::NoResponders => return Err(ApiError::no_responders()),
        PubAck::Refused {
            code,
            err_code,
            description,
        } => {
            return Err(ApiError {
                code,
                err_code,
                description,
            });
        }
        _ => {}
    }
    serde_json::from_slice(payload).map_err(|_| ApiError {
        code: 500,
        err_code: None,
        description: format!(
            "not a JetStream API reply: {}",
            String::from_utf8_lossy(&payload[..payload.len().min(200)])
        ),
    })
}

/// The body asking which streams capture `subject`.
pub fn stream_names_request(subject: &str) -> Vec<u8> {
    json!({ "subject": subject }).to_string().into_bytes()
}

/// The streams a [`STREAM_NAMES`] reply names (empty: none captures the subject).
pub fn stream_names(reply: &Value) -> Vec<String> {
    reply
        .get("streams")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// A stream to create (`jetstream-init`): file storage, limits retention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSpec {
    /// Its name.
    pub name: String,
    /// The subjects it captures (wildcards allowed).
    pub subjects: Vec<String>,
    /// Replicas (1, 3 or 5 in practice).
    pub replicas: u32,
    /// The duplicate window in nanoseconds (messages with the same `Nats-Msg-Id` within it
    /// are stored once).
    pub duplicate_window_ns: u64,
    /// Maximum age in nanoseconds (0: none).
    pub max_age_ns: u64,
    /// Messages kept per subject (-1: no limit; 1 for a key-value bucket).
    pub max_msgs_per_subject: i64,
    /// Laid out as a key-value bucket (discard new, rollups allowed, deletes denied).
    pub kv: bool,
}

impl StreamSpec {
    /// A stream for records.
    pub fn records(name: &str, subjects: &str, replicas: u32, duplicate_window_ns: u64) -> Self {
        StreamSpec {
            name: name.to_owned(),
            subjects: vec![subjects.to_owned()],
            replicas,
            duplicate_window_ns,
            max_age_ns: 0,
            max_msgs_per_subject: -1,
            kv: false,
        }
    }

    /// A key-value bucket as NATS lays one out: stream `KV_<bucket>`, subjects
    /// `$KV.<bucket>.>`, one message per key, keys aging out after `ttl_ns`.
    pub fn kv_bucket(bucket: &str, ttl_ns: u64, replicas: u32) -> Self {
        StreamSpec {
            name: format!("KV_{bucket}"),
            subjects: vec![format!("$KV.{bucket}.>")],
            replicas,
            // The window may not exceed max_age; two minutes is NATS's own default.
            duplicate_window_ns: ttl_ns.min(120_000_000_000),
            max_age_ns: ttl_ns,
            max_msgs_per_subject: 1,
            kv: true,
        }
    }

    /// The create request's subject.
    pub fn create_subject(&self) -> String {
        format!("{API}.STREAM.CREATE.{}", self.name)
    }

    /// The create request's body: the stream configuration.
    pub fn config(&self) -> Vec<u8> {
        let mut c = json!({
            "name": self.name,
            "subjects": self.subjects,
            "retention": "limits",
            "storage": "file",
            "num_replicas": self.replicas,
            "duplicate_window": self.duplicate_window_ns,
            "max_age": self.max_age_ns,
            "max_msgs_per_subject": self.max_msgs_per_subject,
            "max_msgs": -1,
            "max_bytes": -1,
            "max_msg_size": -1,
            "max_consumers": -1,
            "discard": if self.kv { "new" } else { "old" },
            "allow_direct": true,
        });
        if self.kv {
            c["allow_rollup_hdrs"] = true.into();
            c["deny_delete"] = true.into();
        }
        c.to_string().into_bytes()
    }

    /// The configuration an existing stream reports (`config` of a create or info reply)
    /// differs from this one in what matters here: subjects, replicas, duplicate window,
    /// maximum age, messages per subject. Names the first difference.
    pub fn differs_from(&self, config: &Value) -> Option<String> {
        let n = |k: &str| config.get(k).and_then(Value::as_i64);
        let subjects: Vec<&str> = config
            .get("subjects")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if subjects != self.subjects.iter().map(String::as_str).collect::<Vec<_>>() {
            return Some(format!("subjects {subjects:?}"));
        }
        for (key, want) in [
            ("num_replicas", i64::from(self.replicas)),
            ("duplicate_window", self.duplicate_window_ns as i64),
            ("max_age", self.max_age_ns as i64),
            ("max_msgs_per_subject", self.max_msgs_per_subject),
        ] {
            if n(key) != Some(want) {
                return Some(format!("{key} {}", n(key).unwrap_or(0)));
            }
        }
        None
    }
}

/// `$JS.API.STREAM.INFO.<stream>`.
pub fn stream_info_subject(stream: &str) -> String {
    format!("{API}.STREAM.INFO.{stream}")
}

/// A stream's message count and last sequence from an info reply.
pub fn stream_state(info: &Value) -> (u64, u64) {
    let s = |k: &str| {
        info.pointer(&format!("/state/{k}"))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    (s("messages"), s("last_seq"))
}

/// `$JS.API.STREAM.MSG.GET.<stream>` and its body asking for `subject`'s last message.
pub fn last_msg_request(stream: &str, subject: &str) -> (String, Vec<u8>) {
    (
        format!("{API}.STREAM.MSG.GET.{stream}"),
        json!({ "last_by_subj": subject }).to_string().into_bytes(),
    )
}

/// `$JS.API.STREAM.MSG.GET.<stream>` and its body asking for sequence `seq`.
pub fn msg_request(stream: &str, seq: u64) -> (String, Vec<u8>) {
    (
        format!("{API}.STREAM.MSG.GET.{stream}"),
        json!({ "seq": seq }).to_string().into_bytes(),
    )
}

/// A stored message, as a get reply gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMsg {
    /// Its subject.
    pub subject: String,
    /// Its sequence in the stream.
    pub seq: u64,
    /// Its payload (decoded from the reply's base64).
    pub data: Vec<u8>,
    /// Its `Nats-Msg-Id` header, if it had one.
    pub msg_id: Option<String>,
}

/// A get reply: the message, `Ok(None)` when there is none (never written or aged out).
pub fn stored_msg(reply: Result<Value, ApiError>) -> Result<Option<StoredMsg>, ApiError> {
    use base64::Engine;
    let v = match reply {
        Ok(v) => v,
        Err(e) if e.err_code == Some(ERR_NO_MESSAGE_FOUND) || e.code == 404 => return Ok(None),
        Err(e) => return Err(e),
    };
    let m = v.get("message").ok_or_else(|| ApiError {
        code: 500,
        err_code: None,
        description: "a get reply without a message".into(),
    })?;
    let b64 = |k: &str| {
        m.get(k)
            .and_then(Value::as_str)
            .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
    };
    let hdrs = b64("hdrs");
    let msg_id = hdrs
        .as_deref()
        .and_then(Headers::parse)
        .and_then(|h| h.get(MSG_ID).map(str::to_owned));
    Ok(Some(StoredMsg {
        subject: m
            .get("subject")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        seq: m.get("seq").and_then(Value::as_u64).unwrap_or(0),
        data: b64("data").unwrap_or_default(),
        msg_id,
    }))
}

/// A duration as `jetstream-init` takes it: `90s`, `10m`, `2h`, or seconds (`30`, `0.5`).
/// Nanoseconds; `None` for anything else or zero.
pub fn parse_duration_ns(s: &str) -> Option<u64> {
    let (num, unit) = match s.char_indices().last()? {
        (i, 's') => (&s[..i], 1e9),
        (i, 'm') => (&s[..i], 60e9),
        (i, 'h') => (&s[..i], 3600e9),
        _ => (s, 1e9),
    };
    let v: f64 = num.parse().ok()?;
    let ns = v * unit;
    (1e6..1e19).contains(&ns).then_some(ns as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_errors_first_and_no_responders() {
        assert_eq!(
            stream_names(&reply(None, br#"{"total":1,"streams":["GNIP"]}"#).unwrap()),
            vec!["GNIP"]
        );
        assert!(stream_names(&reply(None, br#"{"total":0,"streams":null}"#).unwrap()).is_empty());
        let e = reply(None, br#"{"error":{"code":400,"err_code":10058,"description":"stream name already in use with a different configuration"}}"#).unwrap_err();
        assert_eq!(e.err_code, Some(ERR_STREAM_NAME_IN_USE));
        assert!(!e.is_retryable());
        let none = reply(Some(b"NATS/1.0 503\r\n\r\n"), b"").unwrap_err();
        assert!(none.is_retryable() && none.err_code.is_none());
        assert!(reply(None, b"nope").is_err());
    }

    #[test]
    fn stored_messages_and_missing_keys() {
        let got = stored_msg(reply(None, br#"{"message":{"subject":"$KV.L.powertrack.prod.0.0","seq":7,"hdrs":"TkFUUy8xLjANCk5hdHMtTXNnLUlkOiBhY3Rpdml0eToxDQoNCg==","data":"aG9zdC1h","time":"2026-11-28T05:00:00.1Z"}}"#)).unwrap().unwrap();
        assert_eq!(
            (got.seq, got.data.as_slice(), got.msg_id.as_deref()),
            (7, &b"host-a"[..], Some("activity:1"))
        );
        assert_eq!(
            stored_msg(reply(
                None,
                br#"{"error":{"code":404,"err_code":10037,"description":"no message found"}}"#
            )),
            Ok(None)
        );
        assert!(stored_msg(reply(Some(b"NATS/1.0 503\r\n\r\n"), b"")).is_err());
    }

    #[test]
    fn a_bucket_is_laid_out_as_nats_lays_one_out() {
        let kv = StreamSpec::kv_bucket("leases", 6_000_000_000, 3);
        let c: Value = serde_json::from_slice(&kv.config()).unwrap();
        assert_eq!(c["name"], "KV_leases");
        assert_eq!(c["subjects"][0], "$KV.leases.>");
        assert_eq!(
            (c["max_msgs_per_subject"].as_i64(), c["max_age"].as_u64()),
            (Some(1), Some(6_000_000_000))
        );
        assert_eq!(c["duplicate_window"].as_u64(), Some(6_000_000_000));
        assert_eq!(kv.differs_from(&c), None);
        let mut other = c.clone();
        other["max_age"] = 9.into();
        assert_eq!(kv.differs_from(&other).as_deref(), Some("max_age 9"));
        let s = StreamSpec::records("GNIP", "gnip.>", 3, 600_000_000_000);
        assert_eq!(s.create_subject(), "$JS.API.STREAM.CREATE.GNIP");
        let c: Value = serde_json::from_slice(&s.config()).unwrap();
        assert_eq!(
            (c["discard"].as_str(), c["num_replicas"].as_u64()),
            (Some("old"), Some(3))
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ns("10m"), Some(600_000_000_000));
        assert_eq!(parse_duration_ns("90s"), Some(90_000_000_000));
        assert_eq!(parse_duration_ns("2h"), Some(7_200_000_000_000));
        assert_eq!(parse_duration_ns("6"), Some(6_000_000_000));
        assert_eq!(parse_duration_ns("0.5"), Some(500_000_000));
        for bad in ["", "m", "0", "-1m", "10x", "1e30h"] {
            assert_eq!(parse_duration_ns(bad), None, "{bad}");
        }
    }
}

//! What an X API v2 stream line is, found from its top-level members: a record (`data`, also
//! with partial-hydration `errors`), or a system message (`errors` without `data`); the key that
//! recognises a record sent twice, and the record's own time (x-api-v2.md §2.3–2.5).

use crate::core::json::{member, members, skip_ws, string_contents};
use crate::core::{ComplianceKind, Level, RecordKind, SystemMessage};
use crate::protocol::dedupe::{RecordKey, hash_bytes};
use crate::protocol::time::parse_timestamp;

/// The event kinds of the compliance, likes-compliance and label streams: the one member of
/// `data` whose value is the event.
pub const EVENT_KINDS: &[&str] = &[
    "delete",
    "withheld",
    "drop",
    "undrop",
    "tweet_edit",
    "user_delete",
    "user_undelete",
    "user_protect",
    "user_unprotect",
    "user_suspend",
    "user_unsuspend",
    "user_withheld",
    "scrub_geo",
    "user_profile_modification",
    "public_tweet_notice",
    "public_tweet_unviewable",
];

/// The top-level shape of a v2 line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape<'a> {
    /// `data` (with or without `errors`): a record; the raw `data` value.
    Data(&'a [u8]),
    /// `errors` and no `data`: a message from the service; the raw `errors` value.
    Errors(&'a [u8]),
    /// Neither: not one of the documented shapes (handed on as data, as "new message types may
    /// be added").
    Other,
}

/// The shape of `line`. A line that starts with `{"data":` is a record at once, without a walk.
pub fn shape(line: &[u8]) -> Shape<'_> {
    let start = skip_ws(line, 0);
    let mut errors = None;
    for (key, value) in members(line, start) {
        match key {
            b"data" => return Shape::Data(value),
            b"errors" => errors = Some(value),
            _ => {}
        }
    }
    errors.map_or(Shape::Other, Shape::Errors)
}

/// What kind of record a v2 line is: an event of the compliance and label streams
/// ([`RecordKind::Compliance`]), a Post or Like ([`RecordKind::Activity`]), a message from the
/// service (`errors` without `data`: [`RecordKind::System`] at level error, its text the first
/// problem's `detail`), or [`RecordKind::Malformed`] when it is not a JSON object.
pub fn kind(line: &[u8]) -> RecordKind<'_> {
    let start = skip_ws(line, 0);
    let last = line
        .iter()
        .rposition(|c| !matches!(c, b' ' | b'\t' | b'\r' | b'\n'));
    if line.get(start) != Some(&b'{') || last.map(|e| line[e]) != Some(b'}') {
        return RecordKind::Malformed;
    }
    match shape(line) {
        Shape::Data(data) => match members(data, 0).next() {
            Some((k, v)) if v.first() == Some(&b'{') => {
                ComplianceKind::from_v2_name(k).map_or(RecordKind::Activity, RecordKind::Compliance)
            }
            _ => RecordKind::Activity,
        },
        Shape::Errors(errors) => {
            let first = skip_ws(errors, 1);
            let detail = member(&errors[first.min(errors.len())..], b"detail")
                .and_then(string_contents)
                .unwrap_or_default();
            RecordKind::System(SystemMessage::new(Level::Error, detail))
        }
        Shape::Other => RecordKind::Activity,
    }
}

/// A v2 record's key: a Post by its `data.id` (numeric: the same key as the Gnip Tweet); a
/// Like by its `data.id` string; an event by its kind, subject id(s), `quote_tweet_id` and
/// `event_at`; anything else by a hash of its bytes. `None` for a system message.
pub fn key_and_time(line: &[u8]) -> Option<(RecordKey<'_>, Option<i64>)> {
    let data = match shape(line) {
        Shape::Data(d) => d,
        Shape::Errors(_) => return None,
        Shape::Other => return Some((RecordKey::Bytes(hash_bytes(line)), None)),
    };
    let bytes = || RecordKey::Bytes(hash_bytes(line));
    let mut id = None;
    let mut created = None;
    for (k, v) in members(data, 0) {
        match k {
            b"id" => id = string_contents(v).and_then(utf8),
            b"created_at" => created = string_contents(v).and_then(utf8),
            _ => {
                let kind = utf8(k).filter(|k| EVENT_KINDS.contains(k));
                if let (Some(kind), true) = (kind, v.first() == Some(&b'{')) {
                    return Some(event_key(kind, v).unwrap_or_else(|| (bytes(), None)));
                }
            }
        }
    }
    let time = created.and_then(parse_timestamp);
    let key = match id {
        // A number's digits only when they read back the same ("01" is not 1: it keys as text).
        Some(id)
            if !id.is_empty()
                && id.len() <= 19
                && id.bytes().all(|b| b.is_ascii_digit())
                && (id == "0" || !id.starts_with('0')) =>
        {
            id.parse::<u64>()
                .map_or_else(|_| RecordKey::Id(id), RecordKey::Activity)
        }
        Some(id) if !id.is_empty() => RecordKey::Id(id),
        _ => bytes(),
    };
    Some((key, time))
}

fn utf8(b: &[u8]) -> Option<&str> {
    std::str::from_utf8(b).ok()
}

/// An event's key from its object: the subject (`tweet`, `user` or `favorite`) id and its
/// second id (`favorite.user_id`), `quote_tweet_id`, `event_at`.
fn event_key<'a>(kind: &'a str, event: &'a [u8]) -> Option<(RecordKey<'a>, Option<i64>)> {
    let mut subject = None;
    let mut second = "";
    let mut quote = "";
    let mut at = None;
    for (k, v) in members(event, 0) {
        match k {
            b"tweet" | b"user" | b"favorite" => {
                for (k2, v2) in members(v, 0) {
                    match k2 {
                        b"id" => subject = string_contents(v2).and_then(utf8),
                        b"user_id" => second = string_contents(v2).and_then(utf8).unwrap_or(""),
                        _ => {}
                    }
                }
            }
            b"quote_tweet_id" => quote = string_contents(v).and_then(utf8).unwrap_or(""),
            b"event_at" => at = string_contents(v).and_then(utf8),
            _ => {}
        }
    }
    let (subject, at) = (subject?, at?);
    Some((
        RecordKey::Event {
            kind,
            subject,
            second,
            quote,
            at,
        },
        parse_timestamp(at),
    ))
}

/// A system message's parts: from the first problem of `errors`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamProblem {
    /// `title`, e.g. `operational-disconnect`.
    pub title: String,
    /// `disconnect_type`, e.g. `OperationalDisconnect` (empty when absent).
    pub disconnect_type: String,
    /// `detail`.
    pub detail: String,
    /// The problem `type` URI's last path segment (`operational-disconnect`).
    pub kind: String,
}

impl StreamProblem {
    /// Parses the first problem of a raw `errors` value (serde_json: these lines are rare).
    pub fn parse(errors: &[u8]) -> StreamProblem {
        let v: serde_json::Value = serde_json::from_slice(errors).unwrap_or_default();
        let first = v.get(0).unwrap_or(&serde_json::Value::Null);
        let s = |k: &str| {
            first
                .get(k)
                .and_then(|x| x.as_str())
                .unwrap_or("")
                .to_owned()
        };
        StreamProblem {
            title: s("title"),
            disconnect_type: s("disconnect_type"),
            detail: s("detail"),
            kind: problem_kind(&s("type")).to_owned(),
        }
    }

    /// One line for the log: `OperationalDisconnect: This stream has been disconnected …`.
    pub fn text(&self) -> String {
        let what = [&self.disconnect_type, &self.title, &self.kind]
            .into_iter()
            .find(|s| !s.is_empty())
            .map_or("error", |s| s.as_str());
        if self.detail.is_empty() {
            what.to_owned()
        } else {
            format!("{what}: {}", self.detail)
        }
    }
}

/// The last path segment of a problem `type` URI (`https://api.x.com/2/problems/usage-capped`
/// → `usage-capped`): matched on the tail, never the host, which changed.
pub fn problem_kind(type_uri: &str) -> &str {
    type_uri.rsplit('/').next().unwrap_or(type_uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert!(matches!(shape(br#"{"data":{"id":"1"}}"#), Shape::Data(_)));
        assert!(matches!(
            shape(br#"{"errors":[{"title":"x"}],"data":{"id":"1"}}"#),
            Shape::Data(_)
        ));
        assert!(matches!(
            shape(br#"{"errors":[{"title":"x"}]}"#),
            Shape::Errors(_)
        ));
        assert_eq!(shape(br#"{"meta":1}"#), Shape::Other);
        assert_eq!(shape(b"garbage"), Shape::Other);
    }

    #[test]
    fn posts_likes_and_events_have_their_keys() {
        let post = br#"{"data":{"edit_history_tweet_ids":["1"],"id":"1234567890123456789","text":"a","created_at":"2022-12-23T12:34:56.000Z"},"includes":{"users":[{"id":"9"}]}}"#;
        let (k, t) = key_and_time(post).unwrap();
        assert_eq!(k, RecordKey::Activity(1234567890123456789));
        assert_eq!(t, Some(1_671_798_896));
        let like = br#"{"data":{"id":"8ba4f34e6235d905a46bac021d98e923","created_at":"2022-12-23T12:34:56.000Z","liked_tweet_id":"5"}}"#;
        let (k, _) = key_and_time(like).unwrap();
        assert_eq!(k, RecordKey::Id("8ba4f34e6235d905a46bac021d98e923"));
        assert_eq!(k.message_id(), "id:8ba4f34e6235d905a46bac021d98e923");
        // Found by the v2 fuzz target: "01" and "1" are different ids, not one number.
        let (k01, _) = key_and_time(br#"{"data":{"id":"01"}}"#).unwrap();
        let (k1, _) = key_and_time(br#"{"data":{"id":"1"}}"#).unwrap();
        assert_eq!(k01, RecordKey::Id("01"));
        assert_eq!(k1, RecordKey::Activity(1));
        assert_ne!(k01.as_u64(), k1.as_u64());
        let del = br#"{"data":{"delete":{"tweet":{"id":"601430178305220608","author_id":"3"},"event_at":"2022-12-23T12:34:56.789Z"}}}"#;
        let q = br#"{"data":{"delete":{"tweet":{"id":"601430178305220608","author_id":"3"},"quote_tweet_id":"7","event_at":"2022-12-23T12:34:56.789Z"}}}"#;
        let (kd, td) = key_and_time(del).unwrap();
        let (kq, _) = key_and_time(q).unwrap();
        assert_ne!(
            kd.as_u64(),
            kq.as_u64(),
            "quote_tweet_id is part of the key"
        );
        assert_eq!(td, Some(1_671_798_896));
        assert_eq!(
            kd.message_id(),
            "delete:601430178305220608:2022-12-23T12:34:56.789Z"
        );
        assert_eq!(
            kq.message_id(),
            "delete:601430178305220608:q7:2022-12-23T12:34:56.789Z"
        );
        let fav = br#"{"data":{"delete":{"favorite":{"id":"5","user_id":"6"},"event_at":"2022-12-23T12:34:56Z"}}}"#;
        let fav2 = br#"{"data":{"delete":{"favorite":{"id":"5","user_id":"8"},"event_at":"2022-12-23T12:34:56Z"}}}"#;
        assert_ne!(
            key_and_time(fav).unwrap().0.as_u64(),
            key_and_time(fav2).unwrap().0.as_u64(),
            "two likers of one Post"
        );
        let user = br#"{"data":{"user_protect":{"user":{"id":"1375036644"},"event_at":"2022-06-27T23:49:41.839+00:00"}}}"#;
        let (ku, tu) = key_and_time(user).unwrap();
        assert!(matches!(
            ku,
            RecordKey::Event {
                kind: "user_protect",
                subject: "1375036644",
                ..
            }
        ));
        assert_eq!(tu, Some(1_656_373_781));
        assert_eq!(key_and_time(br#"{"errors":[{"title":"x"}]}"#), None);
        // No event_at: the bytes' hash.
        assert!(matches!(
            key_and_time(br#"{"data":{"drop":{"tweet":{"id":"1"}}}}"#)
                .unwrap()
                .0,
            RecordKey::Bytes(_)
        ));
    }

    #[test]
    fn kinds() {
        assert_eq!(
            kind(br#"{"data":{"id":"1","text":"x"}}"#),
            RecordKind::Activity
        );
        assert_eq!(
            kind(br#"{"data":{"withheld":{"tweet":{"id":"1"},"event_at":"x"}}}"#),
            RecordKind::Compliance(ComplianceKind::Withheld)
        );
        assert_eq!(
            kind(br#"{"data":{"user_suspend":{"user":{"id":"1"},"event_at":"x"}}}"#),
            RecordKind::Compliance(ComplianceKind::UserSuspend)
        );
        match kind(br#"{"errors":[{"title":"t","detail":"gone \"now\""}]}"#) {
            RecordKind::System(m) => {
                assert_eq!(
                    (m.level(), m.message().as_ref()),
                    (Level::Error, "gone \"now\"")
                )
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(kind(b"{\"data\":"), RecordKind::Malformed);
        assert_eq!(kind(br#"{"meta":{}}"#), RecordKind::Activity);
    }

    #[test]
    fn stream_problems_are_read() {
        let line = br#"{"errors":[{"title":"operational-disconnect","disconnect_type":"UpstreamOperationalDisconnect","detail":"This stream has been disconnected upstream for operational reasons.","type":"https://api.x.com/2/problems/operational-disconnect"}]}"#;
        let Shape::Errors(e) = shape(line) else {
            panic!()
        };
        let p = StreamProblem::parse(e);
        assert_eq!(p.disconnect_type, "UpstreamOperationalDisconnect");
        assert_eq!(p.kind, "operational-disconnect");
        assert_eq!(
            p.text(),
            "UpstreamOperationalDisconnect: This stream has been disconnected upstream for operational reasons."
        );
        assert_eq!(StreamProblem::parse(b"not json").text(), "error");
    }
}

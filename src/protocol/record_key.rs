//! What identifies a record across connections, resends and hosts ([`RecordKey`]), and a
//! record's own time: the one key function de-duplication, the archive, Replay resumes and
//! JetStream message ids use.

use crate::core::{Record, RecordKind};

/// 64-bit FNV-1a: a stable hash of a record's bytes, for records without a usable id.
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    hash_bytes_from(0xcbf2_9ce4_8422_2325, bytes)
}

/// FNV-1a continued from `h`.
fn hash_bytes_from(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A key of several parts: `kind` hashed, then each part after a separator, so that
/// `("ab", "c")` and `("a", "bc")` differ. The journal keeps these values across restarts:
/// they must not change.
fn hash_parts(kind: &str, parts: &[&str]) -> u64 {
    parts.iter().fold(hash_bytes(kind.as_bytes()), |h, part| {
        hash_bytes_from(h ^ 0xff, part.as_bytes())
    })
}

/// What identifies a record across connections, resends and hosts: the one key function
/// de-duplication (live, in the archive, in Replay resumes) and JetStream's message ids use.
///
/// - an activity: its Tweet id;
/// - a compliance event: its kind, the id it concerns and its timestamp (`timestamp_ms` in the
///   native format, `timestampMs` or `postedTime` in Activity Streams), so a delete and a
///   scrub_geo of one Tweet are two records, and so are two `user_protect` events minutes apart;
/// - a compliance event without a timestamp, or any record without a usable id: a 64-bit hash
///   of its bytes.
///
/// System messages (and heartbeats, which are not records) have no key: they are never
/// de-duplicated.
///
/// ```
/// use gnip_stream::core::Record;
/// use gnip_stream::unversioned::protocol::dedupe::RecordKey;
/// let tweet = Record::new(br#"{"created_at":"x","id_str":"900000000000000001"}"#);
/// assert_eq!(RecordKey::of(&tweet), Some(RecordKey::Activity(900000000000000001)));
/// let del = Record::new(br#"{"delete":{"status":{"id_str":"5"},"timestamp_ms":"1432228155593"}}"#);
/// assert_eq!(RecordKey::of(&del).unwrap().message_id(), "delete:5:1432228155593");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKey<'a> {
    /// An activity's Tweet id.
    Activity(u64),
    /// A compliance event: its kind's name, the id it concerns, its timestamp as written.
    Compliance {
        /// The kind, e.g. `delete`, `user_protect`.
        kind: &'static str,
        /// The id the event concerns (a Tweet or a user).
        id: &'a str,
        /// The timestamp exactly as the record writes it.
        timestamp: &'a str,
    },
    /// A hash of the record's bytes (no usable id, or a compliance event without a time).
    Bytes(u64),
    /// A record whose id is a string, not a number (an X API v2 Like: `data.id`).
    Id(&'a str),
    /// An X API v2 compliance, likes-compliance or label event.
    Event {
        /// The kind, e.g. `delete`, `user_protect`, `public_tweet_notice`.
        kind: &'a str,
        /// The subject's id: `tweet.id`, `user.id` or `favorite.id`.
        subject: &'a str,
        /// A second subject id (`favorite.user_id`; empty when none).
        second: &'a str,
        /// `quote_tweet_id` (empty when none): a deleted Post yields one event per quote.
        quote: &'a str,
        /// `event_at` as written.
        at: &'a str,
    },
}

/// `id` as a NATS header value can carry it: control characters (a raw CR in a compliance
/// timestamp) and `%` written as `%XX`, so every id is a valid header value and two different
/// keys never share one (audit M2).
fn header_safe(id: String) -> String {
    if !id.chars().any(|c| c.is_control() || c == '%') {
        return id;
    }
    let mut out = String::with_capacity(id.len() + 8);
    for c in id.chars() {
        if c.is_control() || c == '%' {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A record's own time: native `created_at` or Activity Streams `postedTime`, seconds since
/// the epoch. Compliance events have none.
pub fn record_time(bytes: &[u8]) -> Option<i64> {
    use crate::core::json::{find_members, skip_ws, string_contents};
    let keys: [&[u8]; 2] = [b"created_at", b"postedTime"];
    find_members(bytes, skip_ws(bytes, 0), &keys, |_, v| {
        std::ops::ControlFlow::Break(v)
    })
    .and_then(string_contents)
    .and_then(|t| std::str::from_utf8(t).ok())
    .and_then(crate::protocol::time::parse_timestamp)
}

/// A compliance event's own timestamp: native `{"kind":{…,"timestamp_ms":"…"}}`, or Activity
/// Streams' top-level `timestampMs` / `postedTime`.
fn compliance_timestamp(bytes: &[u8]) -> Option<&str> {
    use crate::core::json::{find_members, members, skip_ws, string_contents};
    let start = skip_ws(bytes, 0);
    let find = |at: usize, names: &[&[u8]]| {
        find_members(bytes, at, names, |_, v| {
            std::ops::ControlFlow::Break(string_contents(v).unwrap_or(v))
        })
    };
    let raw = find(start, &[b"timestampMs", b"postedTime"]).or_else(|| {
        // Native: one top-level key whose object holds the timestamp.
        let (_, inner) = members(bytes, start).next()?;
        let at = inner.as_ptr() as usize - bytes.as_ptr() as usize;
        find(at, &[b"timestamp_ms"])
    })?;
    std::str::from_utf8(raw).ok().filter(|t| !t.is_empty())
}

impl<'a> RecordKey<'a> {
    /// The key of `record`; `None` for system messages.
    pub fn of(record: &Record<'a>) -> Option<RecordKey<'a>> {
        match record.kind() {
            RecordKind::Activity => Some(match record.id().and_then(|id| id.parse::<u64>().ok()) {
                Some(id) => RecordKey::Activity(id),
                None => RecordKey::Bytes(hash_bytes(record.bytes())),
            }),
            RecordKind::Compliance(kind) => {
                Some(match (record.id(), compliance_timestamp(record.bytes())) {
                    (Some(id), Some(timestamp)) => RecordKey::Compliance {
                        kind: kind.name(),
                        id,
                        timestamp,
                    },
                    _ => RecordKey::Bytes(hash_bytes(record.bytes())),
                })
            }
            RecordKind::System(_) => None,
            _ => Some(RecordKey::Bytes(hash_bytes(record.bytes()))),
        }
    }

    /// The key as one `u64`, for [`DedupeWindow`]: the Tweet id itself for an activity, a hash
    /// of kind, id and timestamp for a compliance event.
    pub fn as_u64(&self) -> u64 {
        match *self {
            RecordKey::Activity(id) => id,
            RecordKey::Compliance {
                kind,
                id,
                timestamp,
            } => hash_parts(kind, &[id, timestamp]),
            RecordKey::Bytes(h) => h,
            RecordKey::Id(id) => hash_parts("id", &[id]),
            RecordKey::Event {
                kind,
                subject,
                second,
                quote,
                at,
            } => hash_parts(kind, &[subject, second, quote, at]),
        }
    }

    /// The key of `record` and its own time (as [`RecordKey::record_time`]), an activity's
    /// found in one walk over its members; `None` for system messages.
    pub fn of_with_time(record: &Record<'a>) -> Option<(RecordKey<'a>, Option<i64>)> {
        if record.kind() != RecordKind::Activity {
            let key = RecordKey::of(record)?;
            let time = key.record_time(record);
            return Some((key, time));
        }
        let bytes: &'a [u8] = record.bytes();
        let (id, time) = crate::core::activity_id_and_time(bytes);
        let key = match id.and_then(|id| id.parse::<u64>().ok()) {
            Some(id) => RecordKey::Activity(id),
            None => RecordKey::Bytes(hash_bytes(bytes)),
        };
        let time = time
            .and_then(|t| std::str::from_utf8(t).ok())
            .and_then(crate::protocol::time::parse_timestamp);
        Some((key, time))
    }

    /// The record's own time, Unix seconds: a compliance event's timestamp (milliseconds or
    /// ISO 8601), else a top-level `postedTime` / `created_at` (the Gnip shapes; an X API v2
    /// record's time is inside `data`: read both through `Dialect::record_key_and_time`);
    /// `None` when it has none.
    pub fn record_time(&self, record: &Record<'_>) -> Option<i64> {
        match self {
            RecordKey::Event { at, .. } => crate::protocol::time::parse_timestamp(at),
            RecordKey::Compliance { timestamp, .. } => {
                if !timestamp.is_empty() && timestamp.bytes().all(|b| b.is_ascii_digit()) {
                    timestamp.parse::<i64>().ok().map(|ms| ms / 1000)
                } else {
                    crate::protocol::time::parse_timestamp(timestamp)
                }
            }
            _ => record_time(record.bytes()),
        }
    }

    /// The key as text: `activity:<id>`, `<kind>:<id>:<timestamp>`, or `bytes:<hash>` (for
    /// message ids that another system de-duplicates by).
    pub fn message_id(&self) -> String {
        header_safe(self.raw_message_id())
    }

    fn raw_message_id(&self) -> String {
        match self {
            RecordKey::Activity(id) => format!("activity:{id}"),
            RecordKey::Compliance {
                kind,
                id,
                timestamp,
            } => format!("{kind}:{id}:{timestamp}"),
            RecordKey::Bytes(h) => format!("bytes:{h:016x}"),
            RecordKey::Id(id) => format!("id:{id}"),
            RecordKey::Event {
                kind,
                subject,
                second,
                quote,
                at,
            } => {
                let second = if second.is_empty() {
                    String::new()
                } else {
                    format!("/{second}")
                };
                let quote = if quote.is_empty() {
                    String::new()
                } else {
                    format!(":q{quote}")
                };
                format!("{kind}:{subject}{second}{quote}:{at}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_and_time_in_one_walk_agree_with_each_alone() {
        for r in [
            &br#"{"created_at":"Thu Jan 01 00:01:10 +0000 1970","id":5,"id_str":"900000000000000001","user":{"id_str":"7","created_at":"Thu Jan 01 00:00:01 +0000 1970"}}"#[..],
            br#"{"id":"tag:search.twitter.com,2005:900000000000000002","actor":{"postedTime":"1970-01-01T00:00:01.000Z"},"verb":"post","postedTime":"1970-01-01T00:02:00.000Z"}"#,
            br#"{"user":{"id_str":"7"},"id":900000000000000003}"#,
            br#"{"id_str":"x1","created_at":"Thu Jan 01 00:01:10 +0000 1970"}"#,
            br#"{"delete":{"status":{"id_str":"5"},"timestamp_ms":"1432228155593"}}"#,
        ] {
            let record = Record::new(r);
            let key = RecordKey::of(&record).unwrap();
            assert_eq!(
                RecordKey::of_with_time(&record),
                Some((key, key.record_time(&record))),
                "{}",
                String::from_utf8_lossy(r)
            );
        }
        assert_eq!(
            RecordKey::of_with_time(&Record::new(
                br#"{"created_at":"Thu Jan 01 00:01:10 +0000 1970","id_str":"1"}"#
            ))
            .and_then(|k| k.1),
            Some(70)
        );
    }

    #[test]
    fn keys_follow_the_documented_rules() {
        fn key(b: &[u8]) -> Option<RecordKey<'_>> {
            RecordKey::of(&Record::new(b))
        }
        let a = br#"{"created_at":"x","id_str":"900000000000000001"}"#;
        assert_eq!(key(a), Some(RecordKey::Activity(900_000_000_000_000_001)));
        assert_eq!(key(a).unwrap().as_u64(), 900_000_000_000_000_001);
        assert_eq!(key(a).unwrap().message_id(), "activity:900000000000000001");
        // A delete and a scrub_geo of the same Tweet: two records.
        let del = br#"{"delete":{"status":{"id_str":"5"},"timestamp_ms":"1432228155593"}}"#;
        let geo = br#"{"scrub_geo":{"up_to_status_id_str":"5","user_id_str":"1","timestamp_ms":"1432228155593"}}"#;
        assert_ne!(key(del).unwrap().as_u64(), key(geo).unwrap().as_u64());
        // Two user_protect events minutes apart: two records; the same event twice: one.
        let p1 = br#"{"verb":"user_protect","object":{"id":"tag:search.twitter.com,2012:user/9"},"timestampMs":"2014-08-27T23:49:41.839+00:00"}"#;
        let p2 = br#"{"verb":"user_protect","object":{"id":"tag:search.twitter.com,2012:user/9"},"timestampMs":"2014-08-27T23:52:10.001+00:00"}"#;
        assert_ne!(key(p1).unwrap().as_u64(), key(p2).unwrap().as_u64());
        let copy = p1.to_vec();
        assert_eq!(key(p1).unwrap().as_u64(), key(&copy).unwrap().as_u64());
        assert_eq!(
            key(p1).unwrap().message_id(),
            "user_protect:9:2014-08-27T23:49:41.839+00:00"
        );
        // No timestamp: the bytes.
        let bare = br#"{"delete":{"status":{"id_str":"5"}}}"#;
        assert_eq!(key(bare), Some(RecordKey::Bytes(hash_bytes(bare))));
        // System messages are never de-duplicated; malformed lines by their bytes.
        assert_eq!(key(br#"{"info":{"message":"m","sent":"s"}}"#), None);
        assert_eq!(
            key(b"not json"),
            Some(RecordKey::Bytes(hash_bytes(b"not json")))
        );
    }

    /// Every compliance event of the corpus gets a key of its own kind and time.
    #[test]
    fn keys_of_the_documented_compliance_shapes() {
        for (b, kind) in [
            (&br#"{"user_delete":{"id":771136850,"timestamp_ms":"1432228153548"}}"#[..], "user_delete"),
            (&br#"{"tweet_edit":{"id":"1557445923210514432","initial_tweet_id":"1557433858676740098","edit_tweet_ids":["1"],"timestamp_ms":"1660155761384"}}"#[..], "tweet_edit"),
            (&br#"{"objectType":"activity","verb":"delete","object":{"id":"tag:search.twitter.com,2005:601140908713738240"},"actor":{"id":"id:twitter.com:3130171131"},"timestampMs":"2015-05-20T21:42:18.944+00:00"}"#[..], "delete"),
        ] {
            match RecordKey::of(&Record::new(b)) {
                Some(RecordKey::Compliance { kind: k, .. }) => assert_eq!(k, kind),
                other => panic!("{other:?}"),
            }
        }
    }

    /// The journal keeps keys across restarts (and versions): their values are pinned.
    #[test]
    fn key_values_do_not_change() {
        let compliance = RecordKey::Compliance {
            kind: "delete",
            id: "5",
            timestamp: "1432228155593",
        };
        let id = RecordKey::Id("1557445923210514432");
        let event = RecordKey::Event {
            kind: "delete",
            subject: "9",
            second: "",
            quote: "7",
            at: "2024-01-01T00:00:00.000Z",
        };
        assert_eq!(compliance.as_u64(), 0xf694_eab3_b8af_c9b9);
        assert_eq!(id.as_u64(), 0xc5b0_78de_4e48_9e08);
        assert_eq!(event.as_u64(), 0x5889_d545_b54c_63e6);
        // The separator keeps the parts apart.
        let moved = RecordKey::Event {
            kind: "delete",
            subject: "9",
            second: "7",
            quote: "",
            at: "2024-01-01T00:00:00.000Z",
        };
        assert_ne!(moved.as_u64(), event.as_u64());
    }
}

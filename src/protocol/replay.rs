//! Replay, sans-IO: the completion summary, a record's own time, and the resume point with the
//! bounded de-duplication that lets a dropped job go on without handing anything out twice.

use crate::core::Record;

use super::dedupe::{DedupeWindow, RecordKey, hash_bytes};
use super::time;

/// Keys remembered for the resume minute by default: a Firehose minute at the 2013 record peak
/// would be more, a usual one far less. Memory grows with use, up to 40 MiB at this bound
/// (see [`super::dedupe::BYTES_PER_KEY`]); a Decahose minute (about 34,000 records) takes
/// about 1.3 MiB.
pub const DEFAULT_RESUME_KEYS: usize = 1 << 20;

/// How a Replay job finished, from its completion message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ReplaySummary {
    /// "Replay Request Completed", "… with Errors", or "… Failed to Complete".
    pub message: String,
    /// `activity_count` as the service reported it.
    pub activity_count: Option<u64>,
    /// `minutes_failed`: minutes to request again.
    pub minutes_failed: Vec<String>,
    /// `unprocessed_range` (`fromDate`, `toDate`): a range to request again.
    pub unprocessed_range: Option<(String, String)>,
}

impl ReplaySummary {
    /// Reads a completion message (the whole record) whose text is `message`.
    pub fn parse(bytes: &[u8], message: &str) -> ReplaySummary {
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
}

/// A record's own time: native `created_at` or Activity Streams `postedTime`, seconds since
/// the epoch. Compliance events have none.
pub fn record_time(bytes: &[u8]) -> Option<i64> {
    crate::core::json::members(bytes, crate::core::json::skip_ws(bytes, 0))
        .find(|(k, _)| *k == b"created_at" || *k == b"postedTime")
        .and_then(|(_, v)| crate::core::json::string_contents(v))
        .and_then(|t| std::str::from_utf8(t).ok())
        .and_then(time::parse_timestamp)
}

/// Where a Replay job stands: the minute to resume from after a drop, and the records of that
/// minute already handed out (a resumed connection sends the whole minute again).
///
/// ```
/// use gnip_stream::core::Record;
/// use gnip_stream::protocol::replay::ReplayResume;
/// let a = Record::new(br#"{"created_at":"Thu Jan 01 00:01:10 +0000 1970","id_str":"1"}"#);
/// let b = Record::new(br#"{"created_at":"Thu Jan 01 00:01:20 +0000 1970","id_str":"2"}"#);
/// let mut r = ReplayResume::new(1000);
/// r.start_connection();
/// assert!(!r.is_duplicate(&a) && !r.is_duplicate(&b));
/// assert_eq!(r.resume_from(), Some(60)); // the connection drops: ask again from 00:01
/// r.start_connection();
/// assert!(r.is_duplicate(&a) && r.is_duplicate(&b));
/// ```
#[derive(Debug, Clone)]
pub struct ReplayResume {
    /// The minute (a multiple of 60) of the last record received.
    resume_from: Option<i64>,
    /// `resume_from` when the current connection started.
    resumed_from: Option<i64>,
    /// Keys of the records received in the `resume_from` minute.
    seen_in_minute: DedupeWindow,
}

impl Default for ReplayResume {
    fn default() -> Self {
        ReplayResume::new(DEFAULT_RESUME_KEYS)
    }
}

impl ReplayResume {
    /// Nothing received yet; remembers at most `max_keys` records of the resume minute (past
    /// that the oldest are forgotten, and may be handed out again after a resume).
    pub fn new(max_keys: usize) -> Self {
        ReplayResume {
            resume_from: None,
            resumed_from: None,
            seen_in_minute: DedupeWindow::new(max_keys),
        }
    }

    /// The minute to ask for on the next connection (`fromDate`), once a record arrived.
    pub fn resume_from(&self) -> Option<i64> {
        self.resume_from
    }

    /// A new connection starts from [`ReplayResume::resume_from`].
    pub fn start_connection(&mut self) {
        self.resumed_from = self.resume_from;
    }

    /// Whether `record` was handed out before (on an earlier connection of this job); when it
    /// was not, it is remembered.
    ///
    /// A record without a time of its own (compliance events) belongs to the minute of the
    /// record before it: Replay sends in time order, and a resumed connection starts in the
    /// resume minute.
    pub fn is_duplicate(&mut self, record: &Record<'_>) -> bool {
        let minute = match record_time(record.bytes()) {
            Some(t) => t - t.rem_euclid(60),
            None => match self.resume_from {
                Some(m) => m,
                None => return false, // nothing timed yet on the first connection: no resume point
            },
        };
        let key = RecordKey::of(record).map_or_else(|| hash_bytes(record.bytes()), |k| k.as_u64());
        let dup = match self.resumed_from {
            Some(m) if minute < m => true,
            Some(m) if minute == m => self.seen_in_minute.contains(key),
            _ => false,
        };
        if !dup {
            if self.resume_from.is_none_or(|r| minute > r) {
                self.resume_from = Some(minute);
                self.seen_in_minute.clear();
            }
            if self.resume_from == Some(minute) {
                self.seen_in_minute.insert(key);
            }
        }
        dup
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_messages_are_summarised() {
        // The shapes protocol.md quotes.
        let ok = br#"{"info":{"message":"Replay Request Completed","sent":"2016-05-27T22:15:50+00:00","activity_count":8874}}"#;
        let s = ReplaySummary::parse(ok, "Replay Request Completed");
        assert_eq!(
            (
                s.activity_count,
                s.minutes_failed.len(),
                s.unprocessed_range
            ),
            (Some(8874), 0, None)
        );
        let errors = br#"{"info":{"message":"Replay Request Completed with Errors","sent":"2016-05-27T16:00:02+00:00","activity_count":56333,"minutes_failed":["2013-02-20T00:05:00+00:00","2013-02-20T00:06:00+00:00"]}}"#;
        let s = ReplaySummary::parse(errors, "Replay Request Completed with Errors");
        assert_eq!(
            s.minutes_failed,
            vec!["2013-02-20T00:05:00+00:00", "2013-02-20T00:06:00+00:00"]
        );
        let failed = br#"{"info":{"message":"Replay Request Failed to Complete","sent":"2016-06-27T16:37:13+00:00","unprocessed_range":{"fromDate":"2016-06-26T00:00:00+00:00","toDate":"2016-06-26T00:01:00+00:00"},"activity_count":1822}}"#;
        let s = ReplaySummary::parse(failed, "Replay Request Failed to Complete");
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

    fn at(minute: i64, second: i64, id: u64) -> Vec<u8> {
        let t = minute * 60 + second;
        format!(
            r#"{{"created_at":"{}","id_str":"{id}"}}"#,
            time::created_at(t)
        )
        .into_bytes()
    }

    #[test]
    fn a_resume_drops_exactly_what_was_handed_out() {
        let mut r = ReplayResume::new(100);
        r.start_connection();
        let first: Vec<Vec<u8>> = vec![at(1, 0, 1), at(1, 30, 2), at(2, 0, 3), at(2, 10, 4)];
        for b in &first {
            assert!(!r.is_duplicate(&Record::new(b)));
        }
        // A compliance event without a time: it belongs to minute 2, and is remembered there.
        let del = br#"{"delete":{"status":{"id_str":"3"}}}"#;
        assert!(!r.is_duplicate(&Record::new(del)));
        assert_eq!(r.resume_from(), Some(120));
        // The connection drops; the next one starts at minute 2 and sends it whole, then more.
        r.start_connection();
        assert!(r.is_duplicate(&Record::new(&at(2, 0, 3))));
        assert!(r.is_duplicate(&Record::new(&at(2, 10, 4))));
        assert!(r.is_duplicate(&Record::new(del)));
        assert!(
            !r.is_duplicate(&Record::new(&at(2, 20, 5))),
            "new in the minute"
        );
        assert!(!r.is_duplicate(&Record::new(&at(3, 0, 6))));
        assert!(
            r.is_duplicate(&Record::new(&at(1, 0, 1))),
            "before the resume minute"
        );
    }

    #[test]
    fn memory_is_bounded_by_the_key_limit() {
        let mut r = ReplayResume::new(10);
        r.start_connection();
        for id in 0..1000 {
            assert!(!r.is_duplicate(&Record::new(&at(5, 0, id))));
        }
        assert!(r.seen_in_minute.len() <= 10);
        r.start_connection();
        assert!(r.is_duplicate(&Record::new(&at(5, 0, 999))));
        // Forgotten (documented): older than the bound, handed out again.
        assert!(!r.is_duplicate(&Record::new(&at(5, 0, 0))));
    }
}

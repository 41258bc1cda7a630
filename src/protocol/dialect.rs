//! The seam between the client and one service dialect: everything a dialect decides —
//! authentication, stream paths and products, query parameter names and time formats, what a
//! line is (data, or a system message that closes the connection or completes a job), record
//! keys, error bodies, what each ending leads to, connection-rate windows — asked of one
//! [`Dialect`] value chosen once per connection. Gnip 2.0 is the dialect today; another (the
//! X API v2 enterprise streams) is a variant and its match arms here, plus simulator routes.

use std::borrow::Cow;

use super::dedupe::RecordKey;
use super::endpoint::{
    PARAM_BACKFILL, PARAM_END_TIME, PARAM_FROM_DATE, PARAM_PARTITION, PARAM_START_TIME,
    PARAM_TO_DATE, StreamPath, StreamQuery,
};
use super::messages::{self, Meaning};
use super::policy::{Action, Ending, action_for};
use super::product::{ConnectionLimit, Product, REPLAY_CONNECTION_LIMIT};
use super::time;
use crate::core::{Level, Record, RecordKind};

/// How a dialect sends credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Basic base64(user:password)`.
    Basic,
    /// `Authorization: Bearer TOKEN`.
    Bearer,
}

/// How a dialect writes a time in a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeFormat {
    /// `yyyyMMddHHmm`, UTC (Gnip's Replay).
    Minute,
    /// `YYYY-MM-DDTHH:MM:SSZ` (Gnip's Recovery; X API v2).
    Iso8601,
}

impl TimeFormat {
    /// `secs` (since the epoch) written this way.
    pub fn write(self, secs: i64) -> String {
        match self {
            TimeFormat::Minute => time::replay_date(secs),
            TimeFormat::Iso8601 => time::iso8601_z(secs),
        }
    }
}

/// The names a dialect gives its stream query parameters, and how it writes their times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryNames {
    /// The partition of a volume stream.
    pub partition: &'static str,
    /// Minutes of backfill on a (re)connect.
    pub backfill: &'static str,
    /// A Replay's start and end.
    pub replay: (&'static str, &'static str),
    /// A Recovery's start and end.
    pub recovery: (&'static str, &'static str),
    /// How a Replay time is written.
    pub replay_time: TimeFormat,
    /// How a Recovery time is written.
    pub recovery_time: TimeFormat,
}

/// Gnip 2.0's query (protocol.md).
const GNIP_QUERY: QueryNames = QueryNames {
    partition: PARAM_PARTITION,
    backfill: PARAM_BACKFILL,
    replay: (PARAM_FROM_DATE, PARAM_TO_DATE),
    recovery: (PARAM_START_TIME, PARAM_END_TIME),
    replay_time: TimeFormat::Minute,
    recovery_time: TimeFormat::Iso8601,
};

/// What one line of a stream is, in a dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line<'a> {
    /// Data for the handler: an activity, a compliance event, or a malformed line.
    Data,
    /// A message from the service about the stream (also handed to the handler).
    System {
        /// Its level.
        level: Level,
        /// Its text, unescaped.
        text: Cow<'a, str>,
        /// What it means for the connection.
        meaning: Meaning,
    },
}

/// A service dialect. `Default` is Gnip 2.0.
///
/// ```
/// use gnip_stream::unversioned::protocol::dialect::{Auth, Dialect, Line};
/// use gnip_stream::unversioned::protocol::endpoint::StreamQuery;
/// use gnip_stream::core::Record;
/// let d = Dialect::default();
/// assert_eq!(d.auth(), Auth::Basic);
/// let q = StreamQuery { partition: Some(3), backfill_minutes: Some(2), ..StreamQuery::default() };
/// assert_eq!(d.query(&q), "partition=3&backfillMinutes=2");
/// assert_eq!(d.line(&Record::new(br#"{"id":"tag:search.twitter.com,2005:1"}"#)), Line::Data);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Dialect {
    /// The Gnip 2.0 endpoints: PowerTrack, Decahose/Firehose, Compliance, Replay, Recovery.
    #[default]
    Gnip,
}

impl Dialect {
    /// A short lowercase name (`gnip`), for logs and flags.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Gnip => "gnip",
        }
    }

    /// The dialect a stream URL's path is written in, with the stream it names; `None` when
    /// no dialect knows the path.
    pub fn of_path(path: &str) -> Option<(Dialect, StreamPath)> {
        StreamPath::parse(path).map(|p| (Dialect::Gnip, p))
    }

    /// How credentials are sent.
    pub fn auth(self) -> Auth {
        match self {
            Dialect::Gnip => Auth::Basic,
        }
    }

    /// The query parameter names and time formats.
    pub fn query_names(self) -> &'static QueryNames {
        match self {
            Dialect::Gnip => &GNIP_QUERY,
        }
    }

    /// `q` as this dialect's query string, without `?` (empty when there is nothing to send).
    pub fn query(self, q: &StreamQuery) -> String {
        let names = self.query_names();
        let mut parts: Vec<(&str, String)> = Vec::new();
        if let Some(p) = q.partition {
            parts.push((names.partition, p.to_string()));
        }
        if let Some(m) = q.backfill_minutes {
            parts.push((names.backfill, m.to_string()));
        }
        if let Some((from, to)) = q.replay {
            parts.push((names.replay.0, names.replay_time.write(from)));
            parts.push((names.replay.1, names.replay_time.write(to)));
        }
        if let Some((from, to)) = q.recovery {
            parts.push((names.recovery.0, names.recovery_time.write(from)));
            parts.push((names.recovery.1, names.recovery_time.write(to)));
        }
        parts
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// `base` with the query of `q` appended.
    pub fn url(self, base: &str, q: &StreamQuery) -> String {
        let query = self.query(q);
        if query.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{query}")
        }
    }

    /// What `record` (one line of a stream) is.
    pub fn line<'a>(self, record: &Record<'a>) -> Line<'a> {
        match self {
            Dialect::Gnip => match record.kind() {
                RecordKind::System(m) => {
                    let text = m.message();
                    let meaning = messages::meaning(m.level(), &text);
                    Line::System {
                        level: m.level(),
                        text,
                        meaning,
                    }
                }
                _ => Line::Data,
            },
        }
    }

    /// The key that recognises `record` when it comes twice (`None` for system messages).
    pub fn record_key<'a>(self, record: &Record<'a>) -> Option<RecordKey<'a>> {
        match self {
            Dialect::Gnip => RecordKey::of(record),
        }
    }

    /// [`Dialect::record_key`] and the record's own time, found together (one walk for an
    /// activity).
    pub fn record_key_and_time<'a>(
        self,
        record: &Record<'a>,
    ) -> Option<(RecordKey<'a>, Option<i64>)> {
        match self {
            Dialect::Gnip => RecordKey::of_with_time(record),
        }
    }

    /// The service's message in an error body.
    pub fn error_message(self, body: &[u8]) -> String {
        match self {
            Dialect::Gnip => messages::error_message(body),
        }
    }

    /// What follows `ending`: the policy table of this dialect.
    pub fn action_for(self, ending: Ending) -> Action {
        match self {
            Dialect::Gnip => action_for(ending),
        }
    }

    /// How many connections `product` may open in its window; `replay` for a Replay job.
    pub fn connection_limit(self, product: Product, replay: bool) -> ConnectionLimit {
        match self {
            Dialect::Gnip if replay => REPLAY_CONNECTION_LIMIT,
            Dialect::Gnip => product.connection_limit(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gnip_query_names_and_formats_are_the_documented_ones() {
        let d = Dialect::Gnip;
        let q = StreamQuery {
            partition: Some(2),
            backfill_minutes: Some(5),
            ..StreamQuery::default()
        };
        assert_eq!(d.query(&q), "partition=2&backfillMinutes=5");
        let r = StreamQuery {
            replay: Some((1_500_000_000, 1_500_003_600)),
            ..StreamQuery::default()
        };
        assert_eq!(
            d.url("https://h/replay/x.json", &r),
            "https://h/replay/x.json?fromDate=201707140240&toDate=201707140340"
        );
        assert_eq!(d.url("u", &StreamQuery::default()), "u");
        let rec = StreamQuery {
            partition: Some(1),
            recovery: Some((1_500_000_000, 1_500_003_600)),
            ..StreamQuery::default()
        };
        assert_eq!(
            d.query(&rec),
            "partition=1&startTime=2017-07-14T02:40:00Z&endTime=2017-07-14T03:40:00Z"
        );
    }

    #[test]
    fn gnip_lines_keys_and_errors() {
        let d = Dialect::Gnip;
        let closing = Record::new(
            br#"{"error":{"message":"Forced Disconnect: Too many connections. (Allowed Connections = 2)","sent":"x"}}"#,
        );
        match d.line(&closing) {
            Line::System { level, meaning, .. } => {
                assert_eq!((level, meaning), (Level::Error, Meaning::ClosingConnection))
            }
            other => panic!("{other:?}"),
        }
        let done = Record::new(br#"{"info":{"message":"Replay Request Completed","sent":"x"}}"#);
        assert!(matches!(
            d.line(&done),
            Line::System {
                meaning: Meaning::ReplayCompleted,
                ..
            }
        ));
        let tweet = Record::new(br#"{"id":"tag:search.twitter.com,2005:42","verb":"post"}"#);
        assert_eq!(d.line(&tweet), Line::Data);
        assert_eq!(d.record_key(&tweet).map(|k| k.as_u64()), Some(42));
        assert_eq!(d.record_key(&done), None);
        assert_eq!(
            d.error_message(br#"{"error":{"message":"Invalid credentials"}}"#),
            "Invalid credentials"
        );
        assert_eq!(d.action_for(Ending::Http(401)), Action::Stop);
        assert_eq!(
            d.connection_limit(Product::Decahose, true),
            REPLAY_CONNECTION_LIMIT
        );
        assert_eq!(
            d.connection_limit(Product::PowerTrack, false),
            Product::PowerTrack.connection_limit()
        );
    }

    #[test]
    fn gnip_paths_name_the_gnip_dialect() {
        let (d, p) =
            Dialect::of_path("/stream/firehose/accounts/a/publishers/twitter/l.json").unwrap();
        assert_eq!((d, p.product), (Dialect::Gnip, Product::Firehose));
        assert_eq!(Dialect::of_path("/2/tweets/search/stream"), None);
        assert_eq!(d.name(), "gnip");
        assert_eq!(d.auth(), Auth::Basic);
    }
}

//! The seam between the client and one service dialect: everything a dialect decides —
//! authentication, stream paths and products, query parameter names and time formats, what a
//! line is (data, or a system message that closes the connection or completes a job), record
//! keys, error bodies, what each ending leads to, connection-rate windows — asked of one
//! [`Dialect`] value chosen once per connection: Gnip 2.0, or the X API v2 enterprise streams
//! (their facts are data in [`super::v2`]; a dialect is a variant and its match arms here, plus
//! simulator routes).

use std::borrow::Cow;

use super::dedupe::RecordKey;
use std::time::Duration;

use super::endpoint::{
    PARAM_BACKFILL, PARAM_END_TIME, PARAM_FROM_DATE, PARAM_PARTITION, PARAM_START_TIME,
    PARAM_TO_DATE, STREAM_HOST, StreamPath, StreamQuery,
};
use super::messages::{self, Meaning};
use super::policy::{Action, DEFAULT_STALL_TIMEOUT, Ending, Refusal, action_for};
use super::product::{ConnectionLimit, Product, REPLAY_CONNECTION_LIMIT};
use super::time;
use super::v2::problems::{self, Problem};
use super::v2::products::V2_HOST;
use super::v2::records::{self, Shape, StreamProblem};
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

/// Query parameters of X API v2 (x-api-v2.md §1.1, §3): no Replay; Recovery on the stream URL.
const V2_QUERY: QueryNames = QueryNames {
    partition: "partition",
    backfill: "backfill_minutes",
    replay: ("start_time", "end_time"),
    recovery: ("start_time", "end_time"),
    replay_time: TimeFormat::Iso8601,
    recovery_time: TimeFormat::Iso8601,
};

/// The default stall timeout of X API v2: heartbeats come "at least every 20 seconds", so 30 s
/// leaves room for jitter (x-api-v2.md §2.2).
pub const V2_STALL_TIMEOUT: Duration = Duration::from_secs(30);

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
    /// The X API v2 enterprise streams (`api.x.com/2/…`): Bearer auth, `data`/`errors` lines,
    /// problem-JSON errors, Recovery by `start_time`/`end_time`.
    V2,
}

impl Dialect {
    /// A short lowercase name (`gnip`, `v2`), for logs and flags.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Gnip => "gnip",
            Dialect::V2 => "v2",
        }
    }

    /// The dialect named `name` (`gnip`, `v2`).
    pub fn from_name(name: &str) -> Option<Dialect> {
        [Dialect::Gnip, Dialect::V2]
            .into_iter()
            .find(|d| d.name() == name)
    }

    /// The dialect a product belongs to.
    pub fn of_product(product: Product) -> Dialect {
        match product {
            Product::V2(_) => Dialect::V2,
            _ => Dialect::Gnip,
        }
    }

    /// The dialect a stream URL's path is written in, with the stream it names; `None` when
    /// no dialect knows the path (a `/2/` path is X API v2's).
    pub fn of_path(path: &str) -> Option<(Dialect, StreamPath)> {
        StreamPath::parse(path).map(|p| (Dialect::of_product(p.product), p))
    }

    /// The default scheme and host of its streams.
    pub fn default_host(self) -> &'static str {
        match self {
            Dialect::Gnip => STREAM_HOST,
            Dialect::V2 => V2_HOST,
        }
    }

    /// How credentials are sent.
    pub fn auth(self) -> Auth {
        match self {
            Dialect::Gnip => Auth::Basic,
            Dialect::V2 => Auth::Bearer,
        }
    }

    /// The default stall timeout: 35 s for Gnip (heartbeats every 10 s), 30 s for v2.
    pub fn stall_timeout(self) -> Duration {
        match self {
            Dialect::Gnip => DEFAULT_STALL_TIMEOUT,
            Dialect::V2 => V2_STALL_TIMEOUT,
        }
    }

    /// Whether a Recovery job is complete when its body ends cleanly (v2: no completion
    /// message is documented, x-api-v2.md §2.5), rather than on a completion message (Gnip).
    pub fn job_ends_with_body(self) -> bool {
        self == Dialect::V2
    }

    /// Whether the connection-rate limit counts per partition (Gnip, assumed) or per endpoint,
    /// every partition and redundant connection together (v2, x-api-v2.md §1.3).
    pub fn limit_per_partition(self) -> bool {
        self == Dialect::Gnip
    }

    /// The query parameter names and time formats.
    pub fn query_names(self) -> &'static QueryNames {
        match self {
            Dialect::Gnip => &GNIP_QUERY,
            Dialect::V2 => &V2_QUERY,
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

    /// `record` with the kind this dialect gives its bytes (the decoder classifies as Gnip
    /// does; an X API v2 line is read by its `data`/`errors` members).
    pub fn classify<'a>(self, record: Record<'a>) -> Record<'a> {
        match self {
            Dialect::Gnip => record,
            Dialect::V2 => Record::with_kind(record.bytes(), records::kind(record.bytes())),
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
            Dialect::V2 => match records::shape(record.bytes()) {
                Shape::Errors(errors) => Line::System {
                    level: crate::core::Level::Error,
                    text: Cow::Owned(StreamProblem::parse(errors).text()),
                    meaning: Meaning::Disconnect,
                },
                Shape::Data(_) | Shape::Other => Line::Data,
            },
        }
    }

    /// The key that recognises `record` when it comes twice (`None` for system messages).
    pub fn record_key<'a>(self, record: &Record<'a>) -> Option<RecordKey<'a>> {
        match self {
            Dialect::Gnip => RecordKey::of(record),
            Dialect::V2 => records::key_and_time(record.bytes()).map(|(k, _)| k),
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
            Dialect::V2 => records::key_and_time(record.bytes()),
        }
    }

    /// The service's message in the error body of a response with `status`.
    pub fn error_message(self, status: u16, body: &[u8]) -> String {
        match self {
            Dialect::Gnip => messages::error_message(body),
            Dialect::V2 => problems::error_message(status, body),
        }
    }

    /// What a refused connect is, when its body (and `x-rate-limit-reset`, as seconds from
    /// now) says more than its status; `None` when the status alone decides.
    pub fn refusal(self, status: u16, body: &[u8], reset_in_secs: Option<u32>) -> Option<Refusal> {
        match self {
            Dialect::Gnip => None,
            Dialect::V2 => Problem::parse(body).refusal(status, reset_in_secs),
        }
    }

    /// What follows `ending`: the policy table of this dialect.
    pub fn action_for(self, ending: Ending) -> Action {
        match self {
            Dialect::Gnip | Dialect::V2 => action_for(ending),
        }
    }

    /// How many connections `product` may open in its window; `replay` for a Replay job.
    pub fn connection_limit(self, product: Product, replay: bool) -> ConnectionLimit {
        match self {
            Dialect::Gnip if replay => REPLAY_CONNECTION_LIMIT,
            Dialect::Gnip | Dialect::V2 => product.connection_limit(),
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
            d.error_message(401, br#"{"error":{"message":"Invalid credentials"}}"#),
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
        assert_eq!(Dialect::of_path("/2/tweets/nothing/stream"), None);
        assert_eq!(d.name(), "gnip");
        assert_eq!(d.auth(), Auth::Basic);
    }

    #[test]
    fn v2_paths_auth_query_lines_and_refusals() {
        use crate::protocol::v2::products::V2Product;
        let (d, p) = Dialect::of_path("/2/tweets/firehose/stream/lang/en").unwrap();
        assert_eq!(
            (d, p.product),
            (Dialect::V2, Product::V2(V2Product::FirehoseEn))
        );
        assert_eq!(p.to_path(), "/2/tweets/firehose/stream/lang/en");
        assert_eq!(
            (d.auth(), d.name(), d.default_host()),
            (Auth::Bearer, "v2", "https://api.x.com")
        );
        let q = StreamQuery {
            partition: Some(3),
            backfill_minutes: Some(2),
            recovery: Some((1_500_000_000, 1_500_003_600)),
            ..StreamQuery::default()
        };
        assert_eq!(
            d.query(&q),
            "partition=3&backfill_minutes=2&start_time=2017-07-14T02:40:00Z&end_time=2017-07-14T03:40:00Z"
        );
        let off = Record::new(br#"{"errors":[{"title":"operational-disconnect","disconnect_type":"OperationalDisconnect","detail":"This stream has been disconnected for operational reasons.","type":"https://api.twitter.com/2/problems/operational-disconnect"}]}"#);
        match d.line(&off) {
            Line::System { meaning, text, .. } => {
                assert_eq!(meaning, Meaning::Disconnect);
                assert!(text.starts_with("OperationalDisconnect: "), "{text}");
            }
            other => panic!("{other:?}"),
        }
        let partial = Record::new(
            br#"{"data":{"id":"5","text":"x"},"errors":[{"title":"Not Found Error"}]}"#,
        );
        assert_eq!(d.line(&partial), Line::Data);
        assert_eq!(d.record_key(&partial).map(|k| k.as_u64()), Some(5));
        assert_eq!(d.record_key(&off), None);
        assert_eq!(
            d.refusal(
                429,
                br#"{"title":"UsageCapExceeded","period":"Daily","scope":"Account"}"#,
                None
            ),
            Some(Refusal::UsageCap)
        );
        assert_eq!(Dialect::Gnip.refusal(429, b"{}", None), None);
        assert_eq!(
            d.action_for(Ending::Refused(Refusal::UsageCap)),
            Action::Stop
        );
        assert_eq!(
            d.action_for(Ending::Refused(Refusal::RateLimited {
                wait_secs: Some(30)
            })),
            Action::Wait(Duration::from_secs(30))
        );
        assert_eq!(
            d.connection_limit(Product::V2(V2Product::Decahose), false)
                .requests,
            100
        );
        assert_eq!(d.stall_timeout(), Duration::from_secs(30));
        assert_eq!(Dialect::from_name("v2"), Some(Dialect::V2));
    }
}

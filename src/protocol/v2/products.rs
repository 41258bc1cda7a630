//! The X API v2 enterprise streams as data: each product's name, path, partitions, Connections
//! API endpoint id, whether it takes Recovery, which field parameters it takes, what its records
//! are, and its connection-rate limit (x-api-v2.md §1.1–1.3).

use std::time::Duration;

use crate::protocol::limit::ConnectionLimit;

/// The v2 default host.
pub const V2_HOST: &str = "https://api.x.com";

/// How far back v2 Recovery reaches: the last 24 hours (x-api-v2.md §3).
pub const V2_RECOVERY_MAX_AGE_SECS: i64 = 24 * 3600;

/// What one product's records are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// Posts: `{"data":{"id":…},…}`, id a string of digits.
    Posts,
    /// Likes: `{"data":{"id":…},…}`, id an opaque string of up to 40 characters.
    Likes,
    /// Tweet compliance events (`delete`, `withheld`, `drop`, `undrop`, `tweet_edit`).
    TweetCompliance,
    /// User compliance events (`user_delete`, …, `scrub_geo`, `user_profile_modification`).
    UserCompliance,
    /// Likes compliance: `delete` of a `favorite`.
    LikesCompliance,
    /// Post labels: `public_tweet_notice`, `public_tweet_unviewable`.
    Labels,
}

/// An X API v2 streaming product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum V2Product {
    /// The filtered stream (PowerTrack's successor): `/2/tweets/search/stream`.
    PowerTrack,
    /// sample10 (Decahose), 2 partitions.
    Decahose,
    /// The firehose, 20 partitions.
    Firehose,
    /// The English firehose, 8 partitions.
    FirehoseEn,
    /// The Japanese firehose, 2 partitions.
    FirehoseJa,
    /// The Korean firehose, 2 partitions.
    FirehoseKo,
    /// The Portuguese firehose, 2 partitions.
    FirehosePt,
    /// The 1 % sample: no partitions, no Recovery.
    Sample,
    /// Tweet compliance, 4 partitions.
    TweetCompliance,
    /// User compliance, 4 partitions.
    UserCompliance,
    /// The likes firehose, 20 partitions.
    LikesFirehose,
    /// The likes sample10, 2 partitions.
    LikesSample10,
    /// Likes compliance: no partitions.
    LikesCompliance,
    /// Post labels: no partitions.
    Labels,
}

/// The field parameters of Post streams.
const POST_FIELDS: &[&str] = &[
    "tweet.fields",
    "expansions",
    "media.fields",
    "poll.fields",
    "user.fields",
    "place.fields",
];
/// The field parameters of Like streams (the issue's list; the spec also names the others).
const LIKE_FIELDS: &[&str] = &[
    "tweet.fields",
    "expansions",
    "media.fields",
    "poll.fields",
    "user.fields",
    "place.fields",
    "like_with_tweet_author.fields",
];

/// One row of the table.
struct Row {
    product: V2Product,
    name: &'static str,
    path: &'static str,
    partitions: Option<u32>,
    endpoint_id: &'static str,
    recovery: bool,
    fields: &'static [&'static str],
    family: Family,
    /// Connection requests per 15 minutes: documented for filtered (50), sample10 (100), the
    /// compliance streams (100) and the 1 % sample (50); 100 assumed for the others
    /// (unconfirmed: the `x-rate-limit-*` headers correct it at run time).
    connects_per_15_min: u32,
}

const fn row(
    product: V2Product,
    name: &'static str,
    path: &'static str,
    partitions: Option<u32>,
    endpoint_id: &'static str,
    (recovery, fields, family): (bool, &'static [&'static str], Family),
    connects_per_15_min: u32,
) -> Row {
    Row {
        product,
        name,
        path,
        partitions,
        endpoint_id,
        recovery,
        fields,
        family,
        connects_per_15_min,
    }
}

use Family as F;
use V2Product as P;

/// The table (x-api-v2.md §1.1, §1.2, §1.3).
const TABLE: &[Row] = &[
    row(
        P::PowerTrack,
        "powertrack",
        "/2/tweets/search/stream",
        None,
        "filtered_stream",
        (true, POST_FIELDS, F::Posts),
        50,
    ),
    row(
        P::Decahose,
        "decahose",
        "/2/tweets/sample10/stream",
        Some(2),
        "sample10_stream",
        (true, POST_FIELDS, F::Posts),
        100,
    ),
    row(
        P::Firehose,
        "firehose",
        "/2/tweets/firehose/stream",
        Some(20),
        "firehose_stream",
        (true, POST_FIELDS, F::Posts),
        100,
    ),
    row(
        P::FirehoseEn,
        "firehose-en",
        "/2/tweets/firehose/stream/lang/en",
        Some(8),
        "firehose_stream_lang_en",
        (true, POST_FIELDS, F::Posts),
        100,
    ),
    row(
        P::FirehoseJa,
        "firehose-ja",
        "/2/tweets/firehose/stream/lang/ja",
        Some(2),
        "firehose_stream_lang_ja",
        (true, POST_FIELDS, F::Posts),
        100,
    ),
    row(
        P::FirehoseKo,
        "firehose-ko",
        "/2/tweets/firehose/stream/lang/ko",
        Some(2),
        "firehose_stream_lang_ko",
        (true, POST_FIELDS, F::Posts),
        100,
    ),
    row(
        P::FirehosePt,
        "firehose-pt",
        "/2/tweets/firehose/stream/lang/pt",
        Some(2),
        "firehose_stream_lang_pt",
        (true, POST_FIELDS, F::Posts),
        100,
    ),
    row(
        P::Sample,
        "sample",
        "/2/tweets/sample/stream",
        None,
        "sample_stream",
        (false, POST_FIELDS, F::Posts),
        50,
    ),
    row(
        P::TweetCompliance,
        "tweet-compliance",
        "/2/tweets/compliance/stream",
        Some(4),
        "tweets_compliance_stream",
        (true, &[], F::TweetCompliance),
        100,
    ),
    row(
        P::UserCompliance,
        "user-compliance",
        "/2/users/compliance/stream",
        Some(4),
        "users_compliance_stream",
        (true, &[], F::UserCompliance),
        100,
    ),
    row(
        P::LikesFirehose,
        "likes-firehose",
        "/2/likes/firehose/stream",
        Some(20),
        "likes_firehose_stream",
        (true, LIKE_FIELDS, F::Likes),
        100,
    ),
    row(
        P::LikesSample10,
        "likes-sample10",
        "/2/likes/sample10/stream",
        Some(2),
        "likes_sample10_stream",
        (true, LIKE_FIELDS, F::Likes),
        100,
    ),
    row(
        P::LikesCompliance,
        "likes-compliance",
        "/2/likes/compliance/stream",
        None,
        "likes_compliance_stream",
        (true, &[], F::LikesCompliance),
        100,
    ),
    row(
        P::Labels,
        "labels",
        "/2/tweets/label/stream",
        None,
        "tweet_label_stream",
        (true, &[], F::Labels),
        100,
    ),
];

impl V2Product {
    /// Every product, in the table's order.
    pub const ALL: [V2Product; 14] = [
        P::PowerTrack,
        P::Decahose,
        P::Firehose,
        P::FirehoseEn,
        P::FirehoseJa,
        P::FirehoseKo,
        P::FirehosePt,
        P::Sample,
        P::TweetCompliance,
        P::UserCompliance,
        P::LikesFirehose,
        P::LikesSample10,
        P::LikesCompliance,
        P::Labels,
    ];

    fn row(self) -> &'static Row {
        // Every product has its row (a unit test checks it); the first is a harmless fallback.
        TABLE
            .iter()
            .find(|r| r.product == self)
            .unwrap_or(&TABLE[0])
    }

    /// The name on the command line and in labels: `firehose`, `firehose-en`, `tweet-compliance`.
    pub fn name(self) -> &'static str {
        self.row().name
    }

    /// The product with this name (`sample10` is also accepted for `decahose`).
    pub fn from_name(name: &str) -> Option<V2Product> {
        let name = if name == "sample10" { "decahose" } else { name };
        TABLE.iter().find(|r| r.name == name).map(|r| r.product)
    }

    /// The stream's path on the host: `/2/tweets/firehose/stream`.
    pub fn path(self) -> &'static str {
        self.row().path
    }

    /// The product whose stream is at `path` (no query; a trailing `/` tolerated).
    pub fn from_path(path: &str) -> Option<V2Product> {
        let path = path.strip_suffix('/').unwrap_or(path);
        TABLE.iter().find(|r| r.path == path).map(|r| r.product)
    }

    /// Partitions (`partition=1..=N` is then required); `None` when it has none.
    pub fn partitions(self) -> Option<u32> {
        self.row().partitions
    }

    /// The Connections API's name for the endpoint: `sample10_stream`.
    pub fn endpoint_id(self) -> &'static str {
        self.row().endpoint_id
    }

    /// The product whose Connections API endpoint id is `id`.
    pub fn from_endpoint_id(id: &str) -> Option<V2Product> {
        TABLE
            .iter()
            .find(|r| r.endpoint_id == id)
            .map(|r| r.product)
    }

    /// Whether the stream takes `start_time`/`end_time` (Recovery): all but the 1 % sample.
    pub fn recovery(self) -> bool {
        self.row().recovery
    }

    /// The field parameters it takes (none for the compliance and label streams).
    pub fn fields(self) -> &'static [&'static str] {
        self.row().fields
    }

    /// What its records are.
    pub fn family(self) -> Family {
        self.row().family
    }

    /// Connection requests per 15-minute window, one bucket per endpoint (all its partitions
    /// and redundant connections together).
    pub fn connection_limit(self) -> ConnectionLimit {
        ConnectionLimit {
            requests: self.row().connects_per_15_min,
            window: Duration::from_secs(15 * 60),
        }
    }

    /// Checks a `--fields` query (`tweet.fields=a,b&expansions=c`): every key one this
    /// product takes, every value non-empty. The error names the key and the allowed ones.
    pub fn check_fields(self, query: &str) -> Result<(), String> {
        let allowed = self.fields();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !allowed.contains(&key) {
                return Err(if allowed.is_empty() {
                    format!(
                        "{key}: the {} stream takes no field parameters",
                        self.name()
                    )
                } else {
                    format!(
                        "{key} is not a field parameter of the {} stream (allowed: {})",
                        self.name(),
                        allowed.join(", ")
                    )
                });
            }
            let bad = |c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ',' | '%'));
            if value.is_empty() || value.contains(bad) {
                return Err(format!(
                    "{key}={value}: a field list is names separated by commas"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_product_has_its_row_and_names_round_trip() {
        assert_eq!(TABLE.len(), V2Product::ALL.len());
        for p in V2Product::ALL {
            assert_eq!(p.row().product, p);
            assert_eq!(V2Product::from_name(p.name()), Some(p));
            assert_eq!(V2Product::from_path(p.path()), Some(p));
            assert_eq!(V2Product::from_endpoint_id(p.endpoint_id()), Some(p));
        }
        assert_eq!(V2Product::from_name("sample10"), Some(V2Product::Decahose));
        assert_eq!(
            V2Product::from_path("/2/tweets/firehose/stream/"),
            Some(V2Product::Firehose)
        );
        assert_eq!(
            V2Product::from_path("/2/tweets/firehose/stream/lang/xx"),
            None
        );
    }

    #[test]
    fn partitions_and_recovery_follow_the_issue_table() {
        let parts: Vec<(&str, Option<u32>)> = V2Product::ALL
            .iter()
            .map(|p| (p.name(), p.partitions()))
            .collect();
        assert_eq!(
            parts,
            [
                ("powertrack", None),
                ("decahose", Some(2)),
                ("firehose", Some(20)),
                ("firehose-en", Some(8)),
                ("firehose-ja", Some(2)),
                ("firehose-ko", Some(2)),
                ("firehose-pt", Some(2)),
                ("sample", None),
                ("tweet-compliance", Some(4)),
                ("user-compliance", Some(4)),
                ("likes-firehose", Some(20)),
                ("likes-sample10", Some(2)),
                ("likes-compliance", None),
                ("labels", None),
            ]
        );
        assert!(!V2Product::Sample.recovery());
        assert!(V2Product::ALL.iter().filter(|p| !p.recovery()).count() == 1);
        assert_eq!(V2Product::PowerTrack.connection_limit().requests, 50);
        assert_eq!(
            V2Product::Firehose.connection_limit().window,
            Duration::from_secs(900)
        );
    }

    #[test]
    fn field_parameters_are_checked_per_product() {
        let p = V2Product::Firehose;
        assert!(
            p.check_fields("tweet.fields=created_at,lang&expansions=author_id")
                .is_ok()
        );
        assert!(p.check_fields("").is_ok());
        let e = p.check_fields("tweet.fields=id&bogus=1").unwrap_err();
        assert!(e.contains("bogus") && e.contains("tweet.fields"), "{e}");
        assert!(p.check_fields("like_with_tweet_author.fields=id").is_err());
        assert!(
            V2Product::LikesFirehose
                .check_fields("like_with_tweet_author.fields=id,created_at")
                .is_ok()
        );
        assert!(
            V2Product::TweetCompliance
                .check_fields("tweet.fields=id")
                .unwrap_err()
                .contains("no field")
        );
        assert!(p.check_fields("tweet.fields=").is_err());
        assert!(p.check_fields("tweet.fields=a b").is_err());
    }
}

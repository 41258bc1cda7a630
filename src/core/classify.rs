//! What a record is (activity, compliance event, system message) and which id it carries,
//! found from a few bytes instead of a full parse.

use std::borrow::Cow;
use std::sync::OnceLock;

use super::json;

/// What kind of record a line holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordKind<'a> {
    /// A Tweet, native ("original") or Activity Streams (`verb` `post` / `share`).
    Activity,
    /// A compliance event (a delete, a withholding, a user protecting their account, …).
    Compliance(ComplianceKind),
    /// A message from the service itself (`{"error":…}`, `{"warn":…}`, `{"info":…}`).
    System(SystemMessage<'a>),
    /// Not a JSON object: it does not start with `{` and end with `}`.
    Malformed,
}

/// The kinds of compliance event, named as the service names them (the native top-level key,
/// or the Activity Streams `verb`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ComplianceKind {
    /// `delete`: a Tweet (`status`) or a like (`favorite`) was deleted.
    Delete,
    /// `status_withheld`: a Tweet is withheld in some countries.
    StatusWithheld,
    /// `drop`: a Tweet must no longer be shown.
    Drop,
    /// `undrop`: a dropped Tweet may be shown again.
    Undrop,
    /// `scrub_geo`: remove location data from a user's Tweets up to an id.
    ScrubGeo,
    /// `user_delete`: an account was deleted.
    UserDelete,
    /// `user_undelete`: a deleted account was restored.
    UserUndelete,
    /// `user_protect`: an account became protected.
    UserProtect,
    /// `user_unprotect`: an account stopped being protected.
    UserUnprotect,
    /// `user_suspend`: an account was suspended.
    UserSuspend,
    /// `user_unsuspend`: a suspension was lifted.
    UserUnsuspend,
    /// `user_withheld`: an account is withheld in some countries.
    UserWithheld,
    /// `tweet_edit`: a Tweet was edited (each edit is a new Tweet id).
    TweetEdit,
    /// `withheld` (X API v2's `status_withheld`): a Post is withheld in some countries.
    Withheld,
    /// `user_profile_modification` (X API v2): a profile field changed.
    UserProfileModification,
    /// `public_tweet_notice` (X API v2 labels): a label applied to or removed from a Post.
    PublicTweetNotice,
    /// `public_tweet_unviewable` (X API v2 labels): a Post made unviewable, or viewable again.
    PublicTweetUnviewable,
}

impl ComplianceKind {
    /// The kinds only X API v2 sends (its event streams also use most of [`ComplianceKind::ALL`]).
    pub const V2_ONLY: [ComplianceKind; 4] = [
        ComplianceKind::Withheld,
        ComplianceKind::UserProfileModification,
        ComplianceKind::PublicTweetNotice,
        ComplianceKind::PublicTweetUnviewable,
    ];

    /// Every Gnip kind, in declaration order.
    pub const ALL: [ComplianceKind; 13] = [
        ComplianceKind::Delete,
        ComplianceKind::StatusWithheld,
        ComplianceKind::Drop,
        ComplianceKind::Undrop,
        ComplianceKind::ScrubGeo,
        ComplianceKind::UserDelete,
        ComplianceKind::UserUndelete,
        ComplianceKind::UserProtect,
        ComplianceKind::UserUnprotect,
        ComplianceKind::UserSuspend,
        ComplianceKind::UserUnsuspend,
        ComplianceKind::UserWithheld,
        ComplianceKind::TweetEdit,
    ];

    /// The name on the wire: the native key, and the Activity Streams verb.
    pub fn name(self) -> &'static str {
        match self {
            ComplianceKind::Delete => "delete",
            ComplianceKind::StatusWithheld => "status_withheld",
            ComplianceKind::Drop => "drop",
            ComplianceKind::Undrop => "undrop",
            ComplianceKind::ScrubGeo => "scrub_geo",
            ComplianceKind::UserDelete => "user_delete",
            ComplianceKind::UserUndelete => "user_undelete",
            ComplianceKind::UserProtect => "user_protect",
            ComplianceKind::UserUnprotect => "user_unprotect",
            ComplianceKind::UserSuspend => "user_suspend",
            ComplianceKind::UserUnsuspend => "user_unsuspend",
            ComplianceKind::UserWithheld => "user_withheld",
            ComplianceKind::TweetEdit => "tweet_edit",
            ComplianceKind::Withheld => "withheld",
            ComplianceKind::UserProfileModification => "user_profile_modification",
            ComplianceKind::PublicTweetNotice => "public_tweet_notice",
            ComplianceKind::PublicTweetUnviewable => "public_tweet_unviewable",
        }
    }

    /// The X API v2 event kind with this name (`data`'s member): Gnip's names and
    /// [`ComplianceKind::V2_ONLY`]'s.
    pub fn from_v2_name(name: &[u8]) -> Option<ComplianceKind> {
        ComplianceKind::ALL
            .into_iter()
            .chain(ComplianceKind::V2_ONLY)
            .find(|k| k.name().as_bytes() == name)
    }

    /// The kind with this wire name.
    pub fn from_name(name: &[u8]) -> Option<ComplianceKind> {
        ComplianceKind::ALL
            .into_iter()
            .find(|k| k.name().as_bytes() == name)
    }
}

/// The severity key of a system message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// `{"info":…}`: e.g. "Replay Request Completed".
    Info,
    /// `{"warn":…}`.
    Warn,
    /// `{"error":…}`: e.g. "Forced Disconnect: Too many connections…".
    Error,
}

impl Level {
    fn from_key(key: &[u8]) -> Option<Level> {
        match key {
            b"info" => Some(Level::Info),
            b"warn" => Some(Level::Warn),
            b"error" => Some(Level::Error),
            _ => None,
        }
    }

    /// The key on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// A system message: its level and its `message` text, borrowed from the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemMessage<'a> {
    level: Level,
    raw_message: &'a [u8],
}

impl<'a> SystemMessage<'a> {
    /// A message at `level` whose text is the raw (still escaped) JSON string contents
    /// `raw_message`, borrowed from the record (for a dialect whose messages have another shape).
    pub fn new(level: Level, raw_message: &'a [u8]) -> Self {
        SystemMessage { level, raw_message }
    }

    /// `info`, `warn` or `error`.
    pub fn level(&self) -> Level {
        self.level
    }

    /// The `message` member exactly as on the wire, JSON escapes and all (empty when absent).
    pub fn raw_message(&self) -> &'a [u8] {
        self.raw_message
    }

    /// The `message` text, unescaped. Borrowed when it has no escapes (the usual case).
    pub fn message(&self) -> Cow<'a, str> {
        if !self.raw_message.contains(&b'\\') {
            return String::from_utf8_lossy(self.raw_message);
        }
        // Escapes are rare (a trailing "\n\n" in some messages): let serde_json do them right.
        let mut quoted = Vec::with_capacity(self.raw_message.len() + 2);
        quoted.push(b'"');
        quoted.extend_from_slice(self.raw_message);
        quoted.push(b'"');
        match serde_json::from_slice::<String>(&quoted) {
            Ok(s) => Cow::Owned(s),
            Err(_) => String::from_utf8_lossy(self.raw_message),
        }
    }
}

/// Classifies one record (a line without its terminator).
///
/// Cost: a prefix test for native compliance and system messages and for native Tweets that
/// start with `created_at` (as the service's do); otherwise one `memmem` pass for the first
/// `"verb"` key, which is how Activity Streams compliance is told from activities. serde_json
/// runs only to unescape a system message's text, on request.
///
/// It is not a validator: a record that starts with `{` and ends with `}` is trusted to be the
/// object it looks like. Typed parsing is the caller's.
///
/// ```
/// use gnip_stream::core::{classify, ComplianceKind, Level, RecordKind};
/// assert_eq!(classify(br#"{"created_at":"Wed Oct 10","id_str":"1"}"#), RecordKind::Activity);
/// assert_eq!(
///     classify(br#"{"delete":{"status":{"id_str":"1"}}}"#),
///     RecordKind::Compliance(ComplianceKind::Delete)
/// );
/// match classify(br#"{"error":{"message":"Forced Disconnect","sent":"2017-01-11T18:12:52+00:00"}}"#) {
///     RecordKind::System(m) => {
///         assert_eq!(m.level(), Level::Error);
///         assert_eq!(m.message(), "Forced Disconnect");
///     }
///     other => panic!("{other:?}"),
/// }
/// assert_eq!(classify(b"not json"), RecordKind::Malformed);
/// ```
pub fn classify(record: &[u8]) -> RecordKind<'_> {
    let start = json::skip_ws(record, 0);
    let end = record
        .iter()
        .rposition(|c| !matches!(c, b' ' | b'\t' | b'\r' | b'\n'));
    if record.get(start) != Some(&b'{') || end.map(|e| record[e]) != Some(b'}') {
        return RecordKind::Malformed;
    }
    let Some((key, value)) = json::members(record, start).next() else {
        // `{}` or a broken first member: an object, but not one of the service's shapes.
        return if json::skip_ws(record, start + 1) == end.unwrap_or(0) {
            RecordKind::Activity
        } else {
            RecordKind::Malformed
        };
    };
    if key == b"created_at" {
        return RecordKind::Activity;
    }
    if let Some(level) = Level::from_key(key) {
        let raw_message = json::member(value, b"message")
            .and_then(json::string_contents)
            .unwrap_or_default();
        return RecordKind::System(SystemMessage { level, raw_message });
    }
    if let Some(kind) = ComplianceKind::from_name(key) {
        return RecordKind::Compliance(kind);
    }
    match first_verb(record) {
        Some(verb) => match ComplianceKind::from_name(verb) {
            Some(kind) => RecordKind::Compliance(kind),
            None => RecordKind::Activity,
        },
        None => RecordKind::Activity,
    }
}

/// The value of the first `"verb"` key in the record, wherever it is.
///
/// In Activity Streams a compliance record's only `verb` is its top-level one, and an
/// activity's verbs (its own and those of a shared or quoted activity inside it) are all `post`
/// or `share`; so the first `verb` tells the two apart without tracking depth. The key must be
/// followed by `:` and a string, which a `"verb"` inside a string value never is.
fn first_verb(record: &[u8]) -> Option<&[u8]> {
    // Building a finder costs more than searching a short record: build it once.
    static FINDER: OnceLock<memchr::memmem::Finder<'static>> = OnceLock::new();
    let finder = FINDER.get_or_init(|| memchr::memmem::Finder::new(b"\"verb\""));
    let mut from = 0;
    while let Some(hit) = finder.find(&record[from..]) {
        let after = from + hit + 6;
        let colon = json::skip_ws(record, after);
        if record.get(colon) == Some(&b':') {
            let v = json::skip_ws(record, colon + 1);
            if record.get(v) == Some(&b'"') {
                let v_end = json::end_of_string(record, v)?;
                return Some(&record[v + 1..v_end - 1]);
            }
        }
        from = after;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::record_id;

    #[test]
    fn every_compliance_name_round_trips_in_both_formats() {
        for kind in ComplianceKind::ALL {
            assert_eq!(
                ComplianceKind::from_name(kind.name().as_bytes()),
                Some(kind)
            );
            let native = format!(r#"{{"{}":{{"id":1,"timestamp_ms":"1"}}}}"#, kind.name());
            assert_eq!(classify(native.as_bytes()), RecordKind::Compliance(kind));
            let as_ = format!(
                r#"{{"objectType":"activity","verb" : "{}","object":{{"id":"tag:x,2005:42"}}}}"#,
                kind.name()
            );
            assert_eq!(classify(as_.as_bytes()), RecordKind::Compliance(kind));
            assert_eq!(record_id(as_.as_bytes()), Some("42"));
        }
    }

    #[test]
    fn shares_with_nested_post_verbs_are_activities() {
        let share =
            br#"{"object":{"verb":"post","id":"tag:x,2005:1"},"verb":"share","id":"tag:x,2005:2"}"#;
        assert_eq!(classify(share), RecordKind::Activity);
        assert_eq!(record_id(share), Some("2"));
        // "verb" inside a string is not a key.
        let text =
            br#"{"body":"the \"verb\": \"delete\" trick","verb":"post","id":"tag:x,2005:3"}"#;
        assert_eq!(classify(text), RecordKind::Activity);
    }

    #[test]
    fn malformed_is_anything_but_an_object() {
        for bad in [
            &b""[..],
            b" ",
            b"[1]",
            b"\"s\"",
            b"{\"a\":1",
            b"a}",
            b"{\"a\" garbage }",
        ] {
            assert_eq!(
                classify(bad),
                RecordKind::Malformed,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(classify(b" {} "), RecordKind::Activity);
    }

    #[test]
    fn system_message_text_is_borrowed_or_unescaped() {
        let r = br#"{"info":{"message":"Some info from Gnip.\n\n","sent":"2013"}}"#;
        let RecordKind::System(m) = classify(r) else {
            panic!()
        };
        assert_eq!(m.level(), Level::Info);
        assert_eq!(m.raw_message(), br"Some info from Gnip.\n\n");
        assert_eq!(m.message(), "Some info from Gnip.\n\n");
        let r = br#"{"warn":{"sent":"2013"}}"#;
        let RecordKind::System(m) = classify(r) else {
            panic!()
        };
        assert_eq!((m.level(), m.message()), (Level::Warn, Cow::Borrowed("")));
        assert!(
            matches!(classify(br#"{"info":{"message":"x"}}"#), RecordKind::System(m) if matches!(m.message(), Cow::Borrowed("x")))
        );
    }
}

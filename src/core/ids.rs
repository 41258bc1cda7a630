//! Which id a record carries, and its own time: found at the top level of the record, nested
//! values stepped over a block at a time (`brackets.rs`), never through a full parse.

use std::ops::ControlFlow;

use super::classify::{ComplianceKind, RecordKind, classify};
use super::json;

/// The id a record is about, borrowed and exact (never through a float): for an activity the
/// Tweet id, for a compliance event the Tweet or user it concerns. `None` for system messages,
/// malformed records and records without one.
///
/// Native records give their `id_str` (or the digits of `id` where `id_str` is missing, as in
/// some old deletes); Activity Streams records give the numeric tail of their `id` URN
/// (`tag:search.twitter.com,2005:887453193294282752` → `887453193294282752`), for compliance
/// that of `object.id`, else `actor.id`.
///
/// ```
/// use gnip_stream::core::record_id;
/// let native = br#"{"created_at":"x","id":715947673707089920,"id_str":"715947673707089921"}"#;
/// assert_eq!(record_id(native), Some("715947673707089921"));
/// let as_ = br#"{"id":"tag:search.twitter.com,2005:887453193294282752","verb":"post"}"#;
/// assert_eq!(record_id(as_), Some("887453193294282752"));
/// ```
pub fn record_id(record: &[u8]) -> Option<&str> {
    record_id_of_kind(record, classify(record))
}

/// [`record_id`] for a record already classified as `kind`.
pub(crate) fn record_id_of_kind<'a>(record: &'a [u8], kind: RecordKind<'_>) -> Option<&'a str> {
    let start = json::skip_ws(record, 0);
    match kind {
        RecordKind::Activity => top_level_id(record, start),
        RecordKind::Compliance(_) => compliance_id(record, start),
        RecordKind::System(_) | RecordKind::Malformed => None,
    }
}

/// The top-level id: the first of `id_str` (digits) or a string `id` (an Activity Streams URN,
/// its numeric tail), else a numeric `id`. Nested objects (a 2 KB `user` first, in the
/// corpus's field order) are stepped over a block at a time.
fn top_level_id(record: &[u8], start: usize) -> Option<&str> {
    let mut id = TopLevelId::default();
    json::find_members(record, start, &[b"id_str", b"id"], |k, value| {
        id.see(k, value);
        if id.decided() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    id.id()
}

/// The top-level id's rules, fed a record's top-level `id_str` (member 0) and `id` (member 1)
/// in order: the first `id_str` or string `id` decides; a numeric `id` is kept in case
/// neither comes. The one place both walks ([`top_level_id`], [`activity_id_and_time`])
/// learn them from.
#[derive(Default)]
struct TopLevelId<'a> {
    decided: Option<Option<&'a str>>,
    numeric: Option<&'a str>,
}

impl<'a> TopLevelId<'a> {
    fn see(&mut self, member: usize, value: &'a [u8]) {
        if self.decided.is_some() {
            return;
        }
        match (member, value.first()) {
            (0, _) => self.decided = Some(json::string_contents(value).and_then(digits)),
            (_, Some(b'"')) => {
                self.decided = Some(json::string_contents(value).and_then(numeric_tail));
            }
            _ => self.numeric = digits(value),
        }
    }

    fn decided(&self) -> bool {
        self.decided.is_some()
    }

    fn id(self) -> Option<&'a str> {
        self.decided.unwrap_or(self.numeric)
    }
}

/// An activity's id (as [`record_id`] finds it) and its own time's text (`created_at` or
/// `postedTime`), in one walk over the top level that stops once it has both.
pub(crate) fn activity_id_and_time(record: &[u8]) -> (Option<&str>, Option<&[u8]>) {
    let (mut id, mut time) = (TopLevelId::default(), None);
    let keys: [&[u8]; 4] = [b"id_str", b"id", b"created_at", b"postedTime"];
    json::find_members(record, json::skip_ws(record, 0), &keys, |k, value| {
        match k {
            0 | 1 => id.see(k, value),
            _ if time.is_none() => time = json::string_contents(value),
            _ => {}
        }
        if id.decided() && time.is_some() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    (id.id(), time)
}

fn compliance_id(record: &[u8], start: usize) -> Option<&str> {
    let (first_key, first_value) = json::members(record, start).next()?;
    if ComplianceKind::from_name(first_key).is_some() {
        // Native: `{"delete":{"status":{"id_str":…}}}`, `{"user_protect":{"id":…}}`, …
        return native_compliance_id(first_value);
    }
    // Activity Streams: the `object`'s id, else the `actor`'s.
    let mut actor = None;
    let object = json::find_members(record, start, &[b"object", b"actor"], |k, value| {
        match (
            k,
            json::member(value, b"id").and_then(json::string_contents),
        ) {
            (0, Some(id)) => return ControlFlow::Break(numeric_tail(id)),
            (1, id) => actor = id,
            _ => {}
        }
        ControlFlow::Continue(())
    });
    object.unwrap_or_else(|| actor.and_then(numeric_tail))
}

/// The id inside a native compliance body: its own `id_str`/`id`, else that of the first
/// nested object that has one (`status`, `user`), else the `user_id_str` of `scrub_geo`.
fn native_compliance_id(body: &[u8]) -> Option<&str> {
    if let Some(id) = own_id(body) {
        return Some(id);
    }
    for (_, value) in json::members(body, 0) {
        if value.first() == Some(&b'{') {
            if let Some(id) = own_id(value) {
                return Some(id);
            }
        }
    }
    json::member(body, b"user_id_str")
        .and_then(json::string_contents)
        .and_then(digits)
        .or_else(|| json::member(body, b"user_id").and_then(digits))
}

fn own_id(object: &[u8]) -> Option<&str> {
    let mut numeric = None;
    for (key, value) in json::members(object, 0) {
        match key {
            b"id_str" => return json::string_contents(value).and_then(digits),
            b"id" => {
                numeric = json::string_contents(value)
                    .and_then(digits)
                    .or_else(|| digits(value))
            }
            _ => {}
        }
    }
    numeric
}

/// `raw` if it is a non-empty run of ASCII digits.
fn digits(raw: &[u8]) -> Option<&str> {
    if raw.is_empty() || !raw.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(raw).ok()
}

/// The trailing run of digits of a URN such as `tag:search.twitter.com,2012:user\/1375036644`.
fn numeric_tail(urn: &[u8]) -> Option<&str> {
    let start = urn
        .iter()
        .rposition(|c| !c.is_ascii_digit())
        .map_or(0, |p| p + 1);
    digits(&urn[start..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// [`top_level_id`] and [`activity_id_and_time`] as they were, member by member with the
    /// token walker: the oracle for the walk that sees only the top level's strings.
    fn id_and_time_by_members(record: &[u8]) -> (Option<&str>, Option<&[u8]>) {
        let (mut id, mut numeric, mut time) = (None, None, None);
        for (key, value) in json::members(record, json::skip_ws(record, 0)) {
            match key {
                b"id_str" if id.is_none() => {
                    id = Some(json::string_contents(value).and_then(digits))
                }
                b"id" if id.is_none() && value.first() == Some(&b'"') => {
                    id = Some(json::string_contents(value).and_then(numeric_tail));
                }
                b"id" if id.is_none() => numeric = digits(value),
                b"created_at" | b"postedTime" if time.is_none() => {
                    time = json::string_contents(value);
                }
                _ => {}
            }
        }
        (id.unwrap_or(numeric), time)
    }

    fn agrees_with_the_token_walker(record: &[u8]) {
        let (id, time) = id_and_time_by_members(record);
        let text = String::from_utf8_lossy(record);
        assert_eq!(activity_id_and_time(record), (id, time), "{text}");
        assert_eq!(top_level_id(record, json::skip_ws(record, 0)), id, "{text}");
    }

    #[cfg(feature = "simulator")] // the corpus loader
    #[test]
    fn top_level_ids_and_times_are_the_token_walkers_on_the_corpus() {
        let files = match crate::simulator::corpus::load_default() {
            Ok(files) => files,
            Err(why) => {
                eprintln!("skipped: {why}");
                return;
            }
        };
        let mut found = 0;
        for record in files.iter().flat_map(|f| &f.records) {
            agrees_with_the_token_walker(record);
            found += usize::from(activity_id_and_time(record).0.is_some());
        }
        assert!(found > 100, "{found} ids");
    }

    #[test]
    fn top_level_ids_skip_nested_ones_and_strings_that_look_like_keys() {
        let cases: [(&[u8], Option<&str>); 7] = [
            (
                br#"{"user":{"id_str":"7","id":7},"id":5,"id_str":"9"}"#,
                Some("9"),
            ),
            (br#"{"user":{"id_str":"7"},"id":5}"#, Some("5")),
            (
                br#"{"text":"\"id_str\":\"3\"","a":[{"id_str":"4"}],"id_str":"8"}"#,
                Some("8"),
            ),
            (br#"{"text":"id_str","id":"tag:x,2005:12"}"#, Some("12")),
            (br#"  {"k":"\\","id_str":"6"}"#, Some("6")),
            (br#"{"nested":{"deeper":[[{"id":1}]]}}"#, None),
            (br#"{"id_str":"6""#, Some("6")), // cut short: found before the end, as before
        ];
        for (record, want) in cases {
            assert_eq!(
                top_level_id(record, json::skip_ws(record, 0)),
                want,
                "{record:?}"
            );
            if record.ends_with(b"}") {
                agrees_with_the_token_walker(record);
            }
        }
    }

    proptest! {
        #[test]
        fn top_level_ids_and_times_are_the_token_walkers_on_generated_records(
            members in proptest::collection::vec((0usize..7, 0usize..6, 0u64..1000), 0..14),
            lead in 0usize..3,
            pad in 0usize..70,
        ) {
            // Keys and values chosen to put ids, times and look-alikes at every depth, across
            // 64-byte block boundaries (`pad`), with escapes in strings.
            let keys = ["id_str", "id", "created_at", "postedTime", "user", "text", "ids"];
            let mut record = " ".repeat(lead);
            record.push('{');
            for (n, (key, value, x)) in members.iter().enumerate() {
                if n > 0 {
                    record.push(',');
                }
                let v = match value {
                    0 => format!(r#""{x}""#),
                    1 => x.to_string(),
                    2 => format!(r#""tag:x,2005:{x}""#),
                    3 => format!(r#"{{"id_str":"{x}","id":{x},"s":"{}\\\"}}"}}"#, "y".repeat(pad)),
                    4 => format!(r#"[{{"id":"1"}},"{}\\\\",[]]"#, "z".repeat(pad)),
                    _ => format!(r#""\"id_str\":\"{x}\"""#),
                };
                record.push_str(&format!(r#""{}":{v}"#, keys[*key]));
            }
            record.push('}');
            prop_assert!(serde_json::from_str::<serde_json::Value>(&record).is_ok(), "{}", record);
            agrees_with_the_token_walker(record.as_bytes());
        }
    }

    #[test]
    fn ids_beyond_2_pow_53_are_exact() {
        let r = br#"{"created_at":"x","id":601430178305220600,"id_str":"601430178305220608"}"#;
        assert_eq!(record_id(r), Some("601430178305220608"));
        let r = br#"{"delete":{"status":{"id":6832057002,"user_id":18378841}}}"#;
        assert_eq!(record_id(r), Some("6832057002"));
        let r = br#"{"scrub_geo":{"user_id":14090452,"user_id_str":"14090452","up_to_status_id":23260136625}}"#;
        assert_eq!(record_id(r), Some("14090452"));
        let r = br#"{"verb":"user_delete","object":{"id":"tag:search.twitter.com,2012:user\/1602954684"}}"#;
        assert_eq!(record_id(r), Some("1602954684"));
        let r = br#"{"verb":"scrub_geo","actor":{"id":"id:twitter.com:598851423"},"target":{}}"#;
        assert_eq!(record_id(r), Some("598851423"));
        assert_eq!(record_id(br#"{"info":{"message":"x"}}"#), None);
        assert_eq!(record_id(br#"{"created_at":"x","id":-1}"#), None);
    }
}

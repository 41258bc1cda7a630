//! The X API v2 records the simulator serves: each Gnip template of the record source turned
//! into a v2 Post once (`data` with `id`, `text`, `author_id`, `created_at`, `lang` and
//! `edit_history_tweet_ids`; `includes.users`), and Likes and compliance and label events made
//! from the record number, in the shapes x-api-v2.md §2.3–2.4 quotes. Global record `g` keeps
//! the live feed's layout (published at `start + g / rate`, partition `g % partitions + 1`).
//! `created_at` is present although the service sends it only when `tweet.fields` asks: the
//! simulator's Posts always carry a time, so Recovery resumes by minute (the client also copes
//! without one).

use super::feed::{RecordSource, record_id_for, record_index_for};
use crate::protocol::time;
use crate::protocol::v2::products::Family;

/// A Post template's pieces: literal bytes, and where the id and the time go.
#[derive(Debug, Clone)]
enum Piece {
    Literal(String),
    Id,
    Time,
}

/// The v2 feed: Post templates made from the Gnip source once.
#[derive(Debug, Clone)]
pub(crate) struct V2Feed {
    posts: Vec<Vec<Piece>>,
}

/// Sentinels the Gnip template is rendered with, found again in the converted record.
const SENTINEL_ID: u64 = 1_234_567_890_123_456_789;
const SENTINEL_SECS: i64 = 1_000_000_000;

fn string(v: &serde_json::Value, path: &[&str]) -> Option<String> {
    let mut at = v;
    for p in path {
        at = at.get(p)?;
    }
    at.as_str().map(str::to_owned)
}

/// A Gnip activity (native or Activity Streams) as a v2 Post; `None` for compliance events.
fn post_of(gnip: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(gnip).ok()?;
    if v.get("delete").is_some()
        || v.get("verb")
            .and_then(|x| x.as_str())
            .is_some_and(|x| x != "post" && x != "share")
    {
        return None;
    }
    let text = string(&v, &["extended_tweet", "full_text"])
        .or_else(|| string(&v, &["text"]))
        .or_else(|| string(&v, &["body"]))?;
    let author = string(&v, &["user", "id_str"])
        .or_else(|| {
            string(&v, &["actor", "id"]).map(|a| a.rsplit(':').next().unwrap_or("").to_owned())
        })
        .unwrap_or_else(|| "12".into());
    let username = string(&v, &["user", "screen_name"])
        .or_else(|| string(&v, &["actor", "preferredUsername"]))
        .unwrap_or_else(|| "user".into());
    let name = string(&v, &["user", "name"])
        .or_else(|| string(&v, &["actor", "displayName"]))
        .unwrap_or_else(|| username.clone());
    let lang = string(&v, &["lang"])
        .or_else(|| string(&v, &["twitter_lang"]))
        .unwrap_or_else(|| "und".into());
    let q = |s: &str| serde_json::Value::from(s).to_string();
    let id = SENTINEL_ID;
    Some(format!(
        "{{\"data\":{{\"author_id\":{a},\"created_at\":\"{t}\",\"edit_history_tweet_ids\":[\"{id}\"],\"id\":\"{id}\",\"lang\":{l},\"text\":{x}}},\"includes\":{{\"users\":[{{\"id\":{a},\"name\":{n},\"username\":{u}}}]}}}}",
        a = q(&author),
        t = time::posted_time(SENTINEL_SECS),
        l = q(&lang),
        x = q(&text),
        n = q(&name),
        u = q(&username),
    ))
}

fn pieces(record: &str) -> Vec<Piece> {
    let id = SENTINEL_ID.to_string();
    let t = time::posted_time(SENTINEL_SECS);
    let mut out = Vec::new();
    let mut rest = record;
    loop {
        let next_id = rest.find(&id).map(|i| (i, id.len(), Piece::Id));
        let next_t = rest.find(&t).map(|i| (i, t.len(), Piece::Time));
        let next = match (next_id, next_t) {
            (Some(a), Some(b)) => Some(if a.0 < b.0 { a } else { b }),
            (a, b) => a.or(b),
        };
        let Some((at, len, piece)) = next else {
            out.push(Piece::Literal(rest.to_owned()));
            return out;
        };
        out.push(Piece::Literal(rest[..at].to_owned()));
        out.push(piece);
        rest = &rest[at + len..];
    }
}

impl V2Feed {
    /// The feed made from `source`'s activities (a built-in Post when it has none).
    pub(crate) fn new(source: &RecordSource) -> V2Feed {
        let mut posts = Vec::new();
        let mut gnip = Vec::new();
        for g in 0..source.len() as u64 {
            gnip.clear();
            source.render(g, SENTINEL_SECS, &mut gnip);
            if let Some(p) = post_of(&gnip) {
                posts.push(pieces(&p));
            }
        }
        if posts.is_empty() {
            posts.push(pieces(&post_of(br#"{"created_at":"x","id_str":"1","text":"hello","user":{"id_str":"12","screen_name":"sim"}}"#).unwrap_or_default()));
        }
        V2Feed { posts }
    }

    /// Appends global record `g` of a stream of `family`, published at `secs`. No terminator.
    pub(crate) fn render(&self, family: Family, g: u64, secs: i64, out: &mut Vec<u8>) {
        let id = record_id_for(g);
        let at = time::posted_time(secs);
        match family {
            Family::Posts => {
                for p in &self.posts[(g % self.posts.len() as u64) as usize] {
                    match p {
                        Piece::Literal(s) => out.extend_from_slice(s.as_bytes()),
                        Piece::Id => out.extend_from_slice(id.to_string().as_bytes()),
                        Piece::Time => out.extend_from_slice(at.as_bytes()),
                    }
                }
            }
            Family::Likes => out.extend_from_slice(
                format!(
                    "{{\"data\":{{\"created_at\":\"{at}\",\"id\":\"{}\",\"liked_tweet_author_id\":\"{}\",\"liked_tweet_id\":\"{}\",\"timestamp_ms\":{}}}}}",
                    like_id(g),
                    12 + g % 1000,
                    id - 1000,
                    secs * 1000
                )
                .as_bytes(),
            ),
            Family::TweetCompliance => {
                let tweet = format!("{{\"id\":\"{id}\",\"author_id\":\"{}\"}}", 12 + g % 1000);
                let minute = time::posted_time(secs - secs.rem_euclid(60));
                let s = match g % 6 {
                    0 => format!("{{\"delete\":{{\"tweet\":{tweet},\"event_at\":\"{minute}\"}}}}"),
                    1 => format!("{{\"withheld\":{{\"tweet\":{tweet},\"withheld_in_countries\":[\"DE\"],\"event_at\":\"{at}\"}}}}"),
                    2 => format!("{{\"drop\":{{\"tweet\":{tweet},\"event_at\":\"{at}\"}}}}"),
                    3 => format!("{{\"undrop\":{{\"tweet\":{tweet},\"event_at\":\"{at}\"}}}}"),
                    // The Post deleted by record g - 4 (the same partition, with 1, 2 or 4 of
                    // them), for a quote of it (its own id): only quote_tweet_id tells the two
                    // events apart.
                    4 => format!(
                        "{{\"delete\":{{\"tweet\":{{\"id\":\"{}\",\"author_id\":\"{}\"}},\"quote_tweet_id\":\"{id}\",\"event_at\":\"{minute}\"}}}}",
                        id - 4,
                        12 + (g - 4) % 1000
                    ),
                    _ => format!("{{\"tweet_edit\":{{\"tweet\":{{\"id\":\"{id}\"}},\"initial_tweet_id\":\"{}\",\"edit_tweet_ids\":[\"{}\",\"{id}\"],\"event_at\":\"{at}\"}}}}", id - 1, id - 1),
                };
                out.extend_from_slice(format!("{{\"data\":{s}}}").as_bytes());
            }
            Family::UserCompliance => {
                let user = format!("{{\"id\":\"{id}\"}}");
                let s = match g % 9 {
                    0 => format!("{{\"user_delete\":{{\"user\":{user},\"event_at\":\"{at}\"}}}}"),
                    1 => format!("{{\"user_undelete\":{{\"user\":{user},\"event_at\":\"{at}\"}}}}"),
                    2 => format!("{{\"user_protect\":{{\"user\":{user},\"event_at\":\"{at}\"}}}}"),
                    3 => format!("{{\"user_unprotect\":{{\"user\":{user},\"event_at\":\"{at}\"}}}}"),
                    4 => format!("{{\"user_suspend\":{{\"user\":{user},\"event_at\":\"{at}\"}}}}"),
                    5 => format!("{{\"user_unsuspend\":{{\"user\":{user},\"event_at\":\"{at}\"}}}}"),
                    6 => format!("{{\"user_withheld\":{{\"user\":{user},\"withheld_in_countries\":[\"XY\"],\"event_at\":\"{at}\"}}}}"),
                    7 => format!("{{\"scrub_geo\":{{\"user\":{user},\"up_to_tweet_id\":\"{}\",\"event_at\":\"{at}\"}}}}", id - 7),
                    _ => format!("{{\"user_profile_modification\":{{\"user\":{user},\"event_at\":\"{at}\",\"profile_field\":\"profile.description\",\"new_value\":\"simulated\"}}}}"),
                };
                out.extend_from_slice(format!("{{\"data\":{s}}}").as_bytes());
            }
            Family::LikesCompliance => out.extend_from_slice(
                format!(
                    "{{\"data\":{{\"delete\":{{\"favorite\":{{\"id\":\"{}\",\"user_id\":\"{id}\"}},\"event_at\":\"{at}\"}}}}}}",
                    id - 1000
                )
                .as_bytes(),
            ),
            Family::Labels => {
                let tweet = format!("{{\"id\":\"{id}\",\"author_id\":\"{}\"}}", 12 + g % 1000);
                let s = if g % 2 == 0 {
                    format!("{{\"public_tweet_notice\":{{\"tweet\":{tweet},\"event_type\":\"misleading\",\"event_at\":\"{at}\",\"application\":\"apply\",\"details\":\"simulated\",\"label_title\":\"Misleading\",\"extended_details_url\":\"https://example.com/\"}}}}")
                } else {
                    format!("{{\"public_tweet_unviewable\":{{\"tweet\":{tweet},\"event_at\":\"{at}\",\"application\":\"apply\"}}}}")
                };
                out.extend_from_slice(format!("{{\"data\":{s}}}").as_bytes());
            }
        }
    }
}

/// A Like's id for global record `g`: its fresh id in hex, 32 characters (Like ids are opaque
/// strings, not numbers).
pub fn like_id(g: u64) -> String {
    format!("{:032x}", record_id_for(g))
}

/// Which global record a v2 record the simulator served is: a Post by `data.id`, a Like by
/// its hex id, an event by its subject (`user_id` for a likes-compliance event). `None` for a
/// record that is not one of its own.
pub fn v2_record_index(record: &[u8]) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_slice(record).ok()?;
    let data = v.get("data")?.as_object()?;
    if let Some(id) = data.get("id").and_then(|x| x.as_str()) {
        let n = match id.parse::<u64>() {
            Ok(n) if id.len() <= 19 => n,
            _ => u64::from_str_radix(id, 16).ok()?,
        };
        return record_index_for(n);
    }
    let (_, event) = data.iter().next()?;
    let subject = event
        .get("quote_tweet_id")
        .or_else(|| {
            ["tweet", "user"]
                .into_iter()
                .into_iter()
                .find_map(|k| event.get(k).and_then(|s| s.get("id")))
        })
        .or_else(|| event.get("favorite").and_then(|f| f.get("user_id")))?;
    record_index_for(subject.as_str()?.parse().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::v2::records::key_and_time;

    #[test]
    fn every_family_renders_valid_v2_records_that_map_back_to_their_number() {
        let feed = V2Feed::new(&RecordSource::generated(3, 200));
        assert!(feed.posts.len() > 50, "{}", feed.posts.len());
        for family in [
            Family::Posts,
            Family::Likes,
            Family::TweetCompliance,
            Family::UserCompliance,
            Family::LikesCompliance,
            Family::Labels,
        ] {
            let mut keys = std::collections::HashSet::new();
            for g in 0..60u64 {
                let mut out = Vec::new();
                feed.render(family, g, 1_700_000_000 + g as i64, &mut out);
                let v: serde_json::Value = serde_json::from_slice(&out).unwrap_or_else(|e| {
                    panic!("{family:?} {g}: {e}: {}", String::from_utf8_lossy(&out))
                });
                assert!(v.get("data").is_some());
                assert_eq!(v2_record_index(&out), Some(g), "{family:?}");
                let (key, t) = key_and_time(&out).unwrap();
                let secs = 1_700_000_000 + g as i64;
                let want = if family == Family::TweetCompliance && g % 6 % 4 == 0 {
                    secs - secs.rem_euclid(60) // a delete and its quote's, in one minute
                } else {
                    secs
                };
                assert_eq!(t, Some(want), "{family:?}");
                assert!(keys.insert(key.as_u64()), "{family:?} {g}: keys are unique");
            }
        }
    }
}

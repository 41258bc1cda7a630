//! Where the simulator's records come from, and when each is published.
//!
//! Record times (`created_at`, `postedTime`, a compliance event's `timestamp_ms` or
//! `timestampMs`) are the publication time.
//!
//! A stream is a deterministic sequence: global record `g` is published at
//! `start + g / rate` and belongs to partition `g % partitions`, so partitions get disjoint
//! shares, redundant connections get identical copies, and backfill is simply "start from the
//! record published N minutes ago". Nothing has to be stored to replay the last five minutes.

use std::path::Path;

use crate::core::{RecordKind, classify, record_id};
use crate::protocol::time;
use crate::simulator::generator::{FIRST_ID, Generator};

/// A piece of a record template.
#[derive(Debug, Clone, Copy)]
enum Part {
    /// Bytes copied as they are.
    Literal(usize, usize),
    /// The record's own id, replaced by a fresh one.
    Id,
    /// Native `created_at`, replaced by the publication time.
    CreatedAt,
    /// Activity Streams `postedTime`, replaced by the publication time.
    PostedTime,
    /// A native compliance event's `timestamp_ms`, replaced by the publication time.
    TimestampMs,
    /// An Activity Streams compliance event's `timestampMs`, replaced by the publication time.
    TimestampIso,
}

/// A real record with holes where the fresh id and the publication time go.
#[derive(Debug, Clone)]
struct Template {
    bytes: Vec<u8>,
    parts: Vec<Part>,
}

impl Template {
    /// `None` for system messages and malformed lines: those are not data to replay.
    fn new(record: &[u8]) -> Option<Template> {
        match classify(record) {
            RecordKind::Activity | RecordKind::Compliance(_) => {}
            RecordKind::System(_) | RecordKind::Malformed => return None,
        }
        let offset = |s: &[u8]| s.as_ptr() as usize - record.as_ptr() as usize;
        let mut holes: Vec<(usize, usize, Part)> = Vec::new();
        if let Some(id) = record_id(record) {
            // Every whole-number occurrence of the record's id: `id`, `id_str`, URNs, links.
            for at in memchr::memmem::find_iter(record, id.as_bytes()) {
                let end = at + id.len();
                let digit = |i: Option<&u8>| i.is_some_and(u8::is_ascii_digit);
                if !digit(at.checked_sub(1).and_then(|i| record.get(i))) && !digit(record.get(end))
                {
                    holes.push((at, end, Part::Id));
                }
            }
        }
        for (key, value) in crate::core::json::members(record, 0) {
            let part = match key {
                b"created_at" => Part::CreatedAt,
                b"postedTime" => Part::PostedTime,
                _ => continue,
            };
            if let Some(text) = crate::core::json::string_contents(value) {
                let at = offset(text);
                holes.push((at, at + text.len(), part));
            }
        }
        // A compliance event's own time, wherever it sits (native: inside the event's object).
        for (name, part) in [
            (&b"\"timestamp_ms\":\""[..], Part::TimestampMs),
            (&b"\"timestampMs\":\""[..], Part::TimestampIso),
        ] {
            if let Some(at) = memchr::memmem::find(record, name) {
                let start = at + name.len();
                if let Some(len) = memchr::memchr(b'"', &record[start..]) {
                    holes.push((start, start + len, part));
                }
            }
        }
        holes.sort_by_key(|h| h.0);
        let mut parts = Vec::new();
        let mut at = 0;
        for (start, end, part) in holes {
            if start < at {
                continue; // overlapping holes cannot happen in valid JSON; keep the first
            }
            parts.push(Part::Literal(at, start));
            parts.push(part);
            at = end;
        }
        parts.push(Part::Literal(at, record.len()));
        Some(Template {
            bytes: record.to_vec(),
            parts,
        })
    }

    fn render(&self, id: u64, secs: i64, out: &mut Vec<u8>) {
        for part in &self.parts {
            match *part {
                Part::Literal(a, b) => out.extend_from_slice(&self.bytes[a..b]),
                Part::Id => out.extend_from_slice(id.to_string().as_bytes()),
                Part::CreatedAt => out.extend_from_slice(time::created_at(secs).as_bytes()),
                Part::PostedTime => out.extend_from_slice(time::posted_time(secs).as_bytes()),
                Part::TimestampMs => out.extend_from_slice((secs * 1000).to_string().as_bytes()),
                Part::TimestampIso => {
                    out.extend_from_slice(time::posted_time(secs).trim_end_matches('Z').as_bytes());
                    out.extend_from_slice(b"+00:00");
                }
            }
        }
    }
}

/// The records a simulator serves, as templates.
#[derive(Debug, Clone)]
pub struct RecordSource {
    templates: Vec<Template>,
    description: String,
}

impl RecordSource {
    /// The real payloads of a corpus directory (`*.ndjson`): activities and compliance events,
    /// in file order; system messages are left out (the simulator sends its own).
    pub fn corpus(dir: &Path) -> std::io::Result<RecordSource> {
        let files = crate::simulator::corpus::load(dir)?;
        let templates: Vec<Template> = files
            .iter()
            .flat_map(|f| &f.records)
            .filter_map(|r| Template::new(r))
            .collect();
        if templates.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("no activity or compliance records in {}", dir.display()),
            ));
        }
        let description = format!("{} records from {}", templates.len(), dir.display());
        Ok(RecordSource {
            templates,
            description,
        })
    }

    /// `count` records from the built-in generator: no files needed.
    pub fn generated(seed: u64, count: usize) -> RecordSource {
        let mut g = Generator::new(seed);
        let templates = (0..count.max(1))
            .filter_map(|_| {
                let mut r = Vec::new();
                g.record(&mut r);
                Template::new(&r)
            })
            .collect();
        RecordSource {
            templates,
            description: format!("{count} generated records (seed {seed})"),
        }
    }

    /// The corpus at [`crate::simulator::corpus::dir`] when there is one, else 2,000 generated records.
    pub fn auto() -> RecordSource {
        crate::simulator::corpus::dir()
            .and_then(|d| RecordSource::corpus(&d).ok())
            .unwrap_or_else(|| RecordSource::generated(1, 2000))
    }

    /// What the records are, for a person.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// How many distinct templates there are.
    pub fn len(&self) -> usize {
        self.templates.len()
    }

    /// Whether there are none (never, for a source built by this type's constructors).
    pub fn is_empty(&self) -> bool {
        self.templates.is_empty()
    }

    /// Appends global record `g` of a stream, published at `secs`: template `g mod len` with
    /// the fresh id [`record_id_for`]`(g)`. No terminator.
    pub fn render(&self, g: u64, secs: i64, out: &mut Vec<u8>) {
        let t = &self.templates[(g % self.templates.len() as u64) as usize];
        t.render(record_id_for(g), secs, out);
    }
}

/// The fresh id of global record `g`: unique, increasing, above 2^53 as real ids are.
pub fn record_id_for(g: u64) -> u64 {
    FIRST_ID + g
}

/// The inverse of [`record_id_for`]: which global record a record the simulator served is
/// (`None` for a record that is not one of its own).
///
/// ```
/// use gnip_stream::simulator::{record_id_for, record_index};
/// let rec = format!("{{\"created_at\":\"x\",\"id_str\":\"{}\"}}", record_id_for(42));
/// assert_eq!(record_index(rec.as_bytes()), Some(42));
/// assert_eq!(record_index(br#"{"id_str":"7"}"#), None);
/// ```
pub fn record_index(record: &[u8]) -> Option<u64> {
    record_index_for(crate::core::record_id(record)?.parse::<u64>().ok()?)
}

/// The global record whose fresh id is `id` ([`record_id_for`] backwards).
pub fn record_index_for(id: u64) -> Option<u64> {
    id.checked_sub(FIRST_ID)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_replace_ids_and_times_everywhere_and_nothing_else() {
        let rec = br#"{"created_at":"Tue Jul 18 23:25:04 +0000 2017","id":887453193294282752,"id_str":"887453193294282752","text":"x 8874531932942827521","user":{"id_str":"12"}}"#;
        let t = Template::new(rec).unwrap();
        let mut out = Vec::new();
        t.render(7, 0, &mut out);
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            r#"{"created_at":"Thu Jan 01 00:00:00 +0000 1970","id":7,"id_str":"7","text":"x 8874531932942827521","user":{"id_str":"12"}}"#
        );
        let rec = br#"{"id":"tag:search.twitter.com,2005:42","verb":"post","postedTime":"2017-07-18T23:25:04.000Z","link":"http:\/\/twitter.com\/x\/statuses\/42"}"#;
        out.clear();
        Template::new(rec).unwrap().render(99, 86_400, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"id":"tag:search.twitter.com,2005:99","verb":"post","postedTime":"1970-01-02T00:00:00.000Z","link":"http:\/\/twitter.com\/x\/statuses\/99"}"#
        );
        assert!(Template::new(br#"{"info":{"message":"x"}}"#).is_none());
    }

    #[test]
    fn rendered_records_classify_like_their_template_with_the_fresh_id() {
        let src = RecordSource::generated(3, 300);
        for g in 0..300u64 {
            let mut out = Vec::new();
            src.render(g, 1_700_000_000, &mut out);
            assert!(serde_json::from_slice::<serde_json::Value>(&out).is_ok());
            assert_eq!(
                record_id(&out),
                Some(record_id_for(g).to_string().as_str()),
                "g {g}"
            );
        }
    }
}

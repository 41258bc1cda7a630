//! Deterministic synthetic records shaped like the service's, for builds without the corpus.
//!
//! The real payloads in `shared/corpus` are the better test data, but a user's fresh clone
//! does not have them. This generator makes records with the features that break decoders:
//! ids above 2^53, multi-byte UTF-8 (Cyrillic, CJK, emoji), JSON escapes (`\"`, `\\`, `\/`,
//! `\n`, `\uXXXX`), nested objects with their own ids and verbs, and sizes from a few hundred
//! bytes to about 13 KB. The same seed always gives the same records.

use crate::core::ComplianceKind;
pub use crate::rng::Rng;

/// The wire format of an activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Native ("original") Tweet JSON with root-level `matching_rules`.
    Native,
    /// Activity Streams, with `verb` and `gnip.matching_rules`.
    ActivityStreams,
}

/// What [`Generator::record`] made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generated {
    /// An activity in this format; its id as a number.
    Activity(Format, u64),
    /// A compliance event of this kind.
    Compliance(ComplianceKind, Format),
}

const WORDS: &[&str] = &[
    "stream",
    "gnip",
    "firehose",
    "partition",
    "backfill",
    "replay",
    "tweet",
    "rule",
    "Привет",
    "мир",
    "こんにちは",
    "世界",
    "مرحبا",
    "שלום",
    "안녕",
    "🚀",
    "👩\u{200d}💻",
    "🎉",
    "naïve",
    "café",
    "a\\\"quoted\\\"",
    "slash\\/ed",
    "line\\nbreak",
    "tab\\t",
    "\\u00e9t\\u00e9",
    "\\ud83d\\ude00",
    "back\\\\slash",
    "#hashtag",
    "@mention",
    "https:\\/\\/t.co\\/XkcFAgHhsj",
];

/// A deterministic source of service-shaped records.
///
/// ```
/// use gnip_stream::simulator::generator::Generator;
/// use gnip_stream::core::{classify, RecordKind};
/// let mut g = Generator::new(7);
/// let mut rec = Vec::new();
/// g.activity(&mut rec);
/// assert_eq!(classify(&rec), RecordKind::Activity);
/// ```
#[derive(Debug, Clone)]
pub struct Generator {
    rng: Rng,
    next_id: u64,
}

/// First Tweet id the generator hands out: above 2^53, as real ids have been since 2015.
pub const FIRST_ID: u64 = 1_600_000_000_000_000_000;

impl Generator {
    /// A generator whose output depends only on `seed`.
    pub fn new(seed: u64) -> Self {
        Generator {
            rng: Rng::new(seed),
            next_id: FIRST_ID + (seed % 1000) * 1_000_000,
        }
    }

    /// The random source, for callers that vary framing too.
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    fn text(&mut self, out: &mut Vec<u8>, words: u64) {
        for i in 0..words {
            if i > 0 {
                out.push(b' ');
            }
            let w = WORDS[self.rng.below(WORDS.len() as u64) as usize];
            out.extend_from_slice(w.as_bytes());
        }
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1 + self.rng.below(1000);
        self.next_id
    }

    /// Appends one record (no terminator): mostly activities in both formats, about 3 in 100
    /// compliance events. Returns what it made.
    pub fn record(&mut self, out: &mut Vec<u8>) -> Generated {
        if self.rng.below(100) < 3 {
            let kind =
                ComplianceKind::ALL[self.rng.below(ComplianceKind::ALL.len() as u64) as usize];
            let format = if self.rng.below(2) == 0 {
                Format::Native
            } else {
                Format::ActivityStreams
            };
            self.compliance(kind, format, out);
            Generated::Compliance(kind, format)
        } else {
            let format = if self.rng.below(2) == 0 {
                Format::Native
            } else {
                Format::ActivityStreams
            };
            let id = self.activity_in(format, out);
            Generated::Activity(format, id)
        }
    }

    /// Appends one activity in a random format.
    pub fn activity(&mut self, out: &mut Vec<u8>) -> u64 {
        let format = if self.rng.below(2) == 0 {
            Format::Native
        } else {
            Format::ActivityStreams
        };
        self.activity_in(format, out)
    }

    /// Appends one activity in `format`; returns its id.
    pub fn activity_in(&mut self, format: Format, out: &mut Vec<u8>) -> u64 {
        let id = self.id();
        let user = 10_000 + self.rng.below(4_000_000_000);
        let rule = 700_000_000_000_000_000 + self.rng.below(1 << 40);
        // Padding words make sizes spread from hundreds of bytes to about 13 KB.
        let bio_words = match self.rng.below(10) {
            0..=5 => 5 + self.rng.below(60),
            6..=8 => 60 + self.rng.below(300),
            _ => 300 + self.rng.below(1200),
        };
        match format {
            Format::Native => {
                out.extend_from_slice(
                    b"{\"created_at\":\"Tue Jul 18 23:25:04 +0000 2017\",\"id\":",
                );
                out.extend_from_slice(id.to_string().as_bytes());
                out.extend_from_slice(b",\"id_str\":\"");
                out.extend_from_slice(id.to_string().as_bytes());
                out.extend_from_slice(b"\",\"text\":\"");
                let words = 3 + self.rng.below(25);
                self.text(out, words);
                out.extend_from_slice(b"\",\"user\":{\"id\":");
                out.extend_from_slice(user.to_string().as_bytes());
                out.extend_from_slice(b",\"id_str\":\"");
                out.extend_from_slice(user.to_string().as_bytes());
                out.extend_from_slice(b"\",\"description\":\"");
                self.text(out, bio_words);
                out.extend_from_slice(
                    b"\"},\"entities\":{\"hashtags\":[],\"urls\":[{\"indices\":[0,23]}]},",
                );
                if self.rng.below(4) == 0 {
                    let quoted = self.id();
                    out.extend_from_slice(b"\"quoted_status\":{\"id\":");
                    out.extend_from_slice(quoted.to_string().as_bytes());
                    out.extend_from_slice(b",\"id_str\":\"");
                    out.extend_from_slice(quoted.to_string().as_bytes());
                    out.extend_from_slice(b"\",\"text\":\"");
                    self.text(out, 5);
                    out.extend_from_slice(b"\"},");
                }
                out.extend_from_slice(b"\"matching_rules\":[{\"tag\":null,\"id\":");
                out.extend_from_slice(rule.to_string().as_bytes());
                out.extend_from_slice(b",\"id_str\":\"");
                out.extend_from_slice(rule.to_string().as_bytes());
                out.extend_from_slice(b"\"}]}");
            }
            Format::ActivityStreams => {
                let share = self.rng.below(3) == 0;
                out.extend_from_slice(b"{\"id\":\"tag:search.twitter.com,2005:");
                out.extend_from_slice(id.to_string().as_bytes());
                out.extend_from_slice(b"\",\"objectType\":\"activity\",");
                if share {
                    // A share carries the original activity, whose own verb is "post".
                    let orig = self.id();
                    out.extend_from_slice(b"\"object\":{\"id\":\"tag:search.twitter.com,2005:");
                    out.extend_from_slice(orig.to_string().as_bytes());
                    out.extend_from_slice(
                        b"\",\"objectType\":\"activity\",\"verb\":\"post\",\"body\":\"",
                    );
                    self.text(out, 6);
                    out.extend_from_slice(b"\"},\"verb\":\"share\",");
                } else {
                    out.extend_from_slice(b"\"verb\":\"post\",");
                }
                out.extend_from_slice(b"\"postedTime\":\"2017-07-18T23:25:04.000Z\",\"body\":\"");
                let words = 3 + self.rng.below(25);
                self.text(out, words);
                out.extend_from_slice(b"\",\"actor\":{\"id\":\"id:twitter.com:");
                out.extend_from_slice(user.to_string().as_bytes());
                out.extend_from_slice(b"\",\"summary\":\"");
                self.text(out, bio_words);
                out.extend_from_slice(b"\"},\"gnip\":{\"matching_rules\":[{\"tag\":null,\"id\":");
                out.extend_from_slice(rule.to_string().as_bytes());
                out.extend_from_slice(b"}]}}");
            }
        }
        id
    }

    /// Appends one compliance event of `kind` in `format`.
    pub fn compliance(&mut self, kind: ComplianceKind, format: Format, out: &mut Vec<u8>) {
        let id = self.id().to_string();
        let name = kind.name();
        match format {
            Format::Native => {
                out.extend_from_slice(b"{\"");
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b"\":{\"status\":{\"id\":");
                out.extend_from_slice(id.as_bytes());
                out.extend_from_slice(b",\"id_str\":\"");
                out.extend_from_slice(id.as_bytes());
                out.extend_from_slice(b"\",\"user_id\":12,\"user_id_str\":\"12\"},\"timestamp_ms\":\"1432228155593\"}}");
            }
            Format::ActivityStreams => {
                out.extend_from_slice(b"{\"objectType\":\"activity\",\"verb\":\"");
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b"\",\"object\":{\"id\":\"tag:search.twitter.com,2005:");
                out.extend_from_slice(id.as_bytes());
                out.extend_from_slice(b"\"},\"timestampMs\":\"2015-05-20T21:42:18.944+00:00\"}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{RecordKind, classify, record_id};

    #[test]
    fn records_are_valid_json_of_the_kind_claimed_with_exact_ids() {
        let mut g = Generator::new(1);
        let (mut small, mut large) = (usize::MAX, 0);
        for _ in 0..2000 {
            let mut rec = Vec::new();
            let what = g.record(&mut rec);
            let v: serde_json::Value = serde_json::from_slice(&rec)
                .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&rec)));
            assert!(v.is_object());
            assert!(!rec.contains(&b'\n') && !rec.contains(&b'\r'));
            small = small.min(rec.len());
            large = large.max(rec.len());
            match what {
                Generated::Activity(_, id) => {
                    assert_eq!(classify(&rec), RecordKind::Activity);
                    assert_eq!(record_id(&rec), Some(id.to_string().as_str()));
                    assert!(id > 1 << 53);
                }
                Generated::Compliance(kind, _) => {
                    assert_eq!(classify(&rec), RecordKind::Compliance(kind));
                    assert!(record_id(&rec).is_some());
                }
            }
        }
        assert!(
            small < 1000 && (8_000..20_000).contains(&large),
            "{small}..{large}"
        );
    }

    #[test]
    fn same_seed_same_records() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let (mut ga, mut gb) = (Generator::new(9), Generator::new(9));
        for _ in 0..50 {
            ga.record(&mut a);
            gb.record(&mut b);
        }
        assert_eq!(a, b);
    }
}

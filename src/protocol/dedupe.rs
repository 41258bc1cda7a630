//! A bounded set of record keys that forgets the oldest first: how records already handed out
//! are recognised when they arrive again (a resumed Replay now; redundant connections and
//! backfill overlap later). Fixed maximum, O(1) insert and lookup, no allocation per record.

use crate::core::{Record, RecordKind};

/// Keys remembered per partition by default: at a Firehose partition's average (about 285
/// records a second) nearly an hour, far more than the five minutes backfill can send again;
/// 24 MiB once full (a power-of-two table of 2^21 slots and the ring; see [`BYTES_PER_KEY`]).
pub const DEFAULT_DEDUPE_WINDOW: usize = 1_000_000;
/// The largest de-duplication window accepted: 100 million ids, about 4 GB per partition at
/// [`BYTES_PER_KEY`] (a bound, so a typo cannot ask for more memory than a machine has).
pub const MAX_DEDUPE_WINDOW: usize = 100_000_000;

/// Bytes of memory per remembered key at the most: 8 in the arrival-order ring and 16 to 32 in
/// the hash table (8-byte slots, kept at most half full, sized to a power of two).
pub const BYTES_PER_KEY: usize = 40;

/// A set of `u64` keys holding at most `capacity` of them; inserting into a full set forgets the
/// oldest key. Memory grows with use (by doubling, so allocations are logarithmic in the count,
/// never per key) up to about [`BYTES_PER_KEY`] × `capacity`.
///
/// ```
/// use gnip_stream::unversioned::protocol::dedupe::DedupeWindow;
/// let mut seen = DedupeWindow::new(2);
/// assert!(seen.insert(7));   // new
/// assert!(!seen.insert(7));  // seen before
/// seen.insert(8);
/// seen.insert(9);            // full: 7, the oldest, is forgotten
/// assert!(!seen.contains(7) && seen.contains(8) && seen.contains(9));
/// ```
#[derive(Debug, Clone)]
pub struct DedupeWindow {
    capacity: usize,
    /// Open addressing, linear probing; a slot holds a mixed key, 0 = empty.
    slots: Vec<u64>,
    /// Whether the one key whose mixed value is 0 is present (it cannot live in a slot).
    zero: bool,
    /// Mixed keys in arrival order: a ring of `ring.len()` places, `len` used from `head`.
    ring: Vec<u64>,
    head: usize,
    len: usize,
}

/// A bijection on `u64` (SplitMix64's finaliser): spreads sequential ids over the table, and
/// two keys never mix to the same value, so the mixed value can stand for the key.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl DedupeWindow {
    /// An empty set that remembers at most `capacity` keys (at least 1).
    pub fn new(capacity: usize) -> Self {
        DedupeWindow {
            capacity: capacity.max(1),
            slots: vec![0; 16],
            zero: false,
            ring: vec![0; 8.min(capacity.max(1))],
            head: 0,
            len: 0,
        }
    }

    /// The most keys it remembers.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Keys remembered now.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it remembers nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes allocated now (table and ring).
    pub fn memory_bytes(&self) -> usize {
        (self.slots.len() + self.ring.len()) * 8
    }

    /// Forgets every key, keeping the memory. Costs O(keys remembered) when few are (every key
    /// goes, so probe runs need no repair), else one pass over the table.
    pub fn clear(&mut self) {
        if self.len * 4 < self.slots.len() {
            for i in 0..self.len {
                let m = self.ring[(self.head + i) % self.ring.len()];
                if m == 0 {
                    continue;
                }
                // Every remembered key is in the table, so this ends at it, holes or not.
                let mask = self.slots.len() - 1;
                let mut at = (m as usize) & mask;
                while self.slots[at] != m {
                    at = (at + 1) & mask;
                }
                self.slots[at] = 0;
            }
        } else {
            self.slots.iter_mut().for_each(|s| *s = 0);
        }
        self.zero = false;
        self.head = 0;
        self.len = 0;
    }

    /// Whether `key` is remembered.
    pub fn contains(&self, key: u64) -> bool {
        self.contains_mixed(mix(key))
    }

    fn contains_mixed(&self, m: u64) -> bool {
        if m == 0 {
            return self.zero;
        }
        self.find(m).is_some()
    }

    /// Remembers `key`; `true` when it was not remembered before (the record is new).
    pub fn insert(&mut self, key: u64) -> bool {
        self.insert_mixed(mix(key))
    }

    fn insert_mixed(&mut self, m: u64) -> bool {
        // One probe finds the key or the empty slot that ends its run; the slot stays valid
        // unless forgetting the oldest key or growing the table moves keys first (then the
        // run is walked again).
        let mut empty = None;
        if m == 0 {
            if self.zero {
                return false;
            }
        } else {
            let mask = self.slots.len() - 1;
            let mut i = (m as usize) & mask;
            loop {
                match self.slots[i] {
                    0 => break,
                    s if s == m => return false,
                    _ => i = (i + 1) & mask,
                }
            }
            empty = Some(i);
        }
        if self.len == self.capacity {
            self.forget_oldest();
            empty = None;
        }
        if self.grow_if_needed() {
            empty = None;
        }
        if m == 0 {
            self.zero = true;
        } else {
            let mask = self.slots.len() - 1;
            let i = empty.unwrap_or_else(|| {
                let mut i = (m as usize) & mask;
                while self.slots[i] != 0 {
                    i = (i + 1) & mask;
                }
                i
            });
            self.slots[i] = m;
        }
        let n = self.ring.len();
        // `head < n` and `len < n` here, so one subtraction wraps it.
        let at = self.head + self.len;
        self.ring[if at >= n { at - n } else { at }] = m;
        self.len += 1;
        true
    }

    fn find(&self, m: u64) -> Option<usize> {
        let mask = self.slots.len() - 1;
        let mut i = (m as usize) & mask;
        loop {
            match self.slots[i] {
                0 => return None,
                s if s == m => return Some(i),
                _ => i = (i + 1) & mask,
            }
        }
    }

    fn forget_oldest(&mut self) {
        let m = self.ring[self.head];
        self.head = if self.head + 1 == self.ring.len() {
            0
        } else {
            self.head + 1
        };
        self.len -= 1;
        if m == 0 {
            self.zero = false;
        } else if let Some(i) = self.find(m) {
            self.remove_slot(i);
        }
    }

    /// Backward-shift deletion: later keys of the same probe run move up, so lookups never
    /// need tombstones.
    fn remove_slot(&mut self, mut hole: usize) {
        let mask = self.slots.len() - 1;
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let s = self.slots[j];
            if s == 0 {
                self.slots[hole] = 0;
                return;
            }
            let home = (s as usize) & mask;
            // The key at j may stay when its home lies cyclically in (hole, j].
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                self.slots[hole] = s;
                hole = j;
            }
        }
    }

    /// Makes room for one more key; `true` when the table was rebuilt (keys moved).
    fn grow_if_needed(&mut self) -> bool {
        if self.len == self.ring.len() {
            let size = (self.ring.len() * 2).min(self.capacity);
            let mut ring = Vec::with_capacity(size);
            for i in 0..self.len {
                ring.push(self.ring[(self.head + i) % self.ring.len()]);
            }
            ring.resize(size, 0);
            self.ring = ring;
            self.head = 0;
        }
        if (self.len + 1) * 2 > self.slots.len() {
            let size = self.slots.len() * 2;
            let old = std::mem::replace(&mut self.slots, vec![0; size]);
            let mask = self.slots.len() - 1;
            for m in old.into_iter().filter(|&m| m != 0) {
                let mut i = (m as usize) & mask;
                while self.slots[i] != 0 {
                    i = (i + 1) & mask;
                }
                self.slots[i] = m;
            }
            return true;
        }
        false
    }
}

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

/// What identifies a record across connections, resends and hosts: the one key function the
/// de-duplication (and, later, message ids) use.
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
            } => {
                let mut h = hash_bytes(kind.as_bytes());
                for part in [id, timestamp] {
                    h = hash_bytes_from(h ^ 0xff, part.as_bytes());
                }
                h
            }
            RecordKey::Bytes(h) => h,
            RecordKey::Id(id) => hash_bytes_from(hash_bytes(b"id") ^ 0xff, id.as_bytes()),
            RecordKey::Event {
                kind,
                subject,
                second,
                quote,
                at,
            } => {
                let mut h = hash_bytes(kind.as_bytes());
                for part in [subject, second, quote, at] {
                    h = hash_bytes_from(h ^ 0xff, part.as_bytes());
                }
                h
            }
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
    use std::collections::{HashSet, VecDeque};

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

    /// Against a naive model (a queue and a set), with many evictions, growth and key 0 and
    /// the key that mixes to 0.
    #[test]
    fn behaves_like_a_bounded_fifo_set() {
        for capacity in [1usize, 2, 3, 7, 64, 1000] {
            let mut w = DedupeWindow::new(capacity);
            let mut order = VecDeque::new();
            let mut set = HashSet::new();
            let mut rng = crate::rng::Rng::new(capacity as u64);
            for _ in 0..20_000 {
                // Small key space so that repeats are frequent.
                let key = rng.below(capacity as u64 * 3 + 2);
                let fresh = !set.contains(&key);
                assert_eq!(w.insert(key), fresh, "capacity {capacity}, key {key}");
                if fresh {
                    if order.len() == capacity {
                        let old = order.pop_front().unwrap();
                        set.remove(&old);
                    }
                    order.push_back(key);
                    set.insert(key);
                }
                assert_eq!(w.len(), order.len());
                let probe = rng.below(capacity as u64 * 3 + 2);
                assert_eq!(w.contains(probe), set.contains(&probe));
            }
            assert!(w.memory_bytes() <= BYTES_PER_KEY * capacity.max(8) + 16 * 8);
            assert!(w.ring.len() <= capacity.max(1));
            w.clear();
            assert!(w.is_empty() && !w.contains(order[0]));
        }
    }

    #[test]
    fn the_key_that_mixes_to_zero_is_kept_apart() {
        // mix is a bijection, so exactly one key mixes to 0; it cannot live in a slot.
        let mut w = DedupeWindow::new(2);
        assert!(w.insert_mixed(0));
        assert!(!w.insert_mixed(0));
        assert!(w.contains_mixed(0) && w.zero);
        assert!(w.insert_mixed(5) && w.insert_mixed(6)); // full: the zero key, oldest, goes
        assert!(!w.contains_mixed(0) && !w.zero);
        assert!(
            w.insert(0) && w.contains(0),
            "key 0 itself is an ordinary key"
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
}

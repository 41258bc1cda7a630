//! A bounded set of record keys that forgets the oldest first: how records already handed out
//! are recognised when they arrive again (redundant connections, backfill overlap, a resumed
//! Replay, an archive's restart). Fixed maximum, O(1) insert and lookup, no allocation per
//! record. The keys come from `record_key.rs` ([`RecordKey`], re-exported here).

pub use super::record_key::{RecordKey, hash_bytes, record_time};

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashSet, VecDeque};

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
}

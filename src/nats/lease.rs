//! Partition leases, sans-IO: the keys (`<product>.<label>.<partition>.<slot>` in a key-value
//! bucket), what polling them shows, which slot to try for, with which expected last
//! sequence, when to renew, when a lease is lost, and the backfill a host that gains a
//! partition starts with. Times are milliseconds on the caller's clock; a holder counts as gone
//! when its key is gone (aged out of the bucket) or unchanged for a TTL since this host first
//! saw it, so no two hosts' clocks are ever compared.

use crate::protocol::product::MAX_BACKFILL_MINUTES;

/// Default lease TTL (the bucket's `max_age`), milliseconds.
pub const DEFAULT_LEASE_TTL_MS: u64 = 30_000;
/// Default slots per partition: one host streams each partition.
pub const DEFAULT_HOSTS_PER_PARTITION: u8 = 1;

/// A lease key.
pub fn key(product: &str, label: &str, partition: u32, slot: u8) -> String {
    format!("{product}.{label}.{partition}.{slot}")
}

/// The subject a key lives on in `bucket`.
pub fn key_subject(bucket: &str, key: &str) -> String {
    format!("$KV.{bucket}.{key}")
}

/// A bucket or key token: letters, digits, `-`, `_` (what NATS allows in a bucket name, and
/// what keeps a key one subject token).
pub fn check_token(what: &str, s: &str) -> Result<(), crate::Error> {
    if s.is_empty()
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(crate::Error::BadInput {
            reason: format!("{what} '{s}': use letters, digits, '-' and '_' only").into(),
        });
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot {
    /// Not polled yet.
    Unknown,
    /// No message under the key. `last_renewal_ms`: when a holder seen earlier last renewed
    /// (its message aged out since).
    Free { last_renewal_ms: Option<u64> },
    /// Another host's (or this host's before a restart: `own`).
    Other {
        seq: u64,
        first_seen_ms: u64,
        own: bool,
    },
    /// This host holds it.
    Mine { seq: u64, renewed_ms: u64 },
}

/// A partition this host just gained: start it with this backfill on its first connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gained {
    /// The partition.
    pub partition: u32,
    /// Backfill minutes for the first connection (`None`: none).
    pub backfill_minutes: Option<u8>,
}

/// One host's view of the leases of its partitions.
#[derive(Debug)]
pub struct LeaseTable {
    ttl_ms: u64,
    partitions: Vec<u32>,
    per_partition: u8,
    backfill_on_start: Option<u8>,
    /// `partitions.len() * per_partition`, partition-major.
    slots: Vec<Slot>,
}

impl LeaseTable {
    /// Leases of `partitions`, `per_partition` slots each (at least 1), with `ttl_ms`;
    /// `backfill_on_start` for a key that never had a holder.
    pub fn new(
        partitions: &[u32],
        per_partition: u8,
        ttl_ms: u64,
        backfill_on_start: Option<u8>,
    ) -> Self {
        let per_partition = per_partition.max(1);
        LeaseTable {
            ttl_ms,
            partitions: partitions.to_vec(),
            per_partition,
            backfill_on_start,
            slots: vec![Slot::Unknown; partitions.len() * usize::from(per_partition)],
        }
    }

    /// How often to poll and renew: a third of the TTL.
    pub fn period_ms(&self) -> u64 {
        (self.ttl_ms / 3).max(1)
    }

    /// Every slot: its index, partition and slot number.
    pub fn slots(&self) -> impl Iterator<Item = (usize, u32, u8)> + '_ {
        (0..self.slots.len()).map(|i| {
            let p = self.partitions[i / usize::from(self.per_partition)];
            (i, p, (i % usize::from(self.per_partition)) as u8)
        })
    }

    fn partition_of(&self, i: usize) -> u32 {
        self.partitions[i / usize::from(self.per_partition)]
    }

    fn holds_partition(&self, i: usize) -> bool {
        let per = usize::from(self.per_partition);
        let first = i / per * per;
        self.slots[first..first + per]
            .iter()
            .any(|s| matches!(s, Slot::Mine { .. }))
    }

    /// What a poll of slot `i` found: its last message's sequence and value, or none.
    /// (A slot this host holds is renewed, not polled.)
    pub fn observe(&mut self, i: usize, msg: Option<(u64, &[u8])>, host_id: &str, now_ms: u64) {
        let s = &mut self.slots[i];
        if matches!(s, Slot::Mine { .. }) {
            return;
        }
        *s = match (msg, &*s) {
            (None, Slot::Other { first_seen_ms, .. }) => Slot::Free {
                last_renewal_ms: Some(first_seen_ms.saturating_sub(self.ttl_ms / 3)),
            },
            (None, Slot::Free { last_renewal_ms }) => Slot::Free {
                last_renewal_ms: *last_renewal_ms,
            },
            (None, _) => Slot::Free {
                last_renewal_ms: None,
            },
            (Some((seq, _)), Slot::Other { seq: old, .. }) if seq == *old => return,
            (Some((seq, value)), _) => Slot::Other {
                seq,
                first_seen_ms: now_ms,
                own: value == host_id.as_bytes(),
            },
        };
    }

    /// The slots to try for now, with the expected last sequence for each: one per partition
    /// this host holds no slot of (a free key: 0; a holder gone for a TTL, or this host's own
    /// key from before a restart: its sequence).
    pub fn to_acquire(&self, now_ms: u64) -> Vec<(usize, u64)> {
        let mut out: Vec<(usize, u64)> = Vec::new();
        for (i, s) in self.slots.iter().enumerate() {
            if self.holds_partition(i)
                || out
                    .iter()
                    .any(|&(j, _)| self.partition_of(j) == self.partition_of(i))
            {
                continue;
            }
            match *s {
                Slot::Free { .. } => out.push((i, 0)),
                Slot::Other {
                    seq,
                    first_seen_ms,
                    own,
                } if own || now_ms.saturating_sub(first_seen_ms) >= self.ttl_ms => {
                    out.push((i, seq))
                }
                _ => {}
            }
        }
        out
    }

    /// Slot `i` was acquired (stored at `seq`): the partition to start, and its backfill.
    pub fn acquired(&mut self, i: usize, seq: u64, now_ms: u64) -> Gained {
        let last_renewal = match self.slots[i] {
            Slot::Free { last_renewal_ms } => last_renewal_ms,
            Slot::Other { first_seen_ms, .. } => {
                Some(first_seen_ms.saturating_sub(self.ttl_ms / 3))
            }
            _ => None,
        };
        self.slots[i] = Slot::Mine {
            seq,
            renewed_ms: now_ms,
        };
        let backfill_minutes = match last_renewal {
            Some(t) => {
                let minutes = now_ms.saturating_sub(t).div_ceil(60_000) + 1;
                Some(minutes.min(u64::from(MAX_BACKFILL_MINUTES)) as u8)
            }
            None => self.backfill_on_start,
        };
        Gained {
            partition: self.partition_of(i),
            backfill_minutes,
        }
    }

    /// An acquisition that failed (someone else was quicker): poll again.
    pub fn refused(&mut self, i: usize) {
        self.slots[i] = Slot::Unknown;
    }

    /// The slots this host holds, with the sequence a renewal expects.
    pub fn to_renew(&self) -> Vec<(usize, u64)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match *s {
                Slot::Mine { seq, .. } => Some((i, seq)),
                _ => None,
            })
            .collect()
    }

    /// A renewal of slot `i` was stored at `seq`.
    pub fn renewed(&mut self, i: usize, seq: u64, now_ms: u64) {
        if let Slot::Mine { .. } = self.slots[i] {
            self.slots[i] = Slot::Mine {
                seq,
                renewed_ms: now_ms,
            };
        }
    }

    /// Slot `i` is lost (`wrong last sequence`: someone else holds it now): its partition, if
    /// this host held it.
    pub fn lost(&mut self, i: usize) -> Option<u32> {
        let held = matches!(self.slots[i], Slot::Mine { .. });
        self.slots[i] = Slot::Unknown;
        held.then(|| self.partition_of(i))
    }

    /// Slots not renewed for a TTL (the bucket may have aged them out and another host taken
    /// them): given up; their partitions.
    pub fn expire(&mut self, now_ms: u64) -> Vec<u32> {
        let mut gone = Vec::new();
        for i in 0..self.slots.len() {
            if let Slot::Mine { renewed_ms, .. } = self.slots[i] {
                if now_ms.saturating_sub(renewed_ms) >= self.ttl_ms {
                    self.slots[i] = Slot::Unknown;
                    gone.push(self.partition_of(i));
                }
            }
        }
        gone
    }

    /// The partitions this host holds a slot of.
    pub fn held(&self) -> Vec<u32> {
        let mut v: Vec<u32> = (0..self.slots.len())
            .filter(|&i| matches!(self.slots[i], Slot::Mine { .. }))
            .map(|i| self.partition_of(i))
            .collect();
        v.dedup();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: u64 = 6_000;

    #[test]
    fn a_free_key_is_taken_with_sequence_zero_and_backfill_on_start() {
        let mut t = LeaseTable::new(&[1, 2], 1, TTL, Some(2));
        assert!(t.to_acquire(0).is_empty());
        t.observe(0, None, "a", 0);
        t.observe(1, Some((5, b"b")), "a", 0);
        assert_eq!(t.to_acquire(0), vec![(0, 0)]);
        assert_eq!(
            t.acquired(0, 9, 0),
            Gained {
                partition: 1,
                backfill_minutes: Some(2)
            }
        );
        assert_eq!(t.to_renew(), vec![(0, 9)]);
        assert_eq!(t.held(), vec![1]);
        // Partition 2's holder renews (sequence moves): never taken.
        t.observe(1, Some((6, b"b")), "a", 5_000);
        assert!(t.to_acquire(10_000).is_empty());
        // It stops renewing: a TTL after this host first saw sequence 6, it is taken with 6,
        // and the backfill covers the time since its last renewal (+1 minute).
        t.observe(1, Some((6, b"b")), "a", 10_000);
        assert!(t.to_acquire(10_999).is_empty());
        assert_eq!(t.to_acquire(11_000), vec![(1, 6)]);
        assert_eq!(
            t.acquired(1, 10, 11_000),
            Gained {
                partition: 2,
                backfill_minutes: Some(2)
            }
        );
    }

    #[test]
    fn an_aged_out_holder_still_sizes_the_backfill_and_capped_at_five() {
        let mut t = LeaseTable::new(&[1], 1, TTL, None);
        t.observe(0, Some((3, b"b")), "a", 0);
        t.observe(0, None, "a", 400_000);
        assert_eq!(t.to_acquire(400_000), vec![(0, 0)]);
        assert_eq!(t.acquired(0, 4, 400_000).backfill_minutes, Some(5));
        let mut never = LeaseTable::new(&[1], 1, TTL, None);
        never.observe(0, None, "a", 0);
        assert_eq!(never.acquired(0, 1, 0).backfill_minutes, None);
    }

    #[test]
    fn renewals_losses_and_slots_per_partition() {
        let mut t = LeaseTable::new(&[1, 2], 2, TTL, None);
        assert_eq!(
            t.slots().map(|(_, p, s)| (p, s)).collect::<Vec<_>>(),
            vec![(1, 0), (1, 1), (2, 0), (2, 1)]
        );
        for i in 0..4 {
            t.observe(i, None, "a", 0);
        }
        // One slot per partition at a time.
        assert_eq!(t.to_acquire(0), vec![(0, 0), (2, 0)]);
        t.acquired(0, 1, 0);
        t.refused(2);
        assert_eq!(t.to_acquire(0), vec![(3, 0)]);
        t.acquired(3, 2, 0);
        t.renewed(0, 7, 2_000);
        assert_eq!(t.to_renew(), vec![(0, 7), (3, 2)]);
        assert_eq!(t.lost(0), Some(1));
        assert_eq!(t.lost(0), None);
        assert!(t.expire(5_999).is_empty());
        assert_eq!(t.expire(6_000), vec![2]);
        assert!(t.held().is_empty());
    }

    #[test]
    fn this_hosts_own_key_from_before_a_restart_is_taken_back_at_once() {
        let mut t = LeaseTable::new(&[1], 1, TTL, None);
        t.observe(0, Some((4, b"host-a")), "host-a", 60_000);
        assert_eq!(t.to_acquire(60_000), vec![(0, 4)]);
        assert_eq!(t.acquired(0, 5, 60_000).backfill_minutes, Some(2));
        assert!(check_token("bucket", "gnip_leases-1").is_ok());
        assert!(check_token("bucket", "a.b").is_err());
        assert_eq!(
            key_subject("L", &key("decahose", "prod", 2, 0)),
            "$KV.L.decahose.prod.2.0"
        );
    }
}

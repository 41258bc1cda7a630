//! The publish window, sans-IO: at most N publishes awaiting their acknowledgement, each under
//! a token (its reply subject's last part); acks matched by token; a retryable answer or no
//! answer within the ack timeout sends it again (same message, same `Nats-Msg-Id`); after a
//! reconnect everything unacknowledged goes again, in its first order. Times are milliseconds
//! on the caller's clock.

use std::collections::{BTreeMap, VecDeque};

use super::jetstream::PubAck;

/// Default window: unacknowledged publishes at most.
pub const DEFAULT_PUBLISH_WINDOW: usize = 1024;
/// Default ack timeout, milliseconds.
pub const DEFAULT_ACK_TIMEOUT_MS: u64 = 5_000;
/// How long a retryable refusal (no responders, 503: an election) waits before the resend.
pub const RETRY_DELAY_MS: u64 = 250;

#[derive(Debug)]
struct Pending<T> {
    item: T,
    /// When it was last written; `None` while it waits in the ready queue.
    sent_ms: Option<u64>,
    /// Not before (a retry's delay).
    due_ms: u64,
    sends: u32,
}

/// What an ack did.
#[derive(Debug, PartialEq, Eq)]
pub enum Acked<T> {
    /// Stored (or a duplicate, stored earlier): out of the window.
    Delivered {
        /// The item.
        item: T,
        /// JetStream had it already.
        duplicate: bool,
        /// Times it was sent.
        sends: u32,
    },
    /// Will be sent again after [`RETRY_DELAY_MS`].
    Retry,
    /// Refused for good: out of the window, handed back with the reason.
    Refused {
        /// The item.
        item: T,
        /// What JetStream said.
        reason: String,
    },
    /// No such token in the window (a late second ack of something already delivered).
    Unknown,
}

/// The window of unacknowledged publishes.
#[derive(Debug)]
pub struct PublishWindow<T> {
    capacity: usize,
    ack_timeout_ms: u64,
    next_token: u64,
    pending: BTreeMap<u64, Pending<T>>,
    /// Tokens to (re)send, in order; may hold stale tokens (skipped).
    ready: VecDeque<u64>,
}

impl<T> PublishWindow<T> {
    /// A window of `capacity` (at least 1) with `ack_timeout_ms`.
    pub fn new(capacity: usize, ack_timeout_ms: u64) -> Self {
        PublishWindow {
            capacity: capacity.max(1),
            ack_timeout_ms,
            next_token: 1,
            pending: BTreeMap::new(),
            ready: VecDeque::new(),
        }
    }

    /// Unacknowledged publishes (sent or waiting to be sent again).
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Nothing unacknowledged.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Room for another publish.
    pub fn has_room(&self) -> bool {
        self.pending.len() < self.capacity
    }

    /// Takes `item` into the window, ready to send; its token.
    pub fn push(&mut self, item: T) -> u64 {
        let token = self.next_token;
        self.next_token += 1;
        self.pending.insert(
            token,
            Pending {
                item,
                sent_ms: None,
                due_ms: 0,
                sends: 0,
            },
        );
        self.ready.push_back(token);
        token
    }

    /// The next publish to write now (marked sent at `now_ms`): its token and item.
    pub fn next_to_send(&mut self, now_ms: u64) -> Option<(u64, &T)> {
        loop {
            let &token = self.ready.front()?;
            match self.pending.get(&token) {
                Some(p) if p.sent_ms.is_none() && p.due_ms > now_ms => return None,
                Some(p) if p.sent_ms.is_none() => {
                    self.ready.pop_front();
                    let p = self.pending.get_mut(&token)?;
                    p.sent_ms = Some(now_ms);
                    p.sends += 1;
                    return Some((token, &p.item));
                }
                _ => {
                    self.ready.pop_front();
                }
            }
        }
    }

    /// Reads the answer to `token`.
    pub fn ack(&mut self, token: u64, ack: &PubAck, now_ms: u64) -> Acked<T> {
        let Some(p) = self.pending.get_mut(&token) else {
            return Acked::Unknown;
        };
        match ack {
            PubAck::Stored { duplicate, .. } => {
                let duplicate = *duplicate;
                match self.pending.remove(&token) {
                    Some(p) => Acked::Delivered {
                        item: p.item,
                        duplicate,
                        sends: p.sends,
                    },
                    None => Acked::Unknown,
                }
            }
            PubAck::Refused { description, .. } if ack.is_final() => {
                let reason = description.clone();
                match self.pending.remove(&token) {
                    Some(p) => Acked::Refused {
                        item: p.item,
                        reason,
                    },
                    None => Acked::Unknown,
                }
            }
            // No responders, 503, an error that may pass, or an answer that makes no sense:
            // again, a little later.
            _ => {
                if p.sent_ms.is_some() {
                    p.sent_ms = None;
                    p.due_ms = now_ms + RETRY_DELAY_MS;
                    self.ready.push_back(token);
                }
                Acked::Retry
            }
        }
    }

    /// Sends again everything sent at least the ack timeout ago; how many.
    pub fn expire(&mut self, now_ms: u64) -> usize {
        let mut n = 0;
        for (&token, p) in self.pending.iter_mut() {
            if p.sent_ms
                .is_some_and(|s| now_ms.saturating_sub(s) >= self.ack_timeout_ms)
            {
                p.sent_ms = None;
                p.due_ms = now_ms;
                self.ready.push_back(token);
                n += 1;
            }
        }
        n
    }

    /// After a reconnect: everything unacknowledged is to be sent again, in its first order;
    /// how many had been sent.
    pub fn resend_all(&mut self) -> usize {
        self.ready.clear();
        let mut n = 0;
        for (&token, p) in self.pending.iter_mut() {
            n += usize::from(p.sent_ms.is_some());
            p.sent_ms = None;
            p.due_ms = 0;
            self.ready.push_back(token);
        }
        n
    }

    /// When something next falls due (a retry's delay or an ack timeout), if anything does.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        self.pending
            .values()
            .map(|p| match p.sent_ms {
                Some(s) => s + self.ack_timeout_ms,
                None => p.due_ms,
            })
            .min()
    }

    /// Empties the window, handing back what was never acknowledged, in order.
    pub fn drain(&mut self) -> Vec<T> {
        self.ready.clear();
        std::mem::take(&mut self.pending)
            .into_values()
            .map(|p| p.item)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(duplicate: bool) -> PubAck {
        PubAck::Stored {
            stream: "S".into(),
            seq: 1,
            duplicate,
        }
    }

    fn refused(code: u16) -> PubAck {
        PubAck::Refused {
            code,
            err_code: None,
            description: format!("code {code}"),
        }
    }

    #[test]
    fn bounded_matched_by_token_and_resent_on_timeout() {
        let mut w = PublishWindow::new(2, 100);
        let a = w.push("a");
        let b = w.push("b");
        assert!(!w.has_room());
        assert_eq!(w.next_to_send(0), Some((a, &"a")));
        assert_eq!(w.next_to_send(0), Some((b, &"b")));
        assert_eq!(w.next_to_send(0), None);
        assert_eq!(w.next_deadline_ms(), Some(100));
        // b's ack first: out of order is fine.
        assert_eq!(
            w.ack(b, &stored(true), 10),
            Acked::Delivered {
                item: "b",
                duplicate: true,
                sends: 1
            }
        );
        assert!(w.has_room());
        assert_eq!(w.expire(99), 0);
        assert_eq!(w.expire(100), 1);
        assert_eq!(w.next_to_send(100), Some((a, &"a")));
        // The late ack of the first send and then the second: delivered once.
        assert!(matches!(
            w.ack(a, &stored(false), 120),
            Acked::Delivered { sends: 2, .. }
        ));
        assert_eq!(w.ack(a, &stored(true), 121), Acked::Unknown);
        assert!(w.is_empty());
    }

    #[test]
    fn retryable_waits_refused_leaves_and_reconnect_resends_in_order() {
        let mut w = PublishWindow::new(8, 1_000);
        let t: Vec<u64> = ["a", "b", "c"].into_iter().map(|i| w.push(i)).collect();
        while w.next_to_send(0).is_some() {}
        assert_eq!(w.ack(t[0], &PubAck::NoResponders, 5), Acked::Retry);
        assert_eq!(w.ack(t[1], &refused(503), 5), Acked::Retry);
        let tf = |description: &str| PubAck::Refused {
            code: 400,
            err_code: Some(10054),
            description: description.into(),
        };
        assert_eq!(w.next_to_send(5 + RETRY_DELAY_MS - 1), None);
        assert_eq!(w.next_deadline_ms(), Some(5 + RETRY_DELAY_MS));
        assert_eq!(w.next_to_send(5 + RETRY_DELAY_MS), Some((t[0], &"a")));
        assert_eq!(
            w.ack(t[2], &tf("message size exceeds maximum allowed"), 6),
            Acked::Refused {
                item: "c",
                reason: "message size exceeds maximum allowed".into()
            }
        );
        // A reconnect: a and b again, a first.
        assert_eq!(w.resend_all(), 1);
        assert_eq!(w.next_to_send(7), Some((t[0], &"a")));
        assert_eq!(w.next_to_send(7), Some((t[1], &"b")));
        assert_eq!(w.next_to_send(7), None);
        assert_eq!(w.drain(), vec!["a", "b"]);
        assert!(w.is_empty() && w.next_deadline_ms().is_none());
    }
}

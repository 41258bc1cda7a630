//! The JetStream publisher's decisions, sans-IO: what a message is, which server replies are
//! acks and what they add up to, what a `-ERR` means, when a silent server gets a PING and
//! when it is given up on. The publisher thread (IO) moves bytes and reads the clock; it asks
//! [`Publishing`] what they mean.
//!
//! ```text
//!   take ─▶ window ─ next_to_send(now) ─▶ written ─ on_op(MSG ack / -ERR), on_read(now)
//!                                                       │
//!         settle(now) ─▶ Tally (delivered, duplicates, resends) + Verdict:
//!                         Go │ Reconnect (a -ERR that costs the connection)
//!                            │ Fail (refused for good: credentials, permission, payload)
//!   take_skipped: messages refused for themselves alone (too large for the stream), passed over
//!   liveness(now): Fine │ Ping (silent for the ack timeout) │ Dead (no PONG within it)
//! ```

use std::sync::Arc;
use std::time::Duration;

use super::window::{Acked, PublishWindow};
use super::{PubAck, ServerOp};
use crate::Error;
use crate::core::Record;
use crate::protocol::dialect::Dialect;

/// One record to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The subject.
    pub subject: Arc<str>,
    /// Its `Nats-Msg-Id` ([`RecordKey::message_id`](crate::protocol::dedupe::RecordKey::message_id)).
    pub id: String,
    /// The record's bytes, without a line terminator.
    pub payload: Vec<u8>,
    /// The partition it came from (0: none, or not known).
    pub partition: u32,
    /// The record's own time (Unix seconds), if it has one: what an acknowledgement advances
    /// the partition's checkpoint to.
    pub time: Option<i64>,
}

impl Message {
    /// The message for a Gnip `record` on `subject`: `None` for system messages and heartbeats
    /// (they are not published).
    pub fn of_record(subject: &Arc<str>, record: &Record<'_>) -> Option<Message> {
        Message::of_record_in(Dialect::Gnip, subject, record)
    }

    /// The message for `record` of `dialect` on `subject`, its id from the dialect's key.
    pub fn of_record_in(
        dialect: Dialect,
        subject: &Arc<str>,
        record: &Record<'_>,
    ) -> Option<Message> {
        // The dialect's own key and time (a v2 record's time is inside `data`).
        let (key, time) = dialect.record_key_and_time(record)?;
        Some(Message {
            subject: Arc::clone(subject),
            id: key.message_id(),
            payload: record.bytes().to_vec(),
            partition: 0,
            time,
        })
    }
}

/// What the server's `-ERR` means for the client: refused credentials, a refusal no server
/// will lift (permission, payload size), or trouble with this connection.
///
/// ```
/// use gnip_stream::Error;
/// use gnip_stream::unversioned::nats::server_error;
/// assert!(matches!(server_error("Authorization Violation"), Error::NatsAuth { .. }));
/// assert!(matches!(server_error("Maximum Payload Violation"), Error::JetStream { .. }));
/// assert!(matches!(server_error("Stale Connection"), Error::Io { .. }));
/// ```
pub fn server_error(text: &str) -> Error {
    let lower = text.to_ascii_lowercase();
    if lower.contains("authorization") || lower.contains("authentication") {
        Error::NatsAuth {
            message: text.into(),
        }
    } else if lower.contains("permissions violation") || lower.contains("maximum payload") {
        Error::JetStream {
            message: text.into(),
        }
    } else {
        Error::Io {
            kind: std::io::ErrorKind::ConnectionAborted,
            message: format!("NATS server error: {text}").into(),
        }
    }
}

/// What a round of replies added up to, for the publisher's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Messages JetStream stored (duplicates included).
    pub delivered: u64,
    /// Of those, the ones it had stored before.
    pub duplicates: u64,
    /// Messages that will be sent again.
    pub resends: u64,
    /// Messages JetStream refused for themselves alone, passed over
    /// ([`Publishing::take_skipped`] says which).
    pub skipped: u64,
}

/// A message JetStream refused for itself alone ([`PubAck::refuses_only_this_message`]): not
/// published, and the stream goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Its `Nats-Msg-Id` (the record's key).
    pub id: String,
    /// Its partition.
    pub partition: u32,
    /// Its payload's size in bytes.
    pub bytes: usize,
    /// What JetStream said.
    pub reason: String,
}

/// What the publisher does after a round of replies.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Go on.
    Go,
    /// The server said something that costs this connection: the next server.
    Reconnect,
    /// Refused for good: stop, and count `refused` records (beyond what is queued and in the
    /// window) as not acknowledged.
    Fail {
        /// Why.
        error: Error,
        /// Records taken out of the window by the refusal itself.
        refused: u64,
    },
}

/// What a silent connection needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// Heard from recently enough.
    Fine,
    /// Silent for the ack timeout: send a PING (then [`Publishing::ping_sent`]).
    Ping,
    /// No PONG (nor anything else) within the ack timeout of the PING: the next server.
    Dead,
}

/// How often unacknowledged messages are checked for their ack timeout.
const EXPIRE_EVERY_MS: u64 = 100;
/// The longest one wait for replies lasts, so the queue is looked at often enough.
const MAX_WAIT_MS: u64 = 50;

/// One publisher's window, liveness and replies; times are milliseconds on the caller's clock.
#[derive(Debug)]
pub struct Publishing {
    window: PublishWindow<Message>,
    ack_timeout_ms: u64,
    last_read_ms: u64,
    ping_sent_ms: Option<u64>,
    last_expire_ms: u64,
    acks: Vec<(u64, PubAck)>,
    errors: Vec<String>,
    /// Per partition, the latest record time JetStream acknowledged.
    acked: std::collections::BTreeMap<u32, i64>,
    skipped: Vec<Skipped>,
}

impl Publishing {
    /// At most `capacity` unacknowledged messages; each resent after `ack_timeout`.
    pub fn new(capacity: usize, ack_timeout: Duration) -> Self {
        let ack_timeout_ms = ack_timeout.as_millis() as u64;
        Publishing {
            window: PublishWindow::new(capacity, ack_timeout_ms),
            ack_timeout_ms,
            last_read_ms: 0,
            ping_sent_ms: None,
            last_expire_ms: 0,
            acks: Vec::new(),
            errors: Vec::new(),
            acked: std::collections::BTreeMap::new(),
            skipped: Vec::new(),
        }
    }

    /// Per partition, the latest record time JetStream acknowledged so far (a restart sizes
    /// its backfill from it; with a publish window, a record a little older may still be in
    /// flight: the restart plan's extra minute covers it).
    pub fn acked_times(&self) -> &std::collections::BTreeMap<u32, i64> {
        &self.acked
    }

    /// Whether another message fits in the window.
    pub fn has_room(&self) -> bool {
        self.window.has_room()
    }

    /// Whether nothing is unacknowledged.
    pub fn is_empty(&self) -> bool {
        self.window.is_empty()
    }

    /// Takes `m` into the window (sent at the next [`Publishing::next_to_send`]).
    pub fn push(&mut self, m: Message) {
        self.window.push(m);
    }

    /// The next message due at `now_ms`, with the token its reply subject carries.
    pub fn next_to_send(&mut self, now_ms: u64) -> Option<(u64, &Message)> {
        self.window.next_to_send(now_ms)
    }

    /// How long to wait for replies at `now_ms`: until the next message falls due, 1 to 50 ms.
    pub fn wait(&self, now_ms: u64) -> Duration {
        let ms = self
            .window
            .next_deadline_ms()
            .map(|d| d.saturating_sub(now_ms))
            .unwrap_or(MAX_WAIT_MS)
            .clamp(1, MAX_WAIT_MS);
        Duration::from_millis(ms)
    }

    /// A connection is up at `now_ms`: everything unacknowledged is sent again on it. Returns
    /// how many.
    pub fn on_connected(&mut self, now_ms: u64) -> usize {
        self.last_read_ms = now_ms;
        self.ping_sent_ms = None;
        self.window.resend_all()
    }

    /// Bytes arrived at `now_ms`: the server is alive.
    pub fn on_read(&mut self, now_ms: u64) {
        self.last_read_ms = now_ms;
        self.ping_sent_ms = None;
    }

    /// One server operation read (acks are `MSG`s on the inbox, the token its last subject
    /// token); kept until [`Publishing::settle`].
    pub fn on_op(&mut self, op: &ServerOp<'_>) {
        match op {
            ServerOp::Msg {
                subject,
                headers,
                payload,
                ..
            } => {
                if let Some(token) = subject.rsplit('.').next().and_then(|t| t.parse().ok()) {
                    self.acks.push((token, PubAck::parse(*headers, payload)));
                }
            }
            ServerOp::Err(text) => self.errors.push((*text).to_owned()),
            _ => {}
        }
    }

    /// Applies the replies read since the last call.
    pub fn settle(&mut self, now_ms: u64) -> (Tally, Verdict) {
        let mut tally = Tally::default();
        for (token, ack) in std::mem::take(&mut self.acks) {
            let only_this = ack.refuses_only_this_message();
            match self.window.ack(token, &ack, now_ms) {
                Acked::Delivered {
                    duplicate, item, ..
                } => {
                    if let Some(t) = item.time {
                        let at = self.acked.entry(item.partition).or_insert(t);
                        *at = (*at).max(t);
                    }
                    tally.delivered += 1;
                    tally.duplicates += u64::from(duplicate);
                }
                Acked::Retry => tally.resends += 1,
                Acked::Refused { item, reason } if only_this => {
                    tally.skipped += 1;
                    self.skipped.push(Skipped {
                        id: item.id,
                        partition: item.partition,
                        bytes: item.payload.len(),
                        reason,
                    });
                }
                Acked::Refused { item, reason } => {
                    self.errors.clear();
                    let error = Error::JetStream {
                        message: format!(
                            "a publish to '{}' (id {}): {reason}",
                            item.subject, item.id
                        )
                        .into(),
                    };
                    return (tally, Verdict::Fail { error, refused: 1 });
                }
                Acked::Unknown => {}
            }
        }
        let mut verdict = Verdict::Go;
        for text in std::mem::take(&mut self.errors) {
            match server_error(&text) {
                e @ (Error::NatsAuth { .. } | Error::JetStream { .. }) => {
                    return (
                        tally,
                        Verdict::Fail {
                            error: e,
                            refused: 0,
                        },
                    );
                }
                _ => verdict = Verdict::Reconnect,
            }
        }
        (tally, verdict)
    }

    /// The messages passed over since the last call (for the log).
    pub fn take_skipped(&mut self) -> Vec<Skipped> {
        std::mem::take(&mut self.skipped)
    }

    /// The clock at `now_ms`: messages past their ack timeout are due again (checked every
    /// 100 ms). Returns how many.
    pub fn expire(&mut self, now_ms: u64) -> usize {
        if now_ms < self.last_expire_ms + EXPIRE_EVERY_MS {
            return 0;
        }
        self.last_expire_ms = now_ms;
        self.window.expire(now_ms)
    }

    /// Whether the connection needs a PING, or is to be given up, at `now_ms`.
    pub fn liveness(&self, now_ms: u64) -> Liveness {
        match self.ping_sent_ms {
            Some(at) if now_ms.saturating_sub(at) >= self.ack_timeout_ms => Liveness::Dead,
            None if now_ms.saturating_sub(self.last_read_ms) >= self.ack_timeout_ms => {
                Liveness::Ping
            }
            _ => Liveness::Fine,
        }
    }

    /// A PING went out at `now_ms`.
    pub fn ping_sent(&mut self, now_ms: u64) {
        self.ping_sent_ms = Some(now_ms);
    }

    /// Gives up on everything in the window; returns how many messages that was.
    pub fn abandon(&mut self) -> u64 {
        self.window.drain().len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(n: u32) -> Message {
        Message {
            subject: Arc::from("gnip.decahose.1"),
            id: format!("activity:{n}"),
            payload: format!("{{\"id\":{n}}}").into_bytes(),
            partition: 1,
            time: Some(i64::from(n)),
        }
    }

    const STORED: &[u8] = br#"{"stream":"GNIP","seq":7}"#;
    const DUPLICATE: &[u8] = br#"{"stream":"GNIP","seq":7,"duplicate":true}"#;

    fn ack<'a>(token: u64, subject: &'a mut String, payload: &'a [u8]) -> ServerOp<'a> {
        *subject = format!("_INBOX.abc.{token}");
        ServerOp::Msg {
            subject,
            sid: 1,
            reply: None,
            headers: None,
            payload,
        }
    }

    fn sent(p: &mut Publishing, now: u64) -> Vec<u64> {
        let mut tokens = Vec::new();
        while let Some((t, _)) = p.next_to_send(now) {
            tokens.push(t);
        }
        tokens
    }

    #[test]
    fn acks_add_up_to_delivered_and_duplicates() {
        let mut p = Publishing::new(8, Duration::from_secs(5));
        p.push(msg(1));
        p.push(msg(2));
        let tokens = sent(&mut p, 0);
        assert_eq!(tokens.len(), 2);
        let (mut s1, mut s2) = (String::new(), String::new());
        p.on_op(&ack(tokens[0], &mut s1, STORED));
        p.on_op(&ack(tokens[1], &mut s2, DUPLICATE));
        let (tally, verdict) = p.settle(10);
        assert_eq!(
            tally,
            Tally {
                delivered: 2,
                duplicates: 1,
                resends: 0,
                skipped: 0
            }
        );
        assert_eq!(verdict, Verdict::Go);
        assert!(p.is_empty());
        // The partition's checkpoint: the latest record time acknowledged (msg n has time n).
        assert_eq!(p.acked_times().get(&1), Some(&2));
        // A late second ack is nothing.
        p.on_op(&ack(tokens[0], &mut s1, STORED));
        assert_eq!(p.settle(20), (Tally::default(), Verdict::Go));
    }

    #[test]
    fn a_retryable_refusal_is_a_resend_and_a_final_one_fails_counting_the_message() {
        let mut p = Publishing::new(8, Duration::from_secs(5));
        p.push(msg(1));
        p.push(msg(2));
        let tokens = sent(&mut p, 0);
        let (mut s1, mut s2) = (String::new(), String::new());
        let busy = br#"{"error":{"code":503,"err_code":10077,"description":"duplicate message id is in process"}}"#;
        p.on_op(&ack(tokens[0], &mut s1, busy));
        let (tally, verdict) = p.settle(1);
        assert_eq!((tally.resends, verdict), (1, Verdict::Go));
        // A full stream (discard new) refuses every message: a stop, not a skip.
        let full =
            br#"{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}"#;
        p.on_op(&ack(tokens[1], &mut s2, full));
        match p.settle(2) {
            (_, Verdict::Fail { error, refused }) => {
                assert_eq!(refused, 1);
                assert!(error.to_string().contains("activity:2"), "{error}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(p.abandon(), 1, "the first is still in the window");
    }

    #[test]
    fn a_message_refused_for_itself_alone_is_passed_over_and_the_next_goes_on() {
        let mut p = Publishing::new(8, Duration::from_secs(5));
        for n in 1..=3 {
            p.push(msg(n));
        }
        let tokens = sent(&mut p, 0);
        let mut s = [String::new(), String::new(), String::new()];
        let [s0, s1, s2] = &mut s;
        let too_big = br#"{"error":{"code":400,"err_code":10054,"description":"message size exceeds maximum allowed"}}"#;
        p.on_op(&ack(tokens[0], s0, br#"{"stream":"GNIP","seq":1}"#));
        p.on_op(&ack(tokens[1], s1, too_big));
        p.on_op(&ack(tokens[2], s2, br#"{"stream":"GNIP","seq":2}"#));
        let (tally, verdict) = p.settle(1);
        assert_eq!(verdict, Verdict::Go);
        assert_eq!((tally.delivered, tally.skipped), (2, 1));
        let skipped = p.take_skipped();
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].id, msg(2).id);
        assert_eq!(skipped[0].bytes, msg(2).payload.len());
        assert!(skipped[0].reason.contains("exceeds maximum"));
        assert!(p.take_skipped().is_empty(), "said once");
        assert_eq!(p.abandon(), 0, "nothing left in the window");
    }

    #[test]
    fn server_errors_fail_or_cost_the_connection() {
        let mut p = Publishing::new(8, Duration::from_secs(5));
        p.on_op(&ServerOp::Err("Stale Connection"));
        assert_eq!(p.settle(0).1, Verdict::Reconnect);
        p.on_op(&ServerOp::Err("Permissions Violation for Publish to \"x\""));
        assert!(matches!(
            p.settle(0).1,
            Verdict::Fail {
                error: Error::JetStream { .. },
                refused: 0
            }
        ));
        p.on_op(&ServerOp::Err("Authorization Violation"));
        assert!(matches!(
            p.settle(0).1,
            Verdict::Fail {
                error: Error::NatsAuth { .. },
                ..
            }
        ));
    }

    #[test]
    fn a_silent_server_gets_a_ping_then_is_given_up() {
        let mut p = Publishing::new(8, Duration::from_millis(500));
        p.on_connected(1_000);
        assert_eq!(p.liveness(1_499), Liveness::Fine);
        assert_eq!(p.liveness(1_500), Liveness::Ping);
        p.ping_sent(1_500);
        assert_eq!(p.liveness(1_999), Liveness::Fine);
        assert_eq!(p.liveness(2_000), Liveness::Dead);
        // Anything read (the PONG) revives it.
        p.on_read(1_900);
        assert_eq!(p.liveness(2_000), Liveness::Fine);
    }

    #[test]
    fn unacknowledged_messages_are_resent_after_the_ack_timeout_and_on_a_new_connection() {
        let mut p = Publishing::new(8, Duration::from_millis(500));
        p.push(msg(1));
        assert_eq!(sent(&mut p, 0).len(), 1);
        assert_eq!(p.expire(400), 0);
        assert_eq!(p.expire(450), 0, "checked every 100 ms");
        assert_eq!(p.expire(600), 1);
        assert_eq!(sent(&mut p, 600).len(), 1);
        assert_eq!(p.on_connected(700), 1);
        assert_eq!(sent(&mut p, 700).len(), 1);
    }

    #[test]
    fn the_wait_for_replies_ends_when_the_next_message_falls_due() {
        let mut p = Publishing::new(8, Duration::from_millis(30));
        assert_eq!(p.wait(0), Duration::from_millis(50));
        p.push(msg(1));
        sent(&mut p, 100);
        assert_eq!(p.wait(110), Duration::from_millis(20));
        assert_eq!(p.wait(500), Duration::from_millis(1));
    }
}

//! JetStream's answers to a publish, read sans-IO: an acknowledgement (stored, or a duplicate
//! within the window), a refusal with JetStream's error code, or no responders (a stream leader
//! election: not a refusal, publish again).

use super::parser::Headers;

/// What the reply to a publish said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PubAck {
    /// Stored (or already stored: `duplicate`, which counts as delivered).
    Stored {
        /// The stream that stored it.
        stream: String,
        /// Its sequence there.
        seq: u64,
        /// The message id was seen within the duplicate window: stored once, earlier.
        duplicate: bool,
    },
    /// JetStream refused it (`{"error":{"code":…,"err_code":…,"description":…}}`).
    Refused {
        /// The HTTP-like code (400, 503, …).
        code: u16,
        /// JetStream's own error code, when given.
        err_code: Option<u64>,
        /// What it said.
        description: String,
    },
    /// No server answered for the subject (status 503 in the reply's headers): during a leader
    /// election, or when no stream captures the subject.
    NoResponders,
    /// A reply that is none of these.
    Malformed(String),
}

impl PubAck {
    /// Reads a reply: its header block (if an `HMSG`) and payload. The error is looked at
    /// before the sequence: an error reply can carry `"seq":0`.
    pub fn parse(headers: Option<&[u8]>, payload: &[u8]) -> PubAck {
        if let Some(h) = headers.and_then(Headers::parse) {
            if h.status == Some(503) && payload.is_empty() {
                return PubAck::NoResponders;
            }
        }
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(payload) else {
            return PubAck::Malformed(
                String::from_utf8_lossy(&payload[..payload.len().min(200)]).into_owned(),
            );
        };
        if let Some(e) = v.get("error") {
            return PubAck::Refused {
                code: e.get("code").and_then(|c| c.as_u64()).unwrap_or(0) as u16,
                err_code: e.get("err_code").and_then(|c| c.as_u64()),
                description: e
                    .get("description")
                    .and_then(|d| d.as_str())
                    .unwrap_or("")
                    .to_owned(),
            };
        }
        match (
            v.get("stream").and_then(|s| s.as_str()),
            v.get("seq").and_then(|s| s.as_u64()),
        ) {
            (Some(stream), Some(seq)) => PubAck::Stored {
                stream: stream.to_owned(),
                seq,
                duplicate: v
                    .get("duplicate")
                    .and_then(|d| d.as_bool())
                    .unwrap_or(false),
            },
            _ => PubAck::Malformed(v.to_string()),
        }
    }

    /// Whether the record is safely stored (a duplicate too).
    pub fn is_delivered(&self) -> bool {
        matches!(self, PubAck::Stored { .. })
    }

    /// Whether publishing the same message again (same `Nats-Msg-Id`) is the answer: every
    /// answer but a final refusal is (no responders, 503 during an election, "duplicate
    /// message id is in process" while the first copy is being replicated, a reply that makes
    /// no sense).
    pub fn is_retryable(&self) -> bool {
        !self.is_delivered() && !self.is_final()
    }

    /// A final refusal about this message alone (audit M2): larger than the stream's
    /// `max_msg_size` (JetStream error 10054) or its headers over the stream's limit (10097).
    /// The next message may well be taken; any other final refusal (permission, a full or
    /// sealed stream) would refuse every message.
    pub fn refuses_only_this_message(&self) -> bool {
        let PubAck::Refused {
            err_code,
            description,
            ..
        } = self
        else {
            return false;
        };
        let d = description.to_ascii_lowercase();
        matches!(err_code, Some(10054 | 10097))
            || d.contains("message size exceeds maximum")
            || d.contains("header size exceeds maximum")
    }

    /// A refusal that sending again cannot change: the message is too large, the stream is
    /// full or sealed, or the account may not publish there.
    pub fn is_final(&self) -> bool {
        let PubAck::Refused { description, .. } = self else {
            return false;
        };
        let d = description.to_ascii_lowercase();
        [
            "maximum",
            "exceeds",
            "sealed",
            "permission",
            "not allowed",
            "too large",
        ]
        .iter()
        .any(|p| d.contains(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_duplicates_errors_and_no_responders() {
        assert_eq!(
            PubAck::parse(None, br#"{"stream":"GNIP","seq":42}"#),
            PubAck::Stored {
                stream: "GNIP".into(),
                seq: 42,
                duplicate: false
            }
        );
        let dup = PubAck::parse(None, br#"{"stream":"GNIP","seq":42,"duplicate":true}"#);
        assert!(
            dup.is_delivered()
                && matches!(
                    dup,
                    PubAck::Stored {
                        duplicate: true,
                        ..
                    }
                )
        );
        // An error ack with "seq":0: the error decides.
        let err = PubAck::parse(
            None,
            br#"{"error":{"code":400,"err_code":10054,"description":"maximum payload exceeded"},"stream":"GNIP","seq":0}"#,
        );
        assert_eq!(
            err,
            PubAck::Refused {
                code: 400,
                err_code: Some(10054),
                description: "maximum payload exceeded".into()
            }
        );
        assert!(!err.is_delivered() && !err.is_retryable());
        let none = PubAck::parse(Some(b"NATS/1.0 503\r\n\r\n"), b"");
        assert_eq!(none, PubAck::NoResponders);
        assert!(none.is_retryable());
        let leaderless = PubAck::parse(
            None,
            br#"{"error":{"code":503,"description":"JetStream system temporarily unavailable"}}"#,
        );
        assert!(leaderless.is_retryable());
        // Replication of the first copy still under way: again, later.
        let in_process = PubAck::parse(
            None,
            br#"{"error":{"code":500,"err_code":10051,"description":"duplicate message id is in process"}}"#,
        );
        assert!(in_process.is_retryable() && !in_process.is_final());
        assert!(PubAck::parse(None, b"garbage").is_retryable());
        assert!(matches!(
            PubAck::parse(None, b"garbage"),
            PubAck::Malformed(_)
        ));
        assert!(matches!(PubAck::parse(None, b"{}"), PubAck::Malformed(_)));
    }
}

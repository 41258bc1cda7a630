//! The service's message texts and what each means: the client reads them with [`meaning`] and
//! [`error_message`], the simulator writes them with [`system_message`] and [`error_body`].
//! Texts are protocol.md's, verbatim where it quotes them.

use crate::core::Level;

use super::time;

/// The 406 body's message when a request lacks `Accept-Encoding: gzip` (verbatim).
pub const NEEDS_GZIP: &str = "This connection requires compression. To enable compression, send an 'Accept-Encoding: gzip' header in your request and be ready to uncompress the stream as it is read on the client end.";
/// The 429 body's message.
pub const EXCEEDED_RATE_LIMIT: &str = "Exceeded rate limit";
/// How a "too many connections" system message starts.
pub const FORCED_DISCONNECT: &str = "Forced Disconnect";
/// How a slow-reader system message starts ("… because it reached the maximum allowed backup").
pub const SLOW_READER: &str = "Force closing connection";
/// Replay's completion message, and the start of its two variants.
pub const REPLAY_COMPLETED: &str = "Replay Request Completed";
/// Replay completed, but some minutes failed (`minutes_failed`).
pub const REPLAY_COMPLETED_WITH_ERRORS: &str = "Replay Request Completed with Errors";
/// Replay stopped early (`unprocessed_range`).
pub const REPLAY_FAILED: &str = "Replay Request Failed to Complete";
/// The prefix shared by every Replay completion message.
pub const REPLAY_REQUEST: &str = "Replay Request";
/// Recovery's completion message (and the start of its variants).
pub const RECOVERY_COMPLETED: &str = "Recovery Request Completed";
/// The prefix shared by every Recovery completion message.
pub const RECOVERY_REQUEST: &str = "Recovery Request";

/// "Forced Disconnect: Too many connections. (Allowed Connections = N)".
pub fn forced_disconnect(allowed: usize) -> String {
    format!("{FORCED_DISCONNECT}: Too many connections. (Allowed Connections = {allowed})")
}

/// The slow-reader message: the service closes a connection whose backlog is full.
pub fn slow_reader(ip: &str, buffer_bytes: usize) -> String {
    format!(
        "{SLOW_READER} to {ip} because it reached the maximum allowed backup (buffer size is {buffer_bytes})."
    )
}

/// What a system message means to a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Meaning {
    /// The service is closing this connection (too many connections, or a full backlog).
    ClosingConnection,
    /// The service has disconnected this stream (X API v2's in-stream `errors`): the
    /// connection ends here and the client reconnects at once.
    Disconnect,
    /// A Replay's or a Recovery's job is done (completely, with failed minutes, or cut short).
    ReplayCompleted,
    /// Anything else: pass it on.
    Notice,
}

/// What the system message `text` at `level` means.
///
/// ```
/// use gnip_stream::core::Level;
/// use gnip_stream::unversioned::protocol::messages::{Meaning, meaning};
/// assert_eq!(meaning(Level::Error, "Forced Disconnect: Too many connections. (Allowed Connections = 2)"), Meaning::ClosingConnection);
/// assert_eq!(meaning(Level::Info, "Replay Request Completed"), Meaning::ReplayCompleted);
/// assert_eq!(meaning(Level::Warn, "anything"), Meaning::Notice);
/// ```
pub fn meaning(level: Level, text: &str) -> Meaning {
    match level {
        Level::Error if text.starts_with(FORCED_DISCONNECT) || text.starts_with(SLOW_READER) => {
            Meaning::ClosingConnection
        }
        Level::Info if text.starts_with(REPLAY_REQUEST) || text.starts_with(RECOVERY_REQUEST) => {
            Meaning::ReplayCompleted
        }
        _ => Meaning::Notice,
    }
}

/// A system message as the service writes one: `{"<level>":{"message":…,"sent":…<extra>}}`.
/// `extra` is more members, each starting with `,` (e.g. `,"activity_count":3`).
pub fn system_message(level: Level, message: &str, sent: i64, extra: &str) -> String {
    format!(
        r#"{{"{}":{{"message":{},"sent":"{}"{extra}}}}}"#,
        level.name(),
        serde_json::Value::String(message.to_owned()),
        time::iso8601(sent)
    )
}

/// An error body as the service writes one: `{"error":{"message":…,"sent":…,"transactionId":…}}`.
pub fn error_body(message: &str, sent: i64, transaction_id: &str) -> String {
    format!(
        r#"{{"error":{{"message":{},"sent":"{}","transactionId":{}}}}}"#,
        serde_json::Value::String(message.to_owned()),
        time::iso8601(sent),
        serde_json::Value::String(transaction_id.to_owned())
    )
}

/// The service's message from an error body: its JSON `error.message`, else the start of the
/// body (at most 300 bytes, trimmed) when it is something else.
pub fn error_message(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| {
            String::from_utf8_lossy(&body[..body.len().min(300)])
                .trim()
                .to_owned()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_simulator_writes_the_client_reads() {
        let m = system_message(Level::Error, &forced_disconnect(2), 0, "");
        assert_eq!(
            m,
            r#"{"error":{"message":"Forced Disconnect: Too many connections. (Allowed Connections = 2)","sent":"1970-01-01T00:00:00+00:00"}}"#
        );
        let kind = crate::core::classify(m.as_bytes());
        let crate::core::RecordKind::System(s) = kind else {
            panic!("{kind:?}")
        };
        assert_eq!(meaning(s.level(), &s.message()), Meaning::ClosingConnection);
        assert_eq!(
            meaning(Level::Error, &slow_reader("1.2.3.4", 10)),
            Meaning::ClosingConnection
        );
        for done in [
            REPLAY_COMPLETED,
            REPLAY_COMPLETED_WITH_ERRORS,
            REPLAY_FAILED,
        ] {
            assert_eq!(meaning(Level::Info, done), Meaning::ReplayCompleted);
        }
        // The level matters: an info that happens to start alike is not a disconnect.
        assert_eq!(meaning(Level::Info, FORCED_DISCONNECT), Meaning::Notice);
        let body = error_body("Exceeded rate limit", 60, "sim-1");
        assert_eq!(error_message(body.as_bytes()), EXCEEDED_RATE_LIMIT);
        assert_eq!(error_message(b"  <html>busy</html>\n"), "<html>busy</html>");
    }
}

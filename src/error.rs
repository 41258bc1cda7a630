//! The crate's one error type, with the kinds the retry loop needs.

use std::fmt;

/// Everything that can go wrong in `gnip-stream`.
///
/// The decoder errors are all about the bytes on the wire; each says which rule of RFC 1952 or
/// RFC 1951 the stream broke. A decoder that returned an error stays failed (every later call
/// returns [`Error::DecoderFailed`]) until it is reset for a new connection: a corrupt gzip
/// stream cannot be resynchronised, the connection has to start again.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The first two bytes of a gzip member were not `1f 8b`.
    NotGzip {
        /// The two bytes seen instead.
        found: [u8; 2],
    },
    /// The gzip header names a compression method other than deflate (8).
    UnsupportedMethod {
        /// The method byte.
        method: u8,
    },
    /// The gzip header sets flag bits RFC 1952 reserves; a decoder must refuse those.
    ReservedFlags {
        /// The whole flag byte.
        flags: u8,
    },
    /// The header's own CRC16 (FHCRC) does not match the header bytes.
    HeaderCrcMismatch {
        /// The value in the stream.
        expected: u16,
        /// The value computed over the header.
        actual: u16,
    },
    /// The deflate data is corrupt (RFC 1951 violated).
    CorruptDeflate,
    /// The trailer's CRC32 does not match the inflated data (only checked when CRC checking is on).
    CrcMismatch {
        /// The value in the trailer.
        expected: u32,
        /// The value computed over the inflated bytes.
        actual: u32,
    },
    /// The trailer's ISIZE does not match the number of inflated bytes (mod 2^32).
    SizeMismatch {
        /// The value in the trailer.
        expected: u32,
        /// The inflated length, mod 2^32.
        actual: u32,
    },
    /// The input ended inside a gzip member (header, deflate body or trailer).
    ///
    /// For a live stream this is how every connection ends, since its trailer never comes; for
    /// a finite stream (Replay) it means data is missing.
    Truncated,
    /// The decoder was used again after it had returned an error, without a reset.
    DecoderFailed,
    /// A configuration value is out of range.
    InvalidConfig {
        /// What is wrong, for a person.
        reason: &'static str,
    },
    /// The service answered with an HTTP error status; `message` is its error body's
    /// `error.message` (or the start of the body when it is not the usual JSON).
    Http {
        /// The status code.
        status: u16,
        /// What the service said.
        message: Box<str>,
    },
    /// The network failed: connecting, reading or writing.
    Io {
        /// What kind of failure.
        kind: std::io::ErrorKind,
        /// The underlying error's text.
        message: Box<str>,
    },
    /// TLS failed in a way a retry cannot fix, e.g. an untrusted certificate.
    Tls {
        /// The underlying error's text.
        message: Box<str>,
    },
    /// Nothing arrived, not even a heartbeat, for this long.
    Stalled {
        /// How long the stream was silent.
        idle: std::time::Duration,
    },
    /// Credentials would go over plain `http://` to a host that is not loopback: refused.
    InsecureTransport {
        /// The host that was refused.
        host: Box<str>,
    },
    /// A partition's thread panicked (in the handler, most likely); the partition ended.
    Panicked {
        /// The panic's message.
        message: Box<str>,
    },
    /// The URL or a file named in the configuration is not usable.
    BadInput {
        /// What is wrong, for a person.
        reason: Box<str>,
    },
    /// The NATS server refused the credentials (`-ERR 'Authorization Violation'`).
    #[cfg(feature = "jetstream")]
    NatsAuth {
        /// What the server said.
        message: Box<str>,
    },
    /// JetStream refused for good: no stream captures the subject, permission denied, payload
    /// too large, or records left unacknowledged.
    #[cfg(feature = "jetstream")]
    JetStream {
        /// What was refused and why.
        message: Box<str>,
    },
}

impl Error {
    /// The same error (the same kind, so the same exit status), its text followed by `more`:
    /// what the caller knows that the error cannot (what a failed step leaves behind). Kinds
    /// without a text of their own are returned as they are.
    pub fn with_note(self, more: &str) -> Error {
        let add = |m: Box<str>| format!("{m}; {more}").into();
        match self {
            Error::Http { status, message } => Error::Http {
                status,
                message: add(message),
            },
            Error::Io { kind, message } => Error::Io {
                kind,
                message: add(message),
            },
            Error::Tls { message } => Error::Tls {
                message: add(message),
            },
            Error::BadInput { reason } => Error::BadInput {
                reason: add(reason),
            },
            other => other,
        }
    }

    /// Whether a new connection can be expected to help: the policy table
    /// ([`action_for`](crate::protocol::policy::action_for)) answers, for the ending this error
    /// stands for. Corrupt or truncated data on one connection says nothing about the next one,
    /// so the stream errors are retryable; a bad configuration is not.
    pub fn is_retryable(&self) -> bool {
        use crate::protocol::policy::{Action, action_for, ending_for};
        ending_for(self).is_some_and(|e| action_for(e) != Action::Stop)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotGzip { found } => write!(
                f,
                "not a gzip stream: expected magic 1f 8b, found {:02x} {:02x}",
                found[0], found[1]
            ),
            Error::UnsupportedMethod { method } => {
                write!(
                    f,
                    "unsupported gzip compression method {method} (only 8, deflate)"
                )
            }
            Error::ReservedFlags { flags } => {
                write!(
                    f,
                    "gzip header sets reserved flag bits (flags {flags:#04x})"
                )
            }
            Error::HeaderCrcMismatch { expected, actual } => write!(
                f,
                "gzip header crc16 mismatch: header says {expected:#06x}, computed {actual:#06x}"
            ),
            Error::CorruptDeflate => f.write_str("corrupt deflate data in gzip stream"),
            Error::CrcMismatch { expected, actual } => write!(
                f,
                "gzip crc32 mismatch: trailer says {expected:#010x}, computed {actual:#010x}"
            ),
            Error::SizeMismatch { expected, actual } => write!(
                f,
                "gzip size mismatch: trailer says {expected} bytes (mod 2^32), inflated {actual}"
            ),
            Error::Truncated => f.write_str("gzip stream ended inside a member"),
            Error::DecoderFailed => {
                f.write_str("decoder used after an earlier error; reset it for a new stream")
            }
            Error::InvalidConfig { reason } => write!(f, "invalid configuration: {reason}"),
            Error::Http { status, message } => write!(f, "http status {status}: {message}"),
            Error::Io { kind, message } => write!(f, "network error ({kind}): {message}"),
            Error::Tls { message } => write!(f, "tls error: {message}"),
            Error::Stalled { idle } => {
                write!(
                    f,
                    "stream stalled: nothing received for {:.1} s",
                    idle.as_secs_f64()
                )
            }
            Error::InsecureTransport { host } => write!(
                f,
                "refusing to send credentials over plain http to {host}: use https (plain http is allowed to loopback only)"
            ),
            Error::Panicked { message } => write!(f, "partition thread panicked: {message}"),
            Error::BadInput { reason } => f.write_str(reason),
            #[cfg(feature = "jetstream")]
            Error::NatsAuth { message } => write!(f, "NATS refused the credentials: {message}"),
            #[cfg(feature = "jetstream")]
            Error::JetStream { message } => write!(f, "JetStream refused: {message}"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Errors travel through every `Result` on the hot path: keep them small (ureq's
    /// `ensure_error_size`).
    #[test]
    fn error_is_small() {
        assert!(
            std::mem::size_of::<Error>() <= 24,
            "{}",
            std::mem::size_of::<Error>()
        );
    }

    #[test]
    fn display_is_lowercase_and_specific() {
        let e = Error::NotGzip {
            found: [0x7b, 0x22],
        };
        assert_eq!(
            e.to_string(),
            "not a gzip stream: expected magic 1f 8b, found 7b 22"
        );
        let e = Error::CrcMismatch {
            expected: 1,
            actual: 2,
        };
        assert_eq!(
            e.to_string(),
            "gzip crc32 mismatch: trailer says 0x00000001, computed 0x00000002"
        );
        assert!(Error::Truncated.is_retryable());
        assert!(!Error::InvalidConfig { reason: "x" }.is_retryable());
        let http = |status| Error::Http {
            status,
            message: "m".into(),
        };
        assert!(http(503).is_retryable() && http(429).is_retryable());
        assert!(!http(401).is_retryable() && !http(406).is_retryable());
        assert_eq!(http(401).to_string(), "http status 401: m");
    }
}

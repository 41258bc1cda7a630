//! NATS and JetStream, sans-IO (feature `jetstream`): the server's operations parsed from bytes
//! in any pieces, the client's operations written, and JetStream's publish acknowledgements
//! read. The first layer of the JetStream delivery (issue 14); the blocking client over TCP and
//! TLS, the publisher and the partition leases are still to come.
//!
//! | file | job |
//! |---|---|
//! | `parser.rs` | [`Parser`]: `INFO`, `MSG`, `HMSG`, `PING`, `PONG`, `+OK`, `-ERR`; [`Headers`] |
//! | `encode.rs` | `CONNECT`, `PUB`, `HPUB`, `SUB`, `UNSUB`, `PING`, `PONG`, with checked subjects |
//! | `jetstream.rs` | [`PubAck`]: stored, duplicate, refused (error before `seq`), no responders |
//!
//! ```
//! use gnip_stream::nats::{encode, Parser, PubAck, ServerOp};
//! let mut wire = Vec::new();
//! encode::publish_with_headers(&mut wire, "gnip.powertrack.0", Some("_INBOX.1"),
//!     &[("Nats-Msg-Id", "activity:1")], b"{\"id\":1}")?;
//! let mut acks = Vec::new();
//! Parser::new(1 << 20).feed(b"MSG _INBOX.1 1 27\r\n{\"stream\":\"GNIP\",\"seq\":1}  \r\n", |op| {
//!     if let ServerOp::Msg { headers, payload, .. } = op {
//!         acks.push(PubAck::parse(headers, payload));
//!     }
//! })?;
//! assert!(acks[0].is_delivered());
//! # Ok::<(), gnip_stream::Error>(())
//! ```

pub mod encode;
mod jetstream;
mod parser;

pub use jetstream::PubAck;
pub use parser::{Headers, MAX_CONTROL_LINE, Parser, ServerOp};

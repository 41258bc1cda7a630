//! NATS and JetStream, sans-IO (feature `jetstream`): the server's operations parsed from bytes
//! in any pieces, the client's operations written, and JetStream's publish acknowledgements
//! read, the JetStream API's requests and replies, the publish window and the partition
//! leases. The blocking client that wires them to sockets and threads is the client's
//! `jetstream` module.
//!
//! | file | job |
//! |---|---|
//! | `parser.rs` | [`Parser`]: `INFO`, `MSG`, `HMSG`, `PING`, `PONG`, `+OK`, `-ERR`; [`Headers`] |
//! | `encode.rs` | `CONNECT`, `PUB`, `HPUB`, `SUB`, `UNSUB`, `PING`, `PONG`, with checked subjects |
//! | `jetstream.rs` | [`PubAck`]: stored, duplicate, refused (error before `seq`), no responders |
//! | `api.rs` | JetStream API: stream lookup, stream and bucket creation, a key's last message |
//! | `servers.rs` | the server list, `INFO`, the subject template |
//! | `window.rs` | [`PublishWindow`]: bounded, acks by token, resends on timeout and reconnect |
//! | `lease.rs` | [`LeaseTable`]: keys, acquire/renew/lose, the backfill of a gained partition |
//!
//! ```
//! use gnip_stream::unversioned::nats::{encode, Parser, PubAck, ServerOp};
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

pub mod api;
pub mod encode;
mod jetstream;
pub mod lease;
mod parser;
mod publishing;
pub mod servers;
mod window;

pub use jetstream::PubAck;
pub use lease::{Gained, LeaseTable};
pub use parser::{Headers, MAX_CONTROL_LINE, MAX_PAYLOAD_CAP, Parser, ServerOp};
pub use publishing::{Liveness, Message, Publishing, Skipped, Tally, Verdict, server_error};
pub use servers::{Server, ServerInfo, SubjectTemplate};
pub use window::{
    Acked, DEFAULT_ACK_TIMEOUT_MS, DEFAULT_PUBLISH_WINDOW, PublishWindow, RETRY_DELAY_MS,
};

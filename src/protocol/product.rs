//! The service's products: URL names, partitions, connection-rate limits and the backfill
//! maximum (protocol.md, "Endpoints" and "Connection rate limits").

use std::time::Duration;

pub use super::limit::ConnectionLimit;
use super::v2::products::V2Product;

/// A streaming product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Product {
    /// PowerTrack: the filtered stream; one connection, no partitions.
    PowerTrack,
    /// Decahose (`sample10`): a 10% sample in 2 partitions.
    Decahose,
    /// Firehose: everything, in 20 partitions.
    Firehose,
    /// Compliance firehose: compliance events only, in 8 partitions.
    Compliance,
    /// An X API v2 enterprise stream (`api.x.com/2/…`).
    V2(V2Product),
}

impl Product {
    /// Every Gnip 2.0 product ([`V2Product::ALL`] lists the X API v2 ones).
    pub const ALL: [Product; 4] = [
        Product::PowerTrack,
        Product::Decahose,
        Product::Firehose,
        Product::Compliance,
    ];

    /// The name in the URL path: `powertrack`, `sample10`, `firehose`, `compliance`; for an
    /// X API v2 product its name (`firehose-en`, [`V2Product::name`]).
    pub fn path_name(self) -> &'static str {
        match self {
            Product::V2(p) => p.name(),
            Product::PowerTrack => "powertrack",
            Product::Decahose => "sample10",
            Product::Firehose => "firehose",
            Product::Compliance => "compliance",
        }
    }

    /// The Gnip product with this URL path name.
    pub fn from_path_name(name: &str) -> Option<Product> {
        Product::ALL.into_iter().find(|p| p.path_name() == name)
    }

    /// How many partitions the stream has (`partition=1..=N` is then required); `None` for
    /// PowerTrack, which has none.
    pub fn partitions(self) -> Option<u32> {
        match self {
            Product::PowerTrack => None,
            Product::Decahose => Some(2),
            Product::Firehose => Some(20),
            Product::Compliance => Some(8),
            Product::V2(p) => p.partitions(),
        }
    }

    /// Connection requests allowed per window: 60 a minute for PowerTrack, 10 a minute for the
    /// partitioned streams; X API v2's per 15 minutes ([`V2Product::connection_limit`]).
    pub fn connection_limit(self) -> ConnectionLimit {
        match self {
            Product::V2(p) => p.connection_limit(),
            Product::PowerTrack => ConnectionLimit {
                requests: 60,
                window: Duration::from_secs(60),
            },
            _ => ConnectionLimit {
                requests: 10,
                window: Duration::from_secs(60),
            },
        }
    }
}

/// The most `backfillMinutes` the service accepts (a purchased option, whole minutes 1..=5).
pub const MAX_BACKFILL_MINUTES: u8 = 5;

/// Replay's limit: 5 connection requests per 5 minutes.
pub const REPLAY_CONNECTION_LIMIT: ConnectionLimit = ConnectionLimit {
    requests: 5,
    window: Duration::from_secs(300),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_limits_match_protocol() {
        for p in Product::ALL {
            assert_eq!(Product::from_path_name(p.path_name()), Some(p));
        }
        assert_eq!(Product::from_path_name("decahose"), None);
        assert_eq!(Product::Firehose.partitions(), Some(20));
        assert_eq!(Product::PowerTrack.connection_limit().requests, 60);
        assert_eq!(Product::Decahose.connection_limit().requests, 10);
        assert_eq!(REPLAY_CONNECTION_LIMIT.window, Duration::from_secs(300));
    }
}

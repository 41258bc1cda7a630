//! A connection-rate limit as the service states one: a count of requests in a sliding window
//! (a leaf: the products of both dialects, Replay and the Rules API each name theirs).

use std::time::Duration;

/// A connection-rate limit: at most `requests` connection requests in any `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimit {
    /// Requests allowed in one window.
    pub requests: u32,
    /// The sliding window.
    pub window: Duration,
}

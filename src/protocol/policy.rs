//! Reconnection policy, sans-IO: how each connection ending is handled, how long to wait, how
//! often the service may be asked for a connection (the client's limiter and the simulator's
//! 429 are the same code), and how much to backfill. Pure functions of endings, attempt counts
//! and `Instant`s given to them; no clocks, sockets or threads.
//! Over 600 lines: about half is the unit tests of the table and the schedules, kept beside them.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::product::{ConnectionLimit, MAX_BACKFILL_MINUTES};
use crate::Error;

/// Reconnect when nothing at all, not even a heartbeat, arrived for this long: above the 30 s
/// read timeout the documentation sets (heartbeats come at least every 10 s).
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(35);
/// How often a blocked body read wakes to look at the stop flag and count idle time.
pub const DEFAULT_READ_TICK: Duration = Duration::from_millis(250);
/// How long establishing a connection may take: each of TCP connect with the TLS handshake,
/// sending the request, and receiving the response head.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest wait any schedule may be configured to (a day): longer ones are a mistake, and
/// would overflow the arithmetic of instants.
pub const MAX_BACKOFF: Duration = Duration::from_secs(86_400);

/// How a connection ended (or failed to start).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Ending {
    /// An established stream ended: the socket closed, the body ended, or a read failed.
    Dropped,
    /// No byte at all, not even a heartbeat, for the stall timeout.
    Stalled,
    /// The service said it was closing the connection ("Forced Disconnect: Too many
    /// connections", "Force closing connection … maximum allowed backup").
    ForcedDisconnect,
    /// The gzip stream broke mid-way; the next connection starts a new one.
    CorruptStream,
    /// No stream: connecting, the TLS handshake or the request failed on the network.
    NetworkError,
    /// The service answered with this HTTP status instead of a stream.
    Http(u16),
    /// The server's certificate was not trusted (or TLS failed in a way retrying cannot fix).
    TlsFailure,
    /// Replay (or Recovery) sent its completion message: the job is done.
    ReplayCompleted,
    /// The client was asked to stop (stop handle, or the handler returned `Flow::Stop`).
    Stopped,
    /// The partition's thread panicked (in the handler, most likely).
    Panicked,
    /// The service refused the connection for a reason its error body names (X API v2: the
    /// three kinds of 429, a subscription being provisioned, a filtered stream without rules).
    Refused(Refusal),
}

/// Why an X API v2 service refused a connection, as its error body says (x-api-v2.md §2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refusal {
    /// 429 `TooManyConnections`: the stream is at its connection limit; retried from 1 min,
    /// doubling (stale connections can be killed with the Connections API).
    TooManyConnections,
    /// 429 `UsageCapExceeded`: final until the period resets; no retry.
    UsageCap,
    /// Any other 429: wait until `x-rate-limit-reset` (this many seconds, at most 15 min), or
    /// on the 429 schedule when the header is missing.
    RateLimited {
        /// Seconds until the window resets, from the response's header.
        wait_secs: Option<u32>,
    },
    /// `ProvisioningSubscription`: retried after 60 s.
    Provisioning,
    /// 409 `RuleConfigurationIssue`: the filtered stream has no rules; no retry.
    NoRules,
}

impl Refusal {
    /// The HTTP status it comes with.
    pub fn status(self) -> u16 {
        match self {
            Refusal::NoRules => 409,
            Refusal::Provisioning => 409,
            _ => 429,
        }
    }
}

impl Ending {
    /// How many kinds of ending there are: the length of per-ending counters.
    pub const COUNT: usize = 10;

    /// Every ending, for counters indexed by [`Ending::index`].
    pub const ALL: [Ending; Ending::COUNT] = [
        Ending::Dropped,
        Ending::Stalled,
        Ending::ForcedDisconnect,
        Ending::CorruptStream,
        Ending::NetworkError,
        Ending::Http(0),
        Ending::TlsFailure,
        Ending::ReplayCompleted,
        Ending::Stopped,
        Ending::Panicked,
    ];

    /// A small index for per-ending counters (every HTTP status shares one).
    pub fn index(self) -> usize {
        match self {
            Ending::Dropped => 0,
            Ending::Stalled => 1,
            Ending::ForcedDisconnect => 2,
            Ending::CorruptStream => 3,
            Ending::NetworkError => 4,
            Ending::Http(_) => 5,
            Ending::TlsFailure => 6,
            Ending::ReplayCompleted => 7,
            Ending::Stopped => 8,
            Ending::Panicked => 9,
            Ending::Refused(_) => 5,
        }
    }

    /// A short lowercase name, for logs and statistics.
    pub fn name(self) -> &'static str {
        match self {
            Ending::Dropped => "dropped",
            Ending::Stalled => "stalled",
            Ending::ForcedDisconnect => "forced-disconnect",
            Ending::CorruptStream => "corrupt-stream",
            Ending::NetworkError => "network-error",
            Ending::Http(_) => "http-error",
            Ending::TlsFailure => "tls-failure",
            Ending::ReplayCompleted => "replay-completed",
            Ending::Stopped => "stopped",
            Ending::Panicked => "panicked",
            Ending::Refused(_) => "http-error",
        }
    }
}

/// The ending an error stands for, when it is one a connection can end with; `None` for
/// errors of configuration and input, which no connection attempt can cure.
pub fn ending_for(error: &Error) -> Option<Ending> {
    match error {
        Error::Http { status, .. } => Some(Ending::Http(*status)),
        Error::Io { .. } => Some(Ending::NetworkError),
        Error::Tls { .. } => Some(Ending::TlsFailure),
        Error::Stalled { .. } => Some(Ending::Stalled),
        Error::NotGzip { .. }
        | Error::UnsupportedMethod { .. }
        | Error::ReservedFlags { .. }
        | Error::HeaderCrcMismatch { .. }
        | Error::CorruptDeflate
        | Error::CrcMismatch { .. }
        | Error::SizeMismatch { .. }
        | Error::Truncated
        | Error::DecoderFailed => Some(Ending::CorruptStream),
        Error::Panicked { .. } => Some(Ending::Panicked),
        Error::InvalidConfig { .. } | Error::InsecureTransport { .. } | Error::BadInput { .. } => {
            None
        }
        #[cfg(feature = "jetstream")]
        Error::NatsAuth { .. } | Error::JetStream { .. } => None,
    }
}

/// Which backoff schedule a failure uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackoffKind {
    /// Linear: +250 ms an attempt, at most 16 s.
    Network,
    /// Exponential: 5 s, doubling, at most 320 s (HTTP 5xx).
    Http,
    /// Exponential from 60 s, doubling (HTTP 429).
    RateLimited,
}

/// What to do after an ending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Connect again at once (an established stream ended: the gap matters more than anything).
    ReconnectNow,
    /// Wait per this schedule, then connect again.
    Backoff(BackoffKind),
    /// Wait exactly this long (a rate-limit reset the service named; a provisioning pause),
    /// then connect again.
    Wait(Duration),
    /// Do not connect again: retrying cannot help, or the job is done.
    Stop,
}

/// The table: every ending and what it leads to (protocol.md, "Status codes" and
/// "Disconnects and recovery"). This is the one place the decision is made.
pub fn action_for(ending: Ending) -> Action {
    match ending {
        Ending::Dropped | Ending::Stalled | Ending::ForcedDisconnect | Ending::CorruptStream => {
            Action::ReconnectNow
        }
        Ending::NetworkError => Action::Backoff(BackoffKind::Network),
        Ending::Http(429) => Action::Backoff(BackoffKind::RateLimited),
        Ending::Http(s) if s >= 500 => Action::Backoff(BackoffKind::Http),
        // 401 (retrying only burns the rate limit), 406 (no gzip, bad Replay dates), other 4xx.
        Ending::Http(_) => Action::Stop,
        Ending::TlsFailure | Ending::ReplayCompleted | Ending::Stopped | Ending::Panicked => {
            Action::Stop
        }
        Ending::Refused(r) => refusal_action(r),
    }
}

/// What a refusal leads to (x-api-v2.md §2.6): a usage cap and a stream without rules stop;
/// too many connections backs off from 1 minute, doubling; a rate limit waits for its reset;
/// a subscription being provisioned is retried after 60 s.
pub fn refusal_action(r: Refusal) -> Action {
    match r {
        Refusal::UsageCap | Refusal::NoRules => Action::Stop,
        Refusal::TooManyConnections | Refusal::RateLimited { wait_secs: None } => {
            Action::Backoff(BackoffKind::RateLimited)
        }
        Refusal::RateLimited { wait_secs: Some(s) } => {
            Action::Wait(Duration::from_secs(u64::from(s)))
        }
        Refusal::Provisioning => Action::Wait(PROVISIONING_WAIT),
    }
}

/// How long a `ProvisioningSubscription` refusal is waited out ("try again in a minute").
pub const PROVISIONING_WAIT: Duration = Duration::from_secs(60);

/// The schedules' parameters. Defaults are the documented ones; tests may shorten them with
/// the setters. Every duration is at most [`MAX_BACKOFF`] and each base at most its cap, as
/// [`BackoffConfig::validate`] checks.
///
/// ```
/// use gnip_stream::unversioned::protocol::policy::BackoffConfig;
/// use std::time::Duration;
/// let fast = BackoffConfig::default().http_base(Duration::from_millis(100));
/// assert!(fast.validate().is_ok());
/// assert!(BackoffConfig::default().http_base(Duration::from_secs(1000)).validate().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackoffConfig {
    /// Linear step for network errors (default 250 ms).
    pub network_step: Duration,
    /// Cap for network errors (default 16 s).
    pub network_max: Duration,
    /// First wait after a 5xx (default 5 s), doubling.
    pub http_base: Duration,
    /// Cap after 5xx (default 320 s).
    pub http_max: Duration,
    /// First wait after a 429 (default 60 s), doubling.
    pub rate_limited_base: Duration,
    /// Cap after 429 (default 960 s, 16 minutes; the documentation sets none).
    pub rate_limited_max: Duration,
    /// How long a connection must last, delivering bytes, before the schedules start over
    /// (default 10 s). A server that accepts and drops at once never resets them.
    pub healthy_after: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            network_step: Duration::from_millis(250),
            network_max: Duration::from_secs(16),
            http_base: Duration::from_secs(5),
            http_max: Duration::from_secs(320),
            rate_limited_base: Duration::from_secs(60),
            rate_limited_max: Duration::from_secs(960),
            healthy_after: Duration::from_secs(10),
        }
    }
}

impl BackoffConfig {
    /// Sets [`BackoffConfig::network_step`](#structfield.network_step).
    pub fn network_step(mut self, d: Duration) -> Self {
        self.network_step = d;
        self
    }

    /// Sets [`BackoffConfig::network_max`](#structfield.network_max).
    pub fn network_max(mut self, d: Duration) -> Self {
        self.network_max = d;
        self
    }

    /// Sets [`BackoffConfig::http_base`](#structfield.http_base).
    pub fn http_base(mut self, d: Duration) -> Self {
        self.http_base = d;
        self
    }

    /// Sets [`BackoffConfig::http_max`](#structfield.http_max).
    pub fn http_max(mut self, d: Duration) -> Self {
        self.http_max = d;
        self
    }

    /// Sets [`BackoffConfig::rate_limited_base`](#structfield.rate_limited_base).
    pub fn rate_limited_base(mut self, d: Duration) -> Self {
        self.rate_limited_base = d;
        self
    }

    /// Sets [`BackoffConfig::rate_limited_max`](#structfield.rate_limited_max).
    pub fn rate_limited_max(mut self, d: Duration) -> Self {
        self.rate_limited_max = d;
        self
    }

    /// Sets [`BackoffConfig::healthy_after`](#structfield.healthy_after).
    pub fn healthy_after(mut self, d: Duration) -> Self {
        self.healthy_after = d;
        self
    }

    /// Checks every value: each at most [`MAX_BACKOFF`], each base or step at most its cap.
    pub fn validate(&self) -> Result<(), Error> {
        let all = [
            self.network_step,
            self.network_max,
            self.http_base,
            self.http_max,
            self.rate_limited_base,
            self.rate_limited_max,
            self.healthy_after,
        ];
        if all.iter().any(|d| *d > MAX_BACKOFF) {
            return Err(Error::InvalidConfig {
                reason: "a backoff duration is over a day",
            });
        }
        if self.network_step > self.network_max
            || self.http_base > self.http_max
            || self.rate_limited_base > self.rate_limited_max
        {
            return Err(Error::InvalidConfig {
                reason: "a backoff base or step is above its maximum",
            });
        }
        Ok(())
    }

    /// The wait before attempt `attempt` (1 = the first retry) of schedule `kind`, before jitter.
    pub fn delay(&self, kind: BackoffKind, attempt: u32) -> Duration {
        let attempt = attempt.max(1);
        match kind {
            BackoffKind::Network => self
                .network_step
                .saturating_mul(attempt)
                .min(self.network_max),
            BackoffKind::Http => exponential(self.http_base, attempt, self.http_max),
            BackoffKind::RateLimited => {
                exponential(self.rate_limited_base, attempt, self.rate_limited_max)
            }
        }
    }
}

fn exponential(base: Duration, attempt: u32, max: Duration) -> Duration {
    let factor = 1u32.checked_shl(attempt - 1).unwrap_or(u32::MAX);
    base.saturating_mul(factor).min(max)
}

/// Spreads a wait over ±20 % so partitions (and clients) that failed together do not all come
/// back in the same instant. `unit` is a random number in `[0, 1)`.
pub fn with_jitter(delay: Duration, unit: f64) -> Duration {
    delay.mul_f64(0.8 + 0.4 * unit.clamp(0.0, 1.0))
}

/// The reconnect decision for one partition: remembers consecutive failures per schedule and
/// forgets them once a connection has been healthy.
#[derive(Debug, Clone, Default)]
pub struct Reconnect {
    config: BackoffConfig,
    quick_drops: u32,
    attempts: [u32; 3],
}

/// What [`Reconnect::after`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Connect again after this wait (zero: at once).
    Wait(Duration, Option<BackoffKind>),
    /// Stop for good.
    Stop,
}

impl Reconnect {
    /// A fresh policy with these schedules.
    pub fn new(config: BackoffConfig) -> Self {
        Reconnect {
            config,
            quick_drops: 0,
            attempts: [0; 3],
        }
    }

    /// The schedules' parameters.
    pub fn config(&self) -> &BackoffConfig {
        &self.config
    }

    /// Decides what follows `ending`, for a connection that lasted `lasted` and did (`true`) or
    /// did not deliver any bytes. `unit` is a random number in `[0, 1)` for the jitter.
    ///
    /// An established stream that drops is reconnected at once; but when it had not been
    /// healthy (it dropped within [`BackoffConfig::healthy_after`]), only the first such drop
    /// is reconnected at once and the next ones back off on the network schedule, so a server
    /// that accepts and drops cannot cause a reconnect storm.
    pub fn after(
        &mut self,
        ending: Ending,
        lasted: Duration,
        delivered: bool,
        unit: f64,
    ) -> Decision {
        self.after_action(action_for(ending), lasted, delivered, unit)
    }

    /// [`Reconnect::after`] for an ending whose `action` a dialect's table already gave
    /// ([`Dialect::action_for`](super::dialect::Dialect::action_for)).
    pub fn after_action(
        &mut self,
        action: Action,
        lasted: Duration,
        delivered: bool,
        unit: f64,
    ) -> Decision {
        let healthy = delivered && lasted >= self.config.healthy_after;
        if healthy {
            self.quick_drops = 0;
            self.attempts = [0; 3];
        }
        match action {
            Action::Stop => Decision::Stop,
            Action::ReconnectNow if healthy => Decision::Wait(Duration::ZERO, None),
            Action::ReconnectNow => {
                self.quick_drops += 1;
                if self.quick_drops == 1 {
                    return Decision::Wait(Duration::ZERO, None);
                }
                self.backoff(BackoffKind::Network, unit)
            }
            Action::Backoff(kind) => self.backoff(kind, unit),
            Action::Wait(d) => Decision::Wait(d, Some(BackoffKind::RateLimited)),
        }
    }

    fn backoff(&mut self, kind: BackoffKind, unit: f64) -> Decision {
        let slot = match kind {
            BackoffKind::Network => 0,
            BackoffKind::Http => 1,
            BackoffKind::RateLimited => 2,
        };
        self.attempts[slot] += 1;
        let d = self.config.delay(kind, self.attempts[slot]);
        Decision::Wait(with_jitter(d, unit), Some(kind))
    }
}

/// A client-side connection-rate limiter: at most `limit.requests` connection attempts in any
/// `limit.window`. Every attempt must go through [`ConnectRateLimiter::reserve`], which no
/// backoff schedule can get around.
#[derive(Debug, Clone)]
pub struct ConnectRateLimiter {
    limit: ConnectionLimit,
    recent: VecDeque<Instant>,
    /// No attempt before this: the service said its window has no request left.
    blocked_until: Option<Instant>,
}

impl ConnectRateLimiter {
    /// A limiter with nothing booked yet.
    pub fn new(limit: ConnectionLimit) -> Self {
        ConnectRateLimiter {
            limit,
            recent: VecDeque::with_capacity(limit.requests as usize),
            blocked_until: None,
        }
    }

    /// The limit it enforces.
    pub fn limit(&self) -> ConnectionLimit {
        self.limit
    }

    /// Books the earliest moment at or after `at` when one more attempt fits the limit, and
    /// returns it. The caller must not connect before that moment.
    pub fn reserve(&mut self, at: Instant) -> Instant {
        let n = self.limit.requests.max(1) as usize;
        let mut when = self.blocked_until.map_or(at, |b| at.max(b));
        if self.recent.len() >= n {
            // The attempt n places back must have left the window.
            let oldest_in_window = self.recent[self.recent.len() - n];
            when = when.max(oldest_in_window + self.limit.window);
        }
        self.recent.push_back(when);
        while self.recent.len() > n {
            self.recent.pop_front();
        }
        when
    }

    /// What the service's `x-rate-limit-remaining` and `x-rate-limit-reset` (as time from `now`)
    /// said: with none remaining, no attempt is booked before the reset (at most one window).
    pub fn observe(&mut self, remaining: u64, reset_in: Duration, now: Instant) {
        if remaining == 0 {
            self.blocked_until = Some(now + reset_in.min(self.limit.window));
        }
    }

    /// How long after `now` until one more request fits the window (zero when one fits now):
    /// what a server puts in `Retry-After`.
    pub fn wait_for_room(&self, now: Instant) -> Duration {
        let n = self.limit.requests.max(1) as usize;
        if self.recent.len() < n {
            return Duration::ZERO;
        }
        let oldest_in_window = self.recent[self.recent.len() - n];
        (oldest_in_window + self.limit.window).saturating_duration_since(now)
    }

    /// The server's side of the same limit: admits a request at `now` (and counts it) when
    /// fewer than `limit.requests` were admitted in the window before it; `false` means 429.
    pub fn try_admit(&mut self, now: Instant) -> bool {
        while self
            .recent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.limit.window)
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= self.limit.requests as usize {
            return false;
        }
        self.recent.push_back(now);
        true
    }
}

/// `backfillMinutes` for a reconnect after `gap` (since the last byte received): the gap in
/// whole minutes rounded up, at least 1, at most `max` (the purchased maximum, 1..=5). `None`
/// when backfill is off (`max` 0).
pub fn backfill_minutes(gap: Duration, max: u8) -> Option<u8> {
    if max == 0 {
        return None;
    }
    let minutes = gap.as_nanos().div_ceil(60_000_000_000);
    Some(minutes.clamp(1, u128::from(max.min(MAX_BACKFILL_MINUTES))) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::product::Product;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_table_matches_the_protocol() {
        for e in [
            Ending::Dropped,
            Ending::Stalled,
            Ending::ForcedDisconnect,
            Ending::CorruptStream,
        ] {
            assert_eq!(action_for(e), Action::ReconnectNow, "{e:?}");
        }
        assert_eq!(
            action_for(Ending::NetworkError),
            Action::Backoff(BackoffKind::Network)
        );
        for s in [500, 502, 503, 504] {
            assert_eq!(
                action_for(Ending::Http(s)),
                Action::Backoff(BackoffKind::Http)
            );
        }
        assert_eq!(
            action_for(Ending::Http(429)),
            Action::Backoff(BackoffKind::RateLimited)
        );
        for s in [400, 401, 403, 404, 406, 410] {
            assert_eq!(action_for(Ending::Http(s)), Action::Stop, "{s}");
        }
        for e in [
            Ending::TlsFailure,
            Ending::ReplayCompleted,
            Ending::Stopped,
            Ending::Panicked,
        ] {
            assert_eq!(action_for(e), Action::Stop);
        }
        assert_eq!(
            Ending::ALL.iter().map(|e| e.index()).collect::<Vec<_>>(),
            (0..Ending::COUNT).collect::<Vec<_>>()
        );
    }

    #[test]
    fn schedules() {
        let c = BackoffConfig::default();
        let net: Vec<_> = (1..=70)
            .map(|a| c.delay(BackoffKind::Network, a).as_millis())
            .collect();
        assert_eq!(&net[..4], &[250, 500, 750, 1000]);
        assert_eq!(net[63], 16_000);
        assert_eq!(net[69], 16_000);
        let http: Vec<_> = (1..=8)
            .map(|a| c.delay(BackoffKind::Http, a).as_secs())
            .collect();
        assert_eq!(http, vec![5, 10, 20, 40, 80, 160, 320, 320]);
        let rl: Vec<_> = (1..=6)
            .map(|a| c.delay(BackoffKind::RateLimited, a).as_secs())
            .collect();
        assert_eq!(rl, vec![60, 120, 240, 480, 960, 960]);
        assert_eq!(
            c.delay(BackoffKind::Http, 200).as_secs(),
            320,
            "no overflow"
        );
        assert_eq!(
            with_jitter(Duration::from_secs(10), 0.0),
            Duration::from_secs(8)
        );
        assert_eq!(
            with_jitter(Duration::from_secs(10), 0.5),
            Duration::from_secs(10)
        );
        assert!(with_jitter(Duration::from_secs(10), 0.999_999) < Duration::from_secs(12));
    }

    #[test]
    fn accept_then_drop_backs_off_after_the_first_immediate_reconnect() {
        let mut r = Reconnect::new(BackoffConfig::default());
        let quick = Duration::from_millis(5);
        assert_eq!(
            r.after(Ending::Dropped, quick, false, 0.5),
            Decision::Wait(Duration::ZERO, None)
        );
        let waits: Vec<u128> = (0..5)
            .map(|_| match r.after(Ending::Dropped, quick, true, 0.5) {
                Decision::Wait(d, Some(BackoffKind::Network)) => d.as_millis(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(waits, vec![250, 500, 750, 1000, 1250]);
        // A healthy connection starts everything over.
        assert_eq!(
            r.after(Ending::Stalled, Duration::from_secs(11), true, 0.5),
            Decision::Wait(Duration::ZERO, None)
        );
        assert_eq!(
            r.after(Ending::Dropped, quick, true, 0.5),
            Decision::Wait(Duration::ZERO, None)
        );
        // Lasting long without a single byte is not healthy either.
        let mut r = Reconnect::new(BackoffConfig::default());
        r.after(Ending::Stalled, Duration::from_secs(60), false, 0.5);
        assert!(
            matches!(r.after(Ending::Stalled, Duration::from_secs(60), false, 0.5), Decision::Wait(d, _) if d > Duration::ZERO)
        );
    }

    #[test]
    fn http_and_rate_limit_schedules_grow_and_stop_codes_stop() {
        let mut r = Reconnect::new(BackoffConfig::default());
        let d = |x| match x {
            Decision::Wait(d, _) => d.as_secs(),
            Decision::Stop => u64::MAX,
        };
        assert_eq!(d(r.after(Ending::Http(503), Duration::ZERO, false, 0.5)), 5);
        assert_eq!(
            d(r.after(Ending::Http(503), Duration::ZERO, false, 0.5)),
            10
        );
        assert_eq!(
            d(r.after(Ending::Http(429), Duration::ZERO, false, 0.5)),
            60
        );
        assert_eq!(
            d(r.after(Ending::Http(429), Duration::ZERO, false, 0.5)),
            120
        );
        assert_eq!(
            r.after(Ending::Http(401), Duration::ZERO, false, 0.5),
            Decision::Stop
        );
        assert_eq!(
            r.after(Ending::TlsFailure, Duration::ZERO, false, 0.5),
            Decision::Stop
        );
    }

    #[test]
    fn no_schedule_gets_past_the_rate_limiter() {
        let t0 = Instant::now();
        let mut l = ConnectRateLimiter::new(Product::Decahose.connection_limit());
        // 30 attempts all wanted at once: 10 now, 10 after 60 s, 10 after 120 s.
        let booked: Vec<Instant> = (0..30).map(|_| l.reserve(t0)).collect();
        assert!(booked[..10].iter().all(|&t| t == t0));
        assert!(
            booked[10..20]
                .iter()
                .all(|&t| t == t0 + Duration::from_secs(60))
        );
        assert!(
            booked[20..]
                .iter()
                .all(|&t| t == t0 + Duration::from_secs(120))
        );
        // Any 60 s window holds at most 10, checked at every booked instant.
        for &start in &booked {
            let n = booked
                .iter()
                .filter(|&&t| t >= start && t < start + Duration::from_secs(60))
                .count();
            assert!(n <= 10, "{n}");
        }
        // Attempts spread out in time pass straight through.
        let mut l = ConnectRateLimiter::new(Product::PowerTrack.connection_limit());
        for i in 0..200u32 {
            let at = t0 + Duration::from_secs(u64::from(i));
            assert_eq!(l.reserve(at), at);
        }
        let _ = MS;
    }

    #[test]
    fn the_services_rate_limit_headers_hold_the_next_attempt_until_the_reset() {
        let t0 = Instant::now();
        let limit = ConnectionLimit {
            requests: 50,
            window: Duration::from_secs(900),
        };
        let mut l = ConnectRateLimiter::new(limit);
        assert_eq!(l.reserve(t0), t0);
        // Requests left: the headers change nothing.
        l.observe(3, Duration::from_secs(120), t0);
        assert_eq!(l.reserve(t0), t0);
        // None left (another process used the window): nothing before the reset.
        l.observe(0, Duration::from_secs(120), t0);
        let reset = t0 + Duration::from_secs(120);
        assert_eq!(l.reserve(t0), reset);
        assert_eq!(l.reserve(t0 + Duration::from_secs(60)), reset);
        assert_eq!(
            l.reserve(reset + MS),
            reset + MS,
            "after the reset, at once"
        );
        // A reset further away than one window (a wrong clock) is held to one window.
        let mut l = ConnectRateLimiter::new(limit);
        l.observe(0, Duration::from_secs(86_400), t0);
        assert_eq!(l.reserve(t0), t0 + limit.window);
    }

    #[test]
    fn the_server_admits_no_more_than_the_limit_in_any_window() {
        let t0 = Instant::now();
        let mut l = ConnectRateLimiter::new(ConnectionLimit {
            requests: 3,
            window: Duration::from_secs(10),
        });
        let admitted: Vec<bool> = (0..5).map(|_| l.try_admit(t0)).collect();
        assert_eq!(admitted, [true, true, true, false, false]);
        assert!(!l.try_admit(t0 + Duration::from_millis(9_999)));
        assert!(
            l.try_admit(t0 + Duration::from_secs(10)),
            "the window passed"
        );
    }

    #[test]
    fn errors_map_to_endings_and_retryability_follows_the_table() {
        let http = |status| Error::Http {
            status,
            message: "m".into(),
        };
        assert_eq!(ending_for(&http(503)), Some(Ending::Http(503)));
        assert_eq!(
            ending_for(&Error::CorruptDeflate),
            Some(Ending::CorruptStream)
        );
        assert_eq!(ending_for(&Error::InvalidConfig { reason: "x" }), None);
        for e in [
            http(503),
            http(429),
            Error::Truncated,
            Error::Stalled { idle: MS },
        ] {
            assert!(e.is_retryable(), "{e}");
        }
        for e in [
            http(401),
            http(406),
            Error::Tls {
                message: "x".into(),
            },
        ] {
            assert!(!e.is_retryable(), "{e}");
        }
    }

    #[test]
    fn huge_or_inverted_backoff_values_are_refused() {
        assert!(BackoffConfig::default().validate().is_ok());
        let huge = BackoffConfig::default()
            .http_max(Duration::MAX)
            .http_base(Duration::MAX);
        assert!(huge.validate().is_err());
        let inverted = BackoffConfig::default().network_step(Duration::from_secs(20));
        assert!(inverted.validate().is_err());
    }

    #[test]
    fn backfill_is_the_gap_rounded_up_within_one_and_the_maximum() {
        let m = |s: u64, max| backfill_minutes(Duration::from_secs(s), max);
        assert_eq!(m(0, 5), Some(1));
        assert_eq!(m(1, 5), Some(1));
        assert_eq!(m(60, 5), Some(1));
        assert_eq!(m(61, 5), Some(2));
        assert_eq!(m(150, 5), Some(3));
        assert_eq!(m(3600, 5), Some(5));
        assert_eq!(m(3600, 2), Some(2));
        assert_eq!(m(10, 0), None);
        assert_eq!(backfill_minutes(Duration::from_millis(60_001), 5), Some(2));
        assert_eq!(backfill_minutes(Duration::from_millis(59_999), 5), Some(1));
    }
}

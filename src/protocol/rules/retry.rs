//! What a rules client does after each answer: the status table and the two retry schedules
//! (429 with or without `Retry-After`; 5xx, 409 and network errors).

/// What a rules client does after a response status (or a network error, `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RulesAction {
    /// The answer is in: 2xx, or 422 (rejected rules are an answer, not a failure).
    Done,
    /// Wait and send the same request again, on this schedule.
    Retry(RulesRetry),
    /// Give up: 401 (refused credentials) and every other 4xx.
    Fail,
}

/// The two retry schedules of the Rules API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RulesRetry {
    /// 429: `Retry-After` when the response has it, else from 60 s, doubling.
    RateLimited,
    /// 5xx, network errors, and 409 (another rules request in progress: the service takes
    /// them one at a time; the status is not documented, and waiting is what helps):
    /// exponential from 1 s, at most 60 s.
    Trouble,
}

/// The table for rules requests.
pub fn rules_action(status: Option<u16>) -> RulesAction {
    match status {
        None => RulesAction::Retry(RulesRetry::Trouble),
        Some(200..=299 | 422) => RulesAction::Done,
        Some(429) => RulesAction::Retry(RulesRetry::RateLimited),
        Some(409) | Some(500..=599) => RulesAction::Retry(RulesRetry::Trouble),
        Some(_) => RulesAction::Fail,
    }
}

/// The rules client's retry schedules. Defaults are the documented ones; tests shorten them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RulesBackoff {
    /// First wait after a 429 without `Retry-After` (default 60 s), doubling.
    pub rate_limited_base: std::time::Duration,
    /// Cap for 429s (default 960 s).
    pub rate_limited_max: std::time::Duration,
    /// First wait after a 5xx, 409 or network error (default 1 s), doubling.
    pub trouble_base: std::time::Duration,
    /// Cap for those (default 60 s).
    pub trouble_max: std::time::Duration,
    /// Attempts of one request before giving up (default 10: about five minutes of trouble).
    pub max_attempts: u32,
}

impl Default for RulesBackoff {
    fn default() -> Self {
        use std::time::Duration;
        RulesBackoff {
            rate_limited_base: Duration::from_secs(60),
            rate_limited_max: Duration::from_secs(960),
            trouble_base: Duration::from_secs(1),
            trouble_max: Duration::from_secs(60),
            max_attempts: 10,
        }
    }
}

impl RulesBackoff {
    /// Sets the first wait after a 429 without `Retry-After`.
    pub fn rate_limited_base(mut self, d: std::time::Duration) -> Self {
        self.rate_limited_base = d;
        self
    }

    /// Sets the first wait after a 5xx, 409 or network error.
    pub fn trouble_base(mut self, d: std::time::Duration) -> Self {
        self.trouble_base = d;
        self
    }

    /// Sets how many attempts one request gets (at least 1).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// The wait before retry number `attempt` (1 = the first) on `schedule`; `retry_after` is
    /// the response's `Retry-After` in seconds, which a 429 honours when present (at most an
    /// hour).
    pub fn delay(
        &self,
        schedule: RulesRetry,
        attempt: u32,
        retry_after: Option<u64>,
    ) -> std::time::Duration {
        let doubling = |base: std::time::Duration, cap: std::time::Duration| {
            let factor = 1u32.checked_shl(attempt.max(1) - 1).unwrap_or(u32::MAX);
            base.saturating_mul(factor).min(cap)
        };
        match schedule {
            RulesRetry::RateLimited => match retry_after {
                Some(s) => std::time::Duration::from_secs(s.min(3600)),
                None => doubling(self.rate_limited_base, self.rate_limited_max),
            },
            RulesRetry::Trouble => doubling(self.trouble_base, self.trouble_max),
        }
    }
}

/// Reads a `Retry-After` header given in seconds (an HTTP date is not used by the service).
pub fn parse_retry_after(value: &str) -> Option<u64> {
    value.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn the_retry_table() {
        use std::time::Duration;
        assert_eq!(rules_action(Some(201)), RulesAction::Done);
        assert_eq!(rules_action(Some(422)), RulesAction::Done);
        assert_eq!(rules_action(Some(401)), RulesAction::Fail);
        assert_eq!(rules_action(Some(400)), RulesAction::Fail);
        assert_eq!(
            rules_action(Some(429)),
            RulesAction::Retry(RulesRetry::RateLimited)
        );
        assert_eq!(
            rules_action(Some(503)),
            RulesAction::Retry(RulesRetry::Trouble)
        );
        assert_eq!(rules_action(None), RulesAction::Retry(RulesRetry::Trouble));
        let b = RulesBackoff::default();
        let t: Vec<u64> = (1..=8)
            .map(|a| b.delay(RulesRetry::Trouble, a, None).as_secs())
            .collect();
        assert_eq!(t, vec![1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(
            b.delay(RulesRetry::RateLimited, 1, Some(7)),
            Duration::from_secs(7)
        );
        assert_eq!(
            b.delay(RulesRetry::RateLimited, 2, None),
            Duration::from_secs(120)
        );
        assert_eq!(
            b.delay(RulesRetry::Trouble, 100, None),
            Duration::from_secs(60)
        );
        assert_eq!(parse_retry_after(" 12 "), Some(12));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}

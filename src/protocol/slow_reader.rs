//! The slow-reader warning: the service drops a connection whose reader falls behind
//! ("Force closing connection … maximum allowed backup"), and a handler that takes most of
//! its thread's time is how a reader falls behind. Fed the handler time now and then, this
//! says when the share stayed above a threshold for a whole period (once), and when it came
//! back under (so a relapse is warned about again). No clock: the caller passes the times.

use std::time::Duration;

/// The share of a partition's time in the handler above which it is a slow reader: 0.5.
pub const DEFAULT_SLOW_READER_SHARE: f64 = 0.5;

/// How long the share must stay above the threshold before the warning: a minute.
pub const DEFAULT_SLOW_READER_PERIOD: Duration = Duration::from_secs(60);

/// What a sample changed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SlowReader {
    /// The share stayed above the threshold for the period: warn, with the share over it.
    Warn {
        /// The handler's share of the time since the share went above the threshold.
        share: f64,
        /// How long that is.
        over: Duration,
    },
    /// After a warning, the share came back under the threshold.
    Recovered {
        /// The share over the last sample.
        share: f64,
    },
}

/// One partition's detector.
#[derive(Debug, Clone)]
pub struct SlowReaderDetector {
    threshold: f64,
    period: Duration,
    /// The previous sample: (elapsed, handler time).
    last: Option<(Duration, Duration)>,
    /// When the share went above the threshold, and the handler time then.
    above_since: Option<(Duration, Duration)>,
    warned: bool,
}

impl SlowReaderDetector {
    /// Warns when the share stays above `threshold` for `period`.
    pub fn new(threshold: f64, period: Duration) -> Self {
        SlowReaderDetector {
            threshold,
            period,
            last: None,
            above_since: None,
            warned: false,
        }
    }

    /// Whether the last warning still stands (no recovery since).
    pub fn is_warned(&self) -> bool {
        self.warned
    }

    /// A sample: the partition's elapsed time and its handler time so far (both only grow;
    /// a sample that goes back is ignored). The share between two samples decides.
    pub fn sample(&mut self, elapsed: Duration, handler: Duration) -> Option<SlowReader> {
        let Some((t0, h0)) = self.last else {
            self.last = Some((elapsed, handler));
            return None;
        };
        if elapsed <= t0 || handler < h0 {
            return None;
        }
        self.last = Some((elapsed, handler));
        let share = (handler - h0).as_secs_f64() / (elapsed - t0).as_secs_f64();
        if share <= self.threshold {
            self.above_since = None;
            if std::mem::take(&mut self.warned) {
                return Some(SlowReader::Recovered { share });
            }
            return None;
        }
        let (since, h_since) = *self.above_since.get_or_insert((t0, h0));
        let over = elapsed - since;
        if !self.warned && over >= self.period {
            self.warned = true;
            return Some(SlowReader::Warn {
                share: (handler - h_since).as_secs_f64() / over.as_secs_f64(),
                over,
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    /// Feeds one sample a second with the handler busy `busy` of each; returns what came out.
    fn run(
        d: &mut SlowReaderDetector,
        from: u64,
        to: u64,
        busy: f64,
        h: &mut Duration,
    ) -> Vec<(u64, SlowReader)> {
        let mut out = Vec::new();
        for t in from..to {
            *h += Duration::from_secs_f64(busy);
            if let Some(e) = d.sample(s(t + 1), *h) {
                out.push((t + 1, e));
            }
        }
        out
    }

    #[test]
    fn warns_once_after_a_full_period_above_then_again_after_a_relapse() {
        let mut d = SlowReaderDetector::new(0.5, s(60));
        let mut h = Duration::ZERO;
        assert_eq!(d.sample(s(0), h), None);
        assert!(run(&mut d, 0, 30, 0.2, &mut h).is_empty());
        let warned = run(&mut d, 30, 200, 0.8, &mut h);
        assert_eq!(warned.len(), 1, "{warned:?}");
        let (at, SlowReader::Warn { share, over }) = warned[0] else {
            panic!("{warned:?}")
        };
        assert_eq!((at, over), (90, s(60)));
        assert!((share - 0.8).abs() < 1e-9);
        assert!(d.is_warned());
        let back = run(&mut d, 200, 210, 0.1, &mut h);
        assert!(
            matches!(back[..], [(201, SlowReader::Recovered { .. })]),
            "{back:?}"
        );
        let again = run(&mut d, 210, 300, 0.9, &mut h);
        assert!(
            matches!(again[..], [(270, SlowReader::Warn { .. })]),
            "{again:?}"
        );
    }

    #[test]
    fn a_dip_under_the_threshold_starts_the_period_again() {
        let mut d = SlowReaderDetector::new(0.5, s(60));
        let mut h = Duration::ZERO;
        d.sample(s(0), h);
        assert!(run(&mut d, 0, 59, 0.9, &mut h).is_empty());
        assert!(run(&mut d, 59, 60, 0.4, &mut h).is_empty());
        assert!(run(&mut d, 60, 119, 0.9, &mut h).is_empty());
        assert_eq!(run(&mut d, 119, 121, 0.9, &mut h).len(), 1);
    }

    #[test]
    fn samples_that_go_back_are_ignored() {
        let mut d = SlowReaderDetector::new(0.5, s(1));
        assert_eq!(d.sample(s(10), s(5)), None);
        assert_eq!(d.sample(s(9), s(9)), None);
        assert_eq!(d.sample(s(10), s(9)), None);
        assert!(matches!(
            d.sample(s(12), s(11)),
            Some(SlowReader::Warn { .. })
        ));
    }
}

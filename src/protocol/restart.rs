//! Restart plans: from a partition's checkpoint (the time of the last record it kept) and the
//! clock, what its first connection asks for — `backfillMinutes` sized to the gap, a Recovery
//! range beside it, and the span nothing can fetch any more — following the service's guidance
//! (backfill for gaps up to 5 minutes, Recovery for the last 24 hours; protocol.md).

use super::product::MAX_BACKFILL_MINUTES;

/// The longest gap backfill closes: 5 minutes.
pub const BACKFILL_COVERS_SECS: i64 = 60 * MAX_BACKFILL_MINUTES as i64;
/// How far back Recovery reaches: 24 hours.
pub const RECOVERY_COVERS_SECS: i64 = 24 * 3600;
/// A Recovery starts this long before the checkpoint: records of the checkpoint's own second
/// and those the previous run had not made durable come again (the archive drops what it has).
pub const RECOVERY_LEAD_SECS: i64 = 60;
/// A Recovery ends this long before the restart: the live connection's 5 minutes of backfill
/// cover the rest, with one minute of overlap.
pub const RECOVERY_TAIL_SECS: i64 = 4 * 60;
/// A Recovery that reaches back to the 24-hour edge starts this much inside it, so that the
/// moments between planning and the request arriving do not push it out.
pub const RECOVERY_EDGE_MARGIN_SECS: i64 = 120;

/// What one partition's first connection after a restart asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RestartPlan {
    /// `backfillMinutes` for the live connection's first request (0: none).
    pub backfill_minutes: u8,
    /// A Recovery to run beside the live connection: `[from, to)`, Unix seconds.
    pub recovery: Option<(i64, i64)>,
    /// The span of the gap that neither backfill nor Recovery will fetch (older than 24 hours,
    /// or any gap over 5 minutes when Recovery is off): `[from, to)`. Replay can still fetch it.
    pub unrecoverable: Option<(i64, i64)>,
}

impl RestartPlan {
    /// The plan for a partition whose last kept record is from `checkpoint` (`None`: it has
    /// none), at `now` (Unix seconds). With `recover` off, a gap over 5 minutes gets the
    /// maximum backfill and no Recovery.
    ///
    /// ```
    /// use gnip_stream::unversioned::protocol::restart::RestartPlan;
    /// let now = 1_800_000_000;
    /// assert_eq!(RestartPlan::new(None, now, true), RestartPlan::default());
    /// // 90 s: two minutes rounded up, plus one.
    /// assert_eq!(RestartPlan::new(Some(now - 90), now, true).backfill_minutes, 3);
    /// // An hour: the last 5 minutes live, the rest by Recovery.
    /// let p = RestartPlan::new(Some(now - 3600), now, true);
    /// assert_eq!((p.backfill_minutes, p.recovery), (5, Some((now - 3660, now - 240))));
    /// ```
    pub fn new(checkpoint: Option<i64>, now: i64, recover: bool) -> RestartPlan {
        let Some(checkpoint) = checkpoint else {
            return RestartPlan::default();
        };
        let gap = now.saturating_sub(checkpoint).max(0);
        if gap <= BACKFILL_COVERS_SECS {
            // Whole minutes rounded up, plus one, at most 5.
            let minutes = (gap + 59) / 60 + 1;
            return RestartPlan {
                backfill_minutes: minutes.min(i64::from(MAX_BACKFILL_MINUTES)) as u8,
                ..RestartPlan::default()
            };
        }
        let live_from = now - BACKFILL_COVERS_SECS;
        if !recover {
            return RestartPlan {
                backfill_minutes: MAX_BACKFILL_MINUTES,
                recovery: None,
                unrecoverable: Some((checkpoint, live_from)),
            };
        }
        let edge = now - RECOVERY_COVERS_SECS + RECOVERY_EDGE_MARGIN_SECS;
        let from = (checkpoint - RECOVERY_LEAD_SECS).max(edge);
        RestartPlan {
            backfill_minutes: MAX_BACKFILL_MINUTES,
            recovery: Some((from, now - RECOVERY_TAIL_SECS)),
            unrecoverable: (from > checkpoint).then_some((checkpoint, from)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn plan(gap: i64) -> RestartPlan {
        RestartPlan::new(Some(NOW - gap), NOW, true)
    }

    #[test]
    fn no_checkpoint_connects_as_usual() {
        assert_eq!(RestartPlan::new(None, NOW, true), RestartPlan::default());
        assert_eq!(RestartPlan::new(None, NOW, false), RestartPlan::default());
    }

    #[test]
    fn short_gaps_are_whole_minutes_rounded_up_plus_one_at_most_five() {
        for (gap, minutes) in [
            (-30, 1),
            (0, 1),
            (1, 2),
            (59, 2),
            (60, 2),
            (61, 3),
            (180, 4),
            (181, 5),
            (240, 5),
            (300, 5),
        ] {
            let p = plan(gap);
            assert_eq!(p.backfill_minutes, minutes, "gap {gap}");
            assert_eq!((p.recovery, p.unrecoverable), (None, None), "gap {gap}");
        }
    }

    #[test]
    fn gaps_over_five_minutes_recover_from_a_minute_before_to_four_before_now() {
        for gap in [
            301,
            3600,
            RECOVERY_COVERS_SECS - RECOVERY_EDGE_MARGIN_SECS - RECOVERY_LEAD_SECS,
        ] {
            let p = plan(gap);
            assert_eq!(p.backfill_minutes, 5);
            assert_eq!(p.recovery, Some((NOW - gap - 60, NOW - 240)), "gap {gap}");
            assert_eq!(p.unrecoverable, None, "gap {gap}");
        }
    }

    #[test]
    fn gaps_over_a_day_recover_the_last_day_and_name_the_rest() {
        let gap = 3 * RECOVERY_COVERS_SECS;
        let p = plan(gap);
        let from = NOW - RECOVERY_COVERS_SECS + RECOVERY_EDGE_MARGIN_SECS;
        assert_eq!(p.backfill_minutes, 5);
        assert_eq!(p.recovery, Some((from, NOW - 240)));
        assert_eq!(p.unrecoverable, Some((NOW - gap, from)));
    }

    #[test]
    fn without_recovery_a_long_gap_is_named_and_backfilled_at_most() {
        let p = RestartPlan::new(Some(NOW - 3600), NOW, false);
        assert_eq!(p.backfill_minutes, 5);
        assert_eq!(p.recovery, None);
        assert_eq!(p.unrecoverable, Some((NOW - 3600, NOW - 300)));
        // A short gap is the same with or without.
        assert_eq!(
            RestartPlan::new(Some(NOW - 100), NOW, false),
            RestartPlan::new(Some(NOW - 100), NOW, true)
        );
    }
}

//! Replay, sans-IO: the completion summary, a record's own time, the resume point with the
//! bounded de-duplication that lets a dropped job go on without handing anything out twice,
//! and the plan of a long job: windows, and the re-requests of what the service says failed.
//! Over 600 lines: the three are one job's state and are tested together (about half the file).

use std::collections::VecDeque;

use crate::core::Record;

use super::dedupe::{DedupeWindow, RecordKey, hash_bytes};
use super::time;

/// Keys remembered for the resume minute by default: a Firehose minute at the 2013 record peak
/// would be more, a usual one far less. Memory grows with use, up to 40 MiB at this bound
/// (see [`super::dedupe::BYTES_PER_KEY`]); a Decahose minute (about 34,000 records) takes
/// about 1.3 MiB.
pub const DEFAULT_RESUME_KEYS: usize = 1 << 20;

/// How a Replay job finished, from its completion message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ReplaySummary {
    /// "Replay Request Completed", "… with Errors", or "… Failed to Complete".
    pub message: String,
    /// `activity_count` as the service reported it.
    pub activity_count: Option<u64>,
    /// `minutes_failed`: minutes to request again.
    pub minutes_failed: Vec<String>,
    /// `unprocessed_range` (`fromDate`, `toDate`): a range to request again.
    pub unprocessed_range: Option<(String, String)>,
}

impl ReplaySummary {
    /// Reads a completion message (the whole record) whose text is `message`.
    pub fn parse(bytes: &[u8], message: &str) -> ReplaySummary {
        let v: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
        let info = &v["info"];
        ReplaySummary {
            message: message.to_owned(),
            activity_count: info["activity_count"].as_u64(),
            minutes_failed: info["minutes_failed"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|m| m.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            unprocessed_range: info["unprocessed_range"]["fromDate"]
                .as_str()
                .zip(info["unprocessed_range"]["toDate"].as_str())
                .map(|(f, t)| (f.to_owned(), t.to_owned())),
        }
    }
}

impl ReplaySummary {
    /// Whether the service says the request completed without errors.
    pub fn is_complete(&self) -> bool {
        self.minutes_failed.is_empty() && self.unprocessed_range.is_none()
    }

    /// What the service says is missing from `range`: `minutes_failed` merged into ranges of
    /// consecutive minutes, and `unprocessed_range`; each clipped to `range`. A timestamp it
    /// cannot read makes the whole `range` missing (ask again rather than lose it).
    pub fn missing(&self, range: (i64, i64)) -> Vec<(i64, i64)> {
        let mut minutes = Vec::new();
        for m in &self.minutes_failed {
            match time::parse_timestamp(m) {
                Some(t) => minutes.push(t - t.rem_euclid(60)),
                None => return vec![range],
            }
        }
        let mut out = merge_minutes(&minutes);
        if let Some((f, t)) = &self.unprocessed_range {
            match (time::parse_timestamp(f), time::parse_timestamp(t)) {
                (Some(f), Some(t)) => out.push((f, t)),
                _ => return vec![range],
            }
        }
        clip(&merge_ranges(out), range)
    }
}

/// `[from, to)` cut into consecutive windows of `window` seconds, the last one shorter if it
/// must be; in order, none overlapping, together exactly the range. A window under a minute is
/// taken as a minute (Replay's unit).
pub fn windows(from: i64, to: i64, window: i64) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut a = from;
    while let Some(w) = window_at(a, to, window) {
        out.push(w);
        a = w.1;
    }
    out
}

/// The window of `[from, to)` that starts at `a` (see [`windows`]); `None` at the end. No
/// overflow whatever the window (a `Duration::MAX` window is the whole range).
fn window_at(a: i64, to: i64, window: i64) -> Option<(i64, i64)> {
    (a < to).then(|| (a, a.saturating_add(window.max(60)).min(to)))
}

/// Minutes (multiples of 60, any order, repeats allowed) as ranges of consecutive minutes.
pub fn merge_minutes(minutes: &[i64]) -> Vec<(i64, i64)> {
    merge_ranges(minutes.iter().map(|&m| (m, m + 60)).collect())
}

/// Ranges sorted and merged where they touch or overlap.
pub fn merge_ranges(mut ranges: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    ranges.retain(|r| r.0 < r.1);
    ranges.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.0 <= last.1 => last.1 = last.1.max(r.1),
            _ => out.push(r),
        }
    }
    out
}

fn clip(ranges: &[(i64, i64)], to: (i64, i64)) -> Vec<(i64, i64)> {
    ranges
        .iter()
        .map(|&(a, b)| (a.max(to.0), b.min(to.1)))
        .filter(|r| r.0 < r.1)
        .collect()
}

/// What a step of a [`ReplayPlan`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// One window of the range, in order.
    Window,
    /// A re-request of what a window's completion said failed (once each).
    Retry,
}

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepEnd {
    /// The service's completion message arrived.
    Completed(ReplaySummary),
    /// No completion (the job was stopped, or failed in a way retrying cannot fix).
    Unfinished,
}

/// A long Replay job: consecutive windows, one at a time; after each window, its failed minutes
/// and unprocessed range are asked for again (once) before the next window; whatever still
/// fails is kept for the report.
///
/// ```
/// use gnip_stream::unversioned::protocol::replay::{ReplayPlan, ReplaySummary, Step, StepEnd};
/// let mut plan = ReplayPlan::new(0, 3 * 3600, 3600);
/// let (step, range) = plan.next_step().unwrap();
/// assert_eq!((step, range), (Step::Window, (0, 3600)));
/// let mut summary = ReplaySummary::default();
/// summary.minutes_failed = vec!["1970-01-01T00:05:00+00:00".into()];
/// plan.finished(step, range, StepEnd::Completed(summary));
/// assert_eq!(plan.next_step(), Some((Step::Retry, (300, 360)))); // before the next window
/// ```
#[derive(Debug, Clone)]
pub struct ReplayPlan {
    range: (i64, i64),
    /// The window length, and where the next window starts: windows are made one at a time
    /// (a long range with short windows never holds them all: audit L4).
    window: i64,
    next_window: i64,
    /// Re-requests, before the next window.
    queue: VecDeque<(Step, (i64, i64))>,
    still_failed: Vec<(i64, i64)>,
    retried: Vec<(i64, i64)>,
}

impl ReplayPlan {
    /// The plan for `[from, to)` in windows of `window` seconds.
    pub fn new(from: i64, to: i64, window: i64) -> Self {
        ReplayPlan {
            range: (from, to),
            window,
            next_window: from,
            queue: VecDeque::new(),
            still_failed: Vec::new(),
            retried: Vec::new(),
        }
    }

    /// The whole range.
    pub fn range(&self) -> (i64, i64) {
        self.range
    }

    /// The next request, or `None` when the plan is done.
    pub fn next_step(&mut self) -> Option<(Step, (i64, i64))> {
        if let Some(s) = self.queue.pop_front() {
            return Some(s);
        }
        let w = window_at(self.next_window, self.range.1, self.window)?;
        self.next_window = w.1;
        Some((Step::Window, w))
    }

    /// Requests still to come (the re-requests known so far and the windows not yet asked).
    pub fn remaining(&self) -> usize {
        let left = self.range.1.saturating_sub(self.next_window).max(0);
        let step = self.window.max(60);
        let windows = left / step + i64::from(left % step != 0);
        // Saturating: on a 32-bit target the windows of a long range do not fit a usize.
        self.queue
            .len()
            .saturating_add(usize::try_from(windows).unwrap_or(usize::MAX))
    }

    /// Records how the step for `range` ended: a window's missing parts are queued for one
    /// re-request each, right after it; a re-request's missing parts, or any step that did not
    /// complete, are kept as still failed.
    pub fn finished(&mut self, step: Step, range: (i64, i64), end: StepEnd) {
        let missing = match end {
            StepEnd::Completed(summary) => summary.missing(range),
            StepEnd::Unfinished => vec![range],
        };
        match step {
            Step::Window => {
                self.retried.extend_from_slice(&missing);
                for r in missing.into_iter().rev() {
                    self.queue.push_front((Step::Retry, r));
                }
            }
            Step::Retry => self.still_failed.extend(missing),
        }
    }

    /// Gives up on everything still queued (the job was stopped or failed): it all counts as
    /// still failed.
    pub fn abandon(&mut self) {
        self.still_failed
            .extend(self.queue.drain(..).map(|(_, range)| range));
        if self.next_window < self.range.1 {
            self.still_failed.push((self.next_window, self.range.1));
            self.next_window = self.range.1;
        }
    }

    /// Ranges asked for again so far.
    pub fn retried(&self) -> &[(i64, i64)] {
        &self.retried
    }

    /// What still failed after its re-request (merged), for the report.
    pub fn still_failed(&self) -> Vec<(i64, i64)> {
        merge_ranges(self.still_failed.clone())
    }

    /// Whether every minute of the range completed: nothing queued, nothing still failed.
    pub fn is_complete(&self) -> bool {
        self.queue.is_empty() && self.next_window >= self.range.1 && self.still_failed.is_empty()
    }
}

pub use super::dedupe::record_time;

/// Where a Replay job stands: the minute to resume from after a drop, and the records of that
/// minute already handed out (a resumed connection sends the whole minute again).
///
/// ```
/// use gnip_stream::core::Record;
/// use gnip_stream::unversioned::protocol::replay::ReplayResume;
/// let a = Record::new(br#"{"created_at":"Thu Jan 01 00:01:10 +0000 1970","id_str":"1"}"#);
/// let b = Record::new(br#"{"created_at":"Thu Jan 01 00:01:20 +0000 1970","id_str":"2"}"#);
/// let mut r = ReplayResume::new(1000);
/// r.start_connection();
/// assert!(!r.is_duplicate(&a) && !r.is_duplicate(&b));
/// assert_eq!(r.resume_from(), Some(60)); // the connection drops: ask again from 00:01
/// r.start_connection();
/// assert!(r.is_duplicate(&a) && r.is_duplicate(&b));
/// ```
#[derive(Debug, Clone)]
pub struct ReplayResume {
    /// The minute (a multiple of 60) of the last record received.
    resume_from: Option<i64>,
    /// `resume_from` when the current connection started.
    resumed_from: Option<i64>,
    /// Keys of the records received in the `resume_from` minute.
    seen_in_minute: DedupeWindow,
    /// The job's `[from, to)`: record times outside it count as none.
    range: Option<(i64, i64)>,
}

impl Default for ReplayResume {
    fn default() -> Self {
        ReplayResume::new(DEFAULT_RESUME_KEYS)
    }
}

impl ReplayResume {
    /// Nothing received yet; remembers at most `max_keys` records of the resume minute (past
    /// that the oldest are forgotten, and may be handed out again after a resume).
    pub fn new(max_keys: usize) -> Self {
        ReplayResume {
            resume_from: None,
            resumed_from: None,
            seen_in_minute: DedupeWindow::new(max_keys),
            range: None,
        }
    }

    /// Only record times within the job's `[from, to)` (a minute of slack before `from`) move
    /// the resume point; a time outside it (a far-future or corrupt `created_at`) counts as
    /// none, so one such record can neither make a resume ask for `from > to` nor mark every
    /// record of the resumed connection a duplicate.
    pub fn within(mut self, from: i64, to: i64) -> Self {
        self.range = Some((from, to));
        self
    }

    /// The minute to ask for on the next connection (`fromDate`), once a record arrived.
    pub fn resume_from(&self) -> Option<i64> {
        self.resume_from
    }

    /// A new connection starts from [`ReplayResume::resume_from`].
    pub fn start_connection(&mut self) {
        self.resumed_from = self.resume_from;
    }

    /// Whether `record` was handed out before (on an earlier connection of this job); when it
    /// was not, it is remembered.
    ///
    /// A record without a time of its own (compliance events) belongs to the minute of the
    /// record before it: Replay sends in time order, and a resumed connection starts in the
    /// resume minute.
    pub fn is_duplicate(&mut self, record: &Record<'_>) -> bool {
        self.is_duplicate_keyed(record, RecordKey::of(record))
    }

    /// [`ReplayResume::is_duplicate`] with the record's key as its dialect gives it
    /// ([`Dialect::record_key`](super::dialect::Dialect::record_key)); `None`: its bytes' hash.
    pub fn is_duplicate_keyed(&mut self, record: &Record<'_>, key: Option<RecordKey<'_>>) -> bool {
        self.is_duplicate_timed(record, key, record_time(record.bytes()))
    }

    /// [`ReplayResume::is_duplicate_keyed`] with the record's own time as its dialect reads it
    /// (`None`: it has none). Records without a time before the first timed one (an X API v2
    /// Post streamed without `created_at`) belong to the job's start: a resumed connection
    /// asks from the start again, and they are recognised by key (as many as the window holds).
    pub fn is_duplicate_timed(
        &mut self,
        record: &Record<'_>,
        key: Option<RecordKey<'_>>,
        time: Option<i64>,
    ) -> bool {
        let time = time.filter(|t| {
            self.range
                .is_none_or(|(from, to)| from.saturating_sub(60) <= *t && *t < to)
        });
        let minute = match time {
            Some(t) => t - t.rem_euclid(60),
            None => self.resume_from.unwrap_or(i64::MIN),
        };
        let key = key.map_or_else(|| hash_bytes(record.bytes()), |k| k.as_u64());
        let dup = match self.resumed_from {
            Some(m) if minute < m => true,
            Some(m) if minute == m => self.seen_in_minute.contains(key),
            _ => false,
        };
        if !dup {
            if self.resume_from.is_none_or(|r| minute > r) {
                self.resume_from = Some(minute);
                self.seen_in_minute.clear();
            }
            if self.resume_from == Some(minute) {
                self.seen_in_minute.insert(key);
            }
        }
        dup
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_made_one_at_a_time_and_never_overflow() {
        // Audit L4: year 1 to 9999 in minutes was 5.3e9 windows built before the first request.
        let (from, to) = (-62_135_596_800, 253_402_300_740);
        let mut plan = ReplayPlan::new(from, to, 60);
        // 5.3e9 windows: the count itself on 64-bit targets, usize::MAX (saturated) on 32-bit.
        let expected = usize::try_from((to - from) / 60).unwrap_or(usize::MAX);
        assert_eq!(plan.remaining(), expected);
        assert_eq!(plan.next_step(), Some((Step::Window, (from, from + 60))));
        plan.abandon();
        assert_eq!(plan.still_failed(), vec![(from + 60, to)]);
        assert!(!plan.is_complete());
        // A window of i64::MAX seconds (ReplayJob::window(Duration::MAX)) is the whole range.
        let mut plan = ReplayPlan::new(0, 7200, i64::MAX);
        assert_eq!(plan.remaining(), 1);
        assert_eq!(plan.next_step(), Some((Step::Window, (0, 7200))));
        assert_eq!(plan.next_step(), None);
        assert_eq!(windows(i64::MAX - 100, i64::MAX, 60).len(), 2);
    }

    #[test]
    fn a_record_time_outside_the_job_does_not_move_the_resume_point() {
        let at = |m: u32, id: u32| {
            format!(r#"{{"created_at":"Thu Jan 01 00:{m:02}:10 +0000 1970","id_str":"{id}"}}"#)
        };
        let (a, b) = (at(1, 1), at(2, 2));
        let future = r#"{"created_at":"Fri Dec 31 23:59:59 +0000 9999","id_str":"3"}"#;
        let c = at(3, 4);
        // The job asks for 00:00 to 00:10.
        for ranged in [false, true] {
            let mut r = ReplayResume::new(1000);
            if ranged {
                r = r.within(0, 600);
            }
            r.start_connection();
            for l in [&a, &b, &future.to_owned()] {
                assert!(!r.is_duplicate(&Record::new(l.as_bytes())));
            }
            if !ranged {
                // Audit L12, as it was: the resume asks past the job's end.
                assert!(r.resume_from() > Some(600));
                continue;
            }
            assert_eq!(r.resume_from(), Some(120));
            r.start_connection();
            // The resumed connection: what came before is dropped, what is new is not.
            assert!(r.is_duplicate(&Record::new(a.as_bytes())));
            assert!(r.is_duplicate(&Record::new(b.as_bytes())));
            assert!(!r.is_duplicate(&Record::new(c.as_bytes())));
        }
    }

    #[test]
    fn completion_messages_are_summarised() {
        // The shapes protocol.md quotes.
        let ok = br#"{"info":{"message":"Replay Request Completed","sent":"2016-05-27T22:15:50+00:00","activity_count":8874}}"#;
        let s = ReplaySummary::parse(ok, "Replay Request Completed");
        assert_eq!(
            (
                s.activity_count,
                s.minutes_failed.len(),
                s.unprocessed_range
            ),
            (Some(8874), 0, None)
        );
        let errors = br#"{"info":{"message":"Replay Request Completed with Errors","sent":"2016-05-27T16:00:02+00:00","activity_count":56333,"minutes_failed":["2013-02-20T00:05:00+00:00","2013-02-20T00:06:00+00:00"]}}"#;
        let s = ReplaySummary::parse(errors, "Replay Request Completed with Errors");
        assert_eq!(
            s.minutes_failed,
            vec!["2013-02-20T00:05:00+00:00", "2013-02-20T00:06:00+00:00"]
        );
        let failed = br#"{"info":{"message":"Replay Request Failed to Complete","sent":"2016-06-27T16:37:13+00:00","unprocessed_range":{"fromDate":"2016-06-26T00:00:00+00:00","toDate":"2016-06-26T00:01:00+00:00"},"activity_count":1822}}"#;
        let s = ReplaySummary::parse(failed, "Replay Request Failed to Complete");
        assert_eq!(
            s.unprocessed_range,
            Some((
                "2016-06-26T00:00:00+00:00".to_owned(),
                "2016-06-26T00:01:00+00:00".to_owned()
            ))
        );
        assert_eq!(s.activity_count, Some(1822));
    }

    const DAY: i64 = 86_400;

    fn summary(failed: &[i64], unprocessed: Option<(i64, i64)>) -> ReplaySummary {
        ReplaySummary {
            message: "Replay Request Completed with Errors".into(),
            activity_count: None,
            minutes_failed: failed.iter().map(|&t| time::iso8601(t)).collect(),
            unprocessed_range: unprocessed.map(|(f, t)| (time::iso8601(f), time::iso8601(t))),
        }
    }

    #[test]
    fn windows_are_consecutive_and_cover_the_range_exactly() {
        // 2026-01-31 23:00 to 2026-02-01 01:30: across midnight and a month's end.
        let from = time::parse_replay_date("202601312300").unwrap();
        let to = time::parse_replay_date("202602010130").unwrap();
        let w = windows(from, to, 3600);
        assert_eq!(
            w.iter()
                .map(|&(a, b)| (time::replay_date(a), time::replay_date(b)))
                .collect::<Vec<_>>(),
            vec![
                ("202601312300".into(), "202602010000".into()),
                ("202602010000".into(), "202602010100".into()),
                ("202602010100".into(), "202602010130".into()),
            ]
        );
        assert_eq!(windows(0, 3 * 3600, 3600).len(), 3);
        assert_eq!(
            windows(0, 600, 3600),
            vec![(0, 600)],
            "a range shorter than a window"
        );
        assert_eq!(
            windows(0, 120, 10),
            vec![(0, 60), (60, 120)],
            "a minute at least"
        );
        assert!(windows(10, 10, 60).is_empty());
        // Leap day and year end.
        let from = time::parse_replay_date("202402282330").unwrap();
        let to = time::parse_replay_date("202403010030").unwrap();
        // 25 hours, not one: 2024 has a 29 February.
        assert_eq!(windows(from, to, DAY).len(), 2);
        assert_eq!(
            windows(from, to, DAY)[1].1 - windows(from, to, DAY)[1].0,
            3600
        );
    }

    #[test]
    fn failed_minutes_merge_into_ranges_and_are_clipped() {
        assert_eq!(
            merge_minutes(&[300, 360, 420, 900, 360]),
            vec![(300, 480), (900, 960)]
        );
        let s = summary(&[300, 360, 7200], Some((3000, 4000)));
        assert_eq!(s.missing((0, 3600)), vec![(300, 420), (3000, 3600)]);
        let bad = ReplaySummary {
            minutes_failed: vec!["not a time".into()],
            ..ReplaySummary::default()
        };
        assert_eq!(
            bad.missing((0, 60)),
            vec![(0, 60)],
            "unreadable: ask for all again"
        );
        assert!(ReplaySummary::default().is_complete());
    }

    #[test]
    fn a_plan_retries_once_before_the_next_window_and_keeps_what_still_fails() {
        let mut plan = ReplayPlan::new(0, 3 * 3600, 3600);
        let mut asked = Vec::new();
        while let Some((step, range)) = plan.next_step() {
            asked.push((step, range));
            let end = match (step, range) {
                (Step::Window, (0, 3600)) => StepEnd::Completed(summary(&[300], None)),
                (Step::Window, (3600, 7200)) => {
                    StepEnd::Completed(summary(&[], Some((5400, 7200))))
                }
                (Step::Retry, (300, 360)) => StepEnd::Completed(ReplaySummary::default()),
                (Step::Retry, (5400, 7200)) => StepEnd::Completed(summary(&[6000], None)),
                _ => StepEnd::Completed(ReplaySummary::default()),
            };
            plan.finished(step, range, end);
        }
        assert_eq!(
            asked,
            vec![
                (Step::Window, (0, 3600)),
                (Step::Retry, (300, 360)),
                (Step::Window, (3600, 7200)),
                (Step::Retry, (5400, 7200)),
                (Step::Window, (7200, 10800)),
            ]
        );
        assert_eq!(plan.still_failed(), vec![(6000, 6060)]);
        assert!(!plan.is_complete());
        assert_eq!(plan.retried(), &[(300, 360), (5400, 7200)]);
        // A step that never completed is still failed, whole.
        let mut plan = ReplayPlan::new(0, 60, 3600);
        let (s, r) = plan.next_step().unwrap();
        plan.finished(s, r, StepEnd::Unfinished);
        assert_eq!(plan.next_step(), Some((Step::Retry, (0, 60))));
        plan.finished(Step::Retry, (0, 60), StepEnd::Unfinished);
        assert_eq!(plan.still_failed(), vec![(0, 60)]);
        // Two failed parts of one window: retried in order; abandoning keeps the rest failed.
        let mut plan = ReplayPlan::new(0, 7200, 3600);
        let (s, r) = plan.next_step().unwrap();
        plan.finished(s, r, StepEnd::Completed(summary(&[60, 1800], None)));
        assert_eq!(plan.retried(), &[(60, 120), (1800, 1860)]);
        assert_eq!(plan.next_step(), Some((Step::Retry, (60, 120))));
        plan.abandon();
        assert_eq!(plan.next_step(), None);
        assert_eq!(plan.still_failed(), vec![(1800, 1860), (3600, 7200)]);
    }

    #[test]
    fn record_times_in_both_formats() {
        assert_eq!(
            record_time(br#"{"created_at":"Thu Jan 01 00:01:00 +0000 1970","id":1}"#),
            Some(60)
        );
        assert_eq!(
            record_time(br#"{"id":"x","postedTime":"1970-01-01T00:02:00.000Z"}"#),
            Some(120)
        );
        assert_eq!(record_time(br#"{"delete":{"status":{"id":1}}}"#), None);
    }

    fn at(minute: i64, second: i64, id: u64) -> Vec<u8> {
        let t = minute * 60 + second;
        format!(
            r#"{{"created_at":"{}","id_str":"{id}"}}"#,
            time::created_at(t)
        )
        .into_bytes()
    }

    #[test]
    fn a_resume_drops_exactly_what_was_handed_out() {
        let mut r = ReplayResume::new(100);
        r.start_connection();
        let first: Vec<Vec<u8>> = vec![at(1, 0, 1), at(1, 30, 2), at(2, 0, 3), at(2, 10, 4)];
        for b in &first {
            assert!(!r.is_duplicate(&Record::new(b)));
        }
        // A compliance event without a time: it belongs to minute 2, and is remembered there.
        let del = br#"{"delete":{"status":{"id_str":"3"}}}"#;
        assert!(!r.is_duplicate(&Record::new(del)));
        assert_eq!(r.resume_from(), Some(120));
        // The connection drops; the next one starts at minute 2 and sends it whole, then more.
        r.start_connection();
        assert!(r.is_duplicate(&Record::new(&at(2, 0, 3))));
        assert!(r.is_duplicate(&Record::new(&at(2, 10, 4))));
        assert!(r.is_duplicate(&Record::new(del)));
        assert!(
            !r.is_duplicate(&Record::new(&at(2, 20, 5))),
            "new in the minute"
        );
        assert!(!r.is_duplicate(&Record::new(&at(3, 0, 6))));
        assert!(
            r.is_duplicate(&Record::new(&at(1, 0, 1))),
            "before the resume minute"
        );
    }

    #[test]
    fn memory_is_bounded_by_the_key_limit() {
        let mut r = ReplayResume::new(10);
        r.start_connection();
        for id in 0..1000 {
            assert!(!r.is_duplicate(&Record::new(&at(5, 0, id))));
        }
        assert!(r.seen_in_minute.len() <= 10);
        r.start_connection();
        assert!(r.is_duplicate(&Record::new(&at(5, 0, 999))));
        // Forgotten (documented): older than the bound, handed out again.
        assert!(!r.is_duplicate(&Record::new(&at(5, 0, 0))));
    }
}

//! A Replay job over a long range: the `protocol::replay::ReplayPlan` run one request at a time
//! (windows, then each window's re-requests), records de-duplicated across the job, progress
//! reported as it goes, and a report of what completed and what still failed.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::api::Client;
use super::config::{ClientConfig, ReplayRange};
use super::handler::{Delivery, Flow, Handler, Observer, StopHandle};
use crate::Error;
use crate::core::RecordKind;
pub use crate::metrics::JobProgress;
use crate::metrics::StatsSnapshot;
use crate::protocol::dedupe::{DEFAULT_DEDUPE_WINDOW, DedupeWindow};
use crate::protocol::policy::Ending;
use crate::protocol::replay::{ReplayPlan, ReplaySummary, Step, StepEnd};

/// The window the service recommends for Decahose (PowerTrack: about two hours): 60 minutes.
pub const DEFAULT_REPLAY_WINDOW: Duration = Duration::from_secs(3600);

/// One request of a job, as it went.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StepReport {
    /// A window, or a re-request of what one failed.
    pub step: Step,
    /// Its range.
    pub range: (i64, i64),
    /// Records it handed out.
    pub records: u64,
    /// How its connection ended.
    pub ending: Ending,
    /// The service's completion message, when one came.
    pub summary: Option<ReplaySummary>,
}

/// What a job did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ReplayJobReport {
    /// Every request, in order.
    pub steps: Vec<StepReport>,
    /// Records handed out.
    pub records: u64,
    /// Ranges asked for again after a window's completion said they failed.
    pub retried: Vec<(i64, i64)>,
    /// Ranges that still failed after their re-request (or were never done), merged.
    pub still_failed: Vec<(i64, i64)>,
    /// Every minute of the range completed.
    pub complete: bool,
    /// The job was stopped (stop handle, or the handler returned `Flow::Stop`).
    pub stopped: bool,
    /// The error that ended it early (401, 406, TLS…), if one did.
    pub error: Option<Error>,
}

/// A Replay of a long range, a window at a time.
///
/// ```no_run
/// use gnip_stream::client::{ClientConfig, Delivery, Flow, ReplayJob, ReplayRange};
/// use gnip_stream::Product;
/// use std::time::Duration;
/// let range = ReplayRange { from: 1_764_000_000, to: 1_764_000_000 + 6 * 3600 };
/// let config = ClientConfig::replay(Product::PowerTrack, "acme", "prod", range).credentials("u", "p");
/// let job = ReplayJob::new(config)?.window(Duration::from_secs(2 * 3600));
/// let report = job.run(|_: &Delivery<'_>| Flow::Continue, None, |p| eprintln!("{:.0}%", p.fraction() * 100.0))?;
/// assert!(report.complete, "still failed: {:?}", report.still_failed);
/// # Ok::<(), gnip_stream::Error>(())
/// ```
#[derive(Debug)]
pub struct ReplayJob {
    config: ClientConfig,
    range: ReplayRange,
    window: Duration,
    dedupe_window: usize,
    stop: StopHandle,
}

impl ReplayJob {
    /// A job for a Replay configuration (its range is the job's).
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        let Some(range) = config.replay else {
            return Err(Error::InvalidConfig {
                reason: "a Replay job needs a Replay configuration with a range",
            });
        };
        config.validate()?;
        Ok(ReplayJob {
            config,
            range,
            window: DEFAULT_REPLAY_WINDOW,
            dedupe_window: DEFAULT_DEDUPE_WINDOW,
            stop: StopHandle::default(),
        })
    }

    /// The length of each request (default [`DEFAULT_REPLAY_WINDOW`]; at least a minute).
    pub fn window(mut self, d: Duration) -> Self {
        self.window = d;
        self
    }

    /// Records remembered across the job to drop what a re-request sends again (default
    /// 1,000,000).
    pub fn dedupe_window(mut self, keys: usize) -> Self {
        self.dedupe_window = keys.max(1);
        self
    }

    /// Stops the job from any thread: the request under way ends within a read tick and no
    /// other is made.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Runs the plan; `progress` is called about ten times a second.
    pub fn run(
        &self,
        handler: impl Handler + 'static,
        observer: Option<Arc<dyn Observer>>,
        mut progress: impl FnMut(&JobProgress),
    ) -> Result<ReplayJobReport, Error> {
        let started = Instant::now();
        let handler: Arc<dyn Handler> = Arc::new(handler);
        let seen = Arc::new(Mutex::new(DedupeWindow::new(self.dedupe_window)));
        let records = Arc::new(AtomicU64::new(0));
        let reached = Arc::new(AtomicI64::new(self.range.from));
        let window = i64::try_from(self.window.as_secs()).unwrap_or(i64::MAX);
        let mut plan = ReplayPlan::new(self.range.from, self.range.to, window);
        let mut report = ReplayJobReport {
            steps: Vec::new(),
            records: 0,
            retried: Vec::new(),
            still_failed: Vec::new(),
            complete: false,
            stopped: false,
            error: None,
        };
        let mut requests = 0u32;
        // The counters of the requests done, added up (a job has one partition).
        let mut done: Option<StatsSnapshot> = None;
        let now = |requests, current: Option<StatsSnapshot>, done: &Option<StatsSnapshot>| {
            let stats = match (done, current) {
                (Some(d), Some(c)) => vec![d.then(&c)],
                (None, Some(c)) => vec![c],
                (Some(d), None) => vec![d.clone()],
                (None, None) => Vec::new(),
            };
            JobProgress::new(
                (self.range.from, self.range.to),
                reached.load(Ordering::Relaxed),
                records.load(Ordering::Relaxed),
                requests,
                started.elapsed(),
            )
            .with_stats(stats)
        };
        while let Some((step, range)) = plan.next_step() {
            if self.stop.is_stopped() {
                plan.finished(Step::Retry, range, StepEnd::Unfinished);
                report.stopped = true;
                break;
            }
            let config = self.config.clone().replay_range(ReplayRange {
                from: range.0,
                to: range.1,
            });
            let before = records.load(Ordering::Relaxed);
            let dialect = config.dialect();
            let (h, s, n, r) = (
                Arc::clone(&handler),
                Arc::clone(&seen),
                Arc::clone(&records),
                Arc::clone(&reached),
            );
            let running = Client::start_observed(
                config,
                move |d: &Delivery<'_>| {
                    let rec = d.record();
                    if matches!(rec.kind(), RecordKind::Activity | RecordKind::Compliance(_)) {
                        // The dialect's key and time (a v2 record's time is inside `data`).
                        let mut time = None;
                        if let Some((key, t)) = dialect.record_key_and_time(rec) {
                            let fresh = s
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .insert(key.as_u64());
                            if !fresh {
                                return Flow::Continue;
                            }
                            time = t;
                        }
                        n.fetch_add(1, Ordering::Relaxed);
                        if let Some(t) = time {
                            r.fetch_max(t, Ordering::Relaxed);
                        }
                    }
                    h.on_record(d)
                },
                observer.clone(),
            )?;
            requests += 1;
            while !running.is_finished() {
                if self.stop.is_stopped() {
                    running.stop_handle().stop();
                }
                progress(&now(requests, running.stats().pop(), &done));
                std::thread::sleep(Duration::from_millis(100));
            }
            let mut reports = running.join();
            let p = reports.remove(0);
            done = Some(match &done {
                Some(d) => d.then(&p.stats),
                None => p.stats.clone(),
            });
            let (end, stop_job) = match p.ending {
                Ending::ReplayCompleted => {
                    if step == Step::Window {
                        reached.fetch_max(range.1, Ordering::Relaxed);
                    }
                    (
                        StepEnd::Completed(p.replay.clone().unwrap_or_default()),
                        false,
                    )
                }
                Ending::Stopped => {
                    report.stopped = true;
                    (StepEnd::Unfinished, true)
                }
                _ => {
                    report.error = p.error.clone();
                    (StepEnd::Unfinished, true)
                }
            };
            report.steps.push(StepReport {
                step,
                range,
                records: records.load(Ordering::Relaxed) - before,
                ending: p.ending,
                summary: p.replay,
            });
            if stop_job {
                plan.finished(Step::Retry, range, StepEnd::Unfinished);
                break;
            }
            plan.finished(step, range, end);
        }
        // Stopped or failed: nothing else is asked for, and what is left is not done.
        plan.abandon();
        progress(&now(requests, None, &done));
        report.records = records.load(Ordering::Relaxed);
        report.retried = plan.retried().to_vec();
        report.still_failed = plan.still_failed();
        report.complete = plan.is_complete();
        Ok(report)
    }
}

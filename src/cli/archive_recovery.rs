//! The archive's Recoveries: run two at a time (the service allows 2 concurrent Recovery jobs
//! per stream) on a thread of their own into the archive — those a restart planned, and those a
//! reconnect inside the run finds it needs (`Gaps`: a partition that comes back more than
//! 5 minutes after its latest archived record).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use gnip_stream::client::{Client, ClientConfig, ClientEvent, Ending, ReplayRange, StopHandle};
use gnip_stream::sink::archive::Archive;
use gnip_stream::unversioned::protocol::restart::RestartPlan;
use gnip_stream::unversioned::protocol::time;

use super::report::{print_event, start_error};
use super::stderr;

/// How many Recoveries run at once.
const AT_ONCE: usize = 2;

type Range = (u32, (i64, i64));

/// `ranges` merged where they overlap or touch, sorted.
pub fn merge(mut ranges: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    ranges.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::new();
    for (f, t) in ranges {
        match out.last_mut() {
            Some(last) if f <= last.1 => last.1 = last.1.max(t),
            _ => out.push((f, t)),
        }
    }
    out
}

/// The Recovery thread and its queue.
pub struct Recoveries {
    stop: Arc<AtomicBool>,
    current: Arc<Mutex<Vec<StopHandle>>>,
    queue: Arc<Mutex<Option<Sender<Range>>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Recoveries {
    /// Starts the thread with `ranges` queued (each already noted pending in the archive).
    pub fn start(config: &ClientConfig, archive: &Arc<Archive>, ranges: Vec<Range>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let current: Arc<Mutex<Vec<StopHandle>>> = Arc::default();
        let (tx, rx) = channel();
        for r in ranges {
            let _ = tx.send(r);
        }
        let (s, c, config, archive) = (
            Arc::clone(&stop),
            Arc::clone(&current),
            config.clone(),
            Arc::clone(archive),
        );
        let thread = std::thread::Builder::new()
            .name("gnip-recovery".into())
            .spawn(move || run(&config, &archive, &rx, &s, &c))
            .ok();
        Recoveries {
            stop,
            current,
            queue: Arc::new(Mutex::new(Some(tx))),
            thread: Mutex::new(thread),
        }
    }

    /// Queues one more (noted pending in the archive first).
    pub fn add(&self, range: Range) {
        if let Some(q) = lock(&self.queue).as_ref() {
            let _ = q.send(range);
        }
    }

    /// Whether the thread has ended (it ends only when stopped).
    pub fn is_finished(&self) -> bool {
        lock(&self.thread)
            .as_ref()
            .is_none_or(JoinHandle::is_finished)
    }

    /// Stops what runs and what is queued (still pending in the archive: the next start runs it).
    pub fn stop(&self) {
        (self.stopper())();
    }

    /// [`Recoveries::stop`] as a function another thread can keep (a signal's).
    pub fn stopper(&self) -> impl Fn() + Send + 'static {
        let (stop, queue, current) = (
            Arc::clone(&self.stop),
            Arc::clone(&self.queue),
            Arc::clone(&self.current),
        );
        move || {
            stop.store(true, Ordering::SeqCst);
            lock(&queue).take();
            for h in lock(&current).iter() {
                h.stop();
            }
        }
    }

    /// Waits for the thread.
    pub fn join(&self) {
        let t = lock(&self.thread).take();
        if let Some(t) = t {
            let _ = t.join();
        }
    }
}

fn run(
    config: &ClientConfig,
    archive: &Arc<Archive>,
    rx: &Receiver<Range>,
    stop: &AtomicBool,
    current: &Mutex<Vec<StopHandle>>,
) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < AT_ONCE {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let mut running = Vec::new();
        for (p, (from, to)) in batch {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let c = config
                .clone()
                .partitions(&[p])
                .backfill_on_start_for(&[])
                .recovery_range(ReplayRange { from, to });
            let handler = Arc::clone(archive);
            match Client::start_observed(
                c,
                move |d: &gnip_stream::client::Delivery<'_>| handler.deliver(d),
                Some(Arc::new(print_event)),
            ) {
                Ok(r) => {
                    lock(current).push(r.stop_handle());
                    running.push((p, (from, to), r));
                }
                Err(e) => {
                    start_error(&e);
                }
            }
        }
        for (p, range, r) in running {
            let reports = r.join();
            let done = reports.iter().all(|r| r.ending == Ending::ReplayCompleted);
            let records: u64 = reports
                .iter()
                .map(|r| r.stats.activities + r.stats.compliance)
                .sum();
            let (f, t) = (time::iso8601_z(range.0), time::iso8601_z(range.1));
            if !done {
                stderr::event("warn", "recovery_incomplete")
                    .field("partition", p)
                    .emit(&format!(
                        "gnip-stream: partition {p}: Recovery of {f} to {t} did not complete; it runs again after the next start"
                    ));
                continue;
            }
            match archive.end_recovery(p, range) {
                Ok(()) => stderr::event("info", "gap_recovered")
                    .field("partition", p)
                    .field("records", records)
                    .emit(&format!(
                        "gnip-stream: partition {p}: Recovery of {f} to {t} complete ({records} records received)"
                    )),
                Err(e) => stderr::event("error", "recovery_not_noted")
                    .field("partition", p)
                    .emit(&format!(
                        "gnip-stream: partition {p}: Recovery complete but not noted ({e}); it runs again after the next start"
                    )),
            }
        }
        lock(current).clear();
    }
}

/// Gaps found inside a run: on each reconnect of a partition (not its first connection), the
/// restart plan from the archive's checkpoint; a Recovery it asks for is noted pending and
/// queued (once per gap).
pub struct Gaps {
    archive: Arc<Archive>,
    recoveries: Arc<Recoveries>,
    /// Recovery on (not `--no-recover-gaps`).
    recover: bool,
    seen: Mutex<HashSet<(u32, u8)>>,
    asked: Mutex<HashMap<u32, i64>>,
}

impl Gaps {
    /// For `archive`, queuing into `recoveries`; `asked`: the start's Recoveries (partition,
    /// from), not to be asked again.
    pub fn new(
        archive: Arc<Archive>,
        recoveries: Arc<Recoveries>,
        recover: bool,
        asked: &[(u32, i64)],
    ) -> Self {
        Gaps {
            archive,
            recoveries,
            recover,
            seen: Mutex::default(),
            asked: Mutex::new(asked.iter().copied().collect()),
        }
    }

    /// The observer: says the event, and looks at a reconnect's gap.
    pub fn on_event(&self, p: u32, c: u8, e: &ClientEvent) {
        print_event(p, c, e);
        if !matches!(e, ClientEvent::Connecting { .. }) || lock(&self.seen).insert((p, c)) {
            return;
        }
        let now = gnip_stream::unversioned::clock::now_secs();
        let checkpoint = self.archive.checkpoint(p);
        let plan = RestartPlan::new(checkpoint, now, self.recover);
        let from = match (plan.recovery, plan.unrecoverable) {
            (Some((f, _)), _) | (None, Some((f, _))) => f,
            (None, None) => return,
        };
        if lock(&self.asked).insert(p, from) == Some(from) {
            return; // this gap is asked for already (another attempt of the same reconnect)
        }
        if let Some(range) = plan.recovery {
            if let Err(e) = self.archive.begin_recovery(p, range) {
                stderr::event("error", "recovery_not_noted")
                    .field("partition", p)
                    .emit(&format!(
                        "gnip-stream: partition {p}: cannot note the Recovery: {e}"
                    ));
            }
            stderr::event("warn", "gap_in_run")
                .field("partition", p)
                .field("gap_seconds", now - checkpoint.unwrap_or(now))
                .emit(&format!(
                    "gnip-stream: partition {p}: reconnecting {} s after its latest archived record: Recovery {} to {} beside the backfill",
                    now - checkpoint.unwrap_or(now),
                    time::iso8601_z(range.0),
                    time::iso8601_z(range.1)
                ));
            self.recoveries.add((p, range));
        }
        if let Some((f, t)) = plan.unrecoverable {
            self.archive.note_unrecoverable();
            stderr::event("warn", "gap_not_recoverable")
                .field("partition", p)
                .emit(&format!(
                    "gnip-stream: partition {p}: the gap from {} to {} will not be fetched{}",
                    time::iso8601_z(f),
                    time::iso8601_z(t),
                    if self.recover {
                        ": it is older than Recovery's 24 hours"
                    } else {
                        ": Recovery is off (--no-recover-gaps)"
                    }
                ));
        }
    }
}

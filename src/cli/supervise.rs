//! The one supervising loop of every command that runs a client or a job (`stream` to stdout
//! or JetStream, leased JetStream, `replay`, `recover`, `demo`): signals and a closed stdout
//! become a stop, idle output is flushed, a line (statistics, or a job's progress) is printed
//! every interval, and the job's own once-a-second work (the slow-reader monitor, a publisher's
//! failure, lease events) runs at its pace. Commands that run one blocking task (`rules`,
//! `publish`, `jetstream-init`) run it through [`within_signal`], so a signal stops them too.

use std::time::{Duration, Instant};

use gnip_stream::client::Running;
use gnip_stream::sink::NdjsonSink;

use super::signal;
use super::stderr::{self, Event};

/// What the loop watches.
pub trait Supervised {
    /// Whether it has ended (by itself, or after [`Supervised::stop`]).
    fn is_finished(&self) -> bool;
    /// A signal, or stdout's reader went away: stop (called again each turn until it ends).
    fn stop(&mut self);
    /// The line printed every interval (`None`: nothing to say yet).
    fn line(&self) -> Option<(Event, String)>;
    /// Once a second.
    fn each_second(&mut self) {}
    /// Waits `pace` between turns; a job with events of its own (leases) reads them here.
    fn wait(&mut self, pace: Duration) {
        std::thread::sleep(pace);
    }
}

/// Runs `job` until it ends: every `interval` (0: never) emits its line, the text redrawn in
/// place when `redraw` (a terminal, text logs), else one line per interval; `out`, when the
/// job writes stdout, is flushed when idle and its closing stops the job. Returns whether a
/// redrawn line was left to end with a newline.
pub fn supervise(
    job: &mut impl Supervised,
    out: Option<&NdjsonSink>,
    interval: Duration,
    started: Instant,
    redraw: bool,
) -> bool {
    let mut drew = false;
    let mut next_line = interval;
    let mut next_second = Duration::from_secs(1);
    loop {
        if signal::received() || out.is_some_and(|o| o.is_broken()) {
            job.stop();
        }
        if job.is_finished() {
            return drew;
        }
        if let Some(o) = out {
            o.flush(false);
        }
        let elapsed = started.elapsed();
        if !interval.is_zero() && elapsed >= next_line {
            match job.line() {
                Some((_, text)) if redraw && !stderr::is_json() => {
                    eprint!("\r{text}");
                    drew = true;
                }
                Some((event, text)) => event.emit(&text),
                None => {}
            }
            next_line += interval;
        }
        if elapsed >= next_second {
            job.each_second();
            next_second += Duration::from_secs(1);
        }
        // 20 ms while output waits for its idle flush, else 100 ms: an idle stream (heartbeats
        // only) wakes this thread 10 times a second, not 50 (benches/firehose.rs).
        let pending = out.is_some_and(|o| o.is_dirty());
        job.wait(Duration::from_millis(if pending { 20 } else { 100 }));
    }
}

/// A running client, its line, and its once-a-second work, as [`Supervised`].
pub struct Client<'a, L, T> {
    /// The client.
    pub running: &'a Running,
    /// Its line.
    pub line: L,
    /// Its once-a-second work.
    pub each_second: T,
}

impl<L, T> Supervised for Client<'_, L, T>
where
    L: Fn(&Running) -> (Event, String),
    T: FnMut(),
{
    fn is_finished(&self) -> bool {
        self.running.is_finished()
    }

    fn stop(&mut self) {
        self.running.stop_handle().stop();
    }

    fn line(&self) -> Option<(Event, String)> {
        Some((self.line)(self.running))
    }

    fn each_second(&mut self) {
        (self.each_second)();
    }
}

/// [`supervise`] for one running client.
pub fn supervise_client(
    running: &Running,
    out: Option<&NdjsonSink>,
    interval: Duration,
    started: Instant,
    line: impl Fn(&Running) -> (Event, String),
    redraw: bool,
    each_second: impl FnMut(),
) -> bool {
    let mut job = Client {
        running,
        line,
        each_second,
    };
    supervise(&mut job, out, interval, started, redraw)
}

/// How long a task a signal asked to stop may take to end before the command exits without it.
pub const GRACE: Duration = Duration::from_millis(1500);

/// Runs `work` on a thread of its own and waits for it. A signal calls `stop` (which should make
/// the work end soon) and gives it [`GRACE`] to end: `None` when it did not, and the caller
/// says what was done and returns (the process exits with the work's thread).
pub fn within_signal<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
    stop: impl FnOnce(),
) -> Option<T> {
    let thread = match std::thread::Builder::new()
        .name("command".into())
        .spawn(work)
    {
        Ok(t) => t,
        Err(e) => {
            eprintln!("gnip-stream: cannot start a thread: {e}");
            return None;
        }
    };
    let mut stop = Some(stop);
    let mut deadline = None;
    loop {
        if thread.is_finished() {
            return thread.join().ok();
        }
        if signal::received() && deadline.is_none() {
            if let Some(stop) = stop.take() {
                stop();
            }
            deadline = Some(Instant::now() + GRACE);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

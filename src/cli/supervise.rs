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
    /// A stop any thread may call, when [`Supervised::wait`] returns as soon as the job ends:
    /// then a signal runs it at once (on the signal thread) and the loop waits until the next
    /// line or second instead of turning every 100 ms.
    fn waker(&self) -> Option<Box<dyn Fn() + Send>> {
        None
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
    let woken = job
        .waker()
        .map(|stop| signal::on_signal(Some(stop)))
        .is_some();
    let drew = loop {
        if signal::received() || out.is_some_and(|o| o.is_broken()) {
            job.stop();
        }
        if job.is_finished() {
            break drew;
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
        // 20 ms while output waits for its idle flush. Else a job that wakes this loop at its
        // end (and a signal through its waker) is waited for until the next line or second:
        // an idle stream wakes this thread once a second; other jobs every 100 ms.
        let pending = out.is_some_and(|o| o.is_dirty());
        let pace = if pending {
            Duration::from_millis(20)
        } else if woken {
            let elapsed = started.elapsed();
            let mut due = next_second;
            if !interval.is_zero() {
                due = due.min(next_line);
            }
            due.saturating_sub(elapsed).max(Duration::from_millis(1))
        } else {
            Duration::from_millis(100)
        };
        job.wait(pace);
    };
    if woken {
        signal::on_signal(None);
    }
    drew
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

    fn wait(&mut self, pace: Duration) {
        if self.running.wait_finished(pace) {
            // The threads are ending: `is_finished` follows within microseconds.
            std::thread::yield_now();
        }
    }

    fn waker(&self) -> Option<Box<dyn Fn() + Send>> {
        let stop = self.running.stop_handle();
        Some(Box::new(move || stop.stop()))
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

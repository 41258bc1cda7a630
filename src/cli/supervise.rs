//! The main thread's loop while a client runs: signals and a closed stdout become a stop, idle
//! output is flushed, a line (statistics, or a job's progress) is printed every interval.

use std::time::{Duration, Instant};

use gnip_stream::client::Running;
use gnip_stream::sink::NdjsonSink;

use super::signal;
use super::stderr::{self, Event};

/// Waits for the client, turning signals into a stop and flushing idle output; every `interval`
/// (0: never) emits `line`'s event, its text redrawn in place when `redraw` (a terminal, text
/// logs), else one line per interval.
/// Returns whether a line was left to end with a newline.
pub fn supervise(
    running: &Running,
    out: Option<&NdjsonSink>,
    interval: Duration,
    started: Instant,
    line: impl Fn(&Running) -> (Event, String),
    redraw: bool,
    mut each_second: impl FnMut(),
) -> bool {
    let mut drew = false;
    let mut next_stats = interval;
    let mut next_tick = Duration::from_secs(1);
    loop {
        if signal::received() || out.is_some_and(|o| o.is_broken()) {
            running.stop_handle().stop();
        }
        if running.is_finished() {
            return drew;
        }
        if let Some(o) = out {
            o.flush(false);
        }
        let elapsed = started.elapsed();
        if !interval.is_zero() && elapsed >= next_stats {
            let (event, text) = line(running);
            if redraw && !stderr::is_json() {
                eprint!("\r{text}");
                drew = true;
            } else {
                event.emit(&text);
            }
            next_stats += interval;
        }
        if elapsed >= next_tick {
            each_second();
            next_tick += Duration::from_secs(1);
        }
        // 20 ms while output waits for its idle flush, else 100 ms: an idle stream (heartbeats
        // only) wakes this thread 10 times a second, not 50 (benches/firehose.rs).
        let pending = out.is_some_and(|o| o.is_dirty());
        std::thread::sleep(Duration::from_millis(if pending { 20 } else { 100 }));
    }
}

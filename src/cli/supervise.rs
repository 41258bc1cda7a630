//! The main thread's loop while a client runs: signals and a closed stdout become a stop, idle
//! output is flushed, the statistics line is printed.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use gnip_stream::client::Running;

use super::output::Out;
use super::report::stats_line;
use super::signal;

/// Waits for the client, turning signals into a stop, flushing idle output, printing stats.
pub fn supervise(
    running: &Running,
    out: Option<&Out>,
    interval: Duration,
    started: Instant,
    mut each_second: impl FnMut(),
) {
    let mut next_stats = interval;
    let mut next_tick = Duration::from_secs(1);
    loop {
        if signal::received() || out.is_some_and(|o| o.broken.load(Ordering::SeqCst)) {
            running.stop_handle().stop();
        }
        if running.is_finished() {
            return;
        }
        if let Some(o) = out {
            o.flush(false);
        }
        let elapsed = started.elapsed();
        if !interval.is_zero() && elapsed >= next_stats {
            eprintln!("{}", stats_line(elapsed, &running.stats()));
            next_stats += interval;
        }
        if elapsed >= next_tick {
            each_second();
            next_tick += Duration::from_secs(1);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

//! What the process benchmarks share: a child's peak RSS, read from `/proc` while it runs.

use std::thread::JoinHandle;
use std::time::Duration;

/// The kernel's peak RSS count of `pid` (KiB), while it exists.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Polls `pid`'s peak RSS every 5 ms until it is gone; joins to the highest value seen (KiB).
pub fn peak_rss(pid: u32) -> JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut peak = 0;
        while let Some(kib) = vm_hwm_kib(pid) {
            peak = peak.max(kib);
            std::thread::sleep(Duration::from_millis(5));
        }
        peak
    })
}

/// User plus system CPU seconds of `pid` (`/proc/PID/stat`, 100 ticks a second).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name (which may hold spaces) in its parentheses.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Polls `pid`'s CPU time every 5 ms until it is gone; joins to the last value seen (seconds).
#[allow(dead_code)] // one bench uses it
pub fn cpu_seconds(pid: u32) -> JoinHandle<f64> {
    std::thread::spawn(move || {
        let mut last = 0;
        while let Some(t) = cpu_ticks(pid) {
            last = t;
            std::thread::sleep(Duration::from_millis(5));
        }
        last as f64 / 100.0
    })
}

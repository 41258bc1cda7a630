//! A `gnip-stream` child watched while it runs: stdout lines counted (or left unread, to play
//! a slow reader), stderr lines kept and awaited, the `/metrics` endpoint it prints scraped,
//! and a SIGTERM stop with the exit status.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::cli::{exit_within, signal};

/// One request on a fresh connection; the status and the body (or head, for HEAD).
pub fn request(addr: &str, raw: &[u8]) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(raw).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    let text = String::from_utf8(got).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, head.to_owned(), body.to_owned())
}

pub fn scrape(addr: &str) -> String {
    let (status, _, body) = request(addr, b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(status, 200);
    body
}

/// The sum of every sample whose line starts with `prefix`.
pub fn sum(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A `gnip-stream` child with its stdout counted (while `reading`) and its stderr lines kept.
pub struct Watched {
    pub child: Child,
    pub records: Arc<AtomicU64>,
    pub reading: Arc<AtomicBool>,
    pub lines: Receiver<String>,
    pub stderr: Arc<Mutex<Vec<String>>>,
    pub readers: Vec<JoinHandle<()>>,
}

impl Watched {
    /// Starts `c` with stdout counted (from the start when `reading`, else once set) and stderr
    /// kept.
    pub fn spawn(mut c: Command, reading: bool) -> Watched {
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let (records, reading) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(reading)),
        );
        let mut stdout = child.stdout.take().unwrap();
        let (r, on) = (Arc::clone(&records), Arc::clone(&reading));
        let out = std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                if !on.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
                match stdout.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        let nl = buf[..n].iter().filter(|&&b| b == b'\n').count();
                        r.fetch_add(nl as u64, Ordering::SeqCst);
                    }
                }
            }
        });
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = channel();
        let all = Arc::new(Mutex::new(Vec::new()));
        let a = Arc::clone(&all);
        let err = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                a.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        Watched {
            child,
            records,
            reading,
            lines,
            stderr: all,
            readers: vec![out, err],
        }
    }

    /// The next stderr line that `pred` accepts, within `limit`.
    pub fn wait_line(&self, limit: Duration, pred: impl Fn(&str) -> bool) -> String {
        let until = Instant::now() + limit;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if pred(&l) => return l,
                Ok(_) => {}
                Err(_) => panic!(
                    "no such stderr line within {limit:?}; stderr:\n{}",
                    self.stderr.lock().unwrap().join("\n")
                ),
            }
        }
    }

    /// The metrics address the command printed.
    pub fn metrics_addr(&self) -> String {
        let l = self.wait_line(Duration::from_secs(10), |l| l.contains("/metrics"));
        let at = l.split("http://").nth(1).unwrap();
        at.split('/').next().unwrap().to_owned()
    }

    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap()
    }

    /// SIGTERM (stdout read from now on), the exit status and every stderr line.
    pub fn stop(mut self) -> (ExitStatus, u64, Vec<String>) {
        self.reading.store(true, Ordering::SeqCst);
        let sent = Instant::now();
        signal(&self.child, "-TERM");
        let status = exit_within(&mut self.child, sent, Duration::from_secs(10));
        for r in self.readers {
            r.join().unwrap();
        }
        let lines = self.stderr.lock().unwrap().clone();
        (status, self.records.load(Ordering::SeqCst), lines)
    }
}

//! Peers that misbehave at the TCP level, on loopback: a listener whose SYNs go unanswered.

use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// A loopback listener that never accepts, its accept queue filled: a further SYN goes
/// unanswered (Linux drops it), so a connect to it hangs as to a dead host. The fill
/// connections are returned so they stay open; `None` (after printing why the calling test
/// skips) on a system that answers every SYN.
pub fn unanswering_listener(test: &str) -> Option<(TcpListener, Vec<TcpStream>)> {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let mut fill = Vec::new();
    for _ in 0..4096 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(s) => fill.push(s),
            Err(_) => return Some((l, fill)),
        }
    }
    println!("SKIPPED {test}: this system answers every SYN (no full accept queue to test with)");
    None
}

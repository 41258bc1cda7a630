//! What a test sets up on this machine: a fresh scratch directory, and a free loopback port.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh, empty directory for one test's files, `gnip-{name}-{pid}-{n}` under the system's
/// temporary directory: unique per call, so tests running at once never share one.
pub fn scratch_dir(name: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("gnip-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("scratch directory {}: {e}", dir.display());
    }
    dir
}

/// A free loopback port (bound and released: good enough for a test's own server); 0 if none
/// could be bound.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_dirs_are_fresh_and_distinct() {
        let (a, b) = (scratch_dir("t"), scratch_dir("t"));
        assert_ne!(a, b);
        assert!(a.is_dir() && std::fs::read_dir(&a).unwrap().next().is_none());
        let _ = (std::fs::remove_dir_all(a), std::fs::remove_dir_all(b));
        assert_ne!(free_port(), 0);
    }
}

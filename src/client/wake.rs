//! The sockets a stop shuts down: a body read blocks until bytes come (a quiet stream sends a
//! heartbeat every 10 s or so), so rather than wake every connection a few times a second to
//! look at the stop flag, the stop shuts each open socket down and the blocked read returns
//! at once.

use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A client's stop flag and its open sockets.
#[derive(Debug, Default)]
pub(crate) struct Sockets {
    stopped: AtomicBool,
    open: Mutex<Vec<(u64, TcpStream)>>,
    next: AtomicU64,
}

impl Sockets {
    /// Sets the stop flag and shuts every open socket down (both ways), which ends any read
    /// or write blocked on it.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        for (_, s) in self.lock().iter() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Whether a stop was asked for.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(u64, TcpStream)>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps a handle on `stream` until the returned registration drops, so a stop can shut it
    /// down. A stream registered after a stop is shut down at once. Without a handle (the
    /// system refused to duplicate it) the stream still sees the stop at its next timeout.
    pub fn register(self: &Arc<Self>, stream: &TcpStream) -> Option<Registration> {
        let handle = stream.try_clone().ok()?;
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut open = self.lock();
        // Checked under the lock: a stop either sees this socket or is seen here.
        if self.is_stopped() {
            let _ = handle.shutdown(Shutdown::Both);
        }
        open.push((id, handle));
        Some(Registration {
            sockets: Arc::clone(self),
            id,
        })
    }
}

/// A socket [`Sockets::stop`] shuts down, until this drops.
#[derive(Debug)]
pub(crate) struct Registration {
    sockets: Arc<Sockets>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.sockets.lock().retain(|(id, _)| *id != self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;
    use std::time::{Duration, Instant};

    #[test]
    fn a_stop_ends_a_blocked_read_at_once_and_a_dropped_registration_is_forgotten() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let sockets = Arc::new(Sockets::default());
        let mut quiet = TcpStream::connect(addr).unwrap();
        let _peer = listener.accept().unwrap();
        let registration = sockets.register(&quiet).unwrap();
        let gone = TcpStream::connect(addr).unwrap();
        drop(sockets.register(&gone).unwrap());
        assert_eq!(sockets.lock().len(), 1);
        let stopper = Arc::clone(&sockets);
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            stopper.stop();
        });
        quiet
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let started = Instant::now();
        // Nothing is ever sent: only the stop can end this read (as end of stream).
        assert_eq!(quiet.read(&mut [0u8; 16]).unwrap_or(0), 0);
        assert!(started.elapsed() < Duration::from_secs(5));
        t.join().unwrap();
        assert!(sockets.is_stopped());
        drop(registration);
        assert!(sockets.lock().is_empty());
        // Registered after the stop: shut down at once.
        let mut late = TcpStream::connect(addr).unwrap();
        let _r = sockets.register(&late).unwrap();
        late.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        assert_eq!(late.read(&mut [0u8; 16]).unwrap_or(0), 0);
    }
}

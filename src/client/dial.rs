//! Dialling a TCP peer under a deadline and a cancel check: the DNS lookup and each connect run
//! on a helper thread that the caller waits for a tick at a time, so a stop (or a drain's end)
//! is seen within a tick although neither `getaddrinfo` nor `connect` can be interrupted.
//! A helper that is given up on finishes on its own and drops what it made (audit L9).

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

/// The least one address is given to connect, however little time is left.
const MIN_PER_ADDRESS: Duration = Duration::from_millis(10);

/// What a helper thread makes: one kind, so the thread machinery is compiled once (the edge
/// build's bytes).
enum Made {
    Addrs(Vec<SocketAddr>),
    Stream(TcpStream),
}

/// What `work` returns, run on its own thread and waited for a tick at a time until `deadline`
/// or until `cancel` says so ([`io::ErrorKind::Interrupted`]; [`io::ErrorKind::TimedOut`] at
/// the deadline). The thread is never joined.
fn on_helper(
    what: &'static str,
    deadline: Instant,
    tick: Duration,
    cancel: &dyn Fn() -> bool,
    work: Box<dyn FnOnce() -> io::Result<Made> + Send>,
) -> io::Result<Made> {
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("gnip-dial".into())
        .spawn(move || {
            let _ = tx.send(work());
        })?;
    let tick = tick.max(Duration::from_millis(1));
    loop {
        if cancel() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, what));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, what));
        }
        match rx.recv_timeout(left.min(tick)) {
            Ok(r) => return r,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Err(io::Error::other(what)),
        }
    }
}

/// The addresses of `host` (a name, an IPv4 address or a bracketed IPv6 one) at `port`: an
/// address at once, a name looked up on a helper thread.
pub(crate) fn resolve(
    host: &str,
    port: u16,
    deadline: Instant,
    tick: Duration,
    cancel: &dyn Fn() -> bool,
) -> io::Result<Vec<SocketAddr>> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let name = (bare.to_owned(), port);
    let lookup = move || Ok(Made::Addrs(name.to_socket_addrs()?.collect()));
    match on_helper("DNS lookup", deadline, tick, cancel, Box::new(lookup))? {
        Made::Addrs(a) if !a.is_empty() => Ok(a),
        _ => Err(io::Error::new(io::ErrorKind::NotFound, "no address")),
    }
}

/// A connection to the first of `addrs` that answers, each tried with an equal share of the
/// time left before `deadline`; the last error when none does. A cancel ends it at once.
pub(crate) fn connect(
    addrs: &[SocketAddr],
    deadline: Instant,
    tick: Duration,
    cancel: &dyn Fn() -> bool,
) -> io::Result<TcpStream> {
    let mut last = None;
    for (i, &addr) in addrs.iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let share = (left / (addrs.len() - i) as u32).max(MIN_PER_ADDRESS);
        let dial = move || Ok(Made::Stream(TcpStream::connect_timeout(&addr, share)?));
        match on_helper(
            "TCP connect",
            Instant::now() + share,
            tick,
            cancel,
            Box::new(dial),
        ) {
            Ok(Made::Stream(s)) => return Ok(s),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => last = Some(e),
            Ok(Made::Addrs(_)) => {}
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "connecting: timed out")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    const TICK: Duration = Duration::from_millis(20);

    #[test]
    fn an_address_needs_no_lookup_and_a_listener_answers() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let far = Instant::now() + Duration::from_secs(5);
        let addrs = resolve("127.0.0.1", port, far, TICK, &|| false).unwrap();
        assert_eq!(addrs, [l.local_addr().unwrap()]);
        let v6 = resolve("[::1]", 443, far, TICK, &|| false).unwrap();
        assert_eq!(v6, ["[::1]:443".parse().unwrap()]);
        let s = connect(&addrs, far, TICK, &|| false).unwrap();
        assert_eq!(s.peer_addr().unwrap(), l.local_addr().unwrap());
    }

    #[test]
    fn a_refused_address_gives_way_to_the_next_and_all_refused_is_the_last_error() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed = {
            let t = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            t.local_addr().unwrap()
        };
        let far = Instant::now() + Duration::from_secs(5);
        let s = connect(&[closed, l.local_addr().unwrap()], far, TICK, &|| false).unwrap();
        assert_eq!(s.peer_addr().unwrap(), l.local_addr().unwrap());
        let e = connect(&[closed], far, TICK, &|| false).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
    }

    #[test]
    fn a_cancel_ends_a_wait_that_would_outlast_it() {
        // Helpers that would take 10 s: the cancel, raised after 100 ms, ends the wait.
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stop);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            s.store(true, Ordering::SeqCst);
        });
        // The helpers wait on `hold`, dropped at the end: no thread outlives the test.
        let (hold, held) = mpsc::channel::<()>();
        let held = Arc::new(std::sync::Mutex::new(held));
        let slow = || -> Box<dyn FnOnce() -> io::Result<Made> + Send> {
            let held = Arc::clone(&held);
            Box::new(move || {
                let _ = held.lock().map(|h| h.recv_timeout(Duration::from_secs(10)));
                Ok(Made::Addrs(Vec::new()))
            })
        };
        let t = Instant::now();
        let far = t + Duration::from_secs(10);
        let Err(e) = on_helper(
            "waiting",
            far,
            TICK,
            &|| stop.load(Ordering::SeqCst),
            slow(),
        ) else {
            panic!("the wait ended with the helper's answer")
        };
        assert_eq!(e.kind(), io::ErrorKind::Interrupted);
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        // The deadline ends it too.
        let t = Instant::now();
        let Err(e) = on_helper(
            "waiting",
            t + Duration::from_millis(100),
            TICK,
            &|| false,
            slow(),
        ) else {
            panic!("the wait ended with the helper's answer")
        };
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(t.elapsed() < Duration::from_secs(2));
        drop(hold);
    }
}

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

/// What `work` returns, run on its own thread and waited for a tick at a time until `deadline`
/// or until `cancel` says so ([`io::ErrorKind::Interrupted`]; [`io::ErrorKind::TimedOut`] at
/// the deadline). The thread is never joined.
fn on_helper<T: Send + 'static>(
    what: &str,
    deadline: Instant,
    tick: Duration,
    cancel: &dyn Fn() -> bool,
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("gnip-dial".into())
        .spawn(move || {
            let _ = tx.send(work());
        })?;
    let tick = tick.max(Duration::from_millis(1));
    loop {
        if cancel() {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                format!("{what}: stopped"),
            ));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{what}: timed out"),
            ));
        }
        match rx.recv_timeout(left.min(tick)) {
            Ok(r) => return r,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                return Err(io::Error::other(format!(
                    "{what}: the lookup thread failed"
                )));
            }
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
    let addrs = on_helper(
        &format!("resolving {host}"),
        deadline,
        tick,
        cancel,
        move || Ok(name.to_socket_addrs()?.collect::<Vec<_>>()),
    )?;
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{host}: no address"),
        ));
    }
    Ok(addrs)
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
        let what = format!("connecting to {addr}");
        match on_helper(&what, Instant::now() + share, tick, cancel, move || {
            TcpStream::connect_timeout(&addr, share)
        }) {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => last = Some(e),
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
        let slow = || {
            let held = Arc::clone(&held);
            move || {
                let _ = held.lock().map(|h| h.recv_timeout(Duration::from_secs(10)));
                Ok(())
            }
        };
        let t = Instant::now();
        let far = t + Duration::from_secs(10);
        let e = on_helper(
            "waiting",
            far,
            TICK,
            &|| stop.load(Ordering::SeqCst),
            slow(),
        )
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Interrupted);
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        // The deadline ends it too.
        let t = Instant::now();
        let e = on_helper(
            "waiting",
            t + Duration::from_millis(100),
            TICK,
            &|| false,
            slow(),
        )
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(t.elapsed() < Duration::from_secs(2));
        drop(hold);
    }
}

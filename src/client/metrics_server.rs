//! The scrape endpoint: a small blocking HTTP server for `GET /metrics`, bounded so that no
//! scraper can stall the stream or grow memory: a few scrapes at a time, a capped request
//! head, a deadline for reading it and for writing the answer. What to answer is decided in
//! [`metrics::scrape`](crate::metrics::scrape); the text comes from the caller's renderer.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::Error;
use crate::metrics::CONTENT_TYPE;
use crate::metrics::scrape::{MAX_REQUEST_HEAD, Request, parse_head, refusal_body, response_head};

/// Scrapes served at once; a connection beyond them is answered 503 at once.
pub const MAX_CONCURRENT_SCRAPES: usize = 4;

/// How long a scraper has to send its request head, and to take the answer.
pub const SCRAPE_DEADLINE: Duration = Duration::from_secs(5);

/// Writes the metrics text into the string it is given (cleared).
pub type Renderer = dyn Fn(&mut String) + Send + Sync;

/// A running scrape endpoint; stops when dropped.
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl MetricsServer {
    /// Listens on `addr` (`127.0.0.1:9464`, `[::]:9464`; port 0 picks one) and serves what
    /// `render` writes on every scrape.
    ///
    /// ```no_run
    /// use gnip_stream::client::MetricsServer;
    /// use gnip_stream::unversioned::metrics::{render, MetricsView};
    /// let server = MetricsServer::start("127.0.0.1:9464", |out: &mut String| {
    ///     render(&MetricsView::new("powertrack", &[]), out)
    /// })?;
    /// println!("scrape http://{}/metrics", server.local_addr());
    /// # Ok::<(), gnip_stream::Error>(())
    /// ```
    pub fn start(
        addr: &str,
        render: impl Fn(&mut String) + Send + Sync + 'static,
    ) -> Result<Self, Error> {
        let io = |e: std::io::Error| Error::Io {
            kind: e.kind(),
            message: format!("metrics endpoint {addr}: {e}").into(),
        };
        let listener = TcpListener::bind(addr).map_err(io)?;
        let local = listener.local_addr().map_err(io)?;
        let stop = Arc::new(AtomicBool::new(false));
        let render: Arc<Renderer> = Arc::new(render);
        let s = Arc::clone(&stop);
        let accept = thread::Builder::new()
            .name("gnip-metrics".into())
            .spawn(move || accept_loop(&listener, &s, &render))
            .map_err(io)?;
        Ok(MetricsServer {
            addr: local,
            stop,
            accept: Some(accept),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocked accept with a connection of our own.
        let wake = match self.addr {
            SocketAddr::V4(a) if a.ip().is_unspecified() => {
                SocketAddr::from(([127, 0, 0, 1], a.port()))
            }
            SocketAddr::V6(a) if a.ip().is_unspecified() => {
                SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, a.port()))
            }
            a => a,
        };
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, stop: &AtomicBool, render: &Arc<Renderer>) {
    let active = Arc::new(AtomicUsize::new(0));
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        workers.retain(|w| !w.is_finished());
        let Ok(mut stream) = conn else {
            // Out of descriptors, say: do not spin.
            thread::sleep(Duration::from_millis(50));
            continue;
        };
        if active.load(Ordering::SeqCst) >= MAX_CONCURRENT_SCRAPES {
            let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
            let _ = answer(
                &mut stream,
                503,
                None,
                false,
                Instant::now() + SCRAPE_DEADLINE,
            );
            continue;
        }
        active.fetch_add(1, Ordering::SeqCst);
        let (a, r) = (Arc::clone(&active), Arc::clone(render));
        let spawned = thread::Builder::new()
            .name("gnip-scrape".into())
            .spawn(move || {
                serve(stream, &r);
                a.fetch_sub(1, Ordering::SeqCst);
            });
        match spawned {
            Ok(w) => workers.push(w),
            Err(_) => {
                active.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
    for w in workers {
        let _ = w.join();
    }
}

/// One scrape: the head within the deadline and the cap, then the answer.
fn serve(mut stream: TcpStream, render: &Arc<Renderer>) {
    let deadline = Instant::now() + SCRAPE_DEADLINE;
    let mut head = [0u8; MAX_REQUEST_HEAD];
    let mut len = 0;
    let request = loop {
        if let Some(r) = parse_head(&head[..len]) {
            break r;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            break Request::Refuse(408);
        }
        match stream.read(&mut head[len..]) {
            Ok(0) => return,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break Request::Refuse(408),
        }
    };
    let _ = match request {
        Request::Metrics { head } => {
            let mut text = String::with_capacity(16 * 1024);
            render(&mut text);
            answer(
                &mut stream,
                200,
                Some(&text),
                head,
                Instant::now() + SCRAPE_DEADLINE,
            )
        }
        Request::Refuse(status) => answer(
            &mut stream,
            status,
            None,
            false,
            Instant::now() + SCRAPE_DEADLINE,
        ),
    };
}

/// Writes all of `bytes` by `deadline`, the whole answer (not each `write()`) bounded: a
/// reader that takes a byte now and then cannot hold a slot past it (audit L7).
fn write_by(stream: &mut TcpStream, mut bytes: &[u8], deadline: Instant) -> std::io::Result<()> {
    while !bytes.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        stream.set_write_timeout(Some(left))?;
        match stream.write(&bytes[..bytes.len().min(16 * 1024)]) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn answer(
    stream: &mut TcpStream,
    status: u16,
    body: Option<&str>,
    head_only: bool,
    deadline: Instant,
) -> std::io::Result<()> {
    let (body, content_type) = match body {
        Some(b) => (b, CONTENT_TYPE),
        None => (refusal_body(status), "text/plain; charset=utf-8"),
    };
    write_by(
        stream,
        response_head(status, content_type, body.len()).as_bytes(),
        deadline,
    )?;
    if !head_only {
        write_by(stream, body.as_bytes(), deadline)?;
    }
    let _ = stream.shutdown(Shutdown::Write);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_to_a_reader_that_does_not_read_ends_at_its_deadline() {
        // Audit L7: the write timeout applied per write(), so a slow reader held the slot.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let reader = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let body = "x".repeat(64 << 20); // far more than the socket buffers hold
        let t = Instant::now();
        let r = answer(
            &mut server,
            200,
            Some(&body),
            false,
            t + Duration::from_millis(500),
        );
        assert!(r.is_err());
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
        drop(reader);
    }
}

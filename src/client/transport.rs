//! The read tick, applied where it belongs: a ureq resolver and TCP connector that dial under
//! the connect timeout a tick at a time (so a stop is seen during DNS and connect too, audit
//! L9), and a transport layer between the TCP socket and TLS that waits for the response head
//! (and the TLS handshake) the same way, and gives body reads the short per-read tick.
//!
//! Why a transport layer: ureq's own `timeout_per_read` covers every read, the handshake and
//! the response head included, so a head that arrived later than the 250 ms tick failed the
//! attempt (and cost a connection from the rate limit) although nothing was wrong. ureq 3 has
//! no setting for "per-read on the body only"; its connector chain (`ureq::unversioned`, a
//! semver-exempt API, pinned by Cargo.lock and tested by `tests/client`) lets us see which
//! phase a read is in: ureq passes the remaining budget of the phase, which is finite while
//! connecting, sending and awaiting the head (each has the connect timeout) and endless for
//! the body (no body timeout is set: any would kill an endless stream).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ureq::Timeout;
use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
    time::Duration as UreqDuration,
};

use super::dial;
use super::wake::{Registration, Sockets};

/// How long after its head a body is read a tick at a time (then at the body's own per-read
/// timeout): the time an error body is given (`connection.rs`), to the tick.
pub(crate) const FIRST_BODY_TICKS: Duration = Duration::from_secs(2);

/// When a phase of `timeout` must be over: its budget from now (the connect timeout; an hour
/// stands in for "never", which the client does not configure).
fn deadline_of(timeout: &NextTimeout) -> Instant {
    let budget = if timeout.after.is_not_happening() {
        Duration::from_secs(3600)
    } else {
        *timeout.after
    };
    Instant::now() + budget
}

/// ureq's error for a dial that failed: a stop or the deadline is the phase's timeout (the
/// connection sees its stop flag next), anything else the I/O error.
fn dial_error(e: std::io::Error, reason: Timeout) -> ureq::Error {
    match e.kind() {
        std::io::ErrorKind::Interrupted | std::io::ErrorKind::TimedOut => {
            ureq::Error::Timeout(reason)
        }
        _ => ureq::Error::Io(e),
    }
}

/// Looks names up on a helper thread, waited for a tick at a time (see [`dial`]).
#[derive(Debug)]
pub(crate) struct DialResolver {
    pub tick: Duration,
    pub stop: Arc<Sockets>,
}

impl Resolver for DialResolver {
    fn resolve(
        &self,
        uri: &Uri,
        _config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let bad = || ureq::Error::BadUri(uri.to_string());
        let authority = uri.authority().ok_or_else(bad)?;
        let port = match (authority.port_u16(), uri.scheme_str()) {
            (Some(p), _) => p,
            (None, Some(s)) if s.eq_ignore_ascii_case("https") => 443,
            (None, Some(s)) if s.eq_ignore_ascii_case("http") => 80,
            _ => return Err(bad()),
        };
        let stop = &self.stop;
        let addrs = dial::resolve(
            authority.host(),
            port,
            deadline_of(&timeout),
            self.tick,
            &|| stop.is_stopped(),
        )
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ureq::Error::HostNotFound,
            _ => dial_error(e, timeout.reason),
        })?;
        let mut out = self.empty();
        // ureq keeps at most 16 addresses.
        for a in addrs.into_iter().take(16) {
            out.push(a);
        }
        Ok(out)
    }
}

/// ureq's TCP connector, dialling through [`dial::connect`] so a stop is seen while a SYN goes
/// unanswered. A connection made by an earlier connector (a CONNECT proxy's) passes through.
#[derive(Debug)]
pub(crate) struct DialConnector {
    pub tick: Duration,
    pub stop: Arc<Sockets>,
}

impl<In: Transport> Connector<In> for DialConnector {
    type Out = Either<In, DialedTcp>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        if let Some(c) = chained {
            return Ok(Some(Either::A(c)));
        }
        let stop = &self.stop;
        let stream = dial::connect(
            &details.addrs,
            deadline_of(&details.timeout),
            self.tick,
            &|| stop.is_stopped(),
        )
        .map_err(|e| dial_error(e, details.timeout.reason))?;
        let config = details.config;
        if config.no_delay() {
            stream.set_nodelay(true)?;
        }
        let buffers = LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size());
        let registration = self.stop.register(&stream);
        Ok(Some(Either::B(DialedTcp {
            stream,
            _registration: registration,
            buffers,
            read_timeout: None,
            write_timeout: None,
        })))
    }
}

/// A dialled socket as a ureq transport (ureq's own TCP transport is not public): blocking
/// reads and writes under the phase's timeout, set on the socket only when it changes.
#[derive(Debug)]
pub(crate) struct DialedTcp {
    stream: std::net::TcpStream,
    /// A stop shuts the socket down while this lives.
    _registration: Option<Registration>,
    buffers: LazyBuffers,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
}

/// A socket timeout (`WouldBlock` on some systems) as ureq's timeout of `reason`.
fn io_error(e: std::io::Error, reason: Timeout) -> ureq::Error {
    match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
            ureq::Error::Timeout(reason)
        }
        _ => ureq::Error::Io(e),
    }
}

impl Transport for DialedTcp {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        use std::io::Write as _;
        let timeout = timeout.for_write();
        let want = timeout.not_zero().map(|d| *d);
        if want != self.write_timeout {
            self.stream.set_write_timeout(want)?;
            self.write_timeout = want;
        }
        let output = &self.buffers.output()[..amount];
        self.stream
            .write_all(output)
            .map_err(|e| io_error(e, timeout.reason))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        use std::io::Read as _;
        let timeout = timeout.for_read();
        let want = timeout.not_zero().map(|d| *d);
        if want != self.read_timeout {
            self.stream.set_read_timeout(want)?;
            self.read_timeout = want;
        }
        let input = self.buffers.input_append_buf();
        let n = loop {
            match self.stream.read(input) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                r => break r.map_err(|e| io_error(e, timeout.reason))?,
            }
        };
        self.buffers.input_appended(n);
        Ok(n > 0)
    }

    /// Whether a pooled connection can be used again: open, and nothing unasked-for waiting.
    fn is_open(&mut self) -> bool {
        use std::io::Read as _;
        if self.stream.set_nonblocking(true).is_err() {
            return false;
        }
        let idle = matches!(
            self.stream.read(&mut [0u8]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
        );
        self.stream.set_nonblocking(false).is_ok() && idle
    }
}

/// Wraps each new connection's socket in a [`TickTransport`].
#[derive(Debug)]
pub(crate) struct TickConnector {
    pub tick: Duration,
    /// The per-read timeout of a body past its first [`FIRST_BODY_TICKS`].
    pub body_read: Duration,
    pub stop: Arc<Sockets>,
}

impl<In: Transport> Connector<In> for TickConnector {
    type Out = TickTransport<In>;

    fn connect(
        &self,
        _details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        Ok(chained.map(|inner| TickTransport {
            inner,
            tick: self.tick,
            body_read: self.body_read,
            body_since: None,
            stop: Arc::clone(&self.stop),
        }))
    }
}

/// A socket whose reads wake every tick while establishing (to look at the stop flag and read
/// on) and in a body's first [`FIRST_BODY_TICKS`] (an error body's time); later body reads
/// wait up to `body_read` (the stream's: half its stall timeout), and a timeout is returned
/// for the client to count as idle time. A stop does not wait for them: it shuts the socket
/// down ([`Sockets`]).
#[derive(Debug)]
pub(crate) struct TickTransport<T> {
    inner: T,
    tick: Duration,
    body_read: Duration,
    /// When the current body's first read began.
    body_since: Option<Instant>,
    stop: Arc<Sockets>,
}

impl<T: Transport> Transport for TickTransport<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        // A request (a pooled connection's next one too): any body read after it is new.
        self.body_since = None;
        self.inner.transmit_output(amount, timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let ticked = NextTimeout {
            per_read: Some(UreqDuration::from(self.tick)),
            ..timeout
        };
        if timeout.after.is_not_happening() {
            // The body: ticks at first, then long reads; the caller decides what silence means.
            let since = *self.body_since.get_or_insert_with(Instant::now);
            if since.elapsed() < FIRST_BODY_TICKS {
                return self.inner.await_input(ticked);
            }
            let long = NextTimeout {
                per_read: Some(UreqDuration::from(self.body_read)),
                ..timeout
            };
            return self.inner.await_input(long);
        }
        self.body_since = None;
        // Establishing: the phase's whole budget, a tick at a time.
        let deadline = Instant::now() + *timeout.after;
        loop {
            if self.stop.is_stopped() {
                return Err(ureq::Error::Timeout(timeout.reason));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let step = NextTimeout {
                after: UreqDuration::from(left),
                ..ticked
            };
            match self.inner.await_input(step) {
                Err(ureq::Error::Timeout(Timeout::PerRead)) if !left.is_zero() => continue,
                other => return other,
            }
        }
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

//! The read tick, applied where it belongs: a ureq transport layer between the TCP socket and
//! TLS that waits for the response head (and the TLS handshake) under the connect timeout, a
//! tick at a time so a stop is seen, and gives body reads the short per-read tick.
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
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ureq::Timeout;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, NextTimeout, Transport, time::Duration as UreqDuration,
};

/// Wraps each new connection's socket in a [`TickTransport`].
#[derive(Debug)]
pub(crate) struct TickConnector {
    pub tick: Duration,
    pub stop: Arc<AtomicBool>,
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
            stop: Arc::clone(&self.stop),
        }))
    }
}

/// A socket whose reads wake every tick: on the body, to return a per-read timeout the
/// client counts as idle time; while establishing, to look at the stop flag and read on.
#[derive(Debug)]
pub(crate) struct TickTransport<T> {
    inner: T,
    tick: Duration,
    stop: Arc<AtomicBool>,
}

impl<T: Transport> Transport for TickTransport<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.inner.transmit_output(amount, timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let ticked = NextTimeout {
            per_read: Some(UreqDuration::from(self.tick)),
            ..timeout
        };
        if timeout.after.is_not_happening() {
            // The body: one tick, and the caller decides what the silence means.
            return self.inner.await_input(ticked);
        }
        // Establishing: the phase's whole budget, a tick at a time.
        let deadline = Instant::now() + *timeout.after;
        loop {
            if self.stop.load(Ordering::SeqCst) {
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

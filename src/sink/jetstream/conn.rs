//! One blocking NATS connection, IO only: TCP (TLS for `tls://` or when the server requires
//! it), `INFO`, `CONNECT` with the environment's credentials, `PING`/`PONG`, an inbox
//! subscription for replies, reads under a timeout, and requests; the server list tried in
//! rotation. Protocol parsing and writing are [`crate::nats`]'s.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::Error;
use crate::client::dial;
use crate::nats::encode::{self, Auth};
use crate::nats::servers::{parse_servers, plaintext_server};
use crate::nats::{Parser, Server, ServerInfo, ServerOp};

/// How often a connect in progress looks at its deadline (a drain's may come during it).
const DIAL_TICK: Duration = Duration::from_millis(100);

/// Default time to connect and hear `PONG` after `CONNECT`, per server.
pub const DEFAULT_NATS_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The inbox subscription's id on every connection.
const INBOX_SID: u64 = 1;

/// Where NATS is and how to log in.
#[derive(Clone, Debug)]
pub struct NatsOptions {
    /// The servers, tried in turn.
    pub servers: Vec<Server>,
    /// Credentials (from the environment: [`NatsOptions::from_env`]).
    pub auth: Auth,
    /// Roots for `tls://` (default: the system's CA bundle).
    pub ca_file: Option<PathBuf>,
    /// Per server: connect, `INFO`, TLS, `CONNECT` to `PONG`.
    pub connect_timeout: Duration,
    /// The connection's name the server shows (`connz`).
    pub name: String,
    /// Send credentials over `nats://` to a server off loopback (default false: refused with
    /// [`Error::BadInput`]; use `tls://`).
    pub allow_plaintext: bool,
}

impl NatsOptions {
    /// `urls` (comma-separated `nats://`/`tls://` host:port) with credentials from
    /// `NATS_USER`/`NATS_PASSWORD` or `NATS_TOKEN` (never flags, never printed).
    pub fn from_env(urls: &str) -> Result<Self, Error> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let auth = match (var("NATS_USER"), var("NATS_PASSWORD"), var("NATS_TOKEN")) {
            (Some(user), Some(password), _) => Auth::UserPassword { user, password },
            (Some(_), None, _) | (None, Some(_), _) => {
                return Err(Error::BadInput {
                    reason: "NATS_USER and NATS_PASSWORD go together".into(),
                });
            }
            (None, None, Some(t)) => Auth::Token(t),
            (None, None, None) => Auth::None,
        };
        Ok(NatsOptions {
            servers: parse_servers(urls)?,
            auth,
            ca_file: None,
            connect_timeout: DEFAULT_NATS_CONNECT_TIMEOUT,
            name: "gnip-stream".into(),
            allow_plaintext: false,
        })
    }

    /// Refuses credentials that would go in the clear (`nats://` off loopback) unless
    /// [`NatsOptions::allow_plaintext`]; the server they would reach when allowed.
    pub fn check_transport(&self) -> Result<Option<&Server>, Error> {
        if matches!(self.auth, Auth::None) {
            return Ok(None);
        }
        match plaintext_server(&self.servers) {
            Some(s) if !self.allow_plaintext => Err(Error::BadInput {
                reason: format!(
                    "refusing to send NATS credentials in the clear to {s}: use tls://{}:{} (or allow it: --nats-allow-plaintext)",
                    s.host, s.port
                )
                .into(),
            }),
            other => Ok(other),
        }
    }
}

enum Transport {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Transport {
    fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(s) => s.get_ref(),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(s) => s.read(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Transport::Plain(s) => s.write_all(buf),
            Transport::Tls(s) => s.write_all(buf).and_then(|()| s.flush()),
        }
    }
}

fn io(e: std::io::Error, what: &str) -> Error {
    Error::Io {
        kind: e.kind(),
        message: format!("NATS {what}: {e}").into(),
    }
}

fn timed_out(what: String) -> Error {
    Error::Io {
        kind: std::io::ErrorKind::TimedOut,
        message: what.into(),
    }
}

fn tls_config(ca_file: Option<&std::path::Path>) -> Result<Arc<rustls::ClientConfig>, Error> {
    let certs = match ca_file {
        Some(path) => crate::client::http::pem_certs(path)?,
        None => {
            let candidates: Vec<PathBuf> = std::env::var_os("SSL_CERT_FILE")
                .map(PathBuf::from)
                .into_iter()
                .chain(
                    crate::client::http::SYSTEM_CA_BUNDLES
                        .iter()
                        .map(PathBuf::from),
                )
                .collect();
            crate::client::http::system_roots(&candidates)?
        }
    };
    let mut roots = rustls::RootCertStore::empty();
    for c in certs {
        roots
            .add(rustls::pki_types::CertificateDer::from(c.der().to_vec()))
            .map_err(|e| Error::Tls {
                message: format!("a CA certificate rustls refuses: {e}").into(),
            })?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls {
            message: e.to_string().into(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A reply: its header block (an `HMSG`'s) and payload.
pub type Reply = (Option<Vec<u8>>, Vec<u8>);

/// One connection to one server of the list.
pub struct NatsConnection {
    transport: Transport,
    parser: Parser,
    out: Vec<u8>,
    rbuf: Vec<u8>,
    info: ServerInfo,
    server: usize,
    inbox: String,
    next_request: u64,
}

impl std::fmt::Debug for NatsConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsConnection")
            .field("server", &self.server)
            .field("info", &self.info)
            .field("inbox", &self.inbox)
            .finish_non_exhaustive()
    }
}

/// An inbox prefix unique enough for one process's connections.
fn new_inbox() -> String {
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut rng = crate::rng::Rng::new(
        crate::clock::now_unix_ms()
            ^ u64::from(std::process::id()) << 40
            ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15),
    );
    format!("_INBOX.{:016x}{:08x}", rng.next_u64(), n)
}

impl NatsConnection {
    /// Connects to the first server of `opts` that answers, trying them in turn from index
    /// `start`. A refusal of the credentials ends the attempt at once ([`Error::NatsAuth`]);
    /// otherwise the last server's error is returned when none answered.
    pub fn connect(opts: &NatsOptions, start: usize) -> Result<NatsConnection, Error> {
        Self::connect_until(opts, start, &|| None)
    }

    /// [`NatsConnection::connect`], given up at the moment `until` names, which it may start
    /// naming during the attempt (a drain's deadline, set by a stop): the DNS lookup and the
    /// TCP connect are waited for a tick at a time, the handshake within what is left, and no
    /// server is tried after it (audit L9: the drain overran by servers × addresses × 5 s).
    pub fn connect_until(
        opts: &NatsOptions,
        start: usize,
        until: &dyn Fn() -> Option<Instant>,
    ) -> Result<NatsConnection, Error> {
        opts.check_transport()?;
        let n = opts.servers.len();
        let mut last = None;
        for k in 0..n {
            if until().is_some_and(|u| Instant::now() >= u) {
                return Err(timed_out("connecting to NATS: out of time".into()));
            }
            let i = (start + k) % n;
            match Self::connect_one(opts, i, until) {
                Ok(c) => return Ok(c),
                Err(e @ Error::NatsAuth { .. }) | Err(e @ Error::Tls { .. }) => return Err(e),
                Err(e) => {
                    log::info!("NATS {}: {e}", opts.servers[i]);
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| timed_out("no NATS server to connect to".into())))
    }

    fn connect_one(
        opts: &NatsOptions,
        i: usize,
        until: &dyn Fn() -> Option<Instant>,
    ) -> Result<NatsConnection, Error> {
        let server = &opts.servers[i];
        let own = Instant::now() + opts.connect_timeout;
        let deadline = || until().map_or(own, |u| u.min(own));
        let cancel = || until().is_some_and(|u| Instant::now() >= u);
        let addrs = dial::resolve(&server.host, server.port, deadline(), DIAL_TICK, &cancel)
            .map_err(|e| io(e, &format!("resolving {server}")))?;
        let tcp = dial::connect(&addrs, deadline(), DIAL_TICK, &cancel)
            .map_err(|e| io(e, &format!("connecting to {server}")))?;
        let _ = tcp.set_nodelay(true);
        tcp.set_write_timeout(Some(opts.connect_timeout))
            .map_err(|e| io(e, "socket"))?;
        let mut c = NatsConnection {
            transport: Transport::Plain(tcp),
            parser: Parser::new(crate::nats::MAX_CONTROL_LINE),
            out: Vec::new(),
            rbuf: vec![0; 64 * 1024],
            info: ServerInfo {
                server_id: String::new(),
                max_payload: 1 << 20,
                headers: false,
                tls_required: false,
                auth_required: false,
            },
            server: i,
            inbox: new_inbox(),
            next_request: 1,
        };
        // INFO first (in the clear, also for tls://).
        let mut info = None;
        while info.is_none() {
            let left = deadline().saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(timed_out(format!(
                    "{server}: no INFO within the connect timeout"
                )));
            }
            c.poll(left, |op| {
                if let ServerOp::Info(j) = op {
                    info = Some(ServerInfo::parse(j));
                }
            })?;
        }
        c.info = info.unwrap_or_else(|| ServerInfo::parse(b"{}"))?;
        if !c.info.headers {
            return Err(Error::JetStream {
                message: format!("{server} does not support headers (NATS 2.2 or later needed)")
                    .into(),
            });
        }
        c.parser.set_max_payload(c.info.max_payload.max(1 << 16));
        let tls = server.tls || c.info.tls_required;
        if tls {
            let config = tls_config(opts.ca_file.as_deref())?;
            let name =
                rustls::pki_types::ServerName::try_from(server.host.clone()).map_err(|e| {
                    Error::Tls {
                        message: format!("{}: {e}", server.host).into(),
                    }
                })?;
            let conn = rustls::ClientConnection::new(config, name).map_err(|e| Error::Tls {
                message: e.to_string().into(),
            })?;
            let Transport::Plain(tcp) = c.transport else {
                return Err(Error::Tls {
                    message: "TLS twice".into(),
                });
            };
            let mut s = rustls::StreamOwned::new(conn, tcp);
            s.get_ref()
                .set_read_timeout(Some(
                    deadline()
                        .saturating_duration_since(Instant::now())
                        .max(Duration::from_millis(1)),
                ))
                .map_err(|e| io(e, "socket"))?;
            while s.conn.is_handshaking() {
                s.conn
                    .complete_io(&mut s.sock)
                    .map_err(|e| tls_or_io(e, server))?;
            }
            c.transport = Transport::Tls(Box::new(s));
            // Whatever came in the clear after INFO is not the server's word once TLS is up
            // (an on-path attacker could have put it there).
            c.parser.reset();
        }
        encode::connect(&mut c.out, &opts.auth, &opts.name, tls);
        encode::ping(&mut c.out);
        encode::subscribe(&mut c.out, &format!("{}.*", c.inbox), INBOX_SID)?;
        c.flush()?;
        let mut answer: Option<Result<(), Error>> = None;
        while answer.is_none() {
            let left = deadline().saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(timed_out(format!("{server}: no PONG after CONNECT")));
            }
            c.poll(left, |op| match op {
                ServerOp::Pong => answer = Some(Ok(())),
                ServerOp::Err(text) => answer = Some(Err(crate::nats::server_error(text))),
                _ => {}
            })?;
        }
        answer.unwrap_or(Ok(()))?;
        Ok(c)
    }

    /// The index in the server list of the server this connection is to.
    pub fn server_index(&self) -> usize {
        self.server
    }

    /// The server's `INFO`.
    pub fn info(&self) -> &ServerInfo {
        &self.info
    }

    /// The reply subject for `token` on this connection's inbox.
    pub fn reply_subject(&self, token: u64) -> String {
        format!("{}.{token}", self.inbox)
    }

    /// The write buffer: encode operations into it, then [`NatsConnection::flush`].
    pub fn out(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    /// Writes the buffer (under the write timeout: a stopped server cannot block forever).
    pub fn flush(&mut self) -> Result<(), Error> {
        if self.out.is_empty() {
            return Ok(());
        }
        let r = self.transport.write_all(&self.out);
        self.out.clear();
        r.map_err(|e| io(e, "write"))
    }

    /// Reads for at most `timeout`, handing every operation to `on` (`PING` is answered here
    /// too). `Ok(false)`: nothing arrived. A closed connection or a protocol violation is an
    /// error (the connection is to be dropped).
    pub fn poll(
        &mut self,
        timeout: Duration,
        mut on: impl FnMut(ServerOp<'_>),
    ) -> Result<bool, Error> {
        self.transport
            .tcp()
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))
            .map_err(|e| io(e, "socket"))?;
        let n = match self.transport.read(&mut self.rbuf) {
            Ok(0) => {
                return Err(Error::Io {
                    kind: std::io::ErrorKind::UnexpectedEof,
                    message: "NATS server closed the connection".into(),
                });
            }
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(false);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return Ok(false),
            Err(e) => return Err(io(e, "read")),
        };
        let (parser, out) = (&mut self.parser, &mut self.out);
        parser.feed(&self.rbuf[..n], |op| {
            if op == ServerOp::Ping {
                encode::pong(out);
            }
            on(op)
        })?;
        self.flush()?;
        Ok(true)
    }

    /// Sends `body` to `subject` (with `headers`) and waits up to `timeout` for the reply:
    /// its header block and payload.
    pub fn request(
        &mut self,
        subject: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout: Duration,
    ) -> Result<Reply, Error> {
        let token = self.next_request;
        self.next_request += 1;
        // Request tokens count down from the top so they never meet a publisher's tokens.
        let token = u64::MAX / 2 + token;
        let reply = self.reply_subject(token);
        if headers.is_empty() {
            encode::publish(&mut self.out, subject, Some(&reply), body)?;
        } else {
            encode::publish_with_headers(&mut self.out, subject, Some(&reply), headers, body)?;
        }
        self.flush()?;
        let deadline = Instant::now() + timeout;
        let mut got: Option<Result<Reply, Error>> = None;
        while got.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(timed_out(format!(
                    "no reply to {subject} within {timeout:?}"
                )));
            }
            let inbox = reply.as_str();
            self.poll(left, |op| match op {
                ServerOp::Msg {
                    subject,
                    headers,
                    payload,
                    ..
                } if subject == inbox => {
                    got = Some(Ok((headers.map(<[u8]>::to_vec), payload.to_vec())));
                }
                ServerOp::Err(text) => got = Some(Err(crate::nats::server_error(text))),
                _ => {}
            })?;
        }
        got.unwrap_or_else(|| Err(timed_out("no reply".into())))
    }
}

fn tls_or_io(e: std::io::Error, server: &Server) -> Error {
    if e.kind() == std::io::ErrorKind::InvalidData {
        Error::Tls {
            message: format!("{server}: {e}").into(),
        }
    } else {
        io(e, &format!("TLS handshake with {server}"))
    }
}

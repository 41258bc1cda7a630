//! A small HTTP/1.1 client for the tests: one GET, the response head, then the chunked body fed
//! to the crate's own frame decoder as it arrives. Generic over the stream, so TLS reuses it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use base64::Engine as _;
use gnip_stream::Error;
use gnip_stream::core::{DecoderConfig, Event, FrameDecoder, RecordKind};
use gnip_stream::testing::oracle::Owned;

/// What ended the body, when it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyEnd {
    /// The zero-length chunk: a complete body.
    LastChunk,
    /// The socket closed without it.
    Closed,
    /// The decoder refused the bytes.
    Decode(Error),
}

/// An open response.
pub struct Response<S> {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    sock: S,
    raw: Vec<u8>,
    chunk_left: usize,
    in_chunk_trailer: bool,
    pub dec: FrameDecoder,
    pub events: Vec<Owned>,
    pub systems: Vec<String>,
    pub end: Option<BodyEnd>,
    pub body_bytes: u64,
}

pub struct Get<'a> {
    pub path: &'a str,
    pub auth: Option<(&'a str, &'a str)>,
    pub gzip: bool,
    pub extra_headers: &'a [(&'a str, &'a str)],
}

impl<'a> Get<'a> {
    pub fn new(path: &'a str) -> Self {
        Get {
            path,
            auth: Some(("demo", "demo")),
            gzip: true,
            extra_headers: &[],
        }
    }
}

/// Sends the GET over `sock` and reads the response head.
pub fn get_over<S: Read + Write>(mut sock: S, req: &Get<'_>) -> Response<S> {
    let mut head = format!(
        "GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n",
        req.path
    );
    if let Some((u, p)) = req.auth {
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
        head.push_str(&format!("Authorization: Basic {b64}\r\n"));
    }
    if req.gzip {
        head.push_str("Accept-Encoding: gzip\r\n");
    }
    for (k, v) in req.extra_headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    sock.write_all(head.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    // The socket's short read timeout paces the body loops; the head may take longer (a
    // loaded machine, an emulator): wait for it up to a bound.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let end = loop {
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let n = match sock.read(&mut buf) {
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) && std::time::Instant::now() < deadline =>
            {
                continue;
            }
            r => r.expect("response head"),
        };
        assert!(n > 0, "closed before a response head");
        raw.extend_from_slice(&buf[..n]);
    };
    let text = String::from_utf8(raw[..end].to_vec()).unwrap();
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let rest = raw[end + 4..].to_vec();
    Response {
        status,
        headers,
        sock,
        raw: rest,
        chunk_left: 0,
        in_chunk_trailer: false,
        dec: FrameDecoder::with_config(
            DecoderConfig::default()
                .max_record(64 * 1024)
                .check_crc(true),
        )
        .unwrap(),
        events: Vec::new(),
        systems: Vec::new(),
        end: None,
        body_bytes: 0,
    }
}

/// A GET over plain TCP to the simulator at `addr`.
pub fn get(addr: std::net::SocketAddr, req: &Get<'_>) -> Response<TcpStream> {
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    get_over(sock, req)
}

impl<S: Read + Write> Response<S> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A non-streaming response's body (Content-Length).
    pub fn text_body(mut self) -> String {
        let len: usize = self.header("content-length").unwrap().parse().unwrap();
        let mut buf = [0u8; 4096];
        while self.raw.len() < len {
            match self.sock.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => self.raw.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
        }
        String::from_utf8(self.raw[..len].to_vec()).unwrap()
    }

    /// Parses whatever chunked bytes are buffered, feeding the data to the decoder.
    fn parse(&mut self) {
        loop {
            if self.end.is_some() {
                return;
            }
            if self.in_chunk_trailer {
                if self.raw.len() < 2 {
                    return;
                }
                assert_eq!(&self.raw[..2], b"\r\n", "chunk framing");
                self.raw.drain(..2);
                self.in_chunk_trailer = false;
            }
            if self.chunk_left == 0 {
                let Some(p) = self.raw.windows(2).position(|w| w == b"\r\n") else {
                    return;
                };
                let size = usize::from_str_radix(std::str::from_utf8(&self.raw[..p]).unwrap(), 16)
                    .unwrap();
                self.raw.drain(..p + 2);
                if size == 0 {
                    self.end = Some(BodyEnd::LastChunk);
                    self.finish_decoder();
                    return;
                }
                self.chunk_left = size;
            }
            let n = self.chunk_left.min(self.raw.len());
            if n == 0 {
                return;
            }
            let data: Vec<u8> = self.raw.drain(..n).collect();
            self.chunk_left -= n;
            self.body_bytes += n as u64;
            if self.chunk_left == 0 {
                self.in_chunk_trailer = true;
            }
            let (events, systems) = (&mut self.events, &mut self.systems);
            if let Err(e) = self.dec.feed(&data, |e| note(e, events, systems)) {
                self.end = Some(BodyEnd::Decode(e));
                return;
            }
        }
    }

    fn finish_decoder(&mut self) {
        let (events, systems) = (&mut self.events, &mut self.systems);
        let r = self.dec.finish(|e| note(e, events, systems));
        if let Err(e) = r {
            if self.end == Some(BodyEnd::LastChunk) && e != Error::Truncated {
                self.end = Some(BodyEnd::Decode(e));
            }
        }
    }

    /// Reads until `done` says so, the body ends, or `timeout`; returns whether `done` held.
    pub fn read_until(&mut self, timeout: Duration, mut done: impl FnMut(&Self) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            self.parse();
            if done(self) {
                return true;
            }
            if self.end.is_some() || Instant::now() >= deadline {
                return false;
            }
            match self.sock.read(&mut buf) {
                Ok(0) => {
                    self.end = Some(BodyEnd::Closed);
                    self.finish_decoder();
                }
                Ok(n) => self.raw.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => {
                    self.end = Some(BodyEnd::Closed);
                    self.finish_decoder();
                }
            }
        }
    }

    /// Reads until `n` records have arrived (or `timeout`).
    pub fn records(&mut self, n: usize, timeout: Duration) -> Vec<Vec<u8>> {
        self.read_until(timeout, |r| super::records(&r.events).len() >= n);
        super::records(&self.events)
    }

    pub fn heartbeats(&self) -> usize {
        self.events
            .iter()
            .filter(|e| **e == Owned::Heartbeat)
            .count()
    }

    pub fn into_inner(self) -> S {
        self.sock
    }
}

fn note(e: Event<'_>, events: &mut Vec<Owned>, systems: &mut Vec<String>) {
    if let Event::Record(r) = e {
        if let RecordKind::System(m) = r.kind() {
            systems.push(m.message().into_owned());
        }
    }
    events.push(Owned::of(e));
}

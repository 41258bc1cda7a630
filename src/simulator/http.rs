//! The little HTTP/1.1 the simulator needs: read one request head, write a response head, and
//! frame a body in chunks.

use std::io::{self, Read, Write};

/// A request head: method, target split into path and query, headers.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    /// The bytes read after the head: the start of a body (see [`read_body`]).
    pub body: Vec<u8>,
}

impl Request {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first query parameter called `name`, percent-decoded.
    pub fn param(&self, name: &str) -> Option<String> {
        raw_param(&self.query, name).map(percent_decode)
    }
}

pub(crate) use crate::protocol::endpoint::raw_param;

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b'+', ..) => {
                out.push(b' ');
                i += 1;
            }
            (c, ..) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The most a request head may take: requests here are a GET line and a few headers.
pub(crate) const MAX_HEAD: usize = 16 * 1024;

/// How long a whole request head may take to arrive (each read has its own timeout too): a
/// peer sending a byte now and then cannot hold a connection past it (audit L13).
pub(crate) const HEAD_DEADLINE: std::time::Duration = std::time::Duration::from_secs(4);

/// Reads one request head. `Ok(None)` when the peer closed (or sent garbage, or took longer than
/// [`HEAD_DEADLINE`]) before a complete head; the caller just drops the connection.
pub(crate) fn read_request(conn: &mut impl Read) -> io::Result<Option<Request>> {
    let deadline = std::time::Instant::now() + HEAD_DEADLINE;
    let mut head = Vec::with_capacity(1024);
    let mut byte = [0u8; 512];
    let end = loop {
        if let Some(p) = memchr::memmem::find(&head, b"\r\n\r\n") {
            break p;
        }
        if head.len() > MAX_HEAD || std::time::Instant::now() >= deadline {
            return Ok(None);
        }
        let n = conn.read(&mut byte)?;
        if n == 0 {
            return Ok(None);
        }
        head.extend_from_slice(&byte[..n]);
    };
    // What came after the head is the start of a body (a GET has none).
    let body = head[end + 4..].to_vec();
    let Ok(text) = std::str::from_utf8(&head[..end]) else {
        return Ok(None);
    };
    let mut lines = text.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let (Some(method), Some(target), Some(version)) = (first.next(), first.next(), first.next())
    else {
        return Ok(None);
    };
    if !version.starts_with("HTTP/1.") {
        return Ok(None);
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok(Some(Request {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body,
    }))
}

/// Why a request body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// `Content-Length` says more than the limit: refused before reading it.
    TooLarge(usize),
    /// No usable `Content-Length` (chunked request bodies are not supported).
    NoLength,
    /// The peer stopped sending before the body was complete.
    Cut,
}

/// Reads the request's body (its `Content-Length` bytes, at most `max`) into `req.body`.
pub(crate) fn read_body(
    conn: &mut impl Read,
    req: &mut Request,
    max: usize,
) -> Result<(), BodyError> {
    if req.header("transfer-encoding").is_some() {
        return Err(BodyError::NoLength);
    }
    let len = match req.header("content-length") {
        None => 0,
        Some(v) => v.trim().parse::<usize>().map_err(|_| BodyError::NoLength)?,
    };
    if len > max {
        return Err(BodyError::TooLarge(len));
    }
    let mut buf = [0u8; 16 * 1024];
    while req.body.len() < len {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return Err(BodyError::Cut),
            Ok(n) => req.body.extend_from_slice(&buf[..n]),
        }
    }
    req.body.truncate(len);
    Ok(())
}

/// A complete response with a JSON body and the given extra headers, gzip-compressed when
/// `gzip`; then the connection closes.
pub(crate) fn write_json(
    conn: &mut impl Write,
    status: u16,
    extra: &[(&str, String)],
    body: &[u8],
    gzip: bool,
) -> io::Result<()> {
    let compressed;
    let (body, encoding) = if gzip {
        let mut enc = crate::core::GzipEncoder::new(6);
        let mut out = Vec::new();
        enc.write_flush(body, &mut out);
        enc.finish(&mut out);
        compressed = out;
        (&compressed[..], "Content-Encoding: gzip\r\n")
    } else {
        (body, "")
    };
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json; charset=utf-8\r\n\
         {encoding}Content-Length: {}\r\nConnection: close\r\n",
        reason(status),
        body.len()
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes())?;
    conn.write_all(body)?;
    conn.flush()
}

/// The reason phrase for the statuses the simulator sends.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// A complete response with a JSON body, then the connection closes.
pub(crate) fn write_error(conn: &mut impl Write, status: u16, body: &str) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        reason(status),
        body.len()
    );
    conn.write_all(head.as_bytes())?;
    conn.write_all(body.as_bytes())?;
    conn.flush()
}

/// The head of a streaming response: chunked, gzip.
pub(crate) fn stream_head() -> &'static [u8] {
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n\
      Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\
      Vary: Accept-Encoding\r\n\r\n"
}

/// The head of an X API v2 streaming response: chunked, gzip when the request accepted it,
/// with `extra` headers (the rate-limit ones).
pub(crate) fn v2_stream_head(gzip: bool, extra: &[(&str, String)]) -> Vec<u8> {
    let mut head =
        String::from("HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n");
    if gzip {
        head.push_str("Content-Encoding: gzip\r\n");
    }
    head.push_str("Transfer-Encoding: chunked\r\nConnection: close\r\nVary: Accept-Encoding\r\nx-twitter-streaming: true\r\n");
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// Appends `data` to `out` as one chunk (nothing for empty data: that would end the body).
pub(crate) fn chunk(data: &[u8], out: &mut Vec<u8>) {
    if !data.is_empty() {
        out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    }
}

/// The last chunk: the body is complete.
pub(crate) const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_request_head_in_pieces() {
        let raw = b"GET /stream/powertrack/accounts/a/publishers/twitter/p.json?partition=1&x=a%20b HTTP/1.1\r\nHost: x\r\naccept-encoding: gzip\r\n\r\n";
        struct Slow<'a>(&'a [u8]);
        impl Read for Slow<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(3).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let r = read_request(&mut Slow(raw)).unwrap().unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(
            r.path,
            "/stream/powertrack/accounts/a/publishers/twitter/p.json"
        );
        assert_eq!(r.param("partition").as_deref(), Some("1"));
        assert_eq!(r.param("x").as_deref(), Some("a b"));
        assert_eq!(r.header("Accept-Encoding"), Some("gzip"));
        assert!(
            read_request(&mut Slow(b"GET / HTTP/1.1\r\n"))
                .unwrap()
                .is_none()
        );
        assert!(
            read_request(&mut Slow(b"nonsense\r\n\r\n"))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn chunks() {
        let mut out = Vec::new();
        chunk(b"hello world, 17 b", &mut out);
        chunk(b"", &mut out);
        assert_eq!(out, b"11\r\nhello world, 17 b\r\n");
    }
}

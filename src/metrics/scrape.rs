//! One scrape request, sans-IO: reads a request head (capped), decides the answer (`/metrics`
//! for GET and HEAD, 404 elsewhere, 405 for other methods, 431 for an oversized head, 400 for
//! garbage) and writes the response head. The server in the IO shell only moves the bytes.

/// The largest request head read; a longer one is answered 431 and the connection closed.
pub const MAX_REQUEST_HEAD: usize = 8 * 1024;

/// The path that serves the metrics.
pub const METRICS_PATH: &str = "/metrics";

/// What a request head asks for, once it is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// `GET /metrics` (`head`: `HEAD /metrics`, no body in the answer).
    Metrics {
        /// The method was HEAD.
        head: bool,
    },
    /// An answer without metrics: the status code.
    Refuse(u16),
}

/// Reads the request head in `buf` (everything received so far). `None`: not complete yet and
/// still under [`MAX_REQUEST_HEAD`] — read more.
pub fn parse_head(buf: &[u8]) -> Option<Request> {
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| buf.windows(2).position(|w| w == b"\n\n"));
    let Some(end) = end else {
        return (buf.len() >= MAX_REQUEST_HEAD).then_some(Request::Refuse(431));
    };
    if end > MAX_REQUEST_HEAD {
        return Some(Request::Refuse(431));
    }
    let first = buf[..end].split(|&b| b == b'\n').next().unwrap_or_default();
    let first = first.strip_suffix(b"\r").unwrap_or(first);
    let mut parts = first.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Some(Request::Refuse(400));
    };
    if !version.starts_with(b"HTTP/1.") {
        return Some(Request::Refuse(400));
    }
    let path = target.split(|&b| b == b'?').next().unwrap_or_default();
    let head = match method {
        b"GET" => false,
        b"HEAD" => true,
        _ => return Some(Request::Refuse(405)),
    };
    if path == METRICS_PATH.as_bytes() {
        Some(Request::Metrics { head })
    } else {
        Some(Request::Refuse(404))
    }
}

/// The response head for `status` with a body of `length` bytes of `content_type`; every
/// answer closes the connection.
pub fn response_head(status: u16, content_type: &str, length: usize) -> String {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let allow = if status == 405 {
        "Allow: GET, HEAD\r\n"
    } else {
        ""
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n{allow}Connection: close\r\n\r\n"
    )
}

/// The body of a refusal: its reason, one line.
pub fn refusal_body(status: u16) -> &'static str {
    match status {
        404 => "only /metrics is served here\n",
        405 => "only GET and HEAD\n",
        431 => "request head too large\n",
        408 => "request head too slow\n",
        503 => "too many scrapes at once\n",
        _ => "bad request\n",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_by_method_and_path() {
        let cases: [(&[u8], Option<Request>); 9] = [
            (
                b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
                Some(Request::Metrics { head: false }),
            ),
            (
                b"HEAD /metrics?x=1 HTTP/1.0\r\n\r\n",
                Some(Request::Metrics { head: true }),
            ),
            (
                b"GET /metrics HTTP/1.1\n\n",
                Some(Request::Metrics { head: false }),
            ),
            (b"GET / HTTP/1.1\r\n\r\n", Some(Request::Refuse(404))),
            (
                b"POST /metrics HTTP/1.1\r\n\r\n",
                Some(Request::Refuse(405)),
            ),
            (b"GET /metrics\r\n\r\n", Some(Request::Refuse(400))),
            (b"GET /metrics SPDY/3\r\n\r\n", Some(Request::Refuse(400))),
            (b"GET /metrics HTTP/1.1\r\nHost: x\r\n", None),
            (b"", None),
        ];
        for (head, want) in cases {
            assert_eq!(parse_head(head), want, "{}", String::from_utf8_lossy(head));
        }
    }

    #[test]
    fn an_endless_head_is_refused_at_the_cap() {
        let mut head = b"GET /metrics HTTP/1.1\r\n".to_vec();
        while head.len() < MAX_REQUEST_HEAD - 1 {
            head.extend_from_slice(b"X-A: b\r\n");
            assert_eq!(
                parse_head(&head[..head.len().min(MAX_REQUEST_HEAD - 1)]),
                None
            );
        }
        head.resize(MAX_REQUEST_HEAD, b'a');
        assert_eq!(parse_head(&head), Some(Request::Refuse(431)));
    }

    #[test]
    fn response_heads_close_and_say_their_length() {
        let h = response_head(405, "text/plain", 18);
        assert!(h.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
        assert!(h.contains("Allow: GET, HEAD\r\n") && h.contains("Content-Length: 18\r\n"));
        assert!(h.ends_with("Connection: close\r\n\r\n"));
    }
}

//! What a NATS server sends, parsed sans-IO: bytes in, in pieces of any size; `INFO`, `MSG`,
//! `HMSG`, `PING`, `PONG`, `+OK` and `-ERR` out, borrowed from one bounded buffer.

use crate::Error;

/// The longest control line accepted (`MSG subject sid reply #bytes`, `INFO {…}`): 64 KiB.
pub const MAX_CONTROL_LINE: usize = 64 * 1024;

/// One operation from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerOp<'a> {
    /// `INFO {json}`: the server's description (the JSON object's bytes).
    Info(&'a [u8]),
    /// `MSG` or `HMSG`: a message for subscription `sid`.
    Msg {
        /// The subject it was published to.
        subject: &'a str,
        /// The subscription it is for.
        sid: u64,
        /// Where to reply, if anywhere.
        reply: Option<&'a str>,
        /// The header block (`NATS/1.0…\r\n…\r\n\r\n`) of an `HMSG`.
        headers: Option<&'a [u8]>,
        /// The payload.
        payload: &'a [u8],
    },
    /// `PING`: answer `PONG`.
    Ping,
    /// `PONG`.
    Pong,
    /// `+OK` (verbose mode).
    Ok,
    /// `-ERR 'text'`: the text without its quotes.
    Err(&'a str),
}

/// The most payload bytes a parser accepts, whatever the server's `INFO` says: the NATS
/// server's own hard maximum (64 MiB). A larger `max_payload` (a hostile or broken server) is
/// clamped to it, so one message can never make the parser buffer more.
pub const MAX_PAYLOAD_CAP: usize = 64 << 20;

/// The push parser. Memory: one buffer that never holds more than a control line and one
/// message's bytes (`max_payload` from the server's `INFO`, at most [`MAX_PAYLOAD_CAP`], plus
/// the line).
#[derive(Debug)]
pub struct Parser {
    buf: Vec<u8>,
    /// Bytes of `buf` already handed out (dropped before the next feed).
    used: usize,
    max_payload: usize,
    failed: bool,
}

fn bad(reason: String) -> Error {
    Error::BadInput {
        reason: format!("NATS protocol: {reason}").into(),
    }
}

impl Parser {
    /// A parser accepting payloads (headers included) of up to `max_payload` bytes (at most
    /// [`MAX_PAYLOAD_CAP`]).
    pub fn new(max_payload: usize) -> Self {
        Parser {
            buf: Vec::new(),
            used: 0,
            max_payload: max_payload.min(MAX_PAYLOAD_CAP),
            failed: false,
        }
    }

    /// Raises the payload limit (after `INFO` says `max_payload`), at most [`MAX_PAYLOAD_CAP`].
    pub fn set_max_payload(&mut self, n: usize) {
        self.max_payload = n.min(MAX_PAYLOAD_CAP);
    }

    /// Forgets everything (a new connection).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.used = 0;
        self.failed = false;
    }

    /// Feeds `input`, handing every complete operation to `on`, in order. A protocol violation
    /// (an unknown operation, a malformed line, a line or payload over its limit) is an
    /// [`Error::BadInput`]; the parser then refuses everything until [`Parser::reset`] (the
    /// connection is to be dropped).
    pub fn feed(&mut self, input: &[u8], mut on: impl FnMut(ServerOp<'_>)) -> Result<(), Error> {
        if self.failed {
            return Err(bad("the connection already broke the protocol".into()));
        }
        if self.used > 0 {
            self.buf.drain(..self.used);
            self.used = 0;
        }
        self.buf.extend_from_slice(input);
        loop {
            match next_op(&self.buf[self.used..], self.max_payload) {
                Ok(Some((op, n))) => {
                    on(op);
                    self.used += n;
                }
                Ok(None) => return Ok(()),
                Err(e) => {
                    self.failed = true;
                    self.buf.clear();
                    self.used = 0;
                    return Err(e);
                }
            }
        }
    }
}

/// The first whole operation of `buf` and its length; `None` when it is not all there yet.
fn next_op(buf: &[u8], max_payload: usize) -> Result<Option<(ServerOp<'_>, usize)>, Error> {
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > MAX_CONTROL_LINE {
            return Err(bad(format!("a control line over {MAX_CONTROL_LINE} bytes")));
        }
        return Ok(None);
    };
    if nl > MAX_CONTROL_LINE {
        return Err(bad(format!("a control line over {MAX_CONTROL_LINE} bytes")));
    }
    let line = buf[..nl].strip_suffix(b"\r").unwrap_or(&buf[..nl]);
    let after = nl + 1;
    let (name, rest) = match line.iter().position(|&b| b == b' ' || b == b'\t') {
        Some(i) => (&line[..i], trim(&line[i + 1..])),
        None => (line, &line[line.len()..]),
    };
    let op = name.to_ascii_uppercase();
    let simple = |op| Ok(Some((op, after)));
    match op.as_slice() {
        b"PING" => simple(ServerOp::Ping),
        b"PONG" => simple(ServerOp::Pong),
        b"+OK" => simple(ServerOp::Ok),
        b"-ERR" => {
            let text =
                std::str::from_utf8(rest).map_err(|_| bad("-ERR text is not UTF-8".into()))?;
            simple(ServerOp::Err(text.trim_matches('\'')))
        }
        b"INFO" => simple(ServerOp::Info(rest)),
        b"MSG" | b"HMSG" => {
            let headers = op.as_slice() == b"HMSG";
            let args: Vec<&[u8]> = rest
                .split(|&b| b == b' ' || b == b'\t')
                .filter(|a| !a.is_empty())
                .collect();
            let want = if headers { [4usize, 5] } else { [3, 4] };
            if !want.contains(&args.len()) {
                return Err(bad(format!(
                    "{} with {} arguments",
                    String::from_utf8_lossy(&op),
                    args.len()
                )));
            }
            let number = |a: &[u8]| -> Result<usize, Error> {
                std::str::from_utf8(a)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| bad(format!("'{}' is not a number", String::from_utf8_lossy(a))))
            };
            let subject = text(args[0])?;
            let sid = number(args[1])? as u64;
            let reply = (args.len() == want[1]).then(|| text(args[2])).transpose()?;
            let (header_len, total) = if headers {
                let n = args.len();
                (number(args[n - 2])?, number(args[n - 1])?)
            } else {
                (0, number(args[args.len() - 1])?)
            };
            if header_len > total {
                return Err(bad(format!("header bytes {header_len} over total {total}")));
            }
            if total > max_payload {
                return Err(bad(format!(
                    "a message of {total} bytes over the maximum {max_payload}"
                )));
            }
            // The payload, then CRLF (`total` is at most the cap: no overflow).
            let end = after + total;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err(bad("a message not followed by CRLF".into()));
            }
            let body = &buf[after..end];
            let op = ServerOp::Msg {
                subject,
                sid,
                reply,
                headers: headers.then(|| &body[..header_len]),
                payload: &body[header_len..],
            };
            Ok(Some((op, after + total + 2)))
        }
        _ => Err(bad(format!(
            "unknown operation '{}'",
            String::from_utf8_lossy(&name[..name.len().min(32)])
        ))),
    }
}

fn text(a: &[u8]) -> Result<&str, Error> {
    std::str::from_utf8(a).map_err(|_| bad("a subject that is not UTF-8".into()))
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|&c| c != b' ' && c != b'\t')
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|&c| c != b' ' && c != b'\t')
        .map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

/// An `HMSG` header block: its status (`NATS/1.0 503`: no responders) and its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Headers<'a> {
    /// The status code after `NATS/1.0`, if any.
    pub status: Option<u16>,
    /// The status's description, if any.
    pub description: &'a str,
    /// `Name: value` fields, in order.
    pub fields: Vec<(&'a str, &'a str)>,
}

impl<'a> Headers<'a> {
    /// Parses a header block; `None` if it does not start with `NATS/1.0`.
    pub fn parse(block: &'a [u8]) -> Option<Headers<'a>> {
        let text = std::str::from_utf8(block).ok()?;
        let mut lines = text.split("\r\n");
        let first = lines.next()?.strip_prefix("NATS/1.0")?;
        let first = first.trim();
        let (code, description) = first.split_once(' ').unwrap_or((first, ""));
        let fields = lines
            .filter(|l| !l.is_empty())
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim(), v.trim()))
            .collect();
        Some(Headers {
            status: code.parse().ok(),
            description: description.trim(),
            fields,
        })
    }

    /// The first field named `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_max_payload_is_clamped_and_a_huge_size_is_an_error_not_a_panic() {
        // Audit M1: INFO with max_payload 2^64-1, then a MSG claiming 2^64-2 bytes.
        for claimed in [u64::MAX - 1, 1 << 40, (MAX_PAYLOAD_CAP + 1) as u64] {
            let mut p = Parser::new(1 << 20);
            p.set_max_payload(usize::MAX);
            let line = format!("MSG _INBOX.x.1 1 {claimed}\r\n");
            let r = p.feed(line.as_bytes(), |_| {});
            assert!(r.is_err(), "{claimed}");
            assert!(r.unwrap_err().to_string().contains("over the maximum"));
        }
        // At the cap it waits for the bytes instead.
        let mut p = Parser::new(usize::MAX);
        let line = format!("MSG _INBOX.x.1 1 {MAX_PAYLOAD_CAP}\r\n");
        assert!(p.feed(line.as_bytes(), |_| {}).is_ok());
    }

    /// Every op as an owned string, for comparing runs.
    fn ops(input: &[u8], sizes: &[usize]) -> (Vec<String>, Result<(), Error>) {
        let mut p = Parser::new(1024);
        let mut out = Vec::new();
        let mut at = 0;
        for &n in sizes {
            let end = (at + n).min(input.len());
            if let Err(e) = p.feed(&input[at..end], |op| out.push(format!("{op:?}"))) {
                return (out, Err(e));
            }
            at = end;
        }
        (out, Ok(()))
    }

    const STREAM: &[u8] = b"INFO {\"server_id\":\"x\",\"max_payload\":1048576}\r\n\
PING\r\n\
MSG gnip.powertrack.0 1 5\r\nhello\r\n\
msg a.b 22 _INBOX.r1 0\r\n\r\n\
HMSG _INBOX.x.1 7 _INBOX.y 16 21\r\nNATS/1.0 503\r\n\r\nabcde\r\n\
HMSG _INBOX.x.2 7 12 12\r\nNATS/1.0\r\n\r\n\r\n\
+OK\r\n\
-ERR 'Authorization Violation'\r\n\
PONG\r\n";

    #[test]
    fn every_operation_parses_and_splits_change_nothing() {
        let (whole, end) = ops(STREAM, &[STREAM.len()]);
        end.unwrap();
        assert_eq!(whole.len(), 9, "{whole:#?}");
        assert!(whole[0].starts_with("Info("));
        assert_eq!(whole[1], "Ping");
        assert_eq!(
            whole[2],
            format!(
                "{:?}",
                ServerOp::Msg {
                    subject: "gnip.powertrack.0",
                    sid: 1,
                    reply: None,
                    headers: None,
                    payload: b"hello"
                }
            )
        );
        assert_eq!(
            whole[3],
            format!(
                "{:?}",
                ServerOp::Msg {
                    subject: "a.b",
                    sid: 22,
                    reply: Some("_INBOX.r1"),
                    headers: None,
                    payload: b""
                }
            )
        );
        assert_eq!(
            whole[4],
            format!(
                "{:?}",
                ServerOp::Msg {
                    subject: "_INBOX.x.1",
                    sid: 7,
                    reply: Some("_INBOX.y"),
                    headers: Some(b"NATS/1.0 503\r\n\r\n"),
                    payload: b"abcde"
                }
            )
        );
        assert_eq!(whole[7], "Err(\"Authorization Violation\")");
        for cut in 0..STREAM.len() {
            assert_eq!(ops(STREAM, &[cut, STREAM.len()]).0, whole, "cut at {cut}");
        }
        assert_eq!(ops(STREAM, &vec![1; STREAM.len()]).0, whole, "byte by byte");
    }

    #[test]
    fn violations_are_errors_and_the_parser_stays_failed() {
        for (input, says) in [
            (&b"HELLO\r\n"[..], "unknown operation"),
            (b"MSG a 1\r\n", "arguments"),
            (b"MSG a x 3\r\nabc\r\n", "not a number"),
            (b"MSG a 1 3\r\nabcXY", "CRLF"),
            (b"MSG a 1 5000\r\n", "over the maximum"),
            (b"HMSG a 1 9 3\r\n", "over total"),
        ] {
            let mut p = Parser::new(1024);
            let e = p.feed(input, |_| {}).unwrap_err();
            assert!(e.to_string().contains(says), "{e}");
            assert!(p.feed(b"PING\r\n", |_| {}).is_err(), "stays failed");
            p.reset();
            let mut n = 0;
            p.feed(b"PING\r\n", |_| n += 1).unwrap();
            assert_eq!(n, 1, "a reset starts afresh");
        }
        let mut p = Parser::new(1024);
        let long = vec![b'x'; MAX_CONTROL_LINE + 1];
        assert!(
            p.feed(&long, |_| {}).is_err(),
            "an endless line is refused at the cap"
        );
    }

    #[test]
    fn header_blocks_give_status_and_fields() {
        let h = Headers::parse(b"NATS/1.0 503 No Responders\r\nNats-Msg-Id: activity:1\r\n\r\n")
            .unwrap();
        assert_eq!((h.status, h.description), (Some(503), "No Responders"));
        assert_eq!(h.get("nats-msg-id"), Some("activity:1"));
        let plain = Headers::parse(b"NATS/1.0\r\n\r\n").unwrap();
        assert_eq!((plain.status, plain.fields.len()), (None, 0));
        assert_eq!(Headers::parse(b"HTTP/1.1 200\r\n\r\n"), None);
    }
}

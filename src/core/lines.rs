//! Zero-copy splitting of inflated bytes into `\r\n`-terminated records, bounded in memory.

use std::ops::ControlFlow;

/// One line of the stream, as [`LineSplitter::push`] hands it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// A non-empty line, without its `\n` and without one trailing `\r`. Borrowed from the input
    /// when the line lies inside one input slice, else from the splitter's carry buffer.
    Record(&'a [u8]),
    /// An empty line: the service's keep-alive (`\r\n`, or a bare `\n`).
    Heartbeat,
    /// A line longer than the maximum, skipped; `len` is its full length without the
    /// terminator. Reported once, when its newline arrives.
    Overlong {
        /// Length of the skipped line in bytes, without `\r\n`.
        len: u64,
    },
}

/// The default maximum record length: 1 MiB.
///
/// The largest real records are about 13 KB and one Gnip collector assumed less than 128 KiB;
/// 1 MiB leaves two orders of magnitude of room while bounding the carry buffer, the only
/// memory the splitter owns.
pub const DEFAULT_MAX_RECORD: usize = 1 << 20;

/// Splits a byte stream on `\n`, strips one trailing `\r`, and reports empty lines as
/// heartbeats.
///
/// Lines are handed out as slices of the input whenever they lie inside it. Only a line that
/// spans two inputs is copied, once, into a carry buffer that never holds more than
/// `max_record + 1` bytes. A longer line is skipped up to its newline and reported as
/// [`Line::Overlong`]; the stream goes on.
///
/// The output does not depend on how the input is chunked: any split of the same bytes gives the
/// same lines.
///
/// ```
/// use gnip_stream::core::{Line, LineSplitter};
/// let mut s = LineSplitter::new(1024);
/// let mut got = Vec::new();
/// s.push(b"{\"a\":1}\r\n\r\n{\"b\"", |l| got.push(format!("{l:?}")));
/// s.push(b":2}\r\n", |l| got.push(format!("{l:?}")));
/// assert_eq!(got.len(), 3);
/// assert_eq!(got[1], "Heartbeat");
/// assert_eq!(s.finish(), None); // nothing left over
/// ```
#[derive(Debug, Clone)]
pub struct LineSplitter {
    carry: Vec<u8>,
    max_record: usize,
    /// Length so far of the overlong line being skipped, when there is one.
    skipping: Option<u64>,
    /// Whether the last byte skipped was `\r` (so the reported length can leave it out).
    skipped_cr: bool,
}

impl LineSplitter {
    /// A splitter that refuses records longer than `max_record` bytes.
    pub fn new(max_record: usize) -> Self {
        LineSplitter {
            carry: Vec::new(),
            max_record,
            skipping: None,
            skipped_cr: false,
        }
    }

    /// The maximum record length this splitter accepts.
    pub fn max_record(&self) -> usize {
        self.max_record
    }

    /// Bytes held for a line not yet terminated (0 when the input so far ends with `\n`).
    pub fn pending_len(&self) -> u64 {
        self.skipping.unwrap_or(self.carry.len() as u64)
    }

    /// Forgets a partial line, for a new connection. Returns its length, if there was one.
    pub fn reset(&mut self) -> Option<u64> {
        let pending = self.pending_len();
        self.carry.clear();
        self.skipping = None;
        self.skipped_cr = false;
        (pending > 0).then_some(pending)
    }

    /// The stream ended: returns the length of the unterminated line it ended in, if any. That
    /// line is never handed out as a record: it may be cut anywhere.
    pub fn finish(&mut self) -> Option<u64> {
        self.reset()
    }

    /// Splits `input`, calling `on_line` for every line it completes.
    pub fn push(&mut self, input: &[u8], mut on_line: impl FnMut(Line<'_>)) {
        let _ = self.push_until(input, |line| {
            on_line(line);
            ControlFlow::Continue(())
        });
    }

    /// [`LineSplitter::push`] with a callback that can stop: after a line for which it returns
    /// `Break`, nothing more is split and `Break(n)` says how many bytes of `input` were used
    /// (through that line's `\n`). The rest is not held: pass it again to go on.
    pub fn push_until(
        &mut self,
        input: &[u8],
        mut on_line: impl FnMut(Line<'_>) -> ControlFlow<()>,
    ) -> ControlFlow<usize> {
        let mut used = 0;
        if self.skipping.is_some() || !self.carry.is_empty() {
            let Some(nl) = memchr::memchr(b'\n', input) else {
                self.hold(input);
                return ControlFlow::Continue(());
            };
            self.hold(&input[..nl]);
            used = nl + 1;
            if self.complete_held(&mut on_line).is_break() {
                return ControlFlow::Break(used);
            }
        }
        let rest = &input[used..];
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', rest) {
            let flow = on_line(self.line(&rest[start..nl]));
            start = nl + 1;
            if flow.is_break() {
                return ControlFlow::Break(used + start);
            }
        }
        self.hold(&rest[start..]);
        ControlFlow::Continue(())
    }

    fn line<'a>(&self, raw: &'a [u8]) -> Line<'a> {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.is_empty() {
            Line::Heartbeat
        } else if line.len() > self.max_record {
            Line::Overlong {
                len: line.len() as u64,
            }
        } else {
            Line::Record(line)
        }
    }

    /// Keeps the start of an unterminated line, or counts it when it is too long to keep.
    fn hold(&mut self, part: &[u8]) {
        if part.is_empty() {
            return;
        }
        if let Some(len) = self.skipping.as_mut() {
            *len += part.len() as u64;
            self.skipped_cr = part.last() == Some(&b'\r');
        } else if self.carry.len() + part.len() > self.max_record + 1 {
            // `+ 1`: a record of exactly max_record bytes may still be followed by its `\r`.
            self.skipping = Some((self.carry.len() + part.len()) as u64);
            self.skipped_cr = part.last() == Some(&b'\r');
            self.carry.clear();
        } else {
            let needed = self.carry.len() + part.len();
            if needed > self.carry.capacity() {
                // Grow by doubling, as Vec would, but never past the bound.
                let target = (self.carry.capacity() * 2).clamp(needed, self.max_record + 1);
                self.carry.reserve_exact(target - self.carry.len());
            }
            self.carry.extend_from_slice(part);
        }
    }

    fn complete_held(
        &mut self,
        on_line: &mut impl FnMut(Line<'_>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        if let Some(len) = self.skipping.take() {
            let flow = on_line(Line::Overlong {
                len: len - u64::from(self.skipped_cr),
            });
            self.skipped_cr = false;
            flow
        } else {
            let flow = on_line(self.line(&self.carry));
            self.carry.clear();
            flow
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Eq)]
    enum Own {
        Rec(Vec<u8>),
        Hb,
        Over(u64),
    }

    fn own(l: Line<'_>) -> Own {
        match l {
            Line::Record(r) => Own::Rec(r.to_vec()),
            Line::Heartbeat => Own::Hb,
            Line::Overlong { len } => Own::Over(len),
        }
    }

    fn split_at_all(input: &[u8], max: usize) -> Vec<Own> {
        let mut whole = Vec::new();
        let mut s = LineSplitter::new(max);
        s.push(input, |l| whole.push(own(l)));
        let whole_tail = s.finish();
        for cut in 0..=input.len() {
            let mut got = Vec::new();
            let mut s = LineSplitter::new(max);
            s.push(&input[..cut], |l| got.push(own(l)));
            s.push(&input[cut..], |l| got.push(own(l)));
            assert_eq!(got, whole, "cut at {cut}");
            assert_eq!(s.finish(), whole_tail, "cut at {cut}");
        }
        let mut got = Vec::new();
        let mut s = LineSplitter::new(max);
        for b in input {
            s.push(std::slice::from_ref(b), |l| got.push(own(l)));
        }
        assert_eq!(got, whole, "byte by byte");
        whole
    }

    #[test]
    fn heartbeats_bare_newlines_and_lone_cr() {
        let got = split_at_all(b"\r\n{\"a\":1}\r\n\r\n\n{\"b\":\"x\ry\"}\n\r\n", 64);
        assert_eq!(
            got,
            vec![
                Own::Hb,
                Own::Rec(b"{\"a\":1}".to_vec()),
                Own::Hb,
                Own::Hb,
                Own::Rec(b"{\"b\":\"x\ry\"}".to_vec()),
                Own::Hb,
            ]
        );
    }

    #[test]
    fn only_one_cr_is_stripped() {
        assert_eq!(
            split_at_all(b"ab\r\r\n", 64),
            vec![Own::Rec(b"ab\r".to_vec())]
        );
        assert_eq!(split_at_all(b"\r\r\n", 64), vec![Own::Rec(b"\r".to_vec())]);
    }

    #[test]
    fn overlong_is_skipped_and_stream_goes_on() {
        let mut input = b"ok\r\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 40));
        input.extend_from_slice(b"\r\nnext\r\n");
        let got = split_at_all(&input, 10);
        assert_eq!(
            got,
            vec![
                Own::Rec(b"ok".to_vec()),
                Own::Over(40),
                Own::Rec(b"next".to_vec())
            ]
        );
    }

    #[test]
    fn limit_is_inclusive_and_cr_does_not_count() {
        assert_eq!(
            split_at_all(b"0123456789\r\n", 10),
            vec![Own::Rec(b"0123456789".to_vec())]
        );
        assert_eq!(split_at_all(b"0123456789A\r\n", 10), vec![Own::Over(11)]);
        assert_eq!(split_at_all(b"0123456789A\n", 10), vec![Own::Over(11)]);
        assert_eq!(
            split_at_all(b"0123456789AB\r\nz\n", 10),
            vec![Own::Over(12), Own::Rec(b"z".to_vec())]
        );
    }

    #[test]
    fn partial_record_is_reported_not_emitted() {
        let mut s = LineSplitter::new(64);
        let mut got = Vec::new();
        s.push(b"{\"a\":1}\r\n{\"b\":", |l| got.push(own(l)));
        assert_eq!(got, vec![Own::Rec(b"{\"a\":1}".to_vec())]);
        assert_eq!(s.pending_len(), 5);
        assert_eq!(s.finish(), Some(5));
        assert_eq!(s.finish(), None);
        let mut s = LineSplitter::new(4);
        s.push(b"toolong", |_| panic!("nothing completes"));
        assert_eq!(s.finish(), Some(7));
    }

    #[test]
    fn empty_input_gives_nothing() {
        assert!(split_at_all(b"", 8).is_empty());
    }

    #[test]
    fn carry_never_exceeds_the_bound() {
        let mut s = LineSplitter::new(100);
        for _ in 0..10_000 {
            s.push(&[b'y'; 97], |_| {});
            assert!(s.carry.capacity() <= 101, "{}", s.carry.capacity());
        }
        assert_eq!(s.pending_len(), 970_000);
    }
}

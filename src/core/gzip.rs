//! Incremental gzip (RFC 1952) member decoder over a raw inflater (miniz_oxide's core, or
//! zlib-rs with the feature of that name).

use std::ops::ControlFlow;

use super::crc32::Crc32;
use super::inflate::{Inflater, Raw, Step, WINDOW};
use crate::Error;

const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
const RESERVED: u8 = 0xE0;
// FTEXT (0x01) is only a hint about the content; it changes nothing for the decoder.

/// What one [`GzipDecoder::decode_until`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    /// Bytes of the input used.
    pub consumed: usize,
    /// Whether the sink stopped the call (more may be held for the next one).
    pub stopped: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before a member's first byte: at the start, or after a complete trailer.
    MemberStart,
    /// Reading the 10-byte fixed header; `got` bytes so far in `scratch`.
    Fixed {
        got: u8,
    },
    ExtraLen {
        got: u8,
    },
    Extra {
        left: u16,
    },
    Name,
    Comment,
    HeaderCrc {
        got: u8,
    },
    Body,
    Trailer {
        got: u8,
    },
    Failed,
}

/// An incremental gzip decoder: bytes in, in pieces of any size; inflated bytes out as soon as
/// they exist, borrowed straight from the deflate window.
///
/// It reads the full RFC 1952 header (FEXTRA, FNAME and FCOMMENT are skipped without being
/// stored; FHCRC is verified), inflates the body with miniz_oxide's `decompress` (or zlib-rs,
/// [`GzipDecoder::with_inflater`]) into its own 64 KiB window, and checks the trailer: ISIZE always, CRC-32 only when
/// [`GzipDecoder::with_crc_check`] asked for it (a live stream's trailer never arrives, so
/// computing the CRC there is wasted work). A second member after a trailer is decoded as a
/// continuation of the first.
///
/// Driving `decompress` directly, rather than miniz_oxide's `stream::inflate`, does two things:
/// the inflated bytes are handed out from the window without a copy into another buffer, and
/// every byte inflated before corrupt data is handed out too (`stream::inflate` drops what is
/// still in its window once it has seen an error).
///
/// Memory is fixed at construction: the decompressor's tables (about 11 KiB) and the 64 KiB
/// window (zlib-rs: its state and its own 32 KiB window besides). Nothing grows with the input.
///
/// ```
/// use gnip_stream::core::{GzipDecoder, GzipEncoder};
///
/// let mut enc = GzipEncoder::new(6);
/// let mut gz = Vec::new();
/// enc.write_flush(b"{\"id_str\":\"1\"}\r\n", &mut gz);
///
/// let mut dec = GzipDecoder::new();
/// let mut out = Vec::new();
/// dec.decode(&gz, |bytes| out.extend_from_slice(bytes))?;
/// assert_eq!(out, b"{\"id_str\":\"1\"}\r\n");
/// # Ok::<(), gnip_stream::Error>(())
/// ```
pub struct GzipDecoder {
    state: State,
    inflater: Raw,
    which: Inflater,
    window: Box<[u8; WINDOW]>,
    /// Where the next inflated byte goes in `window`.
    window_pos: usize,
    /// Inflated bytes not yet handed out, `window[held.0..held.1]`: the sink stopped inside a
    /// run. They go out first on the next call, before anything new is inflated over them.
    held: (usize, usize),
    /// An error found in the inflate step the sink stopped in: reported once the bytes before
    /// it (held) are out, so a stop changes nothing about what is delivered.
    deferred: Option<Error>,
    check_crc: bool,
    crc: Crc32,
    header_crc: Crc32,
    flags: u8,
    scratch: [u8; 10],
    size: u32,
    members: u64,
    total_in: u64,
    total_out: u64,
}

impl std::fmt::Debug for GzipDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GzipDecoder")
            .field("state", &self.state)
            .field("inflater", &self.which)
            .field("check_crc", &self.check_crc)
            .field("members", &self.members)
            .field("total_in", &self.total_in)
            .field("total_out", &self.total_out)
            .finish_non_exhaustive()
    }
}

impl Default for GzipDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl GzipDecoder {
    /// A decoder for a live stream: CRC-32 checking off.
    pub fn new() -> Self {
        GzipDecoder {
            state: State::MemberStart,
            inflater: Raw::new(Inflater::default()),
            which: Inflater::default(),
            window: Box::new([0; WINDOW]),
            window_pos: 0,
            held: (0, 0),
            deferred: None,
            check_crc: false,
            crc: Crc32::new(),
            header_crc: Crc32::new(),
            flags: 0,
            scratch: [0; 10],
            size: 0,
            members: 0,
            total_in: 0,
            total_out: 0,
        }
    }

    /// Turns CRC-32 checking of the trailer on or off (default off). Turn it on for finite
    /// streams such as Replay, whose trailer does arrive.
    pub fn with_crc_check(mut self, on: bool) -> Self {
        self.check_crc = on;
        self
    }

    /// Uses `which` to inflate the body (default [`Inflater::MinizOxide`]); everything else,
    /// and every guarantee, is the same.
    pub fn with_inflater(mut self, which: Inflater) -> Self {
        if which != self.which {
            self.inflater = Raw::new(which);
            self.which = which;
        }
        self
    }

    /// The inflater in use.
    pub fn inflater(&self) -> Inflater {
        self.which
    }

    fn start_member(&mut self) {
        self.state = State::MemberStart;
        self.inflater.init();
        self.window_pos = 0;
        self.held = (0, 0);
        self.deferred = None;
        self.crc = Crc32::new();
        self.header_crc = Crc32::new();
        self.flags = 0;
        self.size = 0;
    }

    /// Forgets everything for a new stream (a new connection), keeping the allocations and the
    /// CRC setting.
    pub fn reset(&mut self) {
        self.start_member();
        self.members = 0;
        self.total_in = 0;
        self.total_out = 0;
    }

    /// Complete members decoded so far (header, body and verified trailer).
    pub fn members(&self) -> u64 {
        self.members
    }

    /// Compressed bytes consumed since the last reset.
    pub fn total_in(&self) -> u64 {
        self.total_in
    }

    /// Inflated bytes produced since the last reset.
    pub fn total_out(&self) -> u64 {
        self.total_out
    }

    /// Whether the input so far ends exactly between members (or before the first).
    pub fn at_member_boundary(&self) -> bool {
        self.state == State::MemberStart
    }

    /// Says whether the stream may end here: `Ok` between members, [`Error::Truncated`] inside
    /// one, [`Error::DecoderFailed`] after an error.
    pub fn finish(&self) -> Result<(), Error> {
        match self.state {
            State::MemberStart => Ok(()),
            State::Failed => Err(Error::DecoderFailed),
            _ => Err(Error::Truncated),
        }
    }

    /// Decodes all of `input`, handing every run of inflated bytes to `sink` as soon as it
    /// exists, in order. When this returns `Ok`, all input was used and nothing inflated is
    /// held back, so a record the server flushed reaches the caller with the bytes that carried
    /// it.
    ///
    /// On an error, `sink` has had every byte inflated before the bad data; the decoder then
    /// stays failed ([`Error::DecoderFailed`]) until [`GzipDecoder::reset`]. No call loops:
    /// each step consumes input or produces output, or stops.
    pub fn decode(&mut self, input: &[u8], mut sink: impl FnMut(&[u8])) -> Result<(), Error> {
        self.decode_until(input, |bytes| {
            sink(bytes);
            ControlFlow::Continue(())
        })
        .map(|_| ())
    }

    /// [`GzipDecoder::decode`] with a sink that can stop: `Break(n)` says it used the first `n`
    /// bytes of the run it was handed and wants nothing more now. The call then returns at
    /// once with [`Decoded::stopped`] set and [`Decoded::consumed`] saying how much of `input`
    /// was used; the bytes the sink did not take are held and handed out first on the next
    /// call, which takes `&input[consumed..]` (possibly empty). Explicit progress, as
    /// csv-core's and miniz_oxide's own push decoders report it.
    ///
    /// If the inflate step the sink stopped in also hit corrupt data, the error comes from the
    /// call that hands out the last held byte: stopping changes neither what is delivered nor
    /// the outcome.
    pub fn decode_until(
        &mut self,
        input: &[u8],
        mut sink: impl FnMut(&[u8]) -> ControlFlow<usize>,
    ) -> Result<Decoded, Error> {
        let mut consumed = 0usize;
        let result = self.decode_inner(input, &mut consumed, &mut sink);
        if result.is_err() {
            self.state = State::Failed;
            self.held = (0, 0);
            self.deferred = None;
        }
        self.total_in += consumed as u64;
        result.map(|stopped| Decoded { consumed, stopped })
    }

    /// Runs until the input is used up (`Ok(false)`), the sink stops (`Ok(true)`) or an error.
    fn decode_inner(
        &mut self,
        input: &[u8],
        consumed: &mut usize,
        sink: &mut impl FnMut(&[u8]) -> ControlFlow<usize>,
    ) -> Result<bool, Error> {
        if self.held.0 < self.held.1 {
            let (start, end) = self.held;
            if let ControlFlow::Break(n) = sink(&self.window[start..end]) {
                self.held.0 = (start + n).min(end);
                return Ok(true);
            }
            self.held = (0, 0);
        }
        if let Some(e) = self.deferred.take() {
            return Err(e);
        }
        loop {
            match self.state {
                State::Failed => return Err(Error::DecoderFailed),
                State::Body => {
                    let rest = &input[*consumed..];
                    let start = self.window_pos;
                    let (status, used, made) = self.inflater.step(rest, &mut self.window, start);
                    *consumed += used;
                    if made > 0 && self.check_crc {
                        self.crc.update(&self.window[start..start + made]);
                    }
                    // ISIZE is the length mod 2^32 (RFC 1952): wrapping is the rule.
                    self.size = self.size.wrapping_add(made as u32);
                    self.total_out += made as u64;
                    // The window wraps: a match may reach back across its end.
                    self.window_pos = (start + made) % WINDOW;
                    let step = match status {
                        Step::Done => {
                            self.state = State::Trailer { got: 0 };
                            Ok(true)
                        }
                        Step::NeedsInput => Ok(false),
                        // The window's end was reached; go round from its start.
                        Step::WindowFull => Ok(true),
                        Step::Corrupt => Err(Error::CorruptDeflate),
                    };
                    // Bytes before a failure are good: out they go before the error does.
                    if made > 0 {
                        if let ControlFlow::Break(n) = sink(&self.window[start..start + made]) {
                            self.held = ((start + n).min(start + made), start + made);
                            self.deferred = step.err();
                            return Ok(true);
                        }
                    }
                    if !step? {
                        return Ok(false);
                    }
                }
                _ => {
                    // Header and trailer: a byte at a time (a few dozen bytes per connection).
                    let Some(&b) = input.get(*consumed) else {
                        return Ok(false);
                    };
                    *consumed += 1;
                    self.header_or_trailer_byte(b)?;
                }
            }
        }
    }

    fn header_or_trailer_byte(&mut self, b: u8) -> Result<(), Error> {
        if !matches!(self.state, State::Trailer { .. } | State::HeaderCrc { .. }) {
            self.header_crc.update(&[b]);
        }
        match self.state {
            State::MemberStart => {
                self.scratch[0] = b;
                self.state = State::Fixed { got: 1 };
            }
            State::Fixed { got } => {
                self.scratch[got as usize] = b;
                let got = got + 1;
                match got {
                    2 if self.scratch[..2] != [0x1f, 0x8b] => {
                        return Err(Error::NotGzip {
                            found: [self.scratch[0], b],
                        });
                    }
                    3 if b != 8 => return Err(Error::UnsupportedMethod { method: b }),
                    4 if b & RESERVED != 0 => return Err(Error::ReservedFlags { flags: b }),
                    4 => self.flags = b,
                    _ => {}
                }
                self.state = if got == 10 {
                    self.after(FEXTRA)
                } else {
                    State::Fixed { got }
                };
            }
            State::ExtraLen { got: 0 } => {
                self.scratch[0] = b;
                self.state = State::ExtraLen { got: 1 };
            }
            State::ExtraLen { .. } => {
                let left = u16::from_le_bytes([self.scratch[0], b]);
                self.state = if left == 0 {
                    self.after(FNAME)
                } else {
                    State::Extra { left }
                };
            }
            State::Extra { left } => {
                self.state = if left == 1 {
                    self.after(FNAME)
                } else {
                    State::Extra { left: left - 1 }
                };
            }
            State::Name if b == 0 => self.state = self.after(FCOMMENT),
            State::Comment if b == 0 => self.state = self.after(FHCRC),
            State::Name | State::Comment => {}
            State::HeaderCrc { got: 0 } => {
                self.scratch[0] = b;
                self.state = State::HeaderCrc { got: 1 };
            }
            State::HeaderCrc { .. } => {
                let expected = u16::from_le_bytes([self.scratch[0], b]);
                // FHCRC is the low 16 bits of the CRC-32 of the header before it.
                let actual = (self.header_crc.value() & 0xffff) as u16;
                if expected != actual {
                    return Err(Error::HeaderCrcMismatch { expected, actual });
                }
                self.state = State::Body;
            }
            State::Trailer { got } => {
                self.scratch[got as usize] = b;
                if got + 1 < 8 {
                    self.state = State::Trailer { got: got + 1 };
                    return Ok(());
                }
                let s = &self.scratch;
                let crc = u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
                let isize = u32::from_le_bytes([s[4], s[5], s[6], s[7]]);
                if isize != self.size {
                    return Err(Error::SizeMismatch {
                        expected: isize,
                        actual: self.size,
                    });
                }
                if self.check_crc && crc != self.crc.value() {
                    return Err(Error::CrcMismatch {
                        expected: crc,
                        actual: self.crc.value(),
                    });
                }
                self.members += 1;
                self.start_member();
            }
            // `decode_inner` handles these two itself and never sends a byte here; were it to,
            // failing is the safe answer.
            State::Body | State::Failed => return Err(Error::DecoderFailed),
        }
        Ok(())
    }

    /// The header state that follows once the optional fields before `field` are done: the
    /// first of `field`, FNAME, FCOMMENT, FHCRC (in RFC order) whose flag is set, else the body.
    fn after(&self, field: u8) -> State {
        let order = [FEXTRA, FNAME, FCOMMENT, FHCRC];
        for f in order.into_iter().skip_while(|&f| f != field) {
            if self.flags & f != 0 {
                return match f {
                    FEXTRA => State::ExtraLen { got: 0 },
                    FNAME => State::Name,
                    FCOMMENT => State::Comment,
                    _ => State::HeaderCrc { got: 0 },
                };
            }
        }
        State::Body
    }
}

/// Inflates a whole small gzip body (a Rules or Connections answer, an error body) into
/// memory, at most `limit` bytes: more is [`Error::BadInput`] naming the limit, found as soon as
/// the limit is passed (a gzip bomb costs at most `limit` bytes and the time to make them, not
/// what it would inflate to). With `check_crc`, the trailer's CRC-32 is checked too.
///
/// ```
/// use gnip_stream::core::{GzipEncoder, gunzip_capped};
/// let mut gz = Vec::new();
/// let mut enc = GzipEncoder::new(6);
/// enc.write(&[b'0'; 100_000], &mut gz);
/// enc.finish(&mut gz);
/// assert_eq!(gunzip_capped(&gz, 100_000, true).unwrap().len(), 100_000);
/// assert!(gunzip_capped(&gz, 4096, true).is_err());
/// ```
pub fn gunzip_capped(body: &[u8], limit: usize, check_crc: bool) -> Result<Vec<u8>, Error> {
    let mut dec = GzipDecoder::new().with_crc_check(check_crc);
    let mut out = Vec::new();
    let mut over = false;
    dec.decode_until(body, |b| {
        if out.len() + b.len() > limit {
            over = true;
            return ControlFlow::Break(0);
        }
        out.extend_from_slice(b);
        ControlFlow::Continue(())
    })?;
    if over {
        return Err(Error::BadInput {
            reason: format!("a gzip answer inflates to more than {limit} bytes").into(),
        });
    }
    dec.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::GzipEncoder;

    fn decode_all(dec: &mut GzipDecoder, input: &[u8]) -> Result<Vec<u8>, Error> {
        let mut all = Vec::new();
        dec.decode(input, |b| all.extend_from_slice(b))?;
        Ok(all)
    }

    #[test]
    fn round_trip_larger_than_the_window_with_crc() {
        let mut enc = GzipEncoder::new(6);
        let mut gz = Vec::new();
        let data: Vec<u8> = (0..50_000u32)
            .flat_map(|i| (i % 7919).to_le_bytes())
            .collect();
        enc.write_flush(&data, &mut gz);
        enc.finish(&mut gz);
        let mut dec = GzipDecoder::new().with_crc_check(true);
        let mut pieces = 0;
        let mut all = Vec::new();
        dec.decode(&gz, |b| {
            assert!(b.len() <= WINDOW);
            pieces += 1;
            all.extend_from_slice(b);
        })
        .unwrap();
        assert_eq!(all, data);
        assert!(pieces >= data.len() / WINDOW, "{pieces}");
        assert_eq!((dec.members(), dec.total_out()), (1, data.len() as u64));
        assert!(dec.finish().is_ok());
    }

    #[test]
    fn flushed_bytes_come_out_before_more_input() {
        let mut enc = GzipEncoder::new(6);
        let mut gz = Vec::new();
        enc.write_flush(b"first\r\n", &mut gz);
        let cut = gz.len();
        enc.write_flush(b"second\r\n", &mut gz);
        let mut dec = GzipDecoder::new();
        assert_eq!(decode_all(&mut dec, &gz[..cut]).unwrap(), b"first\r\n");
        assert_eq!(dec.finish(), Err(Error::Truncated));
        assert_eq!(decode_all(&mut dec, &gz[cut..]).unwrap(), b"second\r\n");
    }

    #[test]
    fn error_poisons_until_reset() {
        let mut dec = GzipDecoder::new();
        assert_eq!(
            decode_all(&mut dec, b"{}"),
            Err(Error::NotGzip {
                found: [b'{', b'}']
            })
        );
        assert_eq!(decode_all(&mut dec, b""), Err(Error::DecoderFailed));
        assert_eq!(dec.finish(), Err(Error::DecoderFailed));
        dec.reset();
        assert!(dec.finish().is_ok());
    }
}

//! Incremental gzip (RFC 1952) member decoder over miniz_oxide's raw inflate.

use miniz_oxide::inflate::stream::{InflateState, inflate};
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};

use super::crc32::Crc32;
use crate::Error;

const FTEXT: u8 = 0x01;
const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
const RESERVED: u8 = 0xE0;
// FTEXT is only a hint about the content; it changes nothing for the decoder.
const _: u8 = FTEXT;

/// How far one [`GzipDecoder::decode`] call got (miniz_oxide's `StreamResult` shape).
///
/// `written` bytes are good even when `status` is an error: they are what the stream held
/// before the bad bytes, and they must be used, so that a corrupt stream loses nothing before
/// the point of corruption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of input used. Unused input must be passed again on the next call.
    pub consumed: usize,
    /// Bytes written to the start of the output buffer.
    pub written: usize,
    /// Why the call returned, or what was wrong with the input.
    pub status: Result<DecodeStatus, Error>,
}

/// Why [`GzipDecoder::decode`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeStatus {
    /// All input was consumed and every byte it inflates to was handed out: the decoder holds
    /// nothing back. Feed more input when it arrives.
    NeedInput,
    /// The output buffer is full; call again (with the unconsumed input, possibly none) to get
    /// the rest.
    OutputFull,
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

/// An incremental gzip decoder: bytes in any pieces, inflated bytes out as soon as they exist.
///
/// It reads the full RFC 1952 header (FEXTRA, FNAME and FCOMMENT are skipped without being
/// stored; FHCRC is verified), inflates the body with miniz_oxide, and checks the trailer:
/// ISIZE always, CRC-32 only when [`GzipDecoder::with_crc_check`] asked for it (a live stream's
/// trailer never arrives, so computing the CRC there is wasted work). A second member after a
/// trailer is decoded as a continuation of the first.
///
/// Memory is fixed at construction: the inflate state (a 32 KiB window plus tables, about
/// 43 KiB) and a few counters. Nothing grows with the input.
///
/// ```
/// use gnip_stream::core::{GzipDecoder, GzipEncoder, DecodeStatus};
///
/// let mut enc = GzipEncoder::new(6);
/// let mut gz = Vec::new();
/// enc.write_flush(b"{\"id_str\":\"1\"}\r\n", &mut gz);
///
/// let mut dec = GzipDecoder::new();
/// let mut out = [0u8; 64];
/// let p = dec.decode(&gz, &mut out);
/// assert_eq!(p.status, Ok(DecodeStatus::NeedInput));
/// assert_eq!(&out[..p.written], b"{\"id_str\":\"1\"}\r\n");
/// ```
pub struct GzipDecoder {
    state: State,
    inflate: Box<InflateState>,
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
            inflate: InflateState::new_boxed(DataFormat::Raw),
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

    /// Forgets everything for a new stream (a new connection), keeping the allocations and the
    /// CRC setting.
    pub fn reset(&mut self) {
        self.state = State::MemberStart;
        self.inflate.reset(DataFormat::Raw);
        self.crc = Crc32::new();
        self.header_crc = Crc32::new();
        self.flags = 0;
        self.size = 0;
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

    /// Decodes as much of `input` as it can into `output`.
    ///
    /// Returns with [`DecodeStatus::NeedInput`] only when all of `input` was used and nothing
    /// inflated is held back, so a record the server flushed reaches the caller with the bytes
    /// that carried it. Returns [`DecodeStatus::OutputFull`] when `output` filled first. Every
    /// call makes progress or says why it cannot; none loops. After an error the decoder stays
    /// failed ([`Error::DecoderFailed`]) until [`GzipDecoder::reset`].
    pub fn decode(&mut self, input: &[u8], output: &mut [u8]) -> Progress {
        let mut consumed = 0usize;
        let mut written = 0usize;
        let status = self.decode_inner(input, output, &mut consumed, &mut written);
        if status.is_err() {
            self.state = State::Failed;
        }
        self.total_in += consumed as u64;
        self.total_out += written as u64;
        Progress {
            consumed,
            written,
            status,
        }
    }

    fn decode_inner(
        &mut self,
        input: &[u8],
        output: &mut [u8],
        consumed: &mut usize,
        written: &mut usize,
    ) -> Result<DecodeStatus, Error> {
        loop {
            if self.state == State::Failed {
                return Err(Error::DecoderFailed);
            }
            if self.state == State::Body {
                if *written == output.len() {
                    return Ok(DecodeStatus::OutputFull);
                }
                let r = inflate(
                    &mut self.inflate,
                    &input[*consumed..],
                    &mut output[*written..],
                    MZFlush::None,
                );
                let fresh = &output[*written..*written + r.bytes_written];
                if self.check_crc {
                    self.crc.update(fresh);
                }
                // ISIZE is the length mod 2^32 (RFC 1952), so wrapping is the rule, not a bug.
                self.size = self.size.wrapping_add(r.bytes_written as u32);
                *consumed += r.bytes_consumed;
                *written += r.bytes_written;
                match r.status {
                    Ok(MZStatus::StreamEnd) => self.state = State::Trailer { got: 0 },
                    Ok(_) if r.bytes_consumed > 0 || r.bytes_written > 0 => {}
                    // No progress possible with what we have: everything available is out.
                    // (Inflate consumes all input before it stops for more, so none is left.)
                    Ok(_) | Err(MZError::Buf) if *consumed == input.len() => {
                        return Ok(DecodeStatus::NeedInput);
                    }
                    // Stuck with input left, or a data error: either way the deflate data is bad.
                    Ok(_) | Err(_) => return Err(Error::CorruptDeflate),
                }
                continue;
            }
            // Header and trailer: byte at a time (a few dozen bytes per connection).
            let Some(&b) = input.get(*consumed) else {
                return Ok(DecodeStatus::NeedInput);
            };
            *consumed += 1;
            self.header_or_trailer_byte(b)?;
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
                self.size = 0;
                self.crc = Crc32::new();
                self.header_crc = Crc32::new();
                self.inflate.reset(DataFormat::Raw);
                self.state = State::MemberStart;
            }
            State::Body | State::Failed => unreachable_state(),
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

/// Body and Failed never reach the byte-wise parser: `decode_inner` handles them first.
#[cold]
fn unreachable_state() {
    debug_assert!(false, "byte parser reached in body or failed state");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::GzipEncoder;

    fn decode_all(dec: &mut GzipDecoder, input: &[u8], out_size: usize) -> Result<Vec<u8>, Error> {
        let mut out = vec![0u8; out_size];
        let mut all = Vec::new();
        let mut rest = input;
        loop {
            let p = dec.decode(rest, &mut out);
            all.extend_from_slice(&out[..p.written]);
            rest = &rest[p.consumed..];
            if p.status? == DecodeStatus::NeedInput {
                assert!(rest.is_empty());
                return Ok(all);
            }
        }
    }

    #[test]
    fn round_trip_tiny_output_buffer() {
        let mut enc = GzipEncoder::new(6);
        let mut gz = Vec::new();
        let data: Vec<u8> = (0..50_000u32).flat_map(|i| i.to_le_bytes()).collect();
        enc.write_flush(&data, &mut gz);
        enc.finish(&mut gz);
        for out_size in [1, 7, 4096, 1 << 20] {
            let mut dec = GzipDecoder::new().with_crc_check(true);
            assert_eq!(decode_all(&mut dec, &gz, out_size).unwrap(), data);
            assert_eq!(dec.members(), 1);
            assert!(dec.finish().is_ok());
        }
    }

    #[test]
    fn flushed_bytes_come_out_before_more_input() {
        let mut enc = GzipEncoder::new(6);
        let mut gz = Vec::new();
        enc.write_flush(b"first\r\n", &mut gz);
        let cut = gz.len();
        enc.write_flush(b"second\r\n", &mut gz);
        let mut dec = GzipDecoder::new();
        assert_eq!(decode_all(&mut dec, &gz[..cut], 64).unwrap(), b"first\r\n");
        assert_eq!(dec.finish(), Err(Error::Truncated));
        assert_eq!(decode_all(&mut dec, &gz[cut..], 64).unwrap(), b"second\r\n");
    }

    #[test]
    fn error_poisons_until_reset() {
        let mut dec = GzipDecoder::new();
        let mut out = [0u8; 8];
        assert_eq!(
            dec.decode(b"{}", &mut out).status,
            Err(Error::NotGzip {
                found: [b'{', b'}']
            })
        );
        assert_eq!(dec.decode(b"", &mut out).status, Err(Error::DecoderFailed));
        assert_eq!(dec.finish(), Err(Error::DecoderFailed));
        dec.reset();
        assert!(dec.finish().is_ok());
    }
}

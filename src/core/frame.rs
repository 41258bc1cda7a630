//! The push decoder that turns compressed bytes into classified records: gzip → lines → kinds.

use std::ops::ControlFlow;

use super::classify::{RecordKind, classify};
use super::gzip::{Decoded, GzipDecoder};
use super::ids::record_id_of_kind;
use super::inflate::Inflater;
use super::lines::{DEFAULT_MAX_RECORD, Line, LineSplitter};
use crate::Error;

/// Settings for a [`FrameDecoder`]. Every field has a documented default.
///
/// ```
/// use gnip_stream::core::{DecoderConfig, FrameDecoder};
/// let dec = FrameDecoder::with_config(DecoderConfig::default().max_record(256 * 1024).check_crc(true))?;
/// # let _ = dec;
/// # Ok::<(), gnip_stream::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecoderConfig {
    max_record: usize,
    check_crc: bool,
    inflater: Inflater,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        DecoderConfig {
            max_record: DEFAULT_MAX_RECORD,
            check_crc: false,
            inflater: Inflater::default(),
        }
    }
}

/// The largest [`DecoderConfig::max_record`] accepted (1 GiB): the decoder holds one record
/// of at most this, and `max_record + 1` must not overflow.
pub const MAX_RECORD_LIMIT: usize = 1 << 30;

impl DecoderConfig {
    /// Longest record accepted, in bytes without `\r\n` (default [`DEFAULT_MAX_RECORD`],
    /// 1 MiB; 1 byte to [`MAX_RECORD_LIMIT`]). Longer ones are skipped and reported as [`Event::Overlong`].
    pub fn max_record(mut self, bytes: usize) -> Self {
        self.max_record = bytes;
        self
    }

    /// Check the gzip trailer's CRC-32 (default off: a live stream's trailer never comes; turn
    /// it on for Replay).
    pub fn check_crc(mut self, on: bool) -> Self {
        self.check_crc = on;
        self
    }

    /// The raw inflater (default: [`Inflater::default`], miniz_oxide, or zlib-rs in a build
    /// with the feature `zlib-rs`).
    pub fn inflater(mut self, which: Inflater) -> Self {
        self.inflater = which;
        self
    }

    /// Checks the settings: [`Error::InvalidConfig`] when one is out of range.
    pub fn validate(&self) -> Result<(), Error> {
        if self.max_record == 0 {
            return Err(Error::InvalidConfig {
                reason: "max_record must be at least 1 byte",
            });
        }
        if self.max_record > MAX_RECORD_LIMIT {
            return Err(Error::InvalidConfig {
                reason: "max_record must be at most 1 GiB",
            });
        }
        Ok(())
    }
}

/// What the decoder found in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A record (an activity, a compliance event, a system message or a malformed line).
    Record(Record<'a>),
    /// A keep-alive: an empty line.
    Heartbeat,
    /// A record longer than the maximum was skipped; the stream goes on.
    Overlong {
        /// Its length in bytes, without the line terminator.
        len: u64,
    },
    /// The stream ended inside a record, which was dropped (only from
    /// [`FrameDecoder::finish`] and [`FrameDecoder::reset`]).
    Incomplete {
        /// The bytes of it that had arrived.
        len: u64,
    },
}

/// One record: its bytes, borrowed from the decoder's buffer, and what kind it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    bytes: &'a [u8],
    kind: RecordKind<'a>,
}

impl<'a> Record<'a> {
    /// Classifies `bytes` (one line without its terminator) into a record.
    pub fn new(bytes: &'a [u8]) -> Self {
        Record {
            bytes,
            kind: classify(bytes),
        }
    }

    /// `bytes` as a record of `kind`, classified by the caller (a service dialect that reads
    /// its lines another way).
    pub fn with_kind(bytes: &'a [u8], kind: RecordKind<'a>) -> Self {
        Record { bytes, kind }
    }

    /// The record exactly as received, without its `\r\n`.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// What kind of record this is.
    pub fn kind(&self) -> RecordKind<'a> {
        self.kind
    }

    /// The record as text, if it is valid UTF-8 (the service sends UTF-8).
    pub fn as_str(&self) -> Option<&'a str> {
        std::str::from_utf8(self.bytes).ok()
    }

    /// The id the record is about, exact: see [`record_id`](super::record_id).
    pub fn id(&self) -> Option<&'a str> {
        record_id_of_kind(self.bytes, self.kind)
    }
}

/// The whole sans-IO decode path: gzip bytes in, in any pieces; [`Event`]s out, as soon as the
/// bytes that make them have arrived.
///
/// Records are borrowed straight from the gzip decoder's 64 KiB deflate window; only a record
/// that spans two runs of output (one inflate step, or the window's wrap) is copied, once, into
/// the carry buffer. Memory is fixed: the decompressor (about 11 KiB), the window (64 KiB) and
/// the carry buffer, which grows to at most [`DecoderConfig::max_record`] + 1. Nothing is
/// allocated per record once the carry buffer has grown to the largest record seen.
///
/// ```
/// use gnip_stream::core::{Event, FrameDecoder, GzipEncoder, RecordKind};
///
/// let mut gz = Vec::new();
/// let mut enc = GzipEncoder::new(6);
/// enc.write_flush(b"{\"created_at\":\"x\",\"id_str\":\"1\"}\r\n\r\n", &mut gz);
///
/// let mut dec = FrameDecoder::new();
/// let mut ids = Vec::new();
/// let mut heartbeats = 0;
/// for piece in gz.chunks(3) {
///     dec.feed(piece, |event| match event {
///         Event::Record(r) if r.kind() == RecordKind::Activity => ids.push(r.id().unwrap().to_owned()),
///         Event::Heartbeat => heartbeats += 1,
///         _ => {}
///     })?;
/// }
/// assert_eq!((ids, heartbeats), (vec!["1".to_owned()], 1));
/// # Ok::<(), gnip_stream::Error>(())
/// ```
pub struct FrameDecoder {
    gzip: GzipDecoder,
    lines: LineSplitter,
    /// The body is not compressed (`Content-Encoding` absent or `identity`): bytes go straight
    /// to the line splitter.
    identity: bool,
    /// Bytes taken in identity mode since the last reset (in and out are the same).
    identity_bytes: u64,
}

/// How a response body is encoded, as its `Content-Encoding` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyEncoding {
    /// `gzip` (the Gnip streams always; X API v2 when asked).
    #[default]
    Gzip,
    /// No compression (`identity`, or no header).
    Identity,
}

impl BodyEncoding {
    /// The encoding a `Content-Encoding` header value names (`None`: no header): `gzip` or
    /// `x-gzip` is gzip, anything else is taken as identity.
    pub fn from_header(value: Option<&[u8]>) -> BodyEncoding {
        match value.map(|v| v.trim_ascii()) {
            Some(v) if v.eq_ignore_ascii_case(b"gzip") || v.eq_ignore_ascii_case(b"x-gzip") => {
                BodyEncoding::Gzip
            }
            _ => BodyEncoding::Identity,
        }
    }
}

impl std::fmt::Debug for FrameDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameDecoder")
            .field("gzip", &self.gzip)
            .field("lines", &self.lines)
            .field("identity", &self.identity)
            .finish()
    }
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

fn event(line: Line<'_>) -> Event<'_> {
    match line {
        Line::Record(bytes) => Event::Record(Record::new(bytes)),
        Line::Heartbeat => Event::Heartbeat,
        Line::Overlong { len } => Event::Overlong { len },
    }
}

impl FrameDecoder {
    /// A decoder with the default configuration (for a live stream).
    pub fn new() -> Self {
        Self::build(DecoderConfig::default())
    }

    /// A decoder with `config`, once it is checked.
    pub fn with_config(config: DecoderConfig) -> Result<Self, Error> {
        config.validate()?;
        Ok(Self::build(config))
    }

    fn build(config: DecoderConfig) -> Self {
        FrameDecoder {
            gzip: GzipDecoder::new()
                .with_crc_check(config.check_crc)
                .with_inflater(config.inflater),
            lines: LineSplitter::new(config.max_record),
            identity: false,
            identity_bytes: 0,
        }
    }

    /// Forgets the current stream and reads the next one as `encoding` (the default is gzip).
    pub fn begin(&mut self, encoding: BodyEncoding) {
        self.reset();
        self.identity = encoding == BodyEncoding::Identity;
    }

    /// Decodes `input` and calls `on_event` for every event it completes, in stream order.
    ///
    /// On an error, the events before the bad bytes have been delivered, and the decoder stays
    /// failed until [`FrameDecoder::reset`].
    pub fn feed(&mut self, input: &[u8], mut on_event: impl FnMut(Event<'_>)) -> Result<(), Error> {
        self.feed_until(input, |e| {
            on_event(e);
            ControlFlow::Continue(())
        })
        .map(|_| ())
    }

    /// [`FrameDecoder::feed`] with a callback that can stop at the event it is handed: after a
    /// `Break`, no further event is delivered by this call, which returns how much of `input`
    /// it used ([`Decoded::consumed`]) and that it stopped. To go on, call again with
    /// `&input[consumed..]` (possibly empty): the events after the stop come out then, none lost
    /// and none twice.
    ///
    /// ```
    /// use std::ops::ControlFlow;
    /// use gnip_stream::core::{Event, FrameDecoder, GzipEncoder};
    /// let mut wire = Vec::new();
    /// GzipEncoder::new(6).write_flush(b"{\"id\":1}\r\n{\"id\":2}\r\n", &mut wire);
    /// let mut dec = FrameDecoder::new();
    /// let mut seen = 0;
    /// let fed = dec.feed_until(&wire, |e| {
    ///     if matches!(e, Event::Record(_)) { seen += 1; }
    ///     ControlFlow::Break(()) // stop at the first record
    /// })?;
    /// assert!(fed.stopped && seen == 1);
    /// dec.feed_until(&wire[fed.consumed..], |_| { seen += 1; ControlFlow::Continue(()) })?;
    /// assert_eq!(seen, 2);
    /// # Ok::<(), gnip_stream::Error>(())
    /// ```
    pub fn feed_until(
        &mut self,
        input: &[u8],
        mut on_event: impl FnMut(Event<'_>) -> ControlFlow<()>,
    ) -> Result<Decoded, Error> {
        let lines = &mut self.lines;
        if self.identity {
            let decoded = match lines.push_until(input, |l| on_event(event(l))) {
                ControlFlow::Continue(()) => Decoded {
                    consumed: input.len(),
                    stopped: false,
                },
                ControlFlow::Break(used) => Decoded {
                    consumed: used,
                    stopped: true,
                },
            };
            self.identity_bytes += decoded.consumed as u64;
            return Ok(decoded);
        }
        // The gzip decoder hands out the bytes before an error first: they are split too.
        self.gzip.decode_until(input, |bytes| {
            lines.push_until(bytes, |l| on_event(event(l)))
        })
    }

    /// The stream ended. Reports a record it ended inside as [`Event::Incomplete`], then says
    /// whether the gzip stream was complete ([`Error::Truncated`] if it ended inside a member,
    /// which is how every live connection ends). Leaves the decoder ready for a new stream.
    pub fn finish(&mut self, mut on_event: impl FnMut(Event<'_>)) -> Result<(), Error> {
        if let Some(len) = self.lines.finish() {
            on_event(Event::Incomplete { len });
        }
        if self.identity {
            self.identity_bytes = 0;
            return Ok(());
        }
        let end = self.gzip.finish();
        self.gzip.reset();
        end
    }

    /// Forgets the current stream (after an error, or for a new connection). Returns the length
    /// of a partial record it dropped, if there was one.
    pub fn reset(&mut self) -> Option<u64> {
        self.gzip.reset();
        self.identity_bytes = 0;
        self.lines.reset()
    }

    /// Compressed bytes consumed since the last reset.
    pub fn bytes_in(&self) -> u64 {
        self.gzip.total_in() + self.identity_bytes
    }

    /// Inflated bytes produced since the last reset.
    pub fn bytes_out(&self) -> u64 {
        self.gzip.total_out() + self.identity_bytes
    }

    /// Complete gzip members seen since the last reset (a Replay stream has one).
    pub fn members(&self) -> u64 {
        self.gzip.members()
    }

    /// Bytes held for a record that has not ended yet.
    pub fn pending_len(&self) -> u64 {
        self.lines.pending_len()
    }
}

//! The raw-deflate step under the gzip decoder: miniz_oxide's core (the default), or zlib-rs
//! (cargo feature `zlib-rs`). Both inflate into the gzip decoder's 64 KiB window and say the
//! same four things about each step, so everything above them is shared.

use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::inflate_flags::TINFL_FLAG_HAS_MORE_INPUT;
use miniz_oxide::inflate::core::{DecompressorOxide, decompress};

/// The deflate window, which is also where the inflated bytes land and are handed out from:
/// distances reach back at most 32 KiB (RFC 1951), and twice that lets each step inflate up to
/// 64 KiB before the window wraps. zlib-rs copies a step's last 32 KiB into its own window, so
/// with 32 KiB it copied every byte: 64 KiB took `--inflater zlib-rs` from 0.89 to 0.94 of the
/// bare inflater end to end (docs/benchmarks.md); miniz_oxide is unchanged.
pub const WINDOW: usize = 64 * 1024;

/// Which raw inflater decodes the gzip body.
///
/// The default is zlib-rs in a build with the feature `zlib-rs` (the reason to build it in),
/// else miniz_oxide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Inflater {
    /// miniz_oxide's core `decompress`, straight into the window.
    MinizOxide,
    /// zlib-rs's `Inflate` (feature `zlib-rs`): about 1.4× faster here on per-record flushed
    /// streams (README, benchmarks); it keeps its own copy of the window.
    #[cfg(feature = "zlib-rs")]
    ZlibRs,
}

impl Default for Inflater {
    fn default() -> Self {
        #[cfg(feature = "zlib-rs")]
        return Inflater::ZlibRs;
        #[cfg(not(feature = "zlib-rs"))]
        return Inflater::MinizOxide;
    }
}

impl Inflater {
    /// Every inflater this build has.
    pub const ALL: &'static [Inflater] = &[
        Inflater::MinizOxide,
        #[cfg(feature = "zlib-rs")]
        Inflater::ZlibRs,
    ];

    /// Its name: `miniz_oxide` or `zlib-rs`.
    pub fn name(self) -> &'static str {
        match self {
            Inflater::MinizOxide => "miniz_oxide",
            #[cfg(feature = "zlib-rs")]
            Inflater::ZlibRs => "zlib-rs",
        }
    }

    /// The inflater named `name` (`miniz_oxide` or `miniz`; `zlib-rs`), if this build has it.
    pub fn from_name(name: &str) -> Option<Inflater> {
        Inflater::ALL
            .iter()
            .copied()
            .find(|i| i.name() == name || (name == "miniz" && *i == Inflater::MinizOxide))
    }
}

/// What one step did besides using input and making output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// The deflate stream's last block ended.
    Done,
    /// Every input byte went in: call again with more.
    NeedsInput,
    /// The window's end was reached with input left: go round from its start.
    WindowFull,
    /// The data is not valid deflate (or no progress was possible).
    Corrupt,
}

/// One inflater's state.
pub(crate) enum Raw {
    Miniz(Box<DecompressorOxide>),
    #[cfg(feature = "zlib-rs")]
    ZlibRs(Box<zlib_rs::Inflate>),
}

impl Raw {
    pub fn new(which: Inflater) -> Self {
        match which {
            Inflater::MinizOxide => Raw::Miniz(Box::default()),
            #[cfg(feature = "zlib-rs")]
            Inflater::ZlibRs => Raw::ZlibRs(Box::new(zlib_rs::Inflate::new(false, 15))),
        }
    }

    /// Ready for a new deflate stream (the allocations are kept).
    pub fn init(&mut self) {
        match self {
            Raw::Miniz(d) => d.init(),
            #[cfg(feature = "zlib-rs")]
            Raw::ZlibRs(d) => d.reset(false),
        }
    }

    /// Inflates `input` into `window[pos..]`: (what happened, input used, bytes made).
    pub fn step(
        &mut self,
        input: &[u8],
        window: &mut [u8; WINDOW],
        pos: usize,
    ) -> (Step, usize, usize) {
        match self {
            Raw::Miniz(d) => {
                let (status, used, made) =
                    decompress(d, input, &mut window[..], pos, TINFL_FLAG_HAS_MORE_INPUT);
                let step = match status {
                    TINFLStatus::Done => Step::Done,
                    // decompress stops for input only when all of it went in.
                    TINFLStatus::NeedsMoreInput => Step::NeedsInput,
                    TINFLStatus::HasMoreOutput if used > 0 || made > 0 => Step::WindowFull,
                    _ => Step::Corrupt,
                };
                (step, used, made)
            }
            #[cfg(feature = "zlib-rs")]
            Raw::ZlibRs(d) => {
                let (in0, out0) = (d.total_in(), d.total_out());
                let r = d.decompress(input, &mut window[pos..], zlib_rs::InflateFlush::NoFlush);
                let used = (d.total_in() - in0) as usize;
                let made = (d.total_out() - out0) as usize;
                let step = match r {
                    Ok(zlib_rs::Status::StreamEnd) => Step::Done,
                    Ok(_) if pos + made == WINDOW && (used > 0 || made > 0) => Step::WindowFull,
                    Ok(_) if used == input.len() => Step::NeedsInput,
                    Ok(_) if used > 0 || made > 0 => Step::WindowFull,
                    _ => Step::Corrupt,
                };
                (step, used, made)
            }
        }
    }
}

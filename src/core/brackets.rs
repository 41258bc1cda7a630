//! Finds where a JSON object or array ends, and the strings at the top level of an object,
//! 64 bytes at a time, with bitmasks. Over 600 lines: the last 190 are the tests that hold the
//! three ways of making masks and both walks to the token walker, beside the `unsafe` they check.
//!
//! Finding a record's top-level id and time means stepping over nested values (a 2 KB `user`,
//! a `gnip` block) that come first in many field orders. Walking them token by token costs a
//! `memchr` per string; here each 64-byte block becomes four bitmasks (backslashes, quotes,
//! opening and closing brackets of either kind), escapes and strings are resolved with carries
//! from block to block (the technique of simdjson, Langdale and Lemire 2019), and a block
//! whose brackets cannot reach the depth looked for is counted with two popcounts. The masks
//! come from SSE2 on x86_64 (AVX2, POPCNT and PCLMULQDQ when the CPU has them, detected at
//! run time) and NEON on aarch64 (both in those targets' baseline), and from portable 64-bit
//! arithmetic elsewhere. `docs/benchmarks.md` has the figures.
//!
//! On well-formed JSON the answers equal [`super::json`]'s token walker's (tested on
//! generated documents, fuzzed by the `json_brackets` target). On anything else they only
//! promise indexes inside the input or `None`: unlike the token walker, a backslash outside a
//! string escapes the next byte here too.

use std::ops::ControlFlow;

/// Bytes per block: one bit of each mask per byte.
const BLOCK: usize = 64;

/// Every even bit (0, 2, …, 62).
const EVEN_BITS: u64 = 0x5555_5555_5555_5555;

/// Whether this CPU has what [`end_with_avx2`] and [`top_level_avx2`] need (detected once;
/// after that a load and a test).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline]
fn has_avx2() -> bool {
    std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("popcnt")
        && std::is_x86_feature_detected!("pclmulqdq")
}

/// `b[i]` is `{` or `[`: the index just after the bracket that closes it, or `None` when the
/// input ends first.
pub(crate) fn end_of_container(b: &[u8], i: usize) -> Option<usize> {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    if has_avx2() {
        // SAFETY: `end_with_avx2` needs AVX2, POPCNT and PCLMULQDQ, which `has_avx2` has just
        // found on this CPU.
        #[allow(unsafe_code)]
        return unsafe { end_with_avx2(b, i) };
    }
    end_with(b, i, masks, prefix_xor)
}

/// Calls `f` with the index of the opening quote of each string at the top level of the
/// object whose `{` is at `b[start]` (its keys and its string values), in order, until `f`
/// breaks (its value is returned) or the object or the input ends (`None`). Nested values
/// are stepped over a block at a time, never token by token.
pub(crate) fn top_level_strings<T>(
    b: &[u8],
    start: usize,
    mut f: impl FnMut(usize) -> ControlFlow<T>,
) -> Option<T> {
    // One compiled walk (two with AVX2) for every caller, through a `dyn` callback: a copy
    // per caller cost the edge build 7 KB; the indirect call costs no measurable time.
    let mut out = None;
    top_level_dyn(b, start, &mut |q| match f(q) {
        ControlFlow::Continue(()) => false,
        ControlFlow::Break(t) => {
            out = Some(t);
            true
        }
    });
    out
}

/// [`top_level_strings`] for a callback that says whether to stop.
fn top_level_dyn(b: &[u8], start: usize, f: &mut dyn FnMut(usize) -> bool) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    if has_avx2() {
        // SAFETY: as in `end_of_container`.
        #[allow(unsafe_code)]
        return unsafe { top_level_avx2(b, start, f) };
    }
    top_level_with(b, start, f, masks, prefix_xor)
}

/// [`end_of_container`] with the AVX2 masks and the one-instruction popcount and prefix XOR.
///
/// # Safety
/// The CPU must support AVX2, POPCNT and PCLMULQDQ.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[target_feature(enable = "avx2,popcnt,pclmulqdq")]
#[allow(unsafe_code)]
unsafe fn end_with_avx2(b: &[u8], i: usize) -> Option<usize> {
    // SAFETY (both closures): they run only inside this function, whose caller has checked
    // that the CPU supports AVX2 and PCLMULQDQ.
    end_with(
        b,
        i,
        |block| unsafe { masks_avx2(block) },
        |x| unsafe { prefix_xor_clmul(x) },
    )
}

/// [`top_level_strings`] with the AVX2 masks and the one-instruction popcount and prefix XOR.
///
/// # Safety
/// The CPU must support AVX2, POPCNT and PCLMULQDQ.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[target_feature(enable = "avx2,popcnt,pclmulqdq")]
#[allow(unsafe_code)]
unsafe fn top_level_avx2(b: &[u8], start: usize, f: &mut dyn FnMut(usize) -> bool) {
    // SAFETY (both closures): as in `end_with_avx2`.
    top_level_with(
        b,
        start,
        f,
        |block| unsafe { masks_avx2(block) },
        |x| unsafe { prefix_xor_clmul(x) },
    )
}

/// The same as [`end_of_container`] with the portable masks (for the tests and the fuzz
/// target, which hold the vector masks to them on every input).
#[cfg(any(test, feature = "testing"))]
pub(crate) fn end_of_container_portable(b: &[u8], i: usize) -> Option<usize> {
    end_with(b, i, portable_masks, prefix_xor)
}

/// The same as [`top_level_strings`] with the portable masks.
#[cfg(any(test, feature = "testing"))]
pub(crate) fn top_level_strings_portable(b: &[u8], start: usize, f: &mut dyn FnMut(usize) -> bool) {
    top_level_with(b, start, f, portable_masks, prefix_xor)
}

/// The same as [`end_of_container`] with the target's baseline masks (SSE2, NEON or
/// portable), which a CPU with AVX2 never runs otherwise.
#[cfg(any(test, feature = "testing"))]
pub(crate) fn end_of_container_baseline(b: &[u8], i: usize) -> Option<usize> {
    end_with(b, i, masks, prefix_xor)
}

/// The same as [`top_level_strings`] with the target's baseline masks.
#[cfg(any(test, feature = "testing"))]
pub(crate) fn top_level_strings_baseline(b: &[u8], start: usize, f: &mut dyn FnMut(usize) -> bool) {
    top_level_with(b, start, f, masks, prefix_xor)
}

/// The bracket that closes `open` (`{` or `[`).
pub(crate) fn closing_bracket(open: u8) -> Option<u8> {
    match open {
        b'{' => Some(b'}'),
        b'[' => Some(b']'),
        _ => None,
    }
}

/// One block's structure outside strings, its escapes and strings resolved: brackets of
/// either kind and the opening quotes of strings (bit `k` = byte `k` of the block).
struct Structure {
    opens: u64,
    closes: u64,
    open_quotes: u64,
}

/// The input, a block at a time, with what one block carries into the next.
struct Blocks<'a> {
    b: &'a [u8],
    at: usize,
    /// Whether the previous block ended in an unfinished run of backslashes (bit 0).
    escape_carry: u64,
    /// Whether the previous block ended inside a string (all bits).
    string_carry: u64,
}

impl<'a> Blocks<'a> {
    fn new(b: &'a [u8], at: usize) -> Self {
        Blocks {
            b,
            at,
            escape_carry: 0,
            string_carry: 0,
        }
    }

    /// The next block's index and structure; `None` at the end of the input.
    #[inline(always)]
    fn next(
        &mut self,
        masks: &impl Fn(&[u8; BLOCK]) -> [u64; 4],
        prefix_xor: &impl Fn(u64) -> u64,
    ) -> Option<(usize, Structure)> {
        let at = self.at;
        let rest = self.b.get(at..).filter(|r| !r.is_empty())?;
        let [backslash, quote, opens, closes] = match rest.get(..BLOCK) {
            Some(block) => masks(block.try_into().ok()?),
            None => {
                // The last, short block, padded with white space (which changes nothing).
                let mut tail = [b' '; BLOCK];
                tail[..rest.len()].copy_from_slice(rest);
                masks(&tail)
            }
        };
        let escaped = if backslash | self.escape_carry == 0 {
            0
        } else {
            escaped_bits(backslash, &mut self.escape_carry)
        };
        let quote = quote & !escaped;
        // Bit k: inside a string at byte k (each opening quote included, each closing not).
        let in_string = prefix_xor(quote) ^ self.string_carry;
        self.string_carry = ((in_string as i64) >> 63) as u64;
        self.at = at + BLOCK;
        Some((
            at,
            Structure {
                opens: opens & !in_string,
                closes: closes & !in_string,
                open_quotes: quote & in_string,
            },
        ))
    }
}

#[inline(always)]
fn end_with(
    b: &[u8],
    i: usize,
    masks: impl Fn(&[u8; BLOCK]) -> [u64; 4],
    prefix_xor: impl Fn(u64) -> u64,
) -> Option<usize> {
    closing_bracket(*b.get(i)?)?;
    // Brackets of both kinds count as one depth: valid JSON nests them properly.
    let mut depth = 0u64;
    let mut blocks = Blocks::new(b, i);
    while let Some((at, s)) = blocks.next(&masks, &prefix_xor) {
        let n_closes = u64::from(s.closes.count_ones());
        if s.closes != 0 && n_closes >= depth {
            // This block may close the value: follow its brackets in order.
            let mut brackets = s.opens | s.closes;
            while brackets != 0 {
                let bit = brackets.trailing_zeros();
                if s.opens >> bit & 1 == 1 {
                    depth += 1;
                } else {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return Some(at + bit as usize + 1);
                    }
                }
                brackets &= brackets - 1;
            }
        } else {
            depth = depth + u64::from(s.opens.count_ones()) - n_closes;
        }
    }
    None
}

#[inline(always)]
fn top_level_with(
    b: &[u8],
    start: usize,
    f: &mut dyn FnMut(usize) -> bool,
    masks: impl Fn(&[u8; BLOCK]) -> [u64; 4],
    prefix_xor: impl Fn(u64) -> u64,
) {
    if b.get(start) != Some(&b'{') {
        return;
    }
    let mut depth = 0u64;
    let mut blocks = Blocks::new(b, start);
    while let Some((at, s)) = blocks.next(&masks, &prefix_xor) {
        let n_closes = u64::from(s.closes.count_ones());
        if depth >= n_closes + 2 {
            // Every byte of this block is nested at least two deep: no top-level string here.
            depth = depth + u64::from(s.opens.count_ones()) - n_closes;
            continue;
        }
        let mut marks = s.opens | s.closes | s.open_quotes;
        while marks != 0 {
            let bit = marks.trailing_zeros();
            if s.opens >> bit & 1 == 1 {
                depth += 1;
            } else if s.closes >> bit & 1 == 1 {
                match depth.checked_sub(1) {
                    Some(0) | None => return, // the object's end, or a stray close
                    Some(d) => depth = d,
                }
            } else if depth == 1 && f(at + bit as usize) {
                return;
            }
            marks &= marks - 1;
        }
    }
}

/// The bits of bytes escaped by a backslash: the byte after each odd-length run of
/// backslashes. `carry` (0 or 1) says the previous block's last byte began or continued such a
/// run whose escaped byte is this block's first; it is updated for the next block.
#[inline(always)]
fn escaped_bits(backslash: u64, carry: &mut u64) -> u64 {
    // A backslash escaped from the previous block is not itself an escape.
    let backslash = backslash & !*carry;
    let follows_escape = backslash << 1 | *carry;
    // Runs starting on an odd bit, added to the backslashes, carry out of the run's end:
    // that flips the parity of the runs that start on even bits, which is then corrected.
    let odd_starts = backslash & !EVEN_BITS & !follows_escape;
    let (even_runs, overflow) = odd_starts.overflowing_add(backslash);
    *carry = u64::from(overflow);
    (EVEN_BITS ^ (even_runs << 1)) & follows_escape
}

/// Bit `k` is the XOR of bits `0..=k`: from quote bits, the bytes inside strings (each opening
/// quote included, each closing quote not).
#[inline(always)]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// [`prefix_xor`] as one carry-less multiplication by all ones.
///
/// # Safety
/// The CPU must support PCLMULQDQ.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[target_feature(enable = "pclmulqdq")]
#[inline]
#[allow(unsafe_code)]
unsafe fn prefix_xor_clmul(x: u64) -> u64 {
    use std::arch::x86_64::{_mm_clmulepi64_si128, _mm_cvtsi128_si64, _mm_set_epi64x};
    // SAFETY: PCLMULQDQ is supported (this function's contract); SSE2 is in the baseline.
    #[allow(unused_unsafe)] // needed before Rust 1.87 made these intrinsics safe here
    unsafe {
        let product = _mm_clmulepi64_si128(_mm_set_epi64x(0, x as i64), _mm_set_epi64x(0, -1), 0);
        _mm_cvtsi128_si64(product) as u64
    }
}

/// Bytes whose value OR 0x20 is `{` are exactly `{` and `[`; likewise `}` for `}` and `]`. One
/// OR and one compare find both kinds of bracket.
const BRACKET_CASE: u8 = 0x20;

/// The four masks of a block: backslashes, quotes, `{` or `[`, and `}` or `]` (bit `k` = byte
/// `k`), from two 32-byte AVX2 compares per mask.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[target_feature(enable = "avx2")]
#[inline]
#[allow(unsafe_code)]
unsafe fn masks_avx2(block: &[u8; BLOCK]) -> [u64; 4] {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256,
        _mm256_set1_epi8,
    };
    // SAFETY: AVX2 is supported (this function's contract), so every intrinsic here is. The
    // two `_mm256_loadu_si256` read 32 bytes at `block` and at `block + 32`: inside the
    // 64-byte array, and `loadu` needs no alignment.
    unsafe {
        let v = [0, 32].map(|k| _mm256_loadu_si256(block.as_ptr().add(k).cast::<__m256i>()));
        let case = _mm256_set1_epi8(BRACKET_CASE as i8);
        let folded = v.map(|x| _mm256_or_si256(x, case));
        let mask = |v: [__m256i; 2], c: u8| {
            let c = _mm256_set1_epi8(c as i8);
            // movemask's 32 bits, one per byte, read as unsigned.
            let low = _mm256_movemask_epi8(_mm256_cmpeq_epi8(v[0], c)) as u32;
            let high = _mm256_movemask_epi8(_mm256_cmpeq_epi8(v[1], c)) as u32;
            u64::from(low) | u64::from(high) << 32
        };
        [
            mask(v, b'\\'),
            mask(v, b'"'),
            mask(folded, b'{'),
            mask(folded, b'}'),
        ]
    }
}

/// The four masks of a block: backslashes, quotes, `{` or `[`, and `}` or `]` (bit `k` = byte
/// `k`).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
#[allow(unsafe_code)] // SSE2 compare + movemask: 2.9x the portable masks (module docs)
fn masks(block: &[u8; BLOCK]) -> [u64; 4] {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    // SAFETY: the cfg above compiles this only where SSE2 is enabled for the whole build, so
    // every intrinsic here is supported by the CPU. Each `_mm_loadu_si128` reads 16 bytes at
    // `block + 16 * q` for q < 4: inside the 64-byte array, and `loadu` needs no alignment.
    unsafe {
        let wanted = [b'\\', b'"', b'{', b'}'].map(|c| _mm_set1_epi8(c as i8));
        let case = _mm_set1_epi8(BRACKET_CASE as i8);
        let mut out = [0u64; 4];
        for q in 0..BLOCK / 16 {
            let v = _mm_loadu_si128(block.as_ptr().add(q * 16).cast::<__m128i>());
            let folded = _mm_or_si128(v, case);
            for (k, (mask, c)) in out.iter_mut().zip(wanted).enumerate() {
                let x = if k < 2 { v } else { folded };
                // movemask sets the low 16 bits of an i32 (never negative): zero-extend them.
                let bits = _mm_movemask_epi8(_mm_cmpeq_epi8(x, c)) as u32 & 0xffff;
                *mask |= u64::from(bits) << (q * 16);
            }
        }
        out
    }
}

/// The four masks of a block: backslashes, quotes, `{` or `[`, and `}` or `]` (bit `k` = byte
/// `k`).
#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
#[inline(always)]
#[allow(unsafe_code)] // NEON compare + pairwise adds: the vector counterpart of the SSE2 masks
fn masks(block: &[u8; BLOCK]) -> [u64; 4] {
    use std::arch::aarch64::{
        uint8x16_t, vandq_u8, vceqq_u8, vdupq_n_u8, vgetq_lane_u64, vld1q_u8, vorrq_u8, vpaddq_u8,
        vreinterpretq_u64_u8,
    };
    const WEIGHTS: [u8; 16] = [1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128];
    // SAFETY: the cfg above compiles this only where NEON is enabled for the whole build, so
    // every intrinsic here is supported by the CPU. Each `vld1q_u8` reads 16 bytes: at
    // `block + 16 * q` for q < 4 (inside the 64-byte array) and all of `WEIGHTS`; it needs no
    // alignment beyond a byte's.
    unsafe {
        let weights = vld1q_u8(WEIGHTS.as_ptr());
        let v: [uint8x16_t; 4] = [0, 1, 2, 3].map(|q| vld1q_u8(block.as_ptr().add(q * 16)));
        let case = vdupq_n_u8(BRACKET_CASE);
        let folded = v.map(|x| vorrq_u8(x, case));
        [(v, b'\\'), (v, b'"'), (folded, b'{'), (folded, b'}')].map(|(v, c)| {
            let c = vdupq_n_u8(c);
            // Each matching byte keeps its bit weight; three rounds of pairwise adds sum each
            // group of 8 bytes into one mask byte, in order.
            let t = v.map(|x| vandq_u8(vceqq_u8(x, c), weights));
            let s = vpaddq_u8(vpaddq_u8(t[0], t[1]), vpaddq_u8(t[2], t[3]));
            let s = vpaddq_u8(s, s);
            vgetq_lane_u64::<0>(vreinterpretq_u64_u8(s))
        })
    }
}

/// Elsewhere the vector masks are the portable ones.
#[cfg(not(any(
    all(target_arch = "x86_64", target_feature = "sse2"),
    all(target_arch = "aarch64", target_feature = "neon")
)))]
#[inline(always)]
fn masks(block: &[u8; BLOCK]) -> [u64; 4] {
    portable_masks(block)
}

/// The four masks from 64-bit arithmetic, eight bytes at a time: an exact per-byte equality
/// test (the high bit of each byte), gathered into eight bits by one multiplication.
#[cfg(any(
    test,
    feature = "testing",
    not(any(
        all(target_arch = "x86_64", target_feature = "sse2"),
        all(target_arch = "aarch64", target_feature = "neon")
    ))
))]
#[inline(always)]
fn portable_masks(block: &[u8; BLOCK]) -> [u64; 4] {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const ONES: u64 = 0x0101_0101_0101_0101;
    // Bit 8k (byte k's flag) times this lands on bit 56 + k, with nothing carried into it.
    const GATHER: u64 = 0x0102_0408_1020_4080;
    let wanted = [b'\\', b'"', b'{', b'}'].map(|c| ONES * u64::from(c));
    let case = ONES * u64::from(BRACKET_CASE);
    let mut out = [0u64; 4];
    for (w, word) in block.chunks_exact(8).enumerate() {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let x = u64::from_le_bytes(bytes);
        for (k, (mask, c)) in out.iter_mut().zip(wanted).enumerate() {
            let t = if k < 2 { x } else { x | case } ^ c;
            let zero_bytes = !(((t & LOW7).wrapping_add(LOW7)) | t | LOW7);
            *mask |= ((zero_bytes >> 7).wrapping_mul(GATHER) >> 56) << (w * 8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::json::end_of_container_by_tokens;
    use proptest::prelude::*;

    fn all_ways(b: &[u8], i: usize) -> Option<usize> {
        let fast = end_of_container(b, i);
        for other in [
            end_of_container_portable(b, i),
            end_of_container_baseline(b, i),
        ] {
            assert_eq!(fast, other, "{:?}", String::from_utf8_lossy(b));
        }
        fast
    }

    #[test]
    fn ends_where_the_token_walker_ends_on_tricky_documents() {
        let long = "x".repeat(70);
        let docs = [
            r#"{}"#.to_string(),
            r#"[]"#.to_string(),
            r#"{"a":"}","b":["]",{"c":"\"}"}],"d":"\\"}"#.to_string(),
            r#"{"a":"\\\\\"}\\"}"#.to_string(),
            format!(r#"{{"{long}":"{long}\\\"{long}","n":[[[[{{}}]]]]}}"#),
            format!(
                r#"[{{"x":"{}\\"}}, "{}"]"#,
                "\\\\".repeat(40),
                "}".repeat(100)
            ),
            format!(r#"{{"k":"{}"}}"#, "\\\\\\\"".repeat(30)),
        ];
        for doc in &docs {
            let mut padded = doc.clone().into_bytes();
            padded.extend_from_slice(b" ,{\"after\":1}");
            for (i, &c) in padded.iter().enumerate() {
                if c == b'{' || c == b'[' {
                    let tokens = end_of_container_by_tokens(&padded, i);
                    if i == 0 {
                        assert_eq!(tokens, Some(doc.len()), "{doc}");
                    }
                    // Brackets inside strings start no value; only real ones are compared.
                    if tokens.is_some_and(|e| {
                        serde_json::from_slice::<serde_json::Value>(&padded[i..e]).is_ok()
                    }) {
                        assert_eq!(all_ways(&padded, i), tokens, "{doc} at {i}");
                    }
                }
            }
        }
    }

    #[test]
    fn an_unclosed_value_or_a_stray_close_is_none_and_never_a_panic() {
        assert_eq!(all_ways(br#"{"a":[1,2"#, 0), None);
        assert_eq!(all_ways(br#"{"a":"}"#, 0), None);
        assert_eq!(all_ways(b"x", 0), None);
        assert_eq!(all_ways(b"", 0), None);
        assert_eq!(all_ways(b"[", 1), None);
        for n in 0..200 {
            let s = format!("{{{}", "\\".repeat(n));
            all_ways(s.as_bytes(), 0);
        }
    }

    fn json() -> impl Strategy<Value = serde_json::Value> {
        fn text() -> impl Strategy<Value = String> + Clone {
            proptest::collection::vec(
                prop_oneof![
                    Just('a'),
                    Just('{'),
                    Just('}'),
                    Just('['),
                    Just(']'),
                    Just('"'),
                    Just('\\'),
                    Just('/'),
                    Just('\u{e9}'),
                    Just('\n'),
                ],
                0..80,
            )
            .prop_map(|c| c.into_iter().collect())
        }
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<i64>().prop_map(serde_json::Value::from),
            text().prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(5, 200, 12, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..12).prop_map(serde_json::Value::from),
                proptest::collection::vec((text(), inner), 0..12)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn every_container_ends_where_the_token_walker_says(value in json(), lead in 0usize..70) {
            let doc = serde_json::to_vec(&serde_json::json!([value])).expect("serializes");
            let mut b = vec![b' '; lead];
            b.extend_from_slice(&doc);
            b.extend_from_slice(b"]}\"\\ trailing");
            // Every bracket outside a string starts a value: find them with serde's own view.
            let strings = string_bytes(&b[lead..lead + doc.len()]);
            for k in 0..doc.len() {
                let c = doc[k];
                if (c == b'{' || c == b'[') && !strings[k] {
                    let i = lead + k;
                    prop_assert_eq!(all_ways(&b, i), end_of_container_by_tokens(&b, i));
                }
            }
            prop_assert_eq!(all_ways(&b, lead), Some(lead + doc.len()));
        }

        #[test]
        fn top_level_strings_are_the_token_walkers(value in json(), other in json(), lead in 0usize..70) {
            let object = serde_json::json!({"a": value, "id_str": "1", "b": other, "c": "x"});
            let doc = serde_json::to_vec(&object).expect("serializes");
            let mut b = vec![b' '; lead];
            b.extend_from_slice(&doc);
            b.extend_from_slice(b"\"k\":\"after\"}");
            let want = crate::core::json::top_level_strings_by_tokens(&b[..lead + doc.len()], lead);
            prop_assert!(want.len() >= 5); // four keys and "1", "x"
            let ways = [
                collect(&b, lead, top_level_dyn),
                collect(&b, lead, top_level_strings_portable),
                collect(&b, lead, top_level_strings_baseline),
            ];
            for way in &ways {
                prop_assert_eq!(way, &want);
            }
            // Stopping early returns the stop's value.
            let third = top_level_strings(&b, lead, |q| {
                if q == want[2] { ControlFlow::Break(q) } else { ControlFlow::Continue(()) }
            });
            prop_assert_eq!(third, Some(want[2]));
        }

        #[test]
        fn vector_and_portable_masks_agree_on_any_bytes(block in proptest::array::uniform32(any::<u8>()), more in proptest::array::uniform32(any::<u8>())) {
            let mut b = [0u8; 64];
            b[..32].copy_from_slice(&block);
            b[32..].copy_from_slice(&more);
            prop_assert_eq!(masks(&b), portable_masks(&b));
            #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
            if has_avx2() {
                // SAFETY: `has_avx2` has just found AVX2 and PCLMULQDQ on this CPU.
                #[allow(unsafe_code)]
                let (vector, prefix) = unsafe { (masks_avx2(&b), prefix_xor_clmul(block[0] as u64 * 0x0123_4567)) };
                prop_assert_eq!(vector, portable_masks(&b));
                prop_assert_eq!(prefix, prefix_xor(block[0] as u64 * 0x0123_4567));
            }
        }
    }

    fn collect(
        b: &[u8],
        i: usize,
        walk: fn(&[u8], usize, &mut dyn FnMut(usize) -> bool),
    ) -> Vec<usize> {
        let mut quotes = Vec::new();
        walk(b, i, &mut |q| {
            quotes.push(q);
            false
        });
        quotes
    }

    /// Which bytes of valid JSON `doc` lie inside a string (its quotes included).
    fn string_bytes(doc: &[u8]) -> Vec<bool> {
        let mut inside = vec![false; doc.len()];
        let (mut in_string, mut escaped) = (false, false);
        for (k, &c) in doc.iter().enumerate() {
            if in_string {
                inside[k] = true;
                if escaped {
                    escaped = false;
                } else if c == b'\\' {
                    escaped = true;
                } else if c == b'"' {
                    in_string = false;
                }
            } else if c == b'"' {
                inside[k] = true;
                in_string = true;
            }
        }
        inside
    }
}

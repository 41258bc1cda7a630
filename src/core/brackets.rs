//! Finds where a JSON object or array ends, 64 bytes at a time, with bitmasks.
//!
//! Finding a record's top-level id and time means stepping over nested values (a 2 KB `user`,
//! a `gnip` block) that come first in many field orders. Walking them token by token costs a
//! `memchr` per string; here each 64-byte block becomes four bitmasks (backslashes, quotes, the
//! opening and the closing bracket), escapes and strings are resolved with carries from block
//! to block (the technique of simdjson, Langdale and Lemire 2019), and a block whose brackets
//! cannot close the value is counted with two popcounts. The masks come from SSE2 on x86_64
//! and NEON on aarch64 (both in those targets' baseline) and from portable 64-bit arithmetic
//! elsewhere. On the corpus a whole record is skipped 4x faster with SSE2 than token by token
//! (2.0x with the portable masks; `docs/benchmarks.md`).
//!
//! On well-formed JSON the answer equals [`super::json`]'s token walker (tested on generated
//! documents, fuzzed by the `json_brackets` target). On anything else both only promise an
//! index inside the input or `None`: unlike the token walker, a backslash outside a string
//! escapes the next byte here too.

/// Bytes per block: one bit of each mask per byte.
const BLOCK: usize = 64;

/// Every even bit (0, 2, …, 62).
const EVEN_BITS: u64 = 0x5555_5555_5555_5555;

/// `b[i]` is `{` or `[`: the index just after the bracket that closes it, or `None` when the
/// input ends first.
pub(crate) fn end_of_container(b: &[u8], i: usize) -> Option<usize> {
    end_with(b, i, masks)
}

/// The same with the portable masks (for the tests and the fuzz target, which hold the
/// vector masks to it on every input).
#[cfg(any(test, feature = "testing"))]
pub(crate) fn end_of_container_portable(b: &[u8], i: usize) -> Option<usize> {
    end_with(b, i, portable_masks)
}

/// The bracket that closes `open` (`{` or `[`).
pub(crate) fn closing_bracket(open: u8) -> Option<u8> {
    match open {
        b'{' => Some(b'}'),
        b'[' => Some(b']'),
        _ => None,
    }
}

#[inline(always)]
fn end_with(b: &[u8], i: usize, masks: fn(&[u8; BLOCK], u8, u8) -> [u64; 4]) -> Option<usize> {
    let open = *b.get(i)?;
    let close = closing_bracket(open)?;
    // Inside valid JSON the other bracket kind is balanced, so only this kind counts.
    let mut depth = 0u64;
    // Whether the previous block ended in an unfinished run of backslashes (bit 0) and inside
    // a string (all bits).
    let mut escape_carry = 0u64;
    let mut string_carry = 0u64;
    let mut at = i;
    let mut tail = [b' '; BLOCK];
    while at < b.len() {
        let block: &[u8; BLOCK] = match b.get(at..at + BLOCK).and_then(|s| s.try_into().ok()) {
            Some(block) => block,
            None => {
                // The last, short block, padded with white space (which changes nothing).
                let rest = &b[at..];
                tail[..rest.len()].copy_from_slice(rest);
                &tail
            }
        };
        let [backslash, quote, opens, closes] = masks(block, open, close);
        let escaped = if backslash | escape_carry == 0 {
            0
        } else {
            escaped_bits(backslash, &mut escape_carry)
        };
        let in_string = prefix_xor(quote & !escaped) ^ string_carry;
        string_carry = ((in_string as i64) >> 63) as u64;
        let opens = opens & !in_string;
        let closes = closes & !in_string;
        let n_closes = u64::from(closes.count_ones());
        if closes != 0 && n_closes >= depth {
            // This block may close the value: follow its brackets in order.
            let mut brackets = opens | closes;
            while brackets != 0 {
                let bit = brackets.trailing_zeros();
                if opens >> bit & 1 == 1 {
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
            depth = depth + u64::from(opens.count_ones()) - n_closes;
        }
        at += BLOCK;
    }
    None
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

/// The four masks of a block: backslashes, quotes, `open` and `close` (bit `k` = byte `k`).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
#[allow(unsafe_code)] // SSE2 compare + movemask: 2.9x the portable masks (module docs)
fn masks(block: &[u8; BLOCK], open: u8, close: u8) -> [u64; 4] {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    // SAFETY: the cfg above compiles this only where SSE2 is enabled for the whole build, so
    // every intrinsic here is supported by the CPU. Each `_mm_loadu_si128` reads 16 bytes at
    // `block + 16 * q` for q < 4: inside the 64-byte array, and `loadu` needs no alignment.
    unsafe {
        let wanted = [b'\\', b'"', open, close].map(|c| _mm_set1_epi8(c as i8));
        let mut out = [0u64; 4];
        for q in 0..BLOCK / 16 {
            let v = _mm_loadu_si128(block.as_ptr().add(q * 16).cast::<__m128i>());
            for (mask, c) in out.iter_mut().zip(wanted) {
                // movemask sets the low 16 bits of an i32 (never negative): zero-extend them.
                let bits = _mm_movemask_epi8(_mm_cmpeq_epi8(v, c)) as u32 & 0xffff;
                *mask |= u64::from(bits) << (q * 16);
            }
        }
        out
    }
}

/// The four masks of a block: backslashes, quotes, `open` and `close` (bit `k` = byte `k`).
#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
#[inline(always)]
#[allow(unsafe_code)] // NEON compare + pairwise adds: the vector counterpart of the SSE2 masks
fn masks(block: &[u8; BLOCK], open: u8, close: u8) -> [u64; 4] {
    use std::arch::aarch64::{
        uint8x16_t, vandq_u8, vceqq_u8, vdupq_n_u8, vgetq_lane_u64, vld1q_u8, vpaddq_u8,
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
        [b'\\', b'"', open, close].map(|c| {
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
fn masks(block: &[u8; BLOCK], open: u8, close: u8) -> [u64; 4] {
    portable_masks(block, open, close)
}

#[cfg(any(
    test,
    feature = "testing",
    not(any(
        all(target_arch = "x86_64", target_feature = "sse2"),
        all(target_arch = "aarch64", target_feature = "neon")
    ))
))]
/// The four masks from 64-bit arithmetic, eight bytes at a time: an exact per-byte equality
/// test (the high bit of each byte), gathered into eight bits by one multiplication.
#[inline(always)]
fn portable_masks(block: &[u8; BLOCK], open: u8, close: u8) -> [u64; 4] {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const ONES: u64 = 0x0101_0101_0101_0101;
    // Bit 8k (byte k's flag) times this lands on bit 56 + k, with nothing carried into it.
    const GATHER: u64 = 0x0102_0408_1020_4080;
    let wanted = [b'\\', b'"', open, close].map(|c| ONES * u64::from(c));
    let mut out = [0u64; 4];
    for (w, word) in block.chunks_exact(8).enumerate() {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let x = u64::from_le_bytes(bytes);
        for (mask, c) in out.iter_mut().zip(wanted) {
            let t = x ^ c;
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
        assert_eq!(
            fast,
            end_of_container_portable(b, i),
            "{:?}",
            String::from_utf8_lossy(b)
        );
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
        fn vector_and_portable_masks_agree_on_any_bytes(block in proptest::array::uniform32(any::<u8>()), more in proptest::array::uniform32(any::<u8>()), open in prop_oneof![Just(b'{'), Just(b'[')]) {
            let mut b = [0u8; 64];
            b[..32].copy_from_slice(&block);
            b[32..].copy_from_slice(&more);
            let close = if open == b'{' { b'}' } else { b']' };
            prop_assert_eq!(masks(&b, open, close), portable_masks(&b, open, close));
        }
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

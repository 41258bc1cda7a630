//! The gzip layer through the whole decoder: every header flag combination, every typed error,
//! CRC checking on and off, truncation, several members, and an independent encoder.

mod common;

use common::*;
use gnip_stream::Error;
use gnip_stream::core::{Crc32, DEFAULT_MAX_RECORD, DecoderConfig, GzipEncoder, Inflater};
use gnip_stream::simulator::generator::Generator;
use gnip_stream::testing::oracle::{Owned, decode_in_pieces, naive_lines};

const FTEXT: u8 = 1;
const FHCRC: u8 = 2;
const FEXTRA: u8 = 4;
const FNAME: u8 = 8;
const FCOMMENT: u8 = 16;

fn sample_plain() -> Vec<u8> {
    let mut g = Generator::new(3);
    let mut recs = Vec::new();
    for _ in 0..20 {
        let mut r = Vec::new();
        g.record(&mut r);
        recs.push(r);
    }
    frame(&recs)
}

/// A whole member with the given header flags, built by hand: body and trailer come from our
/// encoder (whose own header, the minimal one, is cut off).
fn member(flags: u8, plain: &[u8]) -> Vec<u8> {
    let mut header = vec![0x1f, 0x8b, 8, flags, 0x78, 0x56, 0x34, 0x12, 2, 3];
    if flags & FEXTRA != 0 {
        let extra = b"AP\x04\x00abcdZZ\x00\x00"; // two subfields, one empty
        header.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        header.extend_from_slice(extra);
    }
    if flags & FNAME != 0 {
        header.extend_from_slice("stream-ünïcode.json\0".as_bytes());
    }
    if flags & FCOMMENT != 0 {
        header.extend_from_slice(b"a comment\0");
    }
    if flags & FHCRC != 0 {
        let crc16 = (Crc32::of(&header) & 0xffff) as u16;
        header.extend_from_slice(&crc16.to_le_bytes());
    }
    let mut enc = GzipEncoder::new(6);
    let mut body = Vec::new();
    enc.write_flush(plain, &mut body);
    enc.finish(&mut body);
    header.extend_from_slice(&body[10..]);
    header
}

fn crc_on() -> DecoderConfig {
    DecoderConfig::default().check_crc(true)
}

#[test]
fn every_header_flag_combination_decodes_whole_and_bytewise() {
    let plain = sample_plain();
    let oracle = naive_lines(&plain, DEFAULT_MAX_RECORD);
    for flags in 0..32u8 {
        let wire = member(flags, &plain);
        let whole = decode_in_pieces(&wire, &[wire.len()], crc_on());
        assert_eq!(whole, (oracle.clone(), Ok(())), "flags {flags:#04x} whole");
        let bytewise = decode_in_pieces(&wire, &vec![1; wire.len()], crc_on());
        assert_eq!(
            bytewise,
            (oracle.clone(), Ok(())),
            "flags {flags:#04x} bytewise"
        );
    }
    let _ = FTEXT;
}

#[test]
fn a_wrong_header_crc_is_refused() {
    let mut wire = member(FHCRC | FNAME, b"{}\r\n");
    let at = 10 + "stream-ünïcode.json\0".len();
    wire[at] ^= 0xff;
    let (events, end) = decode_whole(&wire);
    assert!(events.is_empty());
    assert!(
        matches!(end, Err(Error::HeaderCrcMismatch { .. })),
        "{end:?}"
    );
}

#[test]
fn not_gzip_wrong_method_and_reserved_flags_are_typed_errors() {
    let (events, end) = decode_whole(b"{\"created_at\":\"x\"}\r\n");
    assert!(events.is_empty());
    assert_eq!(
        end,
        Err(Error::NotGzip {
            found: [b'{', b'"']
        })
    );

    let mut wire = member(0, b"{}\r\n");
    wire[2] = 7;
    assert_eq!(
        decode_whole(&wire).1,
        Err(Error::UnsupportedMethod { method: 7 })
    );

    for bit in [0x20u8, 0x40, 0x80] {
        let mut wire = member(0, b"{}\r\n");
        wire[3] = bit | FNAME;
        assert_eq!(
            decode_bytewise(&wire).1,
            Err(Error::ReservedFlags { flags: bit | FNAME })
        );
    }
}

#[test]
fn corrupt_deflate_data_is_an_error_after_the_good_records() {
    // Three records, each flushed; then a deflate block header with the reserved type 11.
    let plain = sample_plain();
    let recs = records(&naive_lines(&plain, DEFAULT_MAX_RECORD));
    let mut wire = gzip_flushed([&plain[..]], false);
    wire.push(0b0000_0111); // BFINAL=1, BTYPE=11: reserved, "error" in RFC 1951
    wire.extend_from_slice(&[0xAB; 64]);
    for sizes in [
        vec![wire.len()],
        vec![1; wire.len()],
        two_pieces(wire.len(), wire.len() - 30),
    ] {
        for &inflater in Inflater::ALL {
            let (events, end) = decode_with(&wire, &sizes, inflater);
            assert_eq!(
                records(&events),
                recs,
                "{}: every record before the corruption is delivered",
                inflater.name()
            );
            assert_eq!(end, Err(Error::CorruptDeflate));
        }
    }
}

#[test]
fn corruption_inside_a_record_loses_only_that_record() {
    let mut wire = gzip_flushed([&b"{\"a\":1}\r\n"[..], b"{\"b\":2}\r\n"], false);
    let first_len = gzip_flushed([&b"{\"a\":1}\r\n"[..]], false).len();
    // Garble the second flush block's compressed bytes.
    for b in &mut wire[first_len..] {
        *b = !*b;
    }
    for sizes in [vec![wire.len()], vec![1; wire.len()]] {
        for &inflater in Inflater::ALL {
            let (events, end) = decode_with(&wire, &sizes, inflater);
            assert_eq!(events, vec![Owned::Record(b"{\"a\":1}".to_vec())]);
            assert_eq!(end, Err(Error::CorruptDeflate), "{}", inflater.name());
        }
    }
}

#[test]
fn bad_crc_fails_with_checking_on_and_passes_with_it_off() {
    let plain = sample_plain();
    let oracle = naive_lines(&plain, DEFAULT_MAX_RECORD);
    let mut wire = gzip_flushed([&plain[..]], true);
    let n = wire.len();
    wire[n - 8] ^= 0x01; // CRC-32 is the first trailer word
    let (events, end) = decode_in_pieces(&wire, &[n], crc_on());
    assert_eq!(
        events, oracle,
        "records are delivered before the trailer is checked"
    );
    assert!(matches!(end, Err(Error::CrcMismatch { .. })), "{end:?}");
    let off = decode_in_pieces(&wire, &[n], DecoderConfig::default());
    assert_eq!(off, (oracle, Ok(())));
}

#[test]
fn wrong_isize_is_always_an_error() {
    let mut wire = gzip_flushed([&b"{}\r\n"[..]], true);
    let n = wire.len();
    wire[n - 1] ^= 0x80;
    for config in [crc_on(), DecoderConfig::default()] {
        let end = decode_in_pieces(&wire, &[n], config).1;
        assert_eq!(
            end,
            Err(Error::SizeMismatch {
                expected: 4 | 0x8000_0000,
                actual: 4
            })
        );
    }
}

#[test]
fn a_truncated_trailer_is_reported_after_every_record() {
    let plain = sample_plain();
    let oracle = naive_lines(&plain, DEFAULT_MAX_RECORD);
    let wire = gzip_flushed([&plain[..]], true);
    for missing in 1..=8 {
        let cut = &wire[..wire.len() - missing];
        let (events, end) = decode_in_pieces(cut, &[cut.len()], crc_on());
        assert_eq!(events, oracle, "missing {missing}");
        assert_eq!(end, Err(Error::Truncated), "missing {missing}");
    }
    // And a stream cut inside the header.
    assert_eq!(decode_whole(&wire[..5]), (vec![], Err(Error::Truncated)));
    // No bytes at all is not a gzip stream that ended early: it is no stream.
    assert_eq!(decode_whole(b""), (vec![], Ok(())));
}

#[test]
fn a_second_member_after_a_trailer_is_decoded_too() {
    let a = member(FNAME, b"{\"a\":1}\r\n{\"spans\":");
    let b = member(FHCRC | FEXTRA, b"\"members\"}\r\n\r\n");
    let wire = [a, b].concat();
    let want = vec![
        Owned::Record(b"{\"a\":1}".to_vec()),
        Owned::Record(b"{\"spans\":\"members\"}".to_vec()),
        Owned::Heartbeat,
    ];
    assert_eq!(
        decode_in_pieces(&wire, &[wire.len()], crc_on()),
        (want.clone(), Ok(()))
    );
    assert_eq!(
        decode_in_pieces(&wire, &vec![1; wire.len()], crc_on()),
        (want, Ok(()))
    );
    // Garbage after a complete member is not a second member.
    let mut wire = member(0, b"{}\r\n");
    wire.extend_from_slice(b"\0\0");
    assert_eq!(decode_whole(&wire).1, Err(Error::NotGzip { found: [0, 0] }));
}

#[test]
fn an_independent_encoder_agrees_flate2_with_sync_flushes() {
    use flate2::{Compression, GzBuilder};
    use std::io::Write;
    let plain = sample_plain();
    let mut w = GzBuilder::new()
        .filename("x.json")
        .comment("from flate2")
        .extra(vec![1, 2, 3, 4])
        .write(Vec::new(), Compression::new(9));
    for piece in plain.chunks(777) {
        w.write_all(piece).unwrap();
        w.flush().unwrap(); // a sync flush, as the service does
    }
    let wire = w.finish().unwrap();
    let oracle = naive_lines(&plain, DEFAULT_MAX_RECORD);
    assert_eq!(
        decode_in_pieces(&wire, &[wire.len()], crc_on()),
        (oracle.clone(), Ok(()))
    );
    let sizes = gnip_stream::testing::oracle::pieces(5, wire.len());
    assert_eq!(decode_in_pieces(&wire, &sizes, crc_on()), (oracle, Ok(())));
}

#[test]
fn each_flushed_record_is_delivered_by_the_bytes_that_carry_it() {
    // The service flushes after each record and may then go quiet for a long time: a decoder
    // that waits for more input before handing out what it has would hold records back.
    for &inflater in Inflater::ALL {
        let mut g = Generator::new(11);
        let mut enc = GzipEncoder::new(6);
        let mut wire = Vec::new();
        let mut expected = Vec::new();
        let mut dec = gnip_stream::core::FrameDecoder::with_config(
            DecoderConfig::default().inflater(inflater),
        )
        .unwrap();
        let mut seen = Vec::new();
        for _ in 0..200 {
            let mut r = Vec::new();
            g.record(&mut r);
            let start = wire.len();
            let mut line = r.clone();
            line.extend_from_slice(b"\r\n");
            enc.write_flush(&line, &mut wire);
            expected.push(r);
            dec.feed(&wire[start..], |e| {
                if let gnip_stream::core::Event::Record(rec) = e {
                    seen.push(rec.bytes().to_vec())
                }
            })
            .unwrap();
            assert_eq!(
                seen,
                expected,
                "{}: record {} must be out as soon as its bytes are in",
                inflater.name(),
                expected.len()
            );
        }
    }
}

/// Regression (found by the property test `corrupted_streams_agree_whole_and_in_pieces`): with
/// miniz_oxide's `stream::inflate`, bytes inflated in the call that hit corrupt data and still
/// in its window were dropped, so a stream fed whole lost records that the same stream fed in
/// pieces delivered. Here hundreds of KB inflate in one go before the corruption.
#[test]
fn regression_records_inflated_just_before_corruption_are_delivered() {
    let mut g = Generator::new(21);
    let mut recs = Vec::new();
    for _ in 0..300 {
        let mut r = Vec::new();
        g.record(&mut r);
        recs.push(r);
    }
    let plain = frame(&recs);
    let mut enc = GzipEncoder::new(6);
    let mut wire = Vec::new();
    enc.write(&plain, &mut wire); // no flush: long deflate blocks, inflated in one go
    enc.write_flush(b"", &mut wire); // byte-align, so a block header can follow
    wire.push(0b0000_0111); // BFINAL=1, BTYPE=11 (reserved): corrupt
    wire.extend_from_slice(&[0x5A; 16]);
    for &inflater in Inflater::ALL {
        let crc_on = || crc_on().inflater(inflater);
        let whole = decode_in_pieces(&wire, &[wire.len()], crc_on());
        assert_eq!(whole.1, Err(Error::CorruptDeflate));
        assert_eq!(
            records(&whole.0),
            recs,
            "every record before the corruption"
        );
        assert_eq!(
            decode_in_pieces(&wire, &vec![1; wire.len()], crc_on()),
            whole
        );
        for seed in 0..10 {
            let sizes = gnip_stream::testing::oracle::pieces(seed, wire.len());
            assert_eq!(
                decode_in_pieces(&wire, &sizes, crc_on()),
                whole,
                "{} seed {seed}",
                inflater.name()
            );
        }
    }
}

//! Property tests: random streams from the generator, random flush and feed points, random
//! corruption; each run through the same invariant checks the fuzz targets use.

mod common;

use common::*;
use gnip_stream::__fuzz;
use gnip_stream::core::{DEFAULT_MAX_RECORD, GzipEncoder, Inflater};
use gnip_stream::simulator::generator::Generator;
use gnip_stream::testing::oracle::{self, naive_lines};
use proptest::prelude::*;

fn stream_of(seed: u64, n: usize, heartbeat_every: usize) -> Vec<u8> {
    let mut g = Generator::new(seed);
    let mut plain = Vec::new();
    for i in 0..n {
        g.record(&mut plain);
        plain.extend_from_slice(if i % 7 == 3 { b"\n" } else { b"\r\n" });
        if heartbeat_every > 0 && i % heartbeat_every == 0 {
            plain.extend_from_slice(b"\r\n");
        }
    }
    plain
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn generated_streams_decode_like_the_oracle_for_any_flushes_and_feeds(
        seed in any::<u64>(),
        n in 0usize..40,
        heartbeat_every in 0usize..5,
        level in 0u8..10,
        flush_seed in any::<u64>(),
        feed_seed in any::<u64>(),
    ) {
        let plain = stream_of(seed, n, heartbeat_every);
        let mut enc = GzipEncoder::new(level);
        let mut wire = Vec::new();
        let mut at = 0;
        for k in oracle::pieces(flush_seed, plain.len()) {
            enc.write_flush(&plain[at..at + k], &mut wire);
            at += k;
        }
        enc.finish(&mut wire);
        let sizes = oracle::pieces(feed_seed, wire.len());
        for &inflater in Inflater::ALL {
            let got = decode_in_pieces_crc(&wire, &sizes, inflater);
            prop_assert_eq!(got, (naive_lines(&plain, DEFAULT_MAX_RECORD), Ok(())), "{}", inflater.name());
        }
    }

    #[test]
    fn corrupted_streams_agree_whole_and_in_pieces(
        seed in any::<u64>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
        feed_seed in any::<u32>(),
    ) {
        let plain = stream_of(seed, 10, 2);
        let mut wire = gzip_flushed(plain.chunks(500), true);
        for (at, mask) in flips {
            let i = at.index(wire.len());
            wire[i] ^= mask;
        }
        // The fuzz target's even mode: whole vs pieces, same events, same outcome (and, with
        // two inflaters, the same from both).
        let mut data = vec![0u8];
        data.extend_from_slice(&feed_seed.to_le_bytes());
        data.extend_from_slice(&wire);
        __fuzz::gzip_records(&data);
    }

    #[test]
    fn splitter_matches_oracle_on_arbitrary_bytes(data in proptest::collection::vec(
        prop_oneof![Just(b'\n'), Just(b'\r'), Just(b'{'), any::<u8>()], 0..600)) {
        __fuzz::lines(&data);
    }

    #[test]
    fn classification_never_panics_and_agrees_with_serde(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        __fuzz::classify_record(&data);
    }

    #[test]
    fn classification_agrees_with_serde_on_json_shaped_input(
        key in prop_oneof![
            Just("info".to_owned()), Just("warn".to_owned()), Just("error".to_owned()),
            Just("delete".to_owned()), Just("user_protect".to_owned()),
            Just("created_at".to_owned()), Just("verb".to_owned()), "[a-z_]{1,8}",
        ],
        msg in "[ -~é😀\\\\\"]{0,20}",
    ) {
        let text = serde_json::to_string(&msg).unwrap();
        let doc = format!(r#"{{"{key}":{{"message":{text},"sent":"2017"}}}}"#);
        __fuzz::classify_record(doc.as_bytes());
    }
}

fn decode_in_pieces_crc(
    wire: &[u8],
    sizes: &[usize],
    inflater: Inflater,
) -> (Vec<oracle::Owned>, Result<(), gnip_stream::Error>) {
    oracle::decode_in_pieces(
        wire,
        sizes,
        gnip_stream::core::DecoderConfig::default()
            .check_crc(true)
            .inflater(inflater),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// `feed_until`: a callback that stops at random events, fed the rest again each time,
    /// gets exactly the events and the outcome of an uninterrupted decode (csv-core style
    /// explicit progress: nothing lost, nothing twice), valid and corrupted streams alike.
    #[test]
    fn stopping_and_going_on_changes_nothing(
        seed in any::<u64>(),
        n in 0usize..30,
        feed_seed in any::<u64>(),
        stop_seed in any::<u64>(),
        flip in proptest::option::of((any::<prop::sample::Index>(), 1u8..=255)),
    ) {
        let plain = stream_of(seed, n, 3);
        let mut wire = gzip_flushed(plain.chunks(300), true);
        if let Some((at, mask)) = flip {
            let i = at.index(wire.len());
            wire[i] ^= mask;
        }
        let sizes = oracle::pieces(feed_seed, wire.len());
        for &inflater in Inflater::ALL {
            let config = gnip_stream::core::DecoderConfig::default()
                .check_crc(true)
                .inflater(inflater);
            let plainly = oracle::decode_in_pieces(&wire, &sizes, config);
            let stopped = oracle::decode_with_stops(&wire, &sizes, config, stop_seed);
            prop_assert_eq!(stopped, plainly, "{}", inflater.name());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Every record key's message id is a valid NATS header value (no control character, so
    /// no CR or LF), in both dialects, for arbitrary and for JSON-shaped records, and different
    /// keys never share one (audit M2: a raw CR in a compliance timestamp became part of the id
    /// and the publisher refused it, stopping every partition).
    #[test]
    fn message_ids_are_always_valid_header_values(
        data in proptest::collection::vec(any::<u8>(), 0..160),
        kind in prop::sample::select(vec!["delete", "user_protect", "scrub_geo", "status_withheld"]),
        ts in "[0-9\r\n\t%\x01]{1,12}",
        id in "[0-9a-z%\r\n]{1,8}",
    ) {
        use gnip_stream::core::Record;
        use gnip_stream::unversioned::protocol::dialect::Dialect;
        let shaped = [
            format!(r#"{{"{kind}":{{"status":{{"id_str":"{}"}},"timestamp_ms":"{}"}}}}"#, id.escape_default(), ts.escape_default()),
            format!(r#"{{"{kind}":{{"status":{{"id_str":"{id}"}},"timestamp_ms":"{ts}"}}}}"#),
            format!(r#"{{"data":{{"id":"{}"}}}}"#, id.escape_default()),
            format!(r#"{{"data":{{"{kind}":{{"tweet":{{"id":"{id}"}},"event_at":"{ts}"}}}}}}"#),
        ];
        let mut ids = std::collections::BTreeMap::new();
        for bytes in shaped.iter().map(|s| s.as_bytes().to_vec()).chain([data]) {
            for dialect in [Dialect::Gnip, Dialect::V2] {
                if let Some(key) = dialect.record_key(&Record::new(&bytes)) {
                    let m = key.message_id();
                    prop_assert!(!m.chars().any(char::is_control), "{m:?}");
                    if let Some(other) = ids.insert(m.clone(), key.as_u64()) {
                        prop_assert_eq!(other, key.as_u64(), "one id, two keys: {}", m);
                    }
                }
            }
        }
    }
}

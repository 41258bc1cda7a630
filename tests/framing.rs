//! Line framing through the whole decoder: heartbeats, bare `\n`, lone `\r`, empty input,
//! streams that end mid-record, overlong records, and configuration checks.

mod common;

use common::*;
use gnip_stream::Error;
use gnip_stream::core::{DecoderConfig, Event, FrameDecoder, RecordKind};
use gnip_stream::testing::oracle::{Owned, decode_in_pieces, pieces};

fn rec(s: &str) -> Owned {
    Owned::Record(s.as_bytes().to_vec())
}

fn all_ways(plain: &[u8], config: DecoderConfig) -> (Vec<Owned>, Result<(), Error>) {
    let wire = gzip_flushed([plain], false);
    let whole = decode_in_pieces(&wire, &[wire.len()], config);
    assert_eq!(
        decode_in_pieces(&wire, &vec![1; wire.len()], config),
        whole,
        "bytewise"
    );
    for seed in 0..20 {
        assert_eq!(
            decode_in_pieces(&wire, &pieces(seed, wire.len()), config),
            whole,
            "seed {seed}"
        );
    }
    whole
}

#[test]
fn heartbeats_around_and_between_records() {
    let (events, end) = all_ways(
        b"\r\n\r\n{\"a\":1}\r\n\r\n{\"b\":2}\r\n\r\n",
        DecoderConfig::default(),
    );
    use Owned::Heartbeat as H;
    assert_eq!(events, vec![H, H, rec("{\"a\":1}"), H, rec("{\"b\":2}"), H]);
    assert_eq!(end, Err(Error::Truncated), "a live stream has no trailer");
}

#[test]
fn bare_newline_system_message_and_lone_cr_inside_a_record() {
    let plain = b"{\"info\":{\"message\":\"x\"}}\n{\"a\":\"b\rc\"}\r\n\n";
    let (events, _) = all_ways(plain, DecoderConfig::default());
    assert_eq!(
        events,
        vec![
            rec("{\"info\":{\"message\":\"x\"}}"),
            rec("{\"a\":\"b\rc\"}"),
            Owned::Heartbeat
        ]
    );
}

#[test]
fn a_stream_ending_mid_record_reports_it_incomplete_never_as_a_record() {
    let (events, end) = all_ways(b"{\"a\":1}\r\n{\"cut\":\"he", DecoderConfig::default());
    assert_eq!(events, vec![rec("{\"a\":1}"), Owned::Incomplete(10)]);
    assert_eq!(end, Err(Error::Truncated));
    // Cut inside the `\r\n`: the record is complete only with its `\n`.
    let (events, _) = all_ways(b"{\"a\":1}\r", DecoderConfig::default());
    assert_eq!(events, vec![Owned::Incomplete(8)]);
}

#[test]
fn empty_input_gives_no_events() {
    let mut dec = FrameDecoder::new();
    dec.feed(b"", |_| panic!("no events from nothing")).unwrap();
    assert_eq!(dec.finish(|_| panic!("no events from nothing")), Ok(()));
    let (events, _) = all_ways(b"", DecoderConfig::default());
    assert!(events.is_empty());
}

#[test]
fn an_overlong_record_is_skipped_and_the_stream_goes_on() {
    let mut plain = b"{\"a\":1}\r\n".to_vec();
    plain.push(b'{');
    plain.extend(std::iter::repeat_n(b'x', 5000));
    plain.extend_from_slice(b"}\r\n{\"b\":2}\r\n");
    let config = DecoderConfig::default().max_record(4096);
    let (events, _) = all_ways(&plain, config);
    assert_eq!(
        events,
        vec![rec("{\"a\":1}"), Owned::Overlong(5002), rec("{\"b\":2}")]
    );
}

#[test]
fn records_borrowed_from_the_buffer_carry_kind_and_id() {
    let wire = gzip_flushed(
        [&b"{\"created_at\":\"x\",\"id_str\":\"1600000000000000001\"}\r\nnot json\r\n"[..]],
        false,
    );
    let mut dec = FrameDecoder::new();
    let mut seen = Vec::new();
    dec.feed(&wire, |e| {
        if let Event::Record(r) = e {
            let kind = format!("{:?}", r.kind());
            seen.push((
                kind,
                r.id().map(str::to_owned),
                r.as_str().map(str::to_owned),
            ));
        }
    })
    .unwrap();
    assert_eq!(seen[0].0, format!("{:?}", RecordKind::Activity));
    assert_eq!(seen[0].1.as_deref(), Some("1600000000000000001"));
    let malformed = format!("{:?}", RecordKind::Malformed);
    assert_eq!(seen[1], (malformed, None, Some("not json".to_owned())));
}

#[test]
fn reset_drops_a_partial_record_and_starts_a_new_stream() {
    let first = gzip_flushed([&b"{\"a\":1}\r\n{\"par"[..]], false);
    let mut dec = FrameDecoder::new();
    let mut n = 0;
    dec.feed(&first, |_| n += 1).unwrap();
    assert_eq!((n, dec.pending_len()), (1, 5));
    assert_eq!(dec.reset(), Some(5));
    // A new connection: a new gzip stream from its header.
    let second = gzip_flushed([&b"{\"b\":2}\r\n"[..]], true);
    let mut got = Vec::new();
    dec.feed(&second, |e| got.push(Owned::of(e))).unwrap();
    assert_eq!(got, vec![rec("{\"b\":2}")]);
    assert_eq!(dec.finish(|_| {}), Ok(()));
    assert_eq!(
        (dec.bytes_in(), dec.members()),
        (0, 0),
        "finish leaves it ready for a new stream"
    );
}

#[test]
fn bad_configuration_is_an_error_not_a_panic() {
    let e = FrameDecoder::with_config(DecoderConfig::default().max_record(0)).unwrap_err();
    assert_eq!(
        e,
        Error::InvalidConfig {
            reason: "max_record must be at least 1 byte"
        }
    );
    assert!(!e.is_retryable());
    assert!(FrameDecoder::with_config(DecoderConfig::default().max_record(1)).is_ok());
}

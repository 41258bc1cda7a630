//! Decode throughput on ~200 MB of real records: bare miniz_oxide inflate versus the whole
//! gnip-stream decode path (inflate + split + classify), in one run.
//!
//! `cargo bench --bench frame` (set `GNIP_BENCH_MB` for another size). Records come from
//! `../shared/corpus` (or `$GNIP_CORPUS`); without it, from the built-in generator.

use std::time::{Duration, Instant};

use gnip_stream::core::Record;
use gnip_stream::core::{
    DecoderConfig, Event, FrameDecoder, GzipEncoder, Inflater, LineSplitter, RecordKind,
};
use gnip_stream::simulator::generator::Generator;
use gnip_stream::unversioned::protocol::dedupe::DedupeWindow;
use gnip_stream::unversioned::protocol::dialect::Dialect;

/// Bytes handed to the decoder per call, as one socket read might return.
#[path = "common/bare.rs"]
mod bare;

const READ: usize = 16 * 1024;
const ROUNDS: usize = 5;

fn records() -> (Vec<Vec<u8>>, &'static str) {
    match gnip_stream::simulator::corpus::load_default() {
        Ok(files) => (
            files.into_iter().flat_map(|f| f.records).collect(),
            "shared corpus",
        ),
        Err(why) => {
            eprintln!("{why}; using the built-in generator");
            let mut g = Generator::new(1);
            let recs = (0..2000)
                .map(|_| {
                    let mut r = Vec::new();
                    g.record(&mut r);
                    r
                })
                .collect();
            (recs, "generator")
        }
    }
}

/// The stream as the service sends it: every record `\r\n`-terminated and sync-flushed, a
/// heartbeat every 100 records. Returns (compressed, inflated length, record count).
fn build(records: &[Vec<u8>], target: usize) -> (Vec<u8>, usize, u64) {
    let mut enc = GzipEncoder::new(6);
    let mut wire = Vec::with_capacity(target / 3);
    let (mut plain_len, mut n) = (0usize, 0u64);
    let mut line = Vec::new();
    'outer: loop {
        for r in records {
            line.clear();
            line.extend_from_slice(r);
            line.extend_from_slice(b"\r\n");
            if n % 100 == 99 {
                line.extend_from_slice(b"\r\n");
            }
            enc.write_flush(&line, &mut wire);
            plain_len += line.len();
            n += 1;
            if plain_len >= target {
                break 'outer;
            }
        }
    }
    (wire, plain_len, n)
}

#[derive(Default)]
struct Counts {
    activities: u64,
    compliance: u64,
    system: u64,
    malformed: u64,
    heartbeats: u64,
    overlong: u64,
}

fn ours(wire: &[u8], crc: bool, inflater: Inflater) -> (u64, Counts) {
    let config = DecoderConfig::default().check_crc(crc).inflater(inflater);
    let mut dec = FrameDecoder::with_config(config).unwrap();
    let mut c = Counts::default();
    for read in wire.chunks(READ) {
        dec.feed(read, |e| match e {
            Event::Record(r) => match r.kind() {
                RecordKind::Activity => c.activities += 1,
                RecordKind::Compliance(_) => c.compliance += 1,
                RecordKind::System(_) => c.system += 1,
                _ => c.malformed += 1,
            },
            Event::Heartbeat => c.heartbeats += 1,
            _ => c.overlong += 1,
        })
        .unwrap();
    }
    (dec.bytes_out(), c)
}

fn split_memchr(plain: &[u8]) -> u64 {
    let mut s = LineSplitter::new(1 << 20);
    let mut n = 0u64;
    for read in plain.chunks(32 * 1024) {
        s.push(read, |_| n += 1);
    }
    n
}

/// The same splitting with `iter().position` instead of memchr (no carry handling needed for a
/// line count; this is the inner loop the memchr dependency replaces).
fn split_position(plain: &[u8]) -> u64 {
    let mut n = 0u64;
    for read in plain.chunks(32 * 1024) {
        let mut rest = read;
        while let Some(p) = rest.iter().position(|&b| b == b'\n') {
            n += 1;
            rest = &rest[p + 1..];
        }
    }
    n
}

fn best<T>(f: impl Fn() -> T, sink: &mut Vec<T>) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed());
        sink.push(v);
    }
    best
}

fn mbps(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

fn main() {
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return; // `cargo test --benches` should not run a 200 MB benchmark
    }
    let mb: usize = std::env::var("GNIP_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let (recs, source) = records();
    let t = Instant::now();
    let (wire, plain_len, n) = build(&recs, mb * 1_000_000);
    println!(
        "data: {n} records from the {source}, {:.1} MB inflated, {:.1} MB gzip (ratio {:.2}), built in {:.1?}",
        plain_len as f64 / 1e6,
        wire.len() as f64 / 1e6,
        plain_len as f64 / wire.len() as f64,
        t.elapsed()
    );
    println!("each figure: best of {ROUNDS} runs, single thread, {READ}-byte reads\n");

    let mut outs = Vec::new();
    let a = best(|| bare::miniz(&wire, READ), &mut outs);
    assert!(outs.iter().all(|&o| o == plain_len as u64));
    let mut outs = Vec::new();
    let b = best(|| ours(&wire, false, Inflater::MinizOxide), &mut outs);
    let (out, c) = outs.pop().unwrap();
    assert_eq!(out, plain_len as u64);
    assert_eq!(c.activities + c.compliance + c.system + c.malformed, n);
    assert_eq!((c.heartbeats, c.malformed, c.overlong), (n / 100, 0, 0));
    let mut outs = Vec::new();
    let b_crc = best(|| ours(&wire, true, Inflater::MinizOxide), &mut outs);

    let ra = mbps(plain_len, a);
    let rb = mbps(plain_len, b);
    let rc = mbps(plain_len, b_crc);
    println!("(a) bare miniz_oxide stream::inflate        {ra:8.1} MB/s");
    println!(
        "(b) gnip-stream decode+split+classify      {rb:8.1} MB/s  {:.0} records/s",
        n as f64 / b.as_secs_f64()
    );
    println!("    same, CRC-32 checked (Replay)          {rc:8.1} MB/s");
    println!("ratio b/a = {:.3} (target >= 0.90)", rb / ra);
    #[cfg(feature = "zlib-rs")]
    {
        let mut outs = Vec::new();
        let za = best(|| bare::zlib_rs(&wire, READ), &mut outs);
        assert!(outs.iter().all(|&o| o == plain_len as u64));
        let mut outs = Vec::new();
        let zb = best(|| ours(&wire, false, Inflater::ZlibRs), &mut outs);
        assert_eq!(outs.pop().unwrap().0, plain_len as u64);
        let (rza, rzb) = (mbps(plain_len, za), mbps(plain_len, zb));
        println!("(za) bare zlib-rs Inflate                  {rza:8.1} MB/s");
        println!("(zb) gnip-stream over zlib-rs              {rzb:8.1} MB/s");
        println!(
            "ratio zb/za = {:.3}; zlib-rs over miniz_oxide: bare za/a = {:.3}, ours zb/b = {:.3}",
            rzb / rza,
            rza / ra,
            rzb / rb
        );
    }
    #[cfg(not(feature = "zlib-rs"))]
    println!("(zlib-rs: not in this build; `cargo bench --bench frame --features zlib-rs`)");
    println!(
        "records: {} activities, {} compliance, {} system, {} heartbeats",
        c.activities, c.compliance, c.system, c.heartbeats
    );

    // Why memchr: the splitter's inner loop with and without it, on the inflated bytes.
    let mut plain = Vec::with_capacity(plain_len);
    gnip_stream::core::GzipDecoder::new()
        .decode(&wire, |b| plain.extend_from_slice(b))
        .unwrap();
    let mut outs = Vec::new();
    let m = best(|| split_memchr(&plain), &mut outs);
    let mut outs2 = Vec::new();
    let p = best(|| split_position(&plain), &mut outs2);
    assert_eq!(outs[0], outs2[0]);
    println!(
        "\nsplitting alone: memchr {:.0} MB/s, iter().position {:.0} MB/s ({:.1}x)",
        mbps(plain_len, m),
        mbps(plain_len, p),
        p.as_secs_f64() / m.as_secs_f64()
    );

    // De-duplication's own cost (issue 25, target 2): finding each record's key, and the key
    // with the window's insert, per record, against the decode time per record. The records
    // are the corpus's, read in cache as the decoder hands each one over just inflated (over
    // 100 MB of them it would mostly measure cache misses).
    let records: Vec<Record<'_>> = (0..(n as usize).div_ceil(recs.len()))
        .flat_map(|_| recs.iter().map(|r| Record::new(r)))
        .take(n as usize)
        .collect();
    let mut outs = Vec::new();
    let k = best(
        || {
            records
                .iter()
                .filter_map(|r| Dialect::Gnip.record_key(r))
                .fold(0u64, |acc, key| acc ^ key.as_u64())
        },
        &mut outs,
    );
    let mut outs = Vec::new();
    let w = best(
        || {
            // Each key made unique, as a live stream's are: every insert is new and, once
            // the window is full, forgets the oldest.
            let mut window = DedupeWindow::new(100_000);
            records
                .iter()
                .filter_map(|r| Dialect::Gnip.record_key(r))
                .zip(0u64..)
                .filter(|(key, n)| window.insert(key.as_u64() ^ n << 40))
                .count()
        },
        &mut outs,
    );
    let per = |d: Duration| d.as_nanos() as f64 / records.len() as f64;
    println!(
        "\nde-duplication: key {:.0} ns/record, key + window insert {:.0} ns/record; \
         against decode (b) {:.0} ns/record: key {:.1}%, key + insert {:.1}%",
        per(k),
        per(w),
        per(b),
        100.0 * k.as_secs_f64() / b.as_secs_f64(),
        100.0 * w.as_secs_f64() / b.as_secs_f64()
    );
}

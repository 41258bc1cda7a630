//! Decodes a gzip stream the way the client will: from a file (`decode FILE.gz`, e.g. a saved
//! capture of the service's body), or, with no argument, from a stream the built-in generator
//! makes: 50,000 records flushed one by one, with heartbeats, fed in uneven pieces.
//!
//! Prints what it found by kind, a few sample records, and the throughput.

use std::time::Instant;

use gnip_stream::core::{Event, FrameDecoder, GzipEncoder, RecordKind};
use gnip_stream::simulator::generator::Generator;

fn generated() -> Vec<u8> {
    let mut g = Generator::new(42);
    let mut enc = GzipEncoder::new(6);
    let mut wire = Vec::new();
    let mut line = Vec::new();
    for i in 0..50_000 {
        line.clear();
        g.record(&mut line);
        line.extend_from_slice(b"\r\n");
        if i % 1000 == 999 {
            line.extend_from_slice(b"\r\n"); // a heartbeat now and then
        }
        enc.write_flush(&line, &mut wire);
    }
    enc.write_flush(
        b"{\"info\":{\"message\":\"Replay Request Completed\",\"sent\":\"2026-11-22T00:00:00+00:00\",\"activity_count\":50000}}\r\n",
        &mut wire,
    );
    enc.finish(&mut wire);
    wire
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (wire, source) = match std::env::args().nth(1) {
        Some(path) => (std::fs::read(&path)?, path),
        None => (generated(), "the built-in generator".to_owned()),
    };
    let mut dec = FrameDecoder::new();
    let (mut activities, mut compliance, mut system, mut malformed) = (0u64, 0u64, 0u64, 0u64);
    let (mut heartbeats, mut overlong, mut incomplete) = (0u64, 0u64, 0u64);
    let mut samples = Vec::new();
    let started = Instant::now();
    let mut on_event = |e: Event<'_>| match e {
        Event::Record(r) => {
            match r.kind() {
                RecordKind::Activity => activities += 1,
                RecordKind::Compliance(_) => compliance += 1,
                RecordKind::System(m) => {
                    system += 1;
                    println!("system message ({}): {}", m.level().name(), m.message());
                }
                // Malformed, and kinds a later version may add.
                _ => malformed += 1,
            }
            if samples.len() < 3 && r.kind() == RecordKind::Activity {
                let text = String::from_utf8_lossy(r.bytes());
                let cut: String = text.chars().take(100).collect();
                samples.push(format!(
                    "id {} ({} bytes): {cut}…",
                    r.id().unwrap_or("?"),
                    r.bytes().len()
                ));
            }
        }
        Event::Heartbeat => heartbeats += 1,
        Event::Overlong { .. } => overlong += 1,
        Event::Incomplete { .. } => incomplete += 1,
        _ => {}
    };
    // Uneven pieces, as reads from a socket arrive.
    let mut at = 0;
    let mut size = 1;
    let mut result = Ok(());
    while at < wire.len() && result.is_ok() {
        let end = (at + size).min(wire.len());
        result = dec.feed(&wire[at..end], &mut on_event);
        at = end;
        size = size * 7 % 40_000 + 1;
    }
    let (bytes_in, bytes_out) = (dec.bytes_in(), dec.bytes_out());
    let end = result.and_then(|()| dec.finish(&mut on_event));
    let secs = started.elapsed().as_secs_f64();
    println!("\ndecoded {bytes_in} gzip bytes from {source} into {bytes_out} bytes in {secs:.3} s");
    for s in &samples {
        println!("  {s}");
    }
    println!(
        "activities {activities}, compliance {compliance}, system {system}, malformed {malformed}, \
         heartbeats {heartbeats}, overlong {overlong}, incomplete {incomplete}"
    );
    println!(
        "{:.0} MB/s inflated, {:.0} records/s",
        bytes_out as f64 / 1e6 / secs,
        (activities + compliance) as f64 / secs
    );
    match end {
        Ok(()) => println!("stream ended cleanly"),
        Err(e) => println!("stream ended: {e}"),
    }
    Ok(())
}

//! The decoder's memory, measured by a counting allocator: decompression bombs (1 GB of zeros,
//! 256 MiB of overlong lines) pass through in bounded memory, and a warmed-up decoder allocates
//! nothing per record.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use gnip_stream::Error;
use gnip_stream::core::{
    DEFAULT_MAX_RECORD, DecoderConfig, Event, FrameDecoder, GzipEncoder, Inflater, RecordKind,
};
use gnip_stream::simulator::generator::Generator;

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static CALLS: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call unchanged to the system allocator; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        CALLS.fetch_add(1, Relaxed);
        let live = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
        PEAK.fetch_max(live, Relaxed);
        // SAFETY: same layout contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const MIB: usize = 1 << 20;

/// The counters are process-wide: measure one test at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn decoder(inflater: Inflater) -> FrameDecoder {
    FrameDecoder::with_config(DecoderConfig::default().inflater(inflater)).unwrap()
}

/// Compresses `repeat` copies of `block` into one gzip member.
fn bomb(block: &[u8], repeat: usize) -> Vec<u8> {
    let mut enc = GzipEncoder::new(1);
    let mut wire = Vec::new();
    for _ in 0..repeat {
        enc.write(block, &mut wire);
    }
    enc.finish(&mut wire);
    wire
}

/// Decodes `wire` in 64 KiB pieces; returns the events (counted) and the peak heap above the
/// level before the decoder was made.
fn decode_measuring(
    wire: &[u8],
    inflater: Inflater,
) -> (Vec<String>, Result<(), Error>, usize, u64) {
    let mut events = Vec::with_capacity(1024);
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    let mut dec = decoder(inflater);
    let mut note = |e: Event<'_>| match e {
        Event::Record(r) => events.push(format!("record {}", r.bytes().len())),
        other => events.push(format!("{other:?}")),
    };
    for piece in wire.chunks(64 * 1024) {
        dec.feed(piece, &mut note).unwrap();
    }
    let out = dec.bytes_out();
    let end = dec.finish(&mut note);
    let peak = PEAK.load(Relaxed) - base;
    drop(dec);
    (events, end, peak, out)
}

#[test]
fn one_gigabyte_of_zeros_inflates_in_bounded_memory() {
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let wire = bomb(&vec![0u8; MIB], 1024);
    assert!(
        wire.len() < 8 * MIB,
        "a bomb: {} bytes compressed",
        wire.len()
    );
    for &inflater in Inflater::ALL {
        let (events, end, peak, out) = decode_measuring(&wire, inflater);
        assert_eq!(out, 1 << 30);
        // No newline in a gigabyte: one unterminated line, never held, reported at the end.
        assert_eq!(
            events,
            vec![format!("Incomplete {{ len: {} }}", 1u64 << 30)]
        );
        assert_eq!(end, Ok(()));
        assert!(
            peak <= BOUND,
            "{}: peak heap {peak} bytes > {BOUND}",
            inflater.name()
        );
    }
}

/// Decompressor (~11 KiB; zlib-rs: its state and own 32 KiB window) + the 64 KiB window + a carry of at most 1 MiB + 1, which while it
/// grows from 512 KiB to its cap briefly holds both blocks (a realloc copies): 1.5 × the
/// maximum record, plus slack for the test's own vectors.
const BOUND: usize = DEFAULT_MAX_RECORD * 3 / 2 + 256 * 1024;

#[test]
fn overlong_lines_in_a_bomb_are_skipped_in_bounded_memory() {
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // 2 MiB lines of 'x', each terminated: every one is over the 1 MiB limit.
    let mut block = vec![b'x'; 2 * MIB - 2];
    block.extend_from_slice(b"\r\n");
    let wire = bomb(&block, 128);
    for &inflater in Inflater::ALL {
        let (events, end, peak, out) = decode_measuring(&wire, inflater);
        assert_eq!(out, 256 << 20);
        assert_eq!(events.len(), 128);
        assert!(
            events
                .iter()
                .all(|e| *e == format!("Overlong {{ len: {} }}", 2 * MIB - 2)),
            "{:?}",
            &events[..2]
        );
        assert_eq!(end, Ok(()));
        assert!(
            peak <= BOUND,
            "{}: peak heap {peak} bytes > {BOUND}",
            inflater.name()
        );
    }
}

#[test]
fn a_warmed_up_decoder_allocates_nothing_per_record() {
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut g = Generator::new(5);
    let mut enc = GzipEncoder::new(6);
    let mut wire = Vec::new();
    let mut line = Vec::new();
    for _ in 0..5000 {
        line.clear();
        g.record(&mut line);
        line.extend_from_slice(b"\r\n\r\n");
        enc.write_flush(&line, &mut wire);
    }
    for &inflater in Inflater::ALL {
        let mut dec = decoder(inflater);
        let mut counts = [0u64; 3];
        let run = |dec: &mut FrameDecoder, counts: &mut [u64; 3]| {
            for read in wire.chunks(1500) {
                dec.feed(read, |e| match e {
                    Event::Record(r) => {
                        let k = usize::from(r.kind() != RecordKind::Activity);
                        counts[k] += u64::from(r.id().is_some());
                    }
                    _ => counts[2] += 1,
                })
                .unwrap();
            }
            assert_eq!(dec.reset(), None);
        };
        // The first pass grows the carry buffer to the largest record that spans two reads.
        run(&mut dec, &mut counts);
        let before = CALLS.load(Relaxed);
        run(&mut dec, &mut counts);
        let allocations = CALLS.load(Relaxed) - before;
        assert_eq!(counts[0] + counts[1], 2 * 5000, "every record has its id");
        assert_eq!(counts[2], 2 * 5000, "every heartbeat");
        assert_eq!(
            allocations,
            0,
            "{}: allocations while decoding 5000 records",
            inflater.name()
        );
    }
}

/// The peak heap `f` takes above the level before it ran.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    let out = f();
    (out, PEAK.load(Relaxed).saturating_sub(base))
}

#[test]
fn hostile_rules_answers_and_files_are_refused_without_a_tree() {
    // Audit M4: answers were read into one serde_json tree, about 32 to 80 bytes a value, so
    // 40 MiB of `0,` came to over 1 GB. Now a list is read a rule at a time and every other
    // answer is refused past 200,000 values before a tree is built.
    use gnip_stream::unversioned::protocol::rules::{
        MAX_ANSWER_VALUES, Rule, parse_add, parse_delete, parse_list, parse_rules_file,
    };
    use gnip_stream::unversioned::protocol::v2;
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let zeros = "0,".repeat(20 * MIB);
    let zeros = &zeros[..zeros.len() - 1];
    let sent = [Rule::new("a", None)];
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        (
            "list, a rule's member",
            format!(r#"{{"rules":[{{"value":"a","x":[{zeros}]}}]}}"#).into_bytes(),
        ),
        (
            "list, its elements",
            format!(r#"{{"rules":[{zeros}]}}"#).into_bytes(),
        ),
        (
            "list, another member",
            format!(r#"{{"x":[{zeros}],"rules":[]}}"#).into_bytes(),
        ),
        ("add", format!(r#"{{"detail":[{zeros}]}}"#).into_bytes()),
        (
            "delete",
            format!(r#"{{"summary":{{"deleted":1}},"detail":[{zeros}]}}"#).into_bytes(),
        ),
        ("v2 list", format!(r#"{{"data":[{zeros}]}}"#).into_bytes()),
        (
            "rules file",
            format!(r#"{{"rules":[{zeros}]}}"#).into_bytes(),
        ),
        (
            "rules file, one line",
            format!(r#"{{"value":"a","tag":[{zeros}]}}"#).into_bytes(),
        ),
    ];
    for (what, body) in &bodies {
        let (refused, peak) = peak_of(|| match *what {
            "add" => parse_add(201, body, &sent).map(drop).map_err(|e| e.0),
            "delete" => parse_delete(body).map(drop).map_err(|e| e.0),
            "v2 list" => v2::rules::parse_list(body).map(drop).map_err(|e| e.0),
            "rules file" | "rules file, one line" => {
                parse_rules_file(body).map(drop).map_err(|e| e.to_string())
            }
            _ => parse_list(body).map(drop).map_err(|e| e.0),
        });
        // "another member" is a good answer: no rules, the other member never read.
        if *what == "list, another member" {
            assert_eq!(refused, Ok(()), "{what}");
        } else {
            let e = refused.expect_err(what);
            assert!(
                e.contains(&format!("more than {MAX_ANSWER_VALUES} JSON values"))
                    || e.contains("a rule without a value")
                    || e.contains("not a rule")
                    || e.contains("must be a JSON object"),
                "{what}: {e}"
            );
        }
        assert!(
            peak < MIB,
            "{what}: peak heap {peak} bytes for {} bytes",
            body.len()
        );
    }
    // A good list of 100,000 rules is still read whole.
    let good: Vec<String> = (0..100_000)
        .map(|i| {
            format!(
                r#"{{"value":"rule {i}","tag":null,"id":{}}}"#,
                1_000_000 + i
            )
        })
        .collect();
    let body = format!(r#"{{"rules":[{}],"sent":"x"}}"#, good.join(","));
    let (rules, _) = peak_of(|| parse_list(body.as_bytes()).unwrap());
    assert_eq!(rules.len(), 100_000);
    assert_eq!(rules[99_999].id, Some(1_099_999));
}

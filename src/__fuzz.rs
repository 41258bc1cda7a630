//! The fuzz entry points only (the oracle they check against is `testing::oracle`). Each target
//! in `fuzz/` is one line calling a function here, so an ordinary build compiles the fuzz logic
//! (house style, after rustls and memchr).

use crate::core::{
    DecoderConfig, GzipEncoder, Inflater, Level, LineSplitter, RecordKind, classify, record_id,
};
use crate::testing::oracle::{Owned, decode_in_pieces, decode_with_stops, naive_lines, pieces};

fn seed_of(data: &[u8]) -> (u64, &[u8]) {
    let n = data.len().min(4);
    let mut b = [0u8; 8];
    b[..n].copy_from_slice(&data[..n]);
    (u64::from_le_bytes(b), &data[n..])
}

/// Target `gzip_records`. First byte: the mode; next four: a seed for the piece sizes.
///
/// - even mode: the rest is a gzip stream as it may arrive (valid or not). Decoding it whole and
///   in pieces must give the same events and the same error; the carry stays bounded; and a
///   callback that stops at seeded events, fed the rest again, changes nothing.
/// - odd mode: the rest is plain text. It is gzip-compressed with sync flushes at seeded points
///   and decoded in pieces with CRC checking on: the events must equal the naive oracle's and
///   the stream must end cleanly.
///
/// Bits 2 and up of the mode pick the inflater (of those the build has: with the feature
/// `zlib-rs`, miniz_oxide or zlib-rs); in the even mode every other inflater must then agree
/// (differential): the same events when both accept the stream, the same events up to where the
/// first of them finds it corrupt otherwise.
pub fn gzip_records(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (seed, body) = seed_of(rest);
    let max = 64 + (seed % 512) as usize;
    let inflater = Inflater::ALL[usize::from(mode >> 2) % Inflater::ALL.len()];
    let config = DecoderConfig::default()
        .max_record(max)
        .check_crc(mode & 2 != 0)
        .inflater(inflater);
    if mode % 2 == 0 {
        let (whole, whole_end) = decode_in_pieces(body, &[body.len()], config);
        for &other in Inflater::ALL.iter().filter(|&&i| i != inflater) {
            let (theirs, their_end) = decode_in_pieces(body, &[body.len()], config.inflater(other));
            let names = (inflater.name(), other.name());
            if whole_end.is_ok() && their_end.is_ok() {
                assert_eq!(
                    whole, theirs,
                    "{names:?} differ in events on a valid stream"
                );
            } else {
                // Inflaters notice corruption at different points (one checks a distance the
                // other lets through): what both say before the first one stops agrees; only
                // the event the stop cut short may differ.
                let (short, long) = if whole.len() <= theirs.len() {
                    (&whole, &theirs)
                } else {
                    (&theirs, &whole)
                };
                let agreed = short.len().saturating_sub(1);
                assert_eq!(
                    short[..agreed],
                    long[..agreed],
                    "{names:?} differ before the corruption"
                );
            }
        }
        let sizes = pieces(seed, body.len());
        let (split, split_end) = decode_in_pieces(body, &sizes, config);
        assert_eq!(whole, split, "events differ by chunking");
        assert_eq!(whole_end, split_end, "outcome differs by chunking");
        let (stopped, stopped_end) = decode_with_stops(body, &sizes, config, seed >> 7);
        assert_eq!(
            whole, stopped,
            "events differ when the callback stops and goes on"
        );
        assert_eq!(
            whole_end, stopped_end,
            "outcome differs when the callback stops"
        );
    } else {
        let mut wire = Vec::new();
        let mut enc = GzipEncoder::new((seed % 10) as u8);
        let mut at = 0;
        for n in pieces(seed.rotate_left(17), body.len()) {
            enc.write_flush(&body[at..at + n], &mut wire);
            at += n;
        }
        enc.finish(&mut wire);
        let config = config.check_crc(true);
        let sizes = pieces(seed, wire.len());
        let (events, end) = decode_in_pieces(&wire, &sizes, config);
        assert_eq!(events, naive_lines(body, max));
        assert_eq!(end, Ok(()));
        let stopped = decode_with_stops(&wire, &sizes, config, seed >> 7);
        assert_eq!(
            stopped,
            (events, end),
            "stopping and going on changes nothing"
        );
    }
}

/// Target `lines`: the splitter fed in seeded pieces must agree with the naive oracle.
/// First byte: the maximum record length (1..=64); next four: the seed.
pub fn lines(data: &[u8]) {
    let Some((&m, rest)) = data.split_first() else {
        return;
    };
    let max = usize::from(m % 64) + 1;
    let (seed, body) = seed_of(rest);
    let mut s = LineSplitter::new(max);
    let mut got = Vec::new();
    let mut at = 0;
    for n in pieces(seed, body.len()) {
        s.push(&body[at..at + n], |l| got.push(Owned::of_line(l)));
        at += n;
    }
    if let Some(len) = s.finish() {
        got.push(Owned::Incomplete(len));
    }
    assert_eq!(got, naive_lines(body, max));
}

/// Target `classify`: classification and id extraction never panic and agree with serde_json
/// wherever the answer does not depend on member order.
pub fn classify_record(data: &[u8]) {
    let kind = classify(data);
    let id = record_id(data);
    if let Some(id) = id {
        assert!(
            !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()),
            "id {id:?}"
        );
        let inside = data.as_ptr_range();
        assert!(
            inside.contains(&id.as_ptr()),
            "id must be borrowed from the record"
        );
    }
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(data)
    else {
        return;
    };
    assert_ne!(
        kind,
        RecordKind::Malformed,
        "a JSON object is never malformed"
    );
    if map.len() != 1 {
        return;
    }
    let Some((key, value)) = map.iter().next() else {
        return;
    };
    let level = match key.as_str() {
        "info" => Some(Level::Info),
        "warn" => Some(Level::Warn),
        "error" => Some(Level::Error),
        _ => None,
    };
    if let Some(level) = level {
        let RecordKind::System(m) = kind else {
            panic!("{key} record classified {kind:?}")
        };
        assert_eq!(m.level(), level);
        // With duplicate keys serde keeps the last member and we the first: compare only
        // when there is one "message".
        let messages = memchr::memmem::find_iter(data, b"\"message\"").count();
        if let (Some(serde_json::Value::String(text)), 1) = (value.get("message"), messages) {
            assert_eq!(m.message(), text.as_str());
        }
    } else if let Some(k) = crate::core::ComplianceKind::from_name(key.as_bytes()) {
        assert_eq!(kind, RecordKind::Compliance(k));
    }
}

/// Seed inputs for every target, built from `records`: `(target, input)` pairs in each target's
/// input format. Valid streams make the fuzzer start deep inside the decoder instead of at the
/// gzip magic.
pub fn seeds(records: &[Vec<u8>]) -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    let seed = 0x5eed_u32.to_le_bytes();
    // Streams of a few records each, framed as the service frames them, with heartbeats.
    for (i, group) in records.chunks(4).enumerate() {
        let mut plain = b"\r\n".to_vec();
        for r in group {
            plain.extend_from_slice(r);
            plain.extend_from_slice(if i % 3 == 2 { b"\n" } else { b"\r\n" });
        }
        let mut enc = GzipEncoder::new(6);
        let mut wire = Vec::new();
        for piece in plain.chunks(1 + plain.len() / 3) {
            enc.write_flush(piece, &mut wire);
        }
        if i % 2 == 0 {
            enc.finish(&mut wire);
        }
        for (mode, body) in [(0u8, &wire), (2, &wire), (1, &plain)] {
            let mut input = vec![mode];
            input.extend_from_slice(&seed);
            input.extend_from_slice(body);
            out.push(("gzip_records", input));
        }
        let mut input = vec![40u8];
        input.extend_from_slice(&seed);
        input.extend_from_slice(&plain);
        out.push(("lines", input));
    }
    out.extend(records.iter().map(|r| ("classify", r.clone())));
    out.extend(records.iter().map(|r| ("json_brackets", r.clone())));
    out
}

/// Target `json_brackets`: the 64-byte-block bracket matcher (`core/brackets.rs`, the
/// library's only `unsafe`). At every `{` and `[` of any input (the first 256): the vector
/// masks (AVX2 where the CPU has it, and the target's baseline) and the portable ones give the
/// same end, inside the input, and the same top-level strings; and where the token walker's
/// end makes a value serde_json accepts, the same end and strings as the token walker.
pub fn json_brackets(data: &[u8]) {
    use crate::core::{brackets, json};
    let starts = data
        .iter()
        .enumerate()
        .filter(|(_, c)| matches!(c, b'{' | b'['))
        .map(|(i, _)| i)
        .take(256);
    for i in starts {
        let fast = brackets::end_of_container(data, i);
        assert_eq!(fast, brackets::end_of_container_portable(data, i), "at {i}");
        assert_eq!(fast, brackets::end_of_container_baseline(data, i), "at {i}");
        assert!(fast.is_none_or(|e| e > i && e <= data.len()), "at {i}");
        let valid = json::end_of_container_by_tokens(data, i)
            .filter(|&e| serde_json::from_slice::<serde_json::Value>(&data[i..e]).is_ok());
        if let Some(e) = valid {
            assert_eq!(fast, Some(e), "at {i}: a valid value ends at {e}");
        }
        // The strings at an object's top level: every way finds the same ones, inside the
        // input; in a valid object, its keys and string values as the token walker sees them.
        let quotes = strings_by(|f| {
            brackets::top_level_strings(data, i, |q| {
                f(q);
                std::ops::ControlFlow::<()>::Continue(())
            });
        });
        assert!(quotes.iter().all(|&q| q > i && data[q] == b'"'), "at {i}");
        let portable = strings_by(|f| brackets::top_level_strings_portable(data, i, f));
        let baseline = strings_by(|f| brackets::top_level_strings_baseline(data, i, f));
        assert_eq!(quotes, portable, "at {i}");
        assert_eq!(quotes, baseline, "at {i}");
        if let (Some(e), b'{') = (valid, data[i]) {
            assert_eq!(
                quotes,
                json::top_level_strings_by_tokens(&data[..e], i),
                "at {i}"
            );
        }
    }
}

/// The quotes a top-level walk reports, every one (the callback never stops it).
fn strings_by(walk: impl FnOnce(&mut dyn FnMut(usize) -> bool)) -> Vec<usize> {
    let mut quotes = Vec::new();
    walk(&mut |q| {
        quotes.push(q);
        false
    });
    quotes
}

/// Target `nats`: the NATS server-operation parser (feature `jetstream`) under the payload
/// limit the server chose (its first `INFO`'s `max_payload`, any value, clamped as the
/// connection clamps it; else one the seed picks). First four bytes: a seed for the piece
/// sizes; the rest arrives from a server, valid or not. No message may exceed the limit. Fed whole and in
/// seeded pieces, it must give the same operations and the same outcome, and every message's
/// header block must read (or not) the same way. Every message's payload and every `INFO` also
/// go through the readers of JetStream's replies and of the server's `INFO`, and the bytes as
/// text through the readers of the server list, the subject template and durations: none may
/// panic.
#[cfg(feature = "jetstream")]
pub fn nats(data: &[u8]) {
    use crate::nats::{Headers, Parser, PubAck, ServerInfo, ServerOp, api};
    let (seed, body) = seed_of(data);
    // The server chooses the payload limit: the first INFO's max_payload, taken as the
    // connection takes it (audit M1: any value, clamped), else the seed's choice.
    let mut chosen = match seed % 4 {
        0 => usize::MAX,
        1 => (seed >> 2) as usize % 4096,
        2 => 1 << 20,
        _ => crate::nats::MAX_PAYLOAD_CAP + 1,
    };
    let _ = Parser::new(crate::nats::MAX_CONTROL_LINE).feed(body, |op| {
        if let ServerOp::Info(json) = op {
            if let Ok(info) = ServerInfo::parse(json) {
                chosen = info.max_payload.max(1 << 16);
            }
        }
    });
    let run = |sizes: &[usize]| {
        let mut p = Parser::new(crate::nats::MAX_CONTROL_LINE);
        p.set_max_payload(chosen);
        let mut ops = Vec::new();
        let mut at = 0;
        for &n in sizes {
            let end = (at + n).min(body.len());
            let fed = p.feed(&body[at..end], |op| {
                if let ServerOp::Msg {
                    headers, payload, ..
                } = op
                {
                    let size = payload.len() + headers.map_or(0, <[u8]>::len);
                    assert!(size <= chosen.min(crate::nats::MAX_PAYLOAD_CAP));
                    let h = headers.map(Headers::parse);
                    let ack = PubAck::parse(headers, payload);
                    assert!(!(ack.is_delivered() && ack.is_retryable()));
                    let _ = api::stored_msg(api::reply(headers, payload));
                    ops.push(format!("{op:?} {h:?}"));
                } else if let ServerOp::Info(json) = op {
                    let _ = ServerInfo::parse(json);
                    ops.push(format!("{op:?}"));
                } else {
                    ops.push(format!("{op:?}"));
                }
            });
            if let Err(e) = fed {
                return (ops, Err(e));
            }
            at = end;
        }
        (ops, Ok(()))
    };
    let whole = run(&[body.len()]);
    let split = run(&pieces(seed, body.len()));
    assert_eq!(whole, split, "the NATS parser differs by chunking");
    // The same bytes as configuration text: none of the readers may panic.
    if let Ok(text) = std::str::from_utf8(body) {
        let _ = crate::nats::servers::parse_servers(text);
        let _ = crate::nats::SubjectTemplate::parse(text);
        let _ = api::parse_duration_ns(text);
    }
}

/// Target `v2`: every X API v2 parser of outside input on the same bytes, none may panic.
///
/// - A stream line: its shape agrees with serde_json's on objects whose keys are unique (`data`
///   → a record with a key; `errors` without `data` → a system message, no key); an event key
///   names an event kind; a Post or Like key is the `data.id` serde_json reads.
/// - An error body (first byte: which status): a refusal only for 409/429 (or a
///   provisioning issue), and its text.
/// - Rules and Connections API answers: list pages, add/validate/delete answers, kills.
pub fn v2_bodies(data: &[u8]) {
    use crate::protocol::dedupe::RecordKey;
    use crate::protocol::rules::Rule;
    use crate::protocol::v2::{connections, problems, records, rules};
    let shape = records::shape(data);
    let key = records::key_and_time(data);
    let kind = records::kind(data);
    match shape {
        records::Shape::Errors(_) => {
            assert!(key.is_none());
            assert!(matches!(
                kind,
                RecordKind::System(_) | RecordKind::Malformed
            ));
        }
        _ => assert!(key.is_some()),
    }
    if let Some((RecordKey::Event { kind, .. }, _)) = key {
        assert!(records::EVENT_KINDS.contains(&kind));
    }
    if let Ok(serde_json::Value::Object(m)) = serde_json::from_slice::<serde_json::Value>(data) {
        let unique = std::str::from_utf8(data).is_ok_and(|t| {
            // Duplicate keys make serde_json keep the last value while the walk takes the
            // first: only compare on objects without repeats of the keys read here.
            ["\"data\"", "\"errors\"", "\"id\""]
                .iter()
                .all(|k| t.matches(k).count() <= 1)
        });
        if unique {
            match (m.contains_key("data"), m.contains_key("errors")) {
                (true, _) => assert!(matches!(shape, records::Shape::Data(_))),
                (false, true) => assert!(matches!(shape, records::Shape::Errors(_))),
                (false, false) => assert_eq!(shape, records::Shape::Other),
            }
            let id = m
                .get("data")
                .and_then(|d| d.get("id"))
                .and_then(|i| i.as_str());
            match (key, id) {
                (Some((RecordKey::Activity(n), _)), Some(id)) => assert_eq!(n.to_string(), id),
                (Some((RecordKey::Id(k), _)), Some(id)) if !id.contains('\\') => assert_eq!(k, id),
                _ => {}
            }
        }
    }
    let status = 400 + u16::from(data.first().copied().unwrap_or(0) % 200);
    let p = problems::Problem::parse(data);
    let refusal = p.refusal(status, Some(7));
    if refusal.is_some() {
        assert!(status == 409 || status == 429 || p.connection_issue == "ProvisioningSubscription");
    }
    let _ = p.text(status, data);
    let batch = [Rule::new("a", Some("t")), Rule::new("b", None)];
    let _ = rules::parse_list(data);
    let _ = rules::parse_add(data, &batch);
    let _ = rules::parse_validate(data, &batch);
    let _ = rules::parse_delete(data);
    let _ = connections::parse_page(data);
    let _ = connections::parse_kill(data);
}

/// Target `gnip_bodies`: every Gnip-side parser of outside input on the same bytes; none may
/// panic, and each keeps its promise.
///
/// - Rules API answers: list, add (first byte: the status; second: the batch size), delete,
///   validate; an add never accounts for more rules than the batch sent.
/// - A rules file: parsed, checked for duplicates, planned against itself (nothing to do).
/// - An error body and a system message's text.
/// - A Replay completion summary: its missing parts lie within the range asked for.
/// - Record times and Replay dates; the record's key in both dialects gives a message id that
///   is a valid NATS header value (audit M2).
/// - The metrics scrape head: an answer only for a complete head or one over the cap.
pub fn gnip_bodies(data: &[u8]) {
    use crate::protocol::dialect::Dialect;
    use crate::protocol::rules::{self, Rule};
    use crate::protocol::{messages, replay, time};
    let status = if data.first().is_some_and(|b| b % 2 == 0) {
        201
    } else {
        422
    };
    let sent: Vec<Rule> = (0..data.get(1).map_or(0, |b| b % 8))
        .map(|i| Rule::new(&format!("r{i}"), None))
        .collect();
    let listed = rules::parse_list(data);
    // Read a rule at a time (audit M4), a list must say what a whole-document parse says
    // (keys written without escapes; rules of the shape the service writes).
    if let Ok(serde_json::Value::Object(doc)) = serde_json::from_slice(data) {
        let plain = !data.contains(&b'\\');
        let whole: Option<Vec<Rule>> = doc.get("rules").and_then(|l| {
            l.as_array()?
                .iter()
                .map(|r| {
                    let r = r.as_object()?;
                    let flat = r.len() <= 8 && r.values().all(|v| !v.is_array() && !v.is_object());
                    flat.then_some(())?;
                    let tag = match r.get("tag") {
                        Some(serde_json::Value::String(t)) => Some(t.as_str()),
                        _ => None,
                    };
                    let mut rule = Rule::new(r.get("value")?.as_str()?, tag);
                    rule.id = match r.get("id") {
                        Some(serde_json::Value::Number(n)) => n.as_u64(),
                        Some(serde_json::Value::String(s)) => s.parse().ok(),
                        _ => None,
                    };
                    Some(rule)
                })
                .collect()
        });
        if let (true, Some(whole)) = (plain, whole) {
            assert_eq!(
                listed.as_ref().ok(),
                Some(&whole),
                "walked and whole differ"
            );
        }
    }
    if let Ok(out) = rules::parse_add(status, data, &sent) {
        let accounted = out.created.len() + out.already_present.len() + out.rejected.len();
        assert!(
            accounted <= sent.len(),
            "an add accounts for {accounted} rules of a batch of {}",
            sent.len()
        );
    }
    let _ = rules::parse_delete(data);
    let _ = rules::parse_validate(data);
    if let Ok(wanted) = rules::parse_rules_file(data) {
        if let Ok(unique) = rules::check_unique(&wanted) {
            let plan = rules::sync_plan(&unique, &unique);
            assert!(
                plan.is_empty(),
                "a list planned against itself changes nothing"
            );
        }
    }
    let _ = messages::error_message(data);
    let text = String::from_utf8_lossy(data);
    let _ = messages::meaning(Level::Info, &text);
    let range = (0, 86_400);
    let summary = replay::ReplaySummary::parse(data, &text);
    for (a, b) in summary.missing(range) {
        assert!(
            range.0 <= a && a < b && b <= range.1,
            "{a}..{b} outside the range"
        );
    }
    let _ = replay::record_time(data);
    let _ = time::parse_timestamp(&text);
    let _ = time::parse_replay_date(&text);
    for dialect in [Dialect::Gnip, Dialect::V2] {
        if let Some(key) = dialect.record_key(&crate::core::Record::new(data)) {
            let id = key.message_id();
            assert!(!id.chars().any(char::is_control), "message id {id:?}");
        }
    }
    if let Some(r) = crate::metrics::scrape::parse_head(data) {
        let complete =
            data.windows(4).any(|w| w == b"\r\n\r\n") || data.windows(2).any(|w| w == b"\n\n");
        assert!(
            complete || data.len() >= crate::metrics::scrape::MAX_REQUEST_HEAD,
            "{r:?}"
        );
    }
}

/// Target `urls`: how this crate reads a URL against how ureq's `http::Uri` does
/// (differential; audit M7 was a disagreement on the host). Whatever both parse, the host our
/// transport guard checks is the host ureq would connect to, and a URL with userinfo is refused
/// before any credentials could go with it.
#[cfg(feature = "client")]
pub fn urls(data: &[u8]) {
    use crate::protocol::endpoint::{UrlParts, check_transport};
    let Ok(url) = std::str::from_utf8(data) else {
        return;
    };
    let ours = UrlParts::split(url);
    let guard = check_transport(url, true);
    if let Some(p) = ours {
        if p.authority.contains('@') {
            assert!(guard.is_err(), "userinfo accepted: {url:?}");
        }
    }
    let (Some(p), Ok(uri)) = (ours, url.parse::<ureq::http::Uri>()) else {
        return;
    };
    if guard.is_ok() {
        if let Some(theirs) = uri.host() {
            let theirs = theirs
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(theirs);
            assert_eq!(
                p.host().to_ascii_lowercase(),
                theirs.to_ascii_lowercase(),
                "the guard checked another host than ureq's: {url:?}"
            );
        }
    }
}

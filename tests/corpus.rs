//! The real payloads in `shared/corpus`: split invariance of the whole decode path against the
//! naive oracle, and the class and id of every record, written out by file.

mod common;

use common::*;
use gnip_stream::core::{
    ComplianceKind as C, DEFAULT_MAX_RECORD, Level, LineSplitter, RecordKind, classify, record_id,
};
use gnip_stream::testing::oracle::{Owned, naive_lines};

#[test]
fn every_corpus_file_decodes_whole_and_bytewise_like_the_oracle() {
    let Some(files) = corpus_or_skip("corpus split invariance") else {
        return;
    };
    for f in &files {
        // Heartbeats before, between and after the records, a flush after every record.
        let plain = frame(&f.records);
        let mut pieces: Vec<&[u8]> = vec![b"\r\n"];
        let mut at = 0;
        for r in &f.records {
            pieces.push(&plain[at..at + r.len() + 2]);
            at += r.len() + 2;
            pieces.push(b"\r\n");
        }
        let stream: Vec<u8> = pieces.concat();
        let wire = gzip_flushed(pieces.iter().copied(), true);
        let oracle = naive_lines(&stream, DEFAULT_MAX_RECORD);
        assert_eq!(records(&oracle), f.records, "{}: oracle sanity", f.name);
        assert_eq!(
            decode_whole(&wire),
            (oracle.clone(), Ok(())),
            "{}: whole",
            f.name
        );
        assert_eq!(
            decode_bytewise(&wire),
            (oracle, Ok(())),
            "{}: byte by byte",
            f.name
        );
    }
}

#[test]
fn every_corpus_record_survives_a_cut_at_every_compressed_offset() {
    let Some(files) = corpus_or_skip("corpus compressed splits") else {
        return;
    };
    let mut cuts = 0usize;
    for f in &files {
        for (i, r) in f.records.iter().enumerate() {
            let plain = frame(std::slice::from_ref(r));
            let wire = gzip_flushed([&plain[..]], false);
            let oracle = naive_lines(&plain, DEFAULT_MAX_RECORD);
            for cut in 0..=wire.len() {
                let (events, end) = decode(&wire, &two_pieces(wire.len(), cut));
                assert_eq!(events, oracle, "{} record {i}, cut {cut}", f.name);
                // A live stream never sends its trailer: ending here is a truncation.
                assert_eq!(end, Err(gnip_stream::Error::Truncated));
                cuts += 1;
            }
        }
    }
    assert!(cuts > 100_000, "{cuts}");
}

#[test]
fn every_corpus_record_survives_a_cut_at_every_inflated_offset() {
    // Cuts inside `\r\n` and inside multi-byte UTF-8 sequences happen here: the splitter sees
    // the inflated bytes cut at every position.
    let Some(files) = corpus_or_skip("corpus inflated splits") else {
        return;
    };
    let mut multibyte_cuts = 0usize;
    for f in &files {
        for (i, r) in f.records.iter().enumerate() {
            let mut plain = b"\r\n".to_vec();
            plain.extend_from_slice(&frame(std::slice::from_ref(r)));
            plain.extend_from_slice(b"\n");
            let oracle = naive_lines(&plain, DEFAULT_MAX_RECORD);
            for cut in 0..=plain.len() {
                let mut s = LineSplitter::new(DEFAULT_MAX_RECORD);
                let mut got = Vec::new();
                s.push(&plain[..cut], |l| got.push(line(l)));
                s.push(&plain[cut..], |l| got.push(line(l)));
                assert_eq!(s.finish(), None);
                assert_eq!(got, oracle, "{} record {i}, cut {cut}", f.name);
                if plain.get(cut).is_some_and(|b| (0x80..0xC0).contains(b)) {
                    multibyte_cuts += 1;
                }
            }
        }
    }
    assert!(
        multibyte_cuts > 1000,
        "the corpus has non-ASCII text: {multibyte_cuts}"
    );
}

fn line(l: gnip_stream::core::Line<'_>) -> Owned {
    match l {
        gnip_stream::core::Line::Record(r) => Owned::Record(r.to_vec()),
        gnip_stream::core::Line::Heartbeat => Owned::Heartbeat,
        gnip_stream::core::Line::Overlong { len } => Owned::Overlong(len),
    }
}

fn file<'a>(files: &'a [common::CorpusFile], name: &str) -> &'a [Vec<u8>] {
    &files
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .records
}

/// The id by a full parse: native `id_str`, else the tail of the Activity Streams `id` URN.
fn serde_id(record: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(record).unwrap();
    if let Some(s) = v.get("id_str").and_then(|s| s.as_str()) {
        return s.to_owned();
    }
    let urn = v["id"].as_str().unwrap();
    urn.rsplit(':').next().unwrap().to_owned()
}

#[test]
fn activities_in_both_formats_are_activities_with_exact_ids() {
    let Some(files) = corpus_or_skip("corpus activities") else {
        return;
    };
    let mut above_2_53 = 0;
    for name in ["original_format.ndjson", "activity_streams.ndjson"] {
        let recs = file(&files, name);
        assert_eq!(
            recs.len(),
            if name.starts_with("original") {
                50
            } else {
                197
            }
        );
        for (i, r) in recs.iter().enumerate() {
            assert_eq!(classify(r), RecordKind::Activity, "{name} line {}", i + 1);
            let want = serde_id(r);
            assert_eq!(record_id(r), Some(want.as_str()), "{name} line {}", i + 1);
            if want.parse::<u64>().unwrap() > 1 << 53 {
                above_2_53 += 1;
            }
        }
    }
    assert!(above_2_53 > 100, "{above_2_53}");
}

#[test]
fn compliance_events_have_their_kind_and_id() {
    let Some(files) = corpus_or_skip("corpus compliance") else {
        return;
    };
    let expected: [(C, &str); 26] = [
        // Activity Streams (`verb`)
        (C::Delete, "601140908713738240"),
        (C::ScrubGeo, "598851423"),
        (C::StatusWithheld, "425794620677554176"),
        (C::UserDelete, "1602954684"),
        (C::UserUndelete, "930913333"),
        (C::UserProtect, "930913333"),
        (C::UserUnprotect, "930913333"),
        (C::UserSuspend, "930913333"),
        (C::UserUnsuspend, "930913333"),
        (C::UserWithheld, "1375036644"),
        // native (one top-level key)
        (C::Delete, "1234"),
        (C::ScrubGeo, "14090452"),
        (C::Delete, "6832057002"),
        (C::TweetEdit, "1557445923210514432"),
        (C::Delete, "601430178305220608"),
        (C::StatusWithheld, "601430178305220608"),
        (C::Drop, "601430178305220600"),
        (C::Undrop, "601430178305220600"),
        (C::ScrubGeo, "519761961"),
        (C::UserDelete, "771136850"),
        (C::UserUndelete, "796250066"),
        (C::UserWithheld, "1375036644"),
        (C::UserProtect, "3182003550"),
        (C::UserUnprotect, "2911076065"),
        (C::UserSuspend, "3120539094"),
        (C::UserUnsuspend, "3293130873"),
    ];
    let recs = file(&files, "compliance.ndjson");
    assert_eq!(recs.len(), expected.len());
    for (i, (r, (kind, id))) in recs.iter().zip(expected).enumerate() {
        assert_eq!(classify(r), RecordKind::Compliance(kind), "line {}", i + 1);
        assert_eq!(record_id(r), Some(id), "line {}", i + 1);
    }
}

#[test]
fn system_messages_have_their_level_and_text() {
    let Some(files) = corpus_or_skip("corpus system messages") else {
        return;
    };
    let forced = "Forced Disconnect: Too many connections. (Allowed Connections = 2)";
    let expected: [(Level, &str); 9] = [
        (Level::Error, forced),
        (Level::Info, "Some info from Gnip.\n\n"),
        (Level::Warn, "Some warning from Gnip.\n\n"),
        (Level::Error, forced),
        (
            Level::Error,
            "Invalid date format for query parameter 'fromDate'. Expected format is 'yyyyMMddHHmm'. \
             For example, '201701012315' for January 1st, 11:15 pm 2017 UTC.\n\n",
        ),
        (
            Level::Error,
            "Force closing connection to because it reached the maximum allowed backup (buffer size is ).",
        ),
        (Level::Info, "Replay Request Completed"),
        (Level::Info, "Replay Request Completed with Errors"),
        (Level::Info, "Replay Request Failed to Complete"),
    ];
    let recs = file(&files, "system_messages.ndjson");
    assert_eq!(recs.len(), expected.len());
    for (i, (r, (level, text))) in recs.iter().zip(expected).enumerate() {
        let RecordKind::System(m) = classify(r) else {
            panic!("line {}: {:?}", i + 1, classify(r));
        };
        assert_eq!(
            (m.level(), m.message().as_ref()),
            (level, text),
            "line {}",
            i + 1
        );
        assert_eq!(record_id(r), None);
    }
}

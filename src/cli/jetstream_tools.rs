//! `gnip-stream jetstream-init` (the stream and the lease bucket) and `gnip-stream publish`
//! (NDJSON from a file or stdin into JetStream), feature `jetstream`.

use std::io::{BufRead, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use gnip_stream::core::{Record, RecordKind};
use gnip_stream::sink::jetstream::{
    Ensured, Message, NatsConnection, PublishStats, Publisher, PublisherConfig, bucket_spec,
    ensure_stream,
};
use gnip_stream::unversioned::nats::api::{StreamSpec, parse_duration_ns};

use super::args::{Args, Usage, usage};
use super::flags::{self, Flag, Parsed};
use super::jetstream_args::REFUSED;
use super::jetstream_args::{self, JetStreamArgs};
use super::jetstream_delivery::{Delivering, fail};
use super::signal;
use super::stderr;
use super::supervise::within_signal;
use super::{Command, FATAL, OK, USAGE};

/// `jetstream-init`'s arguments.
#[derive(Debug, Clone)]
pub struct InitArgs {
    pub urls: String,
    pub ca_file: Option<PathBuf>,
    pub allow_plaintext: bool,
    pub stream: String,
    pub subjects: String,
    pub replicas: u32,
    pub duplicate_window_ns: u64,
    pub lease: Option<(String, Duration)>,
}

/// `publish`'s arguments.
#[derive(Debug, Clone)]
pub struct PublishArgs {
    pub urls: String,
    pub ca_file: Option<PathBuf>,
    pub allow_plaintext: bool,
    pub subject: String,
    pub file: Option<PathBuf>,
    pub window: usize,
    pub ack_timeout: Duration,
    pub drain_timeout: Duration,
}

/// `jetstream-init` or `publish`.
#[derive(Debug, Clone)]
pub enum JsCommand {
    Init(InitArgs),
    Publish(PublishArgs),
}

/// What the flags of `jetstream-init` and `publish` gather.
pub struct Raw {
    /// The options `stream --jetstream` has too (their flags are declared there).
    js: JetStreamArgs,
    stream: Option<String>,
    subjects: Option<String>,
    subject: Option<String>,
    file: Option<PathBuf>,
    replicas: u32,
    window_ns: u64,
    bucket: Option<String>,
    ttl: Option<Duration>,
}

/// Replicas of a stream `jetstream-init` creates, and its duplicate window, unless told.
const DEFAULT_REPLICAS: u32 = 3;
const DEFAULT_DUPLICATE_WINDOW_NS: u64 = 600_000_000_000;

const INIT: &[&str] = &["jetstream-init"];
const PUBLISH: &[&str] = &["publish"];

/// The flags of `jetstream-init` and `publish` (`only` says whose), in `--help`'s order.
pub const FLAGS: &[Flag<Raw>] = &[
    Flag {
        name: "--stream",
        value: Some("NAME"),
        default: None,
        help: "the stream to create",
        only: INIT,
        set: |r, it, f| {
            r.stream = Some(it.value(f)?.to_owned());
            Ok(())
        },
    },
    Flag {
        name: "--subjects",
        value: Some("PATTERN"),
        default: None,
        help: "e.g. gnip.> (the default subjects are gnip.{product}.{partition})",
        only: INIT,
        set: |r, it, f| {
            r.subjects = Some(it.value(f)?.to_owned());
            Ok(())
        },
    },
    Flag {
        name: "--replicas",
        value: Some("N"),
        default: Some(|| DEFAULT_REPLICAS.to_string()),
        help: "1..5",
        only: INIT,
        set: |r, it, f| {
            r.replicas = it.number_in(f, 1..=5)?;
            Ok(())
        },
    },
    Flag {
        name: "--duplicate-window",
        value: Some("D"),
        default: Some(|| format!("{}m", DEFAULT_DUPLICATE_WINDOW_NS / 60_000_000_000)),
        help: "messages with the same Nats-Msg-Id within D are stored once (90s, 10m, 2h)",
        only: INIT,
        set: |r, it, f| {
            let v = it.value(f)?;
            r.window_ns = parse_duration_ns(v).ok_or_else(|| {
                usage(
                    it.command(),
                    format!("--duplicate-window: '{v}' is not a duration (90s, 10m, 2h)"),
                )
            })?;
            Ok(())
        },
    },
    Flag {
        name: "--lease-bucket",
        value: Some("B"),
        default: None,
        help: "also a key-value bucket for leases: stream KV_B, subjects $KV.B.>, one message per key",
        only: INIT,
        set: |r, it, f| {
            r.bucket = Some(it.value(f)?.to_owned());
            Ok(())
        },
    },
    Flag {
        name: "--lease-ttl",
        value: Some("SECS"),
        default: None,
        help: "with --lease-bucket: keys age out after SECS",
        only: INIT,
        set: |r, it, f| {
            r.ttl = Some(it.seconds(f, false)?);
            Ok(())
        },
    },
    Flag {
        name: "--subject",
        value: Some("S"),
        default: None,
        help: "the subject to publish to",
        only: PUBLISH,
        set: |r, it, f| {
            r.subject = Some(it.value(f)?.to_owned());
            Ok(())
        },
    },
    Flag {
        name: "--file",
        value: Some("F"),
        default: None,
        help: "NDJSON records (default: stdin)",
        only: PUBLISH,
        set: |r, it, f| {
            r.file = Some(PathBuf::from(it.value(f)?));
            Ok(())
        },
    },
];

/// Parses `jetstream-init` or `publish`.
pub fn parse(command: &'static str, args: &[String]) -> Result<Command, Usage> {
    let mut raw = Raw {
        js: JetStreamArgs::default(),
        stream: None,
        subjects: None,
        subject: None,
        file: None,
        replicas: DEFAULT_REPLICAS,
        window_ns: DEFAULT_DUPLICATE_WINDOW_NS,
        bucket: None,
        ttl: None,
    };
    let mut it = Args::new(command, args);
    let shared: flags::Part<Raw, JetStreamArgs> = (jetstream_args::FLAGS, |r| &mut r.js);
    if let Parsed::Help = flags::read(&mut it, command, FLAGS, &mut raw, &[&shared], false)? {
        return Ok(Command::Help(command));
    }
    let init = command == "jetstream-init";
    let Raw {
        js,
        stream,
        subjects,
        subject,
        file,
        replicas,
        window_ns,
        bucket,
        ttl,
    } = raw;
    let JetStreamArgs {
        urls,
        ca_file,
        allow_plaintext,
        window,
        ack_timeout,
        drain_timeout,
        ..
    } = js;
    let urls = urls.ok_or_else(|| usage(command, "--jetstream URLS is required"))?;
    if init {
        let stream = stream.ok_or_else(|| usage(command, "--stream NAME is required"))?;
        let subjects = subjects.ok_or_else(|| usage(command, "--subjects PATTERN is required"))?;
        let lease = match (bucket, ttl) {
            (Some(b), Some(t)) => Some((b, t)),
            (None, None) => None,
            _ => {
                return Err(usage(command, "--lease-bucket and --lease-ttl go together"));
            }
        };
        Ok(Command::JetStream(JsCommand::Init(InitArgs {
            urls,
            ca_file,
            allow_plaintext,
            stream,
            subjects,
            replicas,
            duplicate_window_ns: window_ns,
            lease,
        })))
    } else {
        let subject = subject.ok_or_else(|| usage(command, "--subject S is required"))?;
        gnip_stream::unversioned::nats::encode::check_subject(&subject)
            .map_err(|e| usage(command, format!("--subject: {e}")))?;
        Ok(Command::JetStream(JsCommand::Publish(PublishArgs {
            urls,
            ca_file,
            allow_plaintext,
            subject,
            file,
            window,
            ack_timeout,
            drain_timeout,
        })))
    }
}

/// Runs `jetstream-init` or `publish`.
/// A signal stops either within 2 s (supervise::within_signal). `jetstream-init` cut short
/// exits 128 + the signal's number. For `publish` a signal is its normal end, as for `stream`:
/// it stops reading, waits at most 1 s for the last acks, and exits 0 when every record it took
/// was acknowledged, else 7 (also when it was cut short, e.g. blocked on a full queue).
pub fn run(c: JsCommand) -> u8 {
    match c {
        JsCommand::Init(a) => {
            let done = within_signal(move || init(&a), || {});
            match done {
                Some(code) if !signal::received() => code,
                _ => {
                    eprintln!("gnip-stream: jetstream-init stopped by a signal");
                    signal::interrupted_status()
                }
            }
        }
        JsCommand::Publish(a) => {
            let stop = Arc::new(AtomicBool::new(false));
            let stats: Arc<OnceLock<PublishStats>> = Arc::default();
            let (st, s) = (Arc::clone(&stop), Arc::clone(&stats));
            let done = within_signal(
                move || publish(&a, &st, &s),
                move || stop.store(true, Ordering::SeqCst),
            );
            match (done, stats.get()) {
                (Some(code), _) => code,
                (None, Some(stats)) => {
                    // Cut short (reading an idle input, or waiting on a full queue).
                    let p = stats.snapshot();
                    let unacknowledged = p.taken.saturating_sub(p.delivered);
                    eprintln!(
                        "gnip-stream: publish stopped by a signal: {} records taken, {} acknowledged, {unacknowledged} not acknowledged",
                        p.taken, p.delivered
                    );
                    if unacknowledged == 0 { OK } else { REFUSED }
                }
                (None, None) => {
                    eprintln!("gnip-stream: publish stopped by a signal before NATS answered");
                    signal::interrupted_status()
                }
            }
        }
    }
}

/// The longest `publish` input line: what a NATS server can take at most
/// ([`MAX_PAYLOAD_CAP`](gnip_stream::unversioned::nats::MAX_PAYLOAD_CAP)).
const MAX_LINE: u64 = gnip_stream::unversioned::nats::MAX_PAYLOAD_CAP as u64;

/// How long `publish` waits for the last acks after a signal.
const DRAIN_AFTER_SIGNAL: Duration = Duration::from_secs(1);

fn init(a: &InitArgs) -> u8 {
    let InitArgs {
        stream,
        subjects,
        replicas,
        duplicate_window_ns,
        ..
    } = a;
    let (replicas, duplicate_window_ns) = (*replicas, *duplicate_window_ns);
    let mut conn = match jetstream_args::nats_options(&a.urls, &a.ca_file, a.allow_plaintext)
        .and_then(|o| NatsConnection::connect(&o, 0))
    {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let patience = Duration::from_secs(10);
    let spec = StreamSpec::records(stream, subjects, replicas, duplicate_window_ns);
    let what = |e: Ensured| match e {
        Ensured::Created => "created",
        Ensured::Existed => "exists",
    };
    match ensure_stream(&mut conn, &spec, patience) {
        Ok(e) => println!(
            "stream {stream}: {} (subjects {subjects}, replicas {replicas}, duplicate window {} s)",
            what(e),
            duplicate_window_ns / 1_000_000_000
        ),
        Err(e) => return fail(&e),
    }
    if let Some((bucket, ttl)) = &a.lease {
        let spec = match bucket_spec(bucket, *ttl, replicas) {
            Ok(s) => s,
            Err(e) => return fail(&e),
        };
        match ensure_stream(&mut conn, &spec, patience) {
            Ok(e) => println!(
                "lease bucket {bucket}: {} (stream {}, ttl {} s, replicas {replicas})",
                what(e),
                spec.name,
                ttl.as_secs_f64()
            ),
            Err(e) => return fail(&e),
        }
    }
    OK
}

fn publish(a: &PublishArgs, stop: &AtomicBool, stats: &OnceLock<PublishStats>) -> u8 {
    let input: Box<dyn BufRead> = match &a.file {
        Some(path) => match std::fs::File::open(path) {
            Ok(f) => Box::new(std::io::BufReader::new(f)),
            Err(e) => {
                eprintln!("gnip-stream: --file {}: {e}", path.display());
                return USAGE;
            }
        },
        None => Box::new(std::io::BufReader::new(std::io::stdin())),
    };
    let o = match jetstream_args::nats_options(&a.urls, &a.ca_file, a.allow_plaintext) {
        Ok(o) => o,
        Err(e) => return fail(&e),
    };
    let mut pc = PublisherConfig::new(o);
    pc.window = a.window;
    pc.ack_timeout = a.ack_timeout;
    let publisher = match Publisher::start(pc, std::slice::from_ref(&a.subject)) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let _ = stats.set(publisher.stats());
    let Some(queue) = publisher.queue() else {
        return FATAL;
    };
    let subject: Arc<str> = a.subject.as_str().into();
    let (mut skipped_system, mut malformed, mut oversized) = (0u64, 0u64, 0u64);
    let mut input = input;
    let mut line = Vec::new();
    let mut n = 0u64;
    let mut read_error = None;
    loop {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        line.clear();
        // A line is read up to the most a NATS server can take (audit L8: lines of any length
        // were read whole); the rest of a longer one is passed over, and it is not published.
        match Read::take(&mut *input, MAX_LINE + 1).read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                read_error = Some(e);
                break;
            }
        }
        n += 1;
        if line.len() as u64 > MAX_LINE {
            let mut rest = line.len() as u64;
            let passed = loop {
                line.clear();
                match Read::take(&mut *input, 64 * 1024).read_until(b'\n', &mut line) {
                    Ok(0) => break Ok(()),
                    Ok(k) => rest += k as u64,
                    Err(e) => break Err(e),
                }
                if line.ends_with(b"\n") {
                    rest -= 1; // the line's end is not part of it
                    break Ok(());
                }
            };
            oversized += 1;
            stderr::event("warn", "record_skipped")
                .field("line", n)
                .field("bytes", rest)
                .emit(&format!(
                    "gnip-stream: line {n}: over {MAX_LINE} bytes ({rest}): not published"
                ));
            if let Err(e) = passed {
                read_error = Some(e);
                break;
            }
            continue;
        }
        let bytes = line
            .strip_suffix(b"\n")
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .unwrap_or(&line);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let record = Record::new(bytes);
        match record.kind() {
            RecordKind::Activity | RecordKind::Compliance(_) => {}
            RecordKind::System(_) => {
                skipped_system += 1;
                continue;
            }
            _ => {
                malformed += 1;
                stderr::event("warn", "malformed_line")
                    .field("line", n)
                    .emit(&format!(
                        "gnip-stream: line {n}: not a record (not a JSON object with an id): not published"
                    ));
                continue;
            }
        }
        if let Some(m) = Message::of_record(&subject, &record) {
            if let Err(size) = queue.fits(&m) {
                // No server takes it; the rest goes on (audit M2).
                oversized += 1;
                stderr::event("warn", "record_skipped")
                    .field("line", n)
                    .field("id", m.id.clone())
                    .field("bytes", size)
                    .emit(&format!(
                        "gnip-stream: line {n}: record {} is {size} bytes with its headers, over the server's max_payload: not published",
                        m.id
                    ));
                continue;
            }
            if queue.send(m).is_err() {
                break;
            }
        }
    }
    drop(queue);
    let code = if let Some(e) = read_error {
        eprintln!("gnip-stream: reading the input: {e}");
        FATAL
    } else {
        OK
    };
    if (skipped_system, malformed, oversized) != (0, 0, 0) {
        eprintln!(
            "gnip-stream: not published: {skipped_system} system messages, {malformed} malformed lines, {oversized} over max_payload"
        );
    }
    let drain = if stop.load(Ordering::SeqCst) {
        a.drain_timeout.min(DRAIN_AFTER_SIGNAL)
    } else {
        a.drain_timeout
    };
    Delivering::new(publisher).finish(drain, code)
}

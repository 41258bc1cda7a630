//! `gnip-stream jetstream-init` (the stream and the lease bucket) and `gnip-stream publish`
//! (NDJSON from a file or stdin into JetStream), feature `jetstream`.

use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use gnip_stream::Error;
use gnip_stream::core::{Record, RecordKind};
use gnip_stream::sink::jetstream::{
    DEFAULT_ACK_TIMEOUT, DEFAULT_DRAIN_TIMEOUT, Ensured, Message, NatsConnection, NatsOptions,
    Publisher, PublisherConfig, bucket_spec, ensure_stream,
};
use gnip_stream::unversioned::nats::DEFAULT_PUBLISH_WINDOW;
use gnip_stream::unversioned::nats::api::{StreamSpec, parse_duration_ns};

use super::args::{Arg, Args, Usage, usage};
use super::jetstream_delivery::{Delivering, fail};
use super::stderr;
use super::{Command, FATAL, OK, USAGE};

/// `jetstream-init`'s arguments.
#[derive(Debug, Clone)]
pub struct InitArgs {
    pub urls: String,
    pub ca_file: Option<PathBuf>,
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

/// Parses `jetstream-init` or `publish`.
pub fn parse(command: &'static str, args: &[String]) -> Result<Command, Usage> {
    let mut it = Args::new(command, args);
    let (mut urls, mut ca_file, mut stream, mut subjects, mut subject, mut file) =
        (None, None, None, None, None, None);
    let (mut replicas, mut window_ns) = (3u32, 600_000_000_000u64);
    let (mut bucket, mut ttl) = (None, None);
    let mut window = DEFAULT_PUBLISH_WINDOW;
    let (mut ack_timeout, mut drain_timeout) = (DEFAULT_ACK_TIMEOUT, DEFAULT_DRAIN_TIMEOUT);
    let init = command == "jetstream-init";
    while let Some(arg) = it.next()? {
        let Arg::Flag(f) = arg else {
            return Err(it.unknown(arg));
        };
        match f {
            "-h" | "--help" => return Ok(Command::Help(command)),
            "--jetstream" => urls = Some(it.value(f)?.to_owned()),
            "--nats-ca-file" => ca_file = Some(PathBuf::from(it.value(f)?)),
            "--stream" if init => stream = Some(it.value(f)?.to_owned()),
            "--subjects" if init => subjects = Some(it.value(f)?.to_owned()),
            "--replicas" if init => replicas = it.number_in(f, 1..=5)?,
            "--duplicate-window" if init => {
                let v = it.value(f)?;
                window_ns = parse_duration_ns(v).ok_or_else(|| {
                    usage(
                        command,
                        format!("--duplicate-window: '{v}' is not a duration (90s, 10m, 2h)"),
                    )
                })?;
            }
            "--lease-bucket" if init => bucket = Some(it.value(f)?.to_owned()),
            "--lease-ttl" if init => ttl = Some(it.seconds(f, false)?),
            "--subject" if !init => subject = Some(it.value(f)?.to_owned()),
            "--file" if !init => file = Some(PathBuf::from(it.value(f)?)),
            "--publish-window" if !init => window = it.number_in(f, 1..=1_000_000)?,
            "--ack-timeout" if !init => ack_timeout = it.seconds(f, false)?,
            "--drain-timeout" if !init => drain_timeout = it.seconds(f, true)?,
            _ => return Err(it.unknown(arg)),
        }
    }
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
            subject,
            file,
            window,
            ack_timeout,
            drain_timeout,
        })))
    }
}

/// Runs `jetstream-init` or `publish`.
pub fn run(c: JsCommand) -> u8 {
    match c {
        JsCommand::Init(a) => init(&a),
        JsCommand::Publish(a) => publish(&a),
    }
}

fn options(urls: &str, ca_file: &Option<PathBuf>) -> Result<NatsOptions, Error> {
    let mut o = NatsOptions::from_env(urls)?;
    o.ca_file = ca_file.clone();
    Ok(o)
}

fn init(a: &InitArgs) -> u8 {
    let InitArgs {
        stream,
        subjects,
        replicas,
        duplicate_window_ns,
        ..
    } = a;
    let (replicas, duplicate_window_ns) = (*replicas, *duplicate_window_ns);
    let mut conn = match options(&a.urls, &a.ca_file).and_then(|o| NatsConnection::connect(&o, 0)) {
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

fn publish(a: &PublishArgs) -> u8 {
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
    let o = match options(&a.urls, &a.ca_file) {
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
    let Some(queue) = publisher.queue() else {
        return FATAL;
    };
    let subject: Arc<str> = a.subject.as_str().into();
    let (mut skipped_system, mut malformed) = (0u64, 0u64);
    let mut input = input;
    let mut line = Vec::new();
    let mut n = 0u64;
    let mut read_error = None;
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                read_error = Some(e);
                break;
            }
        }
        n += 1;
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
    if (skipped_system, malformed) != (0, 0) {
        eprintln!(
            "gnip-stream: not published: {skipped_system} system messages, {malformed} malformed lines"
        );
    }
    Delivering::new(publisher).finish(a.drain_timeout, code)
}

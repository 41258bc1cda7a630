//! `stream`'s JetStream options (feature `jetstream`): the flags, their defaults and the
//! combinations refused, and the exit status 7.

use std::path::PathBuf;
use std::time::Duration;

use gnip_stream::Error;
use gnip_stream::sink::jetstream::{
    DEFAULT_ACK_TIMEOUT, DEFAULT_DRAIN_TIMEOUT, DEFAULT_QUEUE, DEFAULT_QUEUE_BYTES, MAX_QUEUE,
    MAX_QUEUE_BYTES, NatsOptions,
};
use gnip_stream::unversioned::nats::lease::{DEFAULT_HOSTS_PER_PARTITION, DEFAULT_LEASE_TTL_MS};
use gnip_stream::unversioned::nats::servers::DEFAULT_SUBJECT;
use gnip_stream::unversioned::nats::{DEFAULT_PUBLISH_WINDOW, SubjectTemplate};

use super::args::{Usage, usage};
use super::flags::{Flag, secs};

/// JetStream refused (no stream captures the subject, permission, payload too large), or
/// records were left unacknowledged at stop.
pub const REFUSED: u8 = 7;

/// `stream`'s JetStream options.
#[derive(Debug, Clone)]
pub struct JetStreamArgs {
    pub urls: Option<String>,
    pub subject: String,
    pub ca_file: Option<PathBuf>,
    pub window: usize,
    pub ack_timeout: Duration,
    pub queue: usize,
    /// `--queue-bytes`: the queue's bound in bytes.
    pub queue_bytes: usize,
    pub drain_timeout: Duration,
    pub leases: Option<String>,
    pub host_id: Option<String>,
    pub lease_ttl: Duration,
    pub hosts_per_partition: u8,
    /// `--state FILE`: per partition, the latest record time acknowledged.
    pub state: Option<PathBuf>,
    /// `--nats-allow-plaintext`: NATS credentials over `nats://` off loopback (warned).
    pub allow_plaintext: bool,
}

impl Default for JetStreamArgs {
    fn default() -> Self {
        JetStreamArgs {
            urls: None,
            subject: DEFAULT_SUBJECT.into(),
            ca_file: None,
            window: DEFAULT_PUBLISH_WINDOW,
            ack_timeout: DEFAULT_ACK_TIMEOUT,
            queue: DEFAULT_QUEUE,
            queue_bytes: DEFAULT_QUEUE_BYTES,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            leases: None,
            host_id: None,
            lease_ttl: Duration::from_millis(DEFAULT_LEASE_TTL_MS),
            hosts_per_partition: DEFAULT_HOSTS_PER_PARTITION,
            state: None,
            allow_plaintext: false,
        }
    }
}

/// `stream`'s JetStream flags, in the order `--help` shows them.
pub const FLAGS: &[Flag<JetStreamArgs>] = &[
    Flag {
        name: "--jetstream",
        value: Some("URLS"),
        default: None,
        help: "comma-separated nats://host:port or tls://host:port, tried in turn; credentials from NATS_USER/NATS_PASSWORD or NATS_TOKEN",
        only: TOOLS,
        set: |j, it, f| {
            j.urls = Some(it.value(f)?.to_owned());
            Ok(())
        },
    },
    Flag {
        name: "--subject",
        value: Some("TEMPLATE"),
        default: Some(|| DEFAULT_SUBJECT.to_owned()),
        help: "the subject of each partition's records (partition 0 for PowerTrack)",
        only: STREAM,
        set: |j, it, f| {
            j.subject = it.value(f)?.to_owned();
            Ok(())
        },
    },
    Flag {
        name: "--nats-ca-file",
        value: Some("PEM"),
        default: None,
        help: "roots for tls:// (default: the system's CA bundle)",
        only: TOOLS,
        set: |j, it, f| {
            j.ca_file = Some(PathBuf::from(it.value(f)?));
            Ok(())
        },
    },
    Flag {
        name: "--nats-allow-plaintext",
        value: None,
        default: None,
        help: "send NATS credentials over nats:// to a server off loopback (refused otherwise: use tls://); warns",
        only: TOOLS,
        set: |j, _, _| {
            j.allow_plaintext = true;
            Ok(())
        },
    },
    Flag {
        name: "--publish-window",
        value: Some("N"),
        default: Some(|| DEFAULT_PUBLISH_WINDOW.to_string()),
        help: "unacknowledged publishes at most",
        only: PUBLISHERS,
        set: |j, it, f| {
            j.window = it.number_in(f, 1..=1_000_000)?;
            Ok(())
        },
    },
    Flag {
        name: "--ack-timeout",
        value: Some("SECS"),
        default: Some(|| secs(DEFAULT_ACK_TIMEOUT)),
        help: "no ack within SECS: publish again, same Nats-Msg-Id",
        only: PUBLISHERS,
        set: |j, it, f| {
            j.ack_timeout = it.seconds(f, false)?;
            Ok(())
        },
    },
    Flag {
        name: "--queue",
        value: Some("N"),
        default: Some(|| DEFAULT_QUEUE.to_string()),
        help: "records queued for the publisher (at most 1000000); full: the stream waits",
        only: STREAM,
        set: |j, it, f| {
            j.queue = it.number_in(f, 1..=MAX_QUEUE)?;
            Ok(())
        },
    },
    Flag {
        name: "--queue-bytes",
        value: Some("BYTES"),
        default: Some(|| "64M".to_string()),
        help: "bytes of records queued for the publisher, 64k..1G (k, M, G); full: the stream waits",
        only: STREAM,
        set: |j, it, f| {
            let b = it.bytes_in(f, 64 << 10, MAX_QUEUE_BYTES as u64)?;
            j.queue_bytes = usize::try_from(b).unwrap_or(MAX_QUEUE_BYTES);
            Ok(())
        },
    },
    Flag {
        name: "--drain-timeout",
        value: Some("SECS"),
        default: Some(|| secs(DEFAULT_DRAIN_TIMEOUT)),
        help: "at the end (or a stop), wait up to SECS for the last acks; exit 7 if any record is still unacknowledged",
        only: PUBLISHERS,
        set: |j, it, f| {
            j.drain_timeout = it.seconds(f, true)?;
            Ok(())
        },
    },
    Flag {
        name: "--state",
        value: Some("FILE"),
        default: None,
        help: "keep per partition the latest record time JetStream acknowledged in FILE; a restart asks each partition's backfill sized to its own gap (in place of --backfill-on-start)",
        only: STREAM,
        set: |j, it, f| {
            j.state = Some(PathBuf::from(it.value(f)?));
            Ok(())
        },
    },
    Flag {
        name: "--leases",
        value: Some("BUCKET"),
        default: None,
        help: "share the partitions with other hosts through leases in BUCKET",
        only: STREAM,
        set: |j, it, f| {
            j.leases = Some(it.value(f)?.to_owned());
            Ok(())
        },
    },
    Flag {
        name: "--host-id",
        value: Some("NAME"),
        default: None,
        help: "this host's id in the leases (default: the host name)",
        only: STREAM,
        set: |j, it, f| {
            j.host_id = Some(it.value(f)?.to_owned());
            Ok(())
        },
    },
    Flag {
        name: "--lease-ttl",
        value: Some("SECS"),
        default: Some(|| secs(Duration::from_millis(DEFAULT_LEASE_TTL_MS))),
        help: "must equal the bucket's max_age",
        only: STREAM,
        set: |j, it, f| {
            j.lease_ttl = it.seconds(f, false)?;
            Ok(())
        },
    },
    Flag {
        name: "--hosts-per-partition",
        value: Some("N"),
        default: Some(|| DEFAULT_HOSTS_PER_PARTITION.to_string()),
        help: "hosts streaming each partition at once",
        only: STREAM,
        set: |j, it, f| {
            j.hosts_per_partition = it.number_in(f, 1..=8)?;
            Ok(())
        },
    },
];

const STREAM: &[&str] = &["stream"];
/// The commands that talk to NATS, and those that publish.
const TOOLS: &[&str] = &["stream", "jetstream-init", "publish"];
const PUBLISHERS: &[&str] = &["stream", "publish"];

/// The lease-only flags, for the message when they come without `--leases`.
const LEASE_FLAGS: [&str; 3] = ["--host-id", "--lease-ttl", "--hosts-per-partition"];

impl JetStreamArgs {
    pub fn is_on(&self) -> bool {
        self.urls.is_some()
    }

    /// The combinations that make no sense.
    /// The combinations that make no sense, with `stream`'s other options: `stdout` when
    /// `--count` or `--max-records` was given, and `--redundant`.
    pub fn check(&self, command: &'static str, stdout: bool, redundant: u8) -> Result<(), Usage> {
        let given = |f: &str| -> bool {
            let d = JetStreamArgs::default();
            match f {
                "--host-id" => self.host_id.is_some(),
                "--lease-ttl" => self.lease_ttl != d.lease_ttl,
                _ => self.hosts_per_partition != d.hosts_per_partition,
            }
        };
        if !self.is_on() {
            if self.leases.is_some() || self.subject != DEFAULT_SUBJECT || self.state.is_some() {
                return Err(usage(
                    command,
                    "--leases, --subject and --state go with --jetstream",
                ));
            }
            return Ok(());
        }
        if self.leases.is_none() {
            if let Some(f) = LEASE_FLAGS.iter().find(|f| given(f)) {
                return Err(usage(command, format!("{f} goes with --leases BUCKET")));
            }
        }
        if stdout {
            return Err(usage(
                command,
                "--count and --max-records are about stdout; with --jetstream records go to JetStream",
            ));
        }
        if self.leases.is_some() && self.state.is_some() {
            return Err(usage(
                command,
                "--state with --leases: the lease table keeps each partition's resume point",
            ));
        }
        if self.leases.is_some() && redundant > 1 {
            return Err(usage(
                command,
                "--redundant with --leases: use --hosts-per-partition (redundancy across hosts)",
            ));
        }
        SubjectTemplate::parse(&self.subject)
            .map_err(|e| usage(command, format!("--subject: {e}")))?;
        Ok(())
    }

    pub fn nats(&self) -> Result<NatsOptions, Error> {
        nats_options(
            self.urls.as_deref().unwrap_or(""),
            &self.ca_file,
            self.allow_plaintext,
        )
    }
}

/// The NATS options of every command: credentials from the environment, refused in the clear
/// off loopback unless `allow_plaintext` (then a warning names the server).
pub fn nats_options(
    urls: &str,
    ca_file: &Option<PathBuf>,
    allow_plaintext: bool,
) -> Result<NatsOptions, Error> {
    let mut o = NatsOptions::from_env(urls)?;
    o.ca_file = ca_file.clone();
    o.allow_plaintext = allow_plaintext;
    if let Some(s) = o.check_transport()? {
        eprintln!(
            "gnip-stream: warning: NATS credentials go in the clear to {s} (--nats-allow-plaintext)"
        );
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::super::jetstream_tools::{InitArgs, JsCommand};
    use super::super::{Command, parse};
    use super::*;

    fn p(s: &str) -> Result<Command, Usage> {
        parse(&s.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
    }

    #[test]
    fn the_contract_parses() {
        let Ok(Command::Stream(a)) = p(
            "stream --url u --jetstream nats://a:1,tls://b:2 --subject x.{product}.{partition} --nats-ca-file ca.pem --publish-window 64 --ack-timeout 2 --queue 100 --queue-bytes 8M --drain-timeout 0 --backfill-on-start 3 --leases L --host-id h1 --lease-ttl 6 --hosts-per-partition 2",
        ) else {
            panic!()
        };
        let j = &a.jetstream;
        assert_eq!(j.urls.as_deref(), Some("nats://a:1,tls://b:2"));
        assert_eq!(
            (j.window, j.ack_timeout, j.queue, j.drain_timeout),
            (64, Duration::from_secs(2), 100, Duration::ZERO)
        );
        assert_eq!(j.queue_bytes, 8 << 20);
        assert_eq!(
            (
                j.leases.as_deref(),
                j.host_id.as_deref(),
                j.lease_ttl,
                j.hosts_per_partition
            ),
            (Some("L"), Some("h1"), Duration::from_secs(6), 2)
        );
        assert_eq!(a.backfill_on_start, 3);
        let Ok(Command::JetStream(JsCommand::Init(InitArgs {
            replicas,
            duplicate_window_ns,
            lease,
            ..
        }))) = p(
            "jetstream-init --jetstream nats://a:1 --stream S --subjects gnip.> --replicas 1 --duplicate-window 2m --lease-bucket L --lease-ttl 30",
        )
        else {
            panic!()
        };
        assert_eq!(
            (replicas, duplicate_window_ns, lease),
            (
                1,
                120_000_000_000,
                Some(("L".into(), Duration::from_secs(30)))
            )
        );
        assert!(matches!(
            p("publish --jetstream nats://a:1 --subject s.x --file f.ndjson"),
            Ok(Command::JetStream(JsCommand::Publish(_)))
        ));
    }

    #[test]
    fn usage_errors_say_what_is_wrong() {
        for (args, says) in [
            ("stream --url u --leases L", "go with --jetstream"),
            (
                "stream --url u --jetstream n --host-id h",
                "--host-id goes with --leases",
            ),
            (
                "stream --url u --jetstream n --lease-ttl 5",
                "--lease-ttl goes with --leases",
            ),
            (
                "stream --url u --jetstream n --count",
                "with --jetstream records go",
            ),
            (
                "stream --url u --jetstream n --subject a.{label}",
                "only {product} and {partition}",
            ),
            ("stream --url u --jetstream n --subject a.>", "wildcard"),
            (
                "stream --url u --jetstream n --leases L --redundant 2",
                "--hosts-per-partition",
            ),
            ("stream --url u --backfill-on-start 6", "1 to 5"),
            ("stream --url u --jetstream n --publish-window 0", "1 to"),
            (
                "stream --url u --jetstream n --queue 1000001",
                "--queue: '1000001'",
            ),
            (
                "stream --url u --jetstream n --queue-bytes 2G",
                "--queue-bytes: '2G' is not a size from 65536 to 1073741824 bytes",
            ),
            (
                "stream --url u --jetstream n --queue-bytes 1k",
                "from 65536",
            ),
            (
                "replay --url u --from 202601010000 --to 202601010100 --jetstream n",
                "unknown option",
            ),
            (
                "jetstream-init --stream S --subjects x",
                "--jetstream URLS is required",
            ),
            (
                "jetstream-init --jetstream n --subjects x",
                "--stream NAME is required",
            ),
            (
                "jetstream-init --jetstream n --stream S --subjects x --lease-bucket L",
                "go together",
            ),
            (
                "jetstream-init --jetstream n --stream S --subjects x --duplicate-window 10x",
                "not a duration",
            ),
            (
                "jetstream-init --jetstream n --stream S --subjects x --replicas 7",
                "1 to 5",
            ),
            ("publish --jetstream n", "--subject S is required"),
            (
                "publish --jetstream n --subject s --stream S",
                "unknown option",
            ),
        ] {
            let e = p(args).unwrap_err();
            assert!(e.message.contains(says), "{args}: {}", e.message);
        }
    }
}

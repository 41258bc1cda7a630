//! The arguments of `stream`, `replay` and `recover`: parsed and checked, and the client
//! configuration they make.
//! Over 600 lines: most of it is the one flag table of three commands (each flag written once,
//! with its help), and the checks of both dialects' targets are one decision.

use std::path::PathBuf;
use std::time::Duration;

use gnip_stream::Product;
use gnip_stream::client::{
    ClientConfig, DedupeConfig, MAX_REDUNDANT, REPLAY_HOST, ReplayRange, STREAM_HOST,
};
use gnip_stream::core::{DecoderConfig, Inflater};
use gnip_stream::unversioned::protocol::dedupe::{DEFAULT_DEDUPE_WINDOW, MAX_DEDUPE_WINDOW};
use gnip_stream::unversioned::protocol::dialect::{Dialect, V2_STALL_TIMEOUT};
use gnip_stream::unversioned::protocol::endpoint::{
    RECOVERY_MAX_AGE_SECS, REPLAY_MAX_AGE_SECS, Service, UrlParts,
};
use gnip_stream::unversioned::protocol::policy::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_STALL_TIMEOUT};
use gnip_stream::unversioned::protocol::product::MAX_BACKFILL_MINUTES;
use gnip_stream::unversioned::protocol::slow_reader::{
    DEFAULT_SLOW_READER_PERIOD, DEFAULT_SLOW_READER_SHARE,
};
use gnip_stream::unversioned::protocol::time;
use gnip_stream::unversioned::protocol::v2::products::{V2_HOST, V2Product};

#[cfg(feature = "archive")]
use super::archive_args::{self, ArchiveArgs};
use super::args::{self, Args, Usage, product, usage};
use super::flags::{self, Flag, Parsed, count, secs};
#[cfg(feature = "jetstream")]
use super::jetstream_args::JetStreamArgs;
use super::stderr::LogFormat;
use super::{Command, USAGE};

/// Where the stream is.
pub type Target = args::Target<Product>;

/// Options of `stream` and `replay`.
#[derive(Debug, Clone)]
pub struct StreamArgs {
    pub target: Target,
    /// The service dialect (`--api`, or the URL's path).
    pub dialect: Dialect,
    /// `--fields`: X API v2 field parameters passed through.
    pub fields: Option<String>,
    /// Whether `--stall-timeout` was given (else the dialect's default).
    pub stall_timeout_given: bool,
    pub range: Option<(i64, i64)>,
    pub partitions: Vec<u32>,
    pub backfill_minutes: u8,
    pub stall_timeout: Duration,
    pub connect_timeout: Duration,
    pub max_records: Option<u64>,
    pub count: bool,
    pub ca_file: Option<PathBuf>,
    pub stats_interval: Option<Duration>,
    pub redundant: u8,
    pub no_dedupe: bool,
    pub dedupe_window: Option<usize>,
    /// Replay: minutes per request.
    pub window_minutes: u32,
    /// `recover`: the range is a Recovery on the realtime URL.
    pub recovery: bool,
    /// `--metrics-listen`: where to serve `GET /metrics`.
    pub metrics_listen: Option<String>,
    /// `--log-format`.
    pub log_format: LogFormat,
    /// `--slow-reader-threshold`: the handler share that makes a slow reader.
    pub slow_reader_threshold: f64,
    /// `--slow-reader-period`: how long above it before the warning.
    pub slow_reader_period: Duration,
    /// `--inflater`: the raw inflater (default: the build's).
    pub inflater: Option<Inflater>,
    /// `--backfill-on-start`: backfill on the first connection too (0: off).
    pub backfill_on_start: u8,
    /// `--jetstream` and its options: records to JetStream instead of stdout.
    #[cfg(feature = "jetstream")]
    pub jetstream: Box<super::jetstream_args::JetStreamArgs>,
    /// `--archive` and its options: records to files instead of stdout.
    #[cfg(feature = "archive")]
    pub archive: Box<ArchiveArgs>,
}

/// What the flags of `stream`, `replay` and `recover` gather before they are checked together.
pub struct Raw {
    a: StreamArgs,
    api: Option<Dialect>,
    url: Option<String>,
    product: Option<String>,
    account: Option<String>,
    label: Option<String>,
    host: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

const REPLAYS: &[&str] = &["replay", "recover"];
const STREAM: &[&str] = &["stream"];

/// Minutes per Replay request unless `--window` says otherwise.
const DEFAULT_WINDOW_MINUTES: u32 = 60;

/// The flags of `stream`, `replay` and `recover`, in the order `--help` shows them.
pub const FLAGS: &[Flag<Raw>] = &[
    Flag {
        name: "--api",
        value: Some("API"),
        default: Some(|| "gnip (a --url whose path starts /2/: v2)".to_owned()),
        help: "gnip (the Gnip 2.0 streams) or v2 (the X API v2 enterprise streams: credentials from X_BEARER_TOKEN; products powertrack, decahose, firehose, firehose-en|ja|ko|pt, sample, tweet-compliance, user-compliance, likes-firehose, likes-sample10, likes-compliance, labels)",
        only: &[],
        set: |r, it, f| {
            let v = it.value(f)?;
            r.api = Some(Dialect::from_name(v).ok_or_else(|| {
                usage(it.command(), format!("--api: '{v}' is not one of gnip, v2"))
            })?);
            Ok(())
        },
    },
    Flag {
        name: "--url",
        value: Some("URL"),
        default: None,
        help: "the stream URL (no query); the product is read from its path",
        only: &[],
        set: |r, it, f| {
            r.url = Some(it.value(f)?.to_owned());
            Ok(())
        },
    },
    Flag {
        name: "--product",
        value: Some("P"),
        default: None,
        help: "powertrack, decahose, firehose or compliance (--api v2: see --api)",
        only: &[],
        set: |r, it, f| {
            r.product = Some(it.value(f)?.to_owned());
            Ok(())
        },
    },
    Flag {
        name: "--account",
        value: Some("NAME"),
        default: None,
        help: "the account name in the URL (Gnip only)",
        only: &[],
        set: |r, it, f| {
            r.account = Some(it.value(f)?.to_owned());
            Ok(())
        },
    },
    Flag {
        name: "--label",
        value: Some("NAME"),
        default: None,
        help: "the stream label in the URL (Gnip only)",
        only: &[],
        set: |r, it, f| {
            r.label = Some(it.value(f)?.to_owned());
            Ok(())
        },
    },
    Flag {
        name: "--host",
        value: Some("URL"),
        default: Some(|| format!("{STREAM_HOST}; replay: {REPLAY_HOST}; v2: {V2_HOST}")),
        help: "scheme and host, with --product",
        only: &[],
        set: |r, it, f| {
            r.host = Some(it.value(f)?.to_owned());
            Ok(())
        },
    },
    Flag {
        name: "--fields",
        value: Some("QUERY"),
        default: None,
        help: "X API v2 field parameters, passed through: tweet.fields=…&expansions=… (keys: tweet.fields, expansions, media.fields, poll.fields, user.fields, place.fields; likes streams also like_with_tweet_author.fields)",
        only: &["stream", "recover"],
        set: |r, it, f| {
            r.a.fields = Some(it.value(f)?.to_owned());
            Ok(())
        },
    },
    Flag {
        name: "--from",
        value: Some("DATE"),
        default: None,
        help: "start, UTC, inclusive: YYYYMMDDHHMM (recover: or ISO 8601, 2026-11-27T10:05:00Z)",
        only: REPLAYS,
        set: |r, it, f| {
            r.from = Some(it.value(f)?.to_owned());
            Ok(())
        },
    },
    Flag {
        name: "--to",
        value: Some("DATE"),
        default: None,
        help: "end, UTC, exclusive (recover: both within the last 24 hours)",
        only: REPLAYS,
        set: |r, it, f| {
            r.to = Some(it.value(f)?.to_owned());
            Ok(())
        },
    },
    Flag {
        name: "--window",
        value: Some("MINUTES"),
        default: Some(|| DEFAULT_WINDOW_MINUTES.to_string()),
        help: "minutes per request: a longer range is requested as consecutive windows, one at a time; each window's failed minutes and unprocessed range are requested again once before the next",
        only: &["replay"],
        set: |r, it, f| {
            let n: u32 = it.number(f)?;
            if n == 0 {
                return Err(usage(it.command(), "--window must be at least 1 minute"));
            }
            r.a.window_minutes = n;
            Ok(())
        },
    },
    Flag {
        name: "--partition",
        value: Some("N"),
        default: None,
        help: "repeatable; one connection (thread) per partition; default: every partition of the product (read from --url's path too)",
        only: &[],
        set: |r, it, f| {
            let p: u32 = it.number(f)?;
            if p == 0 {
                return Err(usage(
                    it.command(),
                    "--partition: partitions are numbered from 1",
                ));
            }
            r.a.partitions.push(p);
            Ok(())
        },
    },
    Flag {
        name: "--backfill-minutes",
        value: Some("N"),
        default: None,
        help: "1..5: on reconnects, backfillMinutes sized to the gap, capped at N",
        only: &[],
        set: |r, it, f| {
            r.a.backfill_minutes = it.number_in(f, 1..=MAX_BACKFILL_MINUTES)?;
            Ok(())
        },
    },
    Flag {
        name: "--backfill-on-start",
        value: Some("N"),
        default: None,
        help: "1..5: backfill N minutes on the first connection too (a restarted host closes its own gap; --dedupe-window or JetStream's duplicate window removes the overlap downstream)",
        only: STREAM,
        set: |r, it, f| {
            r.a.backfill_on_start = it.number_in(f, 1..=MAX_BACKFILL_MINUTES)?;
            Ok(())
        },
    },
    Flag {
        name: "--stall-timeout",
        value: Some("SECS"),
        default: Some(|| {
            format!(
                "{}; v2: {}",
                secs(DEFAULT_STALL_TIMEOUT),
                secs(V2_STALL_TIMEOUT)
            )
        }),
        help: "no byte for SECS since the last one is a stall; decimals allowed (0.5)",
        only: &[],
        set: |r, it, f| {
            r.a.stall_timeout = it.seconds(f, false)?;
            r.a.stall_timeout_given = true;
            Ok(())
        },
    },
    Flag {
        name: "--connect-timeout",
        value: Some("SECS"),
        default: Some(|| secs(DEFAULT_CONNECT_TIMEOUT)),
        help: "each of TCP connect with the TLS handshake, sending the request, and the response head may take this long",
        only: &[],
        set: |r, it, f| {
            r.a.connect_timeout = it.seconds(f, false)?;
            Ok(())
        },
    },
    Flag {
        name: "--max-records",
        value: Some("N"),
        default: None,
        help: "exit 0 after N records in total",
        only: &[],
        set: |r, it, f| {
            let n: u64 = it.number(f)?;
            if n == 0 {
                return Err(usage(it.command(), "--max-records must be at least 1"));
            }
            r.a.max_records = Some(n);
            Ok(())
        },
    },
    Flag {
        name: "--count",
        value: None,
        default: None,
        help: "write no records; at exit print one line `records=N`",
        only: &[],
        set: |r, _, _| {
            r.a.count = true;
            Ok(())
        },
    },
    Flag {
        name: "--ca-file",
        value: Some("PEM"),
        default: None,
        help: "trusted root certificates instead of the built-in (or the system's) ones",
        only: &[],
        set: |r, it, f| {
            r.a.ca_file = Some(PathBuf::from(it.value(f)?));
            Ok(())
        },
    },
    Flag {
        name: "--stats-interval",
        value: Some("SECS"),
        default: None,
        help: "a statistics (or progress) line on stderr every SECS; 0 = off; default 10 (replay, recover: 0.5) when stderr is a terminal, else 0",
        only: &[],
        set: |r, it, f| {
            r.a.stats_interval = Some(it.seconds(f, true)?);
            Ok(())
        },
    },
    Flag {
        name: "--redundant",
        value: Some("N"),
        default: Some(|| "1".to_owned()),
        help: "1..4 connections per partition, each its own thread, reconnects and backfill, under one connection-rate limit",
        only: STREAM,
        set: |r, it, f| {
            r.a.redundant = it.number_in(f, 1..=MAX_REDUNDANT)?;
            Ok(())
        },
    },
    Flag {
        name: "--no-dedupe",
        value: None,
        default: None,
        help: "hand out every copy (de-duplication is on with --redundant 2+ or --backfill-minutes)",
        only: STREAM,
        set: |r, _, _| {
            r.a.no_dedupe = true;
            Ok(())
        },
    },
    Flag {
        name: "--dedupe-window",
        value: Some("N"),
        default: Some(|| count(DEFAULT_DEDUPE_WINDOW as u64)),
        help: "ids remembered per partition",
        only: STREAM,
        set: |r, it, f| {
            let n: usize = it.number_in(f, 1..=MAX_DEDUPE_WINDOW)?;
            r.a.dedupe_window = Some(n);
            Ok(())
        },
    },
    Flag {
        name: "--metrics-listen",
        value: Some("ADDR"),
        default: None,
        help: "serve GET /metrics (Prometheus text format) on ADDR, e.g. 127.0.0.1:9464 (docs/operations.md: the metrics)",
        only: &[],
        set: |r, it, f| {
            r.a.metrics_listen = Some(it.value(f)?.to_owned());
            Ok(())
        },
    },
    Flag {
        name: "--log-format",
        value: Some("F"),
        default: Some(|| "text".to_owned()),
        help: "text or json: every stderr event one JSON object a line (ts, level, event, partition, connection, fields, message)",
        only: &[],
        set: |r, it, f| {
            let v = it.value(f)?;
            r.a.log_format = LogFormat::parse(v).ok_or_else(|| {
                usage(
                    it.command(),
                    format!("--log-format: '{v}' is not one of text, json"),
                )
            })?;
            Ok(())
        },
    },
    Flag {
        name: "--slow-reader-threshold",
        value: Some("S"),
        default: Some(|| DEFAULT_SLOW_READER_SHARE.to_string()),
        help: "warn when a partition's handler share stays above S",
        only: &[],
        set: |r, it, f| {
            let v = it.decimal(f)?;
            if !(v > 0.0 && v.is_finite()) {
                return Err(usage(
                    it.command(),
                    format!(
                        "--slow-reader-threshold: '{v}' must be a share above 0 (0.5 is half the time)"
                    ),
                ));
            }
            r.a.slow_reader_threshold = v;
            Ok(())
        },
    },
    Flag {
        name: "--slow-reader-period",
        value: Some("SECS"),
        default: Some(|| secs(DEFAULT_SLOW_READER_PERIOD)),
        help: "... for SECS; again after it recovers and relapses",
        only: &[],
        set: |r, it, f| {
            r.a.slow_reader_period = it.seconds(f, false)?;
            Ok(())
        },
    },
    Flag {
        name: "--inflater",
        value: Some("NAME"),
        default: Some(|| Inflater::default().name().to_owned()),
        help: "miniz_oxide, or zlib-rs in a build with that feature",
        only: &[],
        set: |r, it, f| {
            let v = it.value(f)?;
            r.a.inflater = Some(Inflater::from_name(v).ok_or_else(|| {
                let names: Vec<&str> = Inflater::ALL.iter().map(|i| i.name()).collect();
                usage(
                    it.command(),
                    format!(
                        "--inflater: '{v}' is not one this build has ({})",
                        names.join(", ")
                    ),
                )
            })?);
            Ok(())
        },
    },
];

impl Default for StreamArgs {
    fn default() -> Self {
        StreamArgs {
            target: Target::Url(String::new()),
            dialect: Dialect::Gnip,
            fields: None,
            stall_timeout_given: false,
            range: None,
            partitions: Vec::new(),
            backfill_minutes: 0,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_records: None,
            count: false,
            ca_file: None,
            stats_interval: None,
            redundant: 1,
            no_dedupe: false,
            dedupe_window: None,
            window_minutes: DEFAULT_WINDOW_MINUTES,
            recovery: false,
            metrics_listen: None,
            log_format: LogFormat::Text,
            slow_reader_threshold: DEFAULT_SLOW_READER_SHARE,
            slow_reader_period: DEFAULT_SLOW_READER_PERIOD,
            inflater: None,
            backfill_on_start: 0,
            #[cfg(feature = "jetstream")]
            jetstream: Box::default(),
            #[cfg(feature = "archive")]
            archive: Box::default(),
        }
    }
}

/// Whether `stream` sends to JetStream.
#[cfg(feature = "archive")]
fn is_jetstream(a: &StreamArgs) -> bool {
    #[cfg(feature = "jetstream")]
    return a.jetstream.is_on();
    #[cfg(not(feature = "jetstream"))]
    {
        let _ = a;
        false
    }
}

/// Parses the arguments of `stream`, `replay` or `recover` (`command`).
pub fn parse(command: &'static str, args: &[String]) -> Result<Command, Usage> {
    let mut raw = Raw {
        a: StreamArgs::default(),
        api: None,
        url: None,
        product: None,
        account: None,
        label: None,
        host: None,
        from: None,
        to: None,
    };
    let mut it = Args::new(command, args);
    #[cfg(feature = "archive")]
    let archive: flags::Part<Raw, ArchiveArgs> = (archive_args::FLAGS, |r| &mut *r.a.archive);
    #[cfg(feature = "jetstream")]
    let jetstream: flags::Part<Raw, JetStreamArgs> =
        (super::jetstream_args::FLAGS, |r| &mut *r.a.jetstream);
    let more: &[&dyn flags::More<Raw>] = &[
        #[cfg(feature = "archive")]
        &archive,
        #[cfg(feature = "jetstream")]
        &jetstream,
    ];
    if let Parsed::Help = flags::read(&mut it, command, FLAGS, &mut raw, more, false)? {
        return Ok(Command::Help(command));
    }
    let Raw {
        mut a,
        api,
        url,
        product: product_,
        account,
        label,
        host,
        from,
        to,
    } = raw;
    #[cfg(feature = "jetstream")]
    a.jetstream
        .check(command, a.count || a.max_records.is_some(), a.redundant)?;
    #[cfg(feature = "archive")]
    a.archive
        .check(a.count, cfg!(feature = "jetstream") && is_jetstream(&a))?;
    let url_v2 = url
        .as_deref()
        .and_then(UrlParts::split)
        .is_some_and(|u| u.path.starts_with("/2/"));
    a.dialect = match (api, url_v2) {
        (Some(Dialect::Gnip), true) => {
            return Err(usage(
                command,
                "--api gnip with an X API v2 URL (/2/…): drop --api, or give a Gnip URL",
            ));
        }
        (Some(d), _) => d,
        (None, true) => Dialect::V2,
        (None, false) => Dialect::Gnip,
    };
    if a.dialect == Dialect::V2 {
        if command == "replay" {
            return Err(usage(
                command,
                "X API v2 has no Replay (deprecated 2023): use 'gnip-stream recover --api v2 … --from … --to …'",
            ));
        }
        if account.is_some() || label.is_some() {
            return Err(usage(
                command,
                "--account and --label are Gnip's: an X API v2 stream is named by --product alone",
            ));
        }
        a.target = match (url, product_) {
            (Some(u), None) if host.is_none() => Target::Url(u),
            (Some(_), None) => {
                return Err(usage(command, "--host goes with --product, not with --url"));
            }
            (None, Some(p)) => Target::Named {
                product: v2_product(command, &p)?,
                account: String::new(),
                label: String::new(),
                host,
            },
            (Some(_), Some(_)) => {
                return Err(usage(command, "give either --url or --product, not both"));
            }
            (None, None) => {
                return Err(usage(
                    command,
                    "missing the stream: --product P (or --url URL)",
                ));
            }
        };
        if let (
            Some(q),
            Target::Named {
                product: Product::V2(p),
                ..
            },
        ) = (&a.fields, &a.target)
        {
            p.check_fields(q)
                .map_err(|m| usage(command, format!("--fields: {m}")))?;
        }
    } else {
        if a.fields.is_some() {
            return Err(usage(
                command,
                "--fields is X API v2's (--api v2): the Gnip streams send whole records",
            ));
        }
        let product_ = product_.map(|p| product(command, &p)).transpose()?;
        a.target = args::target(
            command,
            url,
            product_,
            account,
            label,
            host,
            "stream: --url URL, or --product P --account NAME --label NAME",
        )?;
    }
    if command != "stream" {
        // Replay takes YYYYMMDDHHMM; Recovery that or ISO 8601 (2026-11-27T10:05:00Z).
        let recover = command == "recover";
        let date = |flag: &str, v: Option<String>| -> Result<i64, Usage> {
            let v = v.ok_or_else(|| usage(command, format!("{flag} YYYYMMDDHHMM is required")))?;
            time::parse_replay_date(&v)
                .or_else(|| recover.then(|| time::parse_timestamp(&v)).flatten())
                .ok_or_else(|| {
                    usage(
                        command,
                        if recover {
                            format!("{flag}: '{v}' is not a date YYYYMMDDHHMM or ISO 8601 (UTC)")
                        } else {
                            format!("{flag}: '{v}' is not a date YYYYMMDDHHMM (UTC)")
                        },
                    )
                })
        };
        let (f, t) = (date("--from", from)?, date("--to", to)?);
        if f >= t {
            return Err(usage(command, "--from must be before --to"));
        }
        // No range longer than the service reaches back (checked before any planning).
        let (reach, what) = if recover {
            (RECOVERY_MAX_AGE_SECS, "Recovery reaches back 24 hours")
        } else {
            (REPLAY_MAX_AGE_SECS, "Replay reaches back 5 days")
        };
        if t - f > reach {
            return Err(usage(
                command,
                format!(
                    "--from to --to spans {:.1} days; {what}, so no longer range can be asked for",
                    (t - f) as f64 / 86_400.0
                ),
            ));
        }
        a.range = Some((f, t));
        a.recovery = recover;
    }
    Ok(Command::Stream(a))
}

/// The X API v2 product named `v`, or a usage error listing them.
fn v2_product(command: &'static str, v: &str) -> Result<Product, Usage> {
    V2Product::from_name(v).map(Product::V2).ok_or_else(|| {
        let names: Vec<&str> = V2Product::ALL.iter().map(|p| p.name()).collect();
        usage(
            command,
            format!(
                "--product: '{v}' is not an X API v2 product ({})",
                names.join(", ")
            ),
        )
    })
}

pub(super) fn config_for(
    a: &StreamArgs,
    user: &str,
    password: &str,
) -> Result<ClientConfig, (u8, String)> {
    let usage = |m: String| (USAGE, m);
    let mut c = match &a.target {
        Target::Url(url) => {
            let is_replay = UrlParts::split(url)
                .and_then(|u| Dialect::of_path(u.path))
                .is_some_and(|(_, p)| p.service == Service::Replay);
            if is_replay != (a.range.is_some() && !a.recovery) {
                return Err(usage(if is_replay {
                    "that is a Replay URL: use 'gnip-stream replay … --from … --to …'".into()
                } else {
                    "'replay' needs a Replay URL (/replay/{product}/…)".into()
                }));
            }
            let c = ClientConfig::url(url).map_err(|e| usage(e.to_string()))?;
            match a.range {
                Some((from, to)) if a.recovery => c.recovery_range(ReplayRange { from, to }),
                Some((from, to)) => c.replay_range(ReplayRange { from, to }),
                None => c,
            }
        }
        Target::Named {
            product: Product::V2(p),
            host,
            ..
        } => {
            let c = ClientConfig::v2(*p);
            let c = match a.range {
                Some((from, to)) => c.recovery_range(ReplayRange { from, to }),
                None => c,
            };
            match host {
                Some(h) => c.host(h),
                None => c,
            }
        }
        Target::Named {
            product,
            account,
            label,
            host,
        } => {
            let c = match a.range {
                Some((from, to)) if a.recovery => {
                    ClientConfig::recovery(*product, account, label, ReplayRange { from, to })
                }
                Some((from, to)) => {
                    ClientConfig::replay(*product, account, label, ReplayRange { from, to })
                }
                None => ClientConfig::stream(*product, account, label),
            };
            match host {
                Some(h) => c.host(h),
                None => c,
            }
        }
    };
    c = if c.dialect() == Dialect::V2 {
        c.bearer_token(password)
    } else {
        c.credentials(user, password)
    };
    if a.stall_timeout_given {
        c = c.stall_timeout(a.stall_timeout);
    }
    if let Some(q) = &a.fields {
        c = c.fields(q);
    }
    c = c.connect_timeout(a.connect_timeout);
    if !a.partitions.is_empty() {
        c = c.partitions(&a.partitions);
    }
    if a.backfill_minutes > 0 {
        c = c.backfill_minutes(a.backfill_minutes);
    }
    if a.backfill_on_start > 0 {
        c = c.backfill_on_start(a.backfill_on_start);
    }
    if let Some(ca) = &a.ca_file {
        c = c.ca_file(ca);
    }
    if let Some(i) = a.inflater {
        c = c.decoder(DecoderConfig::default().inflater(i));
    }
    let mut dedupe = if a.no_dedupe {
        DedupeConfig::off()
    } else {
        DedupeConfig::default()
    };
    if let Some(n) = a.dedupe_window {
        dedupe = dedupe.window(n);
    }
    Ok(c.redundant(a.redundant).dedupe(dedupe))
}

//! The arguments of `stream`, `replay` and `recover`: parsed and checked, and the client
//! configuration they make.

use std::path::PathBuf;
use std::time::Duration;

use gnip_stream::Product;
use gnip_stream::client::{ClientConfig, DedupeConfig, MAX_REDUNDANT, ReplayRange};
use gnip_stream::core::{DecoderConfig, Inflater};
use gnip_stream::unversioned::protocol::dialect::Dialect;
use gnip_stream::unversioned::protocol::endpoint::{Service, UrlParts};
use gnip_stream::unversioned::protocol::policy::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_STALL_TIMEOUT};
use gnip_stream::unversioned::protocol::product::MAX_BACKFILL_MINUTES;
use gnip_stream::unversioned::protocol::slow_reader::{
    DEFAULT_SLOW_READER_PERIOD, DEFAULT_SLOW_READER_SHARE,
};
use gnip_stream::unversioned::protocol::time;

use super::args::{Arg, Args, Usage, product, usage};
use super::stderr::LogFormat;
use super::{Command, USAGE};

/// Where the stream is.
#[derive(Debug, Clone)]
pub enum Target {
    Url(String),
    Named {
        product: Product,
        account: String,
        label: String,
        host: Option<String>,
    },
}

/// Options of `stream` and `replay`.
#[derive(Debug, Clone)]
pub struct StreamArgs {
    pub target: Target,
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
}

/// Parses the arguments of `stream` or `replay` (`command`).
pub fn parse(command: &'static str, args: &[String]) -> Result<Command, Usage> {
    let (mut url, mut product_, mut account, mut label, mut host) = (None, None, None, None, None);
    let (mut from, mut to) = (None, None);
    let mut a = StreamArgs {
        target: Target::Url(String::new()),
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
        window_minutes: 60,
        recovery: false,
        metrics_listen: None,
        log_format: LogFormat::Text,
        slow_reader_threshold: DEFAULT_SLOW_READER_SHARE,
        slow_reader_period: DEFAULT_SLOW_READER_PERIOD,
        inflater: None,
        backfill_on_start: 0,
        #[cfg(feature = "jetstream")]
        jetstream: Box::default(),
    };
    let mut it = Args::new(command, args);
    while let Some(arg) = it.next()? {
        let Arg::Flag(f) = arg else {
            return Err(it.unknown(arg));
        };
        match f {
            "-h" | "--help" => return Ok(Command::Help(command)),
            "--url" => url = Some(it.value(f)?.to_owned()),
            "--product" => product_ = Some(product(command, it.value(f)?)?),
            "--account" => account = Some(it.value(f)?.to_owned()),
            "--label" => label = Some(it.value(f)?.to_owned()),
            "--host" => host = Some(it.value(f)?.to_owned()),
            "--from" if command != "stream" => from = Some(it.value(f)?.to_owned()),
            "--to" if command != "stream" => to = Some(it.value(f)?.to_owned()),
            "--partition" => {
                let p: u32 = it.number(f)?;
                if p == 0 {
                    return Err(usage(
                        command,
                        "--partition: partitions are numbered from 1",
                    ));
                }
                a.partitions.push(p);
            }
            "--backfill-minutes" => {
                a.backfill_minutes = it.number_in(f, 1..=MAX_BACKFILL_MINUTES)?
            }
            "--backfill-on-start" if command == "stream" => {
                a.backfill_on_start = it.number_in(f, 1..=MAX_BACKFILL_MINUTES)?
            }
            "--stall-timeout" => a.stall_timeout = it.seconds(f, false)?,
            "--connect-timeout" => a.connect_timeout = it.seconds(f, false)?,
            "--max-records" => {
                let n: u64 = it.number(f)?;
                if n == 0 {
                    return Err(usage(command, "--max-records must be at least 1"));
                }
                a.max_records = Some(n);
            }
            "--count" => a.count = true,
            "--metrics-listen" => a.metrics_listen = Some(it.value(f)?.to_owned()),
            "--log-format" => {
                let v = it.value(f)?;
                a.log_format = LogFormat::parse(v).ok_or_else(|| {
                    usage(
                        command,
                        format!("--log-format: '{v}' is not one of text, json"),
                    )
                })?;
            }
            "--slow-reader-threshold" => {
                let v: f64 = it.number(f)?;
                if !(v > 0.0 && v.is_finite()) {
                    return Err(usage(
                        command,
                        format!(
                            "--slow-reader-threshold: '{v}' must be a share above 0 (0.5 is half the time)"
                        ),
                    ));
                }
                a.slow_reader_threshold = v;
            }
            "--slow-reader-period" => a.slow_reader_period = it.seconds(f, false)?,
            "--inflater" => {
                let v = it.value(f)?;
                a.inflater = Some(Inflater::from_name(v).ok_or_else(|| {
                    let names: Vec<&str> = Inflater::ALL.iter().map(|i| i.name()).collect();
                    usage(
                        command,
                        format!(
                            "--inflater: '{v}' is not one this build has ({})",
                            names.join(", ")
                        ),
                    )
                })?);
            }
            "--ca-file" => a.ca_file = Some(PathBuf::from(it.value(f)?)),
            "--stats-interval" => a.stats_interval = Some(it.seconds(f, true)?),
            "--redundant" if command == "stream" => {
                a.redundant = it.number_in(f, 1..=MAX_REDUNDANT)?
            }
            "--no-dedupe" if command == "stream" => a.no_dedupe = true,
            "--window" if command == "replay" => {
                let n: u32 = it.number(f)?;
                if n == 0 {
                    return Err(usage(command, "--window must be at least 1 minute"));
                }
                a.window_minutes = n;
            }
            "--dedupe-window" if command == "stream" => {
                let n: usize = it.number(f)?;
                if n == 0 {
                    return Err(usage(command, "--dedupe-window must be at least 1"));
                }
                a.dedupe_window = Some(n);
            }
            #[cfg(feature = "jetstream")]
            _ if command == "stream" && a.jetstream.flag(f, &mut it)? => {}
            _ => return Err(it.unknown(arg)),
        }
    }
    #[cfg(feature = "jetstream")]
    a.jetstream
        .check(command, a.count || a.max_records.is_some(), a.redundant)?;
    a.target = match (url, product_, account, label) {
        (Some(u), None, None, None) => {
            if host.is_some() {
                return Err(usage(command, "--host goes with --product, not with --url"));
            }
            Target::Url(u)
        }
        (None, Some(product), Some(account), Some(label)) => Target::Named {
            product,
            account,
            label,
            host,
        },
        (Some(_), ..) => {
            return Err(usage(
                command,
                "give either --url or --product/--account/--label, not both",
            ));
        }
        (None, ..) => {
            return Err(usage(
                command,
                "missing the stream: --url URL, or --product P --account NAME --label NAME",
            ));
        }
    };
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
        a.range = Some((f, t));
        a.recovery = recover;
    }
    Ok(Command::Stream(a))
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
    c = c
        .credentials(user, password)
        .stall_timeout(a.stall_timeout)
        .connect_timeout(a.connect_timeout);
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

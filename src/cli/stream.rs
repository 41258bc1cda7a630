//! `gnip-stream stream` and `gnip-stream replay`: the library client, records to stdout.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gnip_stream::Product;
use gnip_stream::client::{
    Client, ClientConfig, DedupeConfig, Delivery, MAX_REDUNDANT, ReplayRange, StatsSnapshot,
};
use gnip_stream::protocol::endpoint::{Service, StreamPath, UrlParts};
use gnip_stream::protocol::policy::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_STALL_TIMEOUT, Ending};
use gnip_stream::protocol::product::MAX_BACKFILL_MINUTES;
use gnip_stream::protocol::time;

use super::args::{Arg, Args, Usage, product, usage};
use super::output::Out;
use super::report::{dedupe_line, exit_code, print_event, start_error, stats_line};
use super::supervise::supervise;
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
                let m: u8 = it.number(f)?;
                if !(1..=MAX_BACKFILL_MINUTES).contains(&m) {
                    return Err(usage(
                        command,
                        format!("--backfill-minutes: '{m}' must be 1 to {MAX_BACKFILL_MINUTES}"),
                    ));
                }
                a.backfill_minutes = m;
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
            "--ca-file" => a.ca_file = Some(PathBuf::from(it.value(f)?)),
            "--stats-interval" => a.stats_interval = Some(it.seconds(f, true)?),
            "--redundant" if command == "stream" => {
                let n: u8 = it.number(f)?;
                if !(1..=MAX_REDUNDANT).contains(&n) {
                    return Err(usage(
                        command,
                        format!("--redundant: '{n}' must be 1 to {MAX_REDUNDANT}"),
                    ));
                }
                a.redundant = n;
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
            _ => return Err(it.unknown(arg)),
        }
    }
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

fn config_for(a: &StreamArgs, user: &str, password: &str) -> Result<ClientConfig, (u8, String)> {
    let usage = |m: String| (USAGE, m);
    let mut c = match &a.target {
        Target::Url(url) => {
            let is_replay = UrlParts::split(url)
                .and_then(|u| StreamPath::parse(u.path))
                .is_some_and(|p| p.service == Service::Replay);
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
    if let Some(ca) = &a.ca_file {
        c = c.ca_file(ca);
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

/// `stream` and `replay`.
pub fn run(a: StreamArgs) -> u8 {
    let (Ok(user), Ok(password)) = (
        std::env::var("GNIP_USERNAME"),
        std::env::var("GNIP_PASSWORD"),
    ) else {
        eprintln!(
            "gnip-stream: set GNIP_USERNAME and GNIP_PASSWORD in the environment (credentials are never flags)"
        );
        return USAGE;
    };
    let config = match config_for(&a, &user, &password) {
        Ok(c) => c,
        Err((code, m)) => {
            eprintln!("gnip-stream: {m}");
            return code;
        }
    };
    if a.recovery {
        return super::replay::run_recovery(&a, config);
    }
    if a.range.is_some() {
        return super::replay::run(&a, config);
    }
    let out = Arc::new(Out::new(a.max_records, a.count));
    let o = Arc::clone(&out);
    let handler = move |d: &Delivery<'_>| o.deliver(d);
    let running = match Client::start_observed(config, handler, Some(Arc::new(print_event))) {
        Ok(r) => r,
        Err(e) => return start_error(&e),
    };
    let interval = a
        .stats_interval
        .unwrap_or(if std::io::stderr().is_terminal() {
            Duration::from_secs(10)
        } else {
            Duration::ZERO
        });
    let started = Instant::now();
    supervise(
        &running,
        Some(&out),
        interval,
        started,
        |r| stats_line(started.elapsed(), &r.stats()),
        false,
        || {},
    );
    let reports = running.join();
    out.flush(true);
    if !interval.is_zero() {
        let stats: Vec<StatsSnapshot> = reports.iter().map(|r| r.stats.clone()).collect();
        eprintln!("{}", stats_line(started.elapsed(), &stats));
    }
    let deduped = !a.no_dedupe && (a.redundant >= 2 || a.backfill_minutes > 0);
    if deduped && a.range.is_none() {
        for r in &reports {
            eprintln!("{}", dedupe_line(&r.stats, a.redundant));
        }
    }
    for r in &reports {
        if let Some(s) = &r.replay {
            eprintln!(
                "gnip-stream: {} (activity_count {:?})",
                s.message, s.activity_count
            );
            for m in &s.minutes_failed {
                eprintln!("gnip-stream: minute failed, request it again: {m}");
            }
            if let Some((from, to)) = &s.unprocessed_range {
                eprintln!("gnip-stream: unprocessed range, request it again: {from} to {to}");
            }
        }
        if let Some(e) = &r.error {
            if r.ending != Ending::Stopped {
                eprintln!(
                    "gnip-stream: partition {} stopped ({}): {e}",
                    r.partition,
                    r.ending.name()
                );
            }
        }
    }
    if a.count {
        println!("records={}", out.count());
    }
    exit_code(&reports)
}

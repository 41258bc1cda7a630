//! Hand-written argument parsing for the `gnip-stream` command (no dependency: the flags are few
//! and fixed by contract).

use std::path::PathBuf;
use std::time::Duration;

use gnip_stream::Product;

/// A usage error: one line, and the command whose help to point at.
#[derive(Debug)]
pub struct Usage {
    pub message: String,
    pub command: &'static str,
}

fn usage(command: &'static str, message: impl Into<String>) -> Usage {
    Usage {
        message: message.into(),
        command,
    }
}

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
    pub max_records: Option<u64>,
    pub count: bool,
    pub ca_file: Option<PathBuf>,
    pub stats_interval: Option<Duration>,
}

#[derive(Debug, Clone)]
pub enum Command {
    Stream(StreamArgs),
    Demo {
        seconds: f64,
        rate: f64,
    },
    Simulate {
        listen: String,
        rate: Option<f64>,
        corpus: Option<PathBuf>,
        user: String,
        password: String,
    },
    Help(&'static str),
    Version,
}

pub const MAIN_HELP: &str = "\
gnip-stream: a client for the X (Twitter) enterprise streams (PowerTrack, Decahose/Firehose, Replay)

usage:
  gnip-stream stream --url URL [options]
  gnip-stream stream --product powertrack|decahose|firehose|compliance --account NAME --label NAME [--host URL] [options]
  gnip-stream replay (--url URL | --product … --account … --label …) --from YYYYMMDDHHMM --to YYYYMMDDHHMM [options]
  gnip-stream demo [--seconds N] [--rate RECORDS_PER_S]
  gnip-stream simulate [--listen ADDR] [--rate N] [--corpus DIR] [--user U --password P]

Credentials come from GNIP_USERNAME and GNIP_PASSWORD. Records go to stdout as NDJSON; system
messages, connection events and statistics to stderr. 'gnip-stream COMMAND --help' for more.
Exit status: 0 normal end, 2 usage error, 3 authentication refused (401), 4 other
non-retryable failure (406, other 4xx, TLS verification).";

pub const STREAM_HELP: &str = "\
gnip-stream stream: stream a live product to stdout, reconnecting as the service documents

usage:
  gnip-stream stream --url URL [options]
  gnip-stream stream --product powertrack|decahose|firehose|compliance --account NAME --label NAME [--host URL] [options]

  --url URL              the stream URL (no query); the product is read from its path
  --product P            powertrack, decahose, firehose or compliance
  --account NAME         the account name in the URL
  --label NAME           the stream label in the URL
  --host URL             scheme and host instead of https://gnip-stream.twitter.com
";

pub const REPLAY_HELP: &str = "\
gnip-stream replay: replay a past range to stdout; ends when the service says it is complete

usage:
  gnip-stream replay (--url URL | --product … --account … --label … [--host URL]) --from YYYYMMDDHHMM --to YYYYMMDDHHMM [options]

  --from YYYYMMDDHHMM    start, UTC, inclusive
  --to YYYYMMDDHHMM      end, UTC, exclusive
";

pub const OPTIONS_HELP: &str = "
options:
  --partition N          repeatable; one connection (thread) per partition; default: every
                         partition of the product (none for --url unless given)
  --backfill-minutes N   1..5: on reconnects, backfillMinutes sized to the gap, capped at N
  --stall-timeout SECS   default 35; decimals allowed (0.5)
  --max-records N        exit 0 after N records in total
  --count                write no records; at exit print one line `records=N`
  --ca-file PEM          extra trusted root certificates
  --stats-interval SECS  a statistics line on stderr every SECS (0 = off; default 10 when
                         stderr is a terminal, else 0)

Credentials: GNIP_USERNAME and GNIP_PASSWORD (never flags).
stdout: every activity and compliance record as received, one per line.
stderr: system messages, connection events, statistics.
Exit status: 0 normal end (max-records, Replay completed, SIGINT/SIGTERM), 2 usage error,
3 authentication refused (401), 4 other non-retryable failure (406, other 4xx, TLS).";

pub const DEMO_HELP: &str = "\
gnip-stream demo: the whole client against the built-in simulator, offline

usage:
  gnip-stream demo [--seconds N] [--rate RECORDS_PER_S]

Starts the simulator on loopback and streams Decahose (2 partitions) from it through the full
client path (HTTP, gzip, partitions, the decoder) for N seconds (default 10) at RECORDS_PER_S
(default 500), with a live statistics line, a few sample records and a summary. Needs no
network, no credentials and no files (it serves ../shared/corpus when present, else generated
records).";

pub const SIMULATE_HELP: &str = "\
gnip-stream simulate: run the simulator alone, until interrupted

usage:
  gnip-stream simulate [--listen ADDR] [--rate N] [--corpus DIR] [--user U --password P]

  --listen ADDR    address to bind (default 127.0.0.1:0, a free port; the URL is printed)
  --rate N         records per second per stream (default 100), or 'max' for as fast as read
  --corpus DIR     serve the *.ndjson records of DIR (default ../shared/corpus when present,
                   else generated records)
  --user U         the one valid user (default demo); with --password P (default demo)";

fn value<'a>(
    command: &'static str,
    flag: &str,
    it: &mut impl Iterator<Item = &'a String>,
) -> Result<&'a String, Usage> {
    it.next()
        .ok_or_else(|| usage(command, format!("{flag} needs a value")))
}

fn number<T: std::str::FromStr>(command: &'static str, flag: &str, v: &str) -> Result<T, Usage> {
    v.parse()
        .map_err(|_| usage(command, format!("{flag}: '{v}' is not a valid number")))
}

fn seconds(command: &'static str, flag: &str, v: &str, zero_ok: bool) -> Result<Duration, Usage> {
    let s: f64 = number(command, flag, v)?;
    if !s.is_finite() || s < 0.0 || (s == 0.0 && !zero_ok) || s > 1e7 {
        return Err(usage(
            command,
            format!("{flag}: '{v}' is not a usable number of seconds"),
        ));
    }
    Ok(Duration::from_secs_f64(s))
}

fn product(command: &'static str, v: &str) -> Result<Product, Usage> {
    match v {
        "powertrack" => Ok(Product::PowerTrack),
        "decahose" | "sample10" => Ok(Product::Decahose),
        "firehose" => Ok(Product::Firehose),
        "compliance" => Ok(Product::Compliance),
        _ => Err(usage(
            command,
            format!("--product: '{v}' is not one of powertrack, decahose, firehose, compliance"),
        )),
    }
}

/// Parses `args` (without the program name).
pub fn parse(args: &[String]) -> Result<Command, Usage> {
    let Some(cmd) = args.first() else {
        return Ok(Command::Help(""));
    };
    let rest = &args[1..];
    match cmd.as_str() {
        "-h" | "--help" | "help" => Ok(Command::Help("")),
        "-V" | "--version" => Ok(Command::Version),
        "stream" => parse_stream("stream", rest),
        "replay" => parse_stream("replay", rest),
        "demo" => parse_demo(rest),
        "simulate" => parse_simulate(rest),
        other => Err(usage("", format!("unknown command '{other}'"))),
    }
}

fn parse_stream(command: &'static str, args: &[String]) -> Result<Command, Usage> {
    let (mut url, mut product_, mut account, mut label, mut host) = (None, None, None, None, None);
    let (mut from, mut to) = (None, None);
    let mut a = StreamArgs {
        target: Target::Url(String::new()),
        range: None,
        partitions: Vec::new(),
        backfill_minutes: 0,
        stall_timeout: Duration::from_secs(35),
        max_records: None,
        count: false,
        ca_file: None,
        stats_interval: None,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let f = flag.as_str();
        match f {
            "-h" | "--help" => return Ok(Command::Help(command)),
            "--url" => url = Some(value(command, f, &mut it)?.clone()),
            "--product" => product_ = Some(product(command, value(command, f, &mut it)?)?),
            "--account" => account = Some(value(command, f, &mut it)?.clone()),
            "--label" => label = Some(value(command, f, &mut it)?.clone()),
            "--host" => host = Some(value(command, f, &mut it)?.clone()),
            "--from" if command == "replay" => from = Some(value(command, f, &mut it)?.clone()),
            "--to" if command == "replay" => to = Some(value(command, f, &mut it)?.clone()),
            "--partition" => {
                let p: u32 = number(command, f, value(command, f, &mut it)?)?;
                if p == 0 {
                    return Err(usage(
                        command,
                        "--partition: partitions are numbered from 1",
                    ));
                }
                a.partitions.push(p);
            }
            "--backfill-minutes" => {
                let v = value(command, f, &mut it)?;
                let m: u8 = number(command, f, v)?;
                if !(1..=5).contains(&m) {
                    return Err(usage(
                        command,
                        format!("--backfill-minutes: '{v}' must be 1 to 5"),
                    ));
                }
                a.backfill_minutes = m;
            }
            "--stall-timeout" => {
                a.stall_timeout = seconds(command, f, value(command, f, &mut it)?, false)?
            }
            "--max-records" => {
                let v = value(command, f, &mut it)?;
                let n: u64 = number(command, f, v)?;
                if n == 0 {
                    return Err(usage(command, "--max-records must be at least 1"));
                }
                a.max_records = Some(n);
            }
            "--count" => a.count = true,
            "--ca-file" => a.ca_file = Some(PathBuf::from(value(command, f, &mut it)?)),
            "--stats-interval" => {
                a.stats_interval = Some(seconds(command, f, value(command, f, &mut it)?, true)?)
            }
            other => return Err(usage(command, format!("unknown option '{other}'"))),
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
    if command == "replay" {
        let date = |flag: &str, v: Option<String>| -> Result<i64, Usage> {
            let v = v.ok_or_else(|| usage(command, format!("{flag} YYYYMMDDHHMM is required")))?;
            gnip_stream::time::parse_replay_date(&v).ok_or_else(|| {
                usage(
                    command,
                    format!("{flag}: '{v}' is not a date YYYYMMDDHHMM (UTC)"),
                )
            })
        };
        let (f, t) = (date("--from", from)?, date("--to", to)?);
        if f >= t {
            return Err(usage(command, "--from must be before --to"));
        }
        a.range = Some((f, t));
    }
    Ok(Command::Stream(a))
}

fn parse_demo(args: &[String]) -> Result<Command, Usage> {
    let (mut seconds_, mut rate) = (10.0, 500.0);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help("demo")),
            "--seconds" => {
                seconds_ =
                    seconds("demo", flag, value("demo", flag, &mut it)?, false)?.as_secs_f64()
            }
            "--rate" => {
                let v = value("demo", flag, &mut it)?;
                rate = number("demo", flag, v)?;
                if !(rate > 0.0 && rate <= 1e6) {
                    return Err(usage(
                        "demo",
                        format!("--rate: '{v}' must be above 0 and at most 1000000"),
                    ));
                }
            }
            other => return Err(usage("demo", format!("unknown option '{other}'"))),
        }
    }
    Ok(Command::Demo {
        seconds: seconds_,
        rate,
    })
}

fn parse_simulate(args: &[String]) -> Result<Command, Usage> {
    let (mut listen, mut rate, mut corpus) = ("127.0.0.1:0".to_owned(), Some(100.0), None);
    let (mut user, mut password) = (None, None);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let f = flag.as_str();
        match f {
            "-h" | "--help" => return Ok(Command::Help("simulate")),
            "--listen" => listen = value("simulate", f, &mut it)?.clone(),
            "--rate" => {
                let v = value("simulate", f, &mut it)?;
                rate = if v == "max" {
                    None
                } else {
                    Some(number("simulate", f, v)?)
                };
                if rate.is_some_and(|r| !(0.0..=1e6).contains(&r)) {
                    return Err(usage(
                        "simulate",
                        format!("--rate: '{v}' must be 0 to 1000000, or max"),
                    ));
                }
            }
            "--corpus" => corpus = Some(PathBuf::from(value("simulate", f, &mut it)?)),
            "--user" => user = Some(value("simulate", f, &mut it)?.clone()),
            "--password" => password = Some(value("simulate", f, &mut it)?.clone()),
            other => return Err(usage("simulate", format!("unknown option '{other}'"))),
        }
    }
    let (user, password) = match (user, password) {
        (Some(u), Some(p)) => (u, p),
        (None, None) => ("demo".to_owned(), "demo".to_owned()),
        _ => return Err(usage("simulate", "--user and --password go together")),
    };
    Ok(Command::Simulate {
        listen,
        rate,
        corpus,
        user,
        password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Command, Usage> {
        parse(&s.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
    }

    #[test]
    fn the_contract_parses() {
        let Ok(Command::Stream(a)) = p(
            "stream --url https://h/stream/firehose/accounts/a/publishers/twitter/l.json --partition 3 --partition 4 --backfill-minutes 5 --stall-timeout 0.5 --max-records 10 --count --ca-file x.pem --stats-interval 0",
        ) else {
            panic!()
        };
        assert_eq!(a.partitions, vec![3, 4]);
        assert_eq!(
            (a.backfill_minutes, a.stall_timeout, a.max_records, a.count),
            (5, Duration::from_millis(500), Some(10), true)
        );
        assert_eq!(a.stats_interval, Some(Duration::ZERO));
        let Ok(Command::Stream(a)) = p(
            "replay --product decahose --account a --label l --from 202611210000 --to 202611210100",
        ) else {
            panic!()
        };
        assert_eq!(a.range.map(|(f, t)| t - f), Some(3600));
        assert!(
            matches!(p("demo --seconds 2 --rate 50"), Ok(Command::Demo { seconds, rate }) if seconds == 2.0 && rate == 50.0)
        );
        assert!(matches!(
            p("simulate --rate max --user u --password p"),
            Ok(Command::Simulate { rate: None, .. })
        ));
        assert!(matches!(p("stream --help"), Ok(Command::Help("stream"))));
    }

    #[test]
    fn usage_errors_say_what_is_wrong() {
        for (args, says) in [
            ("stream", "missing the stream"),
            ("stream --url u --product firehose", "not both"),
            ("stream --product nope --account a --label l", "not one of"),
            ("stream --url u --backfill-minutes 6", "1 to 5"),
            ("stream --url u --stall-timeout -1", "seconds"),
            ("stream --url u --partition 0", "numbered from 1"),
            ("stream --url u --max-records 0", "at least 1"),
            ("stream --url u --from 202601010000", "unknown option"),
            ("replay --url u --from 2026 --to 202601010000", "not a date"),
            (
                "replay --url u --from 202601010100 --to 202601010000",
                "before",
            ),
            ("simulate --user u", "go together"),
            ("frobnicate", "unknown command"),
            ("stream --url", "needs a value"),
        ] {
            let e = p(args).unwrap_err();
            assert!(e.message.contains(says), "{args}: {}", e.message);
        }
    }
}

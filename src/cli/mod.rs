//! The `gnip-stream` command: one file per command (`stream.rs` serves `stream`, `replay.rs`
//! `replay` and `recover`, all three parsed in `stream_args.rs`; `rules.rs` (its arguments in `rules_args.rs`), `connections.rs`, `demo.rs`,
//! `simulate.rs`; with feature `jetstream`, `jetstream.rs` for `stream --jetstream` (its options
//! in `jetstream_args.rs`), `leased.rs` for its leases, `jetstream_tools.rs` for
//! `jetstream-init` and `publish`, what they share in `jetstream_delivery.rs`), argument
//! reading in `args.rs`, help texts in `help.rs`, stderr and exit
//! statuses in `report.rs`, stderr lines (text or JSON) in `stderr.rs`, signals in `signal.rs`, the counted heap in
//! `heap.rs`.

#[cfg(feature = "archive")]
mod archive;
#[cfg(feature = "archive")]
mod archive_args;
#[cfg(feature = "archive")]
mod archive_recovery;
pub mod args;
#[cfg(feature = "connections")]
mod connections;
#[cfg(feature = "simulator")]
mod demo;
mod flags;
pub mod heap;
mod help;
#[cfg(feature = "jetstream")]
mod jetstream;
#[cfg(feature = "jetstream")]
mod jetstream_args;
#[cfg(feature = "jetstream")]
mod jetstream_delivery;
#[cfg(feature = "jetstream")]
mod jetstream_state;
#[cfg(feature = "jetstream")]
mod jetstream_tools;
#[cfg(feature = "jetstream")]
mod leased;
mod monitor;
mod replay;
mod report;
mod rules;
mod rules_args;
pub mod signal;
#[cfg(feature = "simulator")]
mod simulate;
mod stderr;
mod stream;
mod stream_args;
mod supervise;

use args::Usage;

/// Exit statuses of the contract.
pub const OK: u8 = 0;
/// A usage error (also: no command at all).
pub const USAGE: u8 = 2;
/// The service refused the credentials (401).
pub const AUTH: u8 = 3;
/// Any other failure retrying cannot fix (406, other 4xx, TLS verification).
pub const FATAL: u8 = 4;
/// Rules rejected by the service (an add's 422, or invalid rules on validate).
pub const REJECTED: u8 = 5;
/// Replay or Recovery incomplete: minutes still failed after their re-request.
pub const INCOMPLETE: u8 = 6;

#[derive(Debug, Clone)]
pub enum Command {
    Stream(stream_args::StreamArgs),
    Rules(rules_args::RulesArgs),
    #[cfg(feature = "connections")]
    Connections(connections::ConnectionsArgs),
    #[cfg(feature = "simulator")]
    Demo {
        seconds: f64,
        rate: f64,
        /// `--api v2`.
        v2: bool,
    },
    #[cfg(feature = "simulator")]
    Simulate(simulate::SimulateArgs),
    #[cfg(feature = "jetstream")]
    JetStream(jetstream_tools::JsCommand),
    Help(&'static str),
    Version,
}

/// Parses `args` (without the program name). No command at all is a usage error: a script
/// that lost its command should fail loudly (`--help` and `help` print the help and succeed).
pub fn parse(args: &[String]) -> Result<Command, Usage> {
    let Some(cmd) = args.first() else {
        return Err(args::usage("", "no command given"));
    };
    let rest = &args[1..];
    match cmd.as_str() {
        "-h" | "--help" | "help" => Ok(Command::Help("")),
        "-V" | "--version" => Ok(Command::Version),
        "stream" => stream_args::parse("stream", rest),
        "replay" => stream_args::parse("replay", rest),
        "recover" => stream_args::parse("recover", rest),
        #[cfg(feature = "simulator")]
        "demo" => demo::parse(rest),
        #[cfg(feature = "simulator")]
        "simulate" => simulate::parse(rest),
        #[cfg(not(feature = "simulator"))]
        "demo" | "simulate" => Err(args::usage(
            "",
            format!(
                "'{cmd}' needs the simulator, and this build has none (an edge build: cargo feature `simulator` off)"
            ),
        )),
        "rules" => rules_args::parse(rest),
        #[cfg(feature = "connections")]
        "connections" => connections::parse(rest),
        #[cfg(not(feature = "connections"))]
        "connections" => Err(args::usage(
            "",
            "'connections' is not in this build (an edge build: cargo feature `connections` off)",
        )),
        #[cfg(feature = "jetstream")]
        "jetstream-init" => jetstream_tools::parse("jetstream-init", rest),
        #[cfg(feature = "jetstream")]
        "publish" => jetstream_tools::parse("publish", rest),
        other => Err(args::usage("", format!("unknown command '{other}'"))),
    }
}

/// A page: head, `options:` and the block the flag table writes, foot.
fn page<T>(page: &help::Page, table: &[flags::Flag<T>], command: Option<&str>) -> String {
    page_with(page, &flags::help(table, command))
}

/// A page around an options block.
fn page_with(page: &help::Page, options: &str) -> String {
    format!("{}\noptions:\n{options}{}", page.head, page.foot)
        .trim_end()
        .to_owned()
}

/// The help text of `which` ("" for the main help).
pub fn help(which: &str) -> String {
    match which {
        "stream" => {
            let text = page(&help::STREAM, stream_args::FLAGS, Some("stream"));
            #[cfg(feature = "archive")]
            let text = format!(
                "{text}\n{}{}{}",
                help::STREAM_ARCHIVE.head,
                flags::help(archive_args::FLAGS, Some("stream")),
                help::STREAM_ARCHIVE.foot
            );
            #[cfg(feature = "jetstream")]
            let text = format!(
                "{text}\n{}{}{}",
                help::STREAM_JETSTREAM.head,
                flags::help(jetstream_args::FLAGS, Some("stream")),
                help::STREAM_JETSTREAM.foot
            );
            text
        }
        "replay" => page(&help::REPLAY, stream_args::FLAGS, Some("replay")),
        "recover" => page(&help::RECOVER, stream_args::FLAGS, Some("recover")),
        #[cfg(feature = "simulator")]
        "demo" => page(&help::DEMO, demo::FLAGS, None),
        #[cfg(feature = "simulator")]
        "simulate" => page(&help::SIMULATE, simulate::FLAGS, None),
        "rules" => page(&help::RULES, rules_args::FLAGS, None),
        #[cfg(feature = "connections")]
        "connections" => page(&help::CONNECTIONS, connections::FLAGS, None),
        #[cfg(feature = "jetstream")]
        "jetstream-init" | "publish" => page_with(
            if which == "publish" {
                &help::PUBLISH
            } else {
                &help::JETSTREAM_INIT
            },
            &format!(
                "{}{}",
                flags::help(jetstream_args::FLAGS, Some(which)),
                flags::help(jetstream_tools::FLAGS, Some(which))
            ),
        ),
        #[cfg(feature = "jetstream")]
        _ => format!("{}{}", help::MAIN_HELP, help::JETSTREAM_MAIN_HELP),
        #[cfg(not(feature = "jetstream"))]
        _ => help::MAIN_HELP.to_owned(),
    }
}

/// Runs a parsed command; returns the exit status.
pub fn run(command: Command) -> u8 {
    match command {
        Command::Help(which) => {
            println!("{}", help(which));
            OK
        }
        Command::Version => {
            println!("gnip-stream {}", env!("CARGO_PKG_VERSION"));
            OK
        }
        Command::Stream(a) => stream::run(a),
        Command::Rules(a) => rules::run(a),
        #[cfg(feature = "connections")]
        Command::Connections(a) => connections::run(a),
        #[cfg(feature = "jetstream")]
        Command::JetStream(c) => jetstream_tools::run(c),
        #[cfg(feature = "simulator")]
        Command::Demo { seconds, rate, v2 } => demo::run(seconds, rate, v2),
        #[cfg(feature = "simulator")]
        Command::Simulate(a) => simulate::run(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(feature = "simulator")]
    use std::time::Duration;

    fn p(s: &str) -> Result<Command, Usage> {
        parse(&s.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
    }

    #[test]
    #[cfg(feature = "simulator")]
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
        let Ok(Command::Stream(a)) = p("stream --url=u --connect-timeout=2.5") else {
            panic!()
        };
        assert_eq!(a.connect_timeout, Duration::from_millis(2500));
        let Ok(Command::Stream(a)) = p(
            "replay --product decahose --account a --label l --from 202611210000 --to 202611210100",
        ) else {
            panic!()
        };
        assert_eq!(a.range.map(|(f, t)| t - f), Some(3600));
        assert!(
            matches!(p("demo --seconds 2 --rate 50"), Ok(Command::Demo { seconds, rate, v2: false }) if seconds == 2.0 && rate == 50.0)
        );
        assert!(matches!(
            p("simulate --rate max --user u --password p"),
            Ok(Command::Simulate(simulate::SimulateArgs { rate: None, .. }))
        ));
        assert!(matches!(p("stream --help"), Ok(Command::Help("stream"))));
        assert!(matches!(p("--help"), Ok(Command::Help(""))));
        assert_eq!(p("").unwrap_err().message, "no command given");
    }

    #[test]
    fn usage_errors_say_what_is_wrong() {
        for (args, says) in [
            ("stream", "missing the stream"),
            ("stream --url u --product firehose", "not both"),
            ("stream --product nope --account a --label l", "not one of"),
            ("stream --url u --backfill-minutes 6", "1 to 5"),
            ("stream --url u --connect-timeout 0", "seconds"),
            ("stream --url u --count=1", "takes no value"),
            ("stream --url u stray", "unexpected argument"),
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

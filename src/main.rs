//! `gnip-stream`: stream, replay, demo and simulate from the command line.

mod cli;

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match cli::args::parse(&args) {
        Ok(c) => c,
        Err(u) => {
            let cmd = if u.command.is_empty() {
                String::new()
            } else {
                format!(" {}", u.command)
            };
            eprintln!("gnip-stream: {}; try 'gnip-stream{cmd} --help'", u.message);
            return ExitCode::from(2);
        }
    };
    cli::signal::install();
    let code = match command {
        cli::args::Command::Help(which) => {
            let text = match which {
                "stream" => format!("{}{}", cli::args::STREAM_HELP, cli::args::OPTIONS_HELP),
                "replay" => format!("{}{}", cli::args::REPLAY_HELP, cli::args::OPTIONS_HELP),
                "demo" => cli::args::DEMO_HELP.to_owned(),
                "simulate" => cli::args::SIMULATE_HELP.to_owned(),
                _ => cli::args::MAIN_HELP.to_owned(),
            };
            println!("{text}");
            0
        }
        cli::args::Command::Version => {
            println!("gnip-stream {}", env!("CARGO_PKG_VERSION"));
            0
        }
        cli::args::Command::Stream(a) => cli::run::stream(a),
        cli::args::Command::Demo { seconds, rate } => cli::run::demo(seconds, rate),
        cli::args::Command::Simulate {
            listen,
            rate,
            corpus,
            user,
            password,
        } => cli::run::simulate(&listen, rate, corpus, &user, &password),
    };
    let _ = std::io::stdout().flush();
    ExitCode::from(code)
}

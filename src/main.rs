//! `gnip-stream`: stream, replay, demo and simulate from the command line.

mod cli;

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match cli::parse(&args) {
        Ok(c) => c,
        Err(u) => {
            let cmd = if u.command.is_empty() {
                String::new()
            } else {
                format!(" {}", u.command)
            };
            eprintln!("gnip-stream: {}; try 'gnip-stream{cmd} --help'", u.message);
            if args.is_empty() {
                eprintln!("\n{}", cli::help(""));
            }
            return ExitCode::from(cli::USAGE);
        }
    };
    cli::signal::install();
    let code = cli::run(command);
    let _ = std::io::stdout().flush();
    ExitCode::from(code)
}

//! `gnip-stream`: stream, replay, demo and simulate from the command line.

// The command's printing never panics: Rust ignores SIGPIPE, so a reader that went away
// (`gnip-stream stream … 2>&1 | head -1`) makes every write fail with EPIPE, and std's macros
// would panic (exit 101). These shadow them for the whole command (audit L6): a failed write
// is dropped, and the command ends as it would have (exit 0 for a closed stdout).
macro_rules! println {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}
macro_rules! eprintln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}
macro_rules! eprint {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($t)*);
    }};
}

mod cli;

use std::io::Write;
use std::process::ExitCode;

/// Counts the heap for `/metrics` (`cli/heap.rs`).
#[global_allocator]
static HEAP: cli::heap::Counting = cli::heap::Counting;

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

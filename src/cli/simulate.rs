//! `gnip-stream simulate`: the simulator alone, until SIGINT or SIGTERM.

use std::io::Write;
use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::time::Duration;

use gnip_stream::Product;
use gnip_stream::simulator::{Rate, RecordSource, Simulator, SimulatorConfig};

use super::args::{Arg, Args, Usage, number, usage};
use super::signal;
use super::{Command, FATAL, OK, USAGE};

/// Parses the arguments of `simulate`.
pub fn parse(args: &[String]) -> Result<Command, Usage> {
    let (mut listen, mut rate, mut corpus) = ("127.0.0.1:0".to_owned(), Some(100.0), None);
    let (mut user, mut password) = (None, None);
    let mut it = Args::new("simulate", args);
    while let Some(arg) = it.next()? {
        let Arg::Flag(f) = arg else {
            return Err(it.unknown(arg));
        };
        match f {
            "-h" | "--help" => return Ok(Command::Help("simulate")),
            "--listen" => listen = it.value(f)?.to_owned(),
            "--rate" => {
                let v = it.value(f)?;
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
            "--corpus" => corpus = Some(PathBuf::from(it.value(f)?)),
            "--user" => user = Some(it.value(f)?.to_owned()),
            "--password" => password = Some(it.value(f)?.to_owned()),
            _ => return Err(it.unknown(arg)),
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

/// `simulate`: the simulator alone until SIGINT/SIGTERM.
pub fn run(
    listen: &str,
    rate: Option<f64>,
    corpus: Option<PathBuf>,
    user: &str,
    password: &str,
) -> u8 {
    let addr = match listen.to_socket_addrs().ok().and_then(|mut a| a.next()) {
        Some(a) => a,
        None => {
            eprintln!(
                "gnip-stream: --listen: '{listen}' is not an address; try 'gnip-stream simulate --help'"
            );
            return USAGE;
        }
    };
    let source = match corpus {
        Some(dir) => match RecordSource::corpus(&dir) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("gnip-stream: --corpus {}: {e}", dir.display());
                return USAGE;
            }
        },
        None => RecordSource::auto(),
    };
    let rate = rate.map_or(Rate::Unlimited, Rate::PerSecond);
    let config = SimulatorConfig::default()
        .listen(addr)
        .credentials(user, password)
        .rate(rate)
        .source(source);
    let sim = match Simulator::start(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gnip-stream: cannot listen on {addr}: {e}");
            return FATAL;
        }
    };
    println!(
        "simulator listening on {} (user {user}; {})",
        sim.base_url(),
        sim.source().description()
    );
    for product in Product::ALL {
        let url = sim.stream_url(product, "acme", "prod");
        let name = format!("{product:?}:");
        match product.partitions() {
            Some(n) => println!("  {name:<11} {url}?partition=1  (1..{n})"),
            None => println!("  {name:<11} {url}"),
        }
    }
    println!(
        "  Replay:     {}?fromDate=YYYYMMDDHHMM&toDate=YYYYMMDDHHMM",
        sim.replay_url(Product::PowerTrack, "acme", "prod")
    );
    println!(
        "try: curl --compressed -u {user}:PASSWORD '{}'",
        sim.stream_url(Product::PowerTrack, "acme", "prod")
    );
    println!("stop with Ctrl-C");
    let _ = std::io::stdout().flush();
    while !signal::received() {
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "gnip-stream: stopping the simulator ({} requests served)",
        sim.requests().len()
    );
    sim.shutdown();
    OK
}

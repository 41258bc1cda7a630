//! `gnip-stream simulate`: the simulator alone, until SIGINT or SIGTERM.

use std::io::Write;
use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::time::Duration;

use gnip_stream::Product;
use gnip_stream::simulator::{DEMO_BEARER_TOKEN, Rate, RecordSource, Simulator, SimulatorConfig};
use gnip_stream::unversioned::protocol::dialect::Dialect;
use gnip_stream::unversioned::protocol::v2::products::V2Product;

use super::args::{Args, Usage, number, usage};
use super::flags::{self, Flag, Parsed};
use super::signal;
use super::stream::read_credentials;
use super::{Command, FATAL, OK, USAGE};

/// Parses the arguments of `simulate`.
/// What the flags of `simulate` gather.
#[derive(Debug, Clone)]
pub struct SimulateArgs {
    pub listen: String,
    pub rate: Option<f64>,
    pub corpus: Option<PathBuf>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub clock_back: Duration,
    /// `--api v2`: print the X API v2 endpoints (it serves both dialects either way).
    pub v2: bool,
    pub bearer_token: String,
}

/// Where `simulate` listens, and how fast it publishes, unless told otherwise.
const DEFAULT_LISTEN: &str = "127.0.0.1:0";
const DEFAULT_RATE: f64 = 100.0;

/// The flags of `simulate`.
pub const FLAGS: &[Flag<SimulateArgs>] = &[
    Flag {
        name: "--listen",
        value: Some("ADDR"),
        default: Some(|| DEFAULT_LISTEN.to_owned()),
        help: "address to bind (port 0: a free port; the URL is printed)",
        only: &[],
        set: |s, it, f| {
            s.listen = it.value(f)?.to_owned();
            Ok(())
        },
    },
    Flag {
        name: "--rate",
        value: Some("N"),
        default: Some(|| DEFAULT_RATE.to_string()),
        help: "records per second per stream, or 'max' for as fast as read",
        only: &[],
        set: |s, it, f| {
            let v = it.value(f)?;
            s.rate = if v == "max" {
                None
            } else {
                Some(number("simulate", f, v)?)
            };
            if s.rate.is_some_and(|r| !(0.0..=1e6).contains(&r)) {
                return Err(usage(
                    "simulate",
                    format!("--rate: '{v}' must be 0 to 1000000, or max"),
                ));
            }
            Ok(())
        },
    },
    Flag {
        name: "--corpus",
        value: Some("DIR"),
        default: None,
        help: "serve the *.ndjson records of DIR (default ../shared/corpus when present, else generated records)",
        only: &[],
        set: |s, it, f| {
            s.corpus = Some(PathBuf::from(it.value(f)?));
            Ok(())
        },
    },
    Flag {
        name: "--clock-back",
        value: Some("DURATION"),
        default: None,
        help: "start the clock this far behind the machine's (10s, 5m, 1h, 1d): records carry old times, so a client's checkpoint is old without waiting",
        only: &[],
        set: |s, it, f| {
            s.clock_back = it.duration(f, Duration::ZERO)?;
            Ok(())
        },
    },
    Flag {
        name: "--api",
        value: Some("API"),
        default: Some(|| "gnip".to_owned()),
        help: "which endpoints to list: gnip or v2 (both are served either way)",
        only: &[],
        set: |s, it, f| {
            s.v2 = match it.value(f)? {
                "gnip" => false,
                "v2" => true,
                v => {
                    return Err(usage(
                        "simulate",
                        format!("--api: '{v}' is not one of gnip, v2"),
                    ));
                }
            };
            Ok(())
        },
    },
    Flag {
        name: "--bearer-token",
        value: Some("T"),
        default: Some(|| DEMO_BEARER_TOKEN.to_owned()),
        help: "the one valid X API v2 bearer token",
        only: &[],
        set: |s, it, f| {
            s.bearer_token = it.value(f)?.to_owned();
            Ok(())
        },
    },
    Flag {
        name: "--user",
        value: Some("U"),
        default: Some(|| "demo".to_owned()),
        help: "the one valid user, with --password",
        only: &[],
        set: |s, it, f| {
            s.user = Some(it.value(f)?.to_owned());
            Ok(())
        },
    },
    Flag {
        name: "--password",
        value: Some("P"),
        default: Some(|| "demo".to_owned()),
        help: "its password, with --user (on loopback; off loopback credentials come from GNIP_USERNAME, GNIP_PASSWORD and X_BEARER_TOKEN, never the demo ones)",
        only: &[],
        set: |s, it, f| {
            s.password = Some(it.value(f)?.to_owned());
            Ok(())
        },
    },
];

pub fn parse(args: &[String]) -> Result<Command, Usage> {
    let mut s = SimulateArgs {
        listen: DEFAULT_LISTEN.to_owned(),
        rate: Some(DEFAULT_RATE),
        corpus: None,
        user: None,
        password: None,
        clock_back: Duration::ZERO,
        v2: false,
        bearer_token: DEMO_BEARER_TOKEN.to_owned(),
    };
    let mut it = Args::new("simulate", args);
    if let Parsed::Help = flags::read(&mut it, "simulate", FLAGS, &mut s, &[], false)? {
        return Ok(Command::Help("simulate"));
    }
    if s.user.is_some() != s.password.is_some() {
        return Err(usage("simulate", "--user and --password go together"));
    }
    Ok(Command::Simulate(s))
}

/// `simulate`: the simulator alone until SIGINT/SIGTERM.
pub fn run(a: SimulateArgs) -> u8 {
    let SimulateArgs {
        listen,
        rate,
        corpus,
        user,
        password,
        clock_back,
        v2,
        bearer_token,
    } = a;
    let listen = listen.as_str();
    let addr = match listen.to_socket_addrs().ok().and_then(|mut a| a.next()) {
        Some(a) => a,
        None => {
            eprintln!(
                "gnip-stream: --listen: '{listen}' is not an address; try 'gnip-stream simulate --help'"
            );
            return USAGE;
        }
    };
    let (user, password, bearer_token) = match credentials(addr, user, password, bearer_token) {
        Ok(c) => c,
        Err(why) => {
            eprintln!("gnip-stream: simulate --listen {addr}: {why}");
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
        .credentials(&user, &password)
        .bearer_token(&bearer_token)
        .clock_back(clock_back)
        .rate(rate)
        .source(source);
    let sim = match Simulator::start(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gnip-stream: cannot listen on {addr}: {e}");
            return FATAL;
        }
    };
    if v2 {
        println!(
            "simulator listening on {} (X API v2: bearer token {bearer_token}; {})",
            sim.base_url(),
            sim.source().description()
        );
        for p in V2Product::ALL {
            let url = format!("{}{}", sim.base_url(), p.path());
            match p.partitions() {
                Some(n) => println!("  {:<17} {url}?partition=1  (1..{n})", p.name()),
                None => println!("  {:<17} {url}", p.name()),
            }
        }
        println!(
            "  rules:            {}/2/tweets/search/stream/rules",
            sim.base_url()
        );
        println!("  connections:      {}/2/connections", sim.base_url());
        println!(
            "try: X_BEARER_TOKEN={bearer_token} gnip-stream stream --api v2 --product decahose --host {}",
            sim.base_url()
        );
        println!("stop with Ctrl-C");
    } else {
        print_gnip(&sim, &user);
    }
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

/// The Gnip endpoints of a running simulator, on stdout.
fn print_gnip(sim: &Simulator, user: &str) {
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
}

/// The credentials the simulator accepts. On loopback: the flags', else the demo ones. Off
/// loopback (audit L13) anyone on the network can try them, so the public demo credentials
/// and secrets given as flags (visible in `ps`) are refused: they come from GNIP_USERNAME and
/// GNIP_PASSWORD, and X_BEARER_TOKEN, in the environment.
fn credentials(
    addr: std::net::SocketAddr,
    user: Option<String>,
    password: Option<String>,
    bearer_token: String,
) -> Result<(String, String, String), String> {
    if addr.ip().is_loopback() {
        return Ok((
            user.unwrap_or_else(|| "demo".into()),
            password.unwrap_or_else(|| "demo".into()),
            bearer_token,
        ));
    }
    if password.is_some() || bearer_token != DEMO_BEARER_TOKEN {
        return Err(
            "off loopback, credentials are not flags (ps shows them): set GNIP_USERNAME, GNIP_PASSWORD and X_BEARER_TOKEN".into(),
        );
    }
    // Read as the clients read them (one place), none of them blank.
    let gnip = read_credentials(Dialect::Gnip)
        .ok()
        .filter(|(u, p)| !u.trim().is_empty() && !p.trim().is_empty());
    let token = read_credentials(Dialect::V2).ok().map(|(_, t)| t);
    match (gnip, token) {
        (Some((u, p)), Some(t)) if p != "demo" && t != DEMO_BEARER_TOKEN => Ok((u, p, t)),
        _ => Err(
            "off loopback the demo credentials are refused: set GNIP_USERNAME, GNIP_PASSWORD and X_BEARER_TOKEN (not the demo ones) in the environment".into(),
        ),
    }
}

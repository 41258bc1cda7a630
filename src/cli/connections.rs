//! `gnip-stream connections list|kill`: the X API v2 Connections API — list an App's stream
//! connections as NDJSON, or kill them (all, by endpoint, by uuid) to clear
//! `TooManyConnections`.

use std::path::PathBuf;

use gnip_stream::Error;
use gnip_stream::client::ConnectionsClient;
use gnip_stream::unversioned::protocol::dialect::Dialect;
use gnip_stream::unversioned::protocol::v2::connections::{Kill, Status, endpoint_id};
use gnip_stream::unversioned::protocol::v2::products::{V2_HOST, V2Product};

use super::args::{Args, Usage, usage};
use super::flags::{self, Flag, Parsed};
use super::stream::credentials;
use super::{AUTH, Command, FATAL, OK, USAGE};

/// What the flags of `connections` gather.
#[derive(Debug, Clone, Default)]
pub struct ConnectionsArgs {
    pub kill: bool,
    pub host: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub status: Option<Status>,
    pub all: bool,
    pub endpoint: Option<String>,
    pub uuids: Vec<String>,
    api: Option<Dialect>,
}

const LIST: &[&str] = &["connections list"];
const KILL: &[&str] = &["connections kill"];

/// The flags of `connections`.
pub const FLAGS: &[Flag<ConnectionsArgs>] = &[
    Flag {
        name: "--api",
        value: Some("API"),
        default: Some(|| "v2".to_owned()),
        help: "v2 (the Connections API is X API v2 only)",
        only: &[],
        set: |a, it, f| {
            let v = it.value(f)?;
            a.api = Some(Dialect::from_name(v).ok_or_else(|| {
                usage(
                    "connections",
                    format!("--api: '{v}' is not one of gnip, v2"),
                )
            })?);
            Ok(())
        },
    },
    Flag {
        name: "--host",
        value: Some("URL"),
        default: Some(|| V2_HOST.to_owned()),
        help: "scheme and host of the X API",
        only: &[],
        set: |a, it, f| {
            a.host = Some(it.value(f)?.to_owned());
            Ok(())
        },
    },
    Flag {
        name: "--ca-file",
        value: Some("PEM"),
        default: None,
        help: "trusted root certificates instead of the built-in (or the system's) ones",
        only: &[],
        set: |a, it, f| {
            a.ca_file = Some(PathBuf::from(it.value(f)?));
            Ok(())
        },
    },
    Flag {
        name: "--status",
        value: Some("S"),
        default: Some(|| "active".to_owned()),
        help: "list: active, inactive or all",
        only: LIST,
        set: |a, it, f| {
            let v = it.value(f)?;
            a.status = Some(Status::from_name(v).ok_or_else(|| {
                usage(
                    "connections",
                    format!("--status: '{v}' is not one of active, inactive, all"),
                )
            })?);
            Ok(())
        },
    },
    Flag {
        name: "--all",
        value: None,
        default: None,
        help: "kill: every connection of the App",
        only: KILL,
        set: |a, _, _| {
            a.all = true;
            Ok(())
        },
    },
    Flag {
        name: "--endpoint",
        value: Some("NAME"),
        default: None,
        help: "kill: every connection to one endpoint: a product (decahose, firehose-en, …) or the service's endpoint id (sample10_stream)",
        only: KILL,
        set: |a, it, f| {
            a.endpoint = Some(it.value(f)?.to_owned());
            Ok(())
        },
    },
    Flag {
        name: "--uuid",
        value: Some("UUID"),
        default: None,
        help: "kill: this connection (repeatable, at most 100)",
        only: KILL,
        set: |a, it, f| {
            a.uuids.push(it.value(f)?.to_owned());
            Ok(())
        },
    },
];

/// Parses `connections list|kill …`.
pub fn parse(args: &[String]) -> Result<Command, Usage> {
    let verb = args.first().map(String::as_str);
    let (kill, command) = match verb {
        Some("list") => (false, "connections list"),
        Some("kill") => (true, "connections kill"),
        Some("-h" | "--help") => return Ok(Command::Help("connections")),
        Some(v) => return Err(usage("connections", format!("'{v}' is not list or kill"))),
        None => return Err(usage("connections", "list or kill?")),
    };
    let mut a = ConnectionsArgs {
        kill,
        ..ConnectionsArgs::default()
    };
    let mut it = Args::new("connections", &args[1..]);
    if let Parsed::Help = flags::read(&mut it, command, FLAGS, &mut a, &[], false)? {
        return Ok(Command::Help("connections"));
    }
    if a.api == Some(Dialect::Gnip) {
        return Err(usage(
            "connections",
            "the Connections API is X API v2 only: drop --api gnip",
        ));
    }
    if kill {
        let targets = usize::from(a.all)
            + usize::from(a.endpoint.is_some())
            + usize::from(!a.uuids.is_empty());
        if targets != 1 {
            return Err(usage(
                "connections",
                "kill needs exactly one of --all, --endpoint NAME, --uuid UUID...",
            ));
        }
        if let Some(e) = &a.endpoint {
            if endpoint_id(e).is_none() {
                let names: Vec<&str> = V2Product::ALL.iter().map(|p| p.name()).collect();
                return Err(usage(
                    "connections",
                    format!(
                        "--endpoint: '{e}' is neither a product ({}) nor an endpoint id (sample10_stream, …)",
                        names.join(", ")
                    ),
                ));
            }
        }
        if a.uuids.len() > 100 {
            return Err(usage("connections", "--uuid: at most 100 per request"));
        }
    }
    Ok(Command::Connections(a))
}

/// Runs `connections`.
pub fn run(a: ConnectionsArgs) -> u8 {
    let Some((_, token)) = credentials(Dialect::V2) else {
        return USAGE;
    };
    let host = a.host.clone().unwrap_or_else(|| V2_HOST.to_owned());
    let client = match ConnectionsClient::new(&host, &token, a.ca_file.clone()) {
        Ok(c) => c,
        Err(e) => return failed(&e),
    };
    if !a.kill {
        return match client.list(a.status.unwrap_or(Status::Active)) {
            Ok(lines) => {
                for l in lines {
                    println!("{l}");
                }
                OK
            }
            Err(e) => failed(&e),
        };
    }
    let what = if a.all {
        Kill::All
    } else if let Some(e) = a.endpoint.as_deref().and_then(endpoint_id) {
        Kill::Endpoint(e)
    } else {
        Kill::Uuids(a.uuids.clone())
    };
    match client.kill(&what) {
        Ok((killed, failed_kills)) => {
            println!("killed {killed}, failed {failed_kills}");
            if failed_kills == 0 { OK } else { FATAL }
        }
        Err(e) => failed(&e),
    }
}

fn failed(e: &Error) -> u8 {
    eprintln!(
        "gnip-stream: connections: {}",
        super::stderr::printable(&e.to_string())
    );
    match e {
        Error::Http { status: 401, .. } => AUTH,
        Error::BadInput { .. } | Error::InsecureTransport { .. } => USAGE,
        _ => FATAL,
    }
}

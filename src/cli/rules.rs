//! `gnip-stream rules list|add|delete|validate|sync`: a stream's PowerTrack rules from the
//! command line, through the library's `RulesClient`.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use gnip_stream::Error;
use gnip_stream::client::{RulesClient, RulesConfig};
use gnip_stream::unversioned::protocol::policy::DEFAULT_CONNECT_TIMEOUT;
use gnip_stream::unversioned::protocol::rules::{self, Rule, RuleSet};

use super::args::{Args, Usage, usage};
use super::flags::{self, Flag, Parsed, secs};
use super::supervise::within_signal;
use super::{AUTH, Command, FATAL, OK, REJECTED, USAGE, signal};

/// Where the rules are.
#[derive(Debug, Clone)]
pub enum RulesTarget {
    Url(String),
    Named {
        set: RuleSet,
        account: String,
        label: String,
        host: Option<String>,
    },
}

/// Rules given on the command line, or a file of them (`-`: stdin).
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Values(Vec<String>),
    File(String),
}

/// What to delete.
#[derive(Debug, Clone, PartialEq)]
pub enum Deletion {
    Values(Vec<String>),
    Ids(Vec<u64>),
    File(String),
    All,
}

/// The verb and its own arguments.
#[derive(Debug, Clone, PartialEq)]
pub enum Verb {
    List,
    Add {
        tag: Option<String>,
        source: Source,
    },
    Delete(Deletion),
    Validate(Source),
    Sync {
        file: String,
        dry_run: bool,
        /// `--allow-empty`: a file without rules may delete every rule.
        allow_empty: bool,
    },
}

/// Options of `rules`.
#[derive(Debug, Clone)]
pub struct RulesArgs {
    pub target: RulesTarget,
    pub verb: Verb,
    pub ca_file: Option<PathBuf>,
    pub connect_timeout: Duration,
}

const C: &str = "rules";

/// What the flags of `rules` gather before they are checked together.
#[derive(Default)]
pub struct Raw {
    url: Option<String>,
    set: Option<RuleSet>,
    account: Option<String>,
    label: Option<String>,
    host: Option<String>,
    tag: Option<String>,
    file: Option<String>,
    ids: Vec<u64>,
    all: bool,
    dry_run: bool,
    allow_empty: bool,
    ca_file: Option<PathBuf>,
    connect_timeout: Duration,
}

/// The flags of `rules` (the verbs that take each in `only`), in the order `--help` shows them.
pub const FLAGS: &[Flag<Raw>] = &[
    Flag {
        name: "--url",
        value: Some("RULES_URL"),
        default: None,
        help: "the rules URL",
        only: &[],
        set: |r, it, f| {
            r.url = Some(it.value(f)?.to_owned());
            Ok(())
        },
    },
    Flag {
        name: "--product",
        value: Some("SET"),
        default: None,
        help: "powertrack or powertrack-replay",
        only: &[],
        set: |r, it, f| {
            let v = it.value(f)?;
            r.set = Some(match v {
                "powertrack" => RuleSet::PowerTrack,
                "powertrack-replay" => RuleSet::PowerTrackReplay,
                _ => {
                    return Err(usage(
                        C,
                        format!("--product: '{v}' is not powertrack or powertrack-replay"),
                    ));
                }
            });
            Ok(())
        },
    },
    Flag {
        name: "--account",
        value: Some("A"),
        default: None,
        help: "the account name in the URL",
        only: &[],
        set: |r, it, f| {
            r.account = Some(it.value(f)?.to_owned());
            Ok(())
        },
    },
    Flag {
        name: "--label",
        value: Some("L"),
        default: None,
        help: "the stream label in the URL",
        only: &[],
        set: |r, it, f| {
            r.label = Some(it.value(f)?.to_owned());
            Ok(())
        },
    },
    Flag {
        name: "--host",
        value: Some("URL"),
        default: Some(|| rules::RULES_HOST.to_owned()),
        help: "scheme and host, with --product",
        only: &[],
        set: |r, it, f| {
            r.host = Some(it.value(f)?.to_owned());
            Ok(())
        },
    },
    Flag {
        name: "--tag",
        value: Some("TAG"),
        default: None,
        help: "add: the tag of the VALUEs added",
        only: &["add"],
        set: |r, it, f| {
            r.tag = Some(it.value(f)?.to_owned());
            Ok(())
        },
    },
    Flag {
        name: "--file",
        value: Some("FILE"),
        default: None,
        help: "NDJSON, one {\"value\":…,\"tag\":…} a line (tag optional or null, id ignored, blank lines skipped), or one document {\"rules\":[…]}; - = stdin",
        only: &["add", "delete", "validate", "sync"],
        set: |r, it, f| {
            r.file = Some(it.value(f)?.to_owned());
            Ok(())
        },
    },
    Flag {
        name: "--id",
        value: Some("ID"),
        default: None,
        help: "delete: repeatable, delete by rule id",
        only: &["delete"],
        set: |r, it, f| {
            r.ids.push(it.number::<u64>(f)?);
            Ok(())
        },
    },
    Flag {
        name: "--all",
        value: None,
        default: None,
        help: "delete: every rule",
        only: &["delete"],
        set: |r, _, _| {
            r.all = true;
            Ok(())
        },
    },
    Flag {
        name: "--dry-run",
        value: None,
        default: None,
        help: "sync: print the plan (+ add, ~ retag, - delete) and send no write",
        only: &["sync"],
        set: |r, _, _| {
            r.dry_run = true;
            Ok(())
        },
    },
    Flag {
        name: "--allow-empty",
        value: None,
        default: None,
        help: "sync: a file with no rules deletes every rule (refused without it, exit 2)",
        only: &["sync"],
        set: |r, _, _| {
            r.allow_empty = true;
            Ok(())
        },
    },
    Flag {
        name: "--ca-file",
        value: Some("PEM"),
        default: None,
        help: "trusted root certificates instead of the built-in (or the system's) ones",
        only: &[],
        set: |r, it, f| {
            r.ca_file = Some(PathBuf::from(it.value(f)?));
            Ok(())
        },
    },
    Flag {
        name: "--connect-timeout",
        value: Some("SECS"),
        default: Some(|| secs(DEFAULT_CONNECT_TIMEOUT)),
        help: "each step of establishing a connection may take this long",
        only: &[],
        set: |r, it, f| {
            r.connect_timeout = it.seconds(f, false)?;
            Ok(())
        },
    },
];

/// Parses `rules VERB …`.
pub fn parse(args: &[String]) -> Result<Command, Usage> {
    let Some(verb) = args.first() else {
        return Err(usage(
            C,
            "missing the verb: list, add, delete, validate or sync",
        ));
    };
    let verb = match verb.as_str() {
        "-h" | "--help" | "help" => return Ok(Command::Help(C)),
        v @ ("list" | "add" | "delete" | "validate" | "sync") => v,
        other => {
            return Err(usage(
                C,
                format!("unknown verb '{other}': list, add, delete, validate or sync"),
            ));
        }
    };
    let mut raw = Raw {
        connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        ..Raw::default()
    };
    let mut values = Vec::new();
    let mut it = Args::new(C, &args[1..]);
    loop {
        match flags::read::<Raw, Raw>(&mut it, verb, FLAGS, &mut raw, None, true)? {
            Parsed::Done => break,
            Parsed::Help => return Ok(Command::Help(C)),
            Parsed::Positional(v) => values.push(v.to_owned()),
        }
    }
    let Raw {
        url,
        set,
        account,
        label,
        host,
        tag,
        file,
        ids,
        all,
        dry_run,
        allow_empty,
        ca_file,
        connect_timeout,
    } = raw;
    let target = match (url, set, account, label) {
        (Some(u), None, None, None) => {
            if host.is_some() {
                return Err(usage(C, "--host goes with --product, not with --url"));
            }
            RulesTarget::Url(u)
        }
        (None, Some(set), Some(account), Some(label)) => RulesTarget::Named {
            set,
            account,
            label,
            host,
        },
        (Some(_), ..) => {
            return Err(usage(
                C,
                "give either --url or --product/--account/--label, not both",
            ));
        }
        (None, ..) => {
            return Err(usage(
                C,
                "missing the rules: --url RULES_URL, or --product powertrack|powertrack-replay --account A --label L",
            ));
        }
    };
    let one_source = |values: Vec<String>, file: Option<String>| match (values.is_empty(), file) {
        (false, None) => Ok(Source::Values(values)),
        (true, Some(f)) => Ok(Source::File(f)),
        (false, Some(_)) => Err(usage(C, "give rule values or --file, not both")),
        (true, None) => Err(usage(
            C,
            format!("{verb}: give rule values, or --file FILE"),
        )),
    };
    let verb = match verb {
        "list" => {
            if !values.is_empty() {
                return Err(usage(C, "list takes no rule values"));
            }
            Verb::List
        }
        "add" => {
            let source = one_source(values, file)?;
            if tag.is_some() && matches!(source, Source::File(_)) {
                return Err(usage(
                    C,
                    "--tag goes with rule values; a file gives its own tags",
                ));
            }
            Verb::Add { tag, source }
        }
        "validate" => Verb::Validate(one_source(values, file)?),
        "sync" => {
            let Some(file) = file else {
                return Err(usage(C, "sync needs --file FILE"));
            };
            if !values.is_empty() {
                return Err(usage(C, "sync takes its rules from --file only"));
            }
            Verb::Sync {
                file,
                dry_run,
                allow_empty,
            }
        }
        _ => {
            let given = usize::from(!values.is_empty())
                + usize::from(!ids.is_empty())
                + usize::from(file.is_some())
                + usize::from(all);
            if given != 1 {
                return Err(usage(
                    C,
                    "delete: give exactly one of rule values, --id ID..., --file FILE or --all",
                ));
            }
            Verb::Delete(if all {
                Deletion::All
            } else if let Some(f) = file {
                Deletion::File(f)
            } else if !ids.is_empty() {
                Deletion::Ids(ids)
            } else {
                Deletion::Values(values)
            })
        }
    };
    Ok(Command::Rules(RulesArgs {
        target,
        verb,
        ca_file,
        connect_timeout,
    }))
}

/// A message from the service on one line (some end in `\n` or carry several lines).
fn one_line(m: &str) -> String {
    m.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Reads a rules file (`-`: stdin); a malformed one is a usage error naming the line.
fn read_rules(file: &str) -> Result<Vec<Rule>, (u8, String)> {
    let bytes = if file == "-" {
        let mut b = Vec::new();
        std::io::stdin()
            .read_to_end(&mut b)
            .map_err(|e| (USAGE, format!("cannot read the rules from stdin: {e}")))?;
        b
    } else {
        std::fs::read(file).map_err(|e| (USAGE, format!("cannot read {file}: {e}")))?
    };
    rules::parse_rules_file(&bytes).map_err(|e| (USAGE, format!("rules file {file}: {e}")))
}

fn rules_of(source: &Source, tag: Option<&str>) -> Result<Vec<Rule>, (u8, String)> {
    match source {
        Source::Values(v) => Ok(v.iter().map(|v| Rule::new(v, tag)).collect()),
        Source::File(f) => read_rules(f),
    }
}

/// The exit status for a failed call: 3 when the credentials were refused, else 4.
fn failed(e: &Error) -> (u8, String) {
    match e {
        Error::Http { status: 401, .. } => (AUTH, format!("authentication refused: {e}")),
        _ => (FATAL, e.to_string()),
    }
}

fn config(a: &RulesArgs, user: &str, password: &str) -> Result<RulesConfig, (u8, String)> {
    let c = match &a.target {
        RulesTarget::Url(u) => RulesConfig::url(u).map_err(|e| (USAGE, e.to_string()))?,
        RulesTarget::Named {
            set,
            account,
            label,
            host,
        } => {
            let c = RulesConfig::new(*set, account, label);
            match host {
                Some(h) => c.host(h),
                None => c,
            }
        }
    };
    let c = c
        .credentials(user, password)
        .connect_timeout(a.connect_timeout);
    Ok(match &a.ca_file {
        Some(ca) => c.ca_file(ca),
        None => c,
    })
}

/// `rules`: runs the verb; returns the exit status. A signal stops it within 2 s: the requests
/// made so far and their counts are said, and the status is 128 + the signal's number.
pub fn run(a: RulesArgs) -> u8 {
    let (client, wanted) = match prepare(&a) {
        Ok(p) => p,
        Err((code, message)) => {
            eprintln!("gnip-stream: {message}");
            return code;
        }
    };
    let client = Arc::new(client);
    let (c, stop) = (Arc::clone(&client), client.stop_handle());
    let done = within_signal(move || act(&a, &c, &wanted), move || stop.stop());
    if signal::received() {
        let p = client.progress();
        eprintln!(
            "gnip-stream: stopped by a signal after {} requests: created {}, deleted {}, rejected {}",
            p.requests, p.created, p.deleted, p.rejected
        );
        return signal::interrupted_status();
    }
    match done {
        Some(Ok(code)) => code,
        Some(Err((code, message))) => {
            eprintln!("gnip-stream: {message}");
            code
        }
        None => FATAL,
    }
}

/// The credentials, the rules to send (read before anything is sent: a bad file sends
/// nothing) and the client.
fn prepare(a: &RulesArgs) -> Result<(RulesClient, Vec<Rule>), (u8, String)> {
    let (Ok(user), Ok(password)) = (
        std::env::var("GNIP_USERNAME"),
        std::env::var("GNIP_PASSWORD"),
    ) else {
        return Err((
            USAGE,
            "set GNIP_USERNAME and GNIP_PASSWORD in the environment (credentials are never flags)"
                .into(),
        ));
    };
    // Read the rules before anything is sent: a bad file sends nothing.
    let wanted = match &a.verb {
        Verb::Add { tag, source } => Some(rules_of(source, tag.as_deref())?),
        Verb::Validate(source) => Some(rules_of(source, None)?),
        Verb::Sync { file, .. } => {
            let r = read_rules(file)?;
            Some(rules::check_unique(&r).map_err(|e| (USAGE, format!("rules file {file}: {e}")))?)
        }
        Verb::Delete(Deletion::File(f)) => Some(read_rules(f)?),
        _ => None,
    };
    let wanted = wanted.unwrap_or_default();
    let client = RulesClient::new(config(a, &user, &password)?).map_err(|e| match e {
        Error::InsecureTransport { .. } => (FATAL, e.to_string()),
        _ => (USAGE, e.to_string()),
    })?;
    Ok((client, wanted))
}

/// The verb, on the client.
fn act(a: &RulesArgs, client: &RulesClient, wanted: &[Rule]) -> Result<u8, (u8, String)> {
    match &a.verb {
        Verb::List => {
            let list = client.list().map_err(|e| failed(&e))?;
            let mut out = std::io::stdout().lock();
            for r in &list {
                let _ = writeln!(out, "{}", r.to_ndjson());
            }
            let _ = out.flush();
            eprintln!("gnip-stream: listed {} rules", list.len());
            Ok(OK)
        }
        Verb::Add { .. } => {
            let s = client.add(wanted).map_err(|e| failed(&e))?;
            for (r, m) in &s.rejected {
                eprintln!("gnip-stream: rejected: {:?}: {}", r.value, one_line(m));
            }
            if s.rejected.is_empty() {
                eprintln!(
                    "gnip-stream: created {}, already present {}",
                    s.created.len(),
                    s.already_present.len()
                );
                Ok(OK)
            } else {
                eprintln!(
                    "gnip-stream: created {} (in earlier batches), already present {}, rejected {}, not added {}",
                    s.created.len(),
                    s.already_present.len(),
                    s.rejected.len(),
                    s.not_sent_or_not_added
                );
                Ok(REJECTED)
            }
        }
        Verb::Delete(what) => {
            let s = match what {
                Deletion::Values(v) => client.delete_values(v),
                Deletion::File(_) => {
                    let values: Vec<String> = wanted.iter().map(|r| r.value.clone()).collect();
                    client.delete_values(&values)
                }
                Deletion::Ids(ids) => client.delete_ids(ids),
                Deletion::All => client.list().and_then(|list| {
                    let ids: Vec<u64> = list.iter().filter_map(|r| r.id).collect();
                    client.delete_ids(&ids)
                }),
            }
            .map_err(|e| failed(&e))?;
            for (what, m) in &s.failed {
                eprintln!("gnip-stream: not deleted: {what:?}: {}", one_line(m));
            }
            eprintln!("gnip-stream: deleted {}, absent {}", s.deleted, s.absent);
            Ok(if s.failed.is_empty() { OK } else { FATAL })
        }
        Verb::Validate(_) => {
            let v = client.validate(wanted).map_err(|e| failed(&e))?;
            for (r, m) in &v.invalid {
                eprintln!("gnip-stream: invalid: {:?}: {}", r.value, one_line(m));
            }
            eprintln!(
                "gnip-stream: valid {}, invalid {}",
                v.valid.len(),
                v.invalid.len()
            );
            Ok(if v.invalid.is_empty() { OK } else { REJECTED })
        }
        Verb::Sync {
            file,
            dry_run,
            allow_empty,
        } => {
            let plan = client.plan_sync(wanted).map_err(|e| failed(&e))?;
            if *dry_run {
                let mut out = std::io::stdout().lock();
                for line in plan.lines() {
                    let _ = writeln!(out, "{line}");
                }
                let _ = out.flush();
                eprintln!(
                    "gnip-stream: plan: {} (dry run: nothing sent)",
                    plan.summary()
                );
                return Ok(OK);
            }
            if wanted.is_empty() && !allow_empty && !plan.delete.is_empty() {
                // An empty or truncated file would silently empty the stream (audit M5).
                return Err((
                    USAGE,
                    format!(
                        "{file} has no rules: the sync would delete all {} rules of the stream; check the file, or give --allow-empty to do that",
                        plan.delete.len()
                    ),
                ));
            }
            eprintln!("gnip-stream: plan: {}", plan.summary());
            let s = client.apply(&plan).map_err(|e| failed(&e))?;
            for (r, m) in &s.added.rejected {
                eprintln!("gnip-stream: rejected: {:?}: {}", r.value, one_line(m));
            }
            eprintln!(
                "gnip-stream: created {}, already present {}, deleted {}, absent {}{}",
                s.added.created.len(),
                s.added.already_present.len(),
                s.deleted.deleted,
                s.deleted.absent,
                if s.added.rejected.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", rejected {} (nothing deleted after it)",
                        s.added.rejected.len()
                    )
                }
            );
            Ok(if s.added.rejected.is_empty() {
                OK
            } else {
                REJECTED
            })
        }
    }
}

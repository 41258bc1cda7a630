//! The arguments of `gnip-stream rules VERB …`: the target, the verb and its own arguments, the
//! flag table they are read through, and the checks made before anything is sent.

use std::path::PathBuf;
use std::time::Duration;

use gnip_stream::unversioned::protocol::policy::DEFAULT_CONNECT_TIMEOUT;
use gnip_stream::unversioned::protocol::rules::{self, RuleSet};

use super::Command;
use super::args::{self, Args, Usage, usage};
use super::flags::{self, Flag, Parsed, secs};

/// Where the rules are.
pub type RulesTarget = args::Target<RuleSet>;

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
    /// X API v2's rules (`--api v2`, or a `/2/` rules URL).
    pub v2: bool,
    pub verb: Verb,
    pub ca_file: Option<PathBuf>,
    pub connect_timeout: Duration,
}

const C: &str = "rules";

/// What the flags of `rules` gather before they are checked together.
#[derive(Default)]
pub struct Raw {
    api: Option<String>,
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
        name: "--api",
        value: Some("API"),
        default: Some(|| "gnip (a --url whose path starts /2/: v2)".to_owned()),
        help: "gnip, or v2: the X API v2 filtered stream's rules (/2/tweets/search/stream/rules; no --product, --account or --label; credentials from X_BEARER_TOKEN)",
        only: &[],
        set: |r, it, f| {
            let v = it.value(f)?;
            if v != "gnip" && v != "v2" {
                return Err(usage(C, format!("--api: '{v}' is not one of gnip, v2")));
            }
            r.api = Some(v.to_owned());
            Ok(())
        },
    },
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
        match flags::read(&mut it, verb, FLAGS, &mut raw, &[], true)? {
            Parsed::Done => break,
            Parsed::Help => return Ok(Command::Help(C)),
            Parsed::Positional(v) => values.push(v.to_owned()),
        }
    }
    let Raw {
        api,
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
    let url_v2 = url
        .as_deref()
        .and_then(gnip_stream::unversioned::protocol::endpoint::UrlParts::split)
        .is_some_and(|u| u.path.starts_with("/2/"));
    let v2 = match (api.as_deref(), url_v2) {
        (Some("gnip"), true) => {
            return Err(usage(C, "--api gnip with an X API v2 URL (/2/…)"));
        }
        (Some("v2"), _) | (None, true) => true,
        _ => false,
    };
    let target = if v2 {
        if set.is_some() || account.is_some() || label.is_some() {
            return Err(usage(
                C,
                "X API v2 has one rule set per App: no --product, --account or --label",
            ));
        }
        match (url, host) {
            (Some(_), Some(_)) => {
                return Err(usage(C, "--host goes with --api v2, not with --url"));
            }
            (Some(u), None) => RulesTarget::Url(u),
            (None, host) => RulesTarget::Named {
                product: RuleSet::PowerTrack,
                account: String::new(),
                label: String::new(),
                host,
            },
        }
    } else {
        args::target(
            C,
            url,
            set,
            account,
            label,
            host,
            "rules: --url RULES_URL, or --product powertrack|powertrack-replay --account A --label L",
        )?
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
        v2,
        verb,
        ca_file,
        connect_timeout,
    }))
}

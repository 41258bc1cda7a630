//! `gnip-stream rules list|add|delete|validate|sync`: a stream's PowerTrack rules from the
//! command line, through the library's `RulesClient`.

use std::io::{Read, Write};
use std::sync::Arc;

use gnip_stream::Error;
use gnip_stream::client::{RulesClient, RulesConfig};
use gnip_stream::unversioned::protocol::dialect::Dialect;
use gnip_stream::unversioned::protocol::rules::{self, Rule};

use super::rules_args::{Deletion, RulesArgs, RulesTarget, Source, Verb};
use super::stderr::printable;
use super::stream::read_credentials;
use super::supervise::within_signal;
use super::{AUTH, FATAL, OK, REJECTED, USAGE, signal};

/// A message from the service on one line (some end in `\n` or carry several lines).
fn one_line(m: &str) -> String {
    printable(&m.split_whitespace().collect::<Vec<_>>().join(" ")).into_owned()
}

/// Reads a rules file (`-`: stdin); a malformed one is a usage error naming the line, and
/// one over [`rules::MAX_RULES_FILE_BYTES`] a usage error naming its size (nothing is sent).
fn read_rules(file: &str) -> Result<Vec<Rule>, (u8, String)> {
    let cap = rules::MAX_RULES_FILE_BYTES;
    let too_large = |size: &str| {
        (
            USAGE,
            format!(
                "rules file {file}: {size} bytes: larger than the {} MiB a rules file may have",
                cap >> 20
            ),
        )
    };
    let mut b = Vec::new();
    if file == "-" {
        std::io::stdin()
            .take(cap + 1)
            .read_to_end(&mut b)
            .map_err(|e| (USAGE, format!("cannot read the rules from stdin: {e}")))?;
    } else {
        let f =
            std::fs::File::open(file).map_err(|e| (USAGE, format!("cannot read {file}: {e}")))?;
        if let Some(n) = f.metadata().ok().map(|m| m.len()).filter(|n| *n > cap) {
            return Err(too_large(&n.to_string()));
        }
        f.take(cap + 1)
            .read_to_end(&mut b)
            .map_err(|e| (USAGE, format!("cannot read {file}: {e}")))?;
    }
    if b.len() as u64 > cap {
        return Err(too_large(&format!("more than {cap}")));
    }
    rules::parse_rules_file(&b).map_err(|e| (USAGE, format!("rules file {file}: {e}")))
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
        RulesTarget::Named { host, .. } if a.v2 => match host {
            Some(h) => RulesConfig::v2().host(h),
            None => RulesConfig::v2(),
        },
        RulesTarget::Named {
            product,
            account,
            label,
            host,
        } => {
            let c = RulesConfig::new(*product, account, label);
            match host {
                Some(h) => c.host(h),
                None => c,
            }
        }
    };
    let c = if a.v2 {
        c.bearer_token(password)
    } else {
        c.credentials(user, password)
    };
    let c = c.connect_timeout(a.connect_timeout);
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
            eprintln!("gnip-stream: {}", printable(&message));
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
            eprintln!("gnip-stream: {}", printable(&message));
            code
        }
        None => FATAL,
    }
}

/// The credentials, the rules to send (read before anything is sent: a bad file sends
/// nothing) and the client.
fn prepare(a: &RulesArgs) -> Result<(RulesClient, Vec<Rule>), (u8, String)> {
    let dialect = if a.v2 { Dialect::V2 } else { Dialect::Gnip };
    let (user, password) = read_credentials(dialect).map_err(|why| (USAGE, why.to_owned()))?;
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
                let line = if a.v2 {
                    gnip_stream::unversioned::protocol::v2::rules::to_ndjson(r)
                } else {
                    r.to_ndjson()
                };
                let _ = writeln!(out, "{line}");
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

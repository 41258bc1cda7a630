//! The PowerTrack Rules API, sans-IO: rules, rule sets, URLs and limits here; request bodies,
//! batching and responses in `wire.rs`; rule files and the `sync` diff in `sync.rs`; the retry
//! table in `retry.rs`. protocol.md, "Rules API".

use std::fmt::Write as _;

use serde_json::Value;

use super::endpoint::UrlParts;
use super::product::ConnectionLimit;

/// The default Rules API host (older: `https://gnip-api.twitter.com`).
pub const RULES_HOST: &str = "https://data-api.twitter.com";
/// The most bytes one request body may have.
pub const MAX_BODY_BYTES: usize = 5_000_000;
/// The most rules sent in one request ("lower thousands" per request; 5,000 keeps well under
/// the body limit for typical values).
pub const MAX_RULES_PER_REQUEST: usize = 5_000;
/// The largest rules file `rules add|delete|validate|sync --file` reads: 128 MiB (a stream's
/// rule limit, 250,000 rules at the most, comes to tens of MB as NDJSON; audit L8).
pub const MAX_RULES_FILE_BYTES: u64 = 128 << 20;
/// The longest rule value the service accepts, in characters.
pub const MAX_VALUE_CHARS: usize = 2_048;
/// The longest tag the service accepts, in characters.
pub const MAX_TAG_CHARS: usize = 255;
/// Requests a minute to one stream's rules endpoints, GETs and POSTs together.
pub const RULES_RATE_LIMIT: ConnectionLimit = ConnectionLimit {
    requests: 60,
    window: std::time::Duration::from_secs(60),
};
/// The service's message for an add of a value that is already a rule.
pub const ALREADY_EXISTS: &str = "A rule with this value already exists";
/// The service's message for a delete of a value that is not a rule.
pub const DOES_NOT_EXIST: &str = "Rule does not exist";
/// The service's 400 message for a body it cannot read.
pub const INVALID_JSON: &str =
    "Invalid JSON. The body must be in the format {\"rules\":[…]} or {\"rule_ids\": […]}";

/// One rule: its value (what it matches), an optional tag, and the id the service gave it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rule {
    /// The rule text, exact bytes (rules are unique by value, compared case-sensitively).
    pub value: String,
    /// The tag, if any (immutable: a new tag means delete and add).
    pub tag: Option<String>,
    /// The service's id (64-bit, above 2^53: never through a float); `None` before it exists.
    pub id: Option<u64>,
}

impl Rule {
    /// A rule to add: a value and an optional tag.
    pub fn new(value: &str, tag: Option<&str>) -> Rule {
        Rule {
            value: value.to_owned(),
            tag: tag.map(str::to_owned),
            id: None,
        }
    }

    /// `{"value":…,"tag":…}` (the tag left out when there is none), as a request carries it.
    pub(crate) fn request_json(&self) -> String {
        let mut s = String::from("{\"value\":");
        s.push_str(&Value::String(self.value.clone()).to_string());
        if let Some(t) = &self.tag {
            s.push_str(",\"tag\":");
            s.push_str(&Value::String(t.clone()).to_string());
        }
        s.push('}');
        s
    }

    /// One NDJSON line as `rules list` writes it: `value`, `tag` (`null` when absent), `id` with
    /// the exact digits.
    pub fn to_ndjson(&self) -> String {
        self.ndjson(false)
    }

    /// [`Rule::to_ndjson`], with the id as a JSON string when `id_as_string` (X API v2 writes
    /// ids so).
    pub(crate) fn ndjson(&self, id_as_string: bool) -> String {
        let mut s = String::from("{\"value\":");
        s.push_str(&Value::String(self.value.clone()).to_string());
        s.push_str(",\"tag\":");
        match &self.tag {
            Some(t) => s.push_str(&Value::String(t.clone()).to_string()),
            None => s.push_str("null"),
        }
        s.push_str(",\"id\":");
        match (self.id, id_as_string) {
            (Some(id), false) => {
                let _ = write!(s, "{id}");
            }
            (Some(id), true) => {
                let _ = write!(s, "\"{id}\"");
            }
            (None, _) => s.push_str("null"),
        }
        s.push('}');
        s
    }
}

/// Which rule set: PowerTrack's, or PowerTrack Replay's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleSet {
    /// `/rules/powertrack/…`
    PowerTrack,
    /// `/rules/powertrack-replay/…`
    PowerTrackReplay,
}

impl RuleSet {
    /// The path segment.
    pub fn path_name(self) -> &'static str {
        match self {
            RuleSet::PowerTrack => "powertrack",
            RuleSet::PowerTrackReplay => "powertrack-replay",
        }
    }

    /// The rule set with this path segment.
    pub fn from_path_name(name: &str) -> Option<RuleSet> {
        [RuleSet::PowerTrack, RuleSet::PowerTrackReplay]
            .into_iter()
            .find(|s| s.path_name() == name)
    }
}

/// A rules path: `/rules/{set}/accounts/{account}/publishers/twitter/{label}.json`, and its
/// validation and single-rule variants.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RulesPath {
    /// Which rule set.
    pub set: RuleSet,
    /// The account.
    pub account: String,
    /// The stream label.
    pub label: String,
}

/// What a rules request path asks for, as the service (the simulator) routes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RulesEndpoint {
    /// The rule list: GET list, POST add / delete / get-many.
    Rules(RulesPath),
    /// `…/{label}/validation.json`.
    Validation(RulesPath),
    /// `…/{label}/rules/{id}.json`.
    One(RulesPath, u64),
}

impl RulesPath {
    /// A rules path for these parts.
    pub fn new(set: RuleSet, account: &str, label: &str) -> Self {
        RulesPath {
            set,
            account: account.to_owned(),
            label: label.to_owned(),
        }
    }

    /// The path of the rule list.
    pub fn to_path(&self) -> String {
        format!(
            "/rules/{}/accounts/{}/publishers/twitter/{}.json",
            self.set.path_name(),
            self.account,
            self.label
        )
    }

    /// The full URL of the rule list on `host` (default [`RULES_HOST`]).
    pub fn url(&self, host: &str) -> String {
        format!("{}{}", host.trim_end_matches('/'), self.to_path())
    }

    /// Parses a request path into what it asks for; `None` is 404.
    pub fn parse(path: &str) -> Option<RulesEndpoint> {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let (set, account, rest) = match parts[..] {
            [
                "rules",
                set,
                "accounts",
                account,
                "publishers",
                "twitter",
                ref rest @ ..,
            ] => (RuleSet::from_path_name(set)?, account, rest),
            _ => return None,
        };
        if account.is_empty() {
            return None;
        }
        let p = |label: &str| (!label.is_empty()).then(|| RulesPath::new(set, account, label));
        match rest {
            [file] => Some(RulesEndpoint::Rules(p(file.strip_suffix(".json")?)?)),
            [label, "validation.json"] => Some(RulesEndpoint::Validation(p(label)?)),
            [label, "rules", file] => {
                let id = file.strip_suffix(".json")?.parse().ok()?;
                Some(RulesEndpoint::One(p(label)?, id))
            }
            _ => None,
        }
    }
}

/// The validation URL of a rules URL: `….json` becomes `…/validation.json`.
pub fn validation_url(rules_url: &str) -> String {
    let base = rules_url.split('?').next().unwrap_or(rules_url);
    match base.strip_suffix(".json") {
        Some(stem) => format!("{stem}/validation.json"),
        None => format!("{base}/validation.json"),
    }
}

/// The delete URL of a rules URL: `?_method=delete`.
pub fn delete_url(rules_url: &str) -> String {
    format!(
        "{}?_method=delete",
        rules_url.split('?').next().unwrap_or(rules_url)
    )
}

/// Whether `url` looks like a rules URL (its path parses).
pub fn is_rules_url(url: &str) -> bool {
    UrlParts::split(url)
        .and_then(|u| RulesPath::parse(u.path))
        .is_some_and(|e| matches!(e, RulesEndpoint::Rules(_)))
}

mod retry;
mod sync;
mod wire;

pub use retry::{RulesAction, RulesBackoff, RulesRetry, parse_retry_after, rules_action};
pub use sync::{RulesFileError, SyncPlan, check_unique, parse_rules_file, sync_plan};
pub(crate) use wire::bounded_object;
pub use wire::{
    AddOutcome, BadResponse, DeleteOutcome, MAX_ANSWER_VALUES, MAX_LIST_RULES, ValidateOutcome,
    batches, delete_values_body, id_batches, ids_body, parse_add, parse_delete, parse_list,
    parse_validate, rule_batches, rules_body,
};

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn urls() {
        let p = RulesPath::new(RuleSet::PowerTrack, "acme", "prod");
        let url = p.url(RULES_HOST);
        assert_eq!(
            url,
            "https://data-api.twitter.com/rules/powertrack/accounts/acme/publishers/twitter/prod.json"
        );
        assert_eq!(
            validation_url(&url),
            "https://data-api.twitter.com/rules/powertrack/accounts/acme/publishers/twitter/prod/validation.json"
        );
        assert_eq!(delete_url(&url), format!("{url}?_method=delete"));
        assert!(is_rules_url(&url));
        assert_eq!(
            RulesPath::parse(
                "/rules/powertrack-replay/accounts/a/publishers/twitter/l/validation.json"
            ),
            Some(RulesEndpoint::Validation(RulesPath::new(
                RuleSet::PowerTrackReplay,
                "a",
                "l"
            )))
        );
        assert_eq!(
            RulesPath::parse(
                "/rules/powertrack/accounts/a/publishers/twitter/l/rules/9007199254740993.json"
            ),
            Some(RulesEndpoint::One(
                RulesPath::new(RuleSet::PowerTrack, "a", "l"),
                9_007_199_254_740_993
            ))
        );
        assert_eq!(
            RulesPath::parse("/rules/firehose/accounts/a/publishers/twitter/l.json"),
            None
        );
        assert_eq!(
            RulesPath::parse("/stream/powertrack/accounts/a/publishers/twitter/l.json"),
            None
        );
    }
}

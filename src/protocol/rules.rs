//! The PowerTrack Rules API, sans-IO: rule URLs, request bodies, batching within the service's
//! limits, response parsing (created, already there, rejected, deleted, absent, valid), rule
//! files, and the diff that `sync` applies. protocol.md, "Rules API".

use std::collections::HashMap;
use std::fmt::Write as _;
use std::ops::Range;

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
    fn request_json(&self) -> String {
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
        let mut s = String::from("{\"value\":");
        s.push_str(&Value::String(self.value.clone()).to_string());
        s.push_str(",\"tag\":");
        match &self.tag {
            Some(t) => s.push_str(&Value::String(t.clone()).to_string()),
            None => s.push_str("null"),
        }
        s.push_str(",\"id\":");
        match self.id {
            Some(id) => {
                let _ = write!(s, "{id}");
            }
            None => s.push_str("null"),
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

/// `{"rules":[…]}` for these rules (add, validate, delete by value use it).
pub fn rules_body(rules: &[Rule]) -> Vec<u8> {
    let mut s = String::from("{\"rules\":[");
    for (i, r) in rules.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&r.request_json());
    }
    s.push_str("]}");
    s.into_bytes()
}

/// `{"rules":[{"value":…},…]}`: a delete by value (tags play no part).
pub fn delete_values_body(values: &[String]) -> Vec<u8> {
    let rules: Vec<Rule> = values.iter().map(|v| Rule::new(v, None)).collect();
    rules_body(&rules)
}

/// `{"rule_ids":[…]}`: a delete (or get-many) by id, exact 64-bit numbers.
pub fn ids_body(ids: &[u64]) -> Vec<u8> {
    let mut s = String::from("{\"rule_ids\":[");
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{id}");
    }
    s.push_str("]}");
    s.into_bytes()
}

/// Cuts `sizes` (each item's size in the body, without separators) into consecutive batches,
/// each at most `max_items` long and with a body of at most `max_bytes` (`overhead` bytes of
/// wrapper, plus one comma between items). Every item is in exactly one batch, in order. An
/// item too big for a body on its own is an error naming its index.
pub fn batches(
    sizes: &[usize],
    overhead: usize,
    max_items: usize,
    max_bytes: usize,
) -> Result<Vec<Range<usize>>, usize> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = overhead;
    for (i, &size) in sizes.iter().enumerate() {
        if overhead + size > max_bytes {
            return Err(i);
        }
        let sep = usize::from(i > start);
        if i - start == max_items || bytes + sep + size > max_bytes {
            out.push(start..i);
            start = i;
            bytes = overhead + size;
        } else {
            bytes += sep + size;
        }
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    Ok(out)
}

/// The batches for a `{"rules":[…]}` body of `rules`, within the service's limits.
pub fn rule_batches(rules: &[Rule]) -> Result<Vec<Range<usize>>, usize> {
    let sizes: Vec<usize> = rules.iter().map(|r| r.request_json().len()).collect();
    batches(
        &sizes,
        "{\"rules\":[]}".len(),
        MAX_RULES_PER_REQUEST,
        MAX_BODY_BYTES,
    )
}

/// The batches for a `{"rule_ids":[…]}` body of `ids`.
pub fn id_batches(ids: &[u64]) -> Vec<Range<usize>> {
    let sizes: Vec<usize> = ids.iter().map(|id| id.to_string().len()).collect();
    // An id is at most 20 digits: never too big alone.
    batches(
        &sizes,
        "{\"rule_ids\":[]}".len(),
        MAX_RULES_PER_REQUEST,
        MAX_BODY_BYTES,
    )
    .unwrap_or_default()
}

/// A response body that is not what the Rules API sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadResponse(pub String);

fn rule_of(v: &Value) -> Option<Rule> {
    let value = v.get("value")?.as_str()?.to_owned();
    let tag = v.get("tag").and_then(Value::as_str).map(str::to_owned);
    // serde_json keeps integers exact (u64); a string id is read too, in case.
    let id = match v.get("id") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    Some(Rule { value, tag, id })
}

fn object(body: &[u8]) -> Result<Value, BadResponse> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| BadResponse(format!("not a JSON object: {}", start_of(body))))
}

fn start_of(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned()
}

/// A list (or get) response: `{"rules":[…],"sent":…}`, in the service's order.
pub fn parse_list(body: &[u8]) -> Result<Vec<Rule>, BadResponse> {
    let v = object(body)?;
    let rules = v
        .get("rules")
        .and_then(Value::as_array)
        .ok_or_else(|| BadResponse(format!("no \"rules\" list: {}", start_of(body))))?;
    rules
        .iter()
        .map(|r| rule_of(r).ok_or_else(|| BadResponse(format!("a rule without a value: {r}"))))
        .collect()
}

/// What one add request did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddOutcome {
    /// Rules created now, with their new ids.
    pub created: Vec<Rule>,
    /// Rules whose value was already a rule (an add is idempotent: success).
    pub already_present: Vec<Rule>,
    /// Rules the service refused, with its message (a 422: none of the batch was added).
    pub rejected: Vec<(Rule, String)>,
}

fn details(v: &Value) -> &[Value] {
    v.get("detail")
        .or_else(|| v.pointer("/error/detail"))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn message_of(d: &Value) -> String {
    d.get("message")
        .and_then(Value::as_str)
        .unwrap_or("no message")
        .to_owned()
}

/// An add response: 201 with `detail` (created or not, and why), or 422 in either shape.
/// `sent` is the batch, for rules the response does not detail.
pub fn parse_add(status: u16, body: &[u8], sent: &[Rule]) -> Result<AddOutcome, BadResponse> {
    let v = object(body)?;
    let mut out = AddOutcome::default();
    for d in details(&v) {
        let Some(rule) = d.get("rule").and_then(rule_of) else {
            continue;
        };
        let created = d.get("created").and_then(Value::as_bool).unwrap_or(false);
        let message = message_of(d);
        if created {
            out.created.push(rule);
        } else if message.contains("already exists") {
            out.already_present.push(rule);
        } else {
            out.rejected.push((rule, message));
        }
    }
    if status == 422 {
        // All or nothing: nothing was added, whatever the detail says of the valid ones.
        let mut rejected = std::mem::take(&mut out.rejected);
        if rejected.is_empty() {
            let m = v
                .pointer("/error/message")
                .and_then(Value::as_str)
                .unwrap_or("rules rejected")
                .to_owned();
            rejected = sent.iter().map(|r| (r.clone(), m.clone())).collect();
        }
        return Ok(AddOutcome {
            rejected,
            ..AddOutcome::default()
        });
    }
    if out.created.is_empty() && out.already_present.is_empty() && out.rejected.is_empty() {
        // No detail: the summary alone says how many were created.
        let created = v
            .pointer("/summary/created")
            .and_then(Value::as_u64)
            .unwrap_or(0) as usize;
        out.created = sent.iter().take(created).cloned().collect();
        out.already_present = sent.iter().skip(created).cloned().collect();
    }
    Ok(out)
}

/// What one delete request did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteOutcome {
    /// How many rules were deleted.
    pub deleted: u64,
    /// How many were not rules (a delete is idempotent: success).
    pub absent: u64,
    /// Anything else the service refused to delete, with its message.
    pub failed: Vec<(String, String)>,
}

/// A delete response: `{"summary":{"deleted":n,"not_deleted":m},"detail":[…]}`.
pub fn parse_delete(body: &[u8]) -> Result<DeleteOutcome, BadResponse> {
    let v = object(body)?;
    let deleted = v
        .pointer("/summary/deleted")
        .and_then(Value::as_u64)
        .ok_or_else(|| BadResponse(format!("no summary.deleted: {}", start_of(body))))?;
    let not_deleted = v
        .pointer("/summary/not_deleted")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let mut out = DeleteOutcome {
        deleted,
        ..DeleteOutcome::default()
    };
    for d in details(&v) {
        if d.get("deleted").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        let message = message_of(d);
        let what = d
            .get("rule")
            .and_then(rule_of)
            .map(|r| r.value)
            .or_else(|| d.get("id").map(Value::to_string))
            .unwrap_or_default();
        if message.contains("does not exist") {
            out.absent += 1;
        } else {
            out.failed.push((what, message));
        }
    }
    // Not detailed: every rule not deleted was not there.
    let detailed = out.absent + out.failed.len() as u64;
    if detailed < not_deleted {
        out.absent += not_deleted - detailed;
    }
    Ok(out)
}

/// What one validation request found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidateOutcome {
    /// Valid rules.
    pub valid: Vec<Rule>,
    /// Invalid rules with the service's message.
    pub invalid: Vec<(Rule, String)>,
}

/// A validation response: `{"summary":{"valid":n,"not_valid":m},"detail":[…]}`.
pub fn parse_validate(body: &[u8]) -> Result<ValidateOutcome, BadResponse> {
    let v = object(body)?;
    let mut out = ValidateOutcome::default();
    for d in details(&v) {
        let Some(rule) = d.get("rule").and_then(rule_of) else {
            continue;
        };
        if d.get("valid").and_then(Value::as_bool) == Some(true) {
            out.valid.push(rule);
        } else {
            out.invalid.push((rule, message_of(d)));
        }
    }
    Ok(out)
}

/// A rules file that cannot be used: the line (from 1; 0 for the whole document) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesFileError {
    /// The line, from 1 (0: the document as a whole).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for RulesFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

fn file_rule(v: &Value, line: usize) -> Result<Rule, RulesFileError> {
    let bad = |message: String| RulesFileError { line, message };
    let obj = v
        .as_object()
        .ok_or_else(|| bad("a rule must be a JSON object {\"value\":…,\"tag\":…}".into()))?;
    let value = match obj.get("value") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) => return Err(bad("the value is empty".into())),
        Some(_) => return Err(bad("\"value\" must be a string".into())),
        None => return Err(bad("no \"value\"".into())),
    };
    let tag = match obj.get("tag") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(bad("\"tag\" must be a string or null".into())),
    };
    // An `id` (as `rules list` writes) is ignored on input.
    Ok(Rule {
        value,
        tag,
        id: None,
    })
}

/// Reads a rules file: NDJSON, one `{"value":…,"tag":…}` a line (tag optional or null, an `id`
/// ignored, blank lines skipped), or one JSON document `{"rules":[…]}`. A malformed line is an
/// error naming it; nothing is returned then.
pub fn parse_rules_file(bytes: &[u8]) -> Result<Vec<Rule>, RulesFileError> {
    let text = std::str::from_utf8(bytes).map_err(|e| RulesFileError {
        line: bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1,
        message: "not UTF-8".into(),
    })?;
    // One document with a "rules" list (possibly spread over many lines).
    if let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(text) {
        if let Some(list) = doc.get("rules") {
            let list = list.as_array().ok_or_else(|| RulesFileError {
                line: 0,
                message: "\"rules\" must be a list".into(),
            })?;
            return list
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    file_rule(v, 0).map_err(|e| RulesFileError {
                        line: 0,
                        message: format!("rule {} of the document: {}", i + 1, e.message),
                    })
                })
                .collect();
        }
    }
    let mut rules = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line).map_err(|e| RulesFileError {
            line: line_no,
            message: format!("not JSON: {e}"),
        })?;
        rules.push(file_rule(&v, line_no)?);
    }
    Ok(rules)
}

/// What `sync` will do to make the rule list equal a file's rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncPlan {
    /// Rules in the file and not in the list: added first.
    pub add: Vec<Rule>,
    /// Same value, another tag: `(current, wanted)`; the current one is deleted, then the
    /// wanted one added (tags are immutable).
    pub retag: Vec<(Rule, Rule)>,
    /// Rules in the list and not in the file: deleted last.
    pub delete: Vec<Rule>,
    /// Rules already as wanted.
    pub unchanged: usize,
}

impl SyncPlan {
    /// Whether nothing needs to change.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.retag.is_empty() && self.delete.is_empty()
    }

    /// The plan as `--dry-run` prints it: `+ value`, `~ value`, `- value`, one a line, in the
    /// order they would be applied.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(self.add.iter().map(|r| format!("+ {}", r.value)));
        out.extend(self.retag.iter().map(|(_, r)| format!("~ {}", r.value)));
        out.extend(self.delete.iter().map(|r| format!("- {}", r.value)));
        out
    }

    /// The one-line summary: `add 3, retag 1, delete 2, unchanged 10`.
    pub fn summary(&self) -> String {
        format!(
            "add {}, retag {}, delete {}, unchanged {}",
            self.add.len(),
            self.retag.len(),
            self.delete.len(),
            self.unchanged
        )
    }

    /// The rule list after the plan is applied to `current` (a model of the service, for
    /// checking a plan; ids of new rules are `None`).
    pub fn apply_to(&self, current: &[Rule]) -> Vec<Rule> {
        let gone: std::collections::HashSet<&str> = self
            .delete
            .iter()
            .chain(self.retag.iter().map(|(old, _)| old))
            .map(|r| r.value.as_str())
            .collect();
        let mut out: Vec<Rule> = current
            .iter()
            .filter(|r| !gone.contains(r.value.as_str()))
            .cloned()
            .collect();
        out.extend(self.add.iter().cloned());
        out.extend(self.retag.iter().map(|(_, new)| new.clone()));
        out
    }
}

/// Duplicate values in wanted rules: the same value with two different tags cannot both be.
pub fn check_unique(wanted: &[Rule]) -> Result<Vec<Rule>, RulesFileError> {
    let mut seen: HashMap<&str, &Option<String>> = HashMap::new();
    let mut out = Vec::new();
    for r in wanted {
        match seen.get(r.value.as_str()) {
            Some(tag) if **tag == r.tag => {}
            Some(_) => {
                return Err(RulesFileError {
                    line: 0,
                    message: format!(
                        "the value {:?} is in the file twice with different tags",
                        r.value
                    ),
                });
            }
            None => {
                seen.insert(&r.value, &r.tag);
                out.push(r.clone());
            }
        }
    }
    Ok(out)
}

/// The plan that turns `current` into `wanted`: compared by value (exact bytes, case-sensitive);
/// the same value with another tag is a retag. `wanted` must have unique values
/// ([`check_unique`]).
pub fn sync_plan(current: &[Rule], wanted: &[Rule]) -> SyncPlan {
    let have: HashMap<&str, &Rule> = current.iter().map(|r| (r.value.as_str(), r)).collect();
    let want: HashMap<&str, &Rule> = wanted.iter().map(|r| (r.value.as_str(), r)).collect();
    let mut plan = SyncPlan::default();
    for w in wanted {
        match have.get(w.value.as_str()) {
            None => plan.add.push(Rule {
                id: None,
                ..w.clone()
            }),
            Some(h) if h.tag != w.tag => plan.retag.push((
                (*h).clone(),
                Rule {
                    id: None,
                    ..w.clone()
                },
            )),
            Some(_) => plan.unchanged += 1,
        }
    }
    plan.delete = current
        .iter()
        .filter(|r| !want.contains_key(r.value.as_str()))
        .cloned()
        .collect();
    plan
}

/// What a rules client does after a response status (or a network error, `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RulesAction {
    /// The answer is in: 2xx, or 422 (rejected rules are an answer, not a failure).
    Done,
    /// Wait and send the same request again, on this schedule.
    Retry(RulesRetry),
    /// Give up: 401 (refused credentials) and every other 4xx.
    Fail,
}

/// The two retry schedules of the Rules API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RulesRetry {
    /// 429: `Retry-After` when the response has it, else from 60 s, doubling.
    RateLimited,
    /// 5xx, network errors, and 409 (another rules request in progress: the service takes
    /// them one at a time; the status is not documented, and waiting is what helps):
    /// exponential from 1 s, at most 60 s.
    Trouble,
}

/// The table for rules requests.
pub fn rules_action(status: Option<u16>) -> RulesAction {
    match status {
        None => RulesAction::Retry(RulesRetry::Trouble),
        Some(200..=299 | 422) => RulesAction::Done,
        Some(429) => RulesAction::Retry(RulesRetry::RateLimited),
        Some(409) | Some(500..=599) => RulesAction::Retry(RulesRetry::Trouble),
        Some(_) => RulesAction::Fail,
    }
}

/// The rules client's retry schedules. Defaults are the documented ones; tests shorten them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RulesBackoff {
    /// First wait after a 429 without `Retry-After` (default 60 s), doubling.
    pub rate_limited_base: std::time::Duration,
    /// Cap for 429s (default 960 s).
    pub rate_limited_max: std::time::Duration,
    /// First wait after a 5xx, 409 or network error (default 1 s), doubling.
    pub trouble_base: std::time::Duration,
    /// Cap for those (default 60 s).
    pub trouble_max: std::time::Duration,
    /// Attempts of one request before giving up (default 10: about five minutes of trouble).
    pub max_attempts: u32,
}

impl Default for RulesBackoff {
    fn default() -> Self {
        use std::time::Duration;
        RulesBackoff {
            rate_limited_base: Duration::from_secs(60),
            rate_limited_max: Duration::from_secs(960),
            trouble_base: Duration::from_secs(1),
            trouble_max: Duration::from_secs(60),
            max_attempts: 10,
        }
    }
}

impl RulesBackoff {
    /// Sets the first wait after a 429 without `Retry-After`.
    pub fn rate_limited_base(mut self, d: std::time::Duration) -> Self {
        self.rate_limited_base = d;
        self
    }

    /// Sets the first wait after a 5xx, 409 or network error.
    pub fn trouble_base(mut self, d: std::time::Duration) -> Self {
        self.trouble_base = d;
        self
    }

    /// Sets how many attempts one request gets (at least 1).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// The wait before retry number `attempt` (1 = the first) on `schedule`; `retry_after` is
    /// the response's `Retry-After` in seconds, which a 429 honours when present (at most an
    /// hour).
    pub fn delay(
        &self,
        schedule: RulesRetry,
        attempt: u32,
        retry_after: Option<u64>,
    ) -> std::time::Duration {
        let doubling = |base: std::time::Duration, cap: std::time::Duration| {
            let factor = 1u32.checked_shl(attempt.max(1) - 1).unwrap_or(u32::MAX);
            base.saturating_mul(factor).min(cap)
        };
        match schedule {
            RulesRetry::RateLimited => match retry_after {
                Some(s) => std::time::Duration::from_secs(s.min(3600)),
                None => doubling(self.rate_limited_base, self.rate_limited_max),
            },
            RulesRetry::Trouble => doubling(self.trouble_base, self.trouble_max),
        }
    }
}

/// Reads a `Retry-After` header given in seconds (an HTTP date is not used by the service).
pub fn parse_retry_after(value: &str) -> Option<u64> {
    value.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retry_table() {
        use std::time::Duration;
        assert_eq!(rules_action(Some(201)), RulesAction::Done);
        assert_eq!(rules_action(Some(422)), RulesAction::Done);
        assert_eq!(rules_action(Some(401)), RulesAction::Fail);
        assert_eq!(rules_action(Some(400)), RulesAction::Fail);
        assert_eq!(
            rules_action(Some(429)),
            RulesAction::Retry(RulesRetry::RateLimited)
        );
        assert_eq!(
            rules_action(Some(503)),
            RulesAction::Retry(RulesRetry::Trouble)
        );
        assert_eq!(rules_action(None), RulesAction::Retry(RulesRetry::Trouble));
        let b = RulesBackoff::default();
        let t: Vec<u64> = (1..=8)
            .map(|a| b.delay(RulesRetry::Trouble, a, None).as_secs())
            .collect();
        assert_eq!(t, vec![1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(
            b.delay(RulesRetry::RateLimited, 1, Some(7)),
            Duration::from_secs(7)
        );
        assert_eq!(
            b.delay(RulesRetry::RateLimited, 2, None),
            Duration::from_secs(120)
        );
        assert_eq!(
            b.delay(RulesRetry::Trouble, 100, None),
            Duration::from_secs(60)
        );
        assert_eq!(parse_retry_after(" 12 "), Some(12));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

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

    #[test]
    fn bodies_are_the_documented_shapes() {
        let rules = [Rule::new("rule1", Some("tag1")), Rule::new("rule2", None)];
        assert_eq!(
            String::from_utf8(rules_body(&rules)).unwrap(),
            r#"{"rules":[{"value":"rule1","tag":"tag1"},{"value":"rule2"}]}"#
        );
        assert_eq!(
            String::from_utf8(ids_body(&[734938587381145604, 18446744073709551615])).unwrap(),
            r#"{"rule_ids":[734938587381145604,18446744073709551615]}"#
        );
        assert_eq!(
            String::from_utf8(delete_values_body(&["a \"b\"".into()])).unwrap(),
            r#"{"rules":[{"value":"a \"b\""}]}"#
        );
    }

    #[test]
    fn responses_from_protocol_md() {
        let add = br#"{"summary":{"created":1,"not_created":1},"detail":[{"rule":{"value":"robot OR \ud83e\udd16","tag":"botrule123","id":734861971116285952},"created":true},{"rule":{"value":"fish OR \ud83d\udc1f","tag":"fishrule123"},"created":false,"message":"A rule with this value already exists"}],"sent":"2016-05-23T21:42:01.661Z"}"#;
        let out = parse_add(201, add, &[]).unwrap();
        assert_eq!(out.created[0].value, "robot OR 🤖");
        assert_eq!(out.created[0].id, Some(734861971116285952));
        assert_eq!(out.already_present[0].value, "fish OR 🐟");
        assert!(out.rejected.is_empty());
        let bad = br#"{"summary":{"created":0,"not_created":1},"detail":[{"rule":{"value":"-follow","tag":null},"created":false,"message":"Rules must contain a non-negation term (at position 1)\n"}],"sent":"x"}"#;
        let out = parse_add(422, bad, &[]).unwrap();
        assert_eq!(out.rejected.len(), 1);
        assert!(out.rejected[0].1.starts_with("Rules must contain"));
        let old = br#"{"error":{"detail":[{"rule":{"value":"(a","tag":null},"created":false,"message":"unbalanced"}],"message":"One or more rules are invalid","sent":"x"}}"#;
        let out = parse_add(422, old, &[]).unwrap();
        assert_eq!(out.rejected[0].0.value, "(a");
        let del = br#"{"summary":{"deleted":3,"not_deleted":0},"detail":[],"sent":"x"}"#;
        assert_eq!(parse_delete(del).unwrap().deleted, 3);
        let miss = br#"{"summary":{"deleted":0,"not_deleted":1},"detail":[{"rule":{"value":"x"},"deleted":false,"message":"Rule does not exist"}],"sent":"x"}"#;
        assert_eq!(parse_delete(miss).unwrap().absent, 1);
        let val = br#"{"summary":{"valid":1,"not_valid":1},"detail":[{"rule":{"value":"from:jack","tag":null},"valid":true},{"rule":{"value":"-x"},"valid":false,"message":"no"}],"sent":"x"}"#;
        let v = parse_validate(val).unwrap();
        assert_eq!((v.valid.len(), v.invalid.len()), (1, 1));
        let list = br#"{"rules":[{"value":"from:twitterdev","tag":"t","id":9007199254740993},{"value":"cat","tag":null,"id":18446744073709551615}],"sent":"x"}"#;
        let l = parse_list(list).unwrap();
        assert_eq!(l[0].id, Some(9_007_199_254_740_993), "exact above 2^53");
        assert_eq!(l[1].id, Some(u64::MAX));
        assert_eq!(l[1].tag, None);
        assert_eq!(
            l[0].to_ndjson(),
            r#"{"value":"from:twitterdev","tag":"t","id":9007199254740993}"#
        );
        assert!(parse_list(b"<html>").is_err());
    }

    #[test]
    fn rule_files_in_both_forms_and_errors_name_the_line() {
        let nd = b"{\"value\":\"a\",\"tag\":\"t\"}\n\n{\"value\":\"b\",\"tag\":null,\"id\":5}\r\n{\"value\":\"c\"}\n";
        let r = parse_rules_file(nd).unwrap();
        assert_eq!(
            r,
            vec![
                Rule::new("a", Some("t")),
                Rule::new("b", None),
                Rule::new("c", None)
            ]
        );
        let doc = b"{\"rules\":[\n {\"value\":\"a\"},\n {\"value\":\"b\",\"tag\":\"x\"}\n]}";
        assert_eq!(parse_rules_file(doc).unwrap().len(), 2);
        let e = parse_rules_file(b"{\"value\":\"a\"}\n{\"value\":\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse_rules_file(b"{\"value\":\"a\"}\n\n{\"tag\":\"x\"}\n").unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (3, "no \"value\""));
        assert_eq!(parse_rules_file(b"[1]\n").unwrap_err().line, 1);
        assert_eq!(parse_rules_file(b"").unwrap(), vec![]);
    }

    #[test]
    fn batches_respect_both_limits_and_keep_order() {
        assert_eq!(batches(&[3, 3, 3], 2, 2, 100).unwrap(), vec![0..2, 2..3]);
        // 2 + 3 + 1 + 3 = 9 fits 9; a third does not.
        assert_eq!(batches(&[3, 3, 3], 2, 10, 9).unwrap(), vec![0..2, 2..3]);
        assert_eq!(batches(&[3, 20, 3], 2, 10, 9), Err(1));
        assert_eq!(batches(&[], 2, 10, 9).unwrap(), vec![]);
    }

    #[test]
    fn sync_adds_retags_and_deletes_by_exact_value() {
        let current = vec![
            Rule {
                value: "keep".into(),
                tag: Some("t".into()),
                id: Some(1),
            },
            Rule {
                value: "Keep".into(),
                tag: None,
                id: Some(2),
            },
            Rule {
                value: "retag".into(),
                tag: Some("old".into()),
                id: Some(3),
            },
            Rule {
                value: "gone".into(),
                tag: None,
                id: Some(4),
            },
        ];
        let wanted = vec![
            Rule::new("keep", Some("t")),
            Rule::new("retag", Some("new")),
            Rule::new("new", None),
            Rule::new("Keep", None),
        ];
        let plan = sync_plan(&current, &wanted);
        assert_eq!(plan.lines(), vec!["+ new", "~ retag", "- gone"]);
        assert_eq!(plan.unchanged, 2);
        let after = plan.apply_to(&current);
        let mut got: Vec<(String, Option<String>)> =
            after.into_iter().map(|r| (r.value, r.tag)).collect();
        let mut want: Vec<(String, Option<String>)> =
            wanted.into_iter().map(|r| (r.value, r.tag)).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want);
        assert!(sync_plan(&current, &current).is_empty());
        assert!(check_unique(&[Rule::new("a", None), Rule::new("a", Some("x"))]).is_err());
        assert_eq!(
            check_unique(&[Rule::new("a", None), Rule::new("a", None)])
                .unwrap()
                .len(),
            1
        );
    }
}

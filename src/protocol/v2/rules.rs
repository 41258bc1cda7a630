//! The X API v2 filtered stream's rules API as data (x-api-v2.md §4): one endpoint, `add` and
//! `delete` bodies, `dry_run` validation, list pages, and the answers read into the same
//! outcomes as the Gnip Rules API's (string ids, `DuplicateRule` as already present, invalid
//! rules with their `details`).

use serde_json::Value;

use crate::protocol::rules::{
    AddOutcome, BadResponse, DeleteOutcome, MAX_ANSWER_VALUES, Rule, ValidateOutcome,
    bounded_object,
};

/// The rules endpoint's path.
pub const V2_RULES_PATH: &str = "/2/tweets/search/stream/rules";

/// The most rules a list page holds (`max_results` 1..=1000).
pub const LIST_PAGE: u32 = 1000;

/// The query of one list page (`token`: the previous page's `next_token`).
pub fn list_query(token: Option<&str>) -> String {
    match token {
        Some(t) => format!("max_results={LIST_PAGE}&pagination_token={t}"),
        None => format!("max_results={LIST_PAGE}"),
    }
}

/// An answer (a list page of at most 1,000 rules, or one batch's) as a tree, bounded as the
/// Gnip Rules API's are (audit M4).
fn object(body: &[u8]) -> Result<Value, BadResponse> {
    bounded_object(body, MAX_ANSWER_VALUES)
}

fn rule_of(v: &Value) -> Option<Rule> {
    let value = v.get("value")?.as_str()?.to_owned();
    let tag = v.get("tag").and_then(Value::as_str).map(str::to_owned);
    let id = match v.get("id") {
        Some(Value::String(s)) => s.parse().ok(),
        Some(Value::Number(n)) => n.as_u64(),
        _ => None,
    };
    Some(Rule { value, tag, id })
}

/// A list page: `{"data":[{"id","value","tag"}],"meta":{"result_count","next_token"}}` (no
/// `data`: no rules) → the rules and the next page's token.
pub fn parse_list(body: &[u8]) -> Result<(Vec<Rule>, Option<String>), BadResponse> {
    let v = object(body)?;
    let rules = match v.get("data") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|r| rule_of(r).ok_or_else(|| BadResponse(format!("a rule without a value: {r}"))))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(BadResponse("data is not a list".into())),
    };
    let next = v
        .pointer("/meta/next_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    Ok((rules, next))
}

/// A rule as `rules list --api v2` prints it: `{"value","tag","id"}`, the id a string as X API
/// v2 writes it (`null` when absent).
pub fn to_ndjson(r: &Rule) -> String {
    r.ndjson(true)
}

/// `{"add":[{"value","tag"}…]}` (no `tag` member when a rule has none).
pub fn add_body(rules: &[Rule]) -> Vec<u8> {
    let items: Vec<String> = rules.iter().map(Rule::request_json).collect();
    format!("{{\"add\":[{}]}}", items.join(",")).into_bytes()
}

/// `{"delete":{"values":[…]}}`.
pub fn delete_values_body(values: &[String]) -> Vec<u8> {
    let items: Vec<String> = values
        .iter()
        .map(|v| Value::String(v.clone()).to_string())
        .collect();
    format!("{{\"delete\":{{\"values\":[{}]}}}}", items.join(",")).into_bytes()
}

/// `{"delete":{"ids":["…"]}}` (ids as strings).
pub fn delete_ids_body(ids: &[u64]) -> Vec<u8> {
    let items: Vec<String> = ids.iter().map(|id| format!("\"{id}\"")).collect();
    format!("{{\"delete\":{{\"ids\":[{}]}}}}", items.join(",")).into_bytes()
}

/// The per-rule errors of an answer: `(title or type tail, value, id, details)`.
fn rule_errors(v: &Value) -> Vec<(String, String, Option<u64>, String)> {
    let Some(errors) = v.get("errors").and_then(Value::as_array) else {
        return Vec::new();
    };
    errors
        .iter()
        .filter_map(|e| {
            let value = e.get("value")?.as_str()?.to_owned();
            let title = e.get("title").and_then(Value::as_str).unwrap_or("");
            let kind = e
                .get("type")
                .and_then(Value::as_str)
                .map(super::records::problem_kind)
                .unwrap_or("");
            let id = match e.get("id") {
                Some(Value::String(s)) => s.parse().ok(),
                _ => None,
            };
            let details = match e.get("details").and_then(Value::as_array) {
                Some(d) => d
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("; "),
                None => e
                    .get("detail")
                    .and_then(Value::as_str)
                    .unwrap_or(title)
                    .to_owned(),
            };
            let name = if title.is_empty() { kind } else { title };
            Some((name.to_owned(), value, id, details))
        })
        .collect()
}

fn is_duplicate(name: &str) -> bool {
    name == "DuplicateRule" || name == "duplicate-rules"
}

/// An add answer (any 2xx): `data` are the created rules; a `DuplicateRule` error is a rule
/// already present (with the existing rule's id); any other per-rule error is a rejection
/// with its `details`. `batch` gives the tags of what was sent.
pub fn parse_add(body: &[u8], batch: &[Rule]) -> Result<AddOutcome, BadResponse> {
    let v = object(body)?;
    let mut out = AddOutcome::default();
    if let Some(Value::Array(data)) = v.get("data") {
        out.created = data.iter().filter_map(rule_of).collect();
    }
    for (name, value, id, details) in rule_errors(&v) {
        let tag = batch
            .iter()
            .find(|r| r.value == value)
            .and_then(|r| r.tag.clone());
        let rule = Rule { value, tag, id };
        if is_duplicate(&name) {
            out.already_present.push(rule);
        } else {
            out.rejected.push((rule, format!("{name}: {details}")));
        }
    }
    Ok(out)
}

/// A `dry_run` add answer: what would be created or is present is valid; the rest invalid.
pub fn parse_validate(body: &[u8], batch: &[Rule]) -> Result<ValidateOutcome, BadResponse> {
    let a = parse_add(body, batch)?;
    let mut out = ValidateOutcome::default();
    let invalid: Vec<&str> = a.rejected.iter().map(|(r, _)| r.value.as_str()).collect();
    out.valid = batch
        .iter()
        .filter(|r| !invalid.contains(&r.value.as_str()))
        .cloned()
        .collect();
    out.invalid = a.rejected;
    Ok(out)
}

/// A delete answer: `meta.summary` `{"deleted":n,"not_deleted":m}`. A rule not deleted is
/// counted as absent (the shape of a missed delete's error is unconfirmed: x-api-v2.md §4);
/// an error naming another problem is a failure.
pub fn parse_delete(body: &[u8]) -> Result<DeleteOutcome, BadResponse> {
    let v = object(body)?;
    let n = |k: &str| {
        v.pointer(&format!("/meta/summary/{k}"))
            .and_then(Value::as_u64)
    };
    let deleted = n("deleted").ok_or_else(|| BadResponse("no meta.summary.deleted".into()))?;
    let mut out = DeleteOutcome {
        deleted,
        absent: n("not_deleted").unwrap_or(0),
        failed: Vec::new(),
    };
    for (name, value, _, details) in rule_errors(&v) {
        if !name.to_ascii_lowercase().contains("not") || name.contains("Invalid") {
            out.failed.push((value, format!("{name}: {details}")));
            out.absent = out.absent.saturating_sub(1);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_the_documented_ones() {
        let rules = [
            Rule::new("cat has:images", Some("cats")),
            Rule::new("dog", None),
        ];
        assert_eq!(
            String::from_utf8(add_body(&rules)).unwrap(),
            r#"{"add":[{"value":"cat has:images","tag":"cats"},{"value":"dog"}]}"#
        );
        assert_eq!(
            String::from_utf8(delete_ids_body(&[1273026480692322304])).unwrap(),
            r#"{"delete":{"ids":["1273026480692322304"]}}"#
        );
        assert_eq!(
            String::from_utf8(delete_values_body(&["a b".into()])).unwrap(),
            r#"{"delete":{"values":["a b"]}}"#
        );
        assert_eq!(list_query(Some("t")), "max_results=1000&pagination_token=t");
    }

    #[test]
    fn answers_are_read() {
        let (rules, next) = parse_list(br#"{"data":[{"id":"1273026480692322304","value":"cat","tag":"c"}],"meta":{"sent":"x","result_count":1,"next_token":"abc"}}"#).unwrap();
        assert_eq!(rules[0].id, Some(1273026480692322304));
        assert_eq!(next.as_deref(), Some("abc"));
        assert_eq!(
            parse_list(br#"{"meta":{"result_count":0}}"#).unwrap(),
            (vec![], None)
        );
        let batch = [
            Rule::new("cat has:images", Some("t")),
            Rule::new("h:m", None),
            Rule::new("dog", None),
        ];
        let add = br#"{"data":[{"id":"5","value":"dog"}],"meta":{"summary":{"created":1,"not_created":2,"valid":2,"invalid":1}},"errors":[{"value":"cat has:images","id":"1293637398979584001","title":"DuplicateRule","type":"https://api.twitter.com/2/problems/duplicate-rules"},{"value":"h:m","details":["Reference to invalid operator 'h' (at position 1)."],"title":"UnprocessableEntity","type":"https://api.twitter.com/2/problems/invalid-rules"}]}"#;
        let a = parse_add(add, &batch).unwrap();
        assert_eq!(
            a.created,
            [Rule {
                value: "dog".into(),
                tag: None,
                id: Some(5)
            }]
        );
        assert_eq!(a.already_present[0].id, Some(1293637398979584001));
        assert_eq!(a.already_present[0].tag.as_deref(), Some("t"));
        assert_eq!(a.rejected[0].0.value, "h:m");
        assert!(
            a.rejected[0].1.contains("invalid operator 'h'"),
            "{}",
            a.rejected[0].1
        );
        let v = parse_validate(add, &batch).unwrap();
        assert_eq!((v.valid.len(), v.invalid.len()), (2, 1));
        let d = parse_delete(br#"{"meta":{"sent":"x","summary":{"deleted":2,"not_deleted":1}}}"#)
            .unwrap();
        assert_eq!((d.deleted, d.absent, d.failed.len()), (2, 1, 0));
        assert!(parse_delete(b"{}").is_err());
    }
}

//! Rules API requests and responses: the bodies, batching within the 5,000-rule and
//! 5,000,000-byte limits, and reading what the service answers (both 422 shapes).

use std::fmt::Write as _;
use std::ops::Range;

use serde_json::Value;

use super::{MAX_BODY_BYTES, MAX_RULES_PER_REQUEST, Rule};
use crate::core::json;

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

/// The most JSON values an answer to one request (a batch of at most
/// [`MAX_RULES_PER_REQUEST`] rules, about 10 values each) is read as a tree with (audit M4: a
/// tree costs about 100 bytes a value, so this bounds it near 20 MB).
pub const MAX_ANSWER_VALUES: usize = 200_000;
/// The most JSON values one rule object of a list may have (`value`, `tag`, `id` and a few
/// more the service may add).
const MAX_RULE_VALUES: usize = 64;

/// An answer as a tree, when it is a JSON object of at most `max_values` values.
pub(crate) fn bounded_object(body: &[u8], max_values: usize) -> Result<Value, BadResponse> {
    match json::bounded_tree(body, max_values) {
        Ok(v) if v.is_object() => Ok(v),
        Ok(_) => Err(BadResponse(format!(
            "not a JSON object: {}",
            start_of(body)
        ))),
        Err(e) if e.starts_with("not JSON") => Err(BadResponse(format!(
            "not a JSON object: {}",
            start_of(body)
        ))),
        Err(e) => Err(BadResponse(e)),
    }
}

fn object(body: &[u8]) -> Result<Value, BadResponse> {
    bounded_object(body, MAX_ANSWER_VALUES)
}

/// The most rules a list answer may hold (a stream's rule limit is 250,000 unless the
/// contract says more): beyond it the answer is refused, not held.
pub const MAX_LIST_RULES: usize = 1_000_000;

/// The rules of the list under `key` in the JSON object `body`, without a tree of the whole
/// (a list holds up to 250,000 rules; audit M4): each rule is its own small tree, read by
/// `rule_of`. `Ok(None)` when there is no such member (or it is `null`); `Err` when `body`
/// is not one whole object, the member not one whole list, a rule is not one, or there are
/// more than [`MAX_LIST_RULES`].
fn list_rules(
    body: &[u8],
    key: &[u8],
    rule_of: fn(&Value) -> Option<Rule>,
) -> Result<Option<Vec<Rule>>, BadResponse> {
    let members = json::object_members(body)
        .ok_or_else(|| BadResponse(format!("not a JSON object: {}", start_of(body))))?;
    // The last of repeated members, as a parser into a map would keep.
    let Some((_, raw)) = members.iter().rev().find(|(k, _)| *k == key) else {
        return Ok(None);
    };
    if *raw == b"null" {
        return Ok(None);
    }
    let mut rules = Vec::new();
    for element in json::elements(raw) {
        let element = element.map_err(|_| {
            BadResponse(format!(
                "\"{}\" is not a list: {}",
                String::from_utf8_lossy(key),
                start_of(raw)
            ))
        })?;
        if rules.len() == MAX_LIST_RULES {
            return Err(BadResponse(format!(
                "more than {MAX_LIST_RULES} rules in the answer: not read"
            )));
        }
        let rule = bounded_object(element, MAX_RULE_VALUES)
            .ok()
            .as_ref()
            .and_then(rule_of)
            .ok_or_else(|| BadResponse(format!("a rule without a value: {}", start_of(element))))?;
        rules.push(rule);
    }
    Ok(Some(rules))
}

fn start_of(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned()
}

/// A list (or get) response: `{"rules":[…],"sent":…}`, in the service's order.
/// Read without a tree of the whole answer (audit M4): each rule is its own small tree.
pub fn parse_list(body: &[u8]) -> Result<Vec<Rule>, BadResponse> {
    list_rules(body, b"rules", rule_of)?
        .ok_or_else(|| BadResponse(format!("no \"rules\" list: {}", start_of(body))))
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
    let listed = details(&v).len();
    if listed > sent.len() {
        // The counts that follow are of the batch: more details than rules sent is not an
        // answer to this request.
        return Err(BadResponse(format!(
            "{listed} rules detailed for a batch of {}",
            sent.len()
        )));
    }
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

#[cfg(test)]
mod tests {
    use super::*;
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
        let two = [Rule::new("a", None), Rule::new("b", None)];
        let out = parse_add(201, add, &two).unwrap();
        assert_eq!(out.created[0].value, "robot OR 🤖");
        assert_eq!(out.created[0].id, Some(734861971116285952));
        assert_eq!(out.already_present[0].value, "fish OR 🐟");
        assert!(out.rejected.is_empty());
        let bad = br#"{"summary":{"created":0,"not_created":1},"detail":[{"rule":{"value":"-follow","tag":null},"created":false,"message":"Rules must contain a non-negation term (at position 1)\n"}],"sent":"x"}"#;
        let out = parse_add(422, bad, &two[..1]).unwrap();
        assert_eq!(out.rejected.len(), 1);
        assert!(out.rejected[0].1.starts_with("Rules must contain"));
        let old = br#"{"error":{"detail":[{"rule":{"value":"(a","tag":null},"created":false,"message":"unbalanced"}],"message":"One or more rules are invalid","sent":"x"}}"#;
        let out = parse_add(422, old, &two[..1]).unwrap();
        assert_eq!(out.rejected[0].0.value, "(a");
        // More rules detailed than the batch sent (audit L3: the count underflowed).
        assert!(parse_add(201, add, &two[..1]).is_err());
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
    fn batches_respect_both_limits_and_keep_order() {
        assert_eq!(batches(&[3, 3, 3], 2, 2, 100).unwrap(), vec![0..2, 2..3]);
        // 2 + 3 + 1 + 3 = 9 fits 9; a third does not.
        assert_eq!(batches(&[3, 3, 3], 2, 10, 9).unwrap(), vec![0..2, 2..3]);
        assert_eq!(batches(&[3, 20, 3], 2, 10, 9), Err(1));
        assert_eq!(batches(&[], 2, 10, 9).unwrap(), vec![]);
    }
}

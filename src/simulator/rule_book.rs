//! The simulator's rule books: every stream's stored rules (each with its parsed form), fresh
//! rule ids, and how a matching record gets its `matching_rules` the way the service adds them.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::rule_syntax::{self, Node};
use crate::protocol::policy::ConnectRateLimiter;
use crate::protocol::rules::{Rule, RuleSet, RulesPath};

/// A rule as the simulator keeps it: the rule and its parsed form, for filtering streams.
#[derive(Debug, Clone)]
pub(crate) struct StoredRule {
    pub rule: Rule,
    pub node: Node,
}

/// Every stream's rules. A list is replaced whole on each change, so a stream reading it holds
/// a consistent snapshot without a lock.
#[derive(Debug, Default)]
pub(crate) struct RuleBooks {
    pub(super) lists: HashMap<RulesPath, Arc<Vec<StoredRule>>>,
    pub(super) busy: std::collections::HashSet<RulesPath>,
    pub(super) limiters: HashMap<RulesPath, ConnectRateLimiter>,
    pub(super) next_id: u64,
}

impl RuleBooks {
    /// The rules of a PowerTrack stream, if it has any.
    pub fn powertrack(&self, account: &str, label: &str) -> Option<Arc<Vec<StoredRule>>> {
        self.lists
            .get(&RulesPath::new(RuleSet::PowerTrack, account, label))
            .filter(|l| !l.is_empty())
            .cloned()
    }

    /// Where the X API v2 filtered stream's one rule set is kept (v2 has no accounts or labels).
    pub fn v2_path() -> RulesPath {
        RulesPath::new(RuleSet::PowerTrack, "", "")
    }

    /// The X API v2 filtered stream's rules.
    pub fn v2_rules(&self) -> Arc<Vec<StoredRule>> {
        self.list(&Self::v2_path())
    }

    /// A stream's rules, as they are now.
    pub fn rules(&self, path: &RulesPath) -> Vec<Rule> {
        self.list(path).iter().map(|s| s.rule.clone()).collect()
    }

    pub(super) fn list(&self, path: &RulesPath) -> Arc<Vec<StoredRule>> {
        self.lists.get(path).cloned().unwrap_or_default()
    }

    /// A fresh id: above 2^53 (so a client that parses ids as floats breaks), increasing.
    pub(super) fn id(&mut self) -> u64 {
        if self.next_id == 0 {
            self.next_id = 1_400_000_000_000_000_001;
        }
        self.next_id += 1 + (self.next_id.wrapping_mul(0x9E37_79B9) >> 54);
        self.next_id
    }
}

/// Appends `record` to `out` if it matches any of `rules`, with `matching_rules` added the way
/// the service adds them (native: at the root; Activity Streams: inside `gnip`); `false` (and
/// nothing appended) when no rule matches or it is not an activity.
pub(crate) fn filter_into(record: &[u8], rules: &[StoredRule], out: &mut Vec<u8>) -> bool {
    let Some(doc) = rule_syntax::Doc::of(record) else {
        return false;
    };
    let matched: Vec<Value> = rules
        .iter()
        .filter(|s| rule_syntax::matches(&s.node, &doc))
        .map(|s| {
            let id = s.rule.id.unwrap_or_default();
            json!({ "tag": s.rule.tag, "id": id, "id_str": id.to_string() })
        })
        .collect();
    if matched.is_empty() {
        return false;
    }
    let list = Value::Array(matched).to_string();
    splice_matching_rules(record, list.as_bytes(), out);
    true
}

/// The offset of `part` (a slice of `whole`) in `whole`.
fn offset(whole: &[u8], part: &[u8]) -> usize {
    part.as_ptr() as usize - whole.as_ptr() as usize
}

/// Appends `record` with its `matching_rules` set to `list`: replaced where the record already
/// has them (the corpus's real records do), else added where the service puts them.
fn splice_matching_rules(record: &[u8], list: &[u8], out: &mut Vec<u8>) {
    use crate::core::json::members;
    let native = members(record, 0).any(|(k, _)| k == b"created_at");
    let key = |at: usize| {
        members(record, at)
            .find(|(k, _)| *k == b"matching_rules")
            .map(|(_, v)| (offset(record, v), v.len()))
    };
    let gnip = members(record, 0)
        .find(|(k, v)| *k == b"gnip" && v.first() == Some(&b'{'))
        .map(|(_, v)| offset(record, v));
    let (existing, insert_at, text) = match (native, gnip) {
        (true, _) => (key(0), None, ""),
        (false, Some(g)) => (key(g), Some(g + 1), ""),
        (false, None) => (None, None, "gnip"),
    };
    if let Some((at, len)) = existing {
        out.extend_from_slice(&record[..at]);
        out.extend_from_slice(list);
        out.extend_from_slice(&record[at + len..]);
    } else if let Some(at) = insert_at {
        let empty = record.get(crate::core::json::skip_ws(record, at)) == Some(&b'}');
        out.extend_from_slice(&record[..at]);
        out.extend_from_slice(b"\"matching_rules\":");
        out.extend_from_slice(list);
        if !empty {
            out.push(b',');
        }
        out.extend_from_slice(&record[at..]);
    } else {
        let end = record
            .iter()
            .rposition(|&b| b == b'}')
            .unwrap_or(record.len());
        out.extend_from_slice(&record[..end]);
        if text == "gnip" {
            out.extend_from_slice(b",\"gnip\":{\"matching_rules\":");
            out.extend_from_slice(list);
            out.push(b'}');
        } else {
            out.extend_from_slice(b",\"matching_rules\":");
            out.extend_from_slice(list);
        }
        out.extend_from_slice(&record[end..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(value: &str, tag: Option<&str>, id: u64) -> StoredRule {
        StoredRule {
            rule: Rule {
                value: value.into(),
                tag: tag.map(str::to_owned),
                id: Some(id),
            },
            node: rule_syntax::parse(value).unwrap(),
        }
    }

    #[test]
    fn matching_rules_go_where_the_service_puts_them() {
        let rules = [
            stored("fox", Some("animals"), 9_007_199_254_740_993),
            stored("cat", None, 5),
        ];
        let native = br#"{"created_at":"x","id_str":"1","text":"a fox"}"#;
        let mut out = Vec::new();
        assert!(filter_into(native, &rules, &mut out));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"created_at":"x","id_str":"1","text":"a fox","matching_rules":[{"id":9007199254740993,"id_str":"9007199254740993","tag":"animals"}]}"#
        );
        let as_ = br#"{"id":"tag:search.twitter.com,2005:1","verb":"post","body":"a cat","gnip":{"klout_score":1}}"#;
        let mut out = Vec::new();
        assert!(filter_into(as_, &rules, &mut out));
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["gnip"]["matching_rules"][0]["id"], 5);
        assert_eq!(v["gnip"]["matching_rules"][0]["tag"], Value::Null);
        assert_eq!(v["gnip"]["klout_score"], 1);
        // Records that already carry matching_rules (the corpus's real ones) get them replaced.
        let had = br#"{"created_at":"x","text":"a fox","matching_rules":[{"tag":"old","id":1}],"lang":"en"}"#;
        let mut out = Vec::new();
        assert!(filter_into(had, &rules, &mut out));
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["matching_rules"].as_array().unwrap().len(), 1);
        assert_eq!(v["matching_rules"][0]["tag"], "animals");
        assert_eq!(
            String::from_utf8_lossy(&out)
                .matches("matching_rules")
                .count(),
            1
        );
        let had_as =
            br#"{"verb":"post","body":"a cat","gnip":{"matching_rules":[{"tag":"x"}],"k":1}}"#;
        let mut out = Vec::new();
        assert!(filter_into(had_as, &rules, &mut out));
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["gnip"]["matching_rules"][0]["id"], 5);
        assert_eq!(v["gnip"]["k"], 1);
        let empty_gnip = br#"{"verb":"post","body":"a cat","gnip":{}}"#;
        let mut out = Vec::new();
        assert!(filter_into(empty_gnip, &rules, &mut out));
        assert!(
            serde_json::from_slice::<Value>(&out).is_ok(),
            "{}",
            String::from_utf8_lossy(&out)
        );
        let no_gnip = br#"{"verb":"post","body":"a cat"}"#;
        let mut out = Vec::new();
        assert!(filter_into(no_gnip, &rules, &mut out));
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["gnip"]["matching_rules"][0]["id"], 5);
        let mut out = Vec::new();
        assert!(!filter_into(
            br#"{"created_at":"x","text":"a dog"}"#,
            &rules,
            &mut out
        ));
        assert!(out.is_empty());
        assert!(!filter_into(
            br#"{"delete":{"status":{"id_str":"1"}}}"#,
            &rules,
            &mut out
        ));
    }
}

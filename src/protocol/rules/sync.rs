//! Rule files (NDJSON or one `{"rules":[…]}` document) and the diff `sync` applies: by exact
//! value, a changed tag as delete-then-add, adds before deletes.

use std::collections::HashMap;

use serde_json::Value;

use super::Rule;
use crate::core::json;

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
    // One document with a "rules" list (possibly spread over many lines), read a rule at a
    // time: no tree of the whole file (audit M4).
    if let Some(members) = json::object_members(bytes) {
        if let Some((_, list)) = members.iter().rev().find(|(k, _)| *k == b"rules") {
            let mut rules = Vec::new();
            for (i, raw) in json::elements(list).enumerate() {
                let raw = raw.map_err(|_| RulesFileError {
                    line: 0,
                    message: "\"rules\" must be a list".into(),
                })?;
                let rule = one_rule(raw, 0).map_err(|e| RulesFileError {
                    line: 0,
                    message: format!("rule {} of the document: {}", i + 1, e.message),
                })?;
                rules.push(rule);
            }
            return Ok(rules);
        }
    }
    let mut rules = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        rules.push(one_rule(line.as_bytes(), line_no)?);
    }
    Ok(rules)
}

/// The most JSON values one rule of a file may have (`value`, `tag`, an `id`, a few more).
const MAX_FILE_RULE_VALUES: usize = 64;

/// One rule's JSON text (a line, or an element of the document's list).
fn one_rule(raw: &[u8], line: usize) -> Result<Rule, RulesFileError> {
    let v = json::bounded_tree(raw, MAX_FILE_RULE_VALUES).map_err(|message| RulesFileError {
        line,
        message: if message.starts_with("not JSON") {
            message
        } else {
            format!("not a rule: {message}")
        },
    })?;
    file_rule(&v, line)
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

#[cfg(test)]
mod tests {
    use super::*;
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

//! The simulator's X API v2 filtered stream rules: `GET` lists them in pages (`max_results`,
//! `pagination_token`), `POST` adds (`DuplicateRule` and invalid rules as per-rule `errors`
//! beside what was created), deletes by values or ids, and `?dry_run=true` validates, with the
//! answers x-api-v2.md §4 quotes. Bearer auth.

use std::sync::Arc;

use serde_json::{Value, json};

use super::admit::v2_gate;
use super::config::{Connection, Fault};
use super::http::{self, BodyError, Request};
use super::rule_book::{RuleBooks, StoredRule};
use super::rule_syntax;
use super::state::{Shared, lock};
use crate::protocol::rules::Rule;
use crate::protocol::time;
use crate::protocol::v2::problems::status_problem;

/// Serves one v2 rules request.
pub(super) fn serve(
    shared: &Shared,
    conn: &mut Box<dyn Connection>,
    mut req: Request,
    faults: &[Fault],
    log: impl FnOnce(u16, usize),
) {
    let (status, body) = respond(shared, conn, &mut req, faults);
    log(status, req.body.len());
    let _ = http::write_json(conn, status, &[], body.as_bytes(), false);
}

fn rule_json(r: &Rule) -> Value {
    let mut v = json!({ "value": r.value });
    if let Some(t) = &r.tag {
        v["tag"] = json!(t);
    }
    if let Some(id) = r.id {
        v["id"] = json!(id.to_string());
    }
    v
}

fn problem(title: &str, kind: &str, r: &Rule, extra: Value) -> Value {
    let mut e = json!({
        "value": r.value,
        "title": title,
        "type": format!("https://api.x.com/2/problems/{kind}"),
    });
    if let Value::Object(m) = extra {
        for (k, v) in m {
            e[k] = v;
        }
    }
    e
}

fn respond(
    shared: &Shared,
    conn: &mut Box<dyn Connection>,
    req: &mut Request,
    faults: &[Fault],
) -> (u16, String) {
    if let Err(refused) = v2_gate(shared, req, faults) {
        return refused;
    }
    let sent = time::posted_time(crate::clock::now_secs());
    match req.method.as_str() {
        "GET" => {
            let list = lock(&shared.rules).v2_rules();
            let max = req
                .param("max_results")
                .and_then(|m| m.parse::<usize>().ok())
                .filter(|m| (1..=1000).contains(m))
                .unwrap_or(1000);
            let from = req
                .param("pagination_token")
                .and_then(|t| t.parse::<usize>().ok())
                .unwrap_or(0);
            let page: Vec<Value> = list
                .iter()
                .skip(from)
                .take(max)
                .map(|s| rule_json(&s.rule))
                .collect();
            let mut meta = json!({ "sent": sent, "result_count": page.len() });
            if from + max < list.len() {
                meta["next_token"] = json!((from + max).to_string());
            }
            let mut body = json!({ "meta": meta });
            if !page.is_empty() {
                body["data"] = json!(page);
            }
            (200, body.to_string())
        }
        "POST" => {
            if let Err(e) = http::read_body(conn, req, 5 << 20) {
                let why = match e {
                    BodyError::TooLarge(_) => "body too large",
                    BodyError::NoLength => "a Content-Length is required",
                    BodyError::Cut => "the body was cut short",
                };
                return (400, status_problem(400, why));
            }
            let Ok(v) = serde_json::from_slice::<Value>(&req.body) else {
                return (400, status_problem(400, "the body is not JSON"));
            };
            let dry_run = req.param("dry_run").as_deref() == Some("true");
            let mut books = lock(&shared.rules);
            if let Some(add) = v.get("add").and_then(Value::as_array) {
                add_rules(&mut books, add, dry_run, &sent)
            } else if let Some(del) = v.get("delete") {
                delete_rules(&mut books, del, dry_run, &sent)
            } else {
                (
                    400,
                    status_problem(400, "exactly one of add or delete must be given"),
                )
            }
        }
        _ => (405, status_problem(405, "Method Not Allowed")),
    }
}

fn add_rules(books: &mut RuleBooks, add: &[Value], dry_run: bool, sent: &str) -> (u16, String) {
    let path = RuleBooks::v2_path();
    let mut list: Vec<StoredRule> = books.list(&path).as_ref().clone();
    let (mut data, mut errors) = (Vec::new(), Vec::new());
    let (mut created, mut invalid) = (0, 0);
    for r in add {
        let Some(value) = r.get("value").and_then(Value::as_str) else {
            return (400, status_problem(400, "a rule without a value"));
        };
        let tag = r.get("tag").and_then(Value::as_str);
        let mut rule = Rule::new(value, tag);
        if let Some(old) = list.iter().find(|s| s.rule.value == value) {
            errors.push(problem(
                "DuplicateRule",
                "duplicate-rules",
                &rule,
                json!({"id": old.rule.id.map(|i| i.to_string())}),
            ));
            continue;
        }
        match rule_syntax::validate(value, tag) {
            Ok(node) => {
                if !dry_run {
                    rule.id = Some(books.id());
                }
                data.push(rule_json(&rule));
                created += 1;
                list.push(StoredRule { rule, node });
            }
            Err(m) => {
                invalid += 1;
                errors.push(problem(
                    "UnprocessableEntity",
                    "invalid-rules",
                    &rule,
                    json!({"details": [m]}),
                ));
            }
        }
    }
    if !dry_run {
        books.lists.insert(path, Arc::new(list));
    }
    let not_created = add.len() - created;
    let mut body = json!({
        "meta": {"sent": sent, "summary": {"created": created, "not_created": not_created, "valid": add.len() - invalid, "invalid": invalid}},
    });
    if !data.is_empty() {
        body["data"] = json!(data);
    }
    if !errors.is_empty() {
        body["errors"] = json!(errors);
    }
    (200, body.to_string())
}

fn delete_rules(books: &mut RuleBooks, del: &Value, dry_run: bool, sent: &str) -> (u16, String) {
    let path = RuleBooks::v2_path();
    let strings = |k: &str| -> Vec<String> {
        del.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (ids, values) = (strings("ids"), strings("values"));
    let asked = ids.len() + values.len();
    let mut list: Vec<StoredRule> = books.list(&path).as_ref().clone();
    let before = list.len();
    list.retain(|s| {
        let id = s.rule.id.map(|i| i.to_string()).unwrap_or_default();
        !ids.contains(&id) && !values.contains(&s.rule.value)
    });
    let deleted = before - list.len();
    if !dry_run {
        books.lists.insert(path, Arc::new(list));
    }
    let body = json!({"meta": {"sent": sent, "summary": {"deleted": deleted, "not_deleted": asked - deleted.min(asked)}}});
    (200, body.to_string())
}

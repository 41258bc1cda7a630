//! The simulator's Rules API: a rule list per stream, list / add / delete / get / validate with
//! the documented bodies and statuses, 422 all or nothing, the 5 MB body limit, one request at
//! a time, 60 requests a minute with `Retry-After`, and ids above 2^53.

use std::sync::Arc;
use std::thread;
use std::time::Instant;

use serde_json::{Value, json};

use super::admit::basic_credentials;
use super::config::{Connection, Fault};
use super::http::{self, BodyError, Request};
use super::rule_book::StoredRule;
use super::rule_syntax;
use super::state::{Shared, lock};
use crate::protocol::messages;
use crate::protocol::policy::ConnectRateLimiter;
use crate::protocol::rules::{
    ALREADY_EXISTS, DOES_NOT_EXIST, INVALID_JSON, MAX_BODY_BYTES, RULES_RATE_LIMIT, Rule,
    RulesEndpoint, RulesPath,
};
use crate::protocol::time;

/// A response: status, body, extra headers.
struct Answer {
    status: u16,
    body: String,
    headers: Vec<(&'static str, String)>,
}

fn answer(status: u16, body: Value) -> Answer {
    Answer {
        status,
        body: body.to_string(),
        headers: Vec::new(),
    }
}

fn refuse(status: u16, message: &str, n: u64) -> Answer {
    Answer {
        status,
        body: super::state::error_body(message, n),
        headers: Vec::new(),
    }
}

fn sent() -> String {
    time::iso8601(crate::clock::now_secs())
}

fn rule_json(r: &Rule) -> Value {
    let mut v = json!({ "value": r.value, "tag": r.tag });
    if let Some(id) = r.id {
        v["id"] = json!(id);
    }
    v
}

/// Serves one rules request; `log` is told the status and the body's length once the answer
/// is ready, before it is written (so a client that has its answer finds it in the log).
pub(super) fn serve(
    shared: &Shared,
    conn: &mut Box<dyn Connection>,
    mut req: Request,
    n: u64,
    faults: &[Fault],
    log: impl FnOnce(u16, usize),
) {
    let a = respond(shared, conn, &mut req, n, faults);
    let gzip = shared.config.compress_rules_responses && super::route::accepts_gzip(&req);
    log(a.status, req.body.len());
    let _ = http::write_json(conn, a.status, &a.headers, a.body.as_bytes(), gzip);
}

/// Every check in order, then the call: path (404), method (405), the body (411, 413 — refused
/// by its `Content-Length` before reading it — 400), rate limit (429 with `Retry-After`), a
/// scripted status, credentials (401), another rules request in progress on the same stream
/// (409), then the answer.
fn respond(
    shared: &Shared,
    conn: &mut Box<dyn Connection>,
    req: &mut Request,
    n: u64,
    faults: &[Fault],
) -> Answer {
    let Some(endpoint) = RulesPath::parse(&req.path) else {
        return refuse(404, "Not found", n);
    };
    let method = req.param("_method").unwrap_or_default();
    let path = match &endpoint {
        RulesEndpoint::Rules(p) | RulesEndpoint::Validation(p) | RulesEndpoint::One(p, _) => {
            p.clone()
        }
    };
    let allowed = match (&endpoint, req.method.as_str()) {
        (RulesEndpoint::Rules(_), "GET") => method.is_empty(),
        (RulesEndpoint::Rules(_), "POST") => ["", "delete", "get"].contains(&method.as_str()),
        (RulesEndpoint::Validation(_), "POST") | (RulesEndpoint::One(..), "GET") => true,
        _ => false,
    };
    if !allowed {
        return refuse(405, "This method is not supported on this endpoint", n);
    }
    // The whole request is read before any answer: answering (and closing) while the client
    // still sends its body could reset the connection under the answer.
    match http::read_body(conn, req, MAX_BODY_BYTES) {
        Ok(()) => {}
        Err(BodyError::TooLarge(len)) => {
            return refuse(
                413,
                &format!(
                    "Request body of {len} bytes exceeds the maximum of {MAX_BODY_BYTES} bytes"
                ),
                n,
            );
        }
        Err(BodyError::NoLength) => return refuse(411, "A Content-Length is required", n),
        Err(BodyError::Cut) => return refuse(400, "The request body was cut short", n),
    }
    // 60 a minute per stream's rules, GETs and POSTs together.
    {
        let mut books = lock(&shared.rules);
        let mut limit = RULES_RATE_LIMIT;
        if let Some(w) = shared.config.rate_window {
            limit.window = w;
        }
        let limiter = books
            .limiters
            .entry(path.clone())
            .or_insert_with(|| ConnectRateLimiter::new(limit));
        let now = Instant::now();
        if !limiter.try_admit(now) {
            let wait = limiter.wait_for_room(now);
            let mut a = refuse(429, messages::EXCEEDED_RATE_LIMIT, n);
            a.headers.push((
                "Retry-After",
                wait.as_secs_f64().ceil().max(1.0).to_string(),
            ));
            return a;
        }
    }
    if let Some(Fault::Status { status, message }) =
        faults.iter().find(|f| matches!(f, Fault::Status { .. }))
    {
        return refuse(*status, message, n);
    }
    let authorised = req
        .header("authorization")
        .and_then(basic_credentials)
        .is_some_and(|(u, p)| u == shared.config.user && p == shared.config.password);
    if !authorised {
        return refuse(
            401,
            "Invalid credentials: check the username and password (HTTP Basic).",
            n,
        );
    }
    // One rules request at a time per stream: the service rejects concurrent ones.
    if !lock(&shared.rules).busy.insert(path.clone()) {
        return refuse(
            409,
            "Rule requests are processed serially: another rule request is in progress",
            n,
        );
    }
    if !shared.config.rules_latency.is_zero() {
        thread::sleep(shared.config.rules_latency);
    }
    let a = handle(shared, &endpoint, &path, &method, &req.body, n);
    lock(&shared.rules).busy.remove(&path);
    a
}

/// The rules of a request body: `{"rules":[{"value":…,"tag":…}]}`; `None` when it is not that.
fn body_rules(body: &Value) -> Option<Vec<Rule>> {
    body.get("rules")?
        .as_array()?
        .iter()
        .map(|r| {
            Some(Rule {
                value: r.get("value")?.as_str()?.to_owned(),
                tag: r.get("tag").and_then(Value::as_str).map(str::to_owned),
                id: None,
            })
        })
        .collect()
}

fn body_ids(body: &Value) -> Option<Vec<u64>> {
    body.get("rule_ids")?
        .as_array()?
        .iter()
        .map(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
        .collect()
}

fn handle(
    shared: &Shared,
    endpoint: &RulesEndpoint,
    path: &RulesPath,
    method: &str,
    body: &[u8],
    n: u64,
) -> Answer {
    let current = lock(&shared.rules).list(path);
    if let RulesEndpoint::One(_, id) = endpoint {
        let rules: Vec<Value> = current
            .iter()
            .filter(|s| s.rule.id == Some(*id))
            .map(|s| rule_json(&s.rule))
            .collect();
        return answer(200, json!({ "rules": rules, "sent": sent() }));
    }
    if matches!(endpoint, RulesEndpoint::Rules(_)) && body.is_empty() && method.is_empty() {
        let rules: Vec<Value> = current.iter().map(|s| rule_json(&s.rule)).collect();
        return answer(200, json!({ "rules": rules, "sent": sent() }));
    }
    let Ok(doc) = serde_json::from_slice::<Value>(body) else {
        return refuse(400, INVALID_JSON, n);
    };
    match (endpoint, method) {
        (RulesEndpoint::Validation(_), _) => {
            let Some(rules) = body_rules(&doc) else {
                return refuse(400, INVALID_JSON, n);
            };
            let detail: Vec<Value> = rules
                .iter()
                .map(
                    |r| match rule_syntax::validate(&r.value, r.tag.as_deref()) {
                        Ok(_) => json!({ "rule": rule_json(r), "valid": true }),
                        Err(m) => json!({ "rule": rule_json(r), "valid": false, "message": m }),
                    },
                )
                .collect();
            let valid = detail.iter().filter(|d| d["valid"] == true).count();
            answer(
                200,
                json!({
                    "summary": { "valid": valid, "not_valid": detail.len() - valid },
                    "detail": detail,
                    "sent": sent(),
                }),
            )
        }
        (_, "get") => {
            let Some(ids) = body_ids(&doc) else {
                return refuse(400, INVALID_JSON, n);
            };
            let rules: Vec<Value> = current
                .iter()
                .filter(|s| s.rule.id.is_some_and(|id| ids.contains(&id)))
                .map(|s| rule_json(&s.rule))
                .collect();
            answer(200, json!({ "rules": rules, "sent": sent() }))
        }
        (_, "delete") => delete(shared, path, &doc, n),
        _ => add(shared, path, &doc, n),
    }
}

/// Add: all or nothing (any invalid rule: 422, none added); a value already a rule is
/// `created: false` with the service's message.
fn add(shared: &Shared, path: &RulesPath, doc: &Value, n: u64) -> Answer {
    let Some(rules) = body_rules(doc) else {
        return refuse(400, INVALID_JSON, n);
    };
    let mut parsed = Vec::with_capacity(rules.len());
    let mut invalid = Vec::new();
    for r in &rules {
        match rule_syntax::validate(&r.value, r.tag.as_deref()) {
            Ok(node) => parsed.push(node),
            Err(m) => invalid.push(json!({ "rule": rule_json(r), "created": false, "message": m })),
        }
    }
    if !invalid.is_empty() {
        return answer(
            422,
            json!({
                "summary": { "created": 0, "not_created": rules.len() },
                "detail": invalid,
                "sent": sent(),
            }),
        );
    }
    let mut books = lock(&shared.rules);
    let mut list: Vec<StoredRule> = books.list(path).as_ref().clone();
    let mut detail = Vec::with_capacity(rules.len());
    let mut created = 0;
    for (r, node) in rules.into_iter().zip(parsed) {
        if list.iter().any(|s| s.rule.value == r.value) {
            detail.push(
                json!({ "rule": rule_json(&r), "created": false, "message": ALREADY_EXISTS }),
            );
            continue;
        }
        let rule = Rule {
            id: Some(books.id()),
            ..r
        };
        detail.push(json!({ "rule": rule_json(&rule), "created": true }));
        list.push(StoredRule { rule, node });
        created += 1;
    }
    let total = detail.len();
    books.lists.insert(path.clone(), Arc::new(list));
    answer(
        201,
        json!({
            "summary": { "created": created, "not_created": total - created },
            "detail": detail,
            "sent": sent(),
        }),
    )
}

/// Delete by value (case-sensitive, exact) or by id; a miss is `deleted: false`, "Rule does not
/// exist".
fn delete(shared: &Shared, path: &RulesPath, doc: &Value, n: u64) -> Answer {
    enum Key {
        Value(String),
        Id(u64),
    }
    let keys: Vec<Key> = if let Some(rules) = body_rules(doc) {
        rules.into_iter().map(|r| Key::Value(r.value)).collect()
    } else if let Some(ids) = body_ids(doc) {
        ids.into_iter().map(Key::Id).collect()
    } else {
        return refuse(400, INVALID_JSON, n);
    };
    let mut books = lock(&shared.rules);
    let mut list: Vec<StoredRule> = books.list(path).as_ref().clone();
    let mut deleted = 0;
    let mut misses = Vec::new();
    for k in keys {
        let before = list.len();
        match &k {
            Key::Value(v) => list.retain(|s| s.rule.value != *v),
            Key::Id(id) => list.retain(|s| s.rule.id != Some(*id)),
        }
        if list.len() < before {
            deleted += 1;
        } else {
            misses.push(match k {
                Key::Value(v) => {
                    json!({ "rule": { "value": v }, "deleted": false, "message": DOES_NOT_EXIST })
                }
                Key::Id(id) => json!({ "id": id, "deleted": false, "message": DOES_NOT_EXIST }),
            });
        }
    }
    books.lists.insert(path.clone(), Arc::new(list));
    answer(
        200,
        json!({
            "summary": { "deleted": deleted, "not_deleted": misses.len() },
            "detail": misses,
            "sent": sent(),
        }),
    )
}

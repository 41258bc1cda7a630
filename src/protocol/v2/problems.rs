//! X API v2 HTTP error bodies (problem JSON, or the legacy `{"code","message"}`), the text the
//! client reports for each, and which refusal a 409 or 429 is (x-api-v2.md §2.6).

use crate::protocol::policy::Refusal;

/// The longest wait a plain 429 is given (its `x-rate-limit-reset`, at most one window).
pub const MAX_RATE_LIMIT_WAIT_SECS: u32 = 15 * 60;

/// A parsed error body: the members the client acts on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Problem {
    /// `title` (`UsageCapExceeded`, `ConnectionException`, `Unauthorized`, …).
    pub title: String,
    /// `detail`, or the legacy `message`.
    pub detail: String,
    /// The `type` URI's last segment (`usage-capped`, `streaming-connection`, …).
    pub kind: String,
    /// `connection_issue` (`TooManyConnections`, `ProvisioningSubscription`,
    /// `RuleConfigurationIssue`, `RulesInvalidIssue`).
    pub connection_issue: String,
    /// A 403's `reason` (`client-not-enrolled`, `official-client-forbidden`).
    pub reason: String,
    /// A usage cap's `period` (`Daily`, `Monthly`).
    pub period: String,
    /// A usage cap's `scope` (`Account`, `Product`).
    pub scope: String,
}

impl Problem {
    /// Parses `body` (at most a few KiB: the caller bounds it); an unreadable body gives an
    /// empty problem whose [`Problem::text`] is the body's first line.
    pub fn parse(body: &[u8]) -> Problem {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
            return Problem::default();
        };
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_owned();
        let detail = [s("detail"), s("message")]
            .into_iter()
            .find(|d| !d.is_empty())
            .unwrap_or_default();
        Problem {
            title: s("title"),
            detail,
            kind: super::records::problem_kind(&s("type")).to_owned(),
            connection_issue: s("connection_issue"),
            reason: s("reason"),
            period: s("period"),
            scope: s("scope"),
        }
    }

    /// Whether this is a usage cap (`UsageCapExceeded`, type `usage-capped`).
    pub fn is_usage_cap(&self) -> bool {
        self.title == "UsageCapExceeded" || self.kind == "usage-capped"
    }

    /// What a refused connect with `status` and this body is, for the policy table; `None`
    /// when the status alone decides (401, 403, other 4xx, 5xx).
    pub fn refusal(&self, status: u16, reset_in_secs: Option<u32>) -> Option<Refusal> {
        match (status, self.connection_issue.as_str()) {
            (_, "ProvisioningSubscription") => Some(Refusal::Provisioning),
            (429, _) if self.is_usage_cap() => Some(Refusal::UsageCap),
            (429, "TooManyConnections") => Some(Refusal::TooManyConnections),
            (429, _) => Some(Refusal::RateLimited {
                wait_secs: reset_in_secs.map(|s| s.clamp(1, MAX_RATE_LIMIT_WAIT_SECS)),
            }),
            (409, _) => Some(Refusal::NoRules),
            _ => None,
        }
    }

    /// The text the client reports: for a usage cap its period and scope; for a 403 its
    /// reason; for a 409 that the stream has no rules; else title and detail.
    pub fn text(&self, status: u16, body: &[u8]) -> String {
        if self.is_usage_cap() {
            return format!(
                "usage cap exceeded: {} {} cap{} (no retry until the period resets)",
                or(&self.period, "unknown period"),
                or(&self.scope, "unknown scope").to_ascii_lowercase(),
                tail(&self.detail)
            );
        }
        if status == 409 && self.connection_issue != "ProvisioningSubscription" {
            return format!(
                "the stream has no rules: add some (gnip-stream rules add --api v2 …), then connect{}",
                tail(&self.detail)
            );
        }
        if status == 403 && !self.reason.is_empty() {
            return format!(
                "{} ({}){}",
                or(&self.title, "Forbidden"),
                self.reason,
                tail(&self.detail)
            );
        }
        let head = [&self.connection_issue, &self.title]
            .into_iter()
            .find(|s| !s.is_empty());
        match (head, self.detail.is_empty()) {
            (Some(h), false) if h != &self.detail => format!("{h}: {}", self.detail),
            (Some(h), _) => h.clone(),
            (None, false) => self.detail.clone(),
            (None, true) => first_line(body),
        }
    }
}

fn or<'a>(s: &'a str, default: &'a str) -> &'a str {
    if s.is_empty() { default } else { s }
}

fn tail(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

/// The body's first line, at most 200 characters, for a body that is not JSON.
fn first_line(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line = text.lines().next().unwrap_or("").trim();
    line.chars().take(200).collect()
}

/// An error body's text, as the client reports it (see [`Problem::text`]).
pub fn error_message(status: u16, body: &[u8]) -> String {
    Problem::parse(body).text(status, body)
}

/// The problem JSON the simulator answers with, for `status` (the shapes x-api-v2.md §2.6
/// quotes).
pub fn problem_body(status: u16, title: &str, detail: &str, kind: &str, extra: &str) -> String {
    let q = |s: &str| serde_json::Value::from(s).to_string();
    format!(
        "{{\"title\":{},\"detail\":{},\"type\":{},\"status\":{status}{extra}}}",
        q(title),
        q(detail),
        q(&format!("https://api.x.com/2/problems/{kind}"))
    )
}

/// The problem body for a refusal the status describes alone (400 bad parameters, 401, 404,
/// 405, a plain 429, 5xx), with `detail`.
pub fn status_problem(status: u16, detail: &str) -> String {
    let (title, kind) = match status {
        400 => ("Invalid Request", "invalid-request"),
        401 => ("Unauthorized", "about:blank"),
        403 => ("Forbidden", "client-forbidden"),
        404 => ("Not Found Error", "resource-not-found"),
        429 => ("Too Many Requests", "about:blank"),
        s if s >= 500 => ("Service Unavailable", "service-unavailable"),
        _ => ("Error", "about:blank"),
    };
    if kind == "about:blank" {
        let q = |s: &str| serde_json::Value::from(s).to_string();
        return format!(
            "{{\"title\":{},\"type\":\"about:blank\",\"status\":{status},\"detail\":{}}}",
            q(title),
            q(detail)
        );
    }
    problem_body(status, title, detail, kind, "")
}

/// The 429 body of a stream at its connection limit (x-api-v2.md §2.6, verbatim).
pub fn too_many_connections_body() -> String {
    connection_exception(
        "This stream is currently at the maximum allowed connection limit.",
        "TooManyConnections",
        429,
    )
}

/// The 409 body of a filtered stream without rules (x-api-v2.md §2.6, verbatim).
pub fn no_rules_body() -> String {
    connection_exception(
        "You must define rules using the POST /2/tweets/search/stream/rules endpoint before connecting to filtered stream.",
        "RuleConfigurationIssue",
        409,
    )
}

/// The 429 body of an exhausted usage cap for `period` (`Daily`, `Monthly`) and `scope`
/// (`Account`, `Product`).
pub fn usage_cap_body(period: &str, scope: &str) -> String {
    format!(
        "{{\"account_id\":1,\"product_name\":\"enterprise\",\"title\":\"UsageCapExceeded\",\"period\":\"{period}\",\"scope\":\"{scope}\",\"detail\":\"Usage cap exceeded: {period} {} cap\",\"type\":\"https://api.x.com/2/problems/usage-capped\"}}",
        scope.to_ascii_lowercase()
    )
}

fn connection_exception(detail: &str, issue: &str, status: u16) -> String {
    problem_body(
        status,
        "ConnectionException",
        detail,
        "streaming-connection",
        &format!(",\"connection_issue\":\"{issue}\""),
    )
}

/// An in-stream disconnect line (`{"errors":[…]}`) of `disconnect_type` with `detail`.
pub fn disconnect_line(disconnect_type: &str, detail: &str) -> String {
    let q = |s: &str| serde_json::Value::from(s).to_string();
    format!(
        "{{\"errors\":[{{\"title\":\"operational-disconnect\",\"disconnect_type\":{},\"detail\":{},\"type\":\"https://api.x.com/2/problems/operational-disconnect\"}}]}}",
        q(disconnect_type),
        q(detail)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_kinds_of_429_and_the_409_are_told_apart() {
        let cap = br#"{"account_id":1,"product_name":"x","title":"UsageCapExceeded","period":"Monthly","scope":"Product","detail":"Usage cap exceeded: Monthly product cap","type":"https://api.x.com/2/problems/usage-capped"}"#;
        let p = Problem::parse(cap);
        assert_eq!(p.refusal(429, Some(60)), Some(Refusal::UsageCap));
        let t = p.text(429, cap);
        assert!(t.contains("Monthly") && t.contains("product"), "{t}");
        let tmc = br#"{"title":"ConnectionException","detail":"This stream is currently at the maximum allowed connection limit.","connection_issue":"TooManyConnections","type":"https://api.twitter.com/2/problems/streaming-connection"}"#;
        assert_eq!(
            Problem::parse(tmc).refusal(429, None),
            Some(Refusal::TooManyConnections)
        );
        let plain = br#"{"title":"Too Many Requests","type":"about:blank","status":429,"detail":"Too Many Requests"}"#;
        assert_eq!(
            Problem::parse(plain).refusal(429, Some(120)),
            Some(Refusal::RateLimited {
                wait_secs: Some(120)
            })
        );
        assert_eq!(
            Problem::parse(plain).refusal(429, Some(99_999)),
            Some(Refusal::RateLimited {
                wait_secs: Some(900)
            })
        );
        assert_eq!(
            Problem::parse(b"").refusal(429, None),
            Some(Refusal::RateLimited { wait_secs: None })
        );
        let prov = br#"{"title":"ConnectionException","detail":"Your subscription change is currently being provisioned, please try again in a minute.","connection_issue":"ProvisioningSubscription","type":"https://api.x.com/2/problems/streaming-connection"}"#;
        assert_eq!(
            Problem::parse(prov).refusal(409, None),
            Some(Refusal::Provisioning)
        );
        let rules = br#"{"title":"ConnectionException","detail":"You must define rules using the POST /2/tweets/search/stream/rules endpoint before connecting to filtered stream.","connection_issue":"RuleConfigurationIssue","type":"https://api.x.com/2/problems/streaming-connection"}"#;
        let p = Problem::parse(rules);
        assert_eq!(p.refusal(409, None), Some(Refusal::NoRules));
        assert!(p.text(409, rules).contains("no rules"));
        assert_eq!(Problem::parse(b"{}").refusal(401, None), None);
    }

    #[test]
    fn texts_name_the_reason_and_accept_the_legacy_shape() {
        let forbidden = br#"{"client_id":"1","detail":"When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens from a Twitter developer App that is attached to a Project.","title":"Client Forbidden","reason":"client-not-enrolled","type":"https://api.twitter.com/2/problems/client-forbidden"}"#;
        let t = error_message(403, forbidden);
        assert!(
            t.starts_with("Client Forbidden (client-not-enrolled): When"),
            "{t}"
        );
        assert_eq!(error_message(401, br#"{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}"#), "Unauthorized");
        assert_eq!(
            error_message(
                400,
                br#"{"code":32,"message":"Could not authenticate you"}"#
            ),
            "Could not authenticate you"
        );
        assert_eq!(
            error_message(502, b"<html>bad gateway</html>\nmore"),
            "<html>bad gateway</html>"
        );
        let body = problem_body(
            429,
            "Too Many Requests",
            "Too Many Requests",
            "rate-limit",
            "",
        );
        assert_eq!(Problem::parse(body.as_bytes()).kind, "rate-limit");
    }
}

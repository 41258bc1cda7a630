//! The X API v2 Connections API as data (x-api-v2.md §1.2): the list query and its pages, the
//! three kill requests and their answer, and the names an endpoint goes by.

use super::products::V2Product;

/// The Connections API's path.
pub const CONNECTIONS_PATH: &str = "/2/connections";

/// The fields asked for on each listed connection.
pub const CONNECTION_FIELDS: &str =
    "client_ip,connected_at,disconnect_reason,disconnected_at,endpoint_name,id";

/// The most connections per page the service gives (`max_results` 1..=100).
pub const MAX_RESULTS: u32 = 100;

/// Which connections to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Open now (the default).
    Active,
    /// Closed.
    Inactive,
    /// Both.
    All,
}

impl Status {
    /// The name on the wire and the command line.
    pub fn name(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Inactive => "inactive",
            Status::All => "all",
        }
    }

    /// The status named `name`.
    pub fn from_name(name: &str) -> Option<Status> {
        [Status::Active, Status::Inactive, Status::All]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

/// The path and query of one list page (`token`: the previous page's next token).
pub fn list_path(status: Status, token: Option<&str>) -> String {
    let mut q = format!(
        "{CONNECTIONS_PATH}?status={}&max_results={MAX_RESULTS}&connection.fields={CONNECTION_FIELDS}",
        status.name()
    );
    if let Some(t) = token {
        q.push_str("&pagination_token=");
        q.push_str(t);
    }
    q
}

/// One page of the list: each connection as a compact JSON object, and the next page's token.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// The connections, each one JSON object (as the service wrote its members).
    pub connections: Vec<String>,
    /// `meta.next_token` (or `meta.pagination_token`), when there is another page.
    pub next_token: Option<String>,
}

/// The most JSON values an answer is read as a tree with (a page is at most a few hundred
/// connections of a dozen members; audit M4).
pub const MAX_ANSWER_VALUES: usize = 200_000;

/// Parses a list page: `{"data":[…],"meta":{"result_count":n,"next_token":"…"}}` (no `data`:
/// no connections).
pub fn parse_page(body: &[u8]) -> Result<Page, String> {
    let v = crate::core::json::bounded_tree(body, MAX_ANSWER_VALUES)?;
    let connections = match v.get("data") {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::Array(a)) => a.iter().map(|c| c.to_string()).collect(),
        Some(_) => return Err("data is not a list".into()),
    };
    let next_token = ["next_token", "pagination_token"]
        .into_iter()
        .find_map(|k| v.pointer(&format!("/meta/{k}")).and_then(|t| t.as_str()))
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    Ok(Page {
        connections,
        next_token,
    })
}

/// What to kill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kill {
    /// Every connection of the App (`DELETE /2/connections/all`).
    All,
    /// Every connection to one endpoint, by its endpoint id (`DELETE /2/connections/{id}`).
    Endpoint(&'static str),
    /// These connections (`DELETE /2/connections` with `{"uuids":[…]}`, 1..=100 of them).
    Uuids(Vec<String>),
}

impl Kill {
    /// The request's path and JSON body (`None`: no body).
    pub fn request(&self) -> (String, Option<String>) {
        match self {
            Kill::All => (format!("{CONNECTIONS_PATH}/all"), None),
            Kill::Endpoint(id) => (format!("{CONNECTIONS_PATH}/{id}"), None),
            Kill::Uuids(u) => (
                CONNECTIONS_PATH.to_owned(),
                Some(format!(
                    "{{\"uuids\":[{}]}}",
                    u.iter()
                        .map(|v| serde_json::Value::String(v.clone()).to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                )),
            ),
        }
    }
}

/// The endpoint id a name stands for: a product name from the table (`decahose`,
/// `firehose-en`) or the service's own id (`sample10_stream`).
pub fn endpoint_id(name: &str) -> Option<&'static str> {
    V2Product::from_name(name)
        .or_else(|| V2Product::from_endpoint_id(name))
        .map(V2Product::endpoint_id)
}

/// A kill's answer: `{"data":{"successful_kills":n,"failed_kills":m,"results":[…]}}` →
/// `(killed, failed)`.
pub fn parse_kill(body: &[u8]) -> Result<(u64, u64), String> {
    let v = crate::core::json::bounded_tree(body, MAX_ANSWER_VALUES)?;
    let n = |k: &str| v.pointer(&format!("/data/{k}")).and_then(|x| x.as_u64());
    match (n("successful_kills"), n("failed_kills")) {
        (Some(ok), failed) => Ok((ok, failed.unwrap_or(0))),
        _ => Err("no data.successful_kills in the answer".into()),
    }
}

/// The answer the simulator gives to a kill of `killed` connections and `failed` uuids it did
/// not know.
pub fn kill_answer(killed: &[String], failed: &[String]) -> String {
    let results: Vec<serde_json::Value> = killed
        .iter()
        .map(|u| serde_json::json!({"uuid": u, "success": true}))
        .chain(failed.iter().map(
            |u| serde_json::json!({"uuid": u, "success": false, "error_message": "connection not found"}),
        ))
        .collect();
    serde_json::json!({"data": {
        "successful_kills": killed.len(),
        "failed_kills": failed.len(),
        "results": results,
    }})
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_pages_and_kills_round_trip() {
        assert_eq!(
            list_path(Status::All, Some("abc")),
            "/2/connections?status=all&max_results=100&connection.fields=client_ip,connected_at,disconnect_reason,disconnected_at,endpoint_name,id&pagination_token=abc"
        );
        let p = parse_page(br#"{"data":[{"id":"u1","endpoint_name":"sample10_stream"}],"meta":{"result_count":1,"next_token":"t2"}}"#).unwrap();
        assert_eq!(
            p.connections,
            [r#"{"endpoint_name":"sample10_stream","id":"u1"}"#]
        );
        assert_eq!(p.next_token.as_deref(), Some("t2"));
        assert_eq!(
            parse_page(br#"{"meta":{"result_count":0}}"#).unwrap(),
            Page::default()
        );
        assert!(parse_page(b"[").is_err());
        assert_eq!(Kill::All.request(), ("/2/connections/all".into(), None));
        assert_eq!(
            Kill::Uuids(vec!["a".into()]).request(),
            ("/2/connections".into(), Some(r#"{"uuids":["a"]}"#.into()))
        );
        assert_eq!(endpoint_id("decahose"), Some("sample10_stream"));
        assert_eq!(endpoint_id("sample10_stream"), Some("sample10_stream"));
        assert_eq!(endpoint_id("nope"), None);
        let a = kill_answer(&["a".into(), "b".into()], &["c".into()]);
        assert_eq!(parse_kill(a.as_bytes()), Ok((2, 1)));
        assert!(parse_kill(b"{}").is_err());
        assert_eq!(Status::from_name("inactive"), Some(Status::Inactive));
    }
}

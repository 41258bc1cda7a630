//! The simulator's X API v2 Connections API: every v2 stream connection it served (uuid,
//! endpoint, client address, times), listed by status with `max_results` pages, and killed all
//! at once, by endpoint, or by uuid (the connection ends at its next step).

use serde_json::json;

use super::admit::v2_gate;
use super::config::{Connection, Fault};
use super::http::{self, BodyError, Request};
use super::state::{Shared, V2Connection, lock};
use crate::protocol::time;
use crate::protocol::v2::connections::{CONNECTIONS_PATH, Status, kill_answer};
use crate::protocol::v2::problems::status_problem;
use crate::protocol::v2::products::V2Product;

/// The simulator's largest page (smaller than the service's 100, so paging is exercised).
const PAGE: usize = 25;

impl V2Connection {
    fn json(&self) -> serde_json::Value {
        let mut v = json!({
            "id": self.uuid,
            "endpoint_name": self.endpoint,
            "client_ip": self.client_ip,
            "connected_at": time::posted_time(self.connected_at),
        });
        if let Some((at, why)) = self.disconnected {
            v["disconnected_at"] = json!(time::posted_time(at));
            v["disconnect_reason"] = json!(why);
        }
        v
    }
}

/// Registers a v2 stream connection; returns its index.
pub(super) fn opened(shared: &Shared, number: u64, product: V2Product, client_ip: String) -> usize {
    let mut all = lock(&shared.v2_connections);
    all.push(V2Connection {
        uuid: format!(
            "{:08x}-sim0-4000-8000-{:012x}",
            number,
            number.wrapping_mul(0x9E37_79B9)
        ),
        number,
        endpoint: product.endpoint_id(),
        client_ip,
        connected_at: shared.now_secs(),
        disconnected: None,
    });
    all.len() - 1
}

/// Marks connection `index` closed (by the client, or killed).
pub(super) fn closed(shared: &Shared, index: usize) {
    if let Some(c) = lock(&shared.v2_connections).get_mut(index) {
        if c.disconnected.is_none() {
            c.disconnected = Some((shared.now_secs(), "ClientDisconnected"));
        }
    }
}

/// Serves one Connections API request.
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

fn respond(
    shared: &Shared,
    conn: &mut Box<dyn Connection>,
    req: &mut Request,
    faults: &[Fault],
) -> (u16, String) {
    if let Err(refused) = v2_gate(shared, req, faults) {
        return refused;
    }
    let rest = req.path.strip_prefix(CONNECTIONS_PATH).unwrap_or("/");
    match (req.method.as_str(), rest) {
        ("GET", "") => list(shared, req),
        ("DELETE", "/all") => kill(shared, |_| true, &[]),
        ("DELETE", "") => {
            if let Err(e) = http::read_body(conn, req, 64 * 1024) {
                let why = match e {
                    BodyError::TooLarge(_) => "body too large",
                    BodyError::NoLength => "a Content-Length is required",
                    BodyError::Cut => "the body was cut short",
                };
                return (400, status_problem(400, why));
            }
            let v: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
            let uuids: Vec<String> = v
                .get("uuids")
                .and_then(|u| u.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            if uuids.is_empty() || uuids.len() > 100 {
                return (400, status_problem(400, "uuids: 1 to 100 connection ids"));
            }
            kill(shared, |c| uuids.contains(&c.uuid), &uuids)
        }
        ("DELETE", id) => {
            let id = id.trim_start_matches('/');
            if V2Product::from_endpoint_id(id).is_none() {
                return (
                    400,
                    status_problem(400, &format!("unknown endpoint_id: {id}")),
                );
            }
            kill(shared, |c| c.endpoint == id, &[])
        }
        ("GET", _) => (404, status_problem(404, "Not Found")),
        _ => (405, status_problem(405, "Method Not Allowed")),
    }
}

fn list(shared: &Shared, req: &Request) -> (u16, String) {
    let status = match req.param("status") {
        None => Status::Active,
        Some(s) => match Status::from_name(&s) {
            Some(s) => s,
            None => return (400, status_problem(400, "status: active, inactive or all")),
        },
    };
    let max = req
        .param("max_results")
        .and_then(|m| m.parse::<usize>().ok())
        .filter(|m| (1..=100).contains(m))
        .unwrap_or(100)
        // Pages of at most 25, whatever max_results asks: a client must follow next_token.
        .min(PAGE);
    let from = req
        .param("pagination_token")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(0);
    let all = lock(&shared.v2_connections);
    let matching: Vec<&V2Connection> = all
        .iter()
        .filter(|c| match status {
            Status::Active => c.disconnected.is_none(),
            Status::Inactive => c.disconnected.is_some(),
            Status::All => true,
        })
        .collect();
    let page: Vec<serde_json::Value> = matching
        .iter()
        .skip(from)
        .take(max)
        .map(|c| c.json())
        .collect();
    let mut meta = json!({ "result_count": page.len() });
    if from + max < matching.len() {
        meta["next_token"] = json!((from + max).to_string());
    }
    let mut body = json!({ "meta": meta });
    if !page.is_empty() {
        body["data"] = json!(page);
    }
    (200, body.to_string())
}

/// Kills the active connections `which` selects; `asked` uuids that matched none fail.
fn kill(shared: &Shared, which: impl Fn(&V2Connection) -> bool, asked: &[String]) -> (u16, String) {
    let now = shared.now_secs();
    let mut killed = Vec::new();
    let mut numbers = Vec::new();
    {
        let mut all = lock(&shared.v2_connections);
        for c in all
            .iter_mut()
            .filter(|c| c.disconnected.is_none() && which(c))
        {
            c.disconnected = Some((now, "KilledByConnectionsApi"));
            killed.push(c.uuid.clone());
            numbers.push(c.number);
        }
    }
    for n in numbers {
        let mut all = lock(&shared.disruptions);
        all.entry(n)
            .or_default()
            .push(Fault::DropAfter { bytes: 0 });
        shared
            .disruptions_pending
            .store(all.len(), std::sync::atomic::Ordering::Relaxed);
    }
    let failed: Vec<String> = asked
        .iter()
        .filter(|u| !killed.contains(u))
        .cloned()
        .collect();
    (200, kill_answer(&killed, &failed))
}

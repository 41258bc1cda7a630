//! Every check before a stream starts, in the order the simulator applies them: path,
//! method, connection-rate limit, scripted status, credentials, gzip, parameters.

use std::time::{Duration, Instant};

use base64::Engine as _;

use super::config::Fault;
use super::http::Request;
use super::route::{self, Plan, Refusal, Route};
use super::state::{Shared, lock};
use crate::clock;
use crate::protocol::endpoint::{PARAM_PARTITION, Service};
use crate::protocol::messages;
use crate::protocol::policy::ConnectRateLimiter;
use crate::protocol::product::{Product, REPLAY_CONNECTION_LIMIT};
use crate::protocol::v2::problems;
use crate::protocol::v2::products::V2Product;

pub(super) fn redacted(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            if !k.eq_ignore_ascii_case("authorization") {
                return (k.clone(), v.clone());
            }
            if v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer ") {
                return (k.clone(), "Bearer <redacted>".to_owned());
            }
            let user = basic_credentials(v).map(|(u, _)| u).unwrap_or_default();
            (k.clone(), format!("Basic {user}:<redacted>"))
        })
        .collect()
}

pub(super) fn basic_credentials(header: &str) -> Option<(String, String)> {
    let b64 = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

/// Every check before streaming, in the order the simulator applies them: path (404), method
/// (405), connection-rate limit (429, per stream and partition), scripted status, credentials (401), gzip (406),
/// parameters (400; Replay dates 406). The docs do not say in which order the service checks;
/// rate limiting first follows protocol.md's note that retrying a 401 "only burns the rate
/// limit", so failed attempts count.
pub(super) fn admit(
    shared: &Shared,
    req: &Request,
    faults: &[Fault],
) -> Result<(Route, Plan, Headers), Refusal> {
    let refuse = |status: u16, message: &str| route::refuse(status, message);
    let route = route::route(&req.path).ok_or_else(|| refuse(404, "Not found"))?;
    if req.method != "GET" {
        return Err(refuse(405, "Only GET is supported on stream endpoints"));
    }
    if let Product::V2(_) = route.product {
        return admit_v2(shared, req, faults, route);
    }
    rate_limit(shared, &route, req)?;
    if let Some(Fault::Status { status, message }) =
        faults.iter().find(|f| matches!(f, Fault::Status { .. }))
    {
        return Err(refuse(*status, message));
    }
    let authorised = req
        .header("authorization")
        .and_then(basic_credentials)
        .is_some_and(|(u, p)| u == shared.config.user && p == shared.config.password);
    if !authorised {
        return Err(refuse(
            401,
            "Invalid credentials: check the username and password (HTTP Basic).",
        ));
    }
    if !route::accepts_gzip(req) {
        return Err(refuse(406, messages::NEEDS_GZIP));
    }
    let plan = if route.service == Service::Replay {
        let (from, to) =
            route::replay_dates(req, clock::now_secs(), shared.config.replay_window_days)?;
        Plan::Replay { from, to }
    } else {
        match (
            route::live_params(&route, req)?,
            route::recovery_range(
                &route,
                req,
                shared.now_secs(),
                shared.now_secs().max(clock::now_secs()),
            )?,
        ) {
            (Plan::Live { partition, .. }, Some((from, to))) => Plan::Recovery {
                partition,
                from,
                to,
            },
            (plan, _) => plan,
        }
    };
    Ok((route, plan, Vec::new()))
}

/// Extra response headers.
pub(super) type Headers = Vec<(&'static str, String)>;

/// Sliding-window connection-rate limit per stream and partition (Replay counted apart).
/// protocol.md gives the limits per product without saying whether they count per partition;
/// per partition is assumed, since one budget of 10 a minute for the whole product would need
/// two minutes just to open the 20 Firehose partitions. Only admitted requests take a place:
/// the documentation does not say whether refused ones count, and counting them would keep a
/// client that retries at the limit locked out for good.
fn rate_limit(shared: &Shared, route: &Route, req: &Request) -> Result<(), Refusal> {
    let replay = route.service == Service::Replay;
    let mut limit = if replay {
        REPLAY_CONNECTION_LIMIT
    } else {
        route.product.connection_limit()
    };
    if let Some(w) = shared.config.rate_window {
        limit.window = w;
    }
    // Replay is counted apart from the live stream of the same product and label.
    let partition = req.param(PARAM_PARTITION).unwrap_or_default();
    let key = format!("{}?{PARAM_PARTITION}={partition}", route.to_path());
    let admitted = lock(&shared.windows)
        .entry(key)
        .or_insert_with(|| ConnectRateLimiter::new(limit))
        .try_admit(Instant::now());
    if admitted {
        Ok(())
    } else {
        Err(route::refuse(429, messages::EXCEEDED_RATE_LIMIT))
    }
}

/// The X API v2 checks, in this order: connection-rate limit (429 with the `x-rate-limit-*`
/// headers; one bucket per endpoint, every partition and connection together), scripted
/// status, the bearer token (401), parameters (400), rules for the filtered stream (409), the
/// connection limit per partition (429 `TooManyConnections`). No gzip requirement: the body is
/// gzip when asked for, else plain. The 200 carries the rate-limit headers too.
fn admit_v2(
    shared: &Shared,
    req: &Request,
    faults: &[Fault],
    route: Route,
) -> Result<(Route, Plan, Headers), Refusal> {
    let Product::V2(product) = route.product else {
        return Err(route::refuse(404, "Not found"));
    };
    let mut limit = product.connection_limit();
    if let Some(w) = shared.config.rate_window {
        limit.window = w;
    }
    let (admitted, remaining, reset_in) = {
        let mut windows = lock(&shared.windows);
        let w = windows
            .entry(route.to_path())
            .or_insert_with(|| ConnectRateLimiter::new(limit));
        let now = Instant::now();
        let admitted = w.try_admit(now);
        let remaining = if w.wait_for_room(now).is_zero() {
            limit.requests.saturating_sub(u32::from(!admitted)).max(1) - 1
        } else {
            0
        };
        (
            admitted,
            remaining,
            w.wait_for_room(now).max(Duration::from_secs(1)),
        )
    };
    let headers = vec![
        ("x-rate-limit-limit", limit.requests.to_string()),
        ("x-rate-limit-remaining", remaining.to_string()),
        // Unix seconds, rounded up: the window has room again by the start of that second.
        (
            "x-rate-limit-reset",
            (clock::now_unix_ms() + reset_in.as_millis() as u64)
                .div_ceil(1000)
                .to_string(),
        ),
    ];
    let v2_refusal = |status: u16, body: String| Refusal {
        status,
        message: String::new(),
        body: Some(body),
        headers: headers.clone(),
    };
    if !admitted {
        return Err(v2_refusal(
            429,
            problems::status_problem(429, "Too Many Requests"),
        ));
    }
    if let Err((status, body)) = v2_gate(shared, req, faults) {
        return Err(v2_refusal(status, body));
    }
    let live = route::live_params(&route, req);
    let range = route::recovery_range(
        &route,
        req,
        shared.now_secs(),
        shared.now_secs().max(clock::now_secs()),
    );
    let plan = match (live, range) {
        (Err(r), _) | (_, Err(r)) => {
            return Err(v2_refusal(
                r.status,
                problems::status_problem(r.status, &r.message),
            ));
        }
        (Ok(Plan::Live { partition, .. }), Ok(Some((from, to)))) => Plan::Recovery {
            partition,
            from,
            to,
        },
        (Ok(plan), Ok(_)) => plan,
    };
    if product == V2Product::PowerTrack && lock(&shared.rules).v2_rules().is_empty() {
        return Err(v2_refusal(409, problems::no_rules_body()));
    }
    if let Plan::Live { partition, .. } = plan {
        // Checked and counted under one lock: two connections arriving together cannot both
        // take the last place (the stream's end gives it back).
        let mut active = lock(&shared.active);
        let count = active.entry((route.clone(), partition)).or_insert(0);
        if *count >= shared.config.redundant_connections {
            return Err(v2_refusal(429, problems::too_many_connections_body()));
        }
        *count += 1;
    }
    Ok((route, plan, headers))
}

/// The gate before every X API v2 route (streams, rules, Connections API): a scripted
/// `Fault::Status` answers first (a JSON message goes out as it is, a text becomes the
/// problem's detail), then a request without the right bearer token gets 401.
pub(super) fn v2_gate(
    shared: &Shared,
    req: &Request,
    faults: &[Fault],
) -> Result<(), (u16, String)> {
    if let Some(Fault::Status { status, message }) =
        faults.iter().find(|f| matches!(f, Fault::Status { .. }))
    {
        let body = if message.trim_start().starts_with('{') {
            message.clone()
        } else {
            problems::status_problem(*status, message)
        };
        return Err((*status, body));
    }
    let token = req.header("authorization").and_then(|v| {
        v.strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
    });
    if token != Some(shared.config.bearer_token.as_str()) {
        return Err((401, problems::status_problem(401, "Unauthorized")));
    }
    Ok(())
}

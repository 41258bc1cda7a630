//! Every check before a stream starts, in the order the simulator applies them: path,
//! method, connection-rate limit, scripted status, credentials, gzip, parameters.

use std::time::Instant;

use base64::Engine as _;

use super::config::Fault;
use super::http::Request;
use super::route::{self, Plan, Refusal, Route};
use super::state::{Shared, lock};
use crate::clock;
use crate::protocol::endpoint::{PARAM_PARTITION, Service};
use crate::protocol::messages;
use crate::protocol::policy::ConnectRateLimiter;
use crate::protocol::product::REPLAY_CONNECTION_LIMIT;

pub(super) fn redacted(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            if !k.eq_ignore_ascii_case("authorization") {
                return (k.clone(), v.clone());
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
) -> Result<(Route, Plan), Refusal> {
    let refuse = |status: u16, message: &str| Refusal {
        status,
        message: message.to_owned(),
    };
    let route = route::route(&req.path).ok_or_else(|| refuse(404, "Not found"))?;
    if req.method != "GET" {
        return Err(refuse(405, "Only GET is supported on stream endpoints"));
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
    Ok((route, plan))
}

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
        Err(Refusal {
            status: 429,
            message: messages::EXCEEDED_RATE_LIMIT.into(),
        })
    }
}

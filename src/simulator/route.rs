//! Which stream a request asks for, and whether the service would accept its parameters.
//! Pure functions of the request and the time, so every rule is unit-tested.

use super::http::Request;
use crate::protocol::dialect::Dialect;
use crate::protocol::endpoint::{
    PARAM_FROM_DATE, PARAM_TO_DATE, RECOVERY_MAX_AGE_SECS, StreamPath,
};
use crate::protocol::product::MAX_BACKFILL_MINUTES;
use crate::protocol::product::Product;
use crate::protocol::time;

/// A stream the simulator serves: the path, as the protocol layer parses it.
pub(crate) type Route = StreamPath;

/// Parses a request path into a route; `None` means 404.
pub(crate) fn route(path: &str) -> Option<Route> {
    StreamPath::parse(path)
}

/// What a valid request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Plan {
    /// A live stream of one partition (0 when the product has none), with backfill minutes.
    Live {
        partition: u32,
        backfill_minutes: u32,
    },
    /// A Replay of `[from, to)`, seconds since the epoch.
    Replay { from: i64, to: i64 },
    /// A Recovery of `[from, to)` on one partition of a realtime stream.
    Recovery { partition: u32, from: i64, to: i64 },
}

/// A refusal: the status and the error body's message; an X API v2 refusal may bring its
/// whole problem body and headers (the rate-limit ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub status: u16,
    pub message: String,
    /// The body as it goes out (`None`: the dialect's error body around `message`).
    pub body: Option<String>,
    /// Extra response headers.
    pub headers: Vec<(&'static str, String)>,
}

pub(crate) fn refuse(status: u16, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        message: message.into(),
        body: None,
        headers: Vec::new(),
    }
}

/// Whether the request accepts gzip, as `Accept-Encoding` says (`gzip`, `x-gzip`, `*`, unless
/// refused with `q=0`).
pub(crate) fn accepts_gzip(req: &Request) -> bool {
    req.headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("accept-encoding"))
        .flat_map(|(_, v)| v.split(','))
        .any(|coding| {
            let mut it = coding.split(';');
            let name = it.next().unwrap_or_default().trim();
            let refused = it.any(|p| {
                let p = p.trim().replace(' ', "");
                p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000"
            });
            !refused
                && (name.eq_ignore_ascii_case("gzip")
                    || name.eq_ignore_ascii_case("x-gzip")
                    || name == "*")
        })
}

/// Replay's rules (protocol.md): dates `yyyyMMddHHmm` UTC; `fromDate` before `toDate`; both in
/// the last 5 days; `toDate` at least 30 minutes ago. The service answers 406 with a message.
pub(crate) fn replay_dates(
    req: &Request,
    now: i64,
    window_days: i64,
) -> Result<(i64, i64), Refusal> {
    let date = |name: &str| -> Result<i64, Refusal> {
        let raw = req.param(name).unwrap_or_default();
        time::parse_replay_date(&raw).ok_or_else(|| {
            refuse(
                406,
                format!(
                    "Invalid date format for query parameter '{name}'. Expected format is 'yyyyMMddHHmm'. \
                     For example, '201701012315' for January 1st, 11:15 pm 2017 UTC.\n\n"
                ),
            )
        })
    };
    let (from, to) = (date(PARAM_FROM_DATE)?, date(PARAM_TO_DATE)?);
    if from >= to {
        return Err(refuse(
            406,
            "The 'fromDate' parameter must be before the 'toDate' parameter.\n\n",
        ));
    }
    if from < now - window_days * 86_400 {
        return Err(refuse(
            406,
            format!("The 'fromDate' parameter must be within the last {window_days} days.\n\n"),
        ));
    }
    if to > now - 30 * 60 {
        return Err(refuse(
            406,
            "The 'toDate' parameter must be at least 30 minutes ago.\n\n",
        ));
    }
    Ok((from, to))
}

/// Recovery's parameters on a realtime URL, if the request has them: `startTime` and `endTime`
/// in ISO 8601, start before end, within the last 24 hours of `now`, and not after `latest`
/// (the machine's clock, when the simulator's is set back) by more than a minute. The
/// documentation gives no status for a bad one; 400 with a message, like the other bad
/// parameters of a live URL.
pub(crate) fn recovery_range(
    route: &Route,
    req: &Request,
    now: i64,
    latest: i64,
) -> Result<Option<(i64, i64)>, Refusal> {
    let names = Dialect::of_product(route.product).query_names();
    let (start_name, end_name) = names.recovery;
    let (start, end) = (req.param(start_name), req.param(end_name));
    if let (Product::V2(p), false) = (route.product, start.is_none() && end.is_none()) {
        if !p.recovery() {
            return Err(refuse(
                400,
                format!(
                    "The {} stream does not support recovery: start_time and end_time are not parameters of it.",
                    p.name()
                ),
            ));
        }
    }
    if start.is_none() && end.is_none() {
        return Ok(None);
    }
    let time = |name: &str, v: Option<String>| -> Result<i64, Refusal> {
        let v = v.unwrap_or_default();
        time::parse_timestamp(&v).ok_or_else(|| {
            refuse(
                400,
                format!("Invalid '{name}' '{v}': expected ISO 8601, e.g. 2017-01-01T23:15:00Z."),
            )
        })
    };
    let (from, to) = (time(start_name, start)?, time(end_name, end)?);
    if from >= to {
        return Err(refuse(
            400,
            format!("The '{start_name}' must be before the '{end_name}'."),
        ));
    }
    if from < now - RECOVERY_MAX_AGE_SECS || to > latest + 60 {
        return Err(refuse(
            400,
            format!(
                "Recovery covers the last 24 hours: '{start_name}' and '{end_name}' must be within them."
            ),
        ));
    }
    Ok(Some((from, to)))
}

/// Checks a live request's parameters: `partition` (required and in range for partitioned
/// products, refused for PowerTrack) and `backfillMinutes` (a whole number 1..=5).
pub(crate) fn live_params(route: &Route, req: &Request) -> Result<Plan, Refusal> {
    let names = Dialect::of_product(route.product).query_names();
    // X API v2 takes 0..=5 (the spec's range); Gnip 1..=5.
    let least = if matches!(route.product, Product::V2(_)) {
        0
    } else {
        1
    };
    let partition = match (route.product.partitions(), req.param(names.partition)) {
        (Some(n), Some(p)) => match p.parse::<u32>() {
            Ok(p) if (1..=n).contains(&p) => p,
            _ => {
                return Err(refuse(
                    400,
                    format!("Invalid partition '{p}': must be 1 to {n}."),
                ));
            }
        },
        (Some(n), None) => {
            return Err(refuse(
                400,
                format!("The 'partition' parameter is required: 1 to {n}."),
            ));
        }
        (None, Some(_)) => return Err(refuse(400, "This stream has no partitions.")),
        (None, None) => 0,
    };
    let backfill_minutes = match req.param(names.backfill) {
        None => 0,
        Some(m) => match m.parse::<u32>() {
            Ok(m) if (least..=u32::from(MAX_BACKFILL_MINUTES)).contains(&m) => m,
            _ => {
                return Err(refuse(
                    400,
                    format!(
                        "Invalid {} '{m}': must be a whole number from {least} to 5.",
                        names.backfill
                    ),
                ));
            }
        },
    };
    Ok(Plan::Live {
        partition,
        backfill_minutes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::endpoint::Service;
    use crate::protocol::product::Product;

    fn req(query: &str, headers: &[(&str, &str)]) -> Request {
        Request {
            method: "GET".into(),
            path: "/".into(),
            query: query.into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: Vec::new(),
        }
    }

    #[test]
    fn url_shapes() {
        let r = route("/stream/sample10/accounts/acme/publishers/twitter/prod.json").unwrap();
        assert_eq!(
            (r.product, r.service, &r.account[..], &r.label[..]),
            (Product::Decahose, Service::Stream, "acme", "prod")
        );
        assert_eq!(
            route("/replay/firehose/accounts/a/publishers/twitter/l.json")
                .unwrap()
                .service,
            Service::Replay
        );
        for bad in [
            "/",
            "/stream/decahose/accounts/a/publishers/twitter/l.json",
            "/stream/powertrack/accounts/a/publishers/facebook/l.json",
            "/stream/powertrack/accounts/a/publishers/twitter/l",
            "/stream/powertrack/accounts//publishers/twitter/l.json",
            "/accounts/a/publishers/twitter/streams/track/prod.json",
        ] {
            assert_eq!(route(bad), None, "{bad}");
        }
    }

    #[test]
    fn partitions_and_backfill_are_checked() {
        let fh = route("/stream/firehose/accounts/a/publishers/twitter/l.json").unwrap();
        let pt = route("/stream/powertrack/accounts/a/publishers/twitter/l.json").unwrap();
        assert_eq!(
            live_params(&fh, &req("partition=20", &[])),
            Ok(Plan::Live {
                partition: 20,
                backfill_minutes: 0
            })
        );
        for bad in ["", "partition=0", "partition=21", "partition=x"] {
            assert_eq!(
                live_params(&fh, &req(bad, &[])).unwrap_err().status,
                400,
                "{bad}"
            );
        }
        assert_eq!(
            live_params(&pt, &req("backfillMinutes=5", &[])),
            Ok(Plan::Live {
                partition: 0,
                backfill_minutes: 5
            })
        );
        for bad in [
            "backfillMinutes=0",
            "backfillMinutes=6",
            "backfillMinutes=2.5",
            "partition=1",
        ] {
            assert_eq!(
                live_params(&pt, &req(bad, &[])).unwrap_err().status,
                400,
                "{bad}"
            );
        }
    }

    #[test]
    fn gzip_must_be_accepted() {
        assert!(accepts_gzip(&req("", &[("Accept-Encoding", "gzip")])));
        assert!(accepts_gzip(&req(
            "",
            &[("accept-encoding", "deflate, gzip;q=0.5")]
        )));
        assert!(!accepts_gzip(&req("", &[("Accept-Encoding", "gzip;q=0")])));
        assert!(!accepts_gzip(&req("", &[("Accept-Encoding", "identity")])));
        assert!(!accepts_gzip(&req("", &[])));
    }

    #[test]
    fn replay_dates_follow_the_service_rules() {
        let now = time::parse_replay_date("202611221200").unwrap();
        let ok = req("fromDate=202611211000&toDate=202611211100", &[]);
        assert_eq!(
            replay_dates(&ok, now, 5).unwrap().1 - replay_dates(&ok, now, 5).unwrap().0,
            3600
        );
        for (q, says) in [
            (
                "fromDate=2026112110&toDate=202611211100",
                "Invalid date format for query parameter 'fromDate'",
            ),
            (
                "fromDate=202611211000",
                "Invalid date format for query parameter 'toDate'",
            ),
            (
                "fromDate=202611211100&toDate=202611211000",
                "must be before",
            ),
            (
                "fromDate=202611101000&toDate=202611211100",
                "within the last 5 days",
            ),
            (
                "fromDate=202611221100&toDate=202611221145",
                "at least 30 minutes ago",
            ),
        ] {
            let e = replay_dates(&req(q, &[]), now, 5).unwrap_err();
            assert_eq!(e.status, 406);
            assert!(e.message.contains(says), "{q}: {}", e.message);
        }
    }
}

//! The X API v2 dialect end to end, one test binary: the command and the library against the
//! simulator's v2 routes — products and partitions, Bearer auth, field parameters, gzip and
//! identity bodies, in-stream disconnects, the refusals (401, 403, 409, the three kinds of
//! 429), de-duplication keys, Recovery; and the Connections API.

#[path = "../common/mod.rs"]
mod common;

mod client;
#[cfg(feature = "connections")]
mod connections;
mod operations;
mod recover;
mod rules;
mod stream;

use std::process::{Command, Output};
use std::time::Duration;

use gnip_stream::Product;
use gnip_stream::simulator::{DEMO_BEARER_TOKEN, LoggedRequest, Simulator, v2_record_index};
use gnip_stream::unversioned::protocol::v2::products::V2Product;

/// The command with `X_BEARER_TOKEN` set (and no Gnip credentials).
pub fn v2_cmd(token: Option<&str>) -> Command {
    let mut c = common::cli::bin();
    c.env_remove("GNIP_USERNAME")
        .env_remove("GNIP_PASSWORD")
        .env_remove("GNIP_CORPUS")
        .env_remove("X_BEARER_TOKEN");
    if let Some(t) = token {
        c.env("X_BEARER_TOKEN", t);
    }
    c.stdin(std::process::Stdio::null());
    c
}

/// `stream --api v2 --product P --host HOST` with `token` (none: `X_BEARER_TOKEN` unset), not
/// yet run.
pub fn stream_cmd(host: &str, product: &str, token: Option<&str>) -> Command {
    let mut c = v2_cmd(token);
    c.args([
        "stream",
        "--api",
        "v2",
        "--product",
        product,
        "--host",
        host,
    ]);
    c
}

/// `stream --api v2 --product P --host SIM` and `more`, with the demo token, run to its end.
pub fn stream(sim: &Simulator, product: &str, more: &[&str]) -> Output {
    let mut c = stream_cmd(&sim.base_url(), product, Some(DEMO_BEARER_TOKEN));
    c.args(more);
    common::cli::run(c, Duration::from_secs(30))
}

/// stdout's lines (each record followed by `\n`).
pub fn lines(out: &Output) -> Vec<Vec<u8>> {
    let mut l: Vec<Vec<u8>> = out
        .stdout
        .split(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    assert_eq!(l.pop(), Some(Vec::new()), "stdout ends with a newline");
    l
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every record is the simulator's own record of `product`, byte for byte, and none twice.
pub fn assert_exact_once(sim: &Simulator, product: V2Product, recs: &[Vec<u8>]) {
    let mut gs: Vec<u64> = recs
        .iter()
        .map(|r| v2_record_index(r).unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(r))))
        .collect();
    for (r, &g) in recs.iter().zip(&gs) {
        assert_eq!(
            String::from_utf8_lossy(r),
            String::from_utf8_lossy(&sim.record_of(Product::V2(product), g)),
            "record {g} byte-exact"
        );
    }
    let n = gs.len();
    gs.sort_unstable();
    gs.dedup();
    assert_eq!(gs.len(), n, "no duplicates");
}

/// The stream requests the simulator saw (not rules or connections).
pub fn stream_requests(sim: &Simulator) -> Vec<LoggedRequest> {
    sim.requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/stream") || r.path.contains("/stream/lang/"))
        .collect()
}

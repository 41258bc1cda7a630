//! `gnip-stream connections`: list (every page, by status) and kill (all, by endpoint name or
//! id, by uuid) against the simulator's Connections API; exit statuses 0, 2, 3, 4.

use std::time::{Duration, Instant};

use gnip_stream::client::{Client, ClientConfig, Delivery, Flow};
use gnip_stream::simulator::{DEMO_BEARER_TOKEN, Rate, Simulator, SimulatorConfig};
use gnip_stream::unversioned::protocol::v2::products::V2Product;

use crate::{lines, stderr, v2_cmd};

fn connections(sim: &Simulator, token: Option<&str>, args: &[&str]) -> std::process::Output {
    let mut c = v2_cmd(token);
    c.arg("connections")
        .args(args)
        .args(["--host", &sim.base_url()]);
    crate::common::cli::run(c, Duration::from_secs(20))
}

fn json_lines(out: &std::process::Output) -> Vec<serde_json::Value> {
    lines(out)
        .iter()
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

#[test]
fn list_shows_every_connection_and_kill_ends_them() {
    let sim = Simulator::start(
        SimulatorConfig::default()
            .rate(Rate::PerSecond(50.0))
            .redundant_connections(4),
    )
    .unwrap();
    let start = |p: V2Product| {
        Client::start(
            ClientConfig::v2(p)
                .host(&sim.base_url())
                .bearer_token(DEMO_BEARER_TOKEN),
            |_: &Delivery<'_>| Flow::Continue,
        )
        .unwrap()
    };
    let a = start(V2Product::Decahose); // 2 connections
    let b = start(V2Product::Labels); // 1
    let t = Instant::now();
    while sim.streaming_connections().len() < 3 {
        assert!(t.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = connections(&sim, Some(DEMO_BEARER_TOKEN), &["list"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let listed = json_lines(&out);
    assert_eq!(listed.len(), 3, "{listed:?}");
    let mut endpoints: Vec<&str> = listed
        .iter()
        .map(|c| c["endpoint_name"].as_str().unwrap())
        .collect();
    endpoints.sort_unstable();
    assert_eq!(
        endpoints,
        ["sample10_stream", "sample10_stream", "tweet_label_stream"]
    );
    assert!(
        listed
            .iter()
            .all(|c| c["id"].is_string() && c["connected_at"].is_string())
    );
    let req = sim
        .requests()
        .into_iter()
        .rfind(|r| r.path == "/2/connections")
        .unwrap();
    assert_eq!(req.param("status"), Some("active"));
    assert_eq!(req.header("authorization"), Some("Bearer <redacted>"));

    // By endpoint, with the product's name: both sample10 connections.
    let out = connections(
        &sim,
        Some(DEMO_BEARER_TOKEN),
        &["kill", "--endpoint", "decahose"],
    );
    assert_eq!(
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).trim()
        ),
        (Some(0), "killed 2, failed 0")
    );
    let last_connections = |sim: &Simulator| {
        sim.requests()
            .into_iter()
            .rfind(|r| r.path.starts_with("/2/connections"))
            .unwrap()
            .path
    };
    assert_eq!(last_connections(&sim), "/2/connections/sample10_stream");
    // By uuid: the label stream's, and one that does not exist (exit 4).
    let label = listed
        .iter()
        .find(|c| c["endpoint_name"] == "tweet_label_stream")
        .unwrap();
    let uuid = label["id"].as_str().unwrap();
    let out = connections(
        &sim,
        Some(DEMO_BEARER_TOKEN),
        &["kill", "--uuid", uuid, "--uuid", "no-such"],
    );
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "killed 1, failed 1"
    );
    let inactive = json_lines(&connections(
        &sim,
        Some(DEMO_BEARER_TOKEN),
        &["list", "--status", "inactive"],
    ));
    assert!(inactive.len() >= 3, "{inactive:?}");
    assert!(
        inactive
            .iter()
            .any(|c| c["disconnect_reason"] == "KilledByConnectionsApi")
    );
    // The clients reconnect; --all ends whatever is open now.
    let out = connections(&sim, Some(DEMO_BEARER_TOKEN), &["kill", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(last_connections(&sim), "/2/connections/all");
    a.stop_handle().stop();
    b.stop_handle().stop();
    a.join();
    b.join();
}

#[test]
fn pages_are_followed_and_errors_have_their_exit_status() {
    let sim = Simulator::start(
        SimulatorConfig::default()
            .rate(Rate::PerSecond(10.0))
            .redundant_connections(4),
    )
    .unwrap();
    let client = Client::start(
        ClientConfig::v2(V2Product::Firehose)
            .host(&sim.base_url())
            .bearer_token(DEMO_BEARER_TOKEN)
            .redundant(2),
        |_: &Delivery<'_>| Flow::Continue,
    )
    .unwrap();
    let t = Instant::now();
    while sim.streaming_connections().len() < 40 {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{}",
            sim.streaming_connections().len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // 40 connections, in the simulator's pages of 25: the client follows next_token.
    let out = connections(&sim, Some(DEMO_BEARER_TOKEN), &["list", "--status", "all"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let listed = json_lines(&out);
    assert_eq!(listed.len(), 40);
    let mut ids: Vec<&str> = listed.iter().map(|c| c["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 40, "each once");
    let pages: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.path == "/2/connections")
        .collect();
    assert_eq!(pages.len(), 2);
    assert_eq!(
        (
            pages[0].param("pagination_token"),
            pages[1].param("pagination_token")
        ),
        (None, Some("25"))
    );
    client.stop_handle().stop();
    client.join();
    for (token, args, code) in [
        (None, vec!["list"], 2),
        (Some("wrong"), vec!["list"], 3),
        (Some(DEMO_BEARER_TOKEN), vec!["list", "--api", "gnip"], 2),
        (Some(DEMO_BEARER_TOKEN), vec!["kill"], 2),
        (
            Some(DEMO_BEARER_TOKEN),
            vec!["kill", "--all", "--endpoint", "firehose"],
            2,
        ),
        (
            Some(DEMO_BEARER_TOKEN),
            vec!["kill", "--endpoint", "nope"],
            2,
        ),
        (
            Some(DEMO_BEARER_TOKEN),
            vec!["list", "--status", "closed"],
            2,
        ),
    ] {
        let out = connections(&sim, token, &args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
    }
}

//! `gnip-stream rules … --api v2` against the simulator's v2 rules endpoint: the same verbs
//! and output as for Gnip, the v2 bodies (add, delete by values and ids, dry_run), ids as
//! strings, DuplicateRule as already present, invalid rules with their details (exit 5), list
//! pages followed; and the filtered stream connecting once it has rules.

use std::time::Duration;

use gnip_stream::simulator::{DEMO_BEARER_TOKEN, Rate, Simulator, SimulatorConfig};

use crate::{lines, stderr, stream, v2_cmd};

fn rules(sim: &Simulator, args: &[&str]) -> std::process::Output {
    let mut c = v2_cmd(Some(DEMO_BEARER_TOKEN));
    c.arg("rules")
        .args(args)
        .args(["--api", "v2", "--host", &sim.base_url()]);
    crate::common::cli::run(c, Duration::from_secs(20))
}

fn bodies(sim: &Simulator) -> Vec<(String, String, usize)> {
    sim.requests()
        .into_iter()
        .filter(|r| r.path == "/2/tweets/search/stream/rules")
        .map(|r| (r.method.clone(), r.query.clone(), r.body_bytes))
        .collect()
}

#[test]
fn the_verbs_speak_the_v2_rules_api() {
    let sim = Simulator::start(SimulatorConfig::default().rate(Rate::PerSecond(100.0))).unwrap();
    let out = rules(&sim, &["add", "--tag", "pets", "cat", "dog"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let have = sim.v2_rules();
    assert_eq!(have.len(), 2);
    assert!(
        have.iter()
            .all(|r| r.tag.as_deref() == Some("pets") && r.id.is_some())
    );
    // Already present counts as success; an invalid rule is listed with its details, exit 5.
    let out = rules(&sim, &["add", "cat", "(unbalanced"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("already present 1"), "{err}");
    assert!(
        err.contains("\"(unbalanced\": UnprocessableEntity: Unmatched parenthesis"),
        "{err}"
    );
    // list: NDJSON, ids as strings, the same members as for Gnip.
    let out = rules(&sim, &["list"]);
    assert_eq!(out.status.code(), Some(0));
    let listed: Vec<serde_json::Value> = lines(&out)
        .iter()
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["value"], "cat");
    assert_eq!(listed[0]["id"], have[0].id.unwrap().to_string());
    // validate: dry_run, nothing added.
    let out = rules(&sim, &["validate", "bird", "(bad"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("valid 1, invalid 1"),
        "{}",
        stderr(&out)
    );
    assert_eq!(sim.v2_rules().len(), 2);
    assert!(
        bodies(&sim)
            .iter()
            .any(|(m, q, _)| m == "POST" && q == "dry_run=true")
    );
    // delete by value, then by id; sync adds before it deletes.
    let out = rules(&sim, &["delete", "dog"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("deleted 1, absent 0"),
        "{}",
        stderr(&out)
    );
    let id = sim.v2_rules()[0].id.unwrap().to_string();
    let out = rules(&sim, &["delete", "--id", &id]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(sim.v2_rules().is_empty());
    let dir = std::env::temp_dir().join(format!("gnip-v2-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("rules.ndjson");
    std::fs::write(
        &file,
        "{\"value\":\"bird\",\"tag\":\"b\"}\n{\"value\":\"fish\"}\n",
    )
    .unwrap();
    let out = rules(&sim, &["sync", "--file", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut values: Vec<String> = sim.v2_rules().into_iter().map(|r| r.value).collect();
    values.sort();
    assert_eq!(values, ["bird", "fish"]);
    let out = rules(&sim, &["delete", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(sim.v2_rules().is_empty());
    let _ = std::fs::remove_dir_all(&dir);
    for r in sim
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/2/tweets/search/stream/rules"))
    {
        assert_eq!(r.header("authorization"), Some("Bearer <redacted>"));
    }
}

#[test]
fn the_filtered_stream_connects_once_it_has_rules_and_usage_errors_exit_2() {
    let sim = Simulator::start(SimulatorConfig::default().rate(Rate::PerSecond(200.0))).unwrap();
    assert_eq!(rules(&sim, &["add", "cat"]).status.code(), Some(0));
    let out = stream(&sim, "powertrack", &["--max-records", "5"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(lines(&out).len(), 5);
    for args in [
        &["list", "--account", "a"][..],
        &["list", "--product", "powertrack"],
        &[
            "list",
            "--api",
            "gnip",
            "--url",
            "http://127.0.0.1:1/2/tweets/search/stream/rules",
        ],
    ] {
        let out = rules(&sim, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    let mut c = v2_cmd(None);
    c.args(["rules", "list", "--api", "v2", "--host", &sim.base_url()]);
    let out = crate::common::cli::run(c, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(2), "no token: {}", stderr(&out));
}

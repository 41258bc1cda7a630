//! `stream --api v2` as scripts drive it: every product's path and partitions, Bearer auth,
//! `--fields`, a `/2/` URL, gzip and identity bodies, and the usage errors (exit 2).

use gnip_stream::Product;
use gnip_stream::simulator::{Fault, Rate, Simulator, SimulatorConfig, Which};
use gnip_stream::unversioned::protocol::v2::products::V2Product;

use crate::{assert_exact_once, lines, stderr, stream, stream_cmd, stream_requests, v2_cmd};

fn sim(rate: f64) -> Simulator {
    Simulator::start(SimulatorConfig::default().rate(Rate::PerSecond(rate))).unwrap()
}

#[test]
fn every_product_streams_its_records_byte_exact_from_every_partition() {
    let sim = sim(400.0);
    for p in V2Product::ALL {
        if p == V2Product::PowerTrack {
            continue; // needs rules: its own test
        }
        let before = stream_requests(&sim).len();
        let n = 3 * p.partitions().unwrap_or(1) as usize;
        let out = stream(&sim, p.name(), &["--max-records", &n.to_string()]);
        assert_eq!(out.status.code(), Some(0), "{}: {}", p.name(), stderr(&out));
        let recs = lines(&out);
        assert_eq!(recs.len(), n, "{}", p.name());
        assert_exact_once(&sim, p, &recs);
        let reqs: Vec<_> = stream_requests(&sim).into_iter().skip(before).collect();
        let mut parts: Vec<Option<String>> = reqs
            .iter()
            .map(|r| r.param("partition").map(str::to_owned))
            .collect();
        parts.sort();
        parts.dedup();
        let want: Vec<Option<String>> = match p.partitions() {
            Some(k) => {
                let mut w: Vec<Option<String>> = (1..=k).map(|i| Some(i.to_string())).collect();
                w.sort();
                w
            }
            None => vec![None],
        };
        assert_eq!(parts, want, "{}: one connection per partition", p.name());
        for r in &reqs {
            assert_eq!(r.path, p.path(), "{}", p.name());
            assert_eq!(
                r.header("authorization"),
                Some("Bearer <redacted>"),
                "Bearer, never Basic"
            );
            assert_eq!(r.header("accept-encoding"), Some("gzip"));
            assert_eq!(r.status, 200);
        }
    }
}

#[test]
fn a_v2_url_selects_v2_and_streams_every_partition_of_its_product() {
    let sim = sim(300.0);
    let mut c = v2_cmd(Some("demo-token"));
    let url = format!("{}/2/tweets/sample10/stream", sim.base_url());
    c.args(["stream", "--url", &url, "--max-records", "6"]);
    let out = common_run(c);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_exact_once(&sim, V2Product::Decahose, &lines(&out));
    let mut parts: Vec<String> = stream_requests(&sim)
        .iter()
        .map(|r| r.param("partition").unwrap_or("").to_owned())
        .collect();
    parts.sort();
    parts.dedup();
    assert_eq!(parts, ["1", "2"]);
    assert!(
        stderr(&out).contains("every partition (1..2)"),
        "{}",
        stderr(&out)
    );
}

fn common_run(c: std::process::Command) -> std::process::Output {
    crate::common::cli::run(c, std::time::Duration::from_secs(30))
}

#[test]
fn fields_are_passed_through_and_a_key_the_product_does_not_take_exits_2() {
    let sim = sim(300.0);
    let q = "tweet.fields=created_at,lang&expansions=author_id";
    let out = stream(
        &sim,
        "firehose",
        &["--partition", "7", "--fields", q, "--max-records", "2"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = &stream_requests(&sim)[0];
    assert_eq!(r.query, format!("partition=7&{q}"));
    let likes = stream(
        &sim,
        "likes-sample10",
        &[
            "--fields",
            "like_with_tweet_author.fields=id,created_at",
            "--max-records",
            "1",
        ],
    );
    assert_eq!(likes.status.code(), Some(0), "{}", stderr(&likes));
    for (product, fields) in [
        ("firehose", "tweet.fields=id&bogus=1"),
        ("firehose", "like_with_tweet_author.fields=id"),
        ("tweet-compliance", "tweet.fields=id"),
    ] {
        let before = sim.requests().len();
        let out = stream(&sim, product, &["--fields", fields]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{product} {fields}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).contains("--fields"), "{}", stderr(&out));
        assert_eq!(sim.requests().len(), before, "nothing sent");
    }
}

#[test]
fn identity_bodies_are_read_as_well_as_gzip_ones() {
    let sim = Simulator::start(
        SimulatorConfig::default()
            .rate(Rate::PerSecond(300.0))
            .v2_gzip(false),
    )
    .unwrap();
    let out = stream(
        &sim,
        "user-compliance",
        &["--partition", "2", "--max-records", "20"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let recs = lines(&out);
    assert_eq!(recs.len(), 20);
    assert_exact_once(&sim, V2Product::UserCompliance, &recs);
}

#[test]
fn credentials_and_usage_errors_exit_2_before_any_request() {
    let sim = sim(10.0);
    let host = sim.base_url();
    let cases: Vec<(Option<&str>, Vec<&str>, &str)> = vec![
        (None, vec!["--product", "decahose"], "X_BEARER_TOKEN"),
        (
            Some("t"),
            vec!["--product", "decahose", "--account", "a"],
            "--account",
        ),
        (
            Some("t"),
            vec!["--product", "decahose", "--label", "l"],
            "--label",
        ),
        (
            Some("t"),
            vec!["--product", "decahose", "--partition", "3"],
            "1..2",
        ),
        (
            Some("t"),
            vec!["--product", "firehose-en", "--partition", "9"],
            "1..8",
        ),
        (
            Some("t"),
            vec!["--product", "labels", "--partition", "1"],
            "has no partitions",
        ),
        (
            Some("t"),
            vec!["--product", "sample10x"],
            "not an X API v2 product",
        ),
    ];
    for (token, args, says) in cases {
        let mut c = v2_cmd(token);
        c.args(["stream", "--api", "v2", "--host", &host])
            .args(&args);
        let out = common_run(c);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
    assert!(sim.requests().is_empty(), "{:?}", sim.requests());
    // The Gnip credentials are not used for v2, and never sent as Basic.
    let mut c = stream_cmd(&host, "decahose", None);
    c.env("GNIP_USERNAME", "demo").env("GNIP_PASSWORD", "demo");
    assert_eq!(common_run(c).status.code(), Some(2));
}

#[test]
fn a_wrong_token_exits_3_and_a_forbidden_client_4_with_its_reason() {
    let sim = sim(10.0);
    let out = common_run(stream_cmd(&sim.base_url(), "sample", Some("wrong")));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("401: Unauthorized"),
        "{}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("wrong"),
        "the token is never printed"
    );
    assert_eq!(stream_requests(&sim).len(), 1, "a 401 is not retried");
    let forbidden = r#"{"client_id":"1","detail":"When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens from a Twitter developer App that is attached to a Project.","title":"Client Forbidden","reason":"client-not-enrolled","type":"https://api.twitter.com/2/problems/client-forbidden"}"#;
    sim.add_fault(
        Which::From(2),
        Fault::Status {
            status: 403,
            message: forbidden.into(),
        },
    );
    let out = stream(&sim, "sample", &[]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Client Forbidden (client-not-enrolled)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_filtered_stream_without_rules_exits_4_saying_so() {
    let sim = sim(10.0);
    let out = stream(&sim, "powertrack", &[]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the stream has no rules"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stream_requests(&sim).len(), 1, "no retry");
    assert_eq!(stream_requests(&sim)[0].status, 409);
}

#[test]
fn a_usage_cap_exits_4_naming_period_and_scope_without_a_retry() {
    let sim = sim(10.0);
    sim.add_fault(
        Which::Every,
        Fault::Status {
            status: 429,
            message: gnip_stream::unversioned::protocol::v2::problems::usage_cap_body(
                "Monthly", "Product",
            ),
        },
    );
    let out = stream(&sim, "sample", &[]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("usage cap exceeded: Monthly product cap"),
        "{err}"
    );
    assert_eq!(stream_requests(&sim).len(), 1, "no retry");
    let _ = Product::V2(V2Product::Sample);
}

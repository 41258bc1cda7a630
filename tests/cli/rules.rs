//! `gnip-stream rules` as scripts drive it, exactly as the contract writes it: the built binary
//! against the simulator — every verb, both TARGET forms, rule files (NDJSON, a document,
//! stdin, a malformed line), the exit statuses 0/2/3/4/5, the one-line summaries, `--dry-run`,
//! `list > f` then `sync --file f` changing nothing, and `rules add` then `stream` delivering
//! only matching records against `gnip-stream simulate`.

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::cli::{cmd, exit_within, named, run, signal};
use gnip_stream::simulator::{Fault, LoggedRequest, Rate, Simulator, SimulatorConfig, Which};
use gnip_stream::unversioned::protocol::rules::RuleSet;
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(30);

fn sim() -> Simulator {
    Simulator::start(SimulatorConfig::default().rate(Rate::PerSecond(0.0))).unwrap()
}

/// `rules VERB --url RULES_URL ARGS…` for `label`'s PowerTrack rules.
fn rules(sim: &Simulator, verb: &str, label: &str, args: &[&str]) -> Output {
    rules_as(sim, "demo", "demo", verb, label, args, None)
}

fn rules_as(
    sim: &Simulator,
    user: &str,
    password: &str,
    verb: &str,
    label: &str,
    args: &[&str],
    stdin: Option<&[u8]>,
) -> Output {
    let mut c = cmd(user, password);
    c.args([
        "rules",
        verb,
        "--url",
        &sim.rules_url(RuleSet::PowerTrack, "acme", label),
    ]);
    c.args(args);
    match stdin {
        None => run(c, LIMIT),
        Some(input) => {
            let mut child = c
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(input).unwrap();
            let started = Instant::now();
            let status = exit_within(&mut child, started, LIMIT);
            let read = |r: Option<Box<dyn std::io::Read>>| {
                let mut v = Vec::new();
                if let Some(mut r) = r {
                    let _ = r.read_to_end(&mut v);
                }
                v
            };
            Output {
                status,
                stdout: read(child.stdout.take().map(|s| Box::new(s) as _)),
                stderr: read(child.stderr.take().map(|s| Box::new(s) as _)),
            }
        }
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn log(sim: &Simulator) -> Vec<LoggedRequest> {
    sim.requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/rules/"))
        .collect()
}

fn temp_file(name: &str, contents: &[u8]) -> std::path::PathBuf {
    let p = gnip_stream::testing::scratch_dir("cli-rules").join(name);
    std::fs::write(&p, contents).unwrap();
    p
}

#[test]
fn add_with_a_tag_then_list_writes_ndjson_with_exact_ids() {
    let sim = sim();
    let o = rules(
        &sim,
        "add",
        "a",
        &["--tag", "pets", "cat OR dog", "\"exact phrase\" 🤖"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stderr(&o).trim(),
        "gnip-stream: created 2, already present 0"
    );
    let o = rules(&sim, "add", "a", &["cat OR dog"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stderr(&o).trim(),
        "gnip-stream: created 0, already present 1"
    );
    rules(&sim, "add", "a", &["untagged"]);
    let o = rules(&sim, "list", "a", &[]);
    assert_eq!(o.status.code(), Some(0));
    let have = sim.rules(RuleSet::PowerTrack, "acme", "a");
    let expected: String = have
        .iter()
        .map(|r| format!("{}\n", r.to_ndjson()))
        .collect();
    assert_eq!(stdout(&o), expected);
    let lines: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["value"], "cat OR dog");
    assert_eq!(lines[0]["tag"], "pets");
    assert_eq!(lines[1]["value"], "\"exact phrase\" 🤖");
    assert_eq!(lines[2]["tag"], Value::Null, "null when absent");
    for (l, r) in stdout(&o).lines().zip(&have) {
        // The digits as the service sent them, never through a float (ids exceed 2^53).
        assert!(l.ends_with(&format!("\"id\":{}}}", r.id.unwrap())), "{l}");
        assert!(r.id.unwrap() > 1 << 53);
    }
    assert_eq!(stderr(&o).trim(), "gnip-stream: listed 3 rules");
}

#[test]
fn the_named_target_builds_the_documented_url() {
    let sim = sim();
    let mut c = cmd("demo", "demo");
    c.args([
        "rules",
        "add",
        "--product",
        "powertrack-replay",
        "--account",
        "acme",
        "--label",
        "prod",
        "--host",
        &sim.base_url(),
        "x",
    ]);
    let o = run(c, LIMIT);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let l = log(&sim);
    assert_eq!(
        l[0].path,
        "/rules/powertrack-replay/accounts/acme/publishers/twitter/prod.json"
    );
    assert_eq!(l[0].method, "POST");
    assert_eq!(l[0].header("content-type"), Some("application/json"));
    assert_eq!(
        sim.rules(RuleSet::PowerTrackReplay, "acme", "prod").len(),
        1
    );
}

#[test]
fn rule_files_ndjson_a_document_and_stdin() {
    let sim = sim();
    let nd = temp_file(
        "rules.ndjson",
        b"{\"value\":\"one\",\"tag\":\"t1\"}\n\n{\"value\":\"two\",\"tag\":null,\"id\":5}\n{\"value\":\"three\"}\n",
    );
    let o = rules(&sim, "add", "f", &["--file", nd.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("created 3"));
    let doc = temp_file(
        "rules.json",
        b"{\"rules\":[{\"value\":\"four\",\"tag\":\"t4\"}]}",
    );
    let o = rules(&sim, "add", "f", &["--file", doc.to_str().unwrap()]);
    assert!(stderr(&o).contains("created 1"));
    let o = rules_as(
        &sim,
        "demo",
        "demo",
        "add",
        "f",
        &["--file", "-"],
        Some(b"{\"value\":\"five\"}\n"),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let values: Vec<String> = sim
        .rules(RuleSet::PowerTrack, "acme", "f")
        .into_iter()
        .map(|r| r.value)
        .collect();
    assert_eq!(values, vec!["one", "two", "three", "four", "five"]);
    let tags: Vec<Option<String>> = sim
        .rules(RuleSet::PowerTrack, "acme", "f")
        .into_iter()
        .map(|r| r.tag)
        .collect();
    assert_eq!(tags[0].as_deref(), Some("t1"));
    assert_eq!(tags[1], None);
}

#[test]
fn a_malformed_line_is_a_usage_error_naming_it_and_nothing_is_sent() {
    let sim = sim();
    let bad = temp_file(
        "bad.ndjson",
        b"{\"value\":\"ok\"}\n{\"value\":\"ok2\"}\n{\"tag\":\"no value\"}\n",
    );
    for verb in ["add", "validate", "sync", "delete"] {
        let o = rules(&sim, verb, "bad", &["--file", bad.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{verb}");
        let e = stderr(&o);
        assert!(e.contains("line 3") && e.contains("no \"value\""), "{e}");
    }
    let not_json = temp_file("bad2.ndjson", b"{\"value\":\"ok\"}\nnot json\n");
    let o = rules(&sim, "add", "bad", &["--file", not_json.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("line 2"));
    assert!(log(&sim).is_empty(), "nothing sent");
}

#[test]
fn delete_by_value_id_file_and_all_is_idempotent() {
    let sim = sim();
    rules(&sim, "add", "d", &["a", "b", "c", "d", "e"]);
    let o = rules(&sim, "delete", "d", &["a", "missing"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o).trim(), "gnip-stream: deleted 1, absent 1");
    let id = sim.rules(RuleSet::PowerTrack, "acme", "d")[0]
        .id
        .unwrap()
        .to_string();
    let o = rules(&sim, "delete", "d", &["--id", &id, "--id", "42"]);
    assert_eq!(stderr(&o).trim(), "gnip-stream: deleted 1, absent 1");
    let f = temp_file("del.ndjson", b"{\"value\":\"c\"}\n");
    let o = rules(&sim, "delete", "d", &["--file", f.to_str().unwrap()]);
    assert_eq!(stderr(&o).trim(), "gnip-stream: deleted 1, absent 0");
    let o = rules(&sim, "delete", "d", &["--all"]);
    assert_eq!(stderr(&o).trim(), "gnip-stream: deleted 2, absent 0");
    assert!(sim.rules(RuleSet::PowerTrack, "acme", "d").is_empty());
    let deletes = log(&sim)
        .iter()
        .filter(|r| r.method == "POST" && r.query == "_method=delete")
        .count();
    assert_eq!(deletes, 4);
    let o = rules(&sim, "delete", "d", &["a", "--all"]);
    assert_eq!(o.status.code(), Some(2), "one kind of deletion at a time");
}

#[test]
fn validate_exits_5_naming_each_invalid_rule() {
    let sim = sim();
    let o = rules(&sim, "validate", "v", &["from:jack", "cat dog"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stderr(&o).trim(), "gnip-stream: valid 2, invalid 0");
    let o = rules(&sim, "validate", "v", &["ok", "--", "-follow", "(open"]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("invalid: \"-follow\": Rules must contain a non-negation term"),
        "{e}"
    );
    assert!(
        e.contains("invalid: \"(open\": Unmatched parenthesis"),
        "{e}"
    );
    assert!(e.trim_end().ends_with("valid 1, invalid 2"), "{e}");
    assert!(sim.rules(RuleSet::PowerTrack, "acme", "v").is_empty());
    assert!(
        log(&sim)
            .iter()
            .all(|r| r.path.ends_with("/v/validation.json"))
    );
}

#[test]
fn a_rejected_add_exits_5_and_says_what_earlier_batches_created() {
    let sim = sim();
    let o = rules(&sim, "add", "r", &["fine", "--", "-bad"]);
    assert_eq!(o.status.code(), Some(5));
    let e = stderr(&o);
    assert!(
        e.contains("rejected: \"-bad\": Rules must contain a non-negation term"),
        "{e}"
    );
    assert!(e.contains("created 0 (in earlier batches)"), "{e}");
    assert!(
        sim.rules(RuleSet::PowerTrack, "acme", "r").is_empty(),
        "all or nothing"
    );
    // Over 5,000 rules: the first batch goes in, the second is rejected.
    let mut nd = Vec::new();
    for i in 0..5000 {
        writeln!(nd, "{{\"value\":\"ok{i}\"}}").unwrap();
    }
    nd.extend_from_slice(b"{\"value\":\"-bad\"}\n");
    let f = temp_file("two-batches.ndjson", &nd);
    let o = rules(&sim, "add", "r", &["--file", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(5));
    assert!(
        stderr(&o).contains("created 5000 (in earlier batches)"),
        "{}",
        stderr(&o)
    );
    assert_eq!(sim.rules(RuleSet::PowerTrack, "acme", "r").len(), 5000);
}

#[test]
fn sync_dry_run_prints_the_plan_and_sends_only_gets() {
    let sim = sim();
    rules(&sim, "add", "s", &["--tag", "old", "retag"]);
    rules(&sim, "add", "s", &["keep", "gone"]);
    let f = temp_file(
        "sync.ndjson",
        b"{\"value\":\"keep\"}\n{\"value\":\"retag\",\"tag\":\"new\"}\n{\"value\":\"new\"}\n",
    );
    let before = log(&sim).len();
    let o = rules(
        &sim,
        "sync",
        "s",
        &["--file", f.to_str().unwrap(), "--dry-run"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "+ new\n~ retag\n- gone\n");
    assert!(stderr(&o).contains("add 1, retag 1, delete 1, unchanged 1"));
    assert!(
        log(&sim)[before..].iter().all(|r| r.method == "GET"),
        "only GETs"
    );
    assert_eq!(
        sim.rules(RuleSet::PowerTrack, "acme", "s").len(),
        3,
        "nothing changed"
    );
    // For real: writes in the documented order.
    let before = log(&sim).len();
    let o = rules(&sim, "sync", "s", &["--file", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let order: Vec<String> = log(&sim)[before..]
        .iter()
        .map(|r| format!("{} {}", r.method, r.query))
        .collect();
    assert_eq!(
        order,
        vec![
            "GET ",
            "POST ",
            "POST _method=delete",
            "POST ",
            "POST _method=delete"
        ]
    );
    // A second sync sends no write.
    let before = log(&sim).len();
    let o = rules(&sim, "sync", "s", &["--file", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("add 0, retag 0, delete 0, unchanged 3"));
    assert!(log(&sim)[before..].iter().all(|r| r.method == "GET"));
}

#[test]
fn list_into_a_file_then_sync_from_it_changes_nothing() {
    let sim = sim();
    rules(
        &sim,
        "add",
        "l",
        &["--tag", "t", "one", "two \"quoted\" 🐟"],
    );
    rules(&sim, "add", "l", &["three"]);
    let o = rules(&sim, "list", "l", &[]);
    let f = temp_file("listed.ndjson", &o.stdout);
    let before = log(&sim).len();
    let o = rules(&sim, "sync", "l", &["--file", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        log(&sim)[before..].iter().all(|r| r.method == "GET"),
        "no write"
    );
}

#[test]
fn refused_credentials_exit_3_after_exactly_one_request() {
    let sim = Simulator::start(SimulatorConfig::default().credentials("demo", "right")).unwrap();
    let o = rules_as(&sim, "demo", "wrong", "list", "x", &[], None);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(log(&sim).len(), 1);
    assert!(stderr(&o).contains("authentication refused"));
}

#[test]
fn other_client_errors_exit_4_with_the_service_message() {
    let sim = Simulator::start(SimulatorConfig::default().fault(
        Which::Every,
        Fault::Status {
            status: 403,
            message: "This account may not manage rules".into(),
        },
    ))
    .unwrap();
    let o = rules(&sim, "add", "x", &["cat"]);
    assert_eq!(o.status.code(), Some(4));
    assert!(
        stderr(&o).contains("This account may not manage rules"),
        "{}",
        stderr(&o)
    );
    assert_eq!(log(&sim).len(), 1);
    // Plain http to a remote host with credentials: refused before connecting.
    let mut c = cmd("u", "p");
    c.args([
        "rules",
        "list",
        "--url",
        "http://rules.example.com/rules/powertrack/accounts/a/publishers/twitter/l.json",
    ]);
    let o = run(c, LIMIT);
    assert_eq!(o.status.code(), Some(4));
    assert!(stderr(&o).contains("plain http"));
}

#[test]
fn a_503_once_and_a_429_with_retry_after_are_waited_out() {
    let sim = Simulator::start(
        SimulatorConfig::default()
            .rate_limit_window(Duration::from_secs(3))
            .fault(
                Which::Connection(1),
                Fault::Status {
                    status: 503,
                    message: "Service Unavailable".into(),
                },
            ),
    )
    .unwrap();
    let o = rules(&sim, "add", "w", &["cat"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let l = log(&sim);
    assert_eq!(
        l.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![503, 201]
    );
    assert!(
        l[1].at - l[0].at >= Duration::from_millis(900),
        "1 s backoff"
    );
    // Use up the window (60 requests), then the command's request is answered 429 with
    // Retry-After, waited out, and succeeds.
    let url = sim.rules_url(RuleSet::PowerTrack, "acme", "w");
    let agent = ureq::Agent::new_with_defaults();
    let mut n = 0;
    while n < 70 {
        let status = agent
            .get(&url)
            .header("Authorization", "Basic ZGVtbzpkZW1v")
            .config()
            .http_status_as_error(false)
            .build()
            .call()
            .unwrap()
            .status()
            .as_u16();
        n += 1;
        if status == 429 {
            break;
        }
    }
    let before = log(&sim).len();
    let o = rules(&sim, "list", "w", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mine: Vec<u16> = log(&sim)[before..].iter().map(|r| r.status).collect();
    assert_eq!(
        mine,
        vec![429, 200],
        "the window had not passed: Retry-After waited out"
    );
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    for (args, says) in [
        (vec!["rules"], "missing the verb"),
        (vec!["rules", "frob"], "unknown verb"),
        (vec!["rules", "list"], "missing the rules"),
        (
            vec![
                "rules",
                "add",
                "--url",
                "http://h/rules/powertrack/accounts/a/publishers/twitter/l.json",
            ],
            "give rule values",
        ),
        (
            vec![
                "rules",
                "sync",
                "--url",
                "http://h/rules/powertrack/accounts/a/publishers/twitter/l.json",
            ],
            "needs --file",
        ),
        (
            vec![
                "rules",
                "list",
                "--product",
                "firehose",
                "--account",
                "a",
                "--label",
                "l",
            ],
            "powertrack-replay",
        ),
        (
            vec!["rules", "list", "--url", "http://h/x.json"],
            "not a rules URL",
        ),
        (
            vec!["rules", "list", "--url", "u", "--tag", "t"],
            "unknown option",
        ),
    ] {
        let mut c = cmd("u", "p");
        c.args(&args);
        let o = run(c, LIMIT);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty());
    }
    for verb in ["list", "add", "delete", "validate", "sync"] {
        let mut c = cmd("u", "p");
        c.args(["rules", verb, "--help"]);
        let o = run(c, LIMIT);
        assert_eq!(o.status.code(), Some(0));
        assert!(stdout(&o).contains("gnip-stream rules sync     TARGET --file FILE [--dry-run]"));
    }
}

#[test]
fn credentials_appear_in_no_output() {
    let sim =
        Simulator::start(SimulatorConfig::default().credentials("demo", "pw-SECRET-4711")).unwrap();
    let b64 = "ZGVtbzpwdy1TRUNSRVQtNDcxMQ"; // base64 of demo:pw-SECRET-4711, without padding
    for (verb, args) in [
        ("add", vec!["cat"]),
        ("list", vec![]),
        ("validate", vec!["-x"]),
        ("sync", vec!["--file", "/nonexistent"]),
    ] {
        for password in ["pw-SECRET-4711", "wrong-SECRET-4711"] {
            let o = rules_as(&sim, "demo", password, verb, "c", &args, None);
            let all = format!("{}{}", stdout(&o), stderr(&o));
            assert!(!all.contains("SECRET"), "{verb}: {all}");
            assert!(!all.contains(b64), "{verb}: {all}");
        }
    }
}

/// `rules add` then `stream`, both the real binary, against `gnip-stream simulate`: only
/// matching records, each with its `matching_rules` (the README's example, as a user pastes it).
#[test]
fn rules_add_then_stream_against_simulate_delivers_only_matching_records() {
    let mut c = cmd("demo", "demo");
    c.args(["simulate", "--rate", "300"]);
    let mut sim = c
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(sim.stdout.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().expect("the simulator's banner").unwrap();
        if let Some(rest) = line.strip_prefix("simulator listening on ") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let target = named("powertrack", &base);
    let mut c = cmd("demo", "demo");
    c.args(["rules", "add"])
        .args(&target)
        .args(["--tag", "english", "lang:en"]);
    let o = run(c, LIMIT);
    let mut c2 = cmd("demo", "demo");
    c2.args(["rules", "add"])
        .args(&target)
        .args(["--tag", "rule-word", "firehose OR stream"]);
    let o2 = run(c2, LIMIT);
    let mut c = cmd("demo", "demo");
    c.args([
        "stream",
        "--url",
        &format!("{base}/stream/powertrack/accounts/acme/publishers/twitter/prod.json"),
        "--max-records",
        "40",
    ]);
    let out = run(c, LIMIT);
    signal(&sim, "-TERM");
    let status = exit_within(&mut sim, Instant::now(), Duration::from_secs(5));
    assert_eq!(status.code(), Some(0));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(o2.status.code(), Some(0), "{}", stderr(&o2));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let records: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 40);
    for r in &records {
        let m = r
            .get("matching_rules")
            .or_else(|| r.pointer("/gnip/matching_rules"))
            .and_then(Value::as_array)
            .expect("matching_rules");
        assert!(!m.is_empty());
        let text = r
            .get("text")
            .or_else(|| r.get("body"))
            .or_else(|| r.pointer("/extended_tweet/full_text"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_lowercase();
        let lang = r
            .get("lang")
            .or_else(|| r.get("twitter_lang"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        for rule in m {
            match rule["tag"].as_str() {
                Some("english") => assert_eq!(lang, "en"),
                Some("rule-word") => {
                    assert!(
                        text.contains("firehose") || text.contains("stream"),
                        "{text}"
                    )
                }
                other => panic!("unexpected rule {other:?}"),
            }
            assert_eq!(rule["id_str"].as_str().unwrap(), rule["id"].to_string());
        }
    }
}

/// Spawns `rules VERB --url … ARGS` with stderr piped.
fn spawn_rules(sim: &Simulator, verb: &str, args: &[&str]) -> std::process::Child {
    let mut c = cmd("demo", "demo");
    c.args([
        "rules",
        verb,
        "--url",
        &sim.rules_url(RuleSet::PowerTrack, "acme", "prod"),
    ]);
    c.args(args);
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_signal_stops_rules_within_2_s_even_in_a_429_wait() {
    // Every request is answered 429 without Retry-After: the command backs off from 60 s.
    let sim = Simulator::start(SimulatorConfig::default().fault(
        Which::Every,
        Fault::Status {
            status: 429,
            message: "Too Many Requests".into(),
        },
    ))
    .unwrap();
    for (sig, status) in [("-TERM", 143), ("-INT", 130)] {
        let before = log(&sim).len();
        let mut child = spawn_rules(&sim, "add", &["cat", "dog"]);
        let waited = Instant::now();
        while log(&sim).len() == before {
            assert!(waited.elapsed() < LIMIT, "no request");
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(300)); // inside the 60 s backoff now
        signal(&child, sig);
        let since = Instant::now();
        let exit = exit_within(&mut child, since, Duration::from_secs(2));
        let mut err = String::new();
        let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err);
        assert_eq!(exit.code(), Some(status), "{sig}: {err}");
        assert!(
            err.contains("stopped by a signal after 1 requests: created 0"),
            "{sig}: {err}"
        );
        assert_eq!(log(&sim).len(), before + 1, "no request after the signal");
    }
}

#[test]
fn a_rules_url_with_credentials_in_it_is_refused_before_any_request() {
    let sim = sim();
    let url = sim.rules_url(RuleSet::PowerTrack, "acme", "prod").replacen(
        "http://",
        "http://localhost:hunter2@",
        1,
    );
    let mut c = cmd("demo", "demo");
    c.args(["rules", "list", "--url", &url]);
    let o = run(c, LIMIT);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("credentials in it"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("hunter2"));
    assert!(log(&sim).is_empty());
}

#[test]
fn a_sync_from_a_file_without_rules_is_refused_unless_allow_empty() {
    // audit M5: an empty or truncated file planned to delete every rule.
    let sim = sim();
    let o = rules(&sim, "add", "prod", &["cat", "dog"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let sync = |input: &[u8], more: &[&str]| {
        let args: Vec<&str> = ["--file", "-"].iter().chain(more).copied().collect();
        rules_as(&sim, "demo", "demo", "sync", "prod", &args, Some(input))
    };
    for empty in [&b""[..], b"\n\n"] {
        let before = log(&sim).len();
        let o = sync(empty, &[]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("the sync would delete all 2 rules") && err.contains("--allow-empty"),
            "{err}"
        );
        let log = log(&sim);
        let sent: Vec<&str> = log[before..].iter().map(|r| r.method.as_str()).collect();
        assert_eq!(sent, vec!["GET"], "only the list was asked for");
    }
    // The dry run shows the plan; --allow-empty does it.
    let o = sync(b"", &["--dry-run"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).lines().filter(|l| l.starts_with("- ")).count(),
        2
    );
    let o = sync(b"", &["--allow-empty"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&rules(&sim, "list", "prod", &[])),
        "",
        "every rule deleted"
    );
}

#[test]
fn a_retag_whose_add_fails_names_the_rules_it_deleted() {
    // Audit L11: values are unique and tags immutable, so a retag deletes before it adds; when
    // the add then failed, the error did not say which rules were gone.
    let sim = sim();
    rules(&sim, "add", "t", &["--tag", "old", "retag me"]);
    let f = temp_file(
        "retag.ndjson",
        b"{\"value\":\"retag me\",\"tag\":\"new\"}\n",
    );
    // The sync's requests: the list, the delete, then the add, which is refused.
    let before = sim.requests().len() as u64;
    sim.add_fault(
        Which::From(before + 3),
        Fault::Status {
            status: 400,
            message: "Bad request".into(),
        },
    );
    let o = rules(&sim, "sync", "t", &["--file", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "deleted for a new tag and not added again (1): \"retag me\"; run the sync again"
        ),
        "{}",
        stderr(&o)
    );
    assert!(sim.rules(RuleSet::PowerTrack, "acme", "t").is_empty());
    // Run again without the fault: the rule is back, with its new tag.
    sim.clear_faults();
    let o = rules(&sim, "sync", "t", &["--file", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let now = sim.rules(RuleSet::PowerTrack, "acme", "t");
    assert_eq!(now.len(), 1);
    assert_eq!(now[0].tag.as_deref(), Some("new"));
}

#[test]
fn a_rules_file_over_the_cap_is_refused_before_any_request() {
    // Audit L8: rules files and stdin were read whole, whatever their size.
    use gnip_stream::unversioned::protocol::rules::MAX_RULES_FILE_BYTES;
    let sim = sim();
    // A sparse file one byte over the cap: refused from its size, nothing read.
    let big = temp_file("over-the-cap.ndjson", b"");
    std::fs::File::options()
        .write(true)
        .open(&big)
        .unwrap()
        .set_len(MAX_RULES_FILE_BYTES + 1)
        .unwrap();
    let o = rules(&sim, "sync", "prod", &["--file", big.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "{} bytes: larger than the 128 MiB a rules file may have",
            MAX_RULES_FILE_BYTES + 1
        )),
        "{}",
        stderr(&o)
    );
    std::fs::remove_file(&big).unwrap();
    // From stdin: read up to the cap and one byte more, then refused.
    let add_from_stdin = |input: &[u8]| {
        rules_as(
            &sim,
            "demo",
            "demo",
            "add",
            "prod",
            &["--file", "-"],
            Some(input),
        )
    };
    let mut input = b"{\"value\":\"cat\"}\n".to_vec();
    input.resize(usize::try_from(MAX_RULES_FILE_BYTES).unwrap() + 1, b'\n');
    let o = add_from_stdin(&input);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "rules file -: more than {MAX_RULES_FILE_BYTES} bytes: larger than the 128 MiB"
        )),
        "{}",
        stderr(&o)
    );
    assert!(log(&sim).is_empty(), "nothing sent");
    // At the cap exactly it is read (and the blank lines skipped).
    input.truncate(usize::try_from(MAX_RULES_FILE_BYTES).unwrap());
    let o = add_from_stdin(&input);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

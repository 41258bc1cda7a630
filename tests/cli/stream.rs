//! The `gnip-stream` command as scripts drive it: the built binary against the simulator —
//! records byte-exact on stdout, `--count`, `--max-records`, exit codes 2/3/4, SIGTERM on an
//! idle stream, `demo`, `simulate` answering curl, and credentials in no output.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common;

use gnip_stream::Product;
use gnip_stream::simulator::{Fault, Rate, Simulator, SimulatorConfig, Which, record_index};

use common::cli::{bin, cmd, exit_within, named, run, signal};

fn lines(out: &Output) -> Vec<Vec<u8>> {
    let mut l: Vec<Vec<u8>> = out
        .stdout
        .split(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    assert_eq!(l.pop(), Some(Vec::new()), "stdout ends with a newline");
    l
}

#[test]
fn stream_writes_every_record_byte_exact_and_stops_at_max_records() {
    let sim = Simulator::start(SimulatorConfig::default().rate(Rate::PerSecond(300.0))).unwrap();
    let mut c = cmd("demo", "demo");
    c.args([
        "stream",
        "--url",
        &sim.stream_url(Product::PowerTrack, "acme", "prod"),
        "--max-records",
        "50",
    ]);
    let out = run(c, Duration::from_secs(20));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = lines(&out);
    assert_eq!(recs.len(), 50);
    for w in recs.windows(2) {
        assert_eq!(
            record_index(&w[1]).unwrap(),
            record_index(&w[0]).unwrap() + 1
        );
    }
    for r in &recs {
        assert_eq!(
            *r,
            sim.record(record_index(r).unwrap()),
            "byte for byte as received"
        );
    }
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("connected"),
        "connection events on stderr: {err}"
    );
}

#[test]
fn max_records_is_exact_across_partitions_and_count_prints_one_line() {
    let sim = Simulator::start(SimulatorConfig::default().rate(Rate::PerSecond(600.0))).unwrap();
    let mut c = cmd("demo", "demo");
    c.args([
        "stream",
        "--product",
        "decahose",
        "--account",
        "acme",
        "--label",
        "prod",
        "--host",
        &sim.base_url(),
        "--max-records",
        "40",
    ]);
    let out = run(c, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(0));
    let recs = lines(&out);
    assert_eq!(recs.len(), 40);
    let parts: std::collections::BTreeSet<u64> =
        recs.iter().map(|r| record_index(r).unwrap() % 2).collect();
    assert_eq!(parts.len(), 2, "both partitions wrote");
    let mut c = cmd("demo", "demo");
    c.args([
        "stream",
        "--url",
        &sim.stream_url(Product::Firehose, "acme", "prod"),
        "--partition",
        "4",
        "--count",
        "--max-records",
        "30",
    ]);
    let out = run(c, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "records=30\n");
    assert_eq!(sim.requests().last().unwrap().param("partition"), Some("4"));
}

/// `--redundant 2` receives every record twice; `--max-records` and `--count` count what is
/// handed out after de-duplication, exactly; `--no-dedupe` shows the copies. The final report
/// names the duplicates dropped and which connection delivered first.
#[test]
fn max_records_and_count_are_exact_with_redundant_copies() {
    let sim = Simulator::start(SimulatorConfig::default().rate(Rate::PerSecond(400.0))).unwrap();
    let url = sim.stream_url(Product::PowerTrack, "acme", "prod");
    let mut c = cmd("demo", "demo");
    c.args([
        "stream",
        "--url",
        &url,
        "--redundant",
        "2",
        "--max-records",
        "300",
    ]);
    let out = run(c, Duration::from_secs(20));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = lines(&out);
    assert_eq!(recs.len(), 300);
    let distinct: std::collections::BTreeSet<u64> =
        recs.iter().map(|r| record_index(r).unwrap()).collect();
    assert_eq!(distinct.len(), 300, "no record twice");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("delivered first: connection 1 "), "{err}");
    assert!(err.contains("duplicates dropped"), "{err}");
    let mut c = cmd("demo", "demo");
    c.args([
        "stream",
        "--url",
        &url,
        "--redundant",
        "2",
        "--count",
        "--max-records",
        "200",
    ]);
    let out = run(c, Duration::from_secs(20));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "records=200\n");
    // Without de-duplication the copies come through (and count): 800 records take 2 s, so the
    // second connection overlaps the first however late it starts.
    let mut c = cmd("demo", "demo");
    c.args([
        "stream",
        "--url",
        &url,
        "--redundant",
        "2",
        "--no-dedupe",
        "--max-records",
        "800",
    ]);
    let out = run(c, Duration::from_secs(20));
    let recs = lines(&out);
    let distinct: std::collections::BTreeSet<u64> =
        recs.iter().map(|r| record_index(r).unwrap()).collect();
    assert_eq!(recs.len(), 800);
    assert!(distinct.len() < 800, "copies without de-duplication");
    let mut c = cmd("demo", "demo");
    c.args(["stream", "--url", &url, "--redundant", "5"]);
    let out = run(c, Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn usage_errors_exit_2_with_a_one_line_hint() {
    for args in [
        vec![
            "stream",
            "--url",
            "http://127.0.0.1:9/stream/powertrack/accounts/a/publishers/twitter/l.json",
            "--bogus",
        ],
        vec!["frobnicate"],
        vec!["replay", "--url", "x", "--from", "2026"],
        vec!["stream", "--product", "firehose"],
    ] {
        let mut c = cmd("u", "p");
        c.args(&args);
        let out = run(c, Duration::from_secs(10));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("--help"), "{err}");
        assert!(out.stdout.is_empty());
    }
    // No credentials in the environment.
    let mut c = bin();
    c.env_remove("GNIP_USERNAME").env_remove("GNIP_PASSWORD");
    c.args([
        "stream",
        "--url",
        "https://h/stream/powertrack/accounts/a/publishers/twitter/l.json",
    ]);
    let out = run(c, Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("GNIP_USERNAME"));
    for help in [
        vec!["--help"],
        vec!["help"],
        vec!["stream", "--help"],
        vec!["replay", "--help"],
        vec!["demo", "--help"],
        vec!["simulate", "--help"],
    ] {
        let mut c = cmd("u", "p");
        c.args(&help);
        let out = run(c, Duration::from_secs(10));
        assert_eq!(out.status.code(), Some(0));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("usage:"),
            "{help:?}"
        );
    }
}

/// A script that lost its command must fail loudly: usage on stderr, nothing on stdout, exit 2.
#[test]
fn no_command_at_all_is_a_usage_error_on_stderr() {
    let out = run(cmd("u", "p"), Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing on stdout");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("gnip-stream: no command given"), "{err}");
    assert!(err.contains("usage:"), "{err}");
}

/// `--connect-timeout` reaches the client: a server that never sends its head is given up on
/// after that long (and retried on the network schedule), not after the 250 ms read tick.
#[test]
fn connect_timeout_is_a_flag_and_bounds_a_missing_head() {
    let sim = Simulator::start(SimulatorConfig::default().fault(
        Which::Every,
        Fault::DelayHead {
            duration: Duration::from_secs(60),
        },
    ))
    .unwrap();
    let mut c = cmd("demo", "demo");
    c.args([
        "stream",
        "--url",
        &sim.stream_url(Product::PowerTrack, "acme", "prod"),
        "--connect-timeout",
        "0.8",
    ]);
    let mut child = c
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = tx.send((Instant::now(), line));
        }
    });
    let started = Instant::now();
    let mut timed_out_after = None;
    while let Ok((at, line)) = rx.recv_timeout(Duration::from_secs(10)) {
        if line.contains("disconnected (network-error)") && line.contains("timed out") {
            timed_out_after = Some(at - started);
            break;
        }
    }
    signal(&child, "-TERM");
    let status = exit_within(&mut child, Instant::now(), Duration::from_secs(3));
    reader.join().unwrap();
    assert_eq!(status.code(), Some(0));
    let after = timed_out_after.expect("a connect timeout on stderr");
    assert!(
        after >= Duration::from_millis(700) && after < Duration::from_secs(5),
        "{after:?}"
    );
}

#[test]
fn a_refused_login_exits_3_after_one_request() {
    let sim = Simulator::start(SimulatorConfig::default().credentials("demo", "right")).unwrap();
    let mut c = cmd("demo", "wrong");
    c.args([
        "stream",
        "--url",
        &sim.stream_url(Product::PowerTrack, "acme", "prod"),
    ]);
    let out = run(c, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(sim.requests().len(), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));
}

#[test]
fn other_non_retryable_failures_exit_4() {
    let sim = Simulator::start(SimulatorConfig::default()).unwrap();
    // A Replay range ending less than 30 minutes ago: the service's 406.
    let now = gnip_stream::unversioned::clock::now_secs();
    let (from, to) = (
        gnip_stream::unversioned::protocol::time::replay_date(now - 1200),
        gnip_stream::unversioned::protocol::time::replay_date(now - 600),
    );
    let mut c = cmd("demo", "demo");
    c.args([
        "replay",
        "--url",
        &sim.replay_url(Product::PowerTrack, "acme", "prod"),
        "--from",
        &from,
        "--to",
        &to,
    ]);
    let out = run(c, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 30 minutes ago"));
    // Plain http with credentials to a remote host: refused before any connection.
    let mut c = cmd("demo", "demo");
    c.args([
        "stream",
        "--url",
        "http://gnip.example.com/stream/powertrack/accounts/a/publishers/twitter/l.json",
    ]);
    let out = run(c, Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(4));
}

#[test]
fn replay_completes_with_exit_0_and_every_record_once() {
    let sim = Simulator::start(SimulatorConfig::default().replay_records_per_minute(10)).unwrap();
    let now = gnip_stream::unversioned::clock::now_secs() / 60 * 60;
    let (from, to) = (
        gnip_stream::unversioned::protocol::time::replay_date(now - 7200),
        gnip_stream::unversioned::protocol::time::replay_date(now - 7200 + 300),
    );
    let mut c = cmd("demo", "demo");
    c.arg("replay")
        .args(named("powertrack", &sim.base_url()))
        .args(["--from", &from, "--to", &to]);
    let out = run(c, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        lines(&out).len(),
        50,
        "5 minutes × 10; the completion message is not a record"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("Replay Request Completed"));
}

#[test]
fn sigterm_on_an_idle_stream_exits_0_within_2_s_with_stdout_flushed() {
    // Ten records, then silence: the records must reach the pipe while the stream is idle
    // (the idle flush), and SIGTERM must still end it quickly and cleanly.
    let sim = Simulator::start(
        SimulatorConfig::default()
            .rate(Rate::PerSecond(200.0))
            .heartbeat(Duration::from_secs(60))
            .fault(
                Which::Every,
                Fault::Stall {
                    after_records: 10,
                    duration: Duration::from_secs(30),
                },
            ),
    )
    .unwrap();
    let mut c = cmd("demo", "demo");
    c.args([
        "stream",
        "--url",
        &sim.stream_url(Product::PowerTrack, "acme", "prod"),
    ]);
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let mut got = Vec::new();
    while got.len() < 10 {
        got.push(
            rx.recv_timeout(Duration::from_secs(10))
                .expect("records flushed while idle"),
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    signal(&child, "-TERM");
    let status = exit_within(&mut child, sent, Duration::from_secs(2));
    assert_eq!(status.code(), Some(0));
    reader.join().unwrap();
    assert_eq!(got.len() + rx.try_iter().count(), 10);
    for r in &got {
        assert_eq!(
            r.as_bytes(),
            &sim.record(record_index(r.as_bytes()).unwrap())[..]
        );
    }
}

#[test]
fn demo_runs_offline_and_ends_with_a_summary() {
    let mut c = bin();
    c.env_remove("GNIP_USERNAME").env_remove("GNIP_PASSWORD");
    c.args(["demo", "--seconds", "2", "--rate", "200"]);
    let out = run(c, Duration::from_secs(20));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("sample records:"), "{text}");
    assert!(text.contains("summary: "), "{text}");
    assert!(
        text.contains("partition 1:") && text.contains("partition 2:"),
        "{text}"
    );
    let n: u64 = text
        .split("summary: ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((250..=500).contains(&n), "about 2 s × 200/s: {n}");
}

#[test]
fn simulate_answers_curl_until_sigterm() {
    let curl = Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let mut child = bin()
        .args(["simulate", "--rate", "100"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut url = String::new();
    let t = Instant::now();
    while url.is_empty() && t.elapsed() < Duration::from_secs(10) {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        if let Some(u) = line
            .split_whitespace()
            .find(|w| w.contains("/stream/powertrack/"))
        {
            url = u.to_owned();
        }
    }
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    if curl {
        let out = Command::new("curl")
            .args([
                "--compressed",
                "-sS",
                "-u",
                "demo:demo",
                "--max-time",
                "1.5",
                &url,
            ])
            .output()
            .unwrap();
        let body = String::from_utf8_lossy(&out.stdout);
        let records = body
            .split("\r\n")
            .filter(|l| l.starts_with('{') && l.ends_with('}'))
            .count();
        assert!(records >= 50, "{records} records from curl");
    } else {
        eprintln!("SKIP the curl half: curl is not installed here");
    }
    signal(&child, "-TERM");
    let status = exit_within(&mut child, Instant::now(), Duration::from_secs(3));
    assert_eq!(status.code(), Some(0));
}

#[test]
fn credentials_never_appear_in_any_output() {
    use base64::Engine as _;
    let secret = "pw-SECRET-4711";
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("demo:{secret}"));
    let ok = Simulator::start(
        SimulatorConfig::default()
            .credentials("demo", secret)
            .rate(Rate::PerSecond(200.0)),
    )
    .unwrap();
    let refused = Simulator::start(SimulatorConfig::default().credentials("demo", "else")).unwrap();
    for (sim, extra) in [
        (&ok, vec!["--max-records", "20", "--stats-interval", "0.2"]),
        (&refused, vec![]),
    ] {
        let mut c = cmd("demo", secret);
        c.args([
            "stream",
            "--url",
            &sim.stream_url(Product::PowerTrack, "acme", "prod"),
        ])
        .args(&extra);
        let out = run(c, Duration::from_secs(20));
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !all.contains(secret) && !all.contains(&b64),
            "leaked: {all}"
        );
        assert!(!all.is_empty());
    }
}

/// The block of docs/command.md after `<!-- help: NAME -->`.
fn documented_help(name: &str) -> String {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/command.md"))
        .expect("docs/command.md");
    let marker = format!("<!-- help: {name} -->");
    let at = doc
        .find(&marker)
        .unwrap_or_else(|| panic!("no {marker} in docs/command.md"));
    let rest = &doc[at..];
    let start = rest
        .find("```text\n")
        .expect("a text block after the marker")
        + "```text\n".len();
    let end = rest[start..].find("\n```").expect("the block's end");
    format!("{}\n", &rest[start..start + end])
}

fn help_of(command: &str) -> String {
    let out = run(
        {
            let mut c = bin();
            c.args([command, "--help"]);
            c
        },
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(0), "{command} --help");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_commands_help_is_what_docs_command_md_says() {
    // The options come from the flag tables that parse them; the doc must not drift.
    for command in [
        "replay",
        "recover",
        "rules",
        "connections",
        "demo",
        "simulate",
    ] {
        assert_eq!(
            help_of(command),
            documented_help(command),
            "{command} --help"
        );
    }
    let stream = help_of("stream");
    #[cfg(not(feature = "jetstream"))]
    assert_eq!(stream, documented_help("stream"));
    #[cfg(feature = "jetstream")]
    {
        assert_eq!(
            stream,
            format!(
                "{}\n{}",
                documented_help("stream"),
                documented_help("stream (jetstream)")
            )
        );
        for command in ["jetstream-init", "publish"] {
            assert_eq!(
                help_of(command),
                documented_help(command),
                "{command} --help"
            );
        }
    }
}

#[test]
fn a_url_with_credentials_in_it_is_refused_before_any_connection_and_never_printed() {
    // audit M7: the guard saw `localhost`, http would have connected to the host after `@`.
    let sim = Simulator::start(SimulatorConfig::default()).unwrap();
    let addr = sim.addr();
    for url in [
        format!(
            "http://localhost:hunter2@{addr}/stream/powertrack/accounts/acme/publishers/twitter/prod.json"
        ),
        format!(
            "http://u:hunter2@{addr}/stream/sample10/accounts/acme/publishers/twitter/prod.json"
        ),
    ] {
        for user in ["demo", ""] {
            let mut c = cmd(user, "demo");
            c.args(["stream", "--url", &url, "--count", "--stats-interval", "0"]);
            let out = run(c, Duration::from_secs(10));
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{url}: {err}");
            assert!(err.contains("credentials in it"), "{err}");
            assert!(
                !err.contains("hunter2"),
                "the password is never printed: {err}"
            );
        }
    }
    assert!(sim.requests().is_empty(), "no connection was made");
}

#[test]
fn a_reader_that_goes_away_ends_the_command_with_exit_0_not_a_panic() {
    // audit L6: `stream … 2>&1 | head -1` exited 101 (println!/eprintln! panic on EPIPE).
    if Command::new("bash").arg("-c").arg("true").status().is_err() {
        eprintln!("SKIP a_reader_that_goes_away: bash is not installed here");
        return;
    }
    let sim = Simulator::start(SimulatorConfig::default().rate(Rate::PerSecond(300.0))).unwrap();
    let url = sim.stream_url(Product::PowerTrack, "acme", "prod");
    let script = format!(
        "timeout 20 {} stream --url '{url}' --stats-interval 0 2>&1 | head -1 >/dev/null; echo \"${{PIPESTATUS[0]}}\"",
        common::cli::shell_words()
    );
    let out = Command::new("bash")
        .args(["-c", &script])
        .env("GNIP_USERNAME", "demo")
        .env("GNIP_PASSWORD", "demo")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0");
}

#[test]
fn a_partition_the_product_does_not_have_is_a_usage_error_naming_it() {
    // audit L14: --partition was accepted for PowerTrack, and a partition out of range was
    // reported without the partition or the range.
    let sim = Simulator::start(SimulatorConfig::default()).unwrap();
    for (product, partition, says) in [
        (
            "powertrack",
            "2",
            "partition 2: powertrack has no partitions",
        ),
        (
            "decahose",
            "3",
            "partition 3 is out of sample10's range 1..2",
        ),
    ] {
        let mut c = cmd("demo", "demo");
        c.arg("stream");
        c.args(named(product, &sim.base_url()));
        c.args(["--partition", partition, "--count"]);
        let out = run(c, Duration::from_secs(10));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(says), "{err}");
    }
    assert!(sim.requests().is_empty());
}

#[test]
fn a_url_naming_a_partitioned_product_streams_every_partition_and_says_so() {
    // audit, usability: `--url …/sample10/…` without --partition connected with no partition
    // (the service's 400, exit 4).
    let sim = Simulator::start(SimulatorConfig::default().rate(Rate::PerSecond(200.0))).unwrap();
    let mut c = cmd("demo", "demo");
    c.args([
        "stream",
        "--url",
        &sim.stream_url(Product::Decahose, "acme", "prod"),
        "--max-records",
        "40",
        "--count",
        "--stats-interval",
        "0",
    ]);
    let out = run(c, Duration::from_secs(20));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("the URL names sample10: streaming every partition (1..2)"),
        "{err}"
    );
    let mut asked: Vec<String> = sim
        .requests()
        .iter()
        .filter_map(|r| r.param("partition").map(str::to_owned))
        .collect();
    asked.sort();
    asked.dedup();
    assert_eq!(asked, vec!["1", "2"]);
}

#[test]
fn control_characters_from_the_service_are_escaped_in_text_logs() {
    let sim = Simulator::start(SimulatorConfig::default().fault(
        Which::Every,
        Fault::Status {
            status: 403,
            message: "not\r\x1b[2Kallowed\x07".into(),
        },
    ))
    .unwrap();
    let mut c = cmd("demo", "demo");
    c.args([
        "stream",
        "--url",
        &sim.stream_url(Product::PowerTrack, "acme", "prod"),
    ]);
    let out = run(c, Duration::from_secs(20));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains(r"not\u{d}\u{1b}[2Kallowed\u{7}"), "{err}");
    assert!(
        !out.stderr
            .iter()
            .any(|&b| b == b'\r' || b == 0x1b || b == 0x07),
        "{err}"
    );
    sim.shutdown();
}

#[test]
fn plain_http_to_loopback_never_goes_through_a_proxy() {
    // Audit L2: with HTTP(S)_PROXY set and no NO_PROXY, Basic credentials for a loopback
    // http:// URL went in the clear to the proxy. A listener stands in for the proxy.
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    proxy.set_nonblocking(true).unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let sim = Simulator::start(SimulatorConfig::default().rate(Rate::PerSecond(200.0))).unwrap();
    let mut c = cmd("demo", "demo");
    c.args([
        "stream",
        "--url",
        &sim.stream_url(Product::PowerTrack, "acme", "prod"),
        "--max-records",
        "5",
    ]);
    for v in [
        "ALL_PROXY",
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "http_proxy",
        "https_proxy",
    ] {
        c.env(v, &proxy_url);
    }
    c.env_remove("NO_PROXY").env_remove("no_proxy");
    let out = run(c, Duration::from_secs(20));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout.iter().filter(|&&b| b == b'\n').count(), 5);
    assert!(
        proxy.accept().is_err(),
        "nothing connected to the proxy (WouldBlock)"
    );
    sim.shutdown();
}

#[test]
fn simulate_off_loopback_refuses_the_demo_credentials_and_credential_flags() {
    // Audit L13: --listen 0.0.0.0 took the public demo/demo and flags that ps shows.
    let refused = |args: &[&str], env: &[(&str, &str)]| {
        let mut c = bin();
        c.arg("simulate")
            .args(args)
            .env_remove("GNIP_USERNAME")
            .env_remove("GNIP_PASSWORD")
            .env_remove("X_BEARER_TOKEN")
            .envs(env.iter().copied());
        let out = run(c, Duration::from_secs(10));
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        err
    };
    let err = refused(&["--listen", "0.0.0.0:0"], &[]);
    assert!(err.contains("demo credentials are refused"), "{err}");
    let err = refused(
        &["--listen", "0.0.0.0:0", "--user", "u", "--password", "p"],
        &[],
    );
    assert!(err.contains("credentials are not flags"), "{err}");
    let demo = [
        ("GNIP_USERNAME", "u"),
        ("GNIP_PASSWORD", "demo"),
        ("X_BEARER_TOKEN", "t"),
    ];
    refused(&["--listen", "0.0.0.0:0"], &demo);
    // With its own credentials from the environment it serves, and says whom it accepts.
    let mut child = bin()
        .args(["simulate", "--listen", "0.0.0.0:0"])
        .env("GNIP_USERNAME", "operator")
        .env("GNIP_PASSWORD", "s3cret-pw")
        .env("X_BEARER_TOKEN", "s3cret-token")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    signal(&child, "-TERM");
    let status = exit_within(&mut child, Instant::now(), Duration::from_secs(3));
    assert!(first.contains("simulator listening on"), "{first}");
    assert!(first.contains("operator"), "{first}");
    assert!(!first.contains("s3cret-pw"), "{first}");
    assert_eq!(status.code(), Some(0));
}

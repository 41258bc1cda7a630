//! Running it as a service: the `/metrics` endpoint (text format checked by `promtool`,
//! scraped by a real Prometheus, safe under hostile scrapers), the JSON logs, the slow-reader
//! warning, the alert rules and the systemd unit. Real tools skip with a printed reason when
//! absent; `.ci/run` installs them.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::common;

use gnip_stream::Product;
use gnip_stream::client::{MAX_CONCURRENT_SCRAPES, MetricsServer};
use gnip_stream::simulator::{Fault, Rate, Simulator, SimulatorConfig, Which};
use gnip_stream::testing::{free_port, scratch_dir};
use gnip_stream::unversioned::metrics::scrape::MAX_REQUEST_HEAD;

use common::cli::{cmd, exit_within, named};
use common::watch::{Watched, request, scrape, sum};

const PASSWORD: &str = "s3cret-Pa55word";

/// A tool on PATH, or `None` after printing why the calling test skips.
fn tool(name: &str, test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        println!("SKIPPED {test}: `{name}` is not installed (.ci/run installs it)");
    }
    found
}

fn spawn(args: &[String], reading: bool) -> Watched {
    let mut c = cmd("demo", PASSWORD);
    c.args(args);
    Watched::spawn(c, reading)
}

fn decahose(sim: &Simulator, extra: &[&str]) -> Vec<String> {
    let mut a = vec!["stream".to_owned()];
    a.extend(named("decahose", &sim.base_url()));
    a.extend(extra.iter().map(|s| (*s).to_owned()));
    a
}

#[test]
fn the_endpoint_serves_every_partition_and_connection_in_the_text_format() {
    let sim = Simulator::start(
        SimulatorConfig::default()
            .credentials("demo", PASSWORD)
            .rate(Rate::PerSecond(300.0)),
    )
    .unwrap();
    let c = spawn(
        &decahose(
            &sim,
            &["--redundant", "2", "--metrics-listen", "127.0.0.1:0"],
        ),
        true,
    );
    let addr = c.metrics_addr();
    let until = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let t = scrape(&addr);
        if sum(
            &t,
            "gnip_stream_records_total{product=\"sample10\",partition=\"2\",kind=\"activity\"}",
        ) >= 100.0
        {
            break t;
        }
        assert!(Instant::now() < until, "records never counted:\n{t}");
        std::thread::sleep(Duration::from_millis(100));
    };
    for want in [
        "# TYPE gnip_stream_records_total counter",
        "gnip_stream_connected{product=\"sample10\",partition=\"1\",connection=\"2\"} 1",
        "gnip_stream_disconnects_total{product=\"sample10\",partition=\"2\",connection=\"1\",reason=\"stalled\"} 0",
        "# TYPE gnip_stream_last_record_timestamp_seconds gauge",
    ] {
        assert!(text.contains(want), "{want} missing from\n{text}");
    }
    // Both connections received bytes; the de-duplication dropped the second copies.
    assert!(
        sum(
            &text,
            "gnip_stream_received_bytes_total{product=\"sample10\",partition=\"1\",connection=\"2\"}"
        ) > 0.0
    );
    assert!(sum(&text, "gnip_stream_duplicates_dropped_total{") > 0.0);
    if let Some(promtool) = tool("promtool", "promtool check metrics") {
        let mut p = Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        p.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        let out = p.wait_with_output().unwrap();
        assert!(
            out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
            "promtool: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // HEAD: the head only; anything else: refused.
    let (status, head, body) = request(&addr, b"HEAD /metrics HTTP/1.1\r\n\r\n");
    assert_eq!((status, body.as_str()), (200, ""));
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    assert_eq!(request(&addr, b"GET / HTTP/1.1\r\n\r\n").0, 404);
    let (status, head, _) = request(
        &addr,
        b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(status, 405);
    assert!(head.contains("Allow: GET, HEAD"));
    let last = scrape(&addr);
    let (status, records, _) = c.stop();
    assert_eq!(status.code(), Some(0));
    let scraped = sum(&last, "gnip_stream_records_total{") as u64;
    assert!(
        scraped > 0 && scraped <= records,
        "scraped {scraped}, written {records}"
    );
}

#[test]
fn the_library_server_refuses_a_fifth_scrape_an_endless_head_and_a_silent_client() {
    let server =
        MetricsServer::start("127.0.0.1:0", |out: &mut String| out.push_str("x 1\n")).unwrap();
    let addr = server.local_addr().to_string();
    // Four silent scrapers hold every slot: the fifth connection is answered 503 at once.
    let silent: Vec<TcpStream> = (0..MAX_CONCURRENT_SCRAPES)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    assert_eq!(request(&addr, b"GET /metrics HTTP/1.1\r\n\r\n").0, 503);
    assert!(started.elapsed() < Duration::from_secs(2));
    // Each silent one is dropped at the deadline (408), and the slots free up.
    for mut s in silent {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = String::new();
        s.read_to_string(&mut got).unwrap();
        assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    }
    assert_eq!(request(&addr, b"GET /metrics HTTP/1.1\r\n\r\n").2, "x 1\n");
    // An endless head: 431 once the cap is reached, then the connection closes.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\n").unwrap();
    let line = [b'X'; 1024];
    let mut sent = 0;
    while sent < 4 * MAX_REQUEST_HEAD {
        if s.write_all(&line).is_err() {
            break;
        }
        sent += line.len();
    }
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    assert!(
        got.starts_with(b"HTTP/1.1 431"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    drop(server);
    assert!(
        TcpStream::connect_timeout(&addr.parse::<SocketAddr>().unwrap(), Duration::from_secs(1))
            .is_err()
    );
}

#[test]
fn hostile_scrapers_neither_stall_the_stream_nor_grow_its_memory() {
    let sim = Simulator::start(
        SimulatorConfig::default()
            .credentials("demo", PASSWORD)
            .rate(Rate::PerSecond(500.0)),
    )
    .unwrap();
    let c = spawn(&decahose(&sim, &["--metrics-listen", "127.0.0.1:0"]), true);
    let addr = c.metrics_addr();
    std::thread::sleep(Duration::from_millis(500));
    // The command's own heap (its counting allocator) on every target; the kernel's RSS only
    // natively: under qemu-user (`.ci/cross`) RSS is the emulator's, which grows on its own.
    let heap_before = sum(&scrape(&addr), "gnip_stream_heap_peak_bytes");
    assert!(heap_before > 0.0, "the scrape carries the heap's peak");
    let native = common::cli::runner().is_none();
    let rss_before = if native { c.rss_kib() } else { 0 };
    let records_before = c.records.load(Ordering::SeqCst);
    // Four clients that send an endless head (first, so that they are served), then twenty
    // that connect and say nothing (answered 503: the four hold every slot).
    let stop = Arc::new(AtomicBool::new(false));
    let endless: Vec<JoinHandle<usize>> = (0..4)
        .map(|_| {
            let (a, stop) = (addr.clone(), Arc::clone(&stop));
            std::thread::spawn(move || {
                let Ok(mut s) = TcpStream::connect(&a) else {
                    return 0;
                };
                let _ = s.set_write_timeout(Some(Duration::from_millis(500)));
                let mut sent = 0;
                while !stop.load(Ordering::SeqCst)
                    && s.write_all(b"X-Endless: aaaaaaaa\r\n").is_ok()
                {
                    sent += 21;
                }
                sent
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let silent: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(2800));
    let records_during = c.records.load(Ordering::SeqCst);
    let rss_during = if native { c.rss_kib() } else { 0 };
    stop.store(true, Ordering::SeqCst);
    let sent: usize = endless.into_iter().map(|e| e.join().unwrap()).sum();
    assert!(
        sent >= 4 * MAX_REQUEST_HEAD,
        "the endless heads were read: {sent} bytes sent"
    );
    drop(silent);
    // 500 records/s: at least two thirds of that over the 3 s.
    assert!(
        records_during - records_before >= 1000,
        "the stream went on: {} records in 3 s",
        records_during - records_before
    );
    assert!(
        !native || rss_during < rss_before + 4 * 1024,
        "memory stayed bounded: {rss_before} KiB before, {rss_during} KiB during"
    );
    // Once they are gone the endpoint answers again (the silent ones time out in 5 s).
    let until = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, _, body) = request(&addr, b"GET /metrics HTTP/1.1\r\n\r\n");
        if status == 200 {
            assert!(body.contains("gnip_stream_records_total"));
            // Four scrapes at once at most, each holding at most an 8 KiB head: far under
            // 1 MiB at the peak, however long the heads that were sent.
            let heap_peak = sum(&body, "gnip_stream_heap_peak_bytes");
            assert!(
                heap_peak < heap_before + 1024.0 * 1024.0,
                "the heap stayed bounded: peak {heap_before} B before, {heap_peak} B after"
            );
            break;
        }
        assert_eq!(status, 503);
        assert!(Instant::now() < until, "the endpoint never answered again");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, ..) = c.stop();
    assert_eq!(status.code(), Some(0));
}

/// Kills the Prometheus child (ours, unreaped) when the test ends, however it ends.
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_real_prometheus_scrapes_the_records_counter() {
    let Some(prometheus) = tool(
        "prometheus",
        "a_real_prometheus_scrapes_the_records_counter",
    ) else {
        return;
    };
    let sim = Simulator::start(
        SimulatorConfig::default()
            .credentials("demo", PASSWORD)
            .rate(Rate::PerSecond(200.0)),
    )
    .unwrap();
    let c = spawn(&decahose(&sim, &["--metrics-listen", "127.0.0.1:0"]), true);
    let target = c.metrics_addr();
    let dir = scratch_dir("prometheus");
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: gnip-stream\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let web = format!("127.0.0.1:{}", free_port());
    let prom = Reap(
        Command::new(prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={web}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let query = format!(
        "GET /api/v1/query?query=sum(gnip_stream_records_total%7Bkind%3D%22activity%22%7D) HTTP/1.1\r\nHost: {web}\r\nConnection: close\r\n\r\n"
    );
    let until = Instant::now() + Duration::from_secs(60);
    let value = loop {
        assert!(Instant::now() < until, "Prometheus never had the counter");
        std::thread::sleep(Duration::from_millis(500));
        let Ok(mut s) = TcpStream::connect(&web) else {
            continue;
        };
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        if s.write_all(query.as_bytes()).is_err() {
            continue;
        }
        let mut got = String::new();
        let _ = s.read_to_string(&mut got);
        let Some((_, body)) = got.split_once("\r\n\r\n") else {
            continue;
        };
        // Chunked or not, the JSON object is the part between the outer braces.
        let (Some(a), Some(b)) = (body.find('{'), body.rfind('}')) else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&body[a..=b]) else {
            continue;
        };
        let n = v["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|s| s.parse::<f64>().ok());
        if let Some(n) = n.filter(|&n| n >= 200.0) {
            break n;
        }
    };
    drop(prom);
    let (status, records, _) = c.stop();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(status.code(), Some(0));
    assert!(
        value as u64 <= records,
        "Prometheus saw {value} activities, the command wrote {records} records"
    );
}

#[test]
fn the_alert_rules_pass_promtool_and_fire_as_written() {
    let Some(promtool) = tool(
        "promtool",
        "the_alert_rules_pass_promtool_and_fire_as_written",
    ) else {
        return;
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/prometheus");
    for args in [
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts_test.yml"],
    ] {
        let out = Command::new(&promtool)
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn json_logs_are_one_object_a_line_and_never_carry_a_credential() {
    let sim = Simulator::start(
        SimulatorConfig::default()
            .credentials("demo", PASSWORD)
            .rate(Rate::PerSecond(300.0))
            // The first connection opens with a system message and drops; the second answers
            // too late (a network error, backed off); the third streams.
            .fault(Which::Connection(1), Fault::BareNewlineSystemMessage)
            .fault(Which::Connection(1), Fault::DropAfter { bytes: 3000 })
            .fault(
                Which::Connection(2),
                Fault::DelayHead {
                    duration: Duration::from_secs(3),
                },
            ),
    )
    .unwrap();
    let mut c = cmd("demo", PASSWORD);
    c.args([
        "stream",
        "--url",
        &sim.stream_url(Product::PowerTrack, "acme", "prod"),
        "--connect-timeout",
        "0.5",
        "--log-format",
        "json",
        "--stats-interval",
        "0.3",
        "--max-records",
        "300",
    ]);
    let out = common::cli::run(c, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!err.contains(PASSWORD), "a credential in the logs:\n{err}");
    let mut events = Vec::new();
    for line in err.lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON object: {line:?}: {e}"));
        let ts = v["ts"].as_str().unwrap();
        assert!(
            ts.len() == 24 && ts.ends_with('Z') && &ts[10..11] == "T",
            "{ts}"
        );
        assert!(
            matches!(v["level"].as_str(), Some("info" | "warn" | "error")),
            "{line}"
        );
        assert!(
            v.get("partition").is_some() && v.get("connection").is_some(),
            "{line}"
        );
        events.push(v);
    }
    let named = |e: &'static str| events.iter().filter(move |v| v["event"] == e);
    for e in [
        "connecting",
        "connected",
        "system_message",
        "disconnected",
        "backing_off",
        "stats",
        "summary",
    ] {
        assert!(named(e).count() > 0, "no {e} event in\n{err}");
    }
    let dropped = named("disconnected").next().unwrap();
    assert_eq!(dropped["reason"], "dropped");
    assert_eq!(
        (
            dropped["partition"].as_u64(),
            dropped["connection"].as_u64()
        ),
        (Some(0), Some(1))
    );
    let late = named("disconnected").nth(1).unwrap();
    assert_eq!(late["reason"], "network-error");
    assert!(
        late["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{late}"
    );
    let backoff = named("backing_off").next().unwrap();
    assert_eq!(backoff["schedule"], "network");
    assert!(backoff["delay_seconds"].as_f64().unwrap() > 0.0);
    let message = named("system_message").next().unwrap();
    assert_eq!(message["service_level"], "info");
    assert!(message["text"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(named("stats").any(|v| v["records"].as_u64() == Some(300)));
    let summary = named("summary").next_back().unwrap();
    assert_eq!(
        (summary["records"].as_u64(), summary["exit_status"].as_u64()),
        (Some(300), Some(0))
    );
}

#[test]
fn a_slow_reader_is_warned_once_and_again_after_a_relapse() {
    let sim = Simulator::start(
        SimulatorConfig::default()
            .credentials("demo", PASSWORD)
            .rate(Rate::PerSecond(2000.0)),
    )
    .unwrap();
    let args: Vec<String> = [
        "stream",
        "--url",
        &sim.stream_url(Product::PowerTrack, "acme", "prod"),
        "--log-format",
        "json",
        "--slow-reader-period",
        "2",
        "--metrics-listen",
        "127.0.0.1:0",
    ]
    .map(str::to_owned)
    .to_vec();
    // Nobody reads stdout: the pipe fills and the handler blocks in its write.
    let c = spawn(&args, false);
    let addr = c.metrics_addr();
    let is = |l: &str, e: &str| l.contains(&format!("\"event\":\"{e}\""));
    let warn = c.wait_line(Duration::from_secs(20), |l| is(l, "slow_reader"));
    let v: serde_json::Value = serde_json::from_str(&warn).unwrap();
    assert_eq!(v["level"], "warn");
    assert!(v["handler_share"].as_f64().unwrap() > 0.5, "{warn}");
    assert!(v["over_seconds"].as_f64().unwrap() >= 2.0, "{warn}");
    assert!(sum(&scrape(&addr), "gnip_stream_slow_reader_warnings_total{") == 1.0);
    // Still slow two more periods later: no second warning.
    std::thread::sleep(Duration::from_secs(4));
    // Reading again: it recovers; then stops reading: warned again.
    c.reading.store(true, Ordering::SeqCst);
    c.wait_line(Duration::from_secs(10), |l| is(l, "slow_reader_recovered"));
    c.reading.store(false, Ordering::SeqCst);
    c.wait_line(Duration::from_secs(20), |l| is(l, "slow_reader"));
    assert!(sum(&scrape(&addr), "gnip_stream_slow_reader_warnings_total{") == 2.0);
    let (status, _, lines) = c.stop();
    assert_eq!(status.code(), Some(0));
    let warnings = lines.iter().filter(|l| is(l, "slow_reader")).count();
    assert_eq!(warnings, 2, "{lines:#?}");
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let Some(analyze) = tool(
        "systemd-analyze",
        "the_systemd_unit_passes_systemd_analyze_verify",
    ) else {
        return;
    };
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/systemd/gnip-stream.service"),
    )
    .unwrap();
    for want in [
        "EnvironmentFile=/etc/gnip-stream/credentials",
        "Restart=on-failure",
        "RestartPreventExitStatus=2 3 4",
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "--metrics-listen 127.0.0.1:9464",
        "--log-format json",
        "--archive /var/lib/gnip-stream/archive",
        "--on-close",
    ] {
        assert!(unit.contains(want), "the unit lacks {want}");
    }
    // verify checks that ExecStart's program exists: point it at the binary just built.
    let dir = scratch_dir("unit");
    let path = dir.join("gnip-stream.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/gnip-stream", common::cli::BIN),
    )
    .unwrap();
    let out = Command::new(analyze)
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_replay_job_serves_its_progress_while_it_runs() {
    // 2 records a minute over 3 hours in 60-minute windows; the first request stalls for 3 s
    // after 50 records, long enough to scrape the job mid-way.
    let sim = Simulator::start(
        SimulatorConfig::default()
            .credentials("demo", PASSWORD)
            .replay_records_per_minute(2)
            .fault(
                Which::Connection(1),
                Fault::Stall {
                    after_records: 50,
                    duration: Duration::from_secs(3),
                },
            ),
    )
    .unwrap();
    let now = gnip_stream::unversioned::clock::now_secs() / 60 * 60;
    let from = now - 4 * 3600;
    let date = gnip_stream::unversioned::protocol::time::replay_date;
    let mut args = vec!["replay".to_owned()];
    args.extend(named("powertrack", &sim.base_url()));
    for a in [
        "--from",
        &date(from),
        "--to",
        &date(from + 3 * 3600),
        "--window",
        "60",
        "--metrics-listen",
        "127.0.0.1:0",
    ] {
        args.push(a.to_owned());
    }
    let mut c = spawn(&args, true);
    let addr = c.metrics_addr();
    let until = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let t = scrape(&addr);
        if sum(&t, "gnip_stream_job_records_total{") >= 50.0 {
            break t;
        }
        assert!(
            Instant::now() < until,
            "the job never showed its records:\n{t}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let ratio = sum(
        &text,
        "gnip_stream_job_progress_ratio{product=\"powertrack\",job=\"replay\"}",
    );
    assert!(
        ratio > 0.0 && ratio < 1.0 / 3.0 + 1e-9,
        "mid first window: {ratio}"
    );
    assert_eq!(sum(&text, "gnip_stream_job_requests_total{"), 1.0);
    assert_eq!(
        sum(&text, "gnip_stream_job_range_end_timestamp_seconds{") as i64,
        from + 3 * 3600
    );
    // The partition's own counters are there too (activities and compliance events).
    assert!(
        sum(
            &text,
            "gnip_stream_records_total{product=\"powertrack\",partition=\"0\""
        ) >= 50.0
    );
    let status = exit_within(&mut c.child, Instant::now(), Duration::from_secs(30));
    assert_eq!(status.code(), Some(0));
    for r in c.readers.drain(..) {
        r.join().unwrap();
    }
    assert_eq!(c.records.load(Ordering::SeqCst), 360);
}

#[test]
fn a_metrics_address_that_cannot_be_served_exits_2_before_any_connection() {
    let sim = Simulator::start(SimulatorConfig::default().credentials("demo", PASSWORD)).unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut c = cmd("demo", PASSWORD);
    c.args(decahose(&sim, &["--metrics-listen", &addr]));
    let out = common::cli::run(c, Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--metrics-listen") && err.contains(&addr),
        "{err}"
    );
    assert!(
        sim.requests().is_empty(),
        "no connection before the endpoint is up"
    );
}

//! The Rules API: the library's `RulesClient` against the simulator's rules endpoint over
//! loopback, and the endpoint itself driven with raw HTTP — batching, retries, 401, 422, the
//! order of a sync's writes, one request at a time, the limits, and a PowerTrack stream
//! filtered by its rules with `matching_rules` added.

#[path = "common/net.rs"]
mod net;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gnip_stream::Product;
use gnip_stream::client::{Client, ClientConfig, Delivery, Flow, RulesClient, RulesConfig};
use gnip_stream::core::RecordKind;
use gnip_stream::simulator::{
    Fault, LoggedRequest, Rate, RecordSource, Simulator, SimulatorConfig, Which,
};
use gnip_stream::unversioned::protocol::rules::{Rule, RuleSet, RulesBackoff};
use serde_json::Value;

fn sim(config: SimulatorConfig) -> Simulator {
    Simulator::start(config.rate(Rate::PerSecond(0.0))).unwrap()
}

/// A client for `label`'s PowerTrack rules on `sim`, with short retry waits.
fn client(sim: &Simulator, label: &str) -> RulesClient {
    RulesClient::new(
        RulesConfig::new(RuleSet::PowerTrack, "acme", label)
            .host(&sim.base_url())
            .credentials("demo", "demo")
            .backoff(
                RulesBackoff::default()
                    .rate_limited_base(Duration::from_millis(300))
                    .trouble_base(Duration::from_millis(200)),
            ),
    )
    .unwrap()
}

fn rules_requests(sim: &Simulator) -> Vec<LoggedRequest> {
    sim.requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/rules/"))
        .collect()
}

/// One raw HTTP request: `(status, headers, body)`.
fn raw(
    sim: &Simulator,
    method: &str,
    target: &str,
    body: &[u8],
    auth: bool,
) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(sim.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if auth {
        head.push_str("Authorization: Basic ZGVtbzpkZW1v\r\n"); // demo:demo
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    let _ = s.write_all(body);
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let at = resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&resp[..at]).into_owned();
    let status = head[9..12].parse().unwrap();
    (status, head, resp[at + 4..].to_vec())
}

const PATH: &str = "/rules/powertrack/accounts/acme/publishers/twitter/raw.json";

#[test]
fn add_list_delete_round_trip_with_exact_ids_and_tricky_values() {
    let sim = sim(SimulatorConfig::default());
    let c = client(&sim, "prod");
    let tricky = [
        "\"exact phrase\" with \\backslash\\",
        "emoji 🤖 OR 🐟",
        "Ünïcödé Кириллица 中文",
        "tab\tand\u{1}control",
        "cat",
        "Cat", // case-sensitive: a different rule
    ];
    let wanted: Vec<Rule> = tricky
        .iter()
        .enumerate()
        .map(|(i, v)| Rule::new(v, (i % 2 == 0).then_some("t\"ag")))
        .collect();
    let added = c.add(&wanted).unwrap();
    assert_eq!(added.created.len(), tricky.len());
    assert!(added.rejected.is_empty());
    let list = c.list().unwrap();
    assert_eq!(
        list.iter().map(|r| (&r.value, &r.tag)).collect::<Vec<_>>(),
        wanted
            .iter()
            .map(|r| (&r.value, &r.tag))
            .collect::<Vec<_>>(),
        "values and tags round-trip byte-exact, in order"
    );
    for r in &list {
        assert!(r.id.unwrap() > 1 << 53, "ids above 2^53, exact");
    }
    assert_eq!(list, sim.rules(RuleSet::PowerTrack, "acme", "prod"));
    // Idempotent: the same add again creates nothing and fails nothing.
    let again = c.add(&wanted).unwrap();
    assert_eq!(
        (again.created.len(), again.already_present.len()),
        (0, tricky.len())
    );
    let d = c.delete_values(&["cat".into(), "missing".into()]).unwrap();
    assert_eq!((d.deleted, d.absent), (1, 1));
    let d = c.delete_ids(&[list[0].id.unwrap(), 42]).unwrap();
    assert_eq!((d.deleted, d.absent), (1, 1));
    assert_eq!(c.list().unwrap().len(), tricky.len() - 2);
    // Every request was a JSON POST or a GET, with credentials and gzip accepted.
    for r in rules_requests(&sim) {
        assert!(r.method == "GET" || r.header("content-type") == Some("application/json"));
        assert_eq!(r.header("accept-encoding"), Some("gzip"));
        assert_eq!(r.header("authorization"), Some("Basic demo:<redacted>"));
    }
}

#[test]
fn plain_responses_are_read_as_well_as_gzip_ones() {
    let sim = sim(SimulatorConfig::default().compress_rules_responses(false));
    let c = client(&sim, "plain");
    c.add(&[Rule::new("plain", None)]).unwrap();
    assert_eq!(c.list().unwrap()[0].value, "plain");
}

#[test]
fn seven_thousand_rules_of_a_kilobyte_go_in_batches_one_at_a_time() {
    let sim = sim(SimulatorConfig::default());
    let c = client(&sim, "big");
    let filler = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do ".repeat(20);
    let wanted: Vec<Rule> = (0..7000)
        .map(|i| Rule::new(&format!("rule{i} {}", &filler[..1000]), Some("bulk")))
        .collect();
    let t = Instant::now();
    let added = c.add(&wanted).unwrap();
    let took = t.elapsed();
    assert_eq!(added.created.len(), 7000);
    let log = rules_requests(&sim);
    let posts: Vec<&LoggedRequest> = log.iter().filter(|r| r.method == "POST").collect();
    assert!(posts.len() >= 2, "several batches: {}", posts.len());
    for p in &posts {
        assert!(p.body_bytes <= 5_000_000, "{} bytes", p.body_bytes);
        assert_eq!(p.status, 201);
    }
    for w in posts.windows(2) {
        assert!(
            w[0].done <= w[1].at,
            "requests overlapped: {:?} {:?}",
            w[0],
            w[1]
        );
    }
    let list = c.list().unwrap();
    assert_eq!(list.len(), 7000);
    assert!(list.iter().zip(&wanted).all(|(a, b)| a.value == b.value));
    eprintln!(
        "FIGURE 7,000-rule add of ~1 KB values: {} requests ({} POSTs, bodies up to {} bytes) in {:.2} s",
        c.requests() - 1,
        posts.len(),
        posts.iter().map(|p| p.body_bytes).max().unwrap_or(0),
        took.as_secs_f64()
    );
}

#[test]
fn a_422_names_each_bad_rule_and_adds_none_of_the_batch() {
    let sim = sim(SimulatorConfig::default());
    let c = client(&sim, "bad");
    let added = c
        .add(&[
            Rule::new("fine", None),
            Rule::new("-follow", None),
            Rule::new("(unbalanced", Some("t")),
            Rule::new("colour:red", None),
        ])
        .unwrap();
    let bad: Vec<(&str, &str)> = added
        .rejected
        .iter()
        .map(|(r, m)| (r.value.as_str(), m.as_str()))
        .collect();
    assert_eq!(bad.len(), 3);
    assert!(bad[0].0 == "-follow" && bad[0].1.contains("non-negation"));
    assert!(bad[1].0 == "(unbalanced" && bad[1].1.contains("parenthesis"));
    assert!(bad[2].0 == "colour:red" && bad[2].1.contains("operator"));
    assert_eq!(
        added.not_sent_or_not_added, 1,
        "the valid one was not added either"
    );
    assert!(added.created.is_empty());
    assert!(c.list().unwrap().is_empty(), "all or nothing");
    assert_eq!(rules_requests(&sim)[0].status, 422);
}

#[test]
fn validate_reports_each_rule() {
    let sim = sim(SimulatorConfig::default());
    let c = client(&sim, "val");
    let v = c
        .validate(&[
            Rule::new("from:jack", None),
            Rule::new("a".repeat(2049).as_str(), None),
            Rule::new("ok", Some(&"t".repeat(256))),
        ])
        .unwrap();
    assert_eq!(v.valid.len(), 1);
    assert_eq!(v.invalid.len(), 2);
    assert!(v.invalid[0].1.contains("2048"));
    assert!(v.invalid[1].1.contains("255"));
    assert!(c.list().unwrap().is_empty(), "validation adds nothing");
    assert!(
        rules_requests(&sim)[0]
            .path
            .ends_with("/val/validation.json")
    );
}

#[test]
fn a_401_is_one_request_and_an_error() {
    let sim = sim(SimulatorConfig::default().credentials("demo", "right"));
    let c = client(&sim, "auth");
    let e = c.list().unwrap_err();
    assert!(
        matches!(e, gnip_stream::Error::Http { status: 401, .. }),
        "{e}"
    );
    assert_eq!(rules_requests(&sim).len(), 1);
}

#[test]
fn a_503_once_is_retried_with_the_same_batch() {
    let sim = sim(SimulatorConfig::default().fault(
        Which::Connection(1),
        Fault::Status {
            status: 503,
            message: "Service Unavailable".into(),
        },
    ));
    let c = client(&sim, "flaky");
    let added = c
        .add(&[Rule::new("x", None), Rule::new("y", None)])
        .unwrap();
    assert_eq!(added.created.len(), 2);
    let log = rules_requests(&sim);
    assert_eq!(
        log.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![503, 201]
    );
    assert_eq!(log[0].body_bytes, log[1].body_bytes, "the same batch again");
    assert!(log[1].at - log[0].at >= Duration::from_millis(180));
}

#[test]
fn a_429_without_retry_after_backs_off_on_the_schedule() {
    let sim = sim(SimulatorConfig::default().fault(
        Which::Connection(1),
        Fault::Status {
            status: 429,
            message: "Exceeded rate limit".into(),
        },
    ));
    let c = client(&sim, "slow");
    c.list().unwrap();
    let log = rules_requests(&sim);
    assert_eq!(
        log.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![429, 200]
    );
    assert!(
        log[1].at - log[0].at >= Duration::from_millis(280),
        "{:?}",
        log[1].at - log[0].at
    );
}

#[test]
fn sixty_requests_a_minute_then_429_with_retry_after_which_the_client_honours() {
    let sim = sim(SimulatorConfig::default().rate_limit_window(Duration::from_secs(4)));
    // Another program uses the whole budget with raw requests.
    let burst = Instant::now();
    let statuses: Vec<u16> = (0..61)
        .map(|_| raw(&sim, "GET", PATH, b"", true).0)
        .collect();
    assert!(statuses[..60].iter().all(|&s| s == 200), "{statuses:?}");
    assert_eq!(statuses[60], 429);
    let (_, head, body) = raw(&sim, "GET", PATH, b"", true);
    let retry_after: u64 = head
        .lines()
        .find_map(|l| l.strip_prefix("Retry-After: "))
        .expect("Retry-After")
        .trim()
        .parse()
        .unwrap();
    assert!((1..=4).contains(&retry_after), "{retry_after}");
    assert!(String::from_utf8_lossy(&body).contains("Exceeded rate limit"));
    // The client gets a 429 too (the window has not passed), waits Retry-After, and gets its
    // answer; not sooner than the header said.
    let c = RulesClient::new(
        RulesConfig::new(RuleSet::PowerTrack, "acme", "raw")
            .host(&sim.base_url())
            .credentials("demo", "demo"),
    )
    .unwrap();
    assert!(c.list().unwrap().is_empty());
    let log = rules_requests(&sim);
    let mine: Vec<&LoggedRequest> = log.iter().skip(62).collect();
    assert!(burst.elapsed() < Duration::from_secs(10));
    assert_eq!(
        mine.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![429, 200],
        "the window had not passed when the client asked"
    );
    // Retry-After is at least 1 s: the client waited it out rather than its own 60 s schedule.
    let waited = mine[1].at - mine[0].at;
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
}

#[test]
fn the_endpoint_refuses_bad_json_oversized_bodies_and_concurrent_requests() {
    let sim = sim(SimulatorConfig::default().rules_latency(Duration::from_millis(600)));
    let (status, _, body) = raw(&sim, "POST", PATH, b"{not json", true);
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("Invalid JSON"));
    // Content-Length over 5,000,000: refused before the body is read.
    let mut s = TcpStream::connect(sim.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST {PATH} HTTP/1.1\r\nAuthorization: Basic ZGVtbzpkZW1v\r\nContent-Length: 5000001\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
    // Two writes at once: one waits its turn in the service, the other is refused.
    let sim = Arc::new(sim);
    let results = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..2)
        .map(|i| {
            let (sim, results) = (Arc::clone(&sim), Arc::clone(&results));
            std::thread::spawn(move || {
                let body = format!(r#"{{"rules":[{{"value":"concurrent{i}"}}]}}"#);
                let (status, _, _) = raw(&sim, "POST", PATH, body.as_bytes(), true);
                results.lock().unwrap().push(status);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut got = results.lock().unwrap().clone();
    got.sort_unstable();
    assert_eq!(got, vec![201, 409]);
    // Unknown paths and methods.
    assert_eq!(
        raw(
            &sim,
            "GET",
            "/rules/firehose/accounts/a/publishers/twitter/l.json",
            b"",
            true
        )
        .0,
        404
    );
    assert_eq!(raw(&sim, "DELETE", PATH, b"", true).0, 405);
    assert_eq!(raw(&sim, "GET", PATH, b"", false).0, 401);
}

#[test]
fn several_ids_by_method_get_and_one_rule_by_its_own_url() {
    let sim = sim(SimulatorConfig::default());
    let c = client(&sim, "raw");
    let added = c
        .add(&[
            Rule::new("a", None),
            Rule::new("b", None),
            Rule::new("c", None),
        ])
        .unwrap();
    let ids: Vec<u64> = added.created.iter().map(|r| r.id.unwrap()).collect();
    let body = format!(r#"{{"rule_ids":[{},{}]}}"#, ids[0], ids[2]);
    let (status, _, resp) = raw(
        &sim,
        "POST",
        &format!("{PATH}?_method=get"),
        body.as_bytes(),
        true,
    );
    assert_eq!(status, 200);
    let v: Value = serde_json::from_slice(&resp).unwrap();
    let values: Vec<&str> = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, vec!["a", "c"]);
    assert_eq!(v["rules"][1]["id"].as_u64(), Some(ids[2]), "exact id");
    let one = format!(
        "/rules/powertrack/accounts/acme/publishers/twitter/raw/rules/{}.json",
        ids[1]
    );
    let (status, _, resp) = raw(&sim, "GET", &one, b"", true);
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&resp).contains("\"b\""));
}

#[test]
fn sync_adds_before_it_deletes_and_a_second_sync_writes_nothing() {
    let sim = sim(SimulatorConfig::default());
    let c = client(&sim, "sync");
    c.add(&[
        Rule::new("keep", Some("t")),
        Rule::new("retag", Some("old")),
        Rule::new("gone", None),
    ])
    .unwrap();
    let before = rules_requests(&sim).len();
    let wanted = vec![
        Rule::new("keep", Some("t")),
        Rule::new("retag", Some("new")),
        Rule::new("new", None),
    ];
    let plan = c.plan_sync(&wanted).unwrap();
    assert_eq!(plan.lines(), vec!["+ new", "~ retag", "- gone"]);
    c.apply(&plan).unwrap();
    let log = rules_requests(&sim);
    let writes: Vec<(String, String)> = log[before..]
        .iter()
        .map(|r| (r.method.clone(), r.query.clone()))
        .collect();
    assert_eq!(
        writes,
        vec![
            ("GET".into(), String::new()),            // the plan reads the list
            ("POST".into(), String::new()),           // + new, first
            ("POST".into(), "_method=delete".into()), // ~ retag: the old one goes
            ("POST".into(), String::new()),           // ~ retag: the new one comes
            ("POST".into(), "_method=delete".into()), // - gone, last
        ]
    );
    let mut now: Vec<(String, Option<String>)> = c
        .list()
        .unwrap()
        .into_iter()
        .map(|r| (r.value, r.tag))
        .collect();
    let mut want: Vec<(String, Option<String>)> =
        wanted.into_iter().map(|r| (r.value, r.tag)).collect();
    now.sort();
    want.sort();
    assert_eq!(now, want);
    // Nothing to do: one GET, no write.
    let before = rules_requests(&sim).len();
    let plan = c.plan_sync(&c.list().unwrap()).unwrap();
    assert!(plan.is_empty());
    c.apply(&plan).unwrap();
    assert!(
        rules_requests(&sim)[before..]
            .iter()
            .all(|r| r.method == "GET")
    );
}

/// The word "firehose" appears in some generated records' text and not in others.
fn text_of(record: &[u8]) -> String {
    let v: Value = serde_json::from_slice(record).unwrap();
    v.get("text")
        .or_else(|| v.get("body"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_lowercase()
}

#[test]
fn a_powertrack_stream_delivers_only_matching_records_with_their_matching_rules() {
    let sim = Simulator::start(
        SimulatorConfig::default()
            .source(RecordSource::generated(7, 200))
            .rate(Rate::PerSecond(400.0)),
    )
    .unwrap();
    let c = client(&sim, "prod");
    let added = c.add(&[Rule::new("firehose", Some("fh"))]).unwrap();
    let id = added.created[0].id.unwrap();
    let got = Arc::new(Mutex::new(Vec::new()));
    let g2 = Arc::clone(&got);
    let running = Client::start(
        ClientConfig::stream(Product::PowerTrack, "acme", "prod")
            .host(&sim.base_url())
            .credentials("demo", "demo"),
        move |d: &Delivery<'_>| {
            if matches!(
                d.record().kind(),
                RecordKind::Activity | RecordKind::Compliance(_)
            ) {
                g2.lock().unwrap().push(d.record().bytes().to_vec());
            }
            Flow::Continue
        },
    )
    .unwrap();
    let t = Instant::now();
    while got.lock().unwrap().len() < 30 {
        assert!(t.elapsed() < Duration::from_secs(15), "no matching records");
        std::thread::sleep(Duration::from_millis(20));
    }
    running.stop_handle().stop();
    // Joined under a watchdog: a client that does not end fails the test instead of hanging.
    let (tx, rx) = std::sync::mpsc::channel();
    let joiner = std::thread::spawn(move || tx.send(running.join()).is_ok());
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the client ended within 10 s of the stop");
    joiner.join().unwrap();
    let got = got.lock().unwrap().clone();
    let mut gs = Vec::new();
    for r in &got {
        assert!(
            text_of(r).contains("firehose"),
            "{}",
            String::from_utf8_lossy(r)
        );
        let v: Value = serde_json::from_slice(r).unwrap();
        let m = v
            .get("matching_rules")
            .or_else(|| v.pointer("/gnip/matching_rules"))
            .expect("matching_rules");
        assert_eq!(m[0]["tag"], "fh");
        assert_eq!(m[0]["id"].as_u64(), Some(id));
        assert_eq!(m[0]["id_str"], id.to_string());
        let rid = gnip_stream::core::record_id(r)
            .unwrap()
            .parse::<u64>()
            .unwrap();
        gs.push(rid - gnip_stream::simulator::record_id_for(0));
    }
    // Between the first and last delivered, every matching record came and no other.
    let (first, last) = (gs[0], *gs.last().unwrap());
    let expected: Vec<u64> = (first..=last)
        .filter(|&g| text_of(&sim.record(g)).contains("firehose"))
        .collect();
    assert_eq!(gs, expected);
    assert!(
        expected.len() < (last - first + 1) as usize,
        "some records did not match"
    );
}

/// A one-shot HTTP server on loopback answering any request with `head` and `body`.
fn one_answer(head: String, body: Vec<u8>) -> (String, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        let _ = s.write_all(head.as_bytes());
        let _ = s.write_all(&body);
    });
    (format!("http://{addr}"), server)
}

#[test]
fn a_gzip_bomb_rules_answer_is_a_clear_error_at_the_size_bound() {
    // 128 MiB of zeros in about 128 KB of gzip.
    let mut enc = gnip_stream::core::GzipEncoder::new(6);
    let (mut bomb, zeros) = (Vec::new(), vec![0u8; 1 << 20]);
    for _ in 0..128 {
        enc.write(&zeros, &mut bomb);
    }
    enc.finish(&mut bomb);
    assert!(bomb.len() < 4 << 20, "{}", bomb.len());
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        bomb.len()
    );
    let (base, server) = one_answer(head, bomb);
    let config = RulesConfig::new(RuleSet::PowerTrack, "acme", "prod")
        .host(&base)
        .credentials("demo", "demo");
    // Not tried again (the one-shot server would refuse a second connection).
    let err = RulesClient::new(config).unwrap().list().unwrap_err();
    assert!(
        err.to_string()
            .contains("inflates to more than 50331648 bytes"),
        "{err}"
    );
    server.join().unwrap();
}

#[test]
fn a_stop_ends_a_call_whose_connect_goes_unanswered() {
    let test = "a_stop_ends_a_call_whose_connect_goes_unanswered";
    let Some((dead, _fill)) = net::unanswering_listener(test) else {
        return;
    };
    let config = RulesConfig::new(RuleSet::PowerTrack, "acme", "prod")
        .host(&format!("http://{}", dead.local_addr().unwrap()))
        .credentials("demo", "demo")
        .connect_timeout(Duration::from_secs(30));
    let c = Arc::new(RulesClient::new(config).unwrap());
    let stop = c.stop_handle();
    let caller = {
        let c = Arc::clone(&c);
        std::thread::spawn(move || c.list())
    };
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    stop.stop();
    let err = caller.join().unwrap().unwrap_err();
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "the stop waited for the connect: {:?}",
        t.elapsed()
    );
    assert!(
        matches!(
            err,
            gnip_stream::Error::Io {
                kind: std::io::ErrorKind::Interrupted,
                ..
            }
        ),
        "{err:?}"
    );
}

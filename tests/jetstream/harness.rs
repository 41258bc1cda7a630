//! The shared harness: a cluster or a skip, one cluster test at a time, `gnip-stream`
//! processes as hosts (stderr events collected with their time), and the checks on what a
//! stream holds (per partition: contiguous ids, none twice).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use gnip_stream::core::Record;
use gnip_stream::simulator::record_index;
use gnip_stream::testing::nats_cluster::NatsCluster;
use gnip_stream::unversioned::nats::api::StoredMsg;
use gnip_stream::unversioned::nats::encode::Auth;
use gnip_stream::unversioned::protocol::dedupe::RecordKey;

use crate::cli;

/// One cluster test at a time (two cores; each starts three servers and a simulator).
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// `n` nodes, or `None` after printing why the calling test skips.
pub fn cluster_or_skip(test: &str, n: usize, extra: &str, auth: Auth) -> Option<NatsCluster> {
    cluster_with_ca(test, n, extra, auth, None)
}

/// Like [`cluster_or_skip`], trusting `ca_file` for `tls`.
pub fn cluster_with_ca(
    test: &str,
    n: usize,
    extra: &str,
    auth: Auth,
    ca_file: Option<std::path::PathBuf>,
) -> Option<NatsCluster> {
    match NatsCluster::start(n, extra, auth, ca_file) {
        Ok(c) => Some(c),
        Err(why) if why.contains("no nats-server") || why.contains("GNIP_NATS_SERVER") => {
            eprintln!("SKIP {test}: {why}");
            None
        }
        Err(why) => panic!("{test}: the cluster did not start: {why}"),
    }
}

/// `gnip-stream jetstream-init` (must succeed): stream GNIP on `gnip.>`, optionally a lease
/// bucket.
pub fn init(cluster: &NatsCluster, replicas: u32, lease: Option<(&str, u32)>) {
    init_stream(cluster, "GNIP", "gnip.>", replicas, lease)
}

/// `gnip-stream jetstream-init` (must succeed) of any stream.
pub fn init_stream(
    cluster: &NatsCluster,
    stream: &str,
    subjects: &str,
    replicas: u32,
    lease: Option<(&str, u32)>,
) {
    let mut c = cli::bin();
    c.args([
        "jetstream-init",
        "--jetstream",
        &cluster.urls_from(0),
        "--stream",
        stream,
        "--subjects",
        subjects,
        "--replicas",
        &replicas.to_string(),
    ]);
    if let Some((bucket, ttl)) = lease {
        c.args(["--lease-bucket", bucket, "--lease-ttl", &ttl.to_string()]);
    }
    let out = cli::run(c, Duration::from_secs(30));
    assert_eq!(
        out.status.code(),
        Some(0),
        "jetstream-init: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `gnip-stream publish --jetstream URLS --subject S --file F` and `more`, with `env` for the
/// NATS credentials, under a deadline.
pub fn publish(
    urls: &str,
    subject: &str,
    file: &std::path::Path,
    more: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    let mut c = cli::bin();
    c.env_remove("NATS_USER")
        .env_remove("NATS_PASSWORD")
        .env_remove("NATS_TOKEN")
        .envs(env.iter().copied())
        .args([
            "publish",
            "--jetstream",
            urls,
            "--subject",
            subject,
            "--file",
        ])
        .arg(file)
        .args(more);
    cli::run(c, Duration::from_secs(30))
}

/// A fresh directory for one test's files.
pub fn scratch(name: &str) -> std::path::PathBuf {
    gnip_stream::testing::scratch_dir(&format!("js-{name}"))
}

/// A `gnip-stream` process: stderr lines kept with the time they came.
pub struct Host {
    pub child: Child,
    lines: Arc<Mutex<Vec<(Instant, String)>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Host {
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Host {
        let mut c = cli::bin();
        c.args(args)
            .env("GNIP_USERNAME", "demo")
            .env("GNIP_PASSWORD", "demo")
            .env_remove("NATS_USER")
            .env_remove("NATS_PASSWORD")
            .env_remove("NATS_TOKEN")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let lines: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
        let l = Arc::clone(&lines);
        let err = child.stderr.take().unwrap();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                l.lock().unwrap().push((Instant::now(), line));
            }
        });
        Host {
            child,
            lines,
            reader: Some(reader),
        }
    }

    pub fn lines(&self) -> Vec<(Instant, String)> {
        self.lines.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.lines()
            .into_iter()
            .map(|(_, l)| l)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Waits until `n` stderr lines contain `text`; the time of the `n`th.
    pub fn wait_for(&mut self, text: &str, n: usize, limit: Duration) -> Instant {
        let t = Instant::now();
        loop {
            let hits: Vec<Instant> = self
                .lines()
                .into_iter()
                .filter(|(_, l)| l.contains(text))
                .map(|(at, _)| at)
                .collect();
            if hits.len() >= n {
                return hits[n - 1];
            }
            assert!(
                t.elapsed() < limit,
                "no {n} × '{text}' within {limit:?}; stderr:\n{}",
                self.stderr()
            );
            if let Ok(Some(s)) = self.child.try_wait() {
                panic!(
                    "exited ({s}) before {n} × '{text}'; stderr:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn count(&self, text: &str) -> usize {
        self.lines()
            .iter()
            .filter(|(_, l)| l.contains(text))
            .count()
    }

    /// SIGKILL (through the unreaped `Child`) and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.join_reader();
    }

    /// SIGTERM, and exit status 0 within a minute (the drain included).
    pub fn term_ok(&mut self) {
        let status = self.term(Duration::from_secs(60));
        assert_eq!(status.code(), Some(0), "{}", self.stderr());
    }

    /// SIGTERM, then the exit status within `limit`.
    pub fn term(&mut self, limit: Duration) -> ExitStatus {
        cli::signal(&self.child, "-TERM");
        let s = cli::exit_within(&mut self.child, Instant::now(), limit);
        self.join_reader();
        s
    }

    fn join_reader(&mut self) {
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if self.reader.is_some() {
            self.kill();
        }
    }
}

/// Per partition (`g % partitions + 1`): (first, last, count); asserts that each partition's
/// records are contiguous (missing 0), stored once (duplicates 0), and that every message id
/// is the record's own.
pub fn check_exactly_once(msgs: &[StoredMsg], partitions: u64) -> BTreeMap<u64, (u64, u64, usize)> {
    let mut by: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    let mut ids = std::collections::HashSet::new();
    for m in msgs {
        let g = record_index(&m.data).unwrap();
        let id = m.msg_id.clone().unwrap_or_default();
        let own = RecordKey::of(&Record::new(&m.data))
            .expect("a record")
            .message_id();
        assert_eq!(id, own, "message id of record {g}");
        assert!(ids.insert(id), "record {g} stored twice");
        assert_eq!(
            m.subject,
            format!("gnip.sample10.{}", g % partitions + 1),
            "subject of record {g}"
        );
        by.entry(g % partitions + 1).or_default().push(g);
    }
    let mut out = BTreeMap::new();
    for (p, mut gs) in by {
        gs.sort_unstable();
        let missing: Vec<u64> = gs
            .windows(2)
            .filter(|w| w[1] != w[0] + partitions)
            .map(|w| w[0] + partitions)
            .take(5)
            .collect();
        assert!(
            missing.is_empty(),
            "partition {p}: records missing after {missing:?} ({} stored, {}..={})",
            gs.len(),
            gs[0],
            gs[gs.len() - 1]
        );
        out.insert(p, (gs[0], gs[gs.len() - 1], gs.len()));
    }
    out
}

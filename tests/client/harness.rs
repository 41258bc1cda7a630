//! The shared harness: a recording handler and observer, the fast backoff, and the checks
//! that records are the simulator's own, byte-exact, and none twice.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gnip_stream::Product;
use gnip_stream::client::{
    Client, ClientConfig, ClientEvent, Delivery, Flow, PartitionReport, Running,
};
use gnip_stream::simulator::Simulator;
pub use gnip_stream::simulator::record_index;
use gnip_stream::unversioned::protocol::policy::BackoffConfig;

pub const WAIT: Duration = Duration::from_secs(10);

#[derive(Default)]
pub struct Seen {
    pub records: Mutex<Vec<(u32, Vec<u8>)>>,
    pub events: Mutex<Vec<(u32, Instant, ClientEvent)>>,
}

impl Seen {
    pub fn records(&self) -> Vec<(u32, Vec<u8>)> {
        self.records.lock().unwrap().clone()
    }
    pub fn data(&self) -> Vec<Vec<u8>> {
        self.records()
            .into_iter()
            .map(|(_, r)| r)
            .filter(|r| !r.starts_with(b"{\"info\"") && !r.starts_with(b"{\"error\""))
            .collect()
    }
    pub fn events(&self) -> Vec<(u32, Instant, ClientEvent)> {
        self.events.lock().unwrap().clone()
    }
    pub fn count(&self, f: impl Fn(&ClientEvent) -> bool) -> usize {
        self.events().iter().filter(|(_, _, e)| f(e)).count()
    }
    pub fn wait(&self, what: &str, f: impl Fn(&Seen) -> bool) {
        let t = Instant::now();
        while !f(self) {
            assert!(t.elapsed() < WAIT, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

pub fn fast_backoff() -> BackoffConfig {
    BackoffConfig::default()
        .network_step(Duration::from_millis(50))
        .http_base(Duration::from_millis(100))
        .rate_limited_base(Duration::from_millis(200))
        .healthy_after(Duration::from_secs(2))
}

pub fn config(sim: &Simulator, product: Product) -> ClientConfig {
    ClientConfig::stream(product, "acme", "prod")
        .host(&sim.base_url())
        .credentials("demo", "demo")
        .backoff(fast_backoff())
}

pub fn start(config: ClientConfig) -> (Running, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let (s1, s2) = (Arc::clone(&seen), Arc::clone(&seen));
    let running = Client::start_observed(
        config,
        move |d: &Delivery<'_>| {
            s1.records
                .lock()
                .unwrap()
                .push((d.partition(), d.record().bytes().to_vec()));
            Flow::Continue
        },
        Some(Arc::new(move |p: u32, _c: u8, e: &ClientEvent| {
            s2.events
                .lock()
                .unwrap()
                .push((p, Instant::now(), e.clone()))
        })),
    )
    .unwrap();
    (running, seen)
}

/// Every record is the simulator's own, byte for byte, and none comes twice.
pub fn assert_exact_once(sim: &Simulator, recs: &[Vec<u8>]) {
    let mut gs: Vec<u64> = recs.iter().map(|r| record_index(r).unwrap()).collect();
    for (r, &g) in recs.iter().zip(&gs) {
        assert_eq!(*r, sim.record(g), "record {g} byte-exact");
    }
    let n = gs.len();
    gs.sort_unstable();
    gs.dedup();
    assert_eq!(gs.len(), n, "no duplicates");
}

pub fn statuses(sim: &Simulator) -> Vec<u16> {
    sim.requests().iter().map(|r| r.status).collect()
}

/// How long any client in these tests may take to end once it should.
pub const JOIN_LIMIT: Duration = Duration::from_secs(30);

/// [`Running::join`] under a watchdog: a client that does not end fails the test instead of
/// hanging it (after being asked to stop, so its threads still end).
pub fn join(running: Running) -> Vec<PartitionReport> {
    let stop = running.stop_handle();
    let (tx, rx) = std::sync::mpsc::channel();
    let joiner = std::thread::spawn(move || {
        let _ = tx.send(running.join());
    });
    match rx.recv_timeout(JOIN_LIMIT) {
        Ok(reports) => {
            joiner.join().unwrap();
            reports
        }
        Err(_) => {
            stop.stop();
            let ended = rx.recv_timeout(Duration::from_secs(5)).is_ok();
            panic!("the client did not end within {JOIN_LIMIT:?} (ended after a stop: {ended})");
        }
    }
}

/// Stops the client and [`join`]s it under the watchdog.
pub fn stop_and_join(running: Running) -> Vec<PartitionReport> {
    running.stop_handle().stop();
    join(running)
}

//! Starting a client and what it gives back: [`Client::start`] spawns a thread per connection
//! (1 to 4 per partition), [`Running`] watches and joins them, and each partition's
//! [`PartitionReport`] says how it ended.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::config::ClientConfig;
use super::connection::{Connection, ConnectionReport};
use super::handler::{Events, Handler, Observer, StopHandle};
use super::stats::{PartitionStats, StatsHandle, StatsSnapshot};
use crate::Error;
use crate::protocol::dedupe::DedupeWindow;
use crate::protocol::policy::Ending;
use crate::protocol::replay::ReplaySummary;

/// What one partition did, from [`Running::join`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PartitionReport {
    /// The partition (0 when none).
    pub partition: u32,
    /// Why it ended: [`Ending::Stopped`] when asked to, [`Ending::ReplayCompleted`],
    /// [`Ending::Panicked`] when its thread panicked (in the handler, most likely), or the
    /// ending that the policy table says to stop on.
    pub ending: Ending,
    /// The last error seen, if any (the reason for a stop on a fatal ending; the panic's
    /// message for [`Ending::Panicked`]).
    pub error: Option<Error>,
    /// Its counters at the end.
    pub stats: StatsSnapshot,
    /// For Replay: how the job finished.
    pub replay: Option<ReplaySummary>,
    /// How each of the partition's connections ended, in connection order.
    pub connection_endings: Vec<Ending>,
}

/// A partition's running connections.
struct PartitionThreads {
    stats: Arc<PartitionStats>,
    connections: Vec<JoinHandle<ConnectionReport>>,
}

/// How many connection threads have ended, and the wake-up of [`Running::wait_finished`].
#[derive(Default)]
struct Ended {
    count: Mutex<usize>,
    changed: Condvar,
}

/// Counts its thread as ended when dropped: at the end of the thread's work, also by a panic.
struct EndGuard(Arc<Ended>);

impl Drop for EndGuard {
    fn drop(&mut self) {
        let mut n = self.0.count.lock().unwrap_or_else(|e| e.into_inner());
        *n += 1;
        self.0.changed.notify_all();
    }
}

/// A started client.
pub struct Running {
    stop: StopHandle,
    partitions: Vec<PartitionThreads>,
    ended: Arc<Ended>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("partitions", &self.partitions.len())
            .finish_non_exhaustive()
    }
}

/// The text of a panic's payload (what `panic!` was given, when it was a string).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

impl Running {
    /// A handle that stops every partition.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Whether every partition has ended (by itself, or after a stop).
    pub fn is_finished(&self) -> bool {
        self.ended().iter().all(|&e| e)
    }

    /// Waits up to `timeout` for every connection's work to end; `true` when it has (the
    /// threads are then ending: [`Running::is_finished`] follows within microseconds). Wakes
    /// as soon as the last one ends, so a supervisor needs no polling loop to see the end.
    pub fn wait_finished(&self, timeout: Duration) -> bool {
        let total: usize = self.partitions.iter().map(|p| p.connections.len()).sum();
        let deadline = Instant::now().checked_add(timeout);
        let mut n = self.ended.count.lock().unwrap_or_else(|e| e.into_inner());
        while *n < total {
            let left = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(3600),
            };
            if left.is_zero() {
                return false;
            }
            n = self
                .ended
                .changed
                .wait_timeout(n, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// Which partitions have ended (every connection of it, by itself, a stop, or a panic), in
    /// the order of [`Running::stats`]: a supervisor can see one die while the others stream on.
    pub fn ended(&self) -> Vec<bool> {
        self.partitions
            .iter()
            .map(|p| p.connections.iter().all(|t| t.is_finished()))
            .collect()
    }

    /// Every partition's counters now.
    pub fn stats(&self) -> Vec<StatsSnapshot> {
        self.partitions.iter().map(|p| p.stats.snapshot()).collect()
    }

    /// The partitions' live counters, for another thread (a metrics server) to read while
    /// the client runs.
    pub fn stats_handle(&self) -> StatsHandle {
        StatsHandle(
            self.partitions
                .iter()
                .map(|p| Arc::clone(&p.stats))
                .collect(),
        )
    }

    /// Waits for every partition to end and returns what each did. A partition's ending is the
    /// first of its connections' endings (in connection order) that is not a stop; `Stopped`
    /// when every connection was stopped.
    pub fn join(self) -> Vec<PartitionReport> {
        self.partitions
            .into_iter()
            .map(|p| {
                let reports: Vec<ConnectionReport> = p
                    .connections
                    .into_iter()
                    .enumerate()
                    .map(|(i, t)| {
                        t.join().unwrap_or_else(|payload| {
                            let c = p.stats.conn(i as u8 + 1);
                            c.connected.store(false, Ordering::Relaxed);
                            PartitionStats::add(&c.disconnects[Ending::Panicked.index()], 1);
                            ConnectionReport {
                                ending: Ending::Panicked,
                                error: Some(Error::Panicked {
                                    message: panic_message(payload.as_ref()).into(),
                                }),
                                replay: None,
                            }
                        })
                    })
                    .collect();
                let lead = reports
                    .iter()
                    .position(|r| r.ending != Ending::Stopped)
                    .unwrap_or(0);
                let stats = p.stats.snapshot();
                PartitionReport {
                    partition: stats.partition,
                    ending: reports[lead].ending,
                    error: reports[lead]
                        .error
                        .clone()
                        .or_else(|| reports.iter().rev().find_map(|r| r.error.clone())),
                    replay: reports.iter().find_map(|r| r.replay.clone()),
                    connection_endings: reports.iter().map(|r| r.ending).collect(),
                    stats,
                }
            })
            .collect()
    }

    /// Stops every partition and waits for them.
    pub fn stop_and_join(self) -> Vec<PartitionReport> {
        self.stop.stop();
        self.join()
    }
}

/// Starts clients.
#[derive(Debug)]
pub struct Client;

impl Client {
    /// Checks the configuration ([`ClientConfig::validate`]), then starts one thread per
    /// partition, each calling `handler` with its records.
    pub fn start(config: ClientConfig, handler: impl Handler + 'static) -> Result<Running, Error> {
        Self::start_observed(config, handler, None)
    }

    /// [`Client::start`] with an observer for connection events.
    pub fn start_observed(
        config: ClientConfig,
        handler: impl Handler + 'static,
        observer: Option<Arc<dyn Observer>>,
    ) -> Result<Running, Error> {
        config.validate()?;
        let stop = StopHandle::default();
        let agent = super::http::agent(&config, &stop)?;
        let handler: Arc<dyn Handler> = Arc::new(handler);
        let config = Arc::new(config);
        let mut partitions: Vec<PartitionThreads> = Vec::new();
        let ended = Arc::new(Ended::default());
        let abandon = |partitions: Vec<PartitionThreads>, e: std::io::Error| {
            // Do not leave the connections already started running on their own.
            stop.stop();
            for p in partitions {
                for t in p.connections {
                    let _ = t.join();
                }
            }
            Error::Io {
                kind: e.kind(),
                message: e.to_string().into(),
            }
        };
        for partition in config.partition_list() {
            let stats = Arc::new(PartitionStats::new(partition, config.redundant));
            // One window per partition, shared by its connections: a record goes out once,
            // from whichever connection has it first.
            let dedupe = config
                .dedupe_enabled()
                .then(|| Arc::new(Mutex::new(DedupeWindow::new(config.dedupe.window_len()))));
            let mut connections = Vec::new();
            for connection in 1..=config.redundant {
                let events = Events {
                    partition,
                    connection,
                    stats: Arc::clone(&stats),
                    observer: observer.clone(),
                };
                let worker = Connection::new(
                    Arc::clone(&config),
                    agent.clone(),
                    Arc::clone(&handler),
                    events,
                    stop.clone(),
                    dedupe.clone(),
                );
                let end = EndGuard(Arc::clone(&ended));
                let spawned = thread::Builder::new()
                    .name(format!("gnip-p{partition}-c{connection}"))
                    .spawn(move || {
                        let _counted_at_the_end = end;
                        worker.run()
                    });
                match spawned {
                    Ok(t) => connections.push(t),
                    Err(e) => {
                        partitions.push(PartitionThreads { stats, connections });
                        return Err(abandon(partitions, e));
                    }
                }
            }
            partitions.push(PartitionThreads { stats, connections });
        }
        Ok(Running {
            stop,
            partitions,
            ended,
        })
    }
}

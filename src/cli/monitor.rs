//! What a long-running command adds for its operators: the `/metrics` endpoint
//! (`--metrics-listen`) and the slow-reader warning, both fed from the live counters.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gnip_stream::client::{MetricsServer, StatsSnapshot};
use gnip_stream::unversioned::metrics::{JobKind, JobProgress, MetricsView, render};
use gnip_stream::unversioned::protocol::slow_reader::{SlowReader, SlowReaderDetector};

use super::USAGE;
use super::stderr;

/// The slow-reader warnings given so far, per partition, shared with the scrape thread.
type Warnings = Arc<Mutex<Vec<(u32, u64)>>>;

/// What a scrape reads: the partitions' counters now and the job's progress, if a job runs.
pub type Source = dyn Fn() -> (Vec<StatsSnapshot>, Option<(JobKind, JobProgress)>) + Send + Sync;

/// Families appended to a scrape.
pub type Extra = dyn Fn(&mut String) + Send + Sync;

/// The slow-reader detectors of every partition, and the metrics endpoint when asked for.
pub struct Monitor {
    threshold: f64,
    period: Duration,
    detectors: Vec<(u32, SlowReaderDetector)>,
    warnings: Warnings,
    server: Option<MetricsServer>,
    /// More families appended to every scrape (the JetStream publisher's, the archive's).
    pub extra: Option<Arc<Extra>>,
}

impl Monitor {
    /// Warns when a partition's handler share stays above `threshold` for `period`.
    pub fn new(threshold: f64, period: Duration) -> Self {
        Monitor {
            threshold,
            period,
            detectors: Vec::new(),
            warnings: Arc::default(),
            server: None,
            extra: None,
        }
    }

    /// Starts the endpoint on `addr` (none: nothing to do), labelled `product`, reading `source`
    /// on every scrape. An address that cannot be served is said on stderr and is the user's
    /// error: `Err` holds the exit status, 2.
    pub fn serve(
        &mut self,
        addr: Option<&str>,
        product: &'static str,
        source: Arc<Source>,
    ) -> Result<(), u8> {
        let Some(addr) = addr else {
            return Ok(());
        };
        let warnings = Arc::clone(&self.warnings);
        let extra = self.extra.clone();
        let server = MetricsServer::start(addr, move |out: &mut String| {
            let (stats, job) = source();
            let warned = warnings.lock().map(|w| w.clone()).unwrap_or_default();
            let mut view = MetricsView::new(product, &stats).slow_reader_warnings(&warned);
            if let Some((kind, progress)) = &job {
                view = view.job(*kind, progress);
            }
            render(&view, out);
            super::heap::render(out);
            if let Some(x) = &extra {
                x(out);
            }
        })
        .map_err(|e| {
            eprintln!("gnip-stream: --metrics-listen: {e}");
            USAGE
        })?;
        let at = server.local_addr();
        stderr::event("info", "metrics_listening")
            .field("address", at.to_string())
            .emit(&format!("gnip-stream: metrics at http://{at}/metrics"));
        self.server = Some(server);
        Ok(())
    }

    /// A sample of every partition (about once a second): warns about, and clears, slow
    /// readers.
    pub fn check(&mut self, stats: &[StatsSnapshot]) {
        for s in stats {
            let i = match self.detectors.iter().position(|(p, _)| *p == s.partition) {
                Some(i) => i,
                None => {
                    self.detectors.push((
                        s.partition,
                        SlowReaderDetector::new(self.threshold, self.period),
                    ));
                    if let Ok(mut w) = self.warnings.lock() {
                        w.push((s.partition, 0));
                    }
                    self.detectors.len() - 1
                }
            };
            let who = if s.partition == 0 {
                String::new()
            } else {
                format!(" partition {}:", s.partition)
            };
            match self.detectors[i].1.sample(s.elapsed, s.handler_time) {
                Some(SlowReader::Warn { share, over }) => {
                    if let Ok(mut w) = self.warnings.lock() {
                        if let Some(e) = w.iter_mut().find(|(p, _)| *p == s.partition) {
                            e.1 += 1;
                        }
                    }
                    stderr::event("warn", "slow_reader")
                        .partition(s.partition)
                        .field("handler_share", share)
                        .field("threshold", self.threshold)
                        .field("over_seconds", over.as_secs_f64())
                        .emit(&format!(
                            "gnip-stream:{who} slow reader: the handler took {:.0}% of the last {:.0} s (threshold {:.0}%); the service drops readers that fall behind",
                            share * 100.0,
                            over.as_secs_f64(),
                            self.threshold * 100.0
                        ))
                }
                Some(SlowReader::Recovered { share }) => {
                    stderr::event("info", "slow_reader_recovered")
                        .partition(s.partition)
                        .field("handler_share", share)
                        .emit(&format!(
                            "gnip-stream:{who} reader keeping up again (handler {:.0}%)",
                            share * 100.0
                        ))
                }
                None => {}
            }
        }
    }
}

//! Figures and their export, sans-IO: the snapshots the client's counters are copied into, and
//! the Prometheus text format rendered from them (the IO shell's scrape server serves it).
//!
//! | file | job |
//! |---|---|
//! | `snapshot.rs` | [`StatsSnapshot`], [`ConnectionSnapshot`], [`JobProgress`], [`RulesProgress`] |
//! | `exposition.rs` | the text exposition format 0.0.4: HELP, TYPE, escaped labels |
//! | `render.rs` | every exported metric, from a [`MetricsView`] |
//! | `scrape.rs` | one scrape request: head parsing (capped) and the answer's head |
//! | `archive.rs` | the archive's figures |
//! | `publish.rs` | the JetStream publisher's figures (feature `jetstream`) |
//!
//! ```
//! use gnip_stream::unversioned::metrics::{render, MetricsView};
//! let mut text = String::new();
//! render(&MetricsView::new("powertrack", &[]), &mut text);
//! assert!(text.contains("# TYPE gnip_stream_records_total counter"));
//! ```

mod archive;
mod exposition;
#[cfg(feature = "jetstream")]
mod publish;
mod render;
pub mod scrape;
mod snapshot;

pub use archive::{ArchiveStats, render_archive};
pub use exposition::{CONTENT_TYPE, Exposition, Kind};
#[cfg(feature = "jetstream")]
pub use publish::{PublishSnapshot, render_publish};
pub use render::{JobKind, MetricsView, render, render_heap};
pub use snapshot::{ConnectionSnapshot, JobProgress, RulesProgress, StatsSnapshot, share};

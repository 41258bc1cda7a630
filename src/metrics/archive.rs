//! The archive's figures, sans-IO: the snapshot and its metric families (`gnip_stream_archive_*`),
//! appended to the stream's own.

use super::exposition::{Exposition, Kind};
use super::render::PREFIX;

/// What the archive has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ArchiveStats {
    /// Records written (each once).
    pub records: u64,
    /// Records dropped because the archive had them already.
    pub duplicates: u64,
    /// Files sealed (leftovers of an earlier run included).
    pub files_sealed: u64,
    /// Record bytes written, `\n` included, before compression.
    pub bytes: u64,
    /// Failed writes, fsyncs or renames.
    pub write_errors: u64,
    /// `--on-close` runs that failed.
    pub hook_failures: u64,
    /// Sealed files waiting for `--on-close`.
    pub hooks_pending: u64,
    /// `.part` files an earlier run left, sealed at the start.
    pub leftovers_sealed: u64,
    /// Gaps closed by a completed Recovery.
    pub gaps_recovered: u64,
    /// Gaps (or their older parts) neither backfill nor Recovery could fetch.
    pub gaps_unrecoverable: u64,
}

/// Appends the archive's families for `product`.
pub fn render_archive(s: &ArchiveStats, product: &str, out: &mut String) {
    let c = |name, help, v: u64| (name, Kind::Counter, help, v as f64);
    Exposition::new(out).singles(
        PREFIX,
        &[("product", product)],
        &[
            c(
                "archive_records_total",
                "Records written to the archive (each once).",
                s.records,
            ),
            c(
                "archive_duplicates_total",
                "Records the archive had already (backfill, Recovery, redundant connections).",
                s.duplicates,
            ),
            c(
                "archive_files_sealed_total",
                "Archive files sealed.",
                s.files_sealed,
            ),
            c(
                "archive_bytes_total",
                "Record bytes written to the archive, before compression.",
                s.bytes,
            ),
            c(
                "archive_write_errors_total",
                "Failed archive writes, fsyncs or renames.",
                s.write_errors,
            ),
            c(
                "archive_hook_failures_total",
                "--on-close runs that failed.",
                s.hook_failures,
            ),
            (
                "archive_hooks_pending",
                Kind::Gauge,
                "Sealed files waiting for --on-close.",
                s.hooks_pending as f64,
            ),
            c(
                "archive_gaps_recovered_total",
                "Restart gaps closed by a completed Recovery.",
                s.gaps_recovered,
            ),
            c(
                "archive_gaps_unrecoverable_total",
                "Restart gaps (or their older parts) neither backfill nor Recovery could fetch.",
                s.gaps_unrecoverable,
            ),
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_rendered_with_its_value() {
        let s = ArchiveStats {
            records: 7,
            hooks_pending: 2,
            gaps_unrecoverable: 1,
            ..ArchiveStats::default()
        };
        let mut out = String::new();
        render_archive(&s, "decahose", &mut out);
        assert!(
            out.contains("gnip_stream_archive_records_total{product=\"decahose\"} 7\n"),
            "{out}"
        );
        assert!(
            out.contains("# TYPE gnip_stream_archive_hooks_pending gauge"),
            "{out}"
        );
        assert!(
            out.contains("gnip_stream_archive_gaps_unrecoverable_total{product=\"decahose\"} 1\n")
        );
        assert_eq!(out.matches("# TYPE").count(), 9);
    }
}

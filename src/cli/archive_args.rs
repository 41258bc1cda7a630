//! The flags of `stream --archive DIR` (a table of their own over `stream`'s arguments) and
//! the checks that tie them to the rest: no rotation flag or `--on-close` without `--archive`,
//! no `--archive` with `--count` or `--jetstream`.

use std::path::PathBuf;
use std::time::Duration;

use gnip_stream::sink::archive::{DEFAULT_ROTATE_EVERY, DEFAULT_ROTATE_SIZE, MIN_ROTATE_SIZE};

use super::args::{Usage, usage};
use super::flags::Flag;

/// What the archive flags gather.
#[derive(Debug, Clone)]
pub struct ArchiveArgs {
    /// `--archive DIR`.
    pub dir: Option<PathBuf>,
    pub rotate_every: Duration,
    pub rotate_size: u64,
    pub gzip: bool,
    pub on_close: Option<String>,
    pub no_recover_gaps: bool,
    /// Flags given that need `--archive` (for the check).
    given: Vec<&'static str>,
}

impl Default for ArchiveArgs {
    fn default() -> Self {
        ArchiveArgs {
            dir: None,
            rotate_every: DEFAULT_ROTATE_EVERY,
            rotate_size: DEFAULT_ROTATE_SIZE,
            gzip: false,
            on_close: None,
            no_recover_gaps: false,
            given: Vec::new(),
        }
    }
}

impl ArchiveArgs {
    /// The checks against the other flags (`count`: `--count` given; `jetstream`: on).
    pub fn check(&self, count: bool, jetstream: bool) -> Result<(), Usage> {
        match (&self.dir, self.given.first()) {
            (None, Some(flag)) => Err(usage("stream", format!("{flag} needs --archive DIR"))),
            (Some(_), _) if count => Err(usage(
                "stream",
                "--archive writes records to files; --count writes none: choose one",
            )),
            (Some(_), _) if jetstream => Err(usage(
                "stream",
                "--archive and --jetstream are two destinations: choose one",
            )),
            _ => Ok(()),
        }
    }
}

const STREAM: &[&str] = &["stream"];

/// The flags, in the order `--help` shows them.
pub const FLAGS: &[Flag<ArchiveArgs>] = &[
    Flag {
        name: "--archive",
        value: Some("DIR"),
        default: None,
        help: "write records into rotating files per partition under DIR instead of stdout: crash-safe, and a restart closes its own gap (backfill up to 5 minutes, Recovery up to 24 hours)",
        only: STREAM,
        set: |a, it, f| {
            a.dir = Some(PathBuf::from(it.value(f)?));
            Ok(())
        },
    },
    Flag {
        name: "--rotate-every",
        value: Some("DURATION"),
        default: Some(|| "1h".to_owned()),
        help: "files per window of this length, aligned to UTC: an integer and a unit s, m, h or d (10s, 5m, 1h, 1d); at least 1s",
        only: STREAM,
        set: |a, it, f| {
            a.rotate_every = it.duration(f, Duration::from_secs(1))?;
            a.given.push(f);
            Ok(())
        },
    },
    Flag {
        name: "--rotate-size",
        value: Some("BYTES"),
        default: Some(|| "1G".to_owned()),
        help: "seal a file before a record would take it past BYTES uncompressed: an integer with an optional k, M or G (1024-based); at least 4k",
        only: STREAM,
        set: |a, it, f| {
            a.rotate_size = it.bytes(f, MIN_ROTATE_SIZE)?;
            a.given.push(f);
            Ok(())
        },
    },
    Flag {
        name: "--archive-gzip",
        value: None,
        default: None,
        help: "sealed files are gzip (.ndjson.gz, level 6)",
        only: STREAM,
        set: |a, _, f| {
            a.gzip = true;
            a.given.push(f);
            Ok(())
        },
    },
    Flag {
        name: "--on-close",
        value: Some("COMMAND"),
        default: None,
        help: "run for each sealed file, one at a time: sh -c COMMAND sh PATH; a failure is retried (5 s doubling to 5 min)",
        only: STREAM,
        set: |a, it, f| {
            a.on_close = Some(it.value(f)?.to_owned());
            a.given.push(f);
            Ok(())
        },
    },
    Flag {
        name: "--no-recover-gaps",
        value: None,
        default: None,
        help: "size the first connection's backfill to the gap, never start a Recovery",
        only: STREAM,
        set: |a, _, f| {
            a.no_recover_gaps = true;
            a.given.push(f);
            Ok(())
        },
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_documented_ones() {
        let a = ArchiveArgs::default();
        assert_eq!(a.rotate_every, Duration::from_secs(3600));
        assert_eq!(a.rotate_size, 1 << 30);
        assert!(a.check(true, true).is_ok());
    }
}

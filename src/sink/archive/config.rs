//! The archive's settings ([`ArchiveConfig`], every default documented) and the [`Storage`]
//! seam its bytes go through.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::file::Disk;
use crate::protocol::dedupe::DEFAULT_DEDUPE_WINDOW;
use crate::protocol::dialect::Dialect;

/// Default rotation period: an hour.
pub const DEFAULT_ROTATE_EVERY: Duration = Duration::from_secs(3600);
/// Default largest file: 1 GiB of records (uncompressed).
pub const DEFAULT_ROTATE_SIZE: u64 = 1 << 30;
/// The smallest `rotate_size`: 4 KiB.
pub const MIN_ROTATE_SIZE: u64 = 4096;
/// Default gzip level of `--archive-gzip`: 6, gzip's own default (see docs/archive.md for
/// what the levels cost).
pub const DEFAULT_GZIP_LEVEL: u8 = 6;
/// How often accepted records are made durable and the checkpoint advanced: once a second.
pub const DURABLE_EVERY: Duration = Duration::from_secs(1);
/// How often a partition whose writes fail tries again: every 5 s.
pub const WRITE_RETRY: Duration = Duration::from_secs(5);
/// The directory under the archive's where its own state lives.
pub const STATE_DIR: &str = ".gnip-stream";
/// Journal entries older than the checkpoint by more than this are not loaded as keys.
pub(super) const KEYS_BEFORE_CHECKPOINT_SECS: i64 = 600;
/// How often the ticker looks at the open files (seals within a second of a window's end).
pub(super) const TICK: Duration = Duration::from_millis(250);

/// Where the archive's bytes go: the file system by default ([`Disk`]). Tests inject write
/// errors (a full disk, a lost permission) through it without root.
pub trait Storage: Send + Sync {
    /// Writes all of `bytes` at the end of `file`.
    fn write(&self, file: &mut File, bytes: &[u8]) -> io::Result<()>;

    /// Makes `file` durable (fsync).
    fn sync(&self, file: &File) -> io::Result<()> {
        file.sync_all()
    }

    /// Renames `from` to `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }
}

/// The archive's settings. Every field has a documented default.
#[derive(Clone)]
pub struct ArchiveConfig {
    pub(super) dir: PathBuf,
    pub(super) prefix: String,
    pub(super) rotate_every: Duration,
    pub(super) rotate_size: u64,
    pub(super) gzip: Option<u8>,
    pub(super) on_close: Option<String>,
    pub(super) dialect: Dialect,
    pub(super) storage: Arc<dyn Storage>,
    pub(super) max_records: Option<u64>,
    pub(super) dedupe_window: usize,
}

impl std::fmt::Debug for ArchiveConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArchiveConfig")
            .field("dir", &self.dir)
            .field("prefix", &self.prefix)
            .field("rotate_every", &self.rotate_every)
            .field("rotate_size", &self.rotate_size)
            .field("gzip", &self.gzip)
            .field("on_close", &self.on_close)
            .field("max_records", &self.max_records)
            .finish_non_exhaustive()
    }
}

impl ArchiveConfig {
    /// An archive in `dir` (created if missing), files named `{prefix}-p{N}-{window}…`.
    /// Defaults: hourly files of at most 1 GiB, plain NDJSON, no `--on-close`, Gnip record
    /// keys, no record limit, [`DEFAULT_DEDUPE_WINDOW`] keys per partition.
    pub fn new(dir: impl Into<PathBuf>, prefix: &str) -> Self {
        ArchiveConfig {
            dir: dir.into(),
            prefix: prefix.to_owned(),
            rotate_every: DEFAULT_ROTATE_EVERY,
            rotate_size: DEFAULT_ROTATE_SIZE,
            gzip: None,
            on_close: None,
            dialect: Dialect::default(),
            storage: Arc::new(Disk),
            max_records: None,
            dedupe_window: DEFAULT_DEDUPE_WINDOW,
        }
    }

    /// Windows of this length (at least 1 s), aligned to UTC multiples of it from the epoch.
    pub fn rotate_every(mut self, every: Duration) -> Self {
        self.rotate_every = every.max(Duration::from_secs(1));
        self
    }

    /// A file is sealed before a record would take it past `bytes` (at least
    /// [`MIN_ROTATE_SIZE`]); a larger record goes alone.
    pub fn rotate_size(mut self, bytes: u64) -> Self {
        self.rotate_size = bytes.max(MIN_ROTATE_SIZE);
        self
    }

    /// Sealed files are gzip (`.ndjson.gz`) at `level` (0..=9; `None`: plain).
    pub fn gzip(mut self, level: Option<u8>) -> Self {
        self.gzip = level.map(|l| l.min(9));
        self
    }

    /// Runs `sh -c COMMAND sh PATH` for each sealed file.
    pub fn on_close(mut self, command: Option<String>) -> Self {
        self.on_close = command;
        self
    }

    /// Whose record keys decide what is a duplicate.
    pub fn dialect(mut self, dialect: Dialect) -> Self {
        self.dialect = dialect;
        self
    }

    /// Where the bytes go (default [`Disk`]).
    pub fn storage(mut self, storage: Arc<dyn Storage>) -> Self {
        self.storage = storage;
        self
    }

    /// Stops (returns [`Flow::Stop`](crate::client::Flow::Stop)) once `max` records are archived.
    pub fn max_records(mut self, max: Option<u64>) -> Self {
        self.max_records = max;
        self
    }

    /// Keys remembered per partition to recognise a record that comes again.
    pub fn dedupe_window(mut self, keys: usize) -> Self {
        self.dedupe_window = keys.max(1);
        self
    }
}

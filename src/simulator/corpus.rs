//! Finding and reading the shared corpus of real payloads (`shared/corpus/*.ndjson`). It reads
//! the environment and files, so it is built with the `simulator` feature only.
//!
//! The corpus is not shipped with the crate: tests, benchmarks and the simulator read it at run
//! time from `$GNIP_CORPUS`, else `../shared/corpus`, and do without it when it is absent.

use std::path::{Path, PathBuf};

/// One `.ndjson` file of the corpus: its name and its records (lines without terminators).
#[derive(Debug, Clone)]
pub struct CorpusFile {
    /// The file name, e.g. `compliance.ndjson`.
    pub name: String,
    /// Its non-empty lines, in order, without `\n` (or `\r\n`).
    pub records: Vec<Vec<u8>>,
}

/// The corpus directory: `$GNIP_CORPUS` if set, else `../shared/corpus` if it exists.
pub fn dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("GNIP_CORPUS") {
        return Some(PathBuf::from(d));
    }
    let d = Path::new("..").join("shared").join("corpus");
    d.is_dir().then_some(d)
}

/// Every `*.ndjson` file in `dir`, sorted by name.
pub fn load(dir: &Path) -> std::io::Result<Vec<CorpusFile>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "ndjson") {
            let bytes = std::fs::read(&path)?;
            let records = bytes
                .split(|&b| b == b'\n')
                .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec)
                .collect();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            files.push(CorpusFile { name, records });
        }
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

/// The corpus, or the reason there is none (for a test to print when it skips).
pub fn load_default() -> Result<Vec<CorpusFile>, String> {
    let Some(d) = dir() else {
        return Err("no corpus: set GNIP_CORPUS or put shared/corpus beside the crate".into());
    };
    match load(&d) {
        Ok(files) if files.iter().any(|f| !f.records.is_empty()) => Ok(files),
        Ok(_) => Err(format!("no corpus: {} has no .ndjson records", d.display())),
        Err(e) => Err(format!("no corpus: cannot read {}: {e}", d.display())),
    }
}

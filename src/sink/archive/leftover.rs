//! What a crash left behind, sealed at the next start: a `.part` keeps its whole records (for
//! gzip, the longest prefix of whole records that inflates, written again as one complete
//! member), is renamed to its sealed name, and hands back its records' keys and times so the
//! journal knows them; a `.part` without a whole record is removed.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;

use super::file::sync_dir;
use super::journal::Journal;
use super::partition::Partition;
use super::{Archive, Counters, DEFAULT_GZIP_LEVEL, Storage, names, now_secs, storage_error};
use crate::Error;
use crate::core::{GzipDecoder, GzipEncoder, Record};
use crate::protocol::dialect::Dialect;

/// What became of one `.part`.
#[derive(Debug)]
pub(super) enum Outcome {
    /// Sealed with these records' (time, key), in file order (time `None`: the record has
    /// none of its own). `cut` bytes of a torn tail were dropped (inflated bytes for gzip).
    Sealed {
        records: Vec<(Option<i64>, u64)>,
        cut: u64,
    },
    /// It held no whole record: removed.
    Removed,
}

/// Seals the leftover `part` as `sealed`; `arrival` (its last change) stands for the arrival
/// time of records without a trusted time of their own.
pub(super) fn recover(
    part: &Path,
    sealed: &Path,
    gzip: bool,
    level: u8,
    dialect: Dialect,
    storage: &dyn Storage,
    arrival: i64,
) -> io::Result<Outcome> {
    let mut records = Vec::new();
    let mut note = |line: &[u8]| {
        if line.is_empty() {
            return;
        }
        let record = Record::new(line);
        // The dialect's own key and time, as the live path reads them (a v2 record's time is
        // inside `data`).
        if let Some((key, time)) = dialect.record_key_and_time(&record) {
            records.push((super::trusted_time(time, arrival), key.as_u64()));
        }
    };
    let mut input = File::open(part)?;
    let cut;
    if gzip {
        // Inflate what decodes; keep the whole records; write them again as one member.
        let mut decoder = GzipDecoder::new();
        let (mut out, mut carry) = (Vec::new(), Vec::new());
        let mut encoder = GzipEncoder::new(level);
        let mut buf = vec![0u8; 64 * 1024];
        let mut clean = true;
        loop {
            let n = input.read(&mut buf)?;
            if n == 0 {
                clean &= decoder.finish().is_ok();
                break;
            }
            let r = decoder.decode(&buf[..n], |bytes| {
                carry.extend_from_slice(bytes);
                if let Some(end) = carry.iter().rposition(|b| *b == b'\n') {
                    for line in carry[..end].split(|b| *b == b'\n') {
                        note(line);
                    }
                    encoder.write(&carry[..=end], &mut out);
                    carry.drain(..=end);
                }
            });
            if r.is_err() {
                clean = false;
                break;
            }
        }
        cut = carry.len() as u64;
        if records.is_empty() {
            return remove(part);
        }
        if !(clean && carry.is_empty()) {
            encoder.finish(&mut out);
            let temp = part.with_extension("recover");
            let mut f = File::create(&temp)?;
            storage.write(&mut f, &out)?;
            storage.sync(&f)?;
            storage.rename(&temp, part)?;
        }
    } else {
        let len = input.metadata()?.len();
        let (mut at, mut good, mut carry) = (0u64, 0u64, Vec::new());
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = input.read(&mut buf)?;
            if n == 0 {
                break;
            }
            let start_of_carry = at - carry.len() as u64;
            carry.extend_from_slice(&buf[..n]);
            at += n as u64;
            if let Some(end) = carry.iter().rposition(|b| *b == b'\n') {
                for line in carry[..end].split(|b| *b == b'\n') {
                    note(line);
                }
                good = start_of_carry + end as u64 + 1;
                carry.drain(..=end);
            }
        }
        cut = len - good;
        if good == 0 {
            return remove(part);
        }
        if good < len {
            let f = fs::OpenOptions::new().write(true).open(part)?;
            f.set_len(good)?;
            storage.sync(&f)?;
        }
    }
    storage.rename(part, sealed)?;
    sync_dir(sealed.parent().unwrap_or(Path::new(".")))?;
    Ok(Outcome::Sealed { records, cut })
}

fn remove(part: &Path) -> io::Result<Outcome> {
    fs::remove_file(part)?;
    sync_dir(part.parent().unwrap_or(Path::new(".")))?;
    Ok(Outcome::Removed)
}

impl Archive {
    /// Seals every `.part` of ours in the directory; their records join their partition's
    /// journal and keys (a partition not streamed now gets its journal updated all the same).
    pub(super) fn seal_leftovers(&mut self, parts: &mut [Partition]) -> Result<(), Error> {
        let dir = self.config.dir.clone();
        let mut found: Vec<(String, String)> = fs::read_dir(&dir)
            .map_err(|e| storage_error(&dir, &e))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let sealed = names::sealed_of_part(&name)?.to_owned();
                Some((name, sealed))
            })
            .filter(|(name, _)| names::partition_of(name, &self.config.prefix).is_some())
            .collect();
        found.sort();
        for (name, sealed) in found {
            let (part, sealed) = (dir.join(&name), dir.join(&sealed));
            let gzip = name.ends_with(".gz.part");
            let number = names::partition_of(&name, &self.config.prefix).unwrap_or(0);
            if let Some(h) = &self.hooks {
                h.prepare(&sealed).map_err(|e| storage_error(&sealed, &e))?;
            }
            let mtime = fs::metadata(&part)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or_else(crate::clock::now_secs, |d| d.as_secs() as i64);
            let outcome = recover(
                &part,
                &sealed,
                gzip,
                self.config.gzip.unwrap_or(DEFAULT_GZIP_LEVEL),
                self.config.dialect,
                &*self.config.storage,
                mtime,
            )
            .map_err(|e| storage_error(&part, &e))?;
            let records = match outcome {
                Outcome::Removed => {
                    log::warn!("archive: {} held no whole record: removed", part.display());
                    self.leftovers.1.push(part);
                    continue;
                }
                Outcome::Sealed { records, cut } => {
                    log::warn!(
                        "archive: sealed {} left by an earlier run ({} records; a torn tail of {cut} bytes dropped)",
                        sealed.display(),
                        records.len()
                    );
                    records
                }
            };
            Counters::add(&self.counters.leftovers_sealed, 1);
            Counters::add(&self.counters.files_sealed, 1);
            self.leftovers.0.push(sealed);
            // Its records are the newest its partition archived: after the journal's.
            let last = records.iter().map(|r| r.0.unwrap_or(mtime)).max();
            match parts.iter_mut().find(|p| p.number == number) {
                Some(p) => {
                    for (t, k) in records {
                        if p.dedupe.insert(k) {
                            p.journal.note(t.unwrap_or(mtime), k);
                        }
                    }
                    p.journal
                        .commit(now_secs(), &*self.config.storage)
                        .map_err(|e| storage_error(&dir, &e))?;
                    p.checkpoint = p.checkpoint.max(last);
                }
                None => {
                    let stem = names::stem(&self.config.prefix, number);
                    let (mut journal, loaded) = Journal::open(&self.state_dir, &stem, now_secs())
                        .map_err(|e| storage_error(&dir, &e))?;
                    let known: std::collections::HashSet<u64> =
                        loaded.entries.iter().map(|e| e.1).collect();
                    for (t, k) in records {
                        if !known.contains(&k) {
                            journal.note(t.unwrap_or(mtime), k);
                        }
                    }
                    journal
                        .commit(now_secs(), &*self.config.storage)
                        .map_err(|e| storage_error(&dir, &e))?;
                }
            }
        }
        if let Some(h) = &self.hooks {
            h.notify();
        }
        Ok(())
    }
}

//! The archive as a library handler, and write errors injected through its storage seam (a
//! full disk without root): a clear error naming the file, counted; the partition stops
//! reading and tries again; no partial record in any sealed file; nothing lost or twice.

use std::fs::File;
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use super::*;
use gnip_stream::Product;
use gnip_stream::client::{Client, ClientConfig, Delivery};
use gnip_stream::sink::archive::{Archive, ArchiveConfig, Storage};

/// A disk that fills up on demand: while `full`, a write puts half its bytes down and fails
/// with "No space left on device" (as a real one does), and fsync fails too.
#[derive(Default)]
struct FillingDisk {
    full: AtomicBool,
    failures: AtomicU64,
}

impl Storage for FillingDisk {
    fn write(&self, file: &mut File, bytes: &[u8]) -> io::Result<()> {
        if self.full.load(Ordering::SeqCst) {
            self.failures.fetch_add(1, Ordering::SeqCst);
            let _ = file.write_all(&bytes[..bytes.len() / 2]);
            return Err(io::Error::from_raw_os_error(28));
        }
        file.write_all(bytes)
    }

    fn sync(&self, file: &File) -> io::Result<()> {
        if self.full.load(Ordering::SeqCst) {
            return Err(io::Error::from_raw_os_error(28));
        }
        file.sync_all()
    }
}

#[test]
fn a_full_disk_stops_the_partition_until_it_has_room_and_loses_nothing() {
    let s = sim(300.0, Duration::ZERO);
    let dir = scratch("archive-disk-full");
    let disk = Arc::new(FillingDisk::default());
    let config = ClientConfig::stream(Product::Decahose, "acme", "prod")
        .host(&s.base_url())
        .credentials("demo", "demo")
        .partitions(&[1])
        .backfill_minutes(5);
    let sink = Archive::open(
        ArchiveConfig::new(&dir, "decahose")
            .rotate_every(Duration::from_secs(1))
            .storage(disk.clone()),
        &[1],
    )
    .unwrap();
    let a = Arc::clone(&sink);
    let running = Client::start(config, move |d: &Delivery<'_>| a.deliver(d)).unwrap();
    assert!(wait_for(Duration::from_secs(10), || sink
        .stats()
        .files_sealed
        >= 1));
    disk.full.store(true, Ordering::SeqCst);
    assert!(wait_for(Duration::from_secs(10), || {
        disk.failures.load(Ordering::SeqCst) >= 1
    }));
    // Full for 6 s: one retry at 5 s fails too, the next one succeeds.
    std::thread::sleep(Duration::from_secs(6));
    disk.full.store(false, Ordering::SeqCst);
    let sealed = sink.stats().files_sealed;
    assert!(wait_for(Duration::from_secs(15), || {
        sink.stats().files_sealed >= sealed + 3
    }));
    running.stop_handle().stop();
    running.join();
    assert!(sink.close().is_empty());
    let stats = sink.stats();
    assert!(stats.write_errors >= 2, "{stats:?}");
    assert!(
        names(&dir).iter().all(|n| !n.ends_with(".part")),
        "{:?}",
        names(&dir)
    );
    let files = super::archive(&dir);
    for (name, records) in &files {
        for r in records {
            let g = record_index(r).unwrap_or_else(|| panic!("{name}: a partial record"));
            assert_eq!(r, &s.record(g), "{name}");
        }
    }
    contiguous(&indexes_once(&s, &files), 1, 2).unwrap();
    s.shutdown();
}

#[test]
fn the_directory_must_be_a_writable_directory() {
    let dir = scratch("archive-not-dir");
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    std::fs::write(&dir, b"a file").unwrap();
    let e = Archive::open(ArchiveConfig::new(&dir, "decahose"), &[1]).unwrap_err();
    assert!(e.to_string().contains("is not a directory"), "{e}");
}

//! `--on-close`: every sealed file handed over once, in seal order, a failure retried, a hook
//! that moves files away (names are still never reused, the checkpoint still found), and what
//! was not handed over at a stop handed over after the next start.

use std::time::Duration;

use super::*;

/// A scratch directory beside `dir` for what the hook writes.
fn beside(dir: &Path, name: &str) -> PathBuf {
    let d = dir.with_file_name(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_hook_that_fails_is_retried_and_every_file_is_handed_over_once_in_seal_order() {
    let s = sim(50.0, Duration::ZERO);
    let dir = scratch("archive-hook-retry");
    let work = beside(&dir, "hook-retry-work");
    // Fails the first time for each file, succeeds the second; logs successes in order.
    let hook = format!(
        "b=$(basename \"$1\"); if [ -e '{w}'/\"$b\".tried ]; then echo \"$b\" >> '{w}/done'; else touch '{w}'/\"$b\".tried; echo trying \"$b\"; exit 3; fi",
        w = work.display()
    );
    let mut child = spawn(
        archive_cmd(
            &s,
            "powertrack",
            &dir,
            &["--rotate-every", "1s", "--on-close", &hook],
        ),
        &dir,
    );
    // Two handed over: the first one's retry comes 5 s after its failure.
    let ok = wait_for(Duration::from_secs(20), || {
        lines(&work.join("done")).len() >= 2
    });
    assert_eq!(stop(&mut child), 0);
    let err = logs(&dir).1;
    assert!(ok, "{err}");
    let done = lines(&work.join("done"));
    let mut sorted = done.clone();
    sorted.sort();
    assert_eq!(done, sorted, "seal order");
    let unique: std::collections::BTreeSet<_> = done.iter().collect();
    assert_eq!(unique.len(), done.len(), "handed over twice: {done:?}");
    assert!(
        err.contains("--on-close exited with exit status: 3"),
        "{err}"
    );
    assert!(
        err.contains(": trying powertrack-all-"),
        "the hook's output is logged: {err}"
    );
    assert!(err.contains("again in 5 s"), "{err}");
    s.shutdown();
}

#[test]
fn a_hook_that_moves_files_away_keeps_names_unique_and_the_checkpoint() {
    let s = sim(100.0, Duration::ZERO);
    let dir = scratch("archive-hook-move");
    let out = beside(&dir, "hook-move-out");
    let hook = format!("mv \"$1\" '{}'/", out.display());
    let run = |n: &str| {
        let o = common::cli::run(
            archive_cmd(
                &s,
                "decahose",
                &dir,
                &["--partition", "1", "--max-records", n, "--on-close", &hook],
            ),
            Duration::from_secs(20),
        );
        assert_eq!(o.status.code(), Some(0));
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    run("50");
    // Handed over at the stop or after the next start: wait for the second run to move both.
    let err = run("50");
    assert!(err.contains("partition 1: latest record archived"), "{err}");
    let moved = wait_for(Duration::from_secs(10), || !names(&out).is_empty());
    assert!(moved, "{err}");
    // A third run hands over what the second sealed at its stop.
    run("10");
    assert!(wait_for(Duration::from_secs(10), || names(&out).len() >= 2));
    let files = archive(&out);
    let bases: Vec<&str> = files.keys().map(|n| &n[..28]).collect();
    // Same hour window: the second and third files carry -1, -2 (the first name is gone from
    // DIR, never reused).
    if bases.iter().all(|b| *b == bases[0]) {
        assert!(
            files.keys().any(|n| n.ends_with("Z-1.ndjson")),
            "{:?}",
            files.keys()
        );
    }
    // Everything handed over is gone from DIR; only the last run's own file, sealed at its
    // stop, may still wait there for the next start (the runner stops with the process).
    let left = archive(&dir);
    assert!(left.len() <= 1, "{:?}", left.keys());
    let mut every = files.clone();
    every.extend(left);
    let all = indexes_once(&s, &every);
    assert!(all.len() >= 110, "{}", all.len());
    s.shutdown();
}

#[test]
fn a_file_not_handed_over_at_the_stop_is_handed_over_after_the_next_start() {
    let s = sim(100.0, Duration::ZERO);
    let dir = scratch("archive-hook-pending");
    let out = beside(&dir, "hook-pending-out");
    // First run: a hook that takes far too long (killed at the stop).
    let o = common::cli::run(
        archive_cmd(
            &s,
            "decahose",
            &dir,
            &[
                "--partition",
                "2",
                "--max-records",
                "20",
                "--on-close",
                "sleep 30",
            ],
        ),
        Duration::from_secs(20),
    );
    assert_eq!(o.status.code(), Some(0));
    let first = archive(&dir);
    assert_eq!(first.len(), 1, "{:?}", first.keys());
    // Second run: a hook that moves; the first run's file goes first.
    let hook = format!("mv \"$1\" '{}'/", out.display());
    let mut child = spawn(
        archive_cmd(
            &s,
            "decahose",
            &dir,
            &["--partition", "2", "--on-close", &hook],
        ),
        &dir,
    );
    let name = first.keys().next().unwrap().clone();
    let ok = wait_for(Duration::from_secs(10), || names(&out).contains(&name));
    assert_eq!(stop(&mut child), 0);
    assert!(ok, "{}", logs(&dir).1);
    s.shutdown();
}

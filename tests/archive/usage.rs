//! The usage errors of `--archive`: exit 2 before any connection, with a message that names
//! what is wrong.

use std::time::Duration;

use super::*;

/// Runs `stream` against a host where nothing listens (any connection attempt would show).
fn usage_of(args: &[&str]) -> (Option<i32>, String) {
    let mut c = cmd("demo", "demo");
    c.arg("stream")
        .args(named("decahose", "http://127.0.0.1:9"))
        .args(args);
    let out = common::cli::run(c, Duration::from_secs(10));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("connecting"), "{err}");
    (out.status.code(), err)
}

#[test]
fn bad_directories_are_usage_errors() {
    let dir = scratch("archive-usage");
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    std::fs::write(&dir, b"a file").unwrap();
    let d = dir.display().to_string();
    let (code, err) = usage_of(&["--archive", &d]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&format!("{d} is not a directory")), "{err}");
    let below = format!("{d}/below");
    let (code, err) = usage_of(&["--archive", &below]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&format!("--archive {below}")), "{err}");
    let (code, err) = usage_of(&["--archive", "/proc/gnip-archive"]);
    assert_eq!(code, Some(2), "{err}");
}

#[test]
fn bad_durations_and_sizes_are_usage_errors() {
    let d = scratch("archive-usage-values").display().to_string();
    for v in ["10", "0s", "1.5h", "-5m", "5x", ""] {
        let (code, err) = usage_of(&["--archive", &d, "--rotate-every", v]);
        assert_eq!(code, Some(2), "{v}: {err}");
        assert!(
            err.contains(&format!(
                "--rotate-every: '{v}' is not a duration of at least 1s"
            )),
            "{err}"
        );
    }
    for v in ["4095", "3k", "1T", "1.5G", "k"] {
        let (code, err) = usage_of(&["--archive", &d, "--rotate-size", v]);
        assert_eq!(code, Some(2), "{v}: {err}");
        assert!(
            err.contains(&format!(
                "--rotate-size: '{v}' is not a size of at least 4096 bytes"
            )),
            "{err}"
        );
    }
    assert!(!Path::new(&d).exists(), "nothing created for a usage error");
}

#[test]
fn archive_flags_need_archive_and_archive_excludes_count() {
    for flag in [
        &["--rotate-every", "1h"][..],
        &["--rotate-size", "1G"],
        &["--archive-gzip"],
        &["--on-close", "true"],
        &["--no-recover-gaps"],
    ] {
        let (code, err) = usage_of(flag);
        assert_eq!(code, Some(2), "{flag:?}: {err}");
        assert!(
            err.contains(&format!("{} needs --archive DIR", flag[0])),
            "{err}"
        );
    }
    let d = scratch("archive-usage-count").display().to_string();
    let (code, err) = usage_of(&["--archive", &d, "--count"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--count writes none"), "{err}");
}

#[cfg(feature = "jetstream")]
#[test]
fn archive_excludes_jetstream() {
    let d = scratch("archive-usage-js").display().to_string();
    let (code, err) = usage_of(&["--archive", &d, "--jetstream", "nats://127.0.0.1:9"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--archive and --jetstream are two destinations"),
        "{err}"
    );
}

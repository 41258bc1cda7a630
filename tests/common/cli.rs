//! Running the built `gnip-stream` binary from tests: under an emulator when cross-testing,
//! with credentials in the environment, and always under a deadline that can only ever signal
//! the test's own, unreaped child.

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The command under test, as cargo built it.
pub const BIN: &str = env!("CARGO_BIN_EXE_gnip-stream");

/// The emulator `.ci/cross` names in `GNIP_TEST_RUNNER` when cross-testing (e.g.
/// `qemu-aarch64 -L /usr/aarch64-linux-gnu`): the binary is then for another CPU.
pub fn runner() -> Option<String> {
    std::env::var("GNIP_TEST_RUNNER")
        .ok()
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty())
}

/// The binary as a command, under the [`runner`] when there is one.
pub fn bin() -> Command {
    match runner() {
        Some(runner) => {
            let mut parts = runner.split_whitespace();
            let mut c = Command::new(parts.next().unwrap_or_default());
            c.args(parts).arg(BIN);
            c
        }
        None => Command::new(BIN),
    }
}

/// The binary as a shell command line's first words (the [`runner`] first when there is
/// one), for tests that must run it inside a pipeline.
pub fn shell_words() -> String {
    match runner() {
        Some(runner) => format!("{runner} {BIN}"),
        None => BIN.to_owned(),
    }
}

pub fn cmd(user: &str, password: &str) -> Command {
    let mut c = bin();
    c.env("GNIP_USERNAME", user)
        .env("GNIP_PASSWORD", password)
        .env_remove("GNIP_CORPUS");
    c.stdin(Stdio::null());
    c
}

/// Runs with a deadline (a hung binary fails the test instead of hanging it). The deadline is
/// enforced through the `Child` while it is still unreaped, so no signal can ever reach a
/// process that is no longer ours (a pid is only reused after its zombie is reaped).
pub fn run(mut c: Command, limit: Duration) -> Output {
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = pipe.read_to_end(&mut v);
            v
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let status = exit_within(&mut child, Instant::now(), limit);
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Waits for `child` to exit; if it is still running `limit` after `since`, kills it (through
/// its `Child`, still unreaped, so the pid is still ours), reaps it, and fails the test.
pub fn exit_within(
    child: &mut std::process::Child,
    since: Instant,
    limit: Duration,
) -> std::process::ExitStatus {
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if since.elapsed() >= limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running {limit:?} after it should have ended: killed");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends `signal` (e.g. `-TERM`) to `child`, which must not have been reaped yet.
pub fn signal(child: &std::process::Child, signal: &str) {
    assert!(
        Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
}

/// The named TARGET the tests use: `--product P --account acme --label prod --host HOST`.
pub fn named(product: &str, host: &str) -> Vec<String> {
    [
        "--product",
        product,
        "--account",
        "acme",
        "--label",
        "prod",
        "--host",
        host,
    ]
    .map(str::to_owned)
    .to_vec()
}

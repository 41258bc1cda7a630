//! SIGINT and SIGTERM set a flag the main loop turns into a stop; a second one exits at once.

use std::sync::atomic::{AtomicBool, Ordering};

static SIGNALLED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    if SIGNALLED.swap(true, Ordering::SeqCst) {
        // A second signal: the user insists. `_exit` is async-signal-safe; 130 = 128 + SIGINT.
        // SAFETY: `_exit` takes any status and never returns; it is on POSIX's list of
        // async-signal-safe functions, so calling it from a handler is allowed.
        unsafe { libc::_exit(130) }
    }
}

/// Installs the handler for SIGINT and SIGTERM.
pub fn install() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: `signal` is given a valid signal number and a handler of the C ABI it expects.
        // The handler does only what is async-signal-safe: an atomic swap on a static (lock-free
        // on every target Rust supports with std) and, on a second signal, `_exit`. It touches no
        // allocator, lock or stdio.
        unsafe {
            libc::signal(sig, handler);
        }
    }
}

/// Whether SIGINT or SIGTERM has arrived.
pub fn received() -> bool {
    SIGNALLED.load(Ordering::SeqCst)
}

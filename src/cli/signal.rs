//! SIGINT and SIGTERM set a flag the main loop turns into a stop; a second one exits at once.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

static SIGNALLED: AtomicBool = AtomicBool::new(false);
/// The first signal's number.
static NUMBER: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(number: libc::c_int) {
    let _ = NUMBER.compare_exchange(0, number, Ordering::SeqCst, Ordering::SeqCst);
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

/// The exit status of a command a signal cut short: 128 + the signal's number (130 for
/// SIGINT, 143 for SIGTERM), as shells report it.
pub fn interrupted_status() -> u8 {
    u8::try_from(128 + NUMBER.load(Ordering::SeqCst).clamp(0, 127)).unwrap_or(130)
}

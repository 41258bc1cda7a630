//! SIGINT and SIGTERM set a flag the main loop turns into a stop; a second one exits at once.
//! The handler also writes a byte to a pipe that a thread of ours waits on, which runs the
//! stop registered by the supervising loop ([`on_signal`]) at once: the loop itself need not
//! wake to look at the flag.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

static SIGNALLED: AtomicBool = AtomicBool::new(false);
/// The first signal's number.
static NUMBER: AtomicI32 = AtomicI32::new(0);
/// The pipe's write end (-1: none).
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
/// What a signal runs on the watcher thread.
type OnSignal = Box<dyn Fn() + Send>;
static ON_SIGNAL: Mutex<Option<OnSignal>> = Mutex::new(None);

extern "C" fn handle(number: libc::c_int) {
    let _ = NUMBER.compare_exchange(0, number, Ordering::SeqCst, Ordering::SeqCst);
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        let byte = 1u8;
        // SAFETY: `write` is async-signal-safe; `fd` is the pipe's write end, open for the
        // process's life and non-blocking (a full pipe drops the byte: the flag still says it),
        // and the pointer is to one live byte on this stack.
        let _ = unsafe { libc::write(fd, (&raw const byte).cast(), 1) };
    }
    if SIGNALLED.swap(true, Ordering::SeqCst) {
        // A second signal: the user insists. `_exit` is async-signal-safe; 130 = 128 + SIGINT.
        // SAFETY: `_exit` takes any status and never returns; it is on POSIX's list of
        // async-signal-safe functions, so calling it from a handler is allowed.
        unsafe { libc::_exit(130) }
    }
}

/// Installs the handler for SIGINT and SIGTERM, and the thread that runs [`on_signal`]'s stop.
pub fn install() {
    start_watcher();
    let handler = handle as extern "C" fn(libc::c_int) as libc::sighandler_t;
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

/// Makes the pipe and the thread that waits on it (blocked in `read`: no wake-ups until a
/// signal). Without them (no pipe, no thread) the loops still see the flag at their pace.
fn start_watcher() {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `pipe` writes two descriptors into the array of two it is given.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return;
    }
    let [read_end, write_end] = fds;
    // SAFETY: `fcntl` on descriptors this process just opened, with valid commands and flags:
    // close-on-exec for both ends (children such as --on-close commands do not inherit them),
    // and a non-blocking write end so the handler never waits.
    unsafe {
        libc::fcntl(read_end, libc::F_SETFD, libc::FD_CLOEXEC);
        libc::fcntl(write_end, libc::F_SETFD, libc::FD_CLOEXEC);
        let flags = libc::fcntl(write_end, libc::F_GETFL);
        libc::fcntl(write_end, libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
    let watcher = std::thread::Builder::new()
        .name("signals".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            let mut byte = [0u8; 1];
            loop {
                // SAFETY: reads at most one byte into a live one-byte buffer from the pipe's
                // read end, which stays open for the process's life.
                let n = unsafe { libc::read(read_end, byte.as_mut_ptr().cast(), 1) };
                if n == 1 {
                    if let Some(stop) = ON_SIGNAL.lock().unwrap_or_else(|e| e.into_inner()).as_ref()
                    {
                        stop();
                    }
                } else if n == 0
                    || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted
                {
                    return;
                }
            }
        });
    if watcher.is_ok() {
        WAKE_FD.store(write_end, Ordering::SeqCst);
    }
}

/// Registers what a signal does at once, on the watcher thread (`None`: nothing; the flag
/// alone). A supervising loop registers its job's stop while it runs.
pub fn on_signal(stop: Option<OnSignal>) {
    *ON_SIGNAL.lock().unwrap_or_else(|e| e.into_inner()) = stop;
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

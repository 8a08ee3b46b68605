//! Ctrl-C handling with std only.
//!
//! On Unix we install a handler for SIGINT, SIGTERM and SIGHUP through libc's
//! `signal()` (std links libc anyway, so this needs no crate). The handler only sets
//! a flag; every wait in xtask polls it, kills the child it is waiting for (with its
//! whole process group, see `process::run`) and unwinds normally, so the emulator
//! guard's `Drop` stops the emulators.
//!
//! A Ctrl-C typed in a terminal also reaches the emulators themselves (they share
//! our process group) and they exit on it; the guard then just reaps them. What no
//! handler can cover is SIGKILL (`kill -9`) of xtask: then the emulators keep
//! running until killed by hand (xtask prints their pids when they start).
//!
//! On other platforms the flag is never set and Ctrl-C ends xtask at once.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// True once SIGINT, SIGTERM or SIGHUP has been received.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

#[cfg(unix)]
pub fn install() {
    use std::os::raw::c_int;

    // Same numbers on Linux and the BSDs/macOS.
    const SIGHUP: c_int = 1;
    const SIGINT: c_int = 2;
    const SIGTERM: c_int = 15;

    unsafe extern "C" {
        // `sighandler_t signal(int, sighandler_t)`; the old handler is returned as a
        // pointer-sized value we ignore.
        fn signal(signum: c_int, handler: extern "C" fn(c_int)) -> usize;
    }

    extern "C" fn on_signal(_signum: c_int) {
        // Only an atomic store: async-signal-safe.
        INTERRUPTED.store(true, Ordering::SeqCst);
    }

    for signum in [SIGHUP, SIGINT, SIGTERM] {
        // SAFETY: `on_signal` has the C handler signature and only touches an atomic.
        unsafe {
            signal(signum, on_signal);
        }
    }
}

#[cfg(not(unix))]
pub fn install() {}

/// SIGKILLs the process group led by `child` (spawned with `process_group(0)`).
/// The caller must not have reaped `child` yet.
#[cfg(unix)]
pub fn kill_process_group(child: &std::process::Child) {
    use std::os::raw::c_int;

    const SIGKILL: c_int = 9;

    unsafe extern "C" {
        fn kill(pid: c_int, sig: c_int) -> c_int;
    }

    if let Ok(pgid) = c_int::try_from(child.id()) {
        // SAFETY: plain syscall wrapper; a negative pid addresses the process group.
        unsafe {
            kill(-pgid, SIGKILL);
        }
    }
}

#[cfg(not(unix))]
pub fn kill_process_group(_child: &std::process::Child) {}

//! SIGTERM/SIGINT handling: every helper ends within a second of being asked to. Waits are
//! done in short slices that check the flag, never as one long sleep, and every child process
//! a helper waits for (systemctl, journalctl, Exec=) is killed when the flag is set.
//!
//! Only the commands that wait (envgate, reload, lock, reconcile, compose) install the handler; the
//! others keep the default action and die at once, which is safe for them (they write nothing,
//! or one symlink made atomically).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: nix::libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Install the handlers (idempotent).
pub fn install() {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in [Signal::SIGTERM, Signal::SIGINT] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            let _ = sigaction(sig, &action);
        }
    }
}

pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Sleep up to `d`, returning early (false) when a stop was requested.
pub fn sleep(d: Duration) -> bool {
    let end = Instant::now() + d;
    loop {
        if stop_requested() {
            return false;
        }
        let now = Instant::now();
        if now >= end {
            return true;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(100)));
    }
}

/// End the way a process stopped by SIGTERM does: systemd counts death by SIGTERM as a clean
/// stop, where `exit(143)` would be a failure of the unit.
pub fn die_of_sigterm() -> ! {
    use nix::sys::signal::{
        raise, sigaction, sigprocmask, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal,
    };
    let dfl = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    // SAFETY: installing the default disposition.
    unsafe {
        let _ = sigaction(Signal::SIGTERM, &dfl);
    }
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    let _ = raise(Signal::SIGTERM);
    std::process::exit(128 + 15);
}

/// At a point where a command can stop cleanly: when a stop was requested, say what was (not)
/// done and die of SIGTERM.
pub fn exit_if_stopped(what: impl FnOnce() -> String) {
    if stop_requested() {
        log::info!("stopped (SIGTERM) {}", what());
        die_of_sigterm();
    }
}

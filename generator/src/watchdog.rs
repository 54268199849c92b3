//! The last resort against a read that never returns. The run's time limit (`budget.rs`)
//! stops it from starting new reads, but a read already stuck in the kernel (a hung network
//! file system, a FUSE daemon that never answers) cannot be interrupted: systemd would kill
//! the generator at 90 s and the boot would have none of its units. A watchdog thread waits
//! for a deadline instead; if the run has not finished by then it calls its action (the
//! binary's writes a failure stub for every input without a unit, and exits).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// An armed watchdog; [`Watchdog::disarm`] when the run is done.
pub struct Watchdog {
    done: Arc<AtomicBool>,
}

/// Call `on_expiry` at `at`, on a thread of its own, unless disarmed before. The thread only
/// sleeps: disarming never waits for it (a lock it held while descheduled would delay the
/// end of every run on a busy machine), and it dies with the process.
pub fn arm(at: Instant, on_expiry: impl FnOnce() + Send + 'static) -> Watchdog {
    let done = Arc::new(AtomicBool::new(false));
    let seen = Arc::clone(&done);
    let spawned = std::thread::Builder::new()
        .name("watchdog".into())
        .spawn(move || {
            while let Some(left) = at.checked_duration_since(Instant::now()) {
                if seen.load(Ordering::Acquire) {
                    return;
                }
                std::thread::sleep(left);
            }
            if !seen.load(Ordering::Acquire) {
                on_expiry();
            }
        });
    if let Err(e) = spawned {
        crate::log_warn!("cannot start the watchdog thread ({e}); running without it");
    }
    Watchdog { done }
}

impl Watchdog {
    /// The run is done: the action will not be called (unless it had begun already).
    pub fn disarm(self) {
        self.done.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn fires_when_the_run_is_not_done() {
        let (tx, rx) = mpsc::channel();
        let start = Instant::now();
        let _dog = arm(start + Duration::from_millis(50), move || {
            let _ = tx.send(Instant::now());
        });
        let fired = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("never fired");
        assert!(fired >= start + Duration::from_millis(50));
    }

    #[test]
    fn does_not_fire_once_disarmed() {
        let (tx, rx) = mpsc::channel();
        let dog = arm(Instant::now() + Duration::from_millis(100), move || {
            let _ = tx.send(());
        });
        dog.disarm();
        assert!(rx.recv_timeout(Duration::from_millis(400)).is_err());
    }
}

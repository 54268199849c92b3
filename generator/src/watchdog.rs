//! The last resort against a read that never returns. The run's time limit (`budget.rs`)
//! stops it from starting new reads, but a read already stuck in the kernel (a hung network
//! file system, a FUSE daemon that never answers) cannot be interrupted: systemd would kill
//! the generator at 90 s and the boot would have none of its units. A watchdog thread waits
//! for a deadline instead; if the run has not finished by then it calls its action (the
//! binary's writes a failure stub for every input without a unit, and exits).

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Instant;

/// An armed watchdog; [`Watchdog::disarm`] when the run is done.
pub struct Watchdog {
    done: Arc<(Mutex<bool>, Condvar)>,
}

/// Call `on_expiry` at `at`, on a thread of its own, unless disarmed before. It runs with
/// the watchdog's lock held, so a `disarm` then waits for it (and for an exit it makes).
pub fn arm(at: Instant, on_expiry: impl FnOnce() + Send + 'static) -> Watchdog {
    let done = Arc::new((Mutex::new(false), Condvar::new()));
    let shared = Arc::clone(&done);
    let spawned = std::thread::Builder::new()
        .name("watchdog".into())
        .spawn(move || {
            let (lock, wake) = &*shared;
            let mut done = lock.lock().unwrap_or_else(PoisonError::into_inner);
            loop {
                if *done {
                    return;
                }
                let now = Instant::now();
                if now >= at {
                    break;
                }
                done = wake
                    .wait_timeout(done, at - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            on_expiry();
            drop(done);
        });
    if let Err(e) = spawned {
        crate::log_warn!("cannot start the watchdog thread ({e}); running without it");
    }
    Watchdog { done }
}

impl Watchdog {
    /// The run is done: the action will not be called (or has finished, if it had begun).
    pub fn disarm(self) {
        let (lock, wake) = &*self.done;
        *lock.lock().unwrap_or_else(PoisonError::into_inner) = true;
        wake.notify_all();
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

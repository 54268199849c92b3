//! The limits of one run, so that no set of inputs can make the generator run for ever or
//! take a small machine's memory at boot (each limit is documented in README.md):
//!
//! - time: [`DEFAULT_TIMEOUT`] (`UNITSMITH_GENERATOR_TIMEOUT=SECONDS` sets another). Past it,
//!   no further directory is listed and no further input is read or converted: each such
//!   input becomes a failure stub saying so, and what was listed is written. (A read stuck in
//!   the kernel, on a hung network file system, is the watchdog's: see `watchdog.rs`.)
//! - bytes: [`TOTAL_BYTES`] read in all (each file at most [`crate::safe_read::MAX_BYTES`]);
//!   a file that would go over is not read and becomes a failure stub.
//! - inputs: [`MAX_INPUTS`]; more are not read at all, and are reported, counted and named.
//! - what root does not trust (directories another user owns or can write, see `walk.rs`) is
//!   bounded apart, so that no user can starve root's own inputs: [`MAX_REFUSED_INPUTS`]
//!   inputs there get a failure stub, and at most [`MAX_UNTRUSTED_DIRS`] such directories and
//!   [`MAX_UNTRUSTED_ENTRIES`] entries in them are listed; past either, they are reported,
//!   counted and named. None of them counts toward [`MAX_INPUTS`].
//!
//! Measured (README "Speed"): memory grows with the bytes read (about twice them) and with
//! the number of inputs (about 4.5 KB each), so these two bound it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::walk::Paths;

/// How long a run may take before it stops reading and writes what it has. systemd kills
/// generators after 90 s (and the boot then has none of their units): well before that.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long after the time limit the watchdog ends a run that is still going (a read stuck
/// in the kernel): stubs for what is missing, exit status 1, well before systemd's 90 s.
pub const WATCHDOG_GRACE: Duration = Duration::from_secs(10);

/// The variable that sets the time limit, in seconds (fractions allowed).
pub const TIMEOUT_ENV: &str = "UNITSMITH_GENERATOR_TIMEOUT";

/// Bytes read in one run, inputs and drop-ins together: thousands of typical Quadlet files
/// are a few megabytes.
pub const TOTAL_BYTES: u64 = 32 << 20;

/// Inputs in one run: far more than anyone runs containers on one machine, and each input
/// costs memory before it is read.
pub const MAX_INPUTS: usize = 20_000;

/// Inputs in directories root does not trust (see `walk.rs`), each of which becomes a
/// failure stub saying why, in one run. Counted apart from [`MAX_INPUTS`]: however many a
/// user puts in a directory of theirs, root's own inputs are all read.
pub const MAX_REFUSED_INPUTS: usize = 1_000;

/// Directories root does not trust that are listed in one run (for the stubs of the inputs
/// they hold), and entries read from them in all: a user may make theirs as large and as deep
/// as they like, and listing it must not take the time root's own inputs need.
pub const MAX_UNTRUSTED_DIRS: usize = 100;
pub const MAX_UNTRUSTED_ENTRIES: usize = 10_000;

/// The time limit from the environment: [`DEFAULT_TIMEOUT`] unless [`TIMEOUT_ENV`] says
/// otherwise (a bad value is reported and the default used).
pub fn timeout_from_env() -> Duration {
    timeout_from(std::env::var(TIMEOUT_ENV).ok().as_deref())
}

/// The time limit [`TIMEOUT_ENV`] set to `v` gives: seconds from 0 up to (not including) a
/// billion; anything else (negative, huge, infinite, not a number) is reported and the
/// default used, never a panic at boot (`Duration::from_secs_f64` panics on those).
fn timeout_from(v: Option<&str>) -> Duration {
    let Some(v) = v else {
        return DEFAULT_TIMEOUT;
    };
    match v.trim().parse::<f64>() {
        Ok(s) if (0.0..1e9).contains(&s) => Duration::from_secs_f64(s),
        _ => {
            crate::log_warn!(
                "{TIMEOUT_ENV}={v}: not a number of seconds; using {} s",
                DEFAULT_TIMEOUT.as_secs()
            );
            DEFAULT_TIMEOUT
        }
    }
}

/// What is left of one run's limits, and what the run learned of the paths it reads (so
/// that each directory is walked once: see `walk.rs`); shared by the threads of the run.
#[derive(Debug)]
pub struct Budget {
    deadline: Option<(Instant, Duration)>,
    bytes_left: AtomicU64,
    paths: Arc<Paths>,
}

impl Budget {
    /// A run that must end its reading by `deadline` (given with the limit it came from,
    /// for messages); `None`: no time limit (doctor, lint, tests).
    pub fn new(deadline: Option<(Instant, Duration)>) -> Budget {
        Budget::with_paths(deadline, Arc::default())
    }

    /// [`Budget::new`], going on from what a scan learned of the paths already.
    pub fn with_paths(deadline: Option<(Instant, Duration)>, paths: Arc<Paths>) -> Budget {
        Budget {
            deadline,
            bytes_left: AtomicU64::new(TOTAL_BYTES),
            paths,
        }
    }

    /// The run's verdicts on directories (see `walk.rs`).
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// `Err(message)` once the time is up; `doing`: what was not done (`read`, `converted`).
    pub fn check_time(&self, doing: &str) -> Result<(), String> {
        match self.deadline {
            Some((at, limit)) if Instant::now() >= at => Err(format!(
                "not {doing}: the generator's time limit of {} s ran out first ({TIMEOUT_ENV} sets it); what it did before is generated",
                limit.as_secs_f64()
            )),
            _ => Ok(()),
        }
    }

    /// Take `n` bytes from the run's allowance; `Err(message)` when they are not there (and
    /// then nothing is taken, so that smaller files may still be read).
    pub fn take_bytes(&self, n: u64) -> Result<(), String> {
        let taken = self
            .bytes_left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(n)
            });
        taken.map(|_| ()).map_err(|_| {
            format!(
                "not read: with its {n} bytes, the files read in this run would be over the limit of {TOTAL_BYTES} bytes (32 MiB) for all inputs and drop-ins together"
            )
        })
    }
}

impl Default for Budget {
    fn default() -> Budget {
        Budget::new(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_run_out_and_a_refusal_takes_nothing() {
        let b = Budget::default();
        assert!(b.take_bytes(TOTAL_BYTES - 10).is_ok());
        assert!(b.take_bytes(11).unwrap_err().contains("32 MiB"));
        assert!(b.take_bytes(10).is_ok());
        assert!(b.take_bytes(1).is_err());
    }

    #[test]
    fn the_time_limit_from_the_environment() {
        assert_eq!(timeout_from(None), DEFAULT_TIMEOUT);
        assert_eq!(timeout_from(Some("0")), Duration::ZERO);
        assert_eq!(timeout_from(Some(" 2.5 ")), Duration::from_millis(2500));
        assert_eq!(
            timeout_from(Some("999999999")),
            Duration::from_secs(999_999_999)
        );
        for bad in [
            "-1", "-0.5", "1e9", "1e300", "inf", "-inf", "NaN", "", "30s", "x",
        ] {
            assert_eq!(timeout_from(Some(bad)), DEFAULT_TIMEOUT, "{bad:?}");
        }
    }

    /// A run's reads go on from what its scan walked: each directory is walked once a run.
    #[test]
    fn a_run_keeps_the_paths_its_scan_walked() {
        let paths = Arc::new(Paths::default());
        let b = Budget::with_paths(None, Arc::clone(&paths));
        assert!(std::ptr::eq(b.paths(), &*paths));
    }

    #[test]
    fn time_runs_out() {
        assert!(Budget::default().check_time("read").is_ok());
        let later = Budget::new(Some((
            Instant::now() + Duration::from_secs(60),
            DEFAULT_TIMEOUT,
        )));
        assert!(later.check_time("read").is_ok());
        let past = Budget::new(Some((Instant::now(), Duration::from_millis(1))));
        assert!(past
            .check_time("read")
            .unwrap_err()
            .contains("time limit of 0.001 s"));
    }
}

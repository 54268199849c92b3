//! Bounded retries with exponential backoff: every wait in the helpers has an end.

use std::time::{Duration, Instant};

/// Call `attempt` until it returns `Some`, sleeping `initial`, `2×initial`, ... (at most `max`
/// between tries) until `deadline` has passed. `None` when time ran out or a stop was requested.
pub fn with_backoff<T>(
    deadline: Duration,
    initial: Duration,
    max: Duration,
    mut attempt: impl FnMut() -> Option<T>,
) -> Option<T> {
    let end = Instant::now() + deadline;
    let mut delay = initial;
    loop {
        if let Some(v) = attempt() {
            return Some(v);
        }
        let now = Instant::now();
        if now >= end || crate::signals::stop_requested() {
            return None;
        }
        if !crate::signals::sleep(delay.min(end - now)) {
            return None;
        }
        delay = (delay * 2).min(max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_at_success_or_deadline() {
        let mut n = 0;
        let r = with_backoff(
            Duration::from_secs(5),
            Duration::from_millis(1),
            Duration::from_millis(4),
            || {
                n += 1;
                (n == 3).then_some(n)
            },
        );
        assert_eq!(r, Some(3));
        let t = Instant::now();
        let r: Option<()> = with_backoff(
            Duration::from_millis(50),
            Duration::from_millis(5),
            Duration::from_millis(10),
            || None,
        );
        assert!(r.is_none());
        assert!(t.elapsed() < Duration::from_secs(1));
    }
}

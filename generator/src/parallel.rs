//! Order-preserving parallel map for the generator's independent per-file work (reading and
//! parsing inputs, converting, rendering and writing units). Small runs stay on one thread:
//! spawning costs more than it saves.
//!
//! Workers take small batches from a shared counter rather than fixed shares, so a thread
//! that falls behind (a busy core, a burst of page faults) leaves its work to the others;
//! the calling thread works too, so a two-core machine spawns one thread per call, not two.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

/// Below this many items, work is done on the calling thread.
const MIN_PARALLEL: usize = 128;
/// More threads than this buy nothing for file I/O on tmpfs.
const MAX_THREADS: usize = 4;
/// Items taken at a time: enough that the shared counter is not contended, few enough that
/// the last batches even out the threads' finishing times.
const BATCH: usize = 16;

/// Threads to use, the caller included. `available_parallelism` reads cgroup files on every
/// call, so it is asked once.
fn threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_THREADS)
    })
}

/// `items.iter().map(f).collect()`, spread over the available cores, results in order.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if threads() < 2 || items.len() < MIN_PARALLEL {
        return items.iter().map(f).collect();
    }
    spread(items, BATCH, f)
}

/// The parallel part of [`map`]: workers take `batch` items at a time.
fn spread<T: Sync, R: Send>(items: &[T], batch: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    // Results go straight to their place: the output is split into one slot per batch, and
    // whichever worker takes a batch fills its slot (each lock is taken once, never waited on).
    let mut out: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    let slots: Vec<Mutex<&mut [Option<R>]>> = out.chunks_mut(batch).map(Mutex::new).collect();
    let next = AtomicUsize::new(0);
    let work = || loop {
        let taken = next.fetch_add(1, Ordering::Relaxed);
        let Some(slot) = slots.get(taken) else {
            return;
        };
        let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
        let start = taken * batch;
        for (result, item) in slot.iter_mut().zip(&items[start..]) {
            *result = Some(f(item));
        }
    };
    std::thread::scope(|s| {
        let spawned: Vec<_> = (1..threads()).map(|_| s.spawn(work)).collect();
        work();
        for h in spawned {
            // A panic in a worker is re-raised here and caught by the binary's catch_unwind.
            h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
        }
    });
    drop(slots);
    // Every slot was filled; `flatten` (not `unwrap`) so that no path here can panic.
    out.into_iter().flatten().collect()
}

/// [`map`] for work that changes each item.
pub fn map_mut<T: Send, R: Send>(items: &mut [T], f: impl Fn(&mut T) -> R + Sync) -> Vec<R> {
    if threads() < 2 || items.len() < MIN_PARALLEL {
        return items.iter_mut().map(f).collect();
    }
    // Each batch of items is taken exactly once, by whichever worker reaches it.
    let batches: Vec<Mutex<&mut [T]>> = items.chunks_mut(BATCH).map(Mutex::new).collect();
    let results = spread(&batches, 1, |batch| {
        let mut batch = batch.lock().unwrap_or_else(PoisonError::into_inner);
        batch.iter_mut().map(&f).collect::<Vec<R>>()
    });
    results.into_iter().flatten().collect()
}

/// [`map`] for work that takes ownership of each item.
pub fn map_owned<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    if threads() < 2 || items.len() < MIN_PARALLEL {
        return items.into_iter().map(f).collect();
    }
    // Each item is taken out of its cell by the worker that reaches it.
    let mut cells: Vec<Option<T>> = items.into_iter().map(Some).collect();
    let results = map_mut(&mut cells, |cell| cell.take().map(&f));
    results.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_order() {
        let v: Vec<usize> = (0..1000).collect();
        assert_eq!(
            super::map(&v, |x| x * 2),
            v.iter().map(|x| x * 2).collect::<Vec<_>>()
        );
        assert_eq!(super::map(&v[..3], |x| x + 1), vec![1, 2, 3]);
        assert_eq!(
            super::map_owned(v.clone(), |x| x * 3),
            v.iter().map(|x| x * 3).collect::<Vec<_>>()
        );
        let mut w = v.clone();
        assert_eq!(super::map_mut(&mut w, |x| std::mem::take(x)), v);
        assert!(w.iter().all(|&x| x == 0));
    }

    /// Every entry point really spreads a large run (a fallback to one thread once hid here).
    #[test]
    fn large_runs_use_more_than_one_thread() {
        if super::threads() < 2 {
            return;
        }
        let seen = std::sync::Mutex::new(std::collections::HashSet::new());
        let note = |_: &u32| {
            std::thread::sleep(std::time::Duration::from_micros(200));
            seen.lock().unwrap().insert(std::thread::current().id());
        };
        let mut v = vec![0u32; 300];
        super::map(&v, note);
        assert!(seen.lock().unwrap().len() > 1, "map");
        seen.lock().unwrap().clear();
        super::map_mut(&mut v, |x| note(x));
        assert!(seen.lock().unwrap().len() > 1, "map_mut");
        seen.lock().unwrap().clear();
        super::map_owned(v, |x| note(&x));
        assert!(seen.lock().unwrap().len() > 1, "map_owned");
    }

    #[test]
    fn uneven_work_keeps_order_and_loses_nothing() {
        // Some items are slow: batches finish out of order and must be put back in place.
        let v: Vec<u64> = (0..1000).collect();
        let slow = |x: &u64| {
            if x % 97 == 0 {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            x + 1
        };
        assert_eq!(
            super::map(&v, slow),
            v.iter().map(|x| x + 1).collect::<Vec<_>>()
        );
    }
}

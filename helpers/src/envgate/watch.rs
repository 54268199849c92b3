//! Waiting for files to arrive *complete*.
//!
//! A file counts as complete once it has stayed unchanged — same inode, size, mtime and ctime,
//! and no inotify event for it — for the settle time, and no writer is known to hold it open
//! (inotify saw it written or created and not yet closed; a writer that keeps it open forever
//! is given up on after a longer grace). A file found already there is complete at once when
//! its mtime is older than the settle time. So a rename into place opens the gate after the
//! settle time, `echo >file` after the close plus the settle time, and a writer appending in
//! several steps only once it has paused for the settle time.
//!
//! Directories are watched with inotify: the file's directory, or its nearest existing
//! ancestor until the directory is created. Every poll interval every file is looked at
//! anyway, so a filesystem where inotify sees nothing (NFS, a mount over the directory) or an
//! inotify that cannot be set up only makes the gate slower. Waits are done in slices of at
//! most 250 ms so that SIGTERM is honoured within a second.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use std::os::fd::AsFd;

/// The longest single wait, so that a stop request is seen in time.
const SLICE: Duration = Duration::from_millis(250);

/// What identifies one version of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Version {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

fn version(path: &Path) -> Option<(Version, std::fs::Metadata)> {
    let m = std::fs::metadata(path).ok().filter(|m| m.is_file())?;
    let v = Version {
        dev: m.dev(),
        ino: m.ino(),
        len: m.len(),
        mtime: (m.mtime(), m.mtime_nsec()),
        ctime: (m.ctime(), m.ctime_nsec()),
    };
    Some((v, m))
}

/// Whether a file's mtime says it has not been written for `settle`. An mtime in the future
/// by more than `settle` is a clock that moved (early boot), not a write in progress.
pub fn quiet_by_mtime(m: &std::fs::Metadata, settle: Duration, now: SystemTime) -> bool {
    let Ok(mtime) = m.modified() else {
        return false;
    };
    match now.duration_since(mtime) {
        Ok(age) => age >= settle,
        Err(e) => e.duration() > settle,
    }
}

/// A file that exists now and is complete by its mtime (the boot path's one look).
pub fn complete_now(path: &Path, settle: Duration) -> bool {
    version(path).is_some_and(|(_, m)| quiet_by_mtime(&m, settle, SystemTime::now()))
}

/// One file being waited for.
#[derive(Debug)]
pub struct Target {
    pub path: PathBuf,
    seen: Option<Version>,
    /// When it becomes complete if nothing changes.
    complete_at: Option<Instant>,
    /// inotify saw a write or a create and no close since.
    writer_open: bool,
    settle: Duration,
}

impl Target {
    pub fn new(path: PathBuf, settle: Duration) -> Target {
        Target {
            path,
            seen: None,
            complete_at: None,
            writer_open: false,
            settle,
        }
    }

    /// The grace after which a writer that never closes is ignored.
    fn open_grace(&self) -> Duration {
        (self.settle * 10).max(Duration::from_secs(5))
    }

    /// Look at the file (stat). Returns true when it appeared.
    pub fn observe(&mut self, now: Instant) -> bool {
        match version(&self.path) {
            None => {
                self.seen = None;
                self.complete_at = None;
                self.writer_open = false;
                false
            }
            Some((v, m)) => {
                let appeared = self.seen.is_none();
                if self.seen != Some(v) {
                    // First sight of an old file: complete at once; otherwise settle from now.
                    let quiet = appeared && quiet_by_mtime(&m, self.settle, SystemTime::now());
                    self.complete_at = Some(if quiet { now } else { now + self.settle });
                    self.seen = Some(v);
                }
                appeared
            }
        }
    }

    /// An inotify event named this file.
    pub fn touched(&mut self, now: Instant, mask: AddWatchFlags) {
        if mask.intersects(AddWatchFlags::IN_MODIFY | AddWatchFlags::IN_CREATE) {
            self.writer_open = true;
        }
        if mask.intersects(AddWatchFlags::IN_CLOSE_WRITE | AddWatchFlags::IN_MOVED_TO) {
            self.writer_open = false;
        }
        if mask.intersects(AddWatchFlags::IN_DELETE | AddWatchFlags::IN_MOVED_FROM) {
            self.writer_open = false;
        }
        if self.seen.is_some()
            || mask.intersects(AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO)
        {
            self.complete_at = Some(now + self.settle);
        }
        self.observe(now);
        if self.seen.is_some() {
            // a change, even one stat cannot see (same size, same mtime tick): settle again
            self.complete_at = Some(now + self.settle);
        }
    }

    pub fn exists(&self) -> bool {
        self.seen.is_some()
    }

    pub fn complete(&self, now: Instant) -> bool {
        match self.complete_at {
            None => false,
            Some(at) if self.writer_open => now >= at + self.open_grace(),
            Some(at) => now >= at,
        }
    }

    /// When to look again while it is settling.
    pub fn due(&self) -> Option<Instant> {
        let at = self.complete_at?;
        Some(if self.writer_open {
            at + self.open_grace()
        } else {
            at
        })
    }
}

/// inotify on the directories of the targets, or nothing (then only polling is left).
pub struct Watcher {
    inotify: Option<Inotify>,
    watches: HashMap<WatchDescriptor, PathBuf>,
}

/// What a wait saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// Events on target files: (target path, mask).
    pub touched: Vec<(PathBuf, AddWatchFlags)>,
    /// A directory on the way to a target changed: watch again, look at everything.
    pub rearm: bool,
}

const DIR_EVENTS: AddWatchFlags = AddWatchFlags::IN_CREATE
    .union(AddWatchFlags::IN_MODIFY)
    .union(AddWatchFlags::IN_CLOSE_WRITE)
    .union(AddWatchFlags::IN_MOVED_TO)
    .union(AddWatchFlags::IN_MOVED_FROM)
    .union(AddWatchFlags::IN_DELETE)
    .union(AddWatchFlags::IN_ATTRIB)
    .union(AddWatchFlags::IN_DELETE_SELF)
    .union(AddWatchFlags::IN_MOVE_SELF)
    .union(AddWatchFlags::IN_ONLYDIR);

impl Watcher {
    pub fn new(name: &str) -> Watcher {
        let inotify = match Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC) {
            Ok(i) => Some(i),
            Err(e) => {
                log::warn!("{name}: inotify is not available ({e}); looking at the files every PollInterval instead");
                None
            }
        };
        Watcher {
            inotify,
            watches: HashMap::new(),
        }
    }

    /// Watch the directory of every target, or its nearest existing ancestor.
    pub fn arm(&mut self, targets: &[PathBuf]) {
        let Some(ino) = &self.inotify else { return };
        for t in targets {
            let mut dir = t.parent();
            while let Some(d) = dir {
                if d.is_dir() {
                    match ino.add_watch(d, DIR_EVENTS) {
                        Ok(wd) => {
                            self.watches.insert(wd, d.to_path_buf());
                        }
                        Err(e) => log::debug!("inotify watch on {}: {e}", d.display()),
                    }
                    break;
                }
                dir = d.parent();
            }
        }
    }

    /// Wait up to `timeout` (at most one slice) for events about `targets`.
    pub fn wait(&mut self, targets: &[PathBuf], timeout: Duration) -> Seen {
        let timeout = timeout.min(SLICE);
        let Some(ino) = &self.inotify else {
            crate::signals::sleep(timeout);
            return Seen::default();
        };
        let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(ino.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(n) if n > 0 => {}
            _ => return Seen::default(), // timeout, or EINTR (a signal: the caller checks)
        }
        let mut seen = Seen::default();
        let events = match ino.read_events() {
            Ok(e) => e,
            Err(_) => return seen,
        };
        for ev in events {
            if ev.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
                seen.rearm = true;
                continue;
            }
            let Some(dir) = self.watches.get(&ev.wd).cloned() else {
                continue;
            };
            if ev.mask.intersects(
                AddWatchFlags::IN_IGNORED
                    | AddWatchFlags::IN_DELETE_SELF
                    | AddWatchFlags::IN_MOVE_SELF,
            ) {
                self.watches.remove(&ev.wd);
                seen.rearm = true;
                continue;
            }
            let Some(name) = ev.name else { continue };
            let full = dir.join(name);
            for t in targets {
                if *t == full {
                    seen.touched.push((t.clone(), ev.mask));
                } else if t.starts_with(&full) {
                    seen.rearm = true; // a directory on the way was created or moved
                }
            }
        }
        seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("unitsmith-watch-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn an_old_file_is_complete_at_once_a_new_one_after_settling() {
        let d = dir("old");
        let p = d.join("f.env");
        fs::write(&p, "A=1\n").unwrap();
        let settle = Duration::from_millis(200);
        assert!(!complete_now(&p, settle), "just written");
        let mut t = Target::new(p.clone(), settle);
        let now = Instant::now();
        assert!(t.observe(now));
        assert!(!t.complete(now));
        assert!(t.complete(now + settle));
        std::thread::sleep(settle);
        assert!(complete_now(&p, settle));
        let mut t = Target::new(p.clone(), settle);
        t.observe(Instant::now());
        assert!(t.complete(Instant::now()), "old by its mtime");
        assert!(!complete_now(&d.join("missing"), settle));
    }

    #[test]
    fn a_change_restarts_the_settle_time_and_an_open_writer_holds_it() {
        let d = dir("change");
        let p = d.join("f.env");
        let settle = Duration::from_millis(100);
        let mut t = Target::new(p.clone(), settle);
        let t0 = Instant::now();
        assert!(!t.observe(t0));
        fs::write(&p, "A=1\n").unwrap();
        t.touched(t0, AddWatchFlags::IN_CREATE);
        t.touched(t0, AddWatchFlags::IN_MODIFY);
        assert!(!t.complete(t0 + settle), "writer still open");
        t.touched(t0 + settle, AddWatchFlags::IN_CLOSE_WRITE);
        assert!(!t.complete(t0 + settle));
        assert!(t.complete(t0 + settle * 2));
        // a writer that never closes is given up on after the grace
        let mut t = Target::new(p.clone(), settle);
        t.touched(t0, AddWatchFlags::IN_MODIFY);
        assert!(!t.complete(t0 + Duration::from_secs(4)));
        assert!(t.complete(t0 + Duration::from_secs(6)));
        fs::remove_file(&p).unwrap();
        t.touched(t0, AddWatchFlags::IN_DELETE);
        assert!(!t.exists() && !t.complete(t0 + Duration::from_secs(60)));
    }

    #[test]
    fn future_mtimes_are_clock_jumps() {
        let d = dir("future");
        let p = d.join("f");
        fs::write(&p, "").unwrap();
        let m = fs::metadata(&p).unwrap();
        let mtime = m.modified().unwrap();
        let s = Duration::from_millis(500);
        assert!(!quiet_by_mtime(&m, s, mtime + Duration::from_millis(100)));
        assert!(quiet_by_mtime(&m, s, mtime + Duration::from_secs(1)));
        assert!(!quiet_by_mtime(&m, s, mtime - Duration::from_millis(100)));
        assert!(quiet_by_mtime(&m, s, mtime - Duration::from_secs(3600)));
    }

    #[test]
    fn inotify_sees_a_file_in_a_directory_created_later() {
        let d = dir("inotify");
        let target = d.join("sub/deeper/f.env");
        let targets = vec![target.clone()];
        let mut w = Watcher::new("test");
        assert!(w.inotify.is_some());
        w.arm(&targets);
        fs::create_dir_all(d.join("sub/deeper")).unwrap();
        let mut rearmed = false;
        let mut touched = false;
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end && !touched {
            let seen = w.wait(&targets, Duration::from_millis(100));
            if seen.rearm {
                w.arm(&targets);
                rearmed = true;
                if !target.exists() {
                    fs::write(&target, "A=1\n").unwrap();
                }
            }
            touched |= seen
                .touched
                .iter()
                .any(|(p, m)| *p == target && m.contains(AddWatchFlags::IN_CLOSE_WRITE));
        }
        assert!(rearmed, "the new directory was noticed");
        assert!(touched, "the file's close was seen");
    }
}

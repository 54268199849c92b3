//! The bounds of a directory walk of `doctor` and `lint`, which look through directories other
//! users may fill (`/etc/containers/systemd/users/UID`, a tree given to `lint`):
//!
//! - every directory is walked once: its (device, inode) is remembered, so a link back to it
//!   (40 links to `.`: on main, a walk that never ended) costs one look;
//! - at most `max_depth` levels and `max_entries` entries: a deep or huge tree ends the walk,
//!   not the command;
//! - as root, a symbolic link in a directory that another user owns, or that users other than
//!   root can write, is not followed: its owner chose where it points (root's files, a loop);
//! - what was not walked is reported, never skipped in silence: a directory too deep, the rest
//!   after the count, the links not followed (by directory, with its owner).

use std::collections::HashSet;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A part of the tree that was not walked, and why (a sentence naming what to do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotWalked {
    pub path: PathBuf,
    pub why: String,
    /// A limit was hit (the tree is unusual); otherwise links were left alone on purpose.
    pub limit: bool,
}

pub struct Walk {
    max_depth: usize,
    max_entries: usize,
    entries: usize,
    /// (device, inode) of every directory entered.
    seen: HashSet<(u64, u64)>,
    /// Whether we run as root: only then are links in other users' directories left alone.
    as_root: bool,
    stopped: bool,
    pub not_walked: Vec<NotWalked>,
}

impl Walk {
    pub fn new(max_depth: usize, max_entries: usize) -> Walk {
        Walk::as_user(max_depth, max_entries, nix::unistd::geteuid().is_root())
    }

    /// A walk as root (`as_root`) or as another user, whoever we are (for tests).
    pub fn as_user(max_depth: usize, max_entries: usize, as_root: bool) -> Walk {
        Walk {
            max_depth,
            max_entries,
            entries: 0,
            seen: HashSet::new(),
            as_root,
            stopped: false,
            not_walked: Vec::new(),
        }
    }

    /// May the directory `dir` (status `meta`, `depth` levels below where the walk began) be
    /// listed? No when it was walked already (silently: it is walked), when it is too deep or
    /// the walk stopped (both reported).
    pub fn enter(&mut self, dir: &Path, meta: &Metadata, depth: usize) -> bool {
        if self.stopped {
            return false;
        }
        if depth > self.max_depth {
            self.not_walked.push(NotWalked {
                path: dir.to_path_buf(),
                why: format!(
                    "more than {} directory levels deep; not looked into",
                    self.max_depth
                ),
                limit: true,
            });
            return false;
        }
        self.seen.insert((meta.dev(), meta.ino()))
    }

    /// Count one entry of `dir`; false once the walk has seen `max_entries` (reported once).
    pub fn count(&mut self, dir: &Path) -> bool {
        if self.stopped {
            return false;
        }
        self.entries += 1;
        if self.entries > self.max_entries {
            self.stopped = true;
            self.not_walked.push(NotWalked {
                path: dir.to_path_buf(),
                why: format!(
                    "the walk stopped after {} entries: the rest of this directory and the directories after it were not looked at",
                    self.max_entries
                ),
                limit: true,
            });
            return false;
        }
        true
    }

    /// May links found in the directory with status `meta` be followed? As root, only in a
    /// directory that root owns and no one else can write.
    pub fn follows_links_in(&self, meta: &Metadata) -> bool {
        !self.as_root || (meta.uid() == 0 && !writable_by_others(meta))
    }

    /// Report `count` links of `dir` (status `meta`) left alone.
    pub fn links_not_followed(&mut self, dir: &Path, meta: &Metadata, count: usize) {
        let whose = if meta.uid() != 0 {
            format!("owned by {}", crate::safepath::user_name(meta.uid()))
        } else {
            format!(
                "writable by users other than root (mode {:04o})",
                meta.mode() & 0o7777
            )
        };
        self.not_walked.push(NotWalked {
            path: dir.to_path_buf(),
            why: format!(
                "{count} symbolic link{} not followed: the directory is {whose}, and a link there points where its owner chose (run as that user to look through them)",
                if count == 1 { "" } else { "s" }
            ),
            limit: false,
        });
    }
}

/// Writable by someone other than its owner and root: others, or a group other than root's.
fn writable_by_others(meta: &Metadata) -> bool {
    meta.mode() & 0o002 != 0 || (meta.mode() & 0o020 != 0 && meta.gid() != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("unitsmith-walk-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_directory_is_entered_once() {
        let d = tmp("once");
        let m = fs::metadata(&d).unwrap();
        let mut w = Walk::as_user(3, 10, false);
        assert!(w.enter(&d, &m, 0));
        assert!(!w.enter(&d.join("."), &m, 1), "the same inode again");
        assert!(w.not_walked.is_empty(), "walked already: nothing to report");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn depth_and_count_are_bounded_and_reported() {
        let d = tmp("bounds");
        let sub = d.join("sub");
        fs::create_dir_all(&sub).unwrap();
        let mut w = Walk::as_user(1, 2, false);
        assert!(w.enter(&d, &fs::metadata(&d).unwrap(), 1), "at the limit");
        assert!(!w.enter(&sub, &fs::metadata(&sub).unwrap(), 2), "past it");
        assert_eq!(w.not_walked.len(), 1);
        assert!(w.not_walked[0].limit && w.not_walked[0].why.contains("1 directory levels"));
        assert!(w.count(&d) && w.count(&d));
        assert!(!w.count(&d), "the third entry is over");
        assert!(!w.count(&d), "and every one after");
        assert_eq!(w.not_walked.len(), 2, "reported once");
        assert!(w.not_walked[1].why.contains("after 2 entries"));
        assert!(!w.enter(&sub, &fs::metadata(&sub).unwrap(), 0), "stopped");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn links_are_followed_as_root_only_in_roots_own_directories() {
        let d = tmp("links");
        let m = fs::metadata(&d).unwrap();
        assert!(
            Walk::as_user(3, 10, false).follows_links_in(&m),
            "not root: always"
        );
        let root_dir = fs::metadata("/").unwrap();
        assert!(Walk::as_user(3, 10, true).follows_links_in(&root_dir));
        let tmp_dir = fs::metadata(std::env::temp_dir()).unwrap();
        if tmp_dir.mode() & 0o002 != 0 {
            assert!(
                !Walk::as_user(3, 10, true).follows_links_in(&tmp_dir),
                "a world-writable directory"
            );
        }
        if m.uid() != 0 {
            assert!(!Walk::as_user(3, 10, true).follows_links_in(&m), "a user's");
        }
        let mut w = Walk::as_user(3, 10, true);
        w.links_not_followed(&d, &m, 40);
        assert!(w.not_walked[0]
            .why
            .starts_with("40 symbolic links not followed"));
        assert!(!w.not_walked[0].limit);
        fs::remove_dir_all(&d).unwrap();
    }
}

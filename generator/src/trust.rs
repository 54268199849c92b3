//! The inputs root acts on must be root's.
//!
//! A system unit made from a Quadlet file or an env gate runs as root (podman, an env gate's
//! `Exec=`): whoever can write the input can run commands as root. So when we run as root,
//! an input or drop-in that another user owns, or that a group other than root's or every
//! user can write, is not used: it becomes a failure stub that says why and how to fix it.
//! The file is checked through the descriptor it is read from (no race with a rename), so
//! a file swapped in by another user is seen as theirs. Every directory and link on the way to
//! it is checked too, before it is opened (see `walk.rs`). A user manager's generator runs as
//! that user and reads that user's files: nothing to check there.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;

/// Whether inputs are checked: we run as root (the system generator, root's helpers).
pub fn enforced() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { nix::libc::geteuid() == 0 }
}

/// Who a file read as an input may come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Anyone: a file that only informs (lint, doctor reading units).
    Anyone,
    /// Root alone may own it and write it (with root's group): an input root acts on.
    Root,
}

impl Owner {
    /// The rule for inputs and drop-ins: [`Owner::Root`] when we run as root, else anyone (a
    /// user manager's generator reads that user's own files).
    pub fn for_inputs() -> Owner {
        if enforced() {
            Owner::Root
        } else {
            Owner::Anyone
        }
    }

    /// Why a file with `m` (from the descriptor it is read from) must not be used, if so.
    pub fn check(self, m: &Metadata) -> Result<(), String> {
        match self {
            Owner::Anyone => Ok(()),
            Owner::Root => check_input(m),
        }
    }
}

/// Why an input or drop-in read as root, with metadata `m`, must not be used, if it must not.
pub fn check_input(m: &Metadata) -> Result<(), String> {
    if !m.is_file() {
        return Err("not used: not a regular file (a FIFO, device or socket)".into());
    }
    let mode = m.mode() & 0o7777;
    if m.uid() != 0 {
        return Err(format!(
            "not used: owned by uid {}, mode {mode:04o}; the units made from it run as root, so only root may own it (fix: chown root:root on it, or move it to a user's own Quadlet directory)",
            m.uid()
        ));
    }
    if mode & 0o002 != 0 || (mode & 0o020 != 0 && m.gid() != 0) {
        return Err(format!(
            "not used: {} can write it (mode {mode:04o}, group {}); the units made from it run as root (fix: chmod go-w on it)",
            if mode & 0o002 != 0 { "every user" } else { "its group" },
            m.gid()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{chown, PermissionsExt};

    /// A file with `mode`, owned by `uid:gid` (needs root; `None` without it).
    fn file_with(name: &str, uid: u32, gid: u32, mode: u32) -> Option<Metadata> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { nix::libc::geteuid() } != 0 {
            eprintln!("SKIPPED trust::tests: needs root (chown)");
            return None;
        }
        let p = std::env::temp_dir().join(format!("unitsmith-trust-{}-{name}", std::process::id()));
        std::fs::write(&p, "[Container]\n").unwrap();
        chown(&p, Some(uid), Some(gid)).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        let m = std::fs::metadata(&p).unwrap();
        std::fs::remove_file(&p).unwrap();
        Some(m)
    }

    /// Root's alone: owned by root, writable by root and root's group only. A group-readable
    /// file of another group (root:wheel 0644) is root's as well.
    #[test]
    fn what_root_may_act_on() {
        for (name, uid, gid, mode) in [
            ("root-0644", 0, 0, 0o644),
            ("root-0664", 0, 0, 0o664),
            ("wheel-0644", 0, 10, 0o644),
            ("root-0600", 0, 1000, 0o600),
        ] {
            let Some(m) = file_with(name, uid, gid, mode) else {
                return;
            };
            assert_eq!(check_input(&m), Ok(()), "{name}");
            assert_eq!(Owner::Root.check(&m), Ok(()), "{name}");
        }
    }

    #[test]
    fn what_root_refuses() {
        for (name, uid, gid, mode, says) in [
            (
                "user-0644",
                1000,
                1000,
                0o644,
                "owned by uid 1000, mode 0644",
            ),
            (
                "user-as-root-group",
                1000,
                0,
                0o600,
                "owned by uid 1000, mode 0600",
            ),
            (
                "group-1000-0664",
                0,
                1000,
                0o664,
                "its group can write it (mode 0664, group 1000)",
            ),
            (
                "world-0666",
                0,
                0,
                0o666,
                "every user can write it (mode 0666, group 0)",
            ),
            ("world-0602", 0, 0, 0o602, "every user can write it"),
        ] {
            let Some(m) = file_with(name, uid, gid, mode) else {
                return;
            };
            let e = check_input(&m).unwrap_err();
            assert!(e.contains(says), "{name}: {e}");
            assert!(e.starts_with("not used: "), "{name}: {e}");
            assert_eq!(Owner::Root.check(&m), Err(e), "{name}");
            // Anyone's files are anyone's (a user manager reads its user's own).
            assert_eq!(Owner::Anyone.check(&m), Ok(()), "{name}");
        }
        let dir = std::fs::metadata("/").unwrap();
        assert!(check_input(&dir)
            .unwrap_err()
            .contains("not a regular file"));
    }

    #[test]
    fn enforced_only_as_root() {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { nix::libc::geteuid() } == 0;
        assert_eq!(enforced(), root);
        let want = if root { Owner::Root } else { Owner::Anyone };
        assert_eq!(Owner::for_inputs(), want);
    }
}

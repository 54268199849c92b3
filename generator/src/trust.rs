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

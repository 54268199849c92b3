//! The inputs root acts on must be root's.
//!
//! A system unit made from a Quadlet file or an env gate runs as root (podman, an env gate's
//! `Exec=`): whoever can write the input can run commands as root. So when we run as root,
//! an input or drop-in that another user owns, or that a group other than root's or every
//! user can write, is not used: it becomes a failure stub that says why and how to fix it.
//! The file is checked through the descriptor it is read from (no race with a rename), so
//! a file swapped in by another user is seen as theirs. A user manager's generator runs as
//! that user and reads that user's files: nothing to check there.

use std::fs::File;
use std::os::unix::fs::MetadataExt;

extern "C" {
    fn geteuid() -> u32;
}

/// `O_NONBLOCK` as Linux defines it (the generator takes no libc crate): the generic value,
/// and the architectures whose ABI has its own.
#[cfg(any(target_arch = "mips", target_arch = "mips64"))]
pub const O_NONBLOCK: i32 = 0x80;
#[cfg(any(target_arch = "sparc", target_arch = "sparc64"))]
pub const O_NONBLOCK: i32 = 0x4000;
#[cfg(not(any(
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "sparc",
    target_arch = "sparc64"
)))]
pub const O_NONBLOCK: i32 = 0o4000;

/// Whether inputs are checked: we run as root (the system generator, root's helpers).
pub fn enforced() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { geteuid() == 0 }
}

/// Why `file` (an input or drop-in read as root) must not be used, if it must not.
pub fn check_input(file: &File) -> Result<(), String> {
    let m = file.metadata().map_err(|e| format!("cannot read: {e}"))?;
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

//! Trust is a walk: whether root may act on what a path leads to depends on every directory
//! and link on the way, not only on the file at its end.
//!
//! A unit made from an input runs as root; so does what an input's drop-ins, Compose file,
//! override, `.env` and `env_file:` files say. Whoever can write any directory on the way to
//! one of them can put their own file there, or swap a directory, or plant a link to a file
//! that *looks* like root's: a `/proc/PID/cmdline` of their own process is shown as root's,
//! mode 0444, with their bytes. So when we run as root, a path is walked from `/` one
//! component at a time, as systemd's `chase()` does, and each step is checked as sshd's
//! StrictModes checks a user's files:
//!
//! - every directory is root's and writable by no one else: no write bit for others, none for
//!   a group other than root's; except a sticky directory (`/tmp`), where only an entry's
//!   owner can replace it, so the next entry counts only when root owns it;
//! - a symbolic link is followed only from such a directory (in a sticky one, only a link
//!   root owns), and its target is walked the same way;
//! - a directory on a kernel file system (proc, sysfs, ...: see [`pseudo_fs`]) is refused.
//!
//! A directory is walked once per run: each step's verdict is kept ([`Paths`]), so an input
//! in a directory already walked costs one lookup. What fails is never followed: everything
//! below it is refused with the same message, which names the directory (or link), its owner,
//! its mode and the fix. Such a directory is still listed, without following any link in it
//! ([`list_untrusted`]), so that each input in it gets a failure stub that says why, within
//! limits of its own (`budget.rs`).
//!
//! A user manager's generator reads that user's own files: nothing to check there (the caller
//! decides, see `trust::enforced`).

use std::collections::HashMap;
use std::ffi::OsString;
use std::io;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, RwLock};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use crate::safe_read::Refused;
use crate::sources::Entry;

/// Most symbolic links followed for one path (the kernel's own limit).
pub const MAX_LINKS: usize = 40;

/// What the walk found of a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Root's, and writable by no one else. `open`: a sticky directory that others can write
    /// (`/tmp`): an entry there counts only when root owns it. `dev`: its device (a file
    /// system is looked at only where the device changes).
    Trusted { open: bool, dev: u64 },
    /// Not to be used, nor anything below it. `why`: the message, naming `at`, the directory
    /// or link that failed first. `list_from`: the last trusted directory above it, from which
    /// it may be listed without following a link; `None` when it cannot be (a link that was
    /// not followed).
    Refused {
        why: Arc<str>,
        at: PathBuf,
        list_from: Option<PathBuf>,
    },
}

/// A directory as the walk reached it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dir {
    /// Where it is: every link on the way resolved, up to the first refusal (below that,
    /// the rest of the path as it was written: nothing there is followed).
    pub path: PathBuf,
    pub verdict: Verdict,
}

impl Dir {
    /// A directory taken as it is (no checks: a user manager's, or a test's).
    pub fn unchecked(path: PathBuf) -> Dir {
        Dir {
            path,
            verdict: Verdict::Trusted {
                open: false,
                dev: 0,
            },
        }
    }

    /// Why nothing in it may be used, if so.
    pub fn refusal(&self) -> Option<&Arc<str>> {
        match &self.verdict {
            Verdict::Trusted { .. } => None,
            Verdict::Refused { why, .. } => Some(why),
        }
    }
}

/// One step of a walk: the entry `name` of a trusted directory.
#[derive(Debug, Clone)]
enum Step {
    Dir(Verdict),
    Link(PathBuf),
    /// The errno of what failed (the entry is missing, not a directory ...).
    Failed(i32),
}

/// The verdicts of one run, shared by its threads: every step walked once.
#[derive(Debug, Default)]
pub struct Paths {
    /// Each directory path as it was asked for, and where it led.
    asked: RwLock<HashMap<PathBuf, Result<Dir, i32>>>,
    /// Each entry of a trusted directory looked at (`resolved dir / name`).
    steps: RwLock<HashMap<PathBuf, Step>>,
}

fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(nix::libc::EIO)
}

/// Writable by someone other than its owner (root): others, or a group other than root's.
pub fn writable_by_others(m: &std::fs::Metadata) -> bool {
    m.mode() & 0o002 != 0 || (m.mode() & 0o020 != 0 && m.gid() != 0)
}

fn sticky(m: &std::fs::Metadata) -> bool {
    m.mode() & 0o1000 != 0
}

/// Why the directory `path` (with metadata `m`, not following a link) cannot be trusted.
fn dir_problem(path: &Path, m: &std::fs::Metadata) -> Option<String> {
    let mode = m.mode() & 0o7777;
    let p = path.display();
    if m.uid() != 0 {
        return Some(format!(
            "not used: {p} is owned by uid {}, mode {mode:04o}; every directory on the way to what root acts on must be root's, or its owner could put any file there (fix: chown root:root {p}, or move the files to that user's own Quadlet directory, ~/.config/containers/systemd, to run them as that user)",
            m.uid()
        ));
    }
    if writable_by_others(m) && !sticky(m) {
        let by = if m.mode() & 0o002 != 0 {
            "every user".to_string()
        } else {
            format!("group {}", m.gid())
        };
        return Some(format!(
            "not used: {p} can be written by {by} (owner uid 0, mode {mode:04o}); every directory on the way to what root acts on must be writable by root alone (fix: chmod go-w {p})"
        ));
    }
    None
}

/// The name of a kernel file system whose files root must not act on, when `magic` (from
/// `statfs`) is one. Their files show root as owner whoever decides what they hold (a
/// process's `/proc/PID/cmdline`), or are not files at all. tmpfs is not one (`/run` is
/// tmpfs); devtmpfs cannot be told from tmpfs, which is harmless: devices are refused as not
/// regular files, and only root makes entries in `/dev` (`/dev/shm` is sticky). FUSE is one
/// here: the owners and modes of its files are whatever its server says, and any user may
/// run one.
pub fn pseudo_fs(magic: u32) -> Option<&'static str> {
    use nix::libc as c;
    // Not in the libc crate: include/uapi/linux/magic.h.
    const CONFIGFS: u32 = 0x6265_6570;
    const EFIVARFS: u32 = 0xde5e_81e4;
    const PSTOREFS: u32 = 0x6165_676c;
    const BINFMTFS: u32 = 0x4249_4e4d;
    const MQUEUE: u32 = 0x1980_0202;
    const FUSECTL: u32 = 0x6573_5543;
    const RPC_PIPEFS: u32 = 0x6759_6969;
    let known: &[(u32, &str)] = &[
        (c::PROC_SUPER_MAGIC as u32, "proc"),
        (c::SYSFS_MAGIC as u32, "sysfs"),
        (c::DEVPTS_SUPER_MAGIC as u32, "devpts"),
        (c::DEBUGFS_MAGIC as u32, "debugfs"),
        (c::TRACEFS_MAGIC as u32, "tracefs"),
        (c::SECURITYFS_MAGIC as u32, "securityfs"),
        (c::CGROUP_SUPER_MAGIC as u32, "cgroup"),
        (c::CGROUP2_SUPER_MAGIC as u32, "cgroup2"),
        (c::BPF_FS_MAGIC as u32, "bpf"),
        (c::SELINUX_MAGIC as u32, "selinuxfs"),
        (c::SMACK_MAGIC as u32, "smackfs"),
        (c::NSFS_MAGIC as u32, "nsfs"),
        (c::OPENPROM_SUPER_MAGIC as u32, "openpromfs"),
        (c::XENFS_SUPER_MAGIC as u32, "xenfs"),
        (c::RDTGROUP_SUPER_MAGIC as u32, "resctrl"),
        (c::FUSE_SUPER_MAGIC as u32, "fuse"),
        (CONFIGFS, "configfs"),
        (EFIVARFS, "efivarfs"),
        (PSTOREFS, "pstore"),
        (BINFMTFS, "binfmt_misc"),
        (MQUEUE, "mqueue"),
        (FUSECTL, "fusectl"),
        (RPC_PIPEFS, "rpc_pipefs"),
    ];
    known.iter().find(|(m, _)| *m == magic).map(|(_, n)| *n)
}

/// The kernel file system `path` is on, when it is one root must not act on.
fn pseudo_fs_of(path: &Path) -> Option<&'static str> {
    let s = nix::sys::statfs::statfs(path).ok()?;
    // Every magic number fits in 32 bits; `f_type` is wider on some architectures.
    pseudo_fs(s.filesystem_type().0 as u32)
}

/// Look at the entry `here` of a trusted directory (`open`, `dev`: its verdict).
fn look(here: &Path, open: bool, dev: u64) -> Step {
    let m = match std::fs::symlink_metadata(here) {
        Ok(m) => m,
        Err(e) => return Step::Failed(errno(&e)),
    };
    let refused = |why: String, list_from: Option<PathBuf>| {
        Step::Dir(Verdict::Refused {
            why: why.into(),
            at: here.to_path_buf(),
            list_from,
        })
    };
    let t = m.file_type();
    if t.is_symlink() {
        if open && m.uid() != 0 {
            let dir = here.parent().unwrap_or(Path::new("/")).display();
            return refused(
                format!(
                    "not used: {} is a symbolic link owned by uid {} in {dir}, a directory every user can write; a link another user may have planted is not followed (fix: remove it, or have root make it)",
                    here.display(),
                    m.uid()
                ),
                None,
            );
        }
        return match std::fs::read_link(here) {
            Ok(target) => Step::Link(target),
            Err(e) => Step::Failed(errno(&e)),
        };
    }
    if !t.is_dir() {
        return Step::Failed(nix::libc::ENOTDIR);
    }
    let parent = here.parent().map(Path::to_path_buf);
    if let Some(why) = dir_problem(here, &m) {
        return refused(why, parent);
    }
    if m.dev() != dev {
        if let Some(fs) = pseudo_fs_of(here) {
            return refused(
                format!(
                    "not used: {} is on {fs}, a kernel file system: its files show root as their owner whoever decides what they hold, so root acts on none of them (fix: copy what is needed into a regular file under /etc)",
                    here.display()
                ),
                parent,
            );
        }
    }
    Step::Dir(Verdict::Trusted {
        open: writable_by_others(&m),
        dev: m.dev(),
    })
}

/// The normal components of `path`, last first (a stack to pop); `..` kept, `.` dropped.
fn components_reversed(path: &Path) -> Vec<OsString> {
    let mut v: Vec<OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect();
    v.reverse();
    v
}

impl Paths {
    /// The step `here` (an entry of a trusted directory), looked at once per run.
    fn step(&self, here: &Path, open: bool, dev: u64) -> Step {
        if let Some(s) = self.steps.read().ok().and_then(|m| m.get(here).cloned()) {
            return s;
        }
        let s = look(here, open, dev);
        if let Ok(mut m) = self.steps.write() {
            m.insert(here.to_path_buf(), s.clone());
        }
        s
    }

    /// The root directory's verdict.
    fn root(&self) -> Result<Dir, i32> {
        let root = Path::new("/");
        if let Some(Step::Dir(v)) = self.steps.read().ok().and_then(|m| m.get(root).cloned()) {
            return Ok(Dir {
                path: root.into(),
                verdict: v,
            });
        }
        let m = std::fs::symlink_metadata(root).map_err(|e| errno(&e))?;
        let verdict = match dir_problem(root, &m) {
            Some(why) => Verdict::Refused {
                why: why.into(),
                at: root.into(),
                list_from: None,
            },
            None => Verdict::Trusted {
                open: writable_by_others(&m),
                dev: m.dev(),
            },
        };
        if let Ok(mut s) = self.steps.write() {
            s.insert(root.into(), Step::Dir(verdict.clone()));
        }
        Ok(Dir {
            path: root.into(),
            verdict,
        })
    }

    /// Walk the directory `path` from `/` (see the module comment).
    fn chase(&self, path: &Path) -> Result<Dir, i32> {
        if !path.is_absolute() {
            // (`unitsmith lint ./units`): from the working directory, itself walked from `/`.
            let cwd = std::env::current_dir().map_err(|e| errno(&e))?;
            return self.chase(&cwd.join(path));
        }
        let mut stack = vec![self.root()?];
        let mut todo = components_reversed(path);
        let mut links = 0;
        while let Some(name) = todo.pop() {
            let top = stack.last().expect("the root stays");
            if name == ".." {
                if stack.len() > 1 && top.refusal().is_none() {
                    stack.pop();
                    continue;
                }
                if stack.len() == 1 {
                    continue;
                }
            }
            let (open, dev) = match &top.verdict {
                Verdict::Trusted { open, dev } => (*open, *dev),
                Verdict::Refused { .. } => {
                    // Below a refused directory nothing is looked at, let alone followed:
                    // the rest of the path is only named.
                    let mut rest = top.clone();
                    rest.path.push(&name);
                    while let Some(n) = todo.pop() {
                        rest.path.push(n);
                    }
                    return Ok(rest);
                }
            };
            let here = top.path.join(&name);
            match self.step(&here, open, dev) {
                Step::Dir(verdict) => stack.push(Dir {
                    path: here,
                    verdict,
                }),
                Step::Link(target) => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(nix::libc::ELOOP);
                    }
                    if target.is_absolute() {
                        stack.truncate(1);
                    }
                    todo.extend(components_reversed(&target));
                }
                Step::Failed(e) => return Err(e),
            }
        }
        Ok(stack.pop().expect("the root stays"))
    }

    /// The directory `path` leads to, and whether root may use what it holds: walked from
    /// `/` once per run (see the module comment). An error when the path cannot be walked
    /// (missing, not a directory, a loop of links, no permission).
    pub fn dir(&self, path: &Path) -> io::Result<Dir> {
        if let Some(r) = self.asked.read().ok().and_then(|m| m.get(path).cloned()) {
            return r.map_err(io::Error::from_raw_os_error);
        }
        let r = self.chase(path);
        if let Ok(mut m) = self.asked.write() {
            m.insert(path.to_path_buf(), r.clone());
        }
        r.map_err(io::Error::from_raw_os_error)
    }

    /// The entry `name` of `parent` (a directory this run walked or listed), as [`Paths::dir`]
    /// would find `parent.path/name`, without walking the parent again: a tree thousands of
    /// directories deep is walked in linear time.
    pub fn child(&self, parent: &Dir, name: &std::ffi::OsStr) -> io::Result<Dir> {
        let here = parent.path.join(name);
        let found = match &parent.verdict {
            Verdict::Refused { .. } => Ok(Dir {
                path: here.clone(),
                verdict: parent.verdict.clone(),
            }),
            Verdict::Trusted { open, dev } => match self.step(&here, *open, *dev) {
                Step::Dir(verdict) => Ok(Dir {
                    path: here.clone(),
                    verdict,
                }),
                // (A link's target is walked from `/`, as any path.)
                Step::Link(_) => return self.dir(&here),
                Step::Failed(e) => Err(e),
            },
        };
        if let Ok(mut m) = self.asked.write() {
            m.insert(here, found.clone());
        }
        found.map_err(io::Error::from_raw_os_error)
    }

    /// The file `path` leads to, for root to read: its directory walked (see [`Paths::dir`]),
    /// and a link at its end followed only as the walk allows. Returns a path with no link
    /// left in it, to be opened with `O_NOFOLLOW`. `listed_regular`: the listing of its
    /// directory showed a regular file (nothing to look at before opening it). What is not
    /// a regular file is refused here, before it is opened.
    pub fn file(&self, path: &Path, listed_regular: bool) -> Result<PathBuf, Refused> {
        let mut path = path.to_path_buf();
        let mut listed = listed_regular;
        for _ in 0..=MAX_LINKS {
            let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
                return Err(Refused::Io(io::Error::from_raw_os_error(nix::libc::EISDIR)));
            };
            let dir = self.dir(parent)?;
            let open = match &dir.verdict {
                Verdict::Refused { why, .. } => return Err(Refused::Untrusted(why.to_string())),
                Verdict::Trusted { open, .. } => *open,
            };
            let here = dir.path.join(name);
            if listed {
                return Ok(here);
            }
            let m = std::fs::symlink_metadata(&here)?;
            if !m.file_type().is_symlink() {
                if let Some(what) = crate::safe_read::kind_of(&m) {
                    return Err(Refused::NotRegular(what));
                }
                return Ok(here);
            }
            if open && m.uid() != 0 {
                return Err(Refused::Untrusted(format!(
                    "not used: {} is a symbolic link owned by uid {} in {}, a directory every user can write; a link another user may have planted is not followed (fix: remove it, or have root make it)",
                    here.display(),
                    m.uid(),
                    dir.path.display()
                )));
            }
            let target = std::fs::read_link(&here)?;
            path = dir.path.join(target);
            listed = false;
        }
        Err(Refused::Io(io::Error::from_raw_os_error(nix::libc::ELOOP)))
    }
}

/// The entries of `dir`, a directory root does not trust, for the names of the inputs in it
/// (each becomes a failure stub): opened one component at a time from `base`, the last
/// trusted directory above it, never through a link, so that a user cannot make root list a
/// directory of their choice. At most `max` entries are read; the flag says whether there
/// were more.
pub fn list_untrusted(dir: &Path, base: &Path, max: usize) -> io::Result<(Vec<Entry>, bool)> {
    let rel = dir
        .strip_prefix(base)
        .map_err(|_| io::Error::from_raw_os_error(nix::libc::EINVAL))?;
    let flags = OFlag::O_RDONLY
        | OFlag::O_DIRECTORY
        | OFlag::O_NOFOLLOW
        | OFlag::O_NONBLOCK
        | OFlag::O_CLOEXEC;
    let open = |at: Option<&OwnedFd>, name: &Path| -> io::Result<OwnedFd> {
        use std::os::fd::AsRawFd;
        let fd = nix::fcntl::openat(at.map(|f| f.as_raw_fd()), name, flags, Mode::empty())?;
        // SAFETY: openat returned a new descriptor that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    };
    let mut fd = open(None, base)?;
    for c in rel.components() {
        match c {
            Component::Normal(n) => fd = open(Some(&fd), Path::new(n))?,
            _ => return Err(io::Error::from_raw_os_error(nix::libc::EINVAL)),
        }
    }
    let mut d = nix::dir::Dir::from_fd(fd.into_raw_fd())?;
    let (mut out, mut more) = (Vec::new(), false);
    let dfd = {
        use std::os::fd::AsRawFd;
        d.as_raw_fd()
    };
    for e in d.iter() {
        let e = e?;
        let name = e.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        if out.len() >= max {
            more = true;
            break;
        }
        use nix::dir::Type;
        let t = match e.file_type() {
            Some(t) => Some(t),
            // A file system without types in its listing: look, never following a link.
            None => nix::sys::stat::fstatat(
                Some(dfd),
                e.file_name(),
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .ok()
            .map(|st| type_of_mode(st.st_mode)),
        };
        out.push(Entry {
            name: std::ffi::OsStr::from_bytes(name).to_os_string(),
            plain_file: t == Some(Type::File),
            dir: t == Some(Type::Directory),
            untrusted: true,
        });
    }
    Ok((out, more))
}

/// What an entry of mode `mode` (from `fstatat`, not following a link) is taken for, where
/// a listing shows no types: anything but a regular file or a directory as a link, which is
/// never read nor descended into.
fn type_of_mode(mode: nix::libc::mode_t) -> nix::dir::Type {
    use nix::dir::Type;
    match mode & nix::libc::S_IFMT {
        nix::libc::S_IFREG => Type::File,
        nix::libc::S_IFDIR => Type::Directory,
        _ => Type::Symlink,
    }
}

/// Mark the entries of `dir`, a sticky directory every user can write (`/tmp`), that root
/// does not own: their owners chose their names (see `sources::Input::untrusted`). An entry
/// that cannot be looked at (gone since the listing) is marked too.
pub fn mark_others_entries(dir: &Path, entries: &mut [Entry]) {
    for e in entries {
        e.untrusted = std::fs::symlink_metadata(dir.join(&e.name)).map_or(true, |m| m.uid() != 0);
    }
}

/// How much of the directories root does not trust is listed in one run: enough for the
/// stubs of a delegated directory's inputs, and no more, so that such a directory (made as
/// large or as deep as its owner likes) costs the run little (see `budget.rs`).
#[derive(Debug, Default)]
pub struct UntrustedListing {
    dirs: usize,
    entries: usize,
    /// Directories not listed once the limits were reached: how many, and the first few.
    left: (usize, Vec<PathBuf>),
}

impl UntrustedListing {
    /// The entries of the untrusted `dir` (see [`list_untrusted`]), within the limits;
    /// `None` when they are spent (`dir` is then counted for [`UntrustedListing::report`]).
    pub fn list(&mut self, dir: &Path, base: &Path) -> Option<io::Result<Vec<Entry>>> {
        use crate::budget::{MAX_UNTRUSTED_DIRS, MAX_UNTRUSTED_ENTRIES};
        if self.dirs >= MAX_UNTRUSTED_DIRS || self.entries >= MAX_UNTRUSTED_ENTRIES {
            self.leave(dir);
            return None;
        }
        self.dirs += 1;
        Some(
            list_untrusted(dir, base, MAX_UNTRUSTED_ENTRIES - self.entries).map(
                |(entries, more)| {
                    self.entries += entries.len();
                    if more {
                        self.entries = MAX_UNTRUSTED_ENTRIES;
                        self.leave(dir);
                    }
                    entries
                },
            ),
        )
    }

    fn leave(&mut self, dir: &Path) {
        self.left.0 += 1;
        if self.left.1.len() < 5 {
            self.left.1.push(dir.to_path_buf());
        }
    }

    /// The message for what was not listed, if anything was not.
    pub fn report(&self) -> Option<String> {
        let (n, first) = &self.left;
        if *n == 0 {
            return None;
        }
        let first: Vec<String> = first.iter().map(|p| p.display().to_string()).collect();
        Some(format!(
            "{n} director{} that root does not trust {} not listed, or not to the end (over the limit of {} directories and {} entries for such directories in one run): {}{}; inputs in them get no failure stub\n  hint: make them root's (chown root:root), or move what they hold to the users' own Quadlet directories",
            if *n == 1 { "y" } else { "ies" },
            if *n == 1 { "was" } else { "were" },
            crate::budget::MAX_UNTRUSTED_DIRS,
            crate::budget::MAX_UNTRUSTED_ENTRIES,
            first.join(", "),
            if *n > first.len() { ", ..." } else { "" }
        ))
    }
}

#[cfg(test)]
mod tests;

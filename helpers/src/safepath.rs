//! Paths that root writes to or trusts, opened so that no other user can steer them.
//!
//! Every writer and every reader of a file that decides what root does goes through here. A
//! path is walked one component at a time from `/`, each opened relative to the directory
//! before it with `O_NOFOLLOW` (as systemd's `chase()` does), and every directory on the way
//! is checked the way sshd's StrictModes checks a user's files:
//!
//! - it is owned by a trusted user (root, the user we run as, and whoever the caller adds,
//!   e.g. an env gate's consumer), and
//! - nobody else can write it: no write bit for others, none for a group other than root's —
//!   except in a sticky directory (`/tmp`, Debian's `/run/lock`), where only an entry's owner
//!   can replace it, so an entry there counts only when a trusted user owns it.
//!
//! A symbolic link is followed only where those rules say no other user could have made it,
//! and only to a path that is checked the same way. Whatever fails the rules is refused with
//! an error naming the path, its owner and its mode, and how to fix it: never followed.
//!
//! The result is a directory *descriptor*: files are then created, read and renamed relative
//! to it (`openat`, `renameat`), so the directory cannot be swapped between the check and the
//! use. Temporary files get unpredictable names and `O_EXCL|O_NOFOLLOW`; reads use
//! `O_NOFOLLOW|O_NONBLOCK` and accept only regular files (a FIFO must not hang the boot).

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::fcntl::{openat, readlinkat, renameat, OFlag};
use nix::libc;
use nix::sys::stat::{fchmod, fstat, fstatat, mkdirat, FileStat, Mode};
use nix::unistd::{unlinkat, UnlinkatFlags};

/// Most symbolic links followed in one path (the kernel's own limit).
const MAX_LINKS: usize = 40;

/// Who may own (and alone write) the directories and files we rely on.
pub struct Trust<'a> {
    uids: Vec<u32>,
    /// Asked about any other owner, only when one is met (it may be slow: a systemctl call).
    also: Option<&'a dyn Fn(u32) -> bool>,
    /// How the refusal message names the trusted users ("root", "root and the consumer's user").
    who: String,
    /// Check owners and modes (the default). Without: anything may be read, but a link is
    /// still followed only where no untrusted user could have made it.
    strict: bool,
}

impl<'a> Trust<'a> {
    /// Root and the user we run as.
    pub fn ours() -> Trust<'static> {
        let me = nix::unistd::geteuid().as_raw();
        let mut uids = vec![0];
        if me != 0 {
            uids.push(me);
        }
        Trust {
            uids,
            also: None,
            who: if me == 0 {
                "root".into()
            } else {
                format!("root or {}", user_name(me))
            },
            strict: true,
        }
    }

    /// Root only, whoever we are (a root-only directory).
    pub fn root_only() -> Trust<'static> {
        Trust {
            uids: vec![0],
            also: None,
            who: "root".into(),
            strict: true,
        }
    }

    /// Also trust the owners `also` accepts (asked lazily), described as `who`.
    pub fn with<'b>(self, also: &'b dyn Fn(u32) -> bool, who: &str) -> Trust<'b> {
        Trust {
            uids: self.uids,
            also: Some(also),
            who: format!("{} or {who}", self.who),
            strict: self.strict,
        }
    }

    /// Accept files and directories whoever owns or can write them (an explicit opt-in), but
    /// still follow a link only where no untrusted user could have made it: a file another
    /// user may write is one thing, a link that makes root read *root's* secrets another.
    pub fn links_only(mut self) -> Self {
        self.strict = false;
        self
    }

    pub fn trusts(&self, uid: u32) -> bool {
        self.uids.contains(&uid) || self.also.is_some_and(|f| f(uid))
    }
}

/// Why a path was not used.
#[derive(Debug)]
pub enum Error {
    /// The path, or a directory on it, does not exist.
    NotFound(PathBuf),
    /// Another user could have put it there or could change it: refused, not followed.
    Untrusted {
        path: PathBuf,
        why: String,
    },
    Io {
        path: PathBuf,
        err: io::Error,
    },
}

impl Error {
    fn io(path: &Path, err: impl Into<io::Error>) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            err: err.into(),
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound(_))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotFound(p) => write!(f, "{}: no such file or directory", p.display()),
            Error::Untrusted { path, why } => write!(f, "{}: {why}", path.display()),
            Error::Io { path, err } => write!(f, "{}: {err}", path.display()),
        }
    }
}

impl From<Error> for String {
    fn from(e: Error) -> String {
        e.to_string()
    }
}

/// "nobody (uid 65534)", or "uid 1234" for a uid without a name.
pub fn user_name(uid: u32) -> String {
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(u)) => format!("{} (uid {uid})", u.name),
        _ => format!("uid {uid}"),
    }
}

fn group_name(gid: u32) -> String {
    match nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid)) {
        Ok(Some(g)) => g.name,
        _ => format!("gid {gid}"),
    }
}

/// Writable by someone the owner's check does not cover: others, or a group other than root's.
fn writable_by_others(st: &FileStat) -> bool {
    st.st_mode & 0o002 != 0 || (st.st_mode & 0o020 != 0 && st.st_gid != 0)
}

fn sticky(st: &FileStat) -> bool {
    st.st_mode & 0o1000 != 0
}

fn kind(st: &FileStat) -> u32 {
    st.st_mode & libc::S_IFMT
}

/// The refusal for a file or directory itself: owned or writable by an untrusted user.
fn check_owner_and_mode(
    path: &Path,
    st: &FileStat,
    trust: &Trust,
    what: &str,
) -> Result<(), Error> {
    let mode = st.st_mode & 0o7777;
    if !trust.trusts(st.st_uid) {
        return Err(Error::Untrusted {
            path: path.to_path_buf(),
            why: format!(
                "{what} is owned by {}, mode {mode:04o}, and only {} may own it: its owner could make root read or write what they choose; refusing to use it. Fix: chown root {}, or use a path that only root can write",
                user_name(st.st_uid),
                trust.who,
                path.display()
            ),
        });
    }
    if writable_by_others(st) && !(kind(st) == libc::S_IFDIR && sticky(st)) {
        let by = if st.st_mode & 0o002 != 0 {
            "every user".to_string()
        } else {
            format!("group {}", group_name(st.st_gid))
        };
        return Err(Error::Untrusted {
            path: path.to_path_buf(),
            why: format!(
                "{what} can be written by {by} (owner {}, mode {mode:04o}), not only by {}; refusing to use it. Fix: chmod go-w {}",
                user_name(st.st_uid),
                trust.who,
                path.display()
            ),
        });
    }
    Ok(())
}

/// An entry of a sticky, world-writable directory can be made by any user: it counts only
/// when a trusted user owns it (then no one else can replace it). Without strict checks, only
/// links are looked at: one is followed only out of a directory that passes the strict check.
fn check_entry(
    dir: &Path,
    dir_st: &FileStat,
    path: &Path,
    st: &FileStat,
    trust: &Trust,
) -> Result<(), Error> {
    if !trust.strict {
        if kind(st) != libc::S_IFLNK {
            return Ok(());
        }
        return match check_owner_and_mode(dir, dir_st, trust, "the directory") {
            Err(Error::Untrusted { why, .. }) => Err(Error::Untrusted {
                path: path.to_path_buf(),
                why: format!(
                    "a symbolic link in a directory that users other than {} can write ({}: {why}); it is not followed even with the checks relaxed",
                    trust.who,
                    dir.display()
                ),
            }),
            r => r,
        }
        .and_then(|()| {
            if writable_by_others(dir_st) && sticky(dir_st) && !trust.trusts(st.st_uid) {
                Err(Error::Untrusted {
                    path: path.to_path_buf(),
                    why: format!(
                        "a symbolic link owned by {} in {}, a directory every user can write to; not followed",
                        user_name(st.st_uid),
                        dir.display()
                    ),
                })
            } else {
                Ok(())
            }
        });
    }
    if writable_by_others(dir_st) && sticky(dir_st) && !trust.trusts(st.st_uid) {
        let what = if kind(st) == libc::S_IFLNK {
            "a symbolic link"
        } else {
            "an entry"
        };
        return Err(Error::Untrusted {
            path: path.to_path_buf(),
            why: format!(
                "{what} owned by {} in {}, a directory every user can write to; another user may have planted it, so it is not followed or used. Fix: remove it (rm {}), or use a directory that only root can write",
                user_name(st.st_uid),
                dir.display(),
                path.display()
            ),
        });
    }
    Ok(())
}

fn open_path(dir: Option<&OwnedFd>, name: &OsStr) -> nix::Result<OwnedFd> {
    let fd = openat(
        dir.map(|d| d.as_raw_fd()),
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // SAFETY: openat returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A directory reached through checked components, held open.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

/// What to do about a directory on the path that does not exist.
#[derive(Clone, Copy)]
pub enum Missing {
    Fail,
    /// Create it with these permission bits (owned by us).
    Create(u32),
}

/// Open the directory `path`, checking every directory and link on the way (see the module
/// comment).
pub fn open_dir(path: &Path, trust: &Trust, missing: Missing) -> Result<Dir, Error> {
    if !path.is_absolute() {
        return Err(Error::io(
            path,
            io::Error::new(io::ErrorKind::InvalidInput, "not an absolute path"),
        ));
    }
    let root = open_path(None, OsStr::new("/")).map_err(|e| Error::io(Path::new("/"), e))?;
    let root_st = fstat(root.as_raw_fd()).map_err(|e| Error::io(Path::new("/"), e))?;
    if trust.strict {
        check_owner_and_mode(Path::new("/"), &root_st, trust, "the root directory")?;
    }
    // The directories walked so far: `..` goes back one.
    let mut stack: Vec<(OwnedFd, PathBuf, FileStat)> = vec![(root, PathBuf::from("/"), root_st)];
    let mut todo: Vec<OsString> = components_reversed(path);
    let mut links = 0;
    while let Some(name) = todo.pop() {
        if name == ".." {
            if stack.len() > 1 {
                stack.pop();
            }
            continue;
        }
        let (dfd, dpath, dst) = stack.last().expect("the root stays");
        let here = dpath.join(&name);
        let fd = match open_path(Some(dfd), &name) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => match missing {
                Missing::Fail => return Err(Error::NotFound(here)),
                Missing::Create(mode) => {
                    // A directory made now is ours; a concurrent maker's is checked below.
                    match mkdirat(
                        Some(dfd.as_raw_fd()),
                        name.as_os_str(),
                        Mode::from_bits_truncate(mode),
                    ) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e) => return Err(Error::io(&here, e)),
                    }
                    let fd = open_path(Some(dfd), &name).map_err(|e| Error::io(&here, e))?;
                    let st = fstat(fd.as_raw_fd()).map_err(|e| Error::io(&here, e))?;
                    if kind(&st) == libc::S_IFDIR && st.st_uid == nix::unistd::geteuid().as_raw() {
                        // The mode asked for, whatever the umask took away.
                        let rd = reopen_dir(&fd, &here)?;
                        let _ = fchmod(rd.as_raw_fd(), Mode::from_bits_truncate(mode));
                    }
                    fd
                }
            },
            Err(e) => return Err(Error::io(&here, e)),
        };
        let st = fstat(fd.as_raw_fd()).map_err(|e| Error::io(&here, e))?;
        check_entry(dpath, dst, &here, &st, trust)?;
        match kind(&st) {
            libc::S_IFLNK => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(Error::io(&here, Errno::ELOOP));
                }
                let target =
                    readlinkat(Some(fd.as_raw_fd()), "").map_err(|e| Error::io(&here, e))?;
                let target = PathBuf::from(target);
                if target.is_absolute() {
                    stack.truncate(1);
                }
                todo.extend(components_reversed(&target));
            }
            libc::S_IFDIR => {
                if trust.strict {
                    check_owner_and_mode(&here, &st, trust, "the directory")?;
                }
                stack.push((fd, here, st));
            }
            _ => return Err(Error::io(&here, Errno::ENOTDIR)),
        }
    }
    let (fd, path, _) = stack.pop().expect("the root stays");
    let fd = reopen_dir(&fd, &path)?;
    Ok(Dir { fd, path })
}

/// A readable descriptor for a directory held as O_PATH (fsync and listing need one).
fn reopen_dir(fd: &OwnedFd, path: &Path) -> Result<OwnedFd, Error> {
    let rd = openat(
        Some(fd.as_raw_fd()),
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::io(path, e))?;
    // SAFETY: a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(rd) })
}

/// The normal components of `path`, last first (a stack to pop), `.` dropped.
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

/// The directory and file name of `path` (which must name a file, not end in `/` or `..`).
pub fn split(path: &Path) -> Result<(&Path, &OsStr), Error> {
    match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) if !dir.as_os_str().is_empty() => Ok((dir, name)),
        _ => Err(Error::io(
            path,
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "not an absolute path to a file",
            ),
        )),
    }
}

/// A regular file opened for reading, with its status (from the descriptor, not the path).
pub struct Opened {
    pub file: File,
    pub stat: FileStat,
}

impl Opened {
    pub fn read_all(mut self, path: &Path, limit: u64) -> Result<Vec<u8>, Error> {
        let mut data = Vec::new();
        (&mut self.file)
            .take(limit + 1)
            .read_to_end(&mut data)
            .map_err(|e| Error::io(path, e))?;
        if data.len() as u64 > limit {
            return Err(Error::io(
                path,
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("larger than {limit} bytes"),
                ),
            ));
        }
        Ok(data)
    }
}

/// Open `name` in `dir` read-only: no link followed, no waiting on a FIFO, a regular file only.
fn open_regular(dirfd: Option<&OwnedFd>, name: &OsStr, path: &Path) -> Result<Opened, Error> {
    let fd = openat(
        dirfd.map(|d| d.as_raw_fd()),
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC | OFlag::O_NOCTTY,
        Mode::empty(),
    )
    .map_err(|e| match e {
        Errno::ENOENT => Error::NotFound(path.to_path_buf()),
        Errno::ELOOP => Error::Untrusted {
            path: path.to_path_buf(),
            why: "is a symbolic link, which is not followed here; refusing to use it. Fix: put the file itself there".into(),
        },
        e => Error::io(path, e),
    })?;
    // SAFETY: a new descriptor that nothing else owns.
    let file = unsafe { File::from_raw_fd(fd) };
    let stat = fstat(file.as_raw_fd()).map_err(|e| Error::io(path, e))?;
    if kind(&stat) != libc::S_IFREG {
        return Err(Error::Untrusted {
            path: path.to_path_buf(),
            why: "is not a regular file (a FIFO, device, socket or directory); refusing to read it"
                .into(),
        });
    }
    // Reads of a regular file never block anyway; the flag was only for the open.
    let _ = nix::fcntl::fcntl(
        file.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFL(OFlag::empty()),
    );
    Ok(Opened { file, stat })
}

/// Read a file that decides what root does (an env gate's `WaitFor=` file): links are followed
/// only where no other user could have made them, the directories and the file itself must
/// be owned by trusted users and writable by no one else (sshd's StrictModes).
pub fn open_trusted_file(path: &Path, trust: &Trust) -> Result<Opened, Error> {
    let mut path = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        let (dir_path, name) = split(&path)?;
        let dir = open_dir(dir_path, trust, Missing::Fail)?;
        let here = dir.path.join(name);
        let dst = fstat(dir.fd.as_raw_fd()).map_err(|e| Error::io(&dir.path, e))?;
        let entry = match open_path(Some(&dir.fd), name) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Err(Error::NotFound(here)),
            Err(e) => return Err(Error::io(&here, e)),
        };
        let st = fstat(entry.as_raw_fd()).map_err(|e| Error::io(&here, e))?;
        check_entry(&dir.path, &dst, &here, &st, trust)?;
        if kind(&st) == libc::S_IFLNK {
            let target =
                readlinkat(Some(entry.as_raw_fd()), "").map_err(|e| Error::io(&here, e))?;
            path = dir.path.join(target);
            continue;
        }
        let opened = open_regular(Some(&dir.fd), name, &here)?;
        if (opened.stat.st_dev, opened.stat.st_ino) != (st.st_dev, st.st_ino) {
            return Err(Error::io(
                &here,
                io::Error::new(
                    io::ErrorKind::Interrupted,
                    "replaced while being opened; try again",
                ),
            ));
        }
        if trust.strict {
            check_owner_and_mode(&here, &opened.stat, trust, "the file")?;
        }
        return Ok(opened);
    }
    Err(Error::io(&path, Errno::ELOOP))
}

impl Dir {
    /// A directory the caller reached by a walk of its own that follows no link at all and
    /// checks each directory as `open_dir` does (takeover inside an image tree, where even a
    /// root-owned absolute link would lead out of the tree), held the same way from then on.
    pub fn adopt(fd: OwnedFd, path: PathBuf) -> Dir {
        Dir { fd, path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A second descriptor of the directory itself (to `flock` it).
    pub fn try_clone_fd(&self) -> Result<OwnedFd, Error> {
        self.fd.try_clone().map_err(|e| Error::io(&self.path, e))
    }

    /// A regular file of this directory, read-only; `Ok(None)` when there is none.
    pub fn open_file(&self, name: &OsStr) -> Result<Option<Opened>, Error> {
        match open_regular(Some(&self.fd), name, &self.path.join(name)) {
            Ok(o) => Ok(Some(o)),
            Err(Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Open (creating with `mode` when missing) a file to lock: read-write, or read-only when
    /// only reading is allowed (flock works on either). Never through a link, never a FIFO.
    /// In a sticky world-writable directory, a file another user owns is refused (`trust`):
    /// that user could hold the lock forever.
    pub fn open_lock_file(&self, name: &OsStr, mode: u32, trust: &Trust) -> Result<File, Error> {
        let path = self.path.join(name);
        let dir_st = fstat(self.fd.as_raw_fd()).map_err(|e| Error::io(&self.path, e))?;
        let base = OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC | OFlag::O_NOCTTY;
        let open = |flags: OFlag| {
            openat(
                Some(self.fd.as_raw_fd()),
                name,
                base | flags,
                Mode::from_bits_truncate(mode),
            )
        };
        let fd = match open(OFlag::O_RDWR | OFlag::O_CREAT) {
            Err(Errno::EACCES) => open(OFlag::O_RDONLY),
            r => r,
        }
        .map_err(|e| match e {
            Errno::ELOOP => {
                let owner = fstatat(Some(self.fd.as_raw_fd()), name, AtFlags::AT_SYMLINK_NOFOLLOW)
                    .map_or_else(|_| "unknown".into(), |st| user_name(st.st_uid));
                Error::Untrusted {
                    path: path.clone(),
                    why: format!("is a symbolic link (owner {owner}); a lock file is never opened through one. Fix: remove the link, or lock the file itself"),
                }
            }
            e => Error::io(&path, e),
        })?;
        // SAFETY: a new descriptor that nothing else owns.
        let file = unsafe { File::from_raw_fd(fd) };
        let st = fstat(file.as_raw_fd()).map_err(|e| Error::io(&path, e))?;
        check_entry(&self.path, &dir_st, &path, &st, trust)?;
        if kind(&st) != libc::S_IFREG {
            return Err(Error::Untrusted {
                path,
                why: "is not a regular file; refusing to lock it".into(),
            });
        }
        let _ = nix::fcntl::fcntl(
            file.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFL(OFlag::empty()),
        );
        Ok(file)
    }

    /// Create a new temporary file for `name` with permission bits `mode`: an unpredictable
    /// name, `O_EXCL|O_NOFOLLOW` (nothing planted there is ever opened), a new name on a
    /// collision. Returns the file and its name. The file is `flock`ed for as long as it is
    /// open, which tells a live writer's temporary file from one a killed writer left behind
    /// (see [`Dir::remove_stale_temps`]).
    pub fn create_temp(&self, name: &OsStr, mode: u32) -> Result<(File, OsString), Error> {
        let mut last = Errno::EEXIST;
        for _ in 0..32 {
            let tmp = temp_name(name, random_u64());
            match openat(
                Some(self.fd.as_raw_fd()),
                tmp.as_os_str(),
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC
                    | OFlag::O_NOCTTY,
                Mode::from_bits_truncate(mode),
            ) {
                Ok(fd) => {
                    // SAFETY: a new descriptor that nothing else owns.
                    let file = unsafe { File::from_raw_fd(fd) };
                    // Exactly `mode`, whatever the umask: the file is never more open than that.
                    fchmod(file.as_raw_fd(), Mode::from_bits_truncate(mode))
                        .map_err(|e| Error::io(&self.path.join(&tmp), e))?;
                    // SAFETY: flock on a descriptor we own. A file system without flock only
                    // means its leftovers are never cleaned up, never that a live one is.
                    let _ = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
                    return Ok((file, tmp));
                }
                Err(Errno::EEXIST) => last = Errno::EEXIST,
                Err(e) => return Err(Error::io(&self.path.join(&tmp), e)),
            }
        }
        Err(Error::io(&self.path.join(name), last))
    }

    /// Remove the temporary files for `name` that a writer killed before its rename left
    /// behind (`kill -9`, a crash, power loss): they may hold secrets, and nothing else ever
    /// removes them. Only files of ours that no live writer holds (no `flock` on them) go;
    /// returns their names.
    pub fn remove_stale_temps(&self, name: &OsStr) -> Vec<OsString> {
        let prefix = temp_name(name, 0);
        let prefix = &prefix.as_bytes()[..prefix.len() - "0000000000000000.tmp".len()];
        let Ok(mut listing) = nix::dir::Dir::openat(
            Some(self.fd.as_raw_fd()),
            ".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) else {
            return Vec::new();
        };
        let stale: Vec<OsString> = listing
            .iter()
            .filter_map(Result::ok)
            .map(|e| OsStr::from_bytes(e.file_name().to_bytes()).to_os_string())
            .filter(|n| n.as_bytes().starts_with(prefix) && n.as_bytes().ends_with(b".tmp"))
            .collect();
        let me = nix::unistd::geteuid().as_raw();
        let mut removed = Vec::new();
        for tmp in stale {
            let Ok(o) = open_regular(Some(&self.fd), &tmp, &self.path.join(&tmp)) else {
                continue;
            };
            if o.stat.st_uid != me {
                continue;
            }
            // SAFETY: flock on a descriptor we own; the lock goes with it.
            let free =
                unsafe { libc::flock(o.file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
            if free {
                self.remove(&tmp);
                removed.push(tmp);
            }
        }
        removed
    }

    /// Rename `from` over `to`, both in this directory (a link at `to` is replaced, not followed).
    pub fn rename(&self, from: &OsStr, to: &OsStr) -> Result<(), Error> {
        let fd = Some(self.fd.as_raw_fd());
        renameat(fd, from, fd, to).map_err(|e| Error::io(&self.path.join(to), e))
    }

    pub fn remove(&self, name: &OsStr) {
        let _ = unlinkat(Some(self.fd.as_raw_fd()), name, UnlinkatFlags::NoRemoveDir);
    }

    /// Make the directory's entries durable (after a rename).
    pub fn sync(&self) -> Result<(), Error> {
        nix::unistd::fsync(self.fd.as_raw_fd()).map_err(|e| Error::io(&self.path, e))
    }

    /// Set the permission bits of a regular file here (never through a link).
    pub fn set_mode(&self, name: &OsStr, mode: u32) -> Result<(), Error> {
        if let Some(o) = self.open_file(name)? {
            if o.stat.st_mode & 0o7777 != mode {
                fchmod(o.file.as_raw_fd(), Mode::from_bits_truncate(mode))
                    .map_err(|e| Error::io(&self.path.join(name), e))?;
            }
        }
        Ok(())
    }
}

/// `.NAME.unitsmith-XXXXXXXXXXXXXXXX.tmp`: the temporary name of a file being written as NAME.
fn temp_name(name: &OsStr, n: u64) -> OsString {
    let mut tmp = OsString::from(".");
    tmp.push(name);
    tmp.push(format!(".unitsmith-{n:016x}.tmp"));
    tmp
}

/// 64 bits from the kernel's random pool (temporary names no other user can guess).
fn random_u64() -> u64 {
    let mut buf = [0u8; 8];
    // SAFETY: getrandom writes at most buf.len() bytes into buf. GRND_NONBLOCK: the boot path
    // must never wait for the entropy pool.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), libc::GRND_NONBLOCK) };
    if n != buf.len() as isize {
        // Only before the pool is initialised, very early at boot: still unique, and the
        // name's unpredictability is not what protects us (O_EXCL|O_NOFOLLOW is).
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        return t ^ (u64::from(std::process::id()) << 32);
    }
    u64::from_ne_bytes(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::io::Write as _;
    use std::os::unix::fs::{lchown, symlink, PermissionsExt};

    const NOBODY: u32 = 65534;

    fn base(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("unitsmith-safepath-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
        d
    }

    /// Tests that hand files to another user need root; say so where it is seen.
    fn root_or_skip(test: &str) -> bool {
        if nix::unistd::geteuid().is_root() {
            return true;
        }
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: needs root (chown to another user)"
        );
        false
    }

    fn untrusted(r: Result<Dir, Error>) -> String {
        match r {
            Err(e @ Error::Untrusted { .. }) => e.to_string(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn walks_and_creates_directories() {
        let b = base("walk");
        let d = open_dir(&b.join("x/y"), &Trust::ours(), Missing::Create(0o700)).unwrap();
        assert_eq!(d.path(), b.join("x/y"));
        assert_eq!(
            fs::metadata(b.join("x/y")).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert!(open_dir(&b.join("nope"), &Trust::ours(), Missing::Fail)
            .unwrap_err()
            .is_not_found());
        // `..` and links made by a trusted user are followed (as /var/run -> /run is).
        fs::create_dir_all(b.join("real/inner")).unwrap();
        symlink("../real", b.join("x/up")).unwrap();
        let d = open_dir(&b.join("x/up/inner"), &Trust::ours(), Missing::Fail).unwrap();
        assert_eq!(d.path(), b.join("real/inner"));
        fs::remove_dir_all(&b).unwrap();
    }

    #[test]
    fn refuses_a_directory_others_can_write() {
        let b = base("modes");
        fs::create_dir_all(b.join("open/sub")).unwrap();
        fs::set_permissions(b.join("open"), fs::Permissions::from_mode(0o777)).unwrap();
        let e = untrusted(open_dir(&b.join("open/sub"), &Trust::ours(), Missing::Fail));
        assert!(e.contains("/open: the directory"), "{e}");
        assert!(e.contains("mode 0777") && e.contains("every user"), "{e}");
        assert!(e.contains("chmod go-w"), "{e}");
        // Sticky (as /tmp): usable, and what we made in it is ours.
        fs::set_permissions(b.join("open"), fs::Permissions::from_mode(0o1777)).unwrap();
        open_dir(&b.join("open/sub"), &Trust::ours(), Missing::Fail).unwrap();
        fs::remove_dir_all(&b).unwrap();
    }

    #[test]
    fn refuses_what_another_user_owns_or_planted() {
        if !root_or_skip("refuses_what_another_user_owns_or_planted") {
            return;
        }
        let b = base("owners");
        // A directory of another user on the way: refused, naming the owner.
        fs::create_dir_all(b.join("theirs/sub")).unwrap();
        std::os::unix::fs::chown(b.join("theirs"), Some(NOBODY), None).unwrap();
        let e = untrusted(open_dir(
            &b.join("theirs/sub"),
            &Trust::ours(),
            Missing::Fail,
        ));
        assert!(
            e.contains("/theirs: the directory is owned by") && e.contains("65534"),
            "{e}"
        );
        // ... unless the caller trusts that user (an env gate's consumer).
        let consumer = |uid: u32| uid == NOBODY;
        let t = Trust::ours().with(&consumer, "the consumer's user");
        open_dir(&b.join("theirs/sub"), &t, Missing::Fail).unwrap();
        // A link another user planted in a sticky world-writable directory: not followed.
        fs::create_dir_all(b.join("tmp")).unwrap();
        fs::set_permissions(b.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
        fs::create_dir_all(b.join("target")).unwrap();
        symlink(b.join("target"), b.join("tmp/link")).unwrap();
        lchown(b.join("tmp/link"), Some(NOBODY), None).unwrap();
        let e = untrusted(open_dir(&b.join("tmp/link"), &Trust::ours(), Missing::Fail));
        assert!(
            e.contains("a symbolic link owned by") && e.contains("every user can write"),
            "{e}"
        );
        // The same link made by root is root's: followed.
        lchown(b.join("tmp/link"), Some(0), None).unwrap();
        assert_eq!(
            open_dir(&b.join("tmp/link"), &Trust::ours(), Missing::Fail)
                .unwrap()
                .path(),
            b.join("target")
        );
        fs::remove_dir_all(&b).unwrap();
    }

    #[test]
    fn trusted_files_strict_modes() {
        let b = base("files");
        let f = b.join("in.env");
        fs::write(&f, "A=1\n").unwrap();
        let o = open_trusted_file(&f, &Trust::ours()).unwrap();
        assert_eq!(o.read_all(&f, 100).unwrap(), b"A=1\n");
        fs::set_permissions(&f, fs::Permissions::from_mode(0o666)).unwrap();
        let e = open_trusted_file(&f, &Trust::ours())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("can be written by every user"), "{e}");
        fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
        // A link in a trusted directory is followed, and its target checked.
        symlink("in.env", b.join("link.env")).unwrap();
        open_trusted_file(&b.join("link.env"), &Trust::ours()).unwrap();
        // A FIFO is refused at once, not waited on.
        nix::unistd::mkfifo(&b.join("fifo"), Mode::from_bits_truncate(0o600)).unwrap();
        let e = open_trusted_file(&b.join("fifo"), &Trust::ours())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("not a regular file"), "{e}");
        assert!(open_trusted_file(&b.join("missing"), &Trust::ours())
            .err()
            .unwrap()
            .is_not_found());
        fs::remove_dir_all(&b).unwrap();
    }

    #[test]
    fn temporary_names_are_new_and_unpredictable() {
        let b = base("temp");
        let d = open_dir(&b, &Trust::ours(), Missing::Fail).unwrap();
        let (_, a) = d.create_temp(OsStr::new("out.env"), 0o600).unwrap();
        let (_, c) = d.create_temp(OsStr::new("out.env"), 0o600).unwrap();
        assert_ne!(a, c);
        let a = a.to_string_lossy();
        assert!(
            a.starts_with(".out.env.unitsmith-") && a.ends_with(".tmp"),
            "{a}"
        );
        assert!(!a.contains(&std::process::id().to_string()) || a.len() > 30);
        fs::remove_dir_all(&b).unwrap();
    }
}

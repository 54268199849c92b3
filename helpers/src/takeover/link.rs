//! The mask link `/etc/systemd/{system,user}-generators/podman-{system,user}-generator ->
//! /dev/null`, the way systemd.generator(7) documents disabling a generator. Every step is
//! relative to a directory descriptor opened without following links, from the root down, and
//! each directory on the way must belong to root (or to whoever runs us: a rootless image
//! build) and be writable by nobody else: a directory another user can change is never trusted
//! to hold, or to point, root's link.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fstat, fstatat, mkdirat, Mode, SFlag};
use nix::unistd::{symlinkat, unlinkat, UnlinkatFlags};

pub const DEV_NULL: &str = "/dev/null";

/// Which generator a link masks, and where.
#[derive(Debug, Clone)]
pub struct Mask {
    /// The tree the link lives in: `/`, or an image's root with `--root`.
    pub root: PathBuf,
    /// Directory components under `root` (`etc/systemd/system-generators`).
    pub dir: &'static [&'static str],
    /// Podman's generator's file name (`podman-system-generator`).
    pub name: &'static str,
}

impl Mask {
    /// The persistent mask (`/etc/...`) for the system or the user managers.
    pub fn etc(root: &Path, user: bool) -> Mask {
        Mask {
            root: root.to_path_buf(),
            dir: if user {
                &["etc", "systemd", "user-generators"]
            } else {
                &["etc", "systemd", "system-generators"]
            },
            name: podman_generator_name(user),
        }
    }

    /// The runtime directory, which systemd reads before `/etc` for generators.
    pub fn run(user: bool) -> Mask {
        Mask {
            root: PathBuf::from("/"),
            dir: if user {
                &["run", "systemd", "user-generators"]
            } else {
                &["run", "systemd", "system-generators"]
            },
            name: podman_generator_name(user),
        }
    }

    /// The link's full path, for messages.
    pub fn path(&self) -> PathBuf {
        let mut p = self.root.clone();
        for c in self.dir {
            p.push(c);
        }
        p.join(self.name)
    }

    /// The link's path as the system booted from `root` sees it (`/etc/systemd/...`): what
    /// takeover records.
    pub fn system_path(&self) -> PathBuf {
        let mut p = PathBuf::from("/");
        for c in self.dir {
            p.push(c);
        }
        p.join(self.name)
    }
}

pub fn podman_generator_name(user: bool) -> &'static str {
    if user {
        "podman-user-generator"
    } else {
        "podman-system-generator"
    }
}

/// What is at the mask's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Absent,
    /// A link to /dev/null: what `takeover` makes (or an administrator made the same way).
    DevNullLink,
    /// Masked some other way (an empty file): not ours to remove.
    OtherMask(String),
    /// Anything else: an administrator's own generator of that name, a link elsewhere.
    Other(String),
}

impl Entry {
    pub fn masks(&self) -> bool {
        matches!(self, Entry::DevNullLink | Entry::OtherMask(_))
    }

    /// `absent`, `masked`, `masked-other`, `other`: for tools.
    pub fn code(&self) -> &'static str {
        match self {
            Entry::Absent => "absent",
            Entry::DevNullLink => "masked",
            Entry::OtherMask(_) => "masked-other",
            Entry::Other(_) => "other",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Entry::Absent => "absent".into(),
            Entry::DevNullLink => format!("a link to {DEV_NULL}"),
            Entry::OtherMask(d) | Entry::Other(d) => d.clone(),
        }
    }
}

/// Look at the mask's path without changing anything. A missing directory is `Absent`.
pub fn inspect(mask: &Mask) -> Result<Entry, String> {
    match open_dir(mask, false)? {
        None => Ok(Entry::Absent),
        Some(dir) => entry_at(&dir, mask),
    }
}

/// Create the link (and its directory, mode 0755, when missing). `Ok(false)`: it was there.
pub fn create(mask: &Mask) -> Result<bool, String> {
    let dir =
        open_dir(mask, true)?.ok_or_else(|| format!("cannot create {}", mask.path().display()))?;
    match entry_at(&dir, mask)? {
        Entry::DevNullLink | Entry::OtherMask(_) => return Ok(false),
        Entry::Other(what) => return Err(in_the_way(mask, &what)),
        Entry::Absent => {}
    }
    match symlinkat(DEV_NULL, Some(dir.as_raw_fd()), mask.name) {
        Ok(()) => Ok(true),
        // Someone made one between our look and our link: judge what is there now.
        Err(Errno::EEXIST) => match entry_at(&dir, mask)? {
            e if e.masks() => Ok(false),
            e => Err(in_the_way(mask, &e.describe())),
        },
        Err(e) => Err(format!("cannot create {}: {e}", mask.path().display())),
    }
}

/// Remove the link if it is a link to /dev/null. `Ok(false)`: there was none.
pub fn remove(mask: &Mask) -> Result<bool, String> {
    let Some(dir) = open_dir(mask, false)? else {
        return Ok(false);
    };
    match entry_at(&dir, mask)? {
        Entry::Absent => Ok(false),
        Entry::DevNullLink => {
            unlinkat(Some(dir.as_raw_fd()), mask.name, UnlinkatFlags::NoRemoveDir)
                .map_err(|e| format!("cannot remove {}: {e}", mask.path().display()))?;
            Ok(true)
        }
        Entry::OtherMask(what) | Entry::Other(what) => Err(format!(
            "{} is {what}, not the link to {DEV_NULL} that `unitsmith takeover` makes: it is not \
             ours to remove\n  hint: it is an administrator's setting; remove or change it by hand",
            mask.path().display()
        )),
    }
}

fn in_the_way(mask: &Mask, what: &str) -> String {
    format!(
        "{} is {what}: something other than a mask is installed under the name of Podman's \
         generator, and unitsmith does not replace it\n  hint: move it away, then run `unitsmith \
         takeover` again",
        mask.path().display()
    )
}

fn entry_at(dir: &OwnedFd, mask: &Mask) -> Result<Entry, String> {
    let st = match fstatat(
        Some(dir.as_raw_fd()),
        mask.name,
        AtFlags::AT_SYMLINK_NOFOLLOW,
    ) {
        Ok(st) => st,
        Err(Errno::ENOENT) => return Ok(Entry::Absent),
        Err(e) => return Err(format!("cannot look at {}: {e}", mask.path().display())),
    };
    let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
    if kind == SFlag::S_IFLNK {
        let target = nix::fcntl::readlinkat(Some(dir.as_raw_fd()), mask.name)
            .map_err(|e| format!("cannot read the link {}: {e}", mask.path().display()))?;
        return Ok(if target == DEV_NULL {
            Entry::DevNullLink
        } else {
            Entry::Other(format!("a link to {}", Path::new(&target).display()))
        });
    }
    if kind == SFlag::S_IFREG && st.st_size == 0 {
        return Ok(Entry::OtherMask("an empty file (a mask)".into()));
    }
    Ok(Entry::Other(match kind {
        SFlag::S_IFREG => format!("a file of {} bytes", st.st_size),
        SFlag::S_IFDIR => "a directory".into(),
        _ => "a special file".into(),
    }))
}

/// Open the mask's directory (see `open_tree_dir`).
fn open_dir(mask: &Mask, create: bool) -> Result<Option<OwnedFd>, String> {
    open_tree_dir(&mask.root, mask.dir, create)
}

/// Open `root`/`dir`..., component by component, never following a link, checking each
/// directory's owner and mode; missing directories are made (mode 0755) when `create`.
/// `None` when a component is missing and `create` is false.
pub fn open_tree_dir(
    root: &Path,
    dir_components: &[&str],
    create: bool,
) -> Result<Option<OwnedFd>, String> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let mut dir = open_fd(nix::fcntl::open(root, flags, Mode::empty()))
        .map_err(|e| format!("cannot open {}: {e}", root.display()))?;
    let mut path = root.to_path_buf();
    check_trusted(&dir, &path)?;
    for comp in dir_components {
        path.push(comp);
        let at = |d: &OwnedFd| {
            openat(
                Some(d.as_raw_fd()),
                *comp,
                flags | OFlag::O_NOFOLLOW,
                Mode::empty(),
            )
        };
        let next = match open_fd(at(&dir)) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) if create => {
                match mkdirat(
                    Some(dir.as_raw_fd()),
                    *comp,
                    Mode::from_bits_truncate(0o755),
                ) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(format!("cannot create {}: {e}", path.display())),
                }
                open_fd(at(&dir)).map_err(|e| format!("cannot open {}: {e}", path.display()))?
            }
            Err(Errno::ENOENT) => return Ok(None),
            Err(Errno::ELOOP) | Err(Errno::ENOTDIR) => {
                return Err(format!(
                    "{} is not a directory (a link or a file): refusing to follow it\n  hint: \
                     systemd reads generators from a real directory there; fix it by hand",
                    path.display()
                ))
            }
            Err(e) => return Err(format!("cannot open {}: {e}", path.display())),
        };
        check_trusted(&next, &path)?;
        dir = next;
    }
    Ok(Some(dir))
}

fn open_fd(r: nix::Result<i32>) -> nix::Result<OwnedFd> {
    // SAFETY: a descriptor open() just returned is ours alone.
    r.map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A directory root's link may live in: owned by root (or by us) and writable by nobody else
/// (the write bit of root's group aside), as `safepath` judges the directories it walks.
/// takeover walks on its own rather than through `safepath` because it must also work inside
/// an image tree (`--root`), where following any link (an absolute one would land on this
/// machine) is wrong; and systemd's generator directories have no business being links.
fn check_trusted(dir: &OwnedFd, path: &Path) -> Result<(), String> {
    let st = fstat(dir.as_raw_fd()).map_err(|e| format!("cannot stat {}: {e}", path.display()))?;
    let me = nix::unistd::geteuid().as_raw();
    if st.st_uid != 0 && st.st_uid != me {
        return Err(format!(
            "{} belongs to {}, not root: refusing to put root's generator settings there\n  \
             hint: chown root: {}",
            path.display(),
            crate::safepath::user_name(st.st_uid),
            path.display()
        ));
    }
    let group_write = st.st_mode & 0o020 != 0 && st.st_gid != 0;
    if st.st_mode & 0o002 != 0 || group_write {
        return Err(format!(
            "{} is writable by another group or by everyone (mode {:04o}): refusing to put \
             root's generator settings there\n  hint: chmod go-w {}",
            path.display(),
            st.st_mode & 0o7777,
            path.display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn tree(tag: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("unitsmith-takeover-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
        d
    }

    #[test]
    fn create_is_idempotent_and_remove_undoes_it() {
        let root = tree("idem");
        let m = Mask::etc(&root, false);
        assert_eq!(inspect(&m).unwrap(), Entry::Absent);
        assert!(create(&m).unwrap(), "first call creates");
        assert_eq!(fs::read_link(m.path()).unwrap(), Path::new(DEV_NULL));
        assert!(!create(&m).unwrap(), "second call finds it");
        assert_eq!(inspect(&m).unwrap(), Entry::DevNullLink);
        assert!(remove(&m).unwrap());
        assert!(!remove(&m).unwrap(), "nothing left to remove");
        assert_eq!(inspect(&m).unwrap(), Entry::Absent);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn refuses_what_is_in_the_way() {
        let root = tree("way");
        let m = Mask::etc(&root, true);
        fs::create_dir_all(m.path().parent().unwrap()).unwrap();
        symlink("/usr/local/bin/my-generator", m.path()).unwrap();
        let e = create(&m).unwrap_err();
        assert!(
            e.contains("is a link to /usr/local/bin/my-generator"),
            "{e}"
        );
        assert!(e.contains("hint: move it away"), "{e}");
        let e = remove(&m).unwrap_err();
        assert!(e.contains("not ours to remove"), "{e}");
        assert_eq!(
            fs::read_link(m.path()).unwrap(),
            Path::new("/usr/local/bin/my-generator")
        );
        // An empty file masks too: takeover is satisfied, undo leaves it alone.
        fs::remove_file(m.path()).unwrap();
        fs::write(m.path(), "").unwrap();
        assert!(!create(&m).unwrap());
        assert!(remove(&m).is_err());
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn never_follows_a_linked_directory_or_trusts_a_writable_one() {
        let root = tree("trust");
        let elsewhere = tree("trust-elsewhere");
        fs::create_dir_all(root.join("etc")).unwrap();
        symlink(&elsewhere, root.join("etc/systemd")).unwrap();
        let m = Mask::etc(&root, false);
        let e = create(&m).unwrap_err();
        assert!(e.contains("refusing to follow it"), "{e}");
        assert_eq!(
            fs::read_dir(&elsewhere).unwrap().count(),
            0,
            "nothing written through the link"
        );

        fs::remove_file(root.join("etc/systemd")).unwrap();
        fs::create_dir_all(root.join("etc/systemd")).unwrap();
        fs::set_permissions(root.join("etc/systemd"), fs::Permissions::from_mode(0o777)).unwrap();
        let e = create(&m).unwrap_err();
        assert!(
            e.contains("writable by another group or by everyone (mode 0777)"),
            "{e}"
        );
        assert!(!m.path().exists());
        fs::remove_dir_all(&root).unwrap();
        fs::remove_dir_all(&elsewhere).unwrap();
    }
}

//! What `takeover` made, so that exactly that is undone: `/var/lib/unitsmith/takeover` (under
//! the image tree with `--root`) lists each mask link takeover itself created, one path a line
//! as the booted system sees it. The package's removal runs `takeover --undo --recorded`,
//! which removes a link only when it is listed here: a `/dev/null` link an administrator made
//! before takeover (or by hand) is never recorded, so never removed by the package.
//!
//! The directory is reached by the same walk as the link (link::open_tree_dir: no link
//! followed, each directory root's and writable by nobody else), so an image tree's state
//! never lands on the host. The file is rewritten atomically (temporary file, fsync, rename)
//! under an exclusive lock on the directory, and removed when it lists nothing.

use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};

use super::link::{self, Mask};
use crate::safepath::Dir;

/// `/var/lib/unitsmith`, as components under the root.
const DIR: &[&str] = &["var", "lib", "unitsmith"];
const NAME: &str = "takeover";
/// Far more than the two links there can be; a larger file is not ours.
const MAX_BYTES: u64 = 64 * 1024;
/// How long to wait for another takeover writing the file at the same time.
const LOCK_WAIT: Duration = Duration::from_secs(10);

const HEADER: &str = "# Links `unitsmith takeover` made, one a line. Its --undo, and removing the \
package (`takeover --undo --recorded`), remove only these.\n";

/// The state file's path under `root`, for messages.
pub fn path(root: &Path) -> PathBuf {
    let mut p = root.to_path_buf();
    for c in DIR {
        p.push(c);
    }
    p.join(NAME)
}

/// Does the state under `root` list `mask`'s link?
pub fn is_recorded(mask: &Mask) -> Result<bool, String> {
    let Some(dir) = open(&mask.root, false)? else {
        return Ok(false);
    };
    Ok(read(&dir)?.contains(&mask.system_path()))
}

/// List `mask`'s link (takeover just made it).
pub fn record(mask: &Mask) -> Result<(), String> {
    let dir = open(&mask.root, true)?
        .ok_or_else(|| format!("cannot create {}", path(&mask.root).display()))?;
    let _lock = lock(&dir)?;
    let mut links = read(&dir)?;
    let link = mask.system_path();
    if !links.contains(&link) {
        links.push(link);
        write(&dir, &links)?;
    }
    Ok(())
}

/// Stop listing `mask`'s link (it is gone, or is no longer the one takeover made).
pub fn forget(mask: &Mask) -> Result<(), String> {
    let Some(dir) = open(&mask.root, false)? else {
        return Ok(());
    };
    let _lock = lock(&dir)?;
    let mut links = read(&dir)?;
    let before = links.len();
    let link = mask.system_path();
    links.retain(|l| *l != link);
    if links.len() != before {
        write(&dir, &links)?;
    }
    Ok(())
}

fn open(root: &Path, create: bool) -> Result<Option<Dir>, String> {
    let at = path(root);
    let dir = at.parent().unwrap_or(root).to_path_buf();
    Ok(link::open_tree_dir(root, DIR, create)?.map(|fd| Dir::adopt(fd, dir)))
}

/// The recorded paths; none when there is no file.
fn read(dir: &Dir) -> Result<Vec<PathBuf>, String> {
    let name = OsStr::new(NAME);
    let file = dir.path().join(name);
    let Some(opened) = dir.open_file(name).map_err(String::from)? else {
        return Ok(Vec::new());
    };
    let data = opened.read_all(&file, MAX_BYTES).map_err(String::from)?;
    Ok(parse(&String::from_utf8_lossy(&data)))
}

fn parse(text: &str) -> Vec<PathBuf> {
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with('/'))
        .map(PathBuf::from)
        .collect()
}

fn render(links: &[PathBuf]) -> String {
    let mut s = String::from(HEADER);
    for l in links {
        s.push_str(&l.to_string_lossy());
        s.push('\n');
    }
    s
}

/// Replace the file with `links`, or remove it when there are none (nothing is left behind).
fn write(dir: &Dir, links: &[PathBuf]) -> Result<(), String> {
    let name = OsStr::new(NAME);
    if links.is_empty() {
        dir.remove(name);
        return dir.sync().map_err(String::from);
    }
    crate::atomic::write_in(dir, name, render(links).as_bytes(), 0o644).map_err(String::from)
}

/// An exclusive lock on the directory for one read-change-write, so that two takeovers at once
/// (system and `--user`) cannot lose each other's line. Bounded: another holder for longer
/// than LOCK_WAIT is reported.
fn lock(dir: &Dir) -> Result<Flock<OwnedFd>, String> {
    let mut slot = Some(dir.try_clone_fd().map_err(String::from)?);
    crate::retry::with_backoff(
        LOCK_WAIT,
        Duration::from_millis(10),
        Duration::from_millis(500),
        || {
            let f = slot.take()?;
            match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
                Ok(l) => Some(l),
                Err((f, _)) => {
                    slot = Some(f);
                    None
                }
            }
        },
    )
    .ok_or_else(|| {
        format!(
            "another unitsmith takeover holds {} for more than {} s",
            dir.path().display(),
            LOCK_WAIT.as_secs()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    fn tree(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("unitsmith-state-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
        d
    }

    #[test]
    fn records_each_link_once_and_forgets_it() {
        let root = tree("rec");
        let sys = Mask::etc(&root, false);
        let user = Mask::etc(&root, true);
        assert!(!is_recorded(&sys).unwrap(), "no state yet");
        assert!(!root.join("var").exists(), "looking creates nothing");
        record(&sys).unwrap();
        record(&sys).unwrap();
        record(&user).unwrap();
        let text = fs::read_to_string(path(&root)).unwrap();
        assert_eq!(
            text.lines()
                .filter(|l| !l.starts_with('#'))
                .collect::<Vec<_>>(),
            [
                "/etc/systemd/system-generators/podman-system-generator",
                "/etc/systemd/user-generators/podman-user-generator"
            ],
            "paths as the booted system sees them, each once: {text}"
        );
        assert!(is_recorded(&sys).unwrap() && is_recorded(&user).unwrap());
        forget(&sys).unwrap();
        assert!(!is_recorded(&sys).unwrap());
        assert!(is_recorded(&user).unwrap(), "the other line kept");
        forget(&user).unwrap();
        assert!(!path(&root).exists(), "an empty record is removed");
        forget(&user).unwrap();
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn an_image_trees_state_never_goes_through_a_link() {
        let root = tree("img");
        let elsewhere = tree("img-elsewhere");
        fs::create_dir_all(root.join("var")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, root.join("var/lib")).unwrap();
        let e = record(&Mask::etc(&root, false)).unwrap_err();
        assert!(e.contains("refusing to follow it"), "{e}");
        assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);
        fs::remove_dir_all(&root).unwrap();
        fs::remove_dir_all(&elsewhere).unwrap();
    }

    #[test]
    fn a_record_is_read_up_to_64_kib() {
        let root = tree("size");
        let sys = Mask::etc(&root, false);
        record(&sys).unwrap();
        // Comments of an administrator's (say) make it long: read all the same.
        let mut text = "# x\n".repeat(1000);
        text.push_str("/etc/systemd/system-generators/podman-system-generator\n");
        fs::write(path(&root), &text).unwrap();
        assert!(is_recorded(&sys).unwrap());
        fs::write(path(&root), "#".repeat(64 * 1024 + 1)).unwrap();
        let e = is_recorded(&sys).unwrap_err();
        assert!(e.contains("larger than 65536 bytes"), "{e}");
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn reads_only_paths() {
        assert_eq!(
            parse("# a comment\n\n/etc/a\n  /etc/b  \nrelative\n"),
            [PathBuf::from("/etc/a"), PathBuf::from("/etc/b")]
        );
        assert_eq!(
            parse(&render(&[PathBuf::from("/etc/x")])),
            [PathBuf::from("/etc/x")]
        );
    }
}

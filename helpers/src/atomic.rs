//! Atomic file writes: a temporary file in the same directory, fsync, rename over the target,
//! fsync the directory. Readers see the old file or the new one, never a torn one, even across
//! a crash.
//!
//! The one writer of every file a helper writes. The directory is opened through `safepath`
//! (checked, held as a descriptor), the temporary file is created relative to it with an
//! unpredictable name and `O_EXCL|O_NOFOLLOW`, and the rename happens in that same directory:
//! a link or file another user planted is never opened, truncated or followed.

use std::ffi::OsStr;
use std::io::Write;

use crate::safepath::{Dir, Error};

/// Write `data` as `name` in `dir` (opened with `safepath::open_dir`) atomically, with
/// permission bits `mode`.
///
/// A writer killed between the temporary file and the rename leaves that file behind (the
/// target itself is untouched); the next write of the same name removes it. The temporary file
/// stays open, and so `flock`ed, until the rename, so a live writer's is never taken for one.
pub fn write_in(dir: &Dir, name: &OsStr, data: &[u8], mode: u32) -> Result<(), Error> {
    for left in dir.remove_stale_temps(name) {
        log::info!(
            "removed {}: the temporary file of a write that was killed before it finished",
            dir.path().join(left).display()
        );
    }
    let (mut file, tmp) = dir.create_temp(name, mode)?;
    let result = (|| {
        let at = |e| Error::Io {
            path: dir.path().join(&tmp),
            err: e,
        };
        file.write_all(data).map_err(at)?;
        file.sync_all().map_err(at)?;
        dir.rename(&tmp, name)?;
        dir.sync()
    })();
    if result.is_err() {
        dir.remove(&tmp);
    }
    drop(file); // the lock on the temporary file ends here, after its rename or removal
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safepath::{self, Missing, Trust};
    use std::fs;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    fn write(path: &Path, data: &[u8], mode: u32) -> Result<(), Error> {
        let (dir, name) = safepath::split(path)?;
        let dir = safepath::open_dir(dir, &Trust::ours(), Missing::Create(0o755))?;
        write_in(&dir, name, data, mode)
    }

    #[test]
    fn writes_replaces_and_sets_mode() {
        let dir = std::env::temp_dir().join(format!("unitsmith-atomic-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let p = dir.join("sub/out.env");
        write(&p, b"A=1\n", 0o600).unwrap();
        write(&p, b"A=2\n", 0o640).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "A=2\n");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o640
        );
        assert_eq!(
            fs::read_dir(p.parent().unwrap()).unwrap().count(),
            1,
            "no temporary file left behind"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn leftovers_of_a_killed_writer_are_removed_a_live_ones_are_not() {
        let dir =
            std::env::temp_dir().join(format!("unitsmith-atomic-left-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let d = safepath::open_dir(&dir, &Trust::ours(), Missing::Create(0o755)).unwrap();
        let name = OsStr::new("out.env");
        // A writer killed mid-write: its temporary file, closed, so its lock gone.
        let (f, dead) = d.create_temp(name, 0o600).unwrap();
        drop(f);
        // A writer still writing: its file open, locked.
        let (live_file, live) = d.create_temp(name, 0o600).unwrap();
        // Another name's temporary file is not ours to judge.
        let (f, other) = d.create_temp(OsStr::new("other.env"), 0o600).unwrap();
        drop(f);
        write_in(&d, name, b"A=1\n", 0o600).unwrap();
        let left: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            !left.contains(&dead.to_string_lossy().into_owned()),
            "{left:?}"
        );
        assert!(
            left.contains(&live.to_string_lossy().into_owned()),
            "{left:?}"
        );
        assert!(
            left.contains(&other.to_string_lossy().into_owned()),
            "{left:?}"
        );
        assert_eq!(fs::read_to_string(dir.join("out.env")).unwrap(), "A=1\n");
        drop(live_file);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_link_at_the_target_is_replaced_not_followed() {
        let dir =
            std::env::temp_dir().join(format!("unitsmith-atomic-link-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let victim = dir.join("victim");
        fs::write(&victim, "keep\n").unwrap();
        let p = dir.join("out.env");
        std::os::unix::fs::symlink(&victim, &p).unwrap();
        write(&p, b"A=1\n", 0o600).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep\n");
        assert!(fs::symlink_metadata(&p).unwrap().file_type().is_file());
        fs::remove_dir_all(&dir).unwrap();
    }
}

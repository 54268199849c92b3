//! Where `unitsmith lint` looks when given no PATH: systemd's unit directories and the
//! directories the generator reads Quadlet inputs from, on this machine or inside `--root`
//! (as the image's own generator will see them at boot).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use unitsmith_generator::dirs;

use super::root::Root;

/// systemd's unit directories, highest priority first (systemd.unit(5), system manager).
pub const SYSTEM_UNIT_DIRS: &[&str] = &[
    "/etc/systemd/system.control",
    "/run/systemd/system.control",
    "/run/systemd/transient",
    "/run/systemd/generator.early",
    "/etc/systemd/system",
    "/etc/systemd/system.attached",
    "/run/systemd/system",
    "/run/systemd/system.attached",
    "/run/systemd/generator",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
    "/run/systemd/generator.late",
];

/// The distribution's unit directories: read for what pulls what in, reported on only when
/// given as a PATH.
pub const VENDOR_DIRS: &[&str] = &["/usr/lib/systemd/", "/lib/systemd/"];

pub fn unit_dirs(root: &Root) -> Vec<PathBuf> {
    SYSTEM_UNIT_DIRS
        .iter()
        .map(|d| root.join(Path::new(d)))
        .collect()
}

pub fn vendor_dirs(root: &Root) -> Vec<PathBuf> {
    VENDOR_DIRS
        .iter()
        .map(|d| root.join(Path::new(d)))
        .collect()
}

/// The Quadlet input directories, subdirectories included, as paths on this machine that
/// the generator's code can read (resolved inside the image with `--root`). On this machine
/// they are the generator's own search paths (`UNITSMITH_UNIT_DIRS`/`QUADLET_UNIT_DIRS`
/// included); in an image, the boot-time ones: the environment here says nothing about it.
pub fn quadlet_dirs(root: &Root) -> Vec<PathBuf> {
    if root.dir().is_none() {
        return dirs::search_paths(false).dirs;
    }
    let mut walk = Walk {
        root,
        dirs: Vec::new(),
        seen: HashSet::new(),
    };
    if !podman_generator_installed(root) {
        let users = Path::new(dirs::CONTAINERS_ETC).join("users");
        for base in [
            dirs::CONTAINERS_RUN,
            dirs::CONTAINERS_ETC,
            dirs::CONTAINERS_USR,
        ] {
            walk.add(&root.join(Path::new(base)), Some(&users));
        }
    }
    for base in dirs::OWN_SYSTEM {
        walk.add(&root.join(Path::new(base)), None);
    }
    walk.dirs
}

/// Podman's own Quadlet generator in the image's generator directories, not masked: it then
/// owns the containers directories, as `dirs::podman_generator_installed` decides here.
fn podman_generator_installed(root: &Root) -> bool {
    for dir in dirs::generator_dirs(false) {
        let path = root.join(&dir.join("podman-system-generator"));
        let Some(parent) = path.parent().and_then(|p| root.resolve(p)) else {
            continue;
        };
        if std::fs::symlink_metadata(parent.join("podman-system-generator")).is_err() {
            continue;
        }
        // The first one found decides: a link to /dev/null (or nowhere) masks it.
        return root
            .resolve(&path)
            .and_then(|p| std::fs::metadata(p).ok())
            .is_some_and(|m| m.is_file() && m.len() > 0);
    }
    false
}

/// Every directory under the bases, once, as the generator walks them: `*.d` drop-in
/// directories are not search paths, and `skip` (the per-user tree) is left out.
struct Walk<'a> {
    root: &'a Root,
    dirs: Vec<PathBuf>,
    seen: HashSet<PathBuf>,
}

impl Walk<'_> {
    fn add(&mut self, dir: &Path, skip: Option<&Path>) {
        let Some(resolved) = self.root.resolve(dir) else {
            return;
        };
        if !resolved.is_dir()
            || resolved.to_string_lossy().ends_with(".d")
            || skip.is_some_and(|s| self.root.image_path(&resolved).starts_with(s))
            || !self.seen.insert(resolved.clone())
        {
            return;
        }
        self.dirs.push(resolved.clone());
        for entry in self.root.list(&resolved).unwrap_or_default() {
            if self.root.is_dir(&entry) {
                self.add(&entry, skip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// In an image: the containers directories and their subdirectories, not `users/`, not
    /// `*.d`; a directory linked absolutely is the image's.
    #[test]
    fn quadlet_dirs_of_an_image() {
        let img = std::env::temp_dir().join(format!("unitsmith-search-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&img);
        for d in [
            "etc/containers/systemd/web",
            "etc/containers/systemd/users/1000",
            "etc/containers/systemd/web.container.d",
            "srv/quadlets",
            "etc/unitsmith",
        ] {
            std::fs::create_dir_all(img.join(d)).unwrap();
        }
        symlink("/srv/quadlets", img.join("etc/containers/systemd/linked")).unwrap();
        let root = Root::image(&img).unwrap();
        let img = root.dir().unwrap().to_path_buf();
        let got: Vec<PathBuf> = quadlet_dirs(&root)
            .iter()
            .map(|d| root.image_path(d))
            .collect();
        let want: Vec<PathBuf> = [
            "/etc/containers/systemd",
            "/srv/quadlets",
            "/etc/containers/systemd/web",
            "/etc/unitsmith",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(got, want);
        assert!(quadlet_dirs(&root).iter().all(|d| d.starts_with(&img)));
        let _ = std::fs::remove_dir_all(&img);
    }
}

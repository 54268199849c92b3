//! `--root DIR`: files as an image tree (mkosi, Packer, a chroot) will see them once booted.
//! Every lookup resolves symlinks inside DIR, as systemd's `--root` does: an absolute link
//! target starts again at DIR and `..` stops at DIR, so a link in the image never leads to
//! the build host's own files. Without `--root` the same calls are plain file-system calls.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};
use unitsmith_generator::safe_read::{self, Refused};

/// Links followed in one lookup before giving up, as the kernel's ELOOP limit.
const MAX_LINKS: usize = 40;

/// The tree files are read from: this machine's `/`, or an image directory.
#[derive(Debug, Clone, Default)]
pub struct Root {
    /// The image directory, canonical; `None` for this machine.
    dir: Option<PathBuf>,
}

/// One step of a path being resolved.
enum Step {
    Up,
    Name(OsString),
}

fn steps(p: &Path) -> impl Iterator<Item = Step> + '_ {
    p.components().filter_map(|c| match c {
        Component::Normal(n) => Some(Step::Name(n.to_os_string())),
        Component::ParentDir => Some(Step::Up),
        Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
    })
}

impl Root {
    /// This machine's own `/`.
    pub fn host() -> Root {
        Root { dir: None }
    }

    /// An image tree at `dir`, which must be a directory.
    pub fn image(dir: &Path) -> Result<Root, String> {
        let canonical =
            std::fs::canonicalize(dir).map_err(|e| format!("--root {}: {e}", dir.display()))?;
        if !canonical.is_dir() {
            return Err(format!("--root {}: not a directory", dir.display()));
        }
        Ok(Root {
            dir: Some(canonical),
        })
    }

    /// The image directory, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Where the image's `path` (absolute, or relative to the image's `/`) lies on this
    /// machine, links not resolved: DIR/path. On this machine, `path` itself.
    pub fn join(&self, path: &Path) -> PathBuf {
        match &self.dir {
            None => path.to_path_buf(),
            Some(d) => {
                let mut p = d.clone();
                p.extend(
                    path.components()
                        .filter(|c| matches!(c, Component::Normal(_))),
                );
                p
            }
        }
    }

    /// The image path of `path` (one under DIR, as [`Root::join`] makes them), for messages
    /// that speak of the booted image; on this machine, `path` itself.
    pub fn image_path(&self, path: &Path) -> PathBuf {
        match &self.dir {
            Some(d) => match path.strip_prefix(d) {
                Ok(rest) => Path::new("/").join(rest),
                Err(_) => path.to_path_buf(),
            },
            None => path.to_path_buf(),
        }
    }

    /// `path` (under DIR) with every link resolved inside DIR: a path on this machine with
    /// no link left in it below DIR, so the kernel follows nothing out of the image. `None`
    /// when it does not exist, leaves DIR, or has too many links. On this machine: `path`
    /// when it exists (the kernel resolves it).
    pub fn resolve(&self, path: &Path) -> Option<PathBuf> {
        let Some(dir) = &self.dir else {
            return std::fs::symlink_metadata(path)
                .is_ok()
                .then(|| path.to_path_buf());
        };
        let inside = path.strip_prefix(dir).ok()?;
        let mut done: Vec<OsString> = Vec::new();
        let mut todo: VecDeque<Step> = steps(inside).collect();
        let mut links = 0;
        while let Some(step) = todo.pop_front() {
            let name = match step {
                Step::Up => {
                    done.pop(); // `..` at DIR stays at DIR
                    continue;
                }
                Step::Name(n) => n,
            };
            let mut candidate = dir.clone();
            candidate.extend(&done);
            candidate.push(&name);
            let meta = std::fs::symlink_metadata(&candidate).ok()?;
            if !meta.file_type().is_symlink() {
                done.push(name);
                continue;
            }
            links += 1;
            if links > MAX_LINKS {
                return None;
            }
            let target = std::fs::read_link(&candidate).ok()?;
            if target.is_absolute() {
                done.clear();
            }
            let target_steps: Vec<Step> = steps(&target).collect();
            for s in target_steps.into_iter().rev() {
                todo.push_front(s);
            }
        }
        let mut out = dir.clone();
        out.extend(&done);
        Some(out)
    }

    pub fn exists(&self, path: &Path) -> bool {
        match &self.dir {
            None => path.exists(),
            Some(_) => self.resolve(path).is_some(),
        }
    }

    pub fn is_dir(&self, path: &Path) -> bool {
        match &self.dir {
            None => path.is_dir(),
            Some(_) => self.resolve(path).is_some_and(|p| p.is_dir()),
        }
    }

    pub fn is_file(&self, path: &Path) -> bool {
        match &self.dir {
            None => path.is_file(),
            Some(_) => self.resolve(path).is_some_and(|p| p.is_file()),
        }
    }

    /// Never a blocking read (a FIFO named like a unit) nor an unbounded one: `safe_read`.
    pub fn read(&self, path: &Path) -> Result<Vec<u8>, Refused> {
        match &self.dir {
            None => safe_read::read(path),
            Some(_) => match self.resolve(path) {
                Some(p) => safe_read::read(&p),
                None => Err(Refused::Io(not_in_image(path))),
            },
        }
    }

    /// The entries of directory `dir`, as `dir/NAME` (not resolved: the path the tree
    /// shows), sorted.
    pub fn list(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        let real = match &self.dir {
            None => dir.to_path_buf(),
            Some(_) => self.resolve(dir).ok_or_else(|| not_in_image(dir))?,
        };
        let mut out: Vec<PathBuf> = std::fs::read_dir(real)?
            .filter_map(|e| e.ok())
            .map(|e| dir.join(e.file_name()))
            .collect();
        out.sort();
        Ok(out)
    }

    /// Does the kernel, following `path`'s links on this machine, reach another file than
    /// the image does? (Code that reads files itself, the generator's, must not be handed
    /// such a path.)
    pub fn leaves_image(&self, path: &Path) -> bool {
        if self.dir.is_none() {
            return false;
        }
        match (self.resolve(path), std::fs::canonicalize(path).ok()) {
            (Some(inside), Some(host)) => inside != host,
            (None, None) => false,
            _ => true,
        }
    }
}

fn not_in_image(path: &Path) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::NotFound,
        format!(
            "{}: not found in the image (links are followed inside --root only)",
            path.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("unitsmith-root-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// An absolute link in the image means the image's file, never this machine's.
    #[test]
    fn absolute_links_stay_in_the_image() {
        let img = tmp("abs");
        let host = tmp("abs-host");
        std::fs::write(host.join("secret"), "host").unwrap();
        std::fs::create_dir_all(img.join("usr/bin")).unwrap();
        std::fs::create_dir_all(img.join("etc")).unwrap();
        std::fs::write(img.join("usr/bin/tool"), "image").unwrap();
        symlink("/usr/bin/tool", img.join("etc/tool")).unwrap();
        symlink(host.join("secret"), img.join("etc/secret")).unwrap();
        let root = Root::image(&img).unwrap();
        let img = root.dir().unwrap().to_path_buf();
        assert_eq!(
            root.resolve(&root.join(Path::new("/etc/tool"))),
            Some(img.join("usr/bin/tool"))
        );
        assert_eq!(root.read(&img.join("etc/tool")).unwrap(), b"image");
        // The link names a file that exists on this machine, not in the image.
        assert!(!root.exists(&img.join("etc/secret")));
        assert!(root.read(&img.join("etc/secret")).is_err());
        assert!(root.leaves_image(&img.join("etc/secret")));
        assert!(!root.leaves_image(&img.join("usr/bin/tool")));
        // This machine's root reads what the kernel reads.
        assert_eq!(Root::host().read(&img.join("etc/secret")).unwrap(), b"host");
        let _ = std::fs::remove_dir_all(&img);
        let _ = std::fs::remove_dir_all(&host);
    }

    /// `..` stops at the image's `/`; a merged-/usr `lib -> usr/lib` link is followed.
    #[test]
    fn dotdot_stops_at_the_image_root_and_relative_links_resolve() {
        let img = tmp("rel");
        std::fs::create_dir_all(img.join("usr/lib/systemd")).unwrap();
        std::fs::write(img.join("usr/lib/systemd/x"), "x").unwrap();
        symlink("usr/lib", img.join("lib")).unwrap();
        symlink(
            "../../../../../../usr/lib/systemd/x",
            img.join("usr/lib/up"),
        )
        .unwrap();
        symlink("loop", img.join("loop")).unwrap();
        let root = Root::image(&img).unwrap();
        let img = root.dir().unwrap().to_path_buf();
        assert_eq!(
            root.resolve(&img.join("lib/systemd/x")),
            Some(img.join("usr/lib/systemd/x"))
        );
        assert_eq!(
            root.resolve(&img.join("usr/lib/up")),
            Some(img.join("usr/lib/systemd/x"))
        );
        assert_eq!(root.resolve(&img.join("loop")), None);
        assert!(root.is_dir(&img.join("lib/systemd")));
        assert_eq!(
            root.list(&img.join("lib/systemd")).unwrap(),
            vec![img.join("lib/systemd/x")]
        );
        assert_eq!(
            root.image_path(&img.join("lib/systemd/x")),
            Path::new("/lib/systemd/x")
        );
        let _ = std::fs::remove_dir_all(&img);
    }
}

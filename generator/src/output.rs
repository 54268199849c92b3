//! Writing generated units into the directory systemd hands the generator.
//!
//! Files are created with O_EXCL: another generator's unit of the same name is a collision
//! to report, never something to overwrite. No fsync: the output is on tmpfs (/run) and is
//! rebuilt at every boot and reload.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use crate::generate::Generated;

/// Write one unit and its `TARGET.wants/` (`.requires/`, `.upholds/`) links under `dir` (the
/// generator's sink: called from worker threads as units become final). Missing
/// subdirectories are made on the way. One message per failure. Other links (`Alias=`) wait
/// for [`settle_links`]: they may name another unit's file.
pub fn write_unit(dir: &Path, u: &Generated) -> Result<(), String> {
    let mut errors: Vec<String> = Vec::new();
    if let Err(e) = write_text(dir, u) {
        errors.push(e);
    }
    for (link, target) in u.symlinks.iter().filter(|(l, _)| is_dependency_link(l)) {
        if let Err(e) = symlink_replacing(target, &dir.join(link)) {
            errors.push(e);
        }
    }
    match errors.is_empty() {
        true => Ok(()),
        false => Err(errors.join("\n")),
    }
}

fn write_text(dir: &Path, u: &Generated) -> Result<(), String> {
    TEXT.with_borrow_mut(|text| {
        text.clear();
        u.write_text(text);
        let path = dir.join(&u.name);
        with_parent(&path, || write_file(&path, text)).map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => format!(
                "{}: already exists (written by another generator?); not overwritten",
                path.display()
            ),
            _ => format!("{}: cannot write: {e}", path.display()),
        })
    })
}

/// Run `make`; when it fails because `path`'s directory is missing, make that and retry.
/// (Asking first would cost a syscall per file; most files go to directories that exist.)
fn with_parent(path: &Path, make: impl Fn() -> io::Result<()>) -> io::Result<()> {
    match make() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => match path.parent() {
            Some(parent) => {
                fs::create_dir_all(parent)?;
                make()
            }
            None => Err(e),
        },
        r => r,
    }
}

thread_local! {
    /// The text of the unit being written: one buffer per thread, reused for every unit.
    static TEXT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Create `path` (never overwriting: another generator's file of that name is a collision).
fn write_file(path: &Path, text: &str) -> io::Result<()> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?
        .write_all(text.as_bytes())
}

/// A link in a target's `.wants/`, `.requires/` or `.upholds/` directory: never the name of
/// a unit file or of a drop-in directory, so it can be made while other units are written.
fn is_dependency_link(link: &str) -> bool {
    link.rsplit_once('/').is_some_and(|(dir, _)| {
        !dir.contains('/')
            && [".wants", ".requires", ".upholds"]
                .iter()
                .any(|s| dir.ends_with(s))
    })
}

/// Make the links [`write_unit`] left, once every unit file is written: aliases, and links
/// that several units claim (made by their threads in whatever order they ran). The last
/// claim in unit order wins, as in Quadlet, and an alias replaces a unit file of its name.
/// One message per failure.
pub fn settle_links(dir: &Path, units: &[Generated]) -> Vec<String> {
    let n = units.iter().map(|u| u.symlinks.len()).sum();
    let mut claims: HashMap<&str, (&str, usize)> = HashMap::with_capacity(n);
    let mut order: Vec<&str> = Vec::with_capacity(n);
    for u in units {
        for (link, target) in &u.symlinks {
            let claim = claims.entry(link).or_insert_with(|| {
                order.push(link);
                (target, 0)
            });
            *claim = (target, claim.1 + 1);
        }
    }
    let mut errors = Vec::new();
    for link in order {
        let Some(&(target, n)) = claims.get(link) else {
            continue;
        };
        if n > 1 || !is_dependency_link(link) {
            if let Err(e) = symlink_replacing(target, &dir.join(link)) {
                errors.push(e);
            }
        }
    }
    errors
}

/// Quadlet replaces an existing link: several inputs may share a target's .wants/.
fn symlink_replacing(target: &str, link: &Path) -> Result<(), String> {
    let make = || std::os::unix::fs::symlink(target, link);
    let made = match with_parent(link, make) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let _ = fs::remove_file(link);
            make()
        }
        r => r,
    };
    made.map_err(|e| format!("{}: cannot create symlink: {e}", link.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unitfile::UnitFile;

    fn unit(name: &str, links: &[(&str, &str)]) -> Generated {
        Generated {
            name: name.to_string(),
            unit: UnitFile::new(name),
            source: name.into(),
            error: None,
            symlinks: (links.iter())
                .map(|(l, t)| (l.to_string(), t.to_string()))
                .collect(),
        }
    }

    /// Threads may write two claimants of a link in either order; settling gives it to the
    /// later unit, and makes the aliases that writing left out.
    #[test]
    fn settling_gives_contested_links_to_the_later_unit() {
        let dir = std::env::temp_dir().join(format!("unitsmith-out-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let link = "multi-user.target.wants/t@x.service";
        let first = unit("t@.service", &[(link, "../t@.service")]);
        let later = unit(
            "t@x.service",
            &[(link, "../t@x.service"), ("alias.service", "t@x.service")],
        );
        // The later unit written first: its link is then replaced by the earlier unit's.
        write_unit(&dir, &later).unwrap();
        write_unit(&dir, &first).unwrap();
        assert_eq!(
            fs::read_link(dir.join(link)).unwrap(),
            Path::new("../t@.service")
        );
        assert!(fs::symlink_metadata(dir.join("alias.service")).is_err());
        let errors = settle_links(&dir, &[first, later]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            fs::read_link(dir.join(link)).unwrap(),
            Path::new("../t@x.service")
        );
        assert_eq!(
            fs::read_link(dir.join("alias.service")).unwrap(),
            Path::new("t@x.service")
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}

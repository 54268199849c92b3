//! Writing generated units into the directory systemd hands the generator.
//!
//! Files are created with O_EXCL: another generator's unit of the same name is a collision
//! to report, never something to overwrite. No fsync: the output is on tmpfs (/run) and is
//! rebuilt at every boot and reload.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::generate::Generated;

/// Write every unit and its `[Install]` symlinks under `dir`; one message per failure.
/// Directories are made first, then unit files and symlinks together, in parallel.
pub fn write_all(dir: &Path, units: &[Generated]) -> Vec<String> {
    let mut errors = Vec::new();
    // Subdirectories (NAME.d/, TARGET.wants/): collected by their relative names first, so
    // thousands of units in the top directory cost no path building at all.
    let mut subdirs: BTreeSet<&str> = BTreeSet::new();
    for u in units {
        let paths =
            std::iter::once(u.name.as_str()).chain(u.symlinks.iter().map(|(l, _)| l.as_str()));
        for p in paths {
            if let Some((parent, _)) = p.rsplit_once('/') {
                subdirs.insert(parent);
            }
        }
    }
    let dirs: Vec<PathBuf> = subdirs.into_iter().map(|d| dir.join(d)).collect();
    for d in &dirs {
        if let Err(e) = fs::create_dir_all(d) {
            errors.push(format!("{}: cannot create directory: {e}", d.display()));
        }
    }
    // Two units may claim the same link: the later one wins, as in Quadlet. With that
    // settled first, every file and link is independent: one parallel pass makes them all
    // (links need not wait for their targets).
    let mut links: BTreeMap<&str, &str> = BTreeMap::new();
    for u in units {
        for (link, target) in &u.symlinks {
            links.insert(link, target);
        }
    }
    let jobs: Vec<Job> = units
        .iter()
        .map(Job::Unit)
        .chain(
            links
                .into_iter()
                .map(|(link, target)| Job::Link { link, target }),
        )
        .collect();
    let results = crate::parallel::map(&jobs, |job| match job {
        Job::Unit(u) => write_unit(dir, u),
        Job::Link { link, target } => symlink_replacing(target, &dir.join(link)),
    });
    errors.extend(results.into_iter().filter_map(|r| r.err()));
    errors
}

/// One thing to create in the output directory.
enum Job<'a> {
    Unit(&'a Generated),
    Link { link: &'a str, target: &'a str },
}

thread_local! {
    /// The text of the unit being written: one buffer per thread, reused for every unit.
    static TEXT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

fn write_unit(dir: &Path, u: &Generated) -> Result<(), String> {
    TEXT.with_borrow_mut(|text| {
        text.clear();
        u.write_text(text);
        write_file(&dir.join(&u.name), text)
    })
}

/// Create `path` (never overwriting: another generator's file of that name is a collision).
fn write_file(path: &Path, text: &str) -> Result<(), String> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => {
                format!(
                    "{}: already exists (written by another generator?); not overwritten",
                    path.display()
                )
            }
            _ => format!("{}: cannot create: {e}", path.display()),
        })?;
    f.write_all(text.as_bytes())
        .map_err(|e| format!("{}: cannot write: {e}", path.display()))
}

/// Quadlet replaces an existing link: several inputs may share a target's .wants/.
fn symlink_replacing(target: &str, link: &Path) -> Result<(), String> {
    let made = match std::os::unix::fs::symlink(target, link) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let _ = fs::remove_file(link);
            std::os::unix::fs::symlink(target, link)
        }
        r => r,
    };
    made.map_err(|e| format!("{}: cannot create symlink: {e}", link.display()))
}

//! Writing generated units into the directory systemd hands the generator.
//!
//! Files are created with O_EXCL: another generator's unit of the same name is a collision
//! to report, never something to overwrite. No fsync: the output is on tmpfs (/run) and is
//! rebuilt at every boot and reload.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use crate::generate::Generated;

/// Write one unit under `dir` (the generator's sink: called from worker threads as units
/// become final). A unit in a subdirectory (a drop-in, `NAME.d/x.conf`) gets it made.
pub fn write_unit(dir: &Path, u: &Generated) -> Result<(), String> {
    TEXT.with_borrow_mut(|text| {
        text.clear();
        u.write_text(text);
        let path = dir.join(&u.name);
        match write_file(&path, text) {
            Err(e) if e.kind() == io::ErrorKind::NotFound && u.name.contains('/') => {
                let parent = path.parent().unwrap_or(dir);
                fs::create_dir_all(parent)
                    .map_err(|e| format!("{}: cannot create directory: {e}", parent.display()))?;
                write_file(&path, text)
            }
            r => r,
        }
        .map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => format!(
                "{}: already exists (written by another generator?); not overwritten",
                path.display()
            ),
            _ => format!("{}: cannot write: {e}", path.display()),
        })
    })
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

/// Make the `[Install]` symlinks of every unit under `dir`; one message per failure. Done
/// once all units are known: two units may claim the same link, and the later one wins, as
/// in Quadlet. With that settled, the links are independent and made in parallel (they
/// need not wait for their targets).
pub fn write_links(dir: &Path, units: &[Generated]) -> Vec<String> {
    let mut errors = Vec::new();
    let mut links: BTreeMap<&str, &str> = BTreeMap::new();
    for u in units {
        for (link, target) in &u.symlinks {
            links.insert(link, target);
        }
    }
    // Their directories (TARGET.wants/ ...) by relative name first: thousands of links in a
    // few directories cost a few path joins.
    let subdirs: BTreeSet<&str> = (links.keys())
        .filter_map(|l| l.rsplit_once('/').map(|(parent, _)| parent))
        .collect();
    for d in subdirs.into_iter().map(|d| dir.join(d)) {
        if let Err(e) = fs::create_dir_all(&d) {
            errors.push(format!("{}: cannot create directory: {e}", d.display()));
        }
    }
    let links: Vec<(&str, &str)> = links.into_iter().collect();
    let results = crate::parallel::map(&links, |(link, target)| {
        symlink_replacing(target, &dir.join(link))
    });
    errors.extend(results.into_iter().filter_map(|r| r.err()));
    errors
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

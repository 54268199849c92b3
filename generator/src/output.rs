//! Writing generated units into the directory systemd hands the generator.
//!
//! Files are created with O_EXCL: another generator's unit of the same name is a collision
//! to report, never something to overwrite. No fsync: the output is on tmpfs (/run) and is
//! rebuilt at every boot and reload.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use crate::generate::Generated;

/// Write one unit and its `[Install]` symlinks under `dir`. Errors name the path.
pub fn write_unit(dir: &Path, unit: &Generated) -> Result<(), String> {
    let path = dir.join(&unit.name);
    let text = unit.text();
    // Drop-ins live in NAME.d/ subdirectories.
    if let Some(parent) = path.parent().filter(|p| *p != dir) {
        fs::create_dir_all(parent).map_err(|e| format!("{}: cannot create directory: {e}", parent.display()))?;
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
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
        .map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
    for (link, target) in &unit.symlinks {
        let lpath = dir.join(link);
        if let Some(parent) = lpath.parent() {
            if let Err(e) = fs::create_dir_all(parent) {
                return Err(format!(
                    "{}: cannot create directory: {e}",
                    parent.display()
                ));
            }
        }
        // Quadlet replaces an existing link: several inputs may share a target's .wants/.
        let _ = fs::remove_file(&lpath);
        std::os::unix::fs::symlink(target, &lpath)
            .map_err(|e| format!("{}: cannot create symlink: {e}", lpath.display()))?;
    }
    Ok(())
}

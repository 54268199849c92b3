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

/// The unit `input` is meant to give, from its name alone (for stubs made without reading
/// it); `None` when no valid unit name can be made of it.
pub fn unit_name_of(input: &crate::sources::Input) -> Option<String> {
    let name = match input.kind {
        crate::sources::InputKind::EnvGate => crate::envgate::service_name(&input.name),
        crate::sources::InputKind::Quadlet(_) => {
            crate::quadlet::service_name_from_filename(&input.name)? + ".service"
        }
    };
    match crate::unitname::check(&name) {
        Ok(()) => Some(name),
        Err(_) => Some(crate::unitname::mangle(name.as_bytes()))
            .filter(|m| crate::unitname::check(m).is_ok()),
    }
}

/// A failure stub, failing with `why`, for every input of `inputs` that has no unit in `dir`
/// yet (the watchdog's last act: see `watchdog.rs`). Returns how many were written and the
/// inputs left without a unit (no valid name, or the stub could not be written).
pub fn write_missing_stubs(
    dir: &Path,
    inputs: &[crate::sources::Input],
    why: &str,
) -> (usize, Vec<String>) {
    let (mut written, mut left) = (0, Vec::new());
    for input in inputs {
        let path = crate::badname::shown_path(&input.path);
        let Some(name) = unit_name_of(input) else {
            left.push(path);
            continue;
        };
        let error = format!("{path}: {why}");
        let stub = Generated {
            unit: crate::stub::failure_stub(&name, &input.path, &error, None),
            name,
            source: input.path.clone(),
            error: Some(error),
            symlinks: Vec::new(),
        };
        match write_text(dir, &stub) {
            Ok(()) => written += 1,
            // Written already (O_EXCL): the unit is there, real or stub.
            Err(_) if fs::symlink_metadata(dir.join(&stub.name)).is_ok() => {}
            Err(_) => left.push(path),
        }
    }
    (written, left)
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

    /// The watchdog's stubs go exactly where no unit is yet, under each input's unit name.
    #[test]
    fn missing_stubs_fill_only_the_gaps() {
        use crate::sources::{Input, InputKind};
        let dir = std::env::temp_dir().join(format!("unitsmith-stubs-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("done.service"), "# the real unit\n").unwrap();
        let kind = InputKind::Quadlet(crate::quadlet::Kind::Container);
        let inputs: Vec<Input> = [
            "done.container",
            "hung.container",
            "sp ace.container",
            "@.container",
        ]
        .iter()
        .map(|n| Input::at(Path::new("/in").join(n), kind))
        .chain([Input::at(
            "/in/db.volume".into(),
            InputKind::Quadlet(crate::quadlet::Kind::Volume),
        )])
        .collect();
        let (written, left) = write_missing_stubs(&dir, &inputs, "not generated: timed out");
        assert_eq!(written, 3, "hung, sp ace, db");
        assert_eq!(left, vec!["/in/@.container".to_string()]);
        assert_eq!(
            fs::read_to_string(dir.join("done.service")).unwrap(),
            "# the real unit\n"
        );
        for stub in ["hung.service", "sp\\x20ace.service", "db-volume.service"] {
            let text = fs::read_to_string(dir.join(stub)).unwrap();
            assert!(text.contains("not generated: timed out"), "{stub}: {text}");
        }
        fs::remove_dir_all(&dir).unwrap();
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

//! Which systemd the units will run under, so that lint judges them by that release's keys:
//! `--systemd-version N`; with `--root DIR`, the systemd installed in DIR (its
//! `libsystemd-shared-N.so`); otherwise the running manager when systemd is PID 1, else the
//! systemd installed here. Releases the key data does not cover are judged by its nearest
//! table, and the report says so.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::keys;
use super::root::Root;
use crate::systemctl;

/// Where systemd installs libsystemd-shared-N.so: upstream's default, lib64 (Fedora, SUSE),
/// Debian's multiarch directory (`*`), and the same under a split /lib.
const LIBRARY_DIRS: &[&str] = &[
    "/usr/lib/systemd",
    "/usr/lib64/systemd",
    "/usr/lib/*/systemd",
    "/lib/systemd",
    "/lib64/systemd",
    "/lib/*/systemd",
];

/// How long asking the running manager its version may take.
const ASK_TIMEOUT: Duration = Duration::from_secs(10);

/// The systemd lint judges for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The release found, if one was.
    pub found: Option<u32>,
    /// Where it was found, for the report.
    pub from: String,
    /// The release whose keys are used: `found` when the data covers it, else the nearest.
    pub judged: u32,
}

impl Target {
    fn new(found: Option<u32>, from: String) -> Target {
        let t = keys::table();
        let judged = found.map_or(t.newest, |v| t.release(v).version);
        Target {
            found,
            from,
            judged,
        }
    }

    /// One line for the report: the release judged by, where it comes from, and why another
    /// table was used when one was.
    pub fn describe(&self) -> String {
        let t = keys::table();
        match self.found {
            Some(v) if v == self.judged => format!("systemd {v} ({})", self.from),
            Some(v) if v > self.judged => format!(
                "systemd {} tables: systemd {v} ({}) is newer than the newest this unitsmith \
                 knows, so keys added after {} are reported as unknown",
                self.judged, self.from, self.judged
            ),
            Some(v) => format!(
                "systemd {} tables: systemd {v} ({}) is older than the oldest this unitsmith \
                 knows, so keys added after {v} are not reported",
                self.judged, self.from
            ),
            None => format!(
                "systemd {} tables, the newest this unitsmith knows ({}..{}): {}",
                self.judged, t.oldest, t.newest, self.from
            ),
        }
    }
}

/// The release given with `--systemd-version`.
pub fn given(version: u32) -> Target {
    Target::new(Some(version), "--systemd-version".into())
}

/// The systemd installed in an image tree.
pub fn installed_in(root: &Root) -> Target {
    let dir = root.dir().map(Path::display).map(|d| d.to_string());
    match installed_library(root) {
        Some((v, path)) => Target::new(
            Some(v),
            format!(
                "installed in {}: {}",
                dir.unwrap_or_default(),
                root.image_path(&path).display()
            ),
        ),
        None => Target::new(
            None,
            format!(
                "no libsystemd-shared-N.so found in {} ({})",
                dir.unwrap_or_default(),
                LIBRARY_DIRS.join(", ")
            ),
        ),
    }
}

/// The systemd of this machine: the running manager when it is PID 1 (after an upgrade it
/// may be older than the one installed), else the one installed.
pub fn this_machine() -> Target {
    if is_pid1_systemd() {
        let out = systemctl::run_with_timeout(
            systemctl::Scope::System,
            &["show", "--property=Version", "--value"],
            ASK_TIMEOUT,
        );
        let text = out.stdout.trim();
        if let Some(v) = out.success.then(|| leading_number(text)).flatten() {
            return Target::new(Some(v), format!("the running manager, {text}"));
        }
        log::debug!(
            "systemctl show --property=Version: {}; looking at the installed library instead",
            out.stderr.trim()
        );
    }
    match installed_library(&Root::host()) {
        Some((v, path)) => Target::new(
            Some(v),
            format!("installed: {}; systemd is not PID 1 here", path.display()),
        ),
        None => Target::new(
            None,
            "systemd is neither PID 1 nor installed here; give --systemd-version N".into(),
        ),
    }
}

fn is_pid1_systemd() -> bool {
    std::fs::read_to_string("/proc/1/comm").is_ok_and(|c| c.trim() == "systemd")
}

/// `252` of `252`, `252.39-1~deb12u2`, `255.4-1.fc40`.
fn leading_number(s: &str) -> Option<u32> {
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The release in a library's file name: `libsystemd-shared-262.so`,
/// `libsystemd-shared-255.4-1.fc40.so`.
fn library_version(file_name: &str) -> Option<u32> {
    let rest = file_name.strip_prefix("libsystemd-shared-")?;
    rest.ends_with(".so")
        .then(|| leading_number(rest))
        .flatten()
}

/// The newest libsystemd-shared-N.so in the library directories of `root`.
fn installed_library(root: &Root) -> Option<(u32, PathBuf)> {
    let mut found: Vec<(u32, PathBuf)> = Vec::new();
    for pattern in LIBRARY_DIRS {
        for dir in expand(root, pattern) {
            for entry in root.list(&dir).unwrap_or_default() {
                let name = entry.file_name().map(|n| n.to_string_lossy().into_owned());
                if let Some(v) = name.as_deref().and_then(library_version) {
                    if root.is_file(&entry) {
                        found.push((v, entry));
                    }
                }
            }
        }
    }
    found.sort();
    found.pop()
}

/// The directories a `LIBRARY_DIRS` pattern names in `root` (one `*` component at most).
fn expand(root: &Root, pattern: &str) -> Vec<PathBuf> {
    let Some((head, tail)) = pattern.split_once("/*/") else {
        return vec![root.join(Path::new(pattern))];
    };
    root.list(&root.join(Path::new(head)))
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.join(tail))
        .filter(|d| root.is_dir(d))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_in_names() {
        assert_eq!(library_version("libsystemd-shared-262.so"), Some(262));
        assert_eq!(
            library_version("libsystemd-shared-255.4-1.fc40.so"),
            Some(255)
        );
        assert_eq!(library_version("libsystemd-shared-.so"), None);
        assert_eq!(library_version("libsystemd-core-262.so"), None);
        assert_eq!(leading_number("252.39-1~deb12u2"), Some(252));
    }

    fn image_with(lib: &str) -> Root {
        let d = std::env::temp_dir().join(format!(
            "unitsmith-version-{}-{}",
            std::process::id(),
            lib.replace('/', "_")
        ));
        let _ = std::fs::remove_dir_all(&d);
        let p = d.join(lib);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "").unwrap();
        Root::image(&d).unwrap()
    }

    fn remove(image: Root) {
        if let Some(d) = image.dir() {
            let _ = std::fs::remove_dir_all(d);
        }
    }

    #[test]
    fn found_where_distributions_put_it() {
        for (lib, v) in [
            (
                "usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-262.so",
                262,
            ),
            ("usr/lib64/systemd/libsystemd-shared-255.4-1.fc40.so", 255),
            ("usr/lib/systemd/libsystemd-shared-257.so", 257),
        ] {
            let image = image_with(lib);
            let t = installed_in(&image);
            assert_eq!(t.found, Some(v), "{lib}");
            assert_eq!(t.judged, v, "{lib}");
            assert!(t.describe().contains(lib), "{}", t.describe());
            remove(image);
        }
    }

    #[test]
    fn outside_the_tables_the_nearest_is_used_and_said() {
        let image = image_with("usr/lib/systemd/libsystemd-shared-263.so");
        let newer = installed_in(&image);
        remove(image);
        assert_eq!((newer.found, newer.judged), (Some(263), 262));
        assert!(newer.describe().contains("newer than the newest"));
        let older = given(250);
        assert_eq!(older.judged, 252);
        assert!(older.describe().contains("older than the oldest"));
        let image = image_with("usr/lib/systemd/README");
        let none = installed_in(&image);
        remove(image);
        assert_eq!((none.found, none.judged), (None, 262));
        assert!(none.describe().contains("no libsystemd-shared-N.so"));
    }
}

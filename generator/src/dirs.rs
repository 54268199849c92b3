//! Where the generator looks for its inputs.
//!
//! The containers directories are searched exactly as Podman's Quadlet does (recursively,
//! symlinks resolved, `*.d` drop-in directories not descended into, the per-user directories
//! under `/etc/containers/systemd/users` kept apart); unitsmith's own directories are always
//! searched too. `QUADLET_UNIT_DIRS` / `UNITSMITH_UNIT_DIRS` replace every search path.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

pub const CONTAINERS_RUN: &str = "/run/containers/systemd";
pub const CONTAINERS_ETC: &str = "/etc/containers/systemd";
pub const CONTAINERS_USR: &str = "/usr/share/containers/systemd";

/// unitsmith's own directories for the system manager, highest priority first.
pub const OWN_SYSTEM: &[&str] = &["/etc/unitsmith", "/run/unitsmith", "/usr/lib/unitsmith"];

/// The search paths, and why they are what they are (for debug logs and `doctor`).
#[derive(Debug, Clone, Default)]
pub struct SearchPaths {
    /// Every directory to read, subdirectories expanded, in priority order.
    pub dirs: Vec<PathBuf>,
    /// Set when the paths came from the environment.
    pub from_env: bool,
    /// Set when Podman's own Quadlet generator owns the containers directories.
    pub podman_generator: Option<PathBuf>,
}

/// The environment variables that replace the search paths, in order of precedence.
pub const ENV_OVERRIDES: &[&str] = &["UNITSMITH_UNIT_DIRS", "QUADLET_UNIT_DIRS"];

pub fn search_paths(user: bool) -> SearchPaths {
    let mut walk = Walk::default();
    for var in ENV_OVERRIDES {
        if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            for dir in v.to_string_lossy().split(':') {
                if !dir.starts_with('/') {
                    crate::log_error!("{var}: {dir} not a valid file path (must be absolute); ignoring it and the rest");
                    break;
                }
                walk.add(Path::new(dir), &|_| true);
            }
            return SearchPaths {
                dirs: walk.dirs,
                from_env: true,
                podman_generator: None,
            };
        }
    }

    let podman_generator = podman_generator_installed(user);
    if let Some(g) = &podman_generator {
        crate::log_debug!(
            "Podman's Quadlet generator {} is installed: leaving the containers directories to it",
            g.display()
        );
    } else if user {
        user_containers_dirs(&mut walk);
    } else {
        let users = resolve(Path::new(CONTAINERS_ETC).join("users"));
        let not_users = move |p: &Path| !p.starts_with(&users);
        walk.add(Path::new(CONTAINERS_RUN), &not_users);
        walk.add(Path::new(CONTAINERS_ETC), &not_users);
        walk.add(Path::new(CONTAINERS_USR), &|_| true);
    }
    for dir in own_dirs(user) {
        walk.add(&dir, &|_| true);
    }
    SearchPaths {
        dirs: walk.dirs,
        from_env: false,
        podman_generator,
    }
}

/// unitsmith's own input directories.
pub fn own_dirs(user: bool) -> Vec<PathBuf> {
    if user {
        config_home()
            .map(|c| vec![c.join("unitsmith")])
            .unwrap_or_default()
    } else {
        OWN_SYSTEM.iter().map(PathBuf::from).collect()
    }
}

fn config_home() -> Option<PathBuf> {
    match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(c) => Some(PathBuf::from(c)),
        None => std::env::var_os("HOME")
            .filter(|v| !v.is_empty())
            .map(|h| PathBuf::from(h).join(".config")),
    }
}

fn user_containers_dirs(walk: &mut Walk) {
    if let Some(rt) = std::env::var_os("XDG_RUNTIME_DIR") {
        walk.add(&PathBuf::from(rt).join("containers/systemd"), &|_| true);
    }
    match config_home() {
        Some(c) => walk.add(&c.join("containers/systemd"), &|_| true),
        None => {
            crate::log_warn!("Warning: neither $XDG_CONFIG_HOME nor $HOME is defined");
            return;
        }
    }
    let users = resolve(Path::new(CONTAINERS_ETC).join("users"));
    let level = users.components().count();
    // Under users/: recurse into everything but other users' numeric directories.
    let users_for_filter = users.clone();
    let non_numeric = move |p: &Path| {
        if !p.starts_with(&users_for_filter) {
            return true;
        }
        match p.components().nth(level) {
            None => true,
            Some(c) => !c
                .as_os_str()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit()),
        }
    };
    walk.add(&users, &non_numeric);
    let uid = nix_uid();
    walk.add(&users.join(uid.to_string()), &|_| true);
}

fn nix_uid() -> u32 {
    // SAFETY-free: read our uid from /proc to keep the generator dependency-free.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Podman's generator, when installed and not masked in systemd's generator directories.
pub fn podman_generator_installed(user: bool) -> Option<PathBuf> {
    let name = if user {
        "podman-user-generator"
    } else {
        "podman-system-generator"
    };
    let dirs = generator_dirs(user);
    for dir in dirs {
        let path = dir.join(name);
        if std::fs::symlink_metadata(&path).is_err() {
            continue;
        }
        // The first one found decides: a link to /dev/null (or a dangling link) masks it.
        let masked = std::fs::metadata(&path).map_or(true, |m| m.len() == 0);
        return if masked { None } else { Some(path) };
    }
    None
}

fn resolve(p: PathBuf) -> PathBuf {
    std::fs::canonicalize(&p).unwrap_or(p)
}

/// A recursive directory walk that visits each real directory once.
#[derive(Default)]
struct Walk {
    dirs: Vec<PathBuf>,
    seen: HashSet<PathBuf>,
}

impl Walk {
    fn add(&mut self, path: &Path, keep: &dyn Fn(&Path) -> bool) {
        let resolved = match std::fs::canonicalize(path) {
            Ok(r) => r,
            Err(_) => {
                // Kept for the logs even when missing, as Quadlet does.
                if self.seen.insert(path.to_path_buf()) {
                    self.dirs.push(path.to_path_buf());
                }
                return;
            }
        };
        if self.seen.contains(&resolved)
            || resolved.to_string_lossy().ends_with(".d")
            || !keep(&resolved)
            || !resolved.is_dir()
        {
            return;
        }
        self.seen.insert(resolved.clone());
        self.dirs.push(resolved.clone());
        let Ok(rd) = std::fs::read_dir(&resolved) else {
            return;
        };
        // Plain files are inputs, not search paths: skip them without resolving each one.
        let mut entries: Vec<PathBuf> = rd
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().map_or(true, |t| !t.is_file()))
            .map(|e| e.path())
            .collect();
        entries.sort();
        for e in entries {
            self.add(&e, keep);
        }
    }
}

/// systemd's generator directories, highest priority first (systemd.generator(7)).
/// `UNITSMITH_GENERATOR_DIRS` (colon-separated) replaces them, for tests.
pub fn generator_dirs(user: bool) -> Vec<PathBuf> {
    if let Ok(v) = std::env::var("UNITSMITH_GENERATOR_DIRS") {
        return v
            .split(':')
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .collect();
    }
    let kind = if user {
        "user-generators"
    } else {
        "system-generators"
    };
    [
        "/etc/systemd",
        "/run/systemd",
        "/usr/local/lib/systemd",
        "/usr/lib/systemd",
        "/lib/systemd",
    ]
    .iter()
    .map(|b| Path::new(b).join(kind))
    .collect()
}

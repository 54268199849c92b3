//! Where the generator looks for its inputs.
//!
//! The containers directories are searched exactly as Podman's Quadlet does (recursively,
//! symlinks resolved, `*.d` drop-in directories not descended into, the per-user directories
//! under `/etc/containers/systemd/users` kept apart, and for Podman 6 under
//! `/usr/share/containers/systemd/users` too); unitsmith's own directories are always
//! searched too. `QUADLET_UNIT_DIRS` / `UNITSMITH_UNIT_DIRS` replace every search path.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use crate::quadlet::Flavor;
use crate::sources::{self, Scan, Scanner};

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
    /// Directories that could not be searched, one complete message each: inputs in them
    /// are unknown, so this is the only report of them.
    pub problems: Vec<String>,
}

/// The environment variables that replace the search paths, in order of precedence.
pub const ENV_OVERRIDES: &[&str] = &["UNITSMITH_UNIT_DIRS", "QUADLET_UNIT_DIRS"];

pub fn search_paths(user: bool) -> SearchPaths {
    search(&mut Walk::default(), user, Containers::UnlessPodman)
}

/// The search paths as they are once unitsmith generates the containers directories (after
/// `unitsmith takeover`), whether or not Podman's generator runs now: the inputs a takeover
/// hands over, or hands back.
pub fn search_paths_taken_over(user: bool) -> SearchPaths {
    search(&mut Walk::default(), user, Containers::Always)
}

/// Whether the containers directories are searched.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Containers {
    /// Unless Podman's own Quadlet generator runs (it owns them then).
    UnlessPodman,
    Always,
}

/// The search paths and what they hold, every directory listed once (the generator's way:
/// with thousands of inputs, a second listing is measurable).
pub fn search_and_scan(user: bool) -> (SearchPaths, Scan) {
    search_and_scan_until(user, None)
}

/// [`search_and_scan`] that lists no further directory once `deadline` has passed (they
/// are reported in [`SearchPaths::problems`]).
pub fn search_and_scan_until(user: bool, deadline: Option<Instant>) -> (SearchPaths, Scan) {
    let walk_paths = std::sync::Arc::<crate::walk::Paths>::default();
    let mut walk = Walk {
        scanner: Some(Scanner::with_paths(std::sync::Arc::clone(&walk_paths))),
        deadline,
        paths: Some(walk_paths),
        ..Walk::default()
    };
    let paths = search(&mut walk, user, Containers::UnlessPodman);
    let scan = walk.scanner.map(Scanner::finish).unwrap_or_default();
    (paths, scan)
}

/// The directory the walk is listing now, for the watchdog to name when a listing hangs.
pub static LISTING: Mutex<Option<PathBuf>> = Mutex::new(None);

fn search(walk: &mut Walk, user: bool, containers: Containers) -> SearchPaths {
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
                dirs: std::mem::take(&mut walk.dirs),
                from_env: true,
                podman_generator: None,
                problems: walk.take_problems(),
            };
        }
    }

    let podman_generator = match containers {
        Containers::UnlessPodman => podman_generator_installed(user),
        Containers::Always => None,
    };
    if let Some(g) = &podman_generator {
        crate::log_debug!(
            "Podman's Quadlet generator {} is installed: leaving the containers directories to it",
            g.display()
        );
    } else {
        let base = ContainersDirs {
            run: Path::new(CONTAINERS_RUN),
            etc: Path::new(CONTAINERS_ETC),
            usr: Path::new(CONTAINERS_USR),
        };
        match user {
            true => user_containers_dirs(walk, Flavor::selected(), &base),
            false => system_containers_dirs(walk, Flavor::selected(), &base),
        }
    }
    for dir in own_dirs(user) {
        walk.add(&dir, &|_| true);
    }
    SearchPaths {
        dirs: std::mem::take(&mut walk.dirs),
        from_env: false,
        podman_generator,
        problems: walk.take_problems(),
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

/// Where Podman's containers directories are (elsewhere in tests).
struct ContainersDirs<'p> {
    run: &'p Path,
    etc: &'p Path,
    usr: &'p Path,
}

fn system_containers_dirs(walk: &mut Walk, flavor: Flavor, base: &ContainersDirs) {
    let users = resolve(base.etc.join("users"));
    let not_users = move |p: &Path| !p.starts_with(&users);
    walk.add(base.run, &not_users);
    walk.add(base.etc, &not_users);
    match flavor {
        Flavor::Podman5 => walk.add(base.usr, &|_| true),
        // Podman 6 keeps users' units under /usr/share too: they are not the system's.
        Flavor::Podman6 => {
            let users = resolve(base.usr.join("users"));
            walk.add(base.usr, &|p| !p.starts_with(&users));
        }
    }
}

fn user_containers_dirs(walk: &mut Walk, flavor: Flavor, base: &ContainersDirs) {
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
    let uid = nix_uid();
    let bases = match flavor {
        Flavor::Podman5 => vec![base.etc],
        // Podman 6 also reads the distribution's per-user directories, the same way.
        Flavor::Podman6 => vec![base.etc, base.usr],
    };
    for dir in bases {
        let users = resolve(dir.join("users"));
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
        walk.add(&users.join(uid.to_string()), &|_| true);
    }
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
    /// Given each directory's listing as it is read, when the caller wants the inputs too.
    scanner: Option<Scanner>,
    /// No directory is listed after this.
    deadline: Option<Instant>,
    /// Directories not listed because the deadline had passed.
    not_searched: Vec<PathBuf>,
    problems: Vec<String>,
    /// The trust walk's verdicts, shared with the scan (see `walk.rs`); `None` until needed.
    paths: Option<std::sync::Arc<crate::walk::Paths>>,
    /// Whether directories are checked: we run as root (`None` until first asked).
    enforced: Option<bool>,
    /// How much of the directories root does not trust has been listed.
    untrusted: crate::walk::UntrustedListing,
}

impl Walk {
    /// Where `path` leads, and whether root may use what it holds. `listed_dir`: a real
    /// directory in the listing of one already resolved. Not as root: resolved as the kernel
    /// does, nothing checked.
    fn find(
        &mut self,
        path: &Path,
        listed_dir: bool,
        parent: Option<&crate::walk::Dir>,
    ) -> std::io::Result<crate::walk::Dir> {
        let enforced = *self.enforced.get_or_insert_with(crate::trust::enforced);
        if !enforced {
            // A real directory in a resolved one is resolved already: resolving it again
            // costs a `stat` per level of the path, quadratic in the depth (88 s for a tree
            // 2000 deep).
            let resolved = match listed_dir {
                true => Ok(path.to_path_buf()),
                false => std::fs::canonicalize(path),
            };
            return resolved.map(crate::walk::Dir::unchecked);
        }
        // An entry of a directory just listed is one step from it: the tree is walked in
        // linear time however deep it is.
        let paths = self.paths.get_or_insert_with(Default::default);
        match (parent, path.file_name()) {
            (Some(parent), Some(name)) => paths.child(parent, name),
            _ => paths.dir(path),
        }
    }

    /// `path` is a search path, or (`listed`) an entry of a directory already searched.
    fn add(&mut self, path: &Path, keep: &dyn Fn(&Path) -> bool) {
        self.add_entry(path, None, false, keep);
    }

    /// `listed_in`: the directory whose listing showed `path` (`None` for a search path);
    /// `listed_dir`: that listing showed it as a directory.
    fn add_entry(
        &mut self,
        path: &Path,
        listed_in: Option<&crate::walk::Dir>,
        listed_dir: bool,
        keep: &dyn Fn(&Path) -> bool,
    ) {
        let listed = listed_in.is_some();
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            self.not_searched.push(path.to_path_buf());
            return;
        }
        let found = match self.find(path, listed_dir, listed_in) {
            Ok(r) => r,
            // A file (or a link to one) is an input, not a search path; the trust walk says
            // so where resolving did not.
            Err(e) if e.raw_os_error() == Some(nix::libc::ENOTDIR) => return,
            Err(e) => {
                // An entry that is there but cannot be resolved (a symlink loop, a path over
                // PATH_MAX in a deep tree, no search permission) may be a directory of
                // inputs: never skipped without a word.
                if listed && e.kind() != std::io::ErrorKind::NotFound {
                    self.problems.push(format!(
                        "{}: cannot search: {e}; if it holds inputs, they are not generated",
                        path.display()
                    ));
                }
                // Kept for the logs even when missing, as Quadlet does.
                if self.seen.insert(path.to_path_buf()) {
                    self.dirs.push(path.to_path_buf());
                }
                return;
            }
        };
        let resolved = found.path.clone();
        // (What the trust walk found is a directory already; below a refused one, only real
        // directories of its listings get here.)
        let walked = self.enforced == Some(true);
        if self.seen.contains(&resolved)
            || resolved.to_string_lossy().ends_with(".d")
            || !keep(&resolved)
            || !(listed_dir || walked || resolved.is_dir())
        {
            return;
        }
        self.seen.insert(resolved.clone());
        if let Ok(mut now) = LISTING.lock() {
            now.clone_from(&Some(resolved.clone()));
        }
        let listing = sources::list_found(&found, &mut self.untrusted);
        // Below a refused directory the walk looked at nothing: a link named like an input
        // (to a file, to /proc/PID/cmdline ...) is found to be no directory only here. It is
        // an input, refused when read; not a search path to report.
        if let sources::Listing::Failed(e) = &listing {
            let not_dir = matches!(
                e.raw_os_error(),
                Some(nix::libc::ENOTDIR | nix::libc::ENOENT)
            );
            let input_name = (path.file_name().and_then(|n| n.to_str()))
                .is_some_and(|n| sources::InputKind::from_filename(n).is_some());
            if found.refusal().is_some() && not_dir && input_name {
                return;
            }
        }
        self.dirs.push(resolved.clone());
        let (entries, refused) = match listing {
            sources::Listing::Listed { entries, refused } => (entries, refused),
            sources::Listing::NotListed(why) => {
                self.problems.extend(why);
                return;
            }
            sources::Listing::Failed(e) => {
                self.problems.extend(sources::list_problem(&resolved, &e));
                return;
            }
        };
        if let Some(scanner) = &mut self.scanner {
            scanner.add_dir(&resolved, &entries, refused);
        }
        // A Compose project's subdirectories hold its data (bind-mounted directories, build
        // contexts): never walked, so a database directory is not listed at every boot.
        if crate::compose::project_file(
            &resolved,
            &mut entries.iter().filter_map(|e| e.name.to_str()),
        )
        .is_some()
        {
            return;
        }
        // Plain files are inputs, not search paths: skip them without resolving each one.
        // Below a directory root does not trust, no link is followed (see `walk.rs`).
        let mut subdirs: Vec<(PathBuf, bool)> = entries
            .iter()
            .filter(|e| !e.plain_file && (!refused || e.dir))
            .map(|e| (resolved.join(&e.name), e.dir))
            .collect();
        subdirs.sort();
        for (d, is_dir) in subdirs {
            self.add_entry(&d, Some(&found), is_dir, keep);
        }
    }

    fn take_problems(&mut self) -> Vec<String> {
        let mut problems = std::mem::take(&mut self.problems);
        problems.extend(self.untrusted.report());
        if let Some(first) = self.not_searched.first() {
            let more = match self.not_searched.len() - 1 {
                0 => String::new(),
                n => format!(" and {n} more"),
            };
            problems.push(format!(
                "{}{more}: not searched: the generator's time limit ran out first ({} sets it); inputs there are not generated",
                first.display(),
                crate::budget::TIMEOUT_ENV
            ));
        }
        problems
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
    // systemd.generator(7): unlike unit files, a generator in /run overrides one in /etc.
    [
        "/run/systemd",
        "/etc/systemd",
        "/usr/local/lib/systemd",
        "/usr/lib/systemd",
        "/lib/systemd",
    ]
    .iter()
    .map(|b| Path::new(b).join(kind))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The walk's one listing finds exactly what listing the walked directories again does.
    #[test]
    fn walk_scan_matches_a_second_listing() {
        let root = std::env::temp_dir().join(format!("unitsmith-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (rel, text) in [
            ("a/x.container", "[Container]\n"),
            ("a/sub/y.volume", "[Volume]\n"),
            ("a/x.container.d/10.conf", "[Container]\n"),
            ("b/x.container", "[Container]\n"),
            ("b/y.volume.d/20.conf", "[Volume]\n"),
            ("b/gate.envgate", "[EnvGate]\n"),
            ("b/notes.txt", ""),
        ] {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let mut walk = Walk {
            scanner: Some(Scanner::default()),
            ..Walk::default()
        };
        walk.add(&root.join("a"), &|_| true);
        walk.add(&root.join("missing"), &|_| true);
        walk.add(&root.join("b"), &|_| true);
        let walked = walk.scanner.take().unwrap().finish();
        let listed = sources::scan(&walk.dirs);
        let summary = |s: &Scan| {
            let inputs: Vec<_> = (s.inputs.iter())
                .map(|i| (i.name.clone(), i.path.clone(), i.shadows.clone()))
                .collect();
            let mut dropins: Vec<_> = s.dropins.iter().cloned().collect();
            dropins.sort();
            (inputs, dropins)
        };
        assert_eq!(summary(&walked), summary(&listed));
        let (inputs, dropins) = summary(&walked);
        assert_eq!(inputs.len(), 3, "{inputs:?}");
        assert_eq!(
            inputs[0].2.len(),
            1,
            "b/x.container is shadowed: {inputs:?}"
        );
        assert_eq!(dropins.len(), 2, "{dropins:?}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// The containers directories a generator of `flavor` reads in a fake tree, relative to it.
    fn containers_dirs(root: &Path, user: bool, flavor: Flavor) -> Vec<String> {
        let (run, etc, usr) = (root.join("run"), root.join("etc"), root.join("usr"));
        let base = ContainersDirs {
            run: &run,
            etc: &etc,
            usr: &usr,
        };
        let mut walk = Walk::default();
        match user {
            true => user_containers_dirs(&mut walk, flavor, &base),
            false => system_containers_dirs(&mut walk, flavor, &base),
        }
        let root = resolve(root.to_path_buf());
        (walk.dirs.iter())
            .filter_map(|d| d.strip_prefix(&root).ok())
            .map(|d| d.display().to_string())
            .collect()
    }

    #[test]
    fn podman_6_reads_the_distributions_user_directories_for_users_only() {
        let root = std::env::temp_dir().join(format!("unitsmith-users-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let uid = nix_uid();
        let other = uid + 1;
        for base in ["etc", "usr"] {
            for sub in [
                "users/internal".to_string(),
                format!("users/{uid}"),
                format!("users/{other}"),
            ] {
                std::fs::create_dir_all(root.join(base).join(sub)).unwrap();
            }
        }
        std::fs::create_dir_all(root.join("usr/shared")).unwrap();
        let user5 = containers_dirs(&root, true, Flavor::Podman5);
        let user6 = containers_dirs(&root, true, Flavor::Podman6);
        let mine = format!("users/{uid}");
        let others = format!("users/{other}");
        for base in ["etc", "usr"] {
            let has = |dirs: &[String], sub: &str| dirs.contains(&format!("{base}/{sub}"));
            assert!(has(&user6, "users"), "{user6:?}");
            assert!(has(&user6, "users/internal"), "{user6:?}");
            assert!(has(&user6, &mine), "{user6:?}");
            assert!(!has(&user6, &others), "another user's directory: {user6:?}");
            assert_eq!(has(&user5, "users"), base == "etc", "{user5:?}");
            assert_eq!(has(&user5, &mine), base == "etc", "{user5:?}");
            assert!(!has(&user5, &others), "{user5:?}");
        }
        // The system manager: /usr/share's users/ was the system's under 5.8, not under 6.
        let system5 = containers_dirs(&root, false, Flavor::Podman5);
        let system6 = containers_dirs(&root, false, Flavor::Podman6);
        assert!(system5.contains(&"usr/users".to_string()), "{system5:?}");
        assert!(!system6.iter().any(|d| d.contains("users")), "{system6:?}");
        assert!(
            !system5.iter().any(|d| d.starts_with("etc/users")),
            "{system5:?}"
        );
        assert!(system6.contains(&"usr/shared".to_string()), "{system6:?}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}

//! Files that look like inputs but are not read: in a directory unitsmith does not search
//! (a systemd unit directory, a typo of a Quadlet directory, the per-user directories in system
//! mode, ...), in a `*.d` directory, with a misspelt extension, or hidden by an earlier file.

use std::path::{Path, PathBuf};

use unitsmith_generator::dirs::{self, SearchPaths};
use unitsmith_generator::quadlet::Kind as QKind;
use unitsmith_generator::sources::InputKind;
use unitsmith_generator::spell;

use super::classify::{Kind, Problem, Severity};
use super::inputs::{canon, unit_name_from_filename, Model};
use crate::walk::{NotWalked, Walk};

/// A directory people put Quadlet files in that unitsmith does not read, and why not.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub dir: PathBuf,
    pub recursive: bool,
    pub why: String,
    /// Info for files that are where they belong, only not for this manager (per-user files
    /// in system mode); Error for files nothing reads.
    pub severity: Severity,
}

/// A file that looks like an input but is not read.
#[derive(Debug, Clone)]
pub struct Stray {
    pub path: PathBuf,
    /// The unit it would give.
    pub unit: Option<String>,
    pub problem: Problem,
}

/// Where the inputs should go, for hints.
pub fn proper_dir(user: bool) -> String {
    if user {
        "~/.config/containers/systemd/".to_string()
    } else {
        format!("{}/", dirs::CONTAINERS_ETC)
    }
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// The directories to look in for stray files: systemd's unit directories (systemd ignores
/// Quadlet files), likely typos of the Quadlet directories, and the other mode's directories.
pub fn candidates(user: bool) -> Vec<Candidate> {
    let mut c = Vec::new();
    let unit_dir = |d: PathBuf| {
        Candidate {
        why: format!(
            "{} is a systemd unit directory: systemd ignores Quadlet files and unitsmith does not look there",
            d.display()
        ),
        dir: d,
        recursive: false,
        severity: Severity::Error,
    }
    };
    let typo = |d: PathBuf, right: &str| Candidate {
        why: format!(
            "{} is not a directory unitsmith reads (did you mean {right}?)",
            d.display()
        ),
        dir: d,
        recursive: true,
        severity: Severity::Error,
    };
    let h = home();
    if user {
        if let Some(h) = &h {
            c.push(unit_dir(h.join(".config/systemd/user")));
            c.push(unit_dir(h.join(".local/share/systemd/user")));
        }
        for d in [
            "/etc/systemd/user",
            "/usr/local/lib/systemd/user",
            "/usr/lib/systemd/user",
        ] {
            c.push(unit_dir(d.into()));
        }
        if let Some(h) = &h {
            let right = "~/.config/containers/systemd";
            for d in [
                "containers/systemd",
                ".containers/systemd",
                ".config/containers/system",
                ".config/container/systemd",
                ".config/containers/systemd.d",
                ".local/share/containers/systemd",
                ".config/quadlet",
            ] {
                c.push(typo(h.join(d), right));
            }
        }
    } else {
        for d in [
            "/etc/systemd/system",
            "/run/systemd/system",
            "/usr/local/lib/systemd/system",
            "/usr/lib/systemd/system",
            "/lib/systemd/system",
        ] {
            c.push(unit_dir(d.into()));
        }
        c.push(Candidate {
            dir: Path::new(dirs::CONTAINERS_ETC).join("users"),
            recursive: true,
            why: format!(
                "{}/users is read by user managers only, not the system manager (see `unitsmith doctor --user` as that user)",
                dirs::CONTAINERS_ETC
            ),
            severity: Severity::Info,
        });
        if let Some(h) = &h {
            c.push(Candidate {
                dir: h.join(".config/containers/systemd"),
                recursive: true,
                why: format!(
                    "{} is read by that user's user manager, not the system manager (`unitsmith doctor --user`)",
                    h.join(".config/containers/systemd").display()
                ),
                severity: Severity::Info,
            });
        }
        for (d, right) in [
            ("/etc/containers/system", dirs::CONTAINERS_ETC),
            ("/etc/container/systemd", dirs::CONTAINERS_ETC),
            ("/etc/containers/systemd.d", dirs::CONTAINERS_ETC),
            ("/etc/containers/quadlet", dirs::CONTAINERS_ETC),
            ("/etc/quadlet", dirs::CONTAINERS_ETC),
            ("/usr/share/containers/system", dirs::CONTAINERS_USR),
            ("/usr/lib/containers/systemd", dirs::CONTAINERS_USR),
            ("/usr/local/share/containers/systemd", dirs::CONTAINERS_USR),
            ("/run/containers/system", dirs::CONTAINERS_RUN),
            ("/etc/unitsmith.d", "/etc/unitsmith"),
        ] {
            c.push(typo(d.into(), right));
        }
    }
    c
}

/// The containers directories Podman's own generator handles when it is installed.
pub fn podman_dirs(user: bool) -> Vec<PathBuf> {
    if user {
        let mut v = Vec::new();
        if let Some(rt) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
            v.push(PathBuf::from(rt).join("containers/systemd"));
        }
        if let Some(h) = home() {
            v.push(h.join(".config/containers/systemd"));
        }
        v.push(Path::new(dirs::CONTAINERS_ETC).join("users"));
        v
    } else {
        [
            dirs::CONTAINERS_RUN,
            dirs::CONTAINERS_ETC,
            dirs::CONTAINERS_USR,
        ]
        .iter()
        .map(PathBuf::from)
        .collect()
    }
}

/// Input-looking files under `dir`: (path, unit it would give), and what was not walked (see
/// `walk`: each directory once, bounded in depth and count, links in other users'
/// directories not followed as root).
pub fn input_files(dir: &Path, recursive: bool) -> (Vec<(PathBuf, String)>, Vec<NotWalked>) {
    let mut out = Vec::new();
    let mut w = Walk::new(MAX_DEPTH, MAX_ENTRIES);
    walk(&mut w, dir, recursive, 0, &mut out);
    out.sort();
    (out, w.not_walked)
}

const MAX_DEPTH: usize = 6;
const MAX_ENTRIES: usize = 20_000;

fn walk(w: &mut Walk, dir: &Path, recursive: bool, depth: usize, out: &mut Vec<(PathBuf, String)>) {
    // The directory itself may be reached through a link (checked where the link was).
    let Ok(meta) = std::fs::metadata(dir) else {
        return;
    };
    if !meta.is_dir() || !w.enter(dir, &meta, depth) {
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let follow = w.follows_links_in(&meta);
    let mut left_alone = 0;
    for e in rd.filter_map(|e| e.ok()) {
        if !w.count(dir) {
            break;
        }
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        let is_link = e.file_type().is_ok_and(|t| t.is_symlink());
        let as_input = unit_name_from_filename(&name);
        if is_link && !follow {
            // Named, never followed: its name is all that is looked at.
            match as_input {
                Some(unit) => out.push((path, unit)),
                None => left_alone += 1,
            }
            continue;
        }
        let is_dir = std::fs::metadata(&path).is_ok_and(|m| m.is_dir());
        if is_dir {
            if recursive {
                walk(w, &path, recursive, depth + 1, out);
            }
        } else if let Some(unit) = as_input {
            out.push((path, unit));
        }
    }
    if left_alone > 0 {
        w.links_not_followed(dir, &meta, left_alone);
    }
}

/// The report for a part of a directory `doctor` did not walk.
pub fn not_walked(n: NotWalked) -> Stray {
    let severity = if n.limit {
        Severity::Warning
    } else {
        Severity::Info
    };
    let mut problem = Problem::new(
        Kind::NotRead,
        severity,
        format!("{}: not walked: {}", n.path.display(), n.why),
    );
    if n.limit {
        problem = problem.hint("Quadlet files are a few directories deep at most: look for a link loop or a tree that does not belong there");
    }
    Stray {
        path: n.path,
        unit: None,
        problem,
    }
}

/// Is `path` in one of the directories the generator reads (as a file directly in it)?
pub fn in_search_dirs(path: &Path, search: &SearchPaths) -> bool {
    let parent = canon(path.parent().unwrap_or(Path::new("/")));
    search.dirs.iter().any(|d| canon(d) == parent)
}

/// Stray files in the candidate directories and in `*.d` directories of the search paths,
/// and files with a misspelt input extension in the search paths.
pub fn strays(cands: &[Candidate], search: &SearchPaths, user: bool) -> Vec<Stray> {
    let mut out: Vec<Stray> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for c in cands {
        let dir = canon(&c.dir);
        if !seen.insert(dir.clone()) {
            continue; // /lib/systemd/system is often /usr/lib/systemd/system
        }
        let (files, skipped) = input_files(&c.dir, c.recursive);
        for (path, unit) in files {
            if in_search_dirs(&path, search) {
                continue;
            }
            out.push(not_read(&path, Some(unit), &c.why, c.severity, user));
        }
        out.extend(skipped.into_iter().map(not_walked));
    }
    for d in &search.dirs {
        let Ok(rd) = std::fs::read_dir(d) else {
            continue;
        };
        let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if p.is_dir() && name.ends_with(".d") {
                // Drop-in directories (NAME.container.d) hold .conf files: inputs there are strays.
                let (files, skipped) = input_files(&p, true);
                for (path, unit) in files {
                    let why = format!(
                        "{} ends in .d: such directories hold drop-ins and are not searched for inputs",
                        p.display()
                    );
                    out.push(not_read(&path, Some(unit), &why, Severity::Error, user));
                }
                out.extend(skipped.into_iter().map(not_walked));
            } else if p.is_file() {
                if let Some(problem) = misspelt_extension(&p) {
                    out.push(Stray {
                        path: p,
                        unit: None,
                        problem,
                    });
                }
            }
        }
    }
    out
}

fn not_read(path: &Path, unit: Option<String>, why: &str, severity: Severity, user: bool) -> Stray {
    let mut problem = Problem::new(
        Kind::NotRead,
        severity,
        format!("{}: not read: {why}", path.display()),
    );
    if severity != Severity::Info {
        problem = problem.hint(format!(
            "move it to {} and run `unitsmith reload{}`",
            proper_dir(user),
            if user { " --user" } else { "" }
        ));
    }
    Stray {
        path: path.to_path_buf(),
        unit,
        problem,
    }
}

/// Every extension the generator reads, with the dot.
fn input_extensions() -> Vec<&'static str> {
    let mut v: Vec<&str> = QKind::ALL.iter().map(|k| k.extension()).collect();
    v.push(".envgate");
    v
}

/// Backups and package-manager leftovers are deliberately not inputs: never flagged.
fn is_backup(name: &str) -> bool {
    name.ends_with('~')
        || [
            ".bak",
            ".orig",
            ".old",
            ".swp",
            ".rpmnew",
            ".rpmsave",
            ".dpkg-old",
            ".dpkg-new",
            ".dpkg-dist",
            ".disabled",
        ]
        .iter()
        .any(|s| name.ends_with(s))
}

/// A file whose extension is close to an input extension (`web.conatiner`, `web.Container`).
pub fn misspelt_extension(path: &Path) -> Option<Problem> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    if InputKind::from_filename(&name).is_some() || is_backup(&name) || name.starts_with('.') {
        return None;
    }
    let dot = name.rfind('.').filter(|&i| i > 0)?;
    let ext = &name[dot..];
    if ext.len() < 4 {
        return None;
    }
    let exts = input_extensions();
    let want = spell::closest(ext, &exts)?;
    Some(
        Problem::error(
            Kind::NotInput,
            format!(
                "{}: not an input: \"{ext}\" is not an extension unitsmith reads",
                path.display()
            ),
        )
        .hint(format!(
            "did you mean \"{want}\"? rename it to {}{want}",
            &name[..dot]
        )),
    )
}

/// What is wrong with a file named on the command line that is not an input in use.
/// None when it is an input the generator reads (the caller reports its units).
pub fn classify_file(
    path: &Path,
    model: &Model,
    cands: &[Candidate],
    podman_dirs: &[PathBuf],
) -> Option<Stray> {
    let user = model.user;
    if !path.exists() {
        return Some(Stray {
            path: path.to_path_buf(),
            unit: None,
            problem: Problem::error(Kind::NotInput, format!("{}: no such file", path.display())),
        });
    }
    if model.input_at(path).is_some() {
        return None;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let unit = unit_name_from_filename(&name);
    let want = canon(path);
    if let Some((_, winner)) = model.shadows().into_iter().find(|(s, _)| canon(s) == want) {
        return Some(Stray {
            path: path.to_path_buf(),
            unit,
            problem: Problem::new(
                Kind::Shadowed,
                Severity::Warning,
                format!("{}: not used: {} has the same name and comes first in the search path", path.display(), winner.display()),
            )
            .hint("the first file of a name wins (as /etc overrides /usr in systemd); remove or rename one"),
        });
    }
    if unit.is_none() {
        let problem = misspelt_extension(path).unwrap_or_else(|| {
            Problem::error(
                Kind::NotInput,
                format!(
                    "{}: not an input: unitsmith reads {} files",
                    path.display(),
                    input_extensions().join(", ")
                ),
            )
        });
        return Some(Stray {
            path: path.to_path_buf(),
            unit: None,
            problem,
        });
    }
    let parent = canon(path.parent().unwrap_or(Path::new("/")));
    if let (Some(pg), false) = (&model.search.podman_generator, model.search.from_env) {
        if podman_dirs.iter().any(|d| parent.starts_with(canon(d))) {
            return Some(Stray {
                path: path.to_path_buf(),
                unit,
                problem: Problem::new(
                    Kind::PodmanGenerator,
                    Severity::Info,
                    format!(
                        "{}: handled by Podman's Quadlet generator {}, not by unitsmith (unitsmith leaves the containers directories to it)",
                        path.display(),
                        pg.display()
                    ),
                ),
            });
        }
    }
    let (why, severity) = cands
        .iter()
        .find(|c| {
            let d = canon(&c.dir);
            parent == d || (c.recursive && parent.starts_with(&d))
        })
        .map(|c| (c.why.clone(), c.severity))
        .or_else(|| {
            parent.ancestors().find(|a| a.to_string_lossy().ends_with(".d")).map(|a| {
                (format!("{} ends in .d: such directories hold drop-ins and are not searched for inputs", a.display()), Severity::Error)
            })
        })
        .unwrap_or_else(|| {
            let dirs = model.search.dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ");
            (format!("{} is not a directory unitsmith reads (it reads: {dirs})", parent.display()), Severity::Error)
        });
    Some(not_read(path, unit, &why, severity, user))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn misspelt_extensions_are_flagged_backups_are_not() {
        assert!(misspelt_extension(Path::new("/x/web.conatiner"))
            .unwrap()
            .hint
            .unwrap()
            .contains(".container"));
        assert!(misspelt_extension(Path::new("/x/web.Container")).is_some());
        assert!(misspelt_extension(Path::new("/x/db.volumes"))
            .unwrap()
            .hint
            .unwrap()
            .contains(".volume"));
        assert!(misspelt_extension(Path::new("/x/web.container")).is_none());
        assert!(misspelt_extension(Path::new("/x/web.container~")).is_none());
        assert!(misspelt_extension(Path::new("/x/web.container.bak")).is_none());
        assert!(misspelt_extension(Path::new("/x/README.md")).is_none());
        assert!(misspelt_extension(Path::new("/x/web.service")).is_none());
    }

    /// Issue 20: links back to a directory made the walk list it again at every level (40
    /// links to `.` never finished); each directory is walked once now, and a tree deeper
    /// than the limit is reported, not skipped in silence.
    #[test]
    fn each_directory_is_walked_once_and_depth_is_reported() {
        let base = std::env::temp_dir().join(format!("unitsmith-walked-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(&base).unwrap();
        fs::write(base.join("web.container"), "[Container]\nImage=a\n").unwrap();
        for i in 0..3 {
            std::os::unix::fs::symlink(".", base.join(format!("l{i}"))).unwrap();
        }
        let (files, skipped) = input_files(&base, true);
        assert_eq!(files.len(), 1, "{files:?}");
        assert!(skipped.is_empty(), "{skipped:?}");
        let mut deep = base.join("deep");
        for i in 0..8 {
            deep = deep.join(format!("d{i}"));
        }
        fs::create_dir_all(&deep).unwrap();
        fs::write(deep.join("far.container"), "[Container]\nImage=a\n").unwrap();
        let (files, skipped) = input_files(&base, true);
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert!(skipped[0].why.contains("levels deep"), "{skipped:?}");
        let s = not_walked(skipped[0].clone());
        assert_eq!(
            (s.problem.kind, s.problem.severity),
            (Kind::NotRead, Severity::Warning)
        );
        assert!(s.problem.message.contains("not walked"));
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn classifies_strays_and_named_files() {
        let base = std::env::temp_dir().join(format!("unitsmith-files-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let (read, unitdir, other) = (base.join("read"), base.join("unitdir"), base.join("other"));
        for d in [
            &read,
            &unitdir,
            &other,
            &read.join("apps.d"),
            &read.join("sub"),
        ] {
            fs::create_dir_all(d).unwrap();
        }
        let body = "[Container]\nImage=docker.io/library/busybox:latest\n";
        fs::write(read.join("web.container"), body).unwrap();
        fs::write(read.join("sub/web.container"), body).unwrap();
        fs::write(read.join("apps.d/hidden.container"), body).unwrap();
        fs::write(read.join("typo.contaner"), body).unwrap();
        fs::write(unitdir.join("foo.container"), body).unwrap();
        fs::write(unitdir.join("foo.service"), "[Service]\n").unwrap();
        fs::write(other.join("bar.volume"), "[Volume]\n").unwrap();

        let search = SearchPaths {
            dirs: vec![read.clone(), read.join("sub")],
            from_env: true,
            podman_generator: None,
            problems: Vec::new(),
        };
        let model = Model::from_search(false, search.clone());
        let cands = vec![
            Candidate {
                dir: unitdir.clone(),
                recursive: false,
                why: "a unit directory".into(),
                severity: Severity::Error,
            },
            Candidate {
                dir: base.join("users"),
                recursive: true,
                why: "for user managers".into(),
                severity: Severity::Info,
            },
        ];
        fs::create_dir_all(base.join("users/1000")).unwrap();
        fs::write(base.join("users/1000/mine.container"), body).unwrap();

        let s = strays(&cands, &search, false);
        let found: Vec<(String, Kind)> = s
            .iter()
            .map(|s| {
                (
                    s.path.file_name().unwrap().to_string_lossy().into_owned(),
                    s.problem.kind,
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                ("foo.container".to_string(), Kind::NotRead),
                ("mine.container".to_string(), Kind::NotRead),
                ("hidden.container".to_string(), Kind::NotRead),
                ("typo.contaner".to_string(), Kind::NotInput)
            ]
        );
        assert_eq!(s[0].unit.as_deref(), Some("foo.service"));
        assert!(s[0].problem.message.contains("a unit directory"));
        assert_eq!(
            s[1].problem.severity,
            Severity::Info,
            "per-user files are fine where they are"
        );
        assert!(!s[1].problem.is_problem());
        assert!(s[2].problem.message.contains("ends in .d"));

        assert!(
            classify_file(&read.join("web.container"), &model, &cands, &[]).is_none(),
            "an input in use"
        );
        let c = classify_file(&unitdir.join("foo.container"), &model, &cands, &[]).unwrap();
        assert_eq!(
            (c.problem.kind, c.unit.as_deref()),
            (Kind::NotRead, Some("foo.service"))
        );
        assert!(c.problem.message.contains("a unit directory"));
        let c = classify_file(&other.join("bar.volume"), &model, &cands, &[]).unwrap();
        assert_eq!(
            (c.problem.kind, c.unit.as_deref()),
            (Kind::NotRead, Some("bar-volume.service"))
        );
        assert!(c
            .problem
            .message
            .contains("not a directory unitsmith reads"));
        let c = classify_file(&read.join("sub/web.container"), &model, &cands, &[]).unwrap();
        assert_eq!(c.problem.kind, Kind::Shadowed);
        let c = classify_file(&unitdir.join("foo.service"), &model, &cands, &[]).unwrap();
        assert_eq!(c.problem.kind, Kind::NotInput);
        let c = classify_file(&read.join("nope.container"), &model, &cands, &[]).unwrap();
        assert!(c.problem.message.contains("no such file"));

        let mut owned = search.clone();
        owned.from_env = false;
        owned.podman_generator =
            Some("/usr/lib/systemd/system-generators/podman-system-generator".into());
        let m2 = Model::from_search(
            false,
            SearchPaths {
                dirs: vec![],
                ..owned
            },
        );
        let c = classify_file(&other.join("bar.volume"), &m2, &cands, &[other.clone()]).unwrap();
        assert_eq!(c.problem.kind, Kind::PodmanGenerator);
        fs::remove_dir_all(&base).unwrap();
    }
}

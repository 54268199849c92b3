//! Reading the trees `lint` checks: unit files with their drop-ins, `.wants/`/`.requires/`
//! links, and Quadlet inputs turned into the units the generator makes of them (so findings
//! point at the `.container` line the author wrote). One parser: the generator's `UnitFile`.
//! Every file is read through [`Root`], so `--root` trees are read as the image sees them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use unitsmith_generator::sources::InputKind;
use unitsmith_generator::unitfile::UnitFile;

use super::quadlet;
use super::root::Root;
use super::{Finding, Severity};
use crate::doctor::sd;
use crate::walk::{NotWalked, Walk};

/// One parsed file: a unit file or a drop-in, checked line by line on its own.
#[derive(Debug)]
pub struct Source {
    /// `service`, `timer`, ... (from the unit's name).
    pub unit_type: String,
    pub file: UnitFile,
    /// Generated from a Quadlet input: assignments at line 0 are the generator's own.
    pub generated: bool,
}

/// A unit with its drop-ins merged.
#[derive(Debug)]
pub struct Unit {
    pub name: String,
    pub file: UnitFile,
    pub generated: bool,
}

impl Unit {
    pub fn unit_type(&self) -> &str {
        unit_type(&self.name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullKind {
    Wants,
    Requires,
}

impl PullKind {
    pub fn key(self) -> &'static str {
        match self {
            PullKind::Wants => "Wants",
            PullKind::Requires => "Requires",
        }
    }
}

/// `from` pulls `to` in through a `from.wants/to` (or `.requires/`) link at `path`.
#[derive(Debug, Clone)]
pub struct Link {
    pub from: String,
    pub kind: PullKind,
    pub to: String,
    pub path: PathBuf,
}

/// Everything read.
#[derive(Debug, Default)]
pub struct Tree {
    pub units: BTreeMap<String, Unit>,
    pub sources: Vec<Source>,
    pub links: Vec<Link>,
    /// `default.target` → what it is a link to, when the trees say.
    pub aliases: HashMap<String, String>,
    /// Problems found while reading (parse errors, inputs the generator rejects).
    pub findings: Vec<Finding>,
}

pub fn unit_type(name: &str) -> &str {
    name.rsplit_once('.').map(|(_, t)| t).unwrap_or("")
}

const UNIT_TYPES: &[&str] = &[
    "service",
    "socket",
    "target",
    "timer",
    "path",
    "mount",
    "automount",
    "swap",
    "slice",
    "scope",
    "device",
];

pub fn is_unit_name(name: &str) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(b, t)| !b.is_empty() && UNIT_TYPES.contains(&t))
}

/// What one walk over the roots found, before parsing.
struct Found {
    units: Vec<(String, PathBuf)>,
    dropin_dirs: Vec<(String, PathBuf)>,
    links: Vec<Link>,
    quadlet_dirs: Vec<PathBuf>,
    seen_dirs: HashSet<PathBuf>,
    /// Bounds of the walk, and what it did not look at (see `walk.rs`).
    walk: Walk,
}

/// How deep and how many entries a walk looks at: far beyond any unit tree (a distribution's
/// /usr/lib/systemd/system is a few thousand entries, two levels deep).
const MAX_DEPTH: usize = 16;
const MAX_ENTRIES: usize = 100_000;

/// Read `roots` (files or directories, highest priority first) in `root`. Directories given
/// on the command line are searched recursively (except drop-in and `.wants/` directories,
/// which are read as such); the default unit directories are not, as systemd does not.
/// `quadlet_dirs` are read as the generator would (paths it can read: resolved in `root`).
pub fn load(roots: &[PathBuf], recursive: bool, quadlet_dirs: &[PathBuf], root: &Root) -> Tree {
    let mut found = Found {
        units: Vec::new(),
        dropin_dirs: Vec::new(),
        links: Vec::new(),
        quadlet_dirs: Vec::new(),
        seen_dirs: HashSet::new(),
        walk: Walk::new(MAX_DEPTH, MAX_ENTRIES),
    };
    for r in roots {
        if root.is_dir(r) {
            walk(r, recursive, 0, &mut found, root);
        } else if root.exists(r) {
            add_file(r, &mut found, root);
        }
    }
    // The generator reads the files of these itself: hand it directories resolved inside
    // the image, so it never follows a link out of it.
    let mut qdirs: Vec<PathBuf> = Vec::new();
    for d in found.quadlet_dirs.iter().filter_map(|d| root.resolve(d)) {
        if !qdirs.contains(&d) {
            qdirs.push(d);
        }
    }
    for d in quadlet_dirs {
        if !qdirs.contains(d) {
            qdirs.push(d.clone());
        }
    }
    let mut tree = Tree {
        links: found.links.clone(),
        ..Tree::default()
    };
    for n in found.walk.not_walked.drain(..) {
        tree.findings.push(not_walked(root, n));
    }

    // Quadlet inputs become what the generator makes of them, with their drop-ins.
    let generated = quadlet::generate_units(&qdirs, root, &mut tree.findings);

    // Plain unit files: the first of a name wins. Our generator's output is replaced by the
    // unit made from its input just now (the same text, but located in the input).
    let mut masked: HashSet<String> = HashSet::new();
    for (name, path) in &found.units {
        if tree.units.contains_key(name) || masked.contains(name) {
            continue;
        }
        if let Ok(target) = std::fs::read_link(path) {
            // The link's own name and target text: nothing outside the tree is followed.
            let t = target.to_string_lossy();
            if t == "/dev/null" {
                masked.insert(name.clone());
                continue;
            }
            let tname = basename(&t);
            if tname != name && is_unit_name(tname) {
                tree.aliases.insert(name.clone(), tname.to_string());
                continue;
            }
        }
        // Never a blocking read (a FIFO named foo.service) nor an unbounded one.
        let data = match root.read(path) {
            Ok(data) => data,
            Err(refused) => {
                let (message, hint) = refused.describe(path);
                tree.findings.push(Finding {
                    rule: "parse-error",
                    severity: Severity::Error,
                    file: path.clone(),
                    line: 0,
                    unit: name.clone(),
                    message,
                    fix: hint.unwrap_or_else(|| "make it a readable regular file".into()),
                });
                continue;
            }
        };
        if data.iter().all(|b| b.is_ascii_whitespace()) {
            masked.insert(name.clone()); // an empty unit file masks the unit
            continue;
        }
        if generated.contains_key(name) && sd::is_ours(&String::from_utf8_lossy(&data)) {
            continue;
        }
        match UnitFile::parse(&data, path) {
            Ok(file) => {
                tree.sources.push(Source {
                    unit_type: unit_type(name).into(),
                    file: file.clone(),
                    generated: false,
                });
                tree.units.insert(
                    name.clone(),
                    Unit {
                        name: name.clone(),
                        file,
                        generated: false,
                    },
                );
            }
            Err(e) => tree.findings.push(parse_finding(name, &e)),
        }
    }
    for (name, file) in generated {
        if tree.units.contains_key(&name) || masked.contains(&name) {
            continue;
        }
        tree.sources.push(Source {
            unit_type: unit_type(&name).into(),
            file: file.clone(),
            generated: true,
        });
        tree.units.insert(
            name.clone(),
            Unit {
                name,
                file,
                generated: true,
            },
        );
    }

    // Drop-ins: NAME.d/, TEMPLATE@.TYPE.d/, PREFIX-.TYPE.d/, TYPE.d/ (systemd.unit(5)); the
    // first file of a name wins, merged in name order. Each file is parsed once.
    let mut dropins: BTreeMap<PathBuf, Option<UnitFile>> = BTreeMap::new();
    for (dname, dir) in &found.dropin_dirs {
        let Ok(entries) = root.list(dir) else {
            continue;
        };
        let confs = entries
            .into_iter()
            .filter(|p| p.extension().is_some_and(|x| x == "conf"));
        for c in confs {
            if dropins.contains_key(&c) || !root.is_file(&c) {
                continue;
            }
            let parsed = match read_unit_file(&c, root) {
                Ok(f) => {
                    let ty = unit_type(dname.trim_end_matches(".d")).to_string();
                    let ty = if ty.is_empty() {
                        dname.trim_end_matches(".d").to_string()
                    } else {
                        ty
                    };
                    tree.sources.push(Source {
                        unit_type: ty,
                        file: f.clone(),
                        generated: false,
                    });
                    Some(f)
                }
                Err(e) => {
                    tree.findings.push(parse_finding(dname, &e));
                    None
                }
            };
            dropins.insert(c, parsed);
        }
    }
    let by_dir: Vec<(&str, &Path)> = found
        .dropin_dirs
        .iter()
        .map(|(n, p)| (n.as_str(), p.as_path()))
        .collect();
    for unit in tree.units.values_mut().filter(|u| !u.generated) {
        let mut confs: BTreeMap<String, PathBuf> = BTreeMap::new();
        for dname in unit.file.dropin_dirs() {
            for (_, dir) in by_dir.iter().filter(|(n, _)| *n == dname) {
                for path in root.list(dir).unwrap_or_default() {
                    let Some(fname) = path.file_name().and_then(|n| n.to_str()) else {
                        continue;
                    };
                    if fname.ends_with(".conf") && !confs.contains_key(fname) {
                        confs.insert(fname.to_string(), path.clone());
                    }
                }
            }
        }
        for path in confs.values() {
            if let Some(Some(f)) = dropins.get(path) {
                unit.file.merge(f);
            }
        }
    }
    // default.target and friends given as links in the trees.
    for (name, path) in &found.units {
        if let Ok(t) = std::fs::read_link(path) {
            let t = t.to_string_lossy().into_owned();
            let tname = basename(&t);
            if tname != name && is_unit_name(tname) {
                tree.aliases
                    .entry(name.clone())
                    .or_insert_with(|| tname.to_string());
            }
        }
    }
    tree
}

pub fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

/// A unit file or drop-in, read inside `root` and named by `path` as the tree shows it.
fn read_unit_file(
    path: &Path,
    root: &Root,
) -> Result<UnitFile, unitsmith_generator::unitfile::ParseError> {
    if root.dir().is_none() {
        return UnitFile::load(path);
    }
    match root.read(path) {
        Ok(data) => UnitFile::parse(&data, path),
        Err(refused) => Err(unitsmith_generator::unitfile::ParseError {
            path: path.to_path_buf(),
            line: 0,
            message: refused.describe(path).0,
        }),
    }
}

fn walk(dir: &Path, recursive: bool, depth: usize, found: &mut Found, root: &Root) {
    let canon = root.resolve(dir).unwrap_or_else(|| dir.to_path_buf());
    if !found.seen_dirs.insert(canon.clone()) {
        return;
    }
    // (device, inode): on this machine `canon` is the path as given, links and all.
    let Ok(meta) = std::fs::metadata(&canon) else {
        return;
    };
    if !found.walk.enter(dir, &meta, depth) {
        return;
    }
    // As root on this machine, a link in a directory another user controls is not followed
    // (with --root, links are resolved inside the image and never leave it).
    let follow = root.dir().is_some() || found.walk.follows_links_in(&meta);
    let Ok(entries) = root.list(dir) else {
        return;
    };
    let mut subdirs = Vec::new();
    let mut has_quadlet = false;
    let mut left_alone = 0;
    for p in entries {
        if !found.walk.count(dir) {
            break;
        }
        if !follow && std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
            left_alone += 1;
            continue;
        }
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if root.is_dir(&p) {
            if let Some(from) = [".wants", ".requires"]
                .iter()
                .find_map(|s| name.strip_suffix(s).map(|f| (f, *s)))
            {
                let kind = if from.1 == ".wants" {
                    PullKind::Wants
                } else {
                    PullKind::Requires
                };
                let Ok(links) = root.list(&p) else {
                    continue;
                };
                for l in links {
                    if !found.walk.count(&p) {
                        break;
                    }
                    let to = l
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    if is_unit_name(&to) {
                        found.links.push(Link {
                            from: from.0.to_string(),
                            kind,
                            to,
                            path: l,
                        });
                    }
                }
            } else if name.ends_with(".d") {
                let base = name.trim_end_matches(".d");
                if InputKind::from_filename(base).is_none() && !is_quadlet_type_dir(base) {
                    found.dropin_dirs.push((name.clone(), p));
                }
            } else if recursive {
                subdirs.push(p);
            }
        } else if InputKind::from_filename(&name).is_some()
            || InputKind::from_bare_extension(&name).is_some()
        {
            has_quadlet = true;
        } else if is_unit_name(&name) {
            found.units.push((name, p));
        }
    }
    if left_alone > 0 {
        found.walk.links_not_followed(dir, &meta, left_alone);
    }
    if has_quadlet && !found.quadlet_dirs.contains(&dir.to_path_buf()) {
        found.quadlet_dirs.push(dir.to_path_buf());
    }
    for d in subdirs {
        walk(&d, recursive, depth + 1, found, root);
    }
}

/// The finding for a part of the trees the walk did not look at.
fn not_walked(root: &Root, n: NotWalked) -> Finding {
    let path = root.image_path(&n.path);
    let unit = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    Finding {
        rule: "not-walked",
        severity: Severity::Warning,
        file: path,
        line: 0,
        unit,
        message: format!("not walked: {}", n.why),
        fix: if n.limit {
            "unit trees are a few levels deep: look for a link loop or a tree that does not belong there, or lint its parts one by one".into()
        } else {
            "lint it as the directory's owner, or keep units in a directory only root can write"
                .into()
        },
    }
}

/// `container.d`, `volume.d`, ...: Quadlet's drop-ins for every file of a type.
fn is_quadlet_type_dir(base: &str) -> bool {
    InputKind::from_filename(&format!("x.{base}")).is_some()
}

fn add_file(path: &Path, found: &mut Found, root: &Root) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if InputKind::from_filename(&name).is_some() {
        // A single input: its directory is read (drop-ins and dependencies live there).
        if let Some(d) = path.parent() {
            let d = if d.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                d.to_path_buf()
            };
            if !found.quadlet_dirs.contains(&d) {
                found.quadlet_dirs.push(d);
            }
        }
    } else if is_unit_name(&name) {
        found.units.push((name, path.to_path_buf()));
        if let Some(dir) = path.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            for p in root.list(dir).unwrap_or_default() {
                let n = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if n.ends_with(".d") && root.is_dir(&p) {
                    found.dropin_dirs.push((n, p));
                }
            }
        }
    } else if name.ends_with(".conf") {
        if let Some(dir) = path.parent() {
            let dname = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if dname.ends_with(".d") {
                found.dropin_dirs.push((dname, dir.to_path_buf()));
            }
        }
    } else {
        log::warn!(
            "{}: not a unit file, drop-in or Quadlet input; skipped",
            path.display()
        );
    }
}

fn parse_finding(unit: &str, e: &unitsmith_generator::unitfile::ParseError) -> Finding {
    Finding {
        rule: "parse-error",
        severity: Severity::Error,
        file: e.path.clone(),
        line: e.line,
        unit: unit.to_string(),
        // The message's first line: the fix below stands for its hint.
        message: format!(
            "{}; nothing else in this file was checked",
            e.message.lines().next().unwrap_or_default()
        ),
        fix: "write KEY=VALUE lines under a [Section] header (systemd.syntax(7)); systemd ignores the line, so the file may not mean what it says".into(),
    }
}

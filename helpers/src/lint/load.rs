//! Reading the trees `lint` checks: unit files with their drop-ins, `.wants/`/`.requires/`
//! links, and Quadlet inputs turned into the units the generator makes of them (so findings
//! point at the `.container` line the author wrote). One parser: the generator's `UnitFile`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use unitsmith_generator::generate::{self, Options};
use unitsmith_generator::sources::{self, InputKind};
use unitsmith_generator::unitfile::UnitFile;

use super::{Finding, Severity};
use crate::doctor::sd;

/// systemd's unit directories, highest priority first (systemd.unit(5), system manager).
pub const SYSTEM_UNIT_DIRS: &[&str] = &[
    "/etc/systemd/system.control",
    "/run/systemd/system.control",
    "/run/systemd/transient",
    "/run/systemd/generator.early",
    "/etc/systemd/system",
    "/etc/systemd/system.attached",
    "/run/systemd/system",
    "/run/systemd/system.attached",
    "/run/systemd/generator",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
    "/run/systemd/generator.late",
];

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
#[derive(Default)]
struct Found {
    units: Vec<(String, PathBuf)>,
    dropin_dirs: Vec<(String, PathBuf)>,
    links: Vec<Link>,
    quadlet_dirs: Vec<PathBuf>,
    seen_dirs: HashSet<PathBuf>,
}

/// Read `roots` (files or directories, highest priority first). Directories given on the
/// command line are searched recursively (except drop-in and `.wants/` directories, which are
/// read as such); the default unit directories are not, as systemd does not.
pub fn load(roots: &[PathBuf], recursive: bool, quadlet_dirs: &[PathBuf]) -> Tree {
    let mut found = Found::default();
    for r in roots {
        if r.is_dir() {
            walk(r, recursive, &mut found);
        } else if r.exists() {
            add_file(r, &mut found);
        }
    }
    for d in quadlet_dirs {
        if !found.quadlet_dirs.contains(d) {
            found.quadlet_dirs.push(d.clone());
        }
    }
    let mut tree = Tree {
        links: found.links.clone(),
        ..Tree::default()
    };

    // Quadlet inputs become what the generator makes of them, with their drop-ins.
    let mut generated: BTreeMap<String, UnitFile> = BTreeMap::new();
    if !found.quadlet_dirs.is_empty() {
        let inputs = sources::find_inputs(&found.quadlet_dirs);
        let opts = Options {
            user: false,
            podman: std::env::var("PODMAN")
                .ok()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "/usr/bin/podman".into()),
            dirs: found.quadlet_dirs.clone(),
            helper: unitsmith_generator::helper_path(),
            deadline: None,
        };
        let outcome = generate::generate(&inputs, &opts);
        // Inputs with no unit at all (no valid unit name can be made of theirs).
        for ng in &outcome.not_generated {
            tree.findings.push(not_generated_finding(ng));
        }
        for g in outcome.units.into_iter().filter(|g| !g.name.contains('/')) {
            match &g.error {
                Some(e) => tree.findings.push(generator_finding(&g.name, &g.source, e)),
                None => {
                    generated.insert(g.name.clone(), g.unit);
                }
            }
        }
    }

    // Plain unit files: the first of a name wins. Our generator's output is replaced by the
    // unit made from its input just now (the same text, but located in the input).
    let mut masked: HashSet<String> = HashSet::new();
    for (name, path) in &found.units {
        if tree.units.contains_key(name) || masked.contains(name) {
            continue;
        }
        if let Ok(target) = std::fs::read_link(path) {
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
        let data = match unitsmith_generator::safe_read::read(path) {
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
        let Ok(rd) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut confs: Vec<PathBuf> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "conf"))
            .collect();
        confs.sort();
        for c in confs {
            if dropins.contains_key(&c) || !c.is_file() {
                continue;
            }
            let parsed = match UnitFile::load(&c) {
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
                let Ok(rd) = std::fs::read_dir(dir) else {
                    continue;
                };
                for e in rd.filter_map(|e| e.ok()) {
                    let Ok(fname) = e.file_name().into_string() else {
                        continue;
                    };
                    if fname.ends_with(".conf") && !confs.contains_key(&fname) {
                        confs.insert(fname, e.path());
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

fn walk(dir: &Path, recursive: bool, found: &mut Found) {
    let canon = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if !found.seen_dirs.insert(canon) {
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    let mut subdirs = Vec::new();
    let mut has_quadlet = false;
    for p in entries {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if p.is_dir() {
            if let Some(from) = [".wants", ".requires"]
                .iter()
                .find_map(|s| name.strip_suffix(s).map(|f| (f, *s)))
            {
                let kind = if from.1 == ".wants" {
                    PullKind::Wants
                } else {
                    PullKind::Requires
                };
                let Ok(rd) = std::fs::read_dir(&p) else {
                    continue;
                };
                let mut links: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
                links.sort();
                for l in links {
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
    if has_quadlet && !found.quadlet_dirs.contains(&dir.to_path_buf()) {
        found.quadlet_dirs.push(dir.to_path_buf());
    }
    for d in subdirs {
        walk(&d, recursive, found);
    }
}

/// `container.d`, `volume.d`, ...: Quadlet's drop-ins for every file of a type.
fn is_quadlet_type_dir(base: &str) -> bool {
    InputKind::from_filename(&format!("x.{base}")).is_some()
}

fn add_file(path: &Path, found: &mut Found) {
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
            if let Ok(rd) = std::fs::read_dir(dir) {
                for e in rd.filter_map(|e| e.ok()) {
                    let n = e.file_name().to_string_lossy().into_owned();
                    if n.ends_with(".d") && e.path().is_dir() {
                        found.dropin_dirs.push((n, e.path()));
                    }
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
        message: format!("{}; nothing else in this file was checked", e.message),
        fix: "write KEY=VALUE lines under a [Section] header (systemd.syntax(7)); systemd ignores the line, so the file may not mean what it says".into(),
    }
}

/// A Quadlet input the generator makes no unit of at all: no valid unit name can be made of
/// its name (`@.container`, over 255 bytes).
fn not_generated_finding(ng: &unitsmith_generator::generate::NotGenerated) -> Finding {
    let (message, fix) = match ng.error.split_once("\n  hint: ") {
        Some((m, h)) => (m, h),
        None => (ng.error.as_str(), "rename the file"),
    };
    // The message starts with the (escaped) path; the finding names the file already.
    let message = message
        .split_once(": cannot become a unit: ")
        .map_or(message, |(_, m)| m);
    Finding {
        rule: "generator-error",
        severity: Severity::Error,
        file: ng.source.clone(),
        line: 0,
        unit: ng.unit.clone(),
        message: format!(
            "the generator makes no unit of this input (not even a failure stub): {message}"
        ),
        fix: fix.to_string(),
    }
}

/// A Quadlet input the generator cannot translate: its unit is a failure stub.
fn generator_finding(unit: &str, source: &Path, error: &str) -> Finding {
    let first = error.lines().next().unwrap_or("");
    let hint = error
        .lines()
        .skip(1)
        .map(|l| l.trim().trim_start_matches("hint: ").to_string())
        .collect::<Vec<_>>()
        .join("; ");
    // Messages start with `PATH:LINE: ` when the generator knows the line.
    let (file, line, msg) = match first.strip_prefix(&format!("{}:", source.display())) {
        Some(rest) => match rest.split_once(':') {
            Some((n, m)) if n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty() => (
                source.to_path_buf(),
                n.parse().unwrap_or(0),
                m.trim().to_string(),
            ),
            _ => (source.to_path_buf(), 0, rest.trim().to_string()),
        },
        None => (source.to_path_buf(), 0, first.to_string()),
    };
    Finding {
        rule: "generator-error",
        severity: Severity::Error,
        file,
        line,
        unit: unit.to_string(),
        message: format!("the generator cannot translate this input; {unit} becomes a failure stub that fails on start: {msg}"),
        fix: if hint.is_empty() { "fix the input (see `unitsmith doctor`)".into() } else { hint },
    }
}

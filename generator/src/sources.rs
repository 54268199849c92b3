//! Finding input files in the search paths and loading them with their drop-ins.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::quadlet::Kind;
use crate::unitfile::{ParseError, UnitFile};

/// What an input file declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Quadlet(Kind),
    /// A unitsmith `.envgate` declaration.
    EnvGate,
    /// A Compose project: its Compose file, in `compose/NAME/` of an input directory (see
    /// `compose`). The input's name is the project directory's.
    Compose,
}

impl InputKind {
    pub fn from_filename(name: &str) -> Option<InputKind> {
        if name.ends_with(".envgate") && name.len() > ".envgate".len() {
            return Some(InputKind::EnvGate);
        }
        Kind::from_filename(name).map(InputKind::Quadlet)
    }
}

/// One input file: the first of its name in the search paths.
#[derive(Debug, Clone)]
pub struct Input {
    pub name: String,
    pub path: PathBuf,
    pub kind: InputKind,
    /// Later files of the same name, hidden by this one.
    pub shadows: Vec<PathBuf>,
}

/// What the search paths hold, from one listing of each directory.
#[derive(Debug, Default)]
pub struct Scan {
    /// Every input, the first of each name winning, in search order.
    pub inputs: Vec<Input>,
    /// The `*.d` entries that are not plain files: drop-in directories, so that loading a
    /// unit looks only where there is something (most units have no drop-ins at all).
    pub dropins: HashSet<PathBuf>,
}

/// One directory entry, as listed.
pub struct Entry {
    pub name: std::ffi::OsString,
    /// A regular file: never a directory to descend into or a drop-in directory.
    pub plain_file: bool,
}

/// The entries of `dir`, in no particular order; `None` when it cannot be read.
pub fn list(dir: &Path) -> Option<Vec<Entry>> {
    let rd = std::fs::read_dir(dir).ok()?;
    Some(
        rd.filter_map(|e| e.ok())
            .map(|e| Entry {
                plain_file: e.file_type().is_ok_and(|t| t.is_file()),
                name: e.file_name(),
            })
            .collect(),
    )
}

/// Builds a [`Scan`] from directory listings given in search order, so that whoever lists
/// the directories anyway (the search-path walk) need not list them twice.
#[derive(Default)]
pub struct Scanner {
    scan: Scan,
    /// Names taken so far, by index in `inputs`. Names within one directory are unique, so
    /// the map is only built when a second directory has inputs: most runs never hash one.
    taken: Option<HashMap<String, usize>>,
}

impl Scanner {
    pub fn add_dir(&mut self, dir: &Path, entries: &[Entry]) {
        let mut found: Vec<(&str, InputKind)> = Vec::new();
        for e in entries {
            let Some(name) = e.name.to_str() else {
                continue;
            };
            if let Some(kind) = InputKind::from_filename(name) {
                found.push((name, kind));
            } else if name.ends_with(".d") && !e.plain_file {
                self.scan.dropins.insert(dir.join(name));
            }
        }
        found.sort_unstable_by(|a, b| a.0.cmp(b.0));
        // A Compose project directory: its name decides first, so other directories cost
        // nothing here.
        let project =
            crate::compose::project_file(dir, &mut entries.iter().filter_map(|e| e.name.to_str()))
                .and_then(crate::compose::input);
        let project_name = project.as_ref().map(|p| p.name.clone());
        if let Some(p) = &project_name {
            found.push((p.as_str(), InputKind::Compose));
        }
        let inputs = &mut self.scan.inputs;
        let first_dir = inputs.is_empty();
        for (name, kind) in found {
            let path = match (kind, &project) {
                (InputKind::Compose, Some(p)) => p.path.clone(),
                _ => dir.join(name),
            };
            if !first_dir {
                let taken = self.taken.get_or_insert_with(|| {
                    (inputs.iter().enumerate())
                        .map(|(i, input)| (input.name.clone(), i))
                        .collect()
                });
                if let Some(&i) = taken.get(name) {
                    inputs[i].shadows.push(path);
                    continue;
                }
                taken.insert(name.to_string(), inputs.len());
            }
            inputs.push(Input {
                name: name.to_string(),
                path,
                kind,
                shadows: Vec::new(),
            });
        }
    }

    pub fn finish(self) -> Scan {
        self.scan
    }
}

/// List every directory of `dirs` once, for its inputs and its drop-in directories.
pub fn scan(dirs: &[PathBuf]) -> Scan {
    let mut scanner = Scanner::default();
    for dir in dirs {
        if let Some(entries) = list(dir) {
            scanner.add_dir(dir, &entries);
        }
    }
    scanner.finish()
}

/// Every input in `dirs`, the first of each name winning, in search order.
pub fn find_inputs(dirs: &[PathBuf]) -> Vec<Input> {
    scan(dirs).inputs
}

/// The drop-in directories of `dirs` (see [`Scan::dropins`]).
pub fn dropin_index(dirs: &[PathBuf]) -> HashSet<PathBuf> {
    scan(dirs).dropins
}

/// Parse an input and merge its drop-ins (`*.conf` in its drop-in directories, in every
/// search path; the first file of a name wins; merged in name order). Run as root, a file
/// that another user owns or can write is an error (see `trust`).
pub fn load(input: &Input, dirs: &[PathBuf]) -> Result<UnitFile, ParseError> {
    load_indexed(input, dirs, &dropin_index(dirs))
}

/// [`load`] with a [`dropin_index`] computed once for many inputs.
pub fn load_indexed(
    input: &Input,
    dirs: &[PathBuf],
    index: &HashSet<PathBuf>,
) -> Result<UnitFile, ParseError> {
    let enforced = crate::trust::enforced();
    let load = |path: &Path| {
        if enforced {
            UnitFile::load_checked(path, crate::trust::check_input)
        } else {
            UnitFile::load(path)
        }
    };
    let mut unit = load(&input.path)?;
    let mut confs: BTreeMap<String, PathBuf> = BTreeMap::new();
    // Most systems have no drop-in directories at all: do not even compute their names.
    let dropin_dirs = if index.is_empty() {
        Vec::new()
    } else {
        unit.dropin_dirs()
    };
    for dropin_dir in dropin_dirs {
        for dir in dirs {
            let d = dir.join(&dropin_dir);
            if !index.contains(&d) {
                continue;
            }
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in rd.filter_map(|e| e.ok()) {
                let Ok(name) = e.file_name().into_string() else {
                    continue;
                };
                if Path::new(&name).extension().is_some_and(|x| x == "conf")
                    && !confs.contains_key(&name)
                {
                    confs.insert(name, d.join(e.file_name()));
                }
            }
        }
    }
    for path in confs.values() {
        crate::log_debug!("Loading source drop-in file {}", path.display());
        let dropin = load(path)?;
        unit.merge(&dropin);
    }
    Ok(unit)
}

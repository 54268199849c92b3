//! Compose projects → Quadlet units, in memory, at every daemon-reload.
//!
//! A project is a directory `compose/NAME/` in one of unitsmith's input directories
//! (`/etc/unitsmith`, `/run/unitsmith`, `/usr/lib/unitsmith`; `~/.config/unitsmith` for a user
//! manager) holding `compose.yaml` (or `compose.yml`, `docker-compose.yaml`,
//! `docker-compose.yml`), maybe `compose.override.yaml` and `.env`. Each service becomes an
//! in-memory `.container` unit (and `.build`; top-level networks and volumes `.network` and
//! `.volume` units) whose every assignment remembers the line of `compose.yaml` it came from;
//! the generator then converts those exactly as Quadlet files (one model, Quadlet's
//! semantics), and an error anywhere names `compose.yaml:LINE` and the key.
//!
//! Units: `PROJECT-SERVICE.service` (a template `PROJECT-SERVICE@.service` with instances
//! `@1`..`@N` for `scale:`/`deploy.replicas:`), `PROJECT-SERVICE-build.service`,
//! `PROJECT-VOLUME-volume.service`, `PROJECT-NETWORK-network.service`, and `PROJECT.target`,
//! which wants every service and is wanted by `multi-user.target` (`default.target` for a
//! user). Podman objects are named as Docker Compose names them, so that a project once run
//! by `docker compose`/`podman compose` finds its volumes: containers `PROJECT-SERVICE-1`
//! (`-N` for replicas), volumes `PROJECT_VOLUME`, networks `PROJECT_NETWORK`
//! (`PROJECT_default` for the implicit one), unless `name:`/`container_name:` say otherwise.
//!
//! Nothing here runs, and nothing is linked in memory, unless a project exists: the scan
//! recognises a project directory by its name alone, and the generator calls [`translate`]
//! only with project inputs.

pub mod anonymous;
mod assemble;
mod check;
mod dotenv;
pub mod envfile;
mod interpolate;
mod merge;
mod resources;
mod runtime;
mod service;
#[cfg(test)]
mod testing;
mod unit;
mod values;
pub mod yaml;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::budget::Budget;
use crate::quadlet::Kind;
use crate::safe_read::Refused;
use crate::sources::{Entry, Input, InputKind};
use crate::unitfile::UnitFile;

use interpolate::Vars;
use yaml::{Node, Value};

/// The file names of a project's Compose file, in order of preference (03-compose-file.md).
pub const FILE_NAMES: &[&str] = &[
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

/// Override files, each read with the main file of the same family.
const OVERRIDE_NAMES: &[&str] = &[
    "compose.override.yaml",
    "compose.override.yml",
    "docker-compose.override.yaml",
    "docker-compose.override.yml",
];

/// The directory holding projects, inside each input directory.
pub const DIR: &str = "compose";

/// The input directories whose `compose/` subdirectory holds projects: unitsmith's own (system
/// and user), or the directories `UNITSMITH_UNIT_DIRS`/`QUADLET_UNIT_DIRS` name. Resolved,
/// as the walk's paths are. Computed on first use: only when a `compose/` directory is seen.
fn roots() -> &'static Vec<PathBuf> {
    static ROOTS: OnceLock<Vec<PathBuf>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut dirs: Vec<PathBuf> = Vec::new();
        for var in crate::dirs::ENV_OVERRIDES {
            if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
                dirs.extend(v.to_string_lossy().split(':').map(PathBuf::from));
                break;
            }
        }
        if dirs.is_empty() {
            dirs.extend(crate::dirs::own_dirs(false));
            dirs.extend(crate::dirs::own_dirs(true));
        }
        dirs.iter()
            .map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| d.clone()))
            .collect()
    })
}

/// The Compose file of a project directory, when `dir` is one: `ROOT/compose/NAME/` holding
/// one of [`FILE_NAMES`]. Cheap for every other directory: its parent's name decides first.
pub fn project_file(dir: &Path, names: &mut dyn Iterator<Item = &str>) -> Option<PathBuf> {
    let parent = dir.parent()?;
    if parent.file_name()? != DIR {
        return None;
    }
    let present: Vec<&str> = names.filter(|n| FILE_NAMES.contains(n)).collect();
    let first = FILE_NAMES.iter().find(|f| present.contains(f))?;
    let root = parent.parent()?;
    if !roots().iter().any(|r| r == root) {
        return None;
    }
    Some(dir.join(first))
}

/// The project a directory listing shows, when `dir` is a project directory: its name (the
/// directory's, bytes that are not UTF-8 shown as `\xNN`) and its Compose file's entry.
pub fn project_in<'e>(dir: &Path, entries: &'e [Entry]) -> Option<(String, &'e Entry)> {
    let file = project_file(dir, &mut entries.iter().filter_map(|e| e.name.to_str()))?;
    let entry = entries
        .iter()
        .find(|e| Some(e.name.as_os_str()) == file.file_name())?;
    Some((crate::unitname::display(dir.file_name()?), entry))
}

/// The input for a project directory's Compose file (looked at before it is read).
pub fn input(file: PathBuf) -> Option<Input> {
    let dir_name = file.parent()?.file_name()?;
    let name_not_utf8 = dir_name.to_str().is_none();
    Some(Input {
        name: crate::unitname::display(dir_name),
        name_not_utf8,
        ..Input::at(file, InputKind::Compose)
    })
}

/// One unit a project gives: a Quadlet unit (in memory) for the generator to convert, or the
/// error its failure stub carries.
#[derive(Debug)]
pub struct Made {
    /// A Quadlet input that exists only in memory: its name is the file it would be
    /// (`app-web.container`), its path the Compose file.
    pub input: Input,
    pub kind: Kind,
    pub result: Result<UnitFile, String>,
}

/// Everything the projects give.
#[derive(Debug, Default)]
pub struct Translated {
    pub made: Vec<Made>,
    /// Units that are not Quadlet's: each project's target.
    pub targets: Vec<Target>,
    pub warnings: Vec<String>,
}

/// Translate every project among `inputs` (the others are left alone). `taken` holds the
/// names of the real Quadlet inputs: a project unit of the same name is not made (the file
/// wins, and a warning says so). Every file read counts against `budget`, as any input does.
#[cold]
#[inline(never)]
pub fn translate(
    inputs: &[Input],
    user: bool,
    taken: &HashSet<&str>,
    budget: &Budget,
    helper: &str,
) -> Translated {
    let mut out = Translated::default();
    for input in inputs.iter().filter(|i| i.kind == InputKind::Compose) {
        let mut t = translate_project(input, user, budget, helper);
        // What a project root does not trust gives (its failure stub and target) is as
        // untrusted as the project (see `Input::untrusted`).
        for m in &mut t.made {
            m.input.untrusted = input.untrusted;
        }
        for target in &mut t.targets {
            target.untrusted = input.untrusted;
        }
        t.made.retain(|m| {
            if taken.contains(m.input.name.as_str()) {
                out.warnings.push(format!(
                    "{}: not generated: {} is also a Quadlet file in the search paths, which wins\n  hint: rename the Compose service or the Quadlet file",
                    input.path.display(),
                    m.input.name
                ));
                false
            } else {
                true
            }
        });
        out.made.append(&mut t.made);
        out.targets.append(&mut t.targets);
        out.warnings.append(&mut t.warnings);
    }
    out
}

/// A project's units; a project that cannot be read at all gives a failure stub
/// `PROJECT.service` that its target requires.
fn translate_project(input: &Input, user: bool, budget: &Budget, helper: &str) -> Translated {
    contained(input, user, || {
        let mut out = Translated::default();
        match Project::load(input, user, budget, &mut out.warnings) {
            Ok(project) => service::translate(&project, helper, &mut out),
            Err(error) => out = unreadable(input, user, error, out.warnings),
        }
        out
    })
}

/// `translate` run so that a panic in it (the YAML reader is third-party code, and every
/// Compose file is read at every boot) costs only this project its units: it becomes the
/// project's failure stub, as a file that cannot be read, and every other input keeps its
/// unit. The panic hook has already logged where it happened.
fn contained(input: &Input, user: bool, translate: impl FnOnce() -> Translated) -> Translated {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(translate)) {
        Ok(translated) => translated,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let error = format!(
                "{}: internal error while translating this project (please report): {what}",
                shown_path(input)
            );
            unreadable(input, user, error, Vec::new())
        }
    }
}

/// The failure stub `PROJECT.service` of a project that gives no units, and its target,
/// which requires it.
fn unreadable(input: &Input, user: bool, error: String, warnings: Vec<String>) -> Translated {
    let name = unread_name(input);
    let mut target = target_unit(&name, &input.path, user);
    target.add("Unit", "Requires", &format!("{name}.service"));
    target.add("Unit", "After", &format!("{name}.service"));
    Translated {
        made: vec![Made {
            input: synthetic(&format!("{name}.container"), &input.path),
            kind: Kind::Container,
            result: Err(error),
        }],
        targets: vec![Target {
            unit: target,
            source: input.path.clone(),
            wants: Vec::new(),
            untrusted: false,
        }],
        warnings,
    }
}

/// The target a project input gives (`PROJECT.target`): every project has one, even one
/// that cannot be read (it then requires the failure stub `PROJECT.service`).
pub fn target_name(input: &Input, user: bool) -> String {
    let mut warnings = Vec::new();
    // (doctor and lint: no time limit, as in their other reads.)
    let name = match Project::load(input, user, &Budget::default(), &mut warnings) {
        Ok(p) => p.name,
        Err(_) => unread_name(input),
    };
    format!("{name}.target")
}

/// The name of a project that could not be read, from its directory: its failure stub is
/// `NAME.service` (and its target `NAME.target`).
pub fn unread_name(input: &Input) -> String {
    if input.name_not_utf8 {
        // As shown (`caf\xe9`): a valid unit name, and the one systemd-escape gives.
        return input.name.clone();
    }
    match normalise_name(&input.name) {
        n if n.is_empty() => input.name.clone(),
        n => n,
    }
}

/// A project's target, the Compose file it comes from, and the units it wants. Those are
/// links in `PROJECT.target.wants/`, not `Wants=` lines: the target's own text then stays the
/// same when a service is added or removed, so `unitsmith reload --restart-changed` never
/// restarts it (which would restart every service through their `PartOf=`).
#[derive(Debug)]
pub struct Target {
    pub unit: UnitFile,
    pub source: PathBuf,
    pub wants: Vec<String>,
    /// The project is one root does not trust (see `Input::untrusted`).
    pub untrusted: bool,
}

/// A synthetic Quadlet input named `name`, made from the Compose file `path`.
fn synthetic(name: &str, path: &Path) -> Input {
    let kind = Kind::from_filename(name).map_or(InputKind::Compose, InputKind::Quadlet);
    Input {
        name: name.to_string(),
        ..Input::at(path.to_path_buf(), kind)
    }
}

/// `PROJECT.target`: wants the project's services; wanted at boot.
fn target_unit(project: &str, source: &Path, user: bool) -> UnitFile {
    let mut t = UnitFile::new(&format!("{project}.target"));
    t.path = source.to_path_buf();
    t.add(
        "Unit",
        "Description",
        &format!("Compose project {project}").replace('%', "%%"),
    );
    t.add("Unit", "SourcePath", &source.to_string_lossy());
    let wanted_by = if user {
        "default.target"
    } else {
        "multi-user.target"
    };
    t.add("Install", "WantedBy", wanted_by);
    t
}

/// A project name as Compose makes one of a directory name: lower case, only `a-z0-9_-`,
/// starting with a letter or digit.
pub fn normalise_name(s: &str) -> String {
    let lower: String = s
        .to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        .collect();
    lower
        .trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// A loaded project: the merged tree, its files, variables and what interpolation refused.
pub struct Project<'b> {
    pub name: String,
    pub dir: PathBuf,
    /// The files its nodes came from: the Compose file, then the override file.
    pub files: Vec<PathBuf>,
    pub vars: Vars,
    pub root: Node,
    /// Interpolation failures by dotted path (`services.web.image`): the units made from
    /// those values fail with the message, the others are made.
    pub broken: BTreeMap<String, String>,
    pub user: bool,
    /// Warnings found while translating (each with its location).
    pub warnings: std::cell::RefCell<Vec<String>>,
    /// The run's limits, for the files the translation reads (`env_file:`).
    pub budget: &'b Budget,
}

impl<'b> Project<'b> {
    fn load(
        input: &Input,
        user: bool,
        budget: &'b Budget,
        warnings: &mut Vec<String>,
    ) -> Result<Project<'b>, String> {
        if input.name_not_utf8 {
            return Err(not_utf8(input));
        }
        let main = input.path.clone();
        let dir = main.parent().unwrap_or(Path::new("/")).to_path_buf();
        let main_name = main
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let others: Vec<&str> = FILE_NAMES
            .iter()
            .copied()
            .filter(|n| *n != main_name && std::fs::symlink_metadata(dir.join(n)).is_ok())
            .collect();
        if !others.is_empty() {
            warnings.push(format!(
                "{}: also found {} in {}; only {main_name} is read (Compose's order of preference)",
                main.display(),
                others.join(", "),
                dir.display()
            ));
        }
        let mut files = vec![main.clone()];
        let family = if main_name.starts_with("docker-") {
            &OVERRIDE_NAMES[2..]
        } else {
            &OVERRIDE_NAMES[..2]
        };
        // Any entry of the name, even a dangling link: it is read (and refused), not skipped.
        let present = |p: &PathBuf| std::fs::symlink_metadata(p).is_ok();
        if let Some(o) = family.iter().map(|n| dir.join(n)).find(present) {
            files.push(o);
        }

        // .env: the only source of variables (see dotenv.rs).
        let env_path = dir.join(".env");
        let mut vars = Vars::new();
        // Where .env sets COMPOSE_PROJECT_NAME (its last line that does), for its errors.
        let mut name_line = 0;
        if std::fs::symlink_metadata(&env_path).is_ok() {
            let text = read(&env_path, false, budget)?;
            name_line = last_line_setting(&text, "COMPOSE_PROJECT_NAME");
            let (v, w) = dotenv::parse(&text).map_err(|e| {
                format!(
                    "{}:{}: {}\n  hint: .env holds VAR=VALUE lines (05-services.md, \"Env_file format\")",
                    env_path.display(),
                    e.line,
                    e.message
                )
            })?;
            for e in w {
                warnings.push(format!("{}:{}: {}", env_path.display(), e.line, e.message));
            }
            vars = v;
        }

        let mut trees = Vec::new();
        for (i, path) in files.iter().enumerate() {
            // Only the main file was listed (the override is looked at before it is read).
            let text = read(path, i == 0 && input.listed_regular, budget)?;
            let tree = yaml::parse(&text, i)
                .map_err(|e| format!("{}:{}: {}", path.display(), e.line, e.message))?;
            charge_expansion(&tree, text.len(), path, budget)?;
            if tree.as_map().is_none() {
                return Err(format!(
                    "{}:{}: a Compose file is a mapping (services:, networks:, ...), not {}",
                    path.display(),
                    tree.line,
                    tree.kind()
                ));
            }
            trees.push(tree);
        }

        // The project name: COMPOSE_PROJECT_NAME in .env, else `name:`, else the directory's.
        let mut broken = BTreeMap::new();
        let mut found = interpolate::Found::default();
        let declared = trees
            .iter()
            .rev()
            .find_map(|t| t.get("name").map(|n| ((n.file, n.line), n.clone())));
        let name = if let Some(n) = vars.get("COMPOSE_PROJECT_NAME").filter(|n| !n.is_empty()) {
            // It names files root writes (PROJECT.target, its .wants/) and goes into units:
            // held to the rule of `name:` (the value is not quoted: .env may hold secrets).
            if normalise_name(n) != *n {
                return Err(format!(
                    "{}:{name_line}: COMPOSE_PROJECT_NAME is not a project name; nothing of the project is generated\n  hint: use lower-case letters, digits, '-' and '_', starting with a letter or digit",
                    env_path.display()
                ));
            }
            n.clone()
        } else if let Some(((file, line), node)) = declared {
            let raw = node.as_str().unwrap_or_default();
            let at = format!("{}:{line}", files[file].display());
            let n = interpolate::interpolate(raw, &vars, &mut found)
                .map_err(|e| format!("{at}: name: {e}"))?;
            if normalise_name(&n) != n || n.is_empty() {
                return Err(format!(
                    "{at}: name: \"{n}\" is not a project name\n  hint: use lower-case letters, digits, '-' and '_', starting with a letter or digit"
                ));
            }
            n
        } else {
            let n = normalise_name(&input.name);
            if n.is_empty() {
                return Err(format!(
                    "{}: the directory name \"{}\" gives no project name\n  hint: rename the directory (letters, digits, '-', '_') or set name: in the file",
                    main.display(),
                    input.name
                ));
            }
            n
        };
        vars.entry("COMPOSE_PROJECT_NAME".into())
            .or_insert_with(|| name.clone());

        // Interpolation applies to every value (never to keys), file by file, before the merge.
        let mut merged: Option<Node> = None;
        for (i, mut tree) in trees.into_iter().enumerate() {
            let mut unset: Vec<(usize, String, String)> = Vec::new();
            interpolate_tree(&mut tree, "", &vars, &mut broken, &mut unset, &files[i]);
            for (line, path, var) in unset {
                warnings.push(format!(
                    "{}:{line}: {path}: variable {var} is not set (the project's .env is the only source of variables); replaced by \"\"",
                    files[i].display()
                ));
            }
            // include: and extends: bring in other files (see assemble.rs).
            assemble::Loader {
                files: &mut files,
                vars: &vars,
                budget,
                broken: &mut broken,
                warnings,
            }
            .expand(&mut tree, i)?;
            merged = Some(match merged {
                None => tree,
                Some(base) => merge::merge(base, tree, ""),
            });
        }
        let root = merged.unwrap_or_else(|| Node::new(0, 1, Value::Map(Vec::new())));
        Ok(Project {
            name,
            dir,
            files,
            vars,
            root,
            broken,
            user,
            warnings: Default::default(),
            budget,
        })
    }

    /// `file:line` of a node.
    pub fn at(&self, node: &Node) -> String {
        self.at_line(node.file, node.line)
    }

    pub fn at_line(&self, file: usize, line: usize) -> String {
        let path = self.files.get(file).unwrap_or(&self.files[0]);
        format!("{}:{line}", path.display())
    }

    /// The interpolation failure under `path` (e.g. `services.web`), if any.
    pub fn broken_under(&self, path: &str) -> Option<String> {
        let prefix = format!("{path}.");
        self.broken
            .iter()
            .find(|(p, _)| p.as_str() == path || p.starts_with(&prefix))
            .map(|(_, m)| m.clone())
    }

    /// A new in-memory Quadlet unit of this project.
    pub fn unit(&self, filename: &str) -> UnitFile {
        let mut u = UnitFile::new(filename);
        u.path = self.files[0].clone();
        u.sources = self.files.clone();
        u
    }
}

/// The number of the last line of an env file that sets `var` (`VAR=...`, `export VAR=...`);
/// 0 when none does.
fn last_line_setting(text: &str, var: &str) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let l = l.trim_start();
            let l = l.strip_prefix("export ").unwrap_or(l).trim_start();
            l.strip_prefix(var)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .last()
        .map_or(0, |(i, _)| i + 1)
}

/// What a file's aliases add to it counts against the run's byte allowance, as reading that
/// much more would: each file is bounded by yaml.rs, and this bounds many files together
/// (20,000 small files that each expand to a few MiB would otherwise ask for gigabytes).
fn charge_expansion(tree: &Node, read: usize, path: &Path, budget: &Budget) -> Result<(), String> {
    let added = tree.text_bytes().saturating_sub(read);
    if added == 0 {
        return Ok(());
    }
    budget.take_bytes(added as u64).map_err(|_| {
        format!(
            "{}: not read: its aliases add {added} bytes of text, more than is left of the run's allowance of {} MiB for all inputs",
            path.display(),
            crate::budget::TOTAL_BYTES >> 20
        )
    })
}

/// Interpolate every scalar value under `node` (keys are left alone); failures are kept by
/// path, unset variables returned with their line.
fn interpolate_tree(
    node: &mut Node,
    path: &str,
    vars: &Vars,
    broken: &mut BTreeMap<String, String>,
    unset: &mut Vec<(usize, String, String)>,
    file: &Path,
) {
    let line = node.line;
    match &mut node.value {
        Value::Scalar { text, .. } => {
            if !text.contains('$') {
                return;
            }
            let mut found = interpolate::Found::default();
            match interpolate::interpolate(text, vars, &mut found) {
                Ok(v) => *text = v,
                Err(e) => {
                    broken
                        .entry(path.to_string())
                        .or_insert(format!(
                            "{}:{line}: {path}: {e}\n  hint: variables come from the project's .env only (VAR=VALUE lines beside the Compose file)",
                            file.display()
                        ));
                }
            }
            for var in found.unset {
                unset.push((line, path.to_string(), var));
            }
        }
        Value::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let sub = format!("{path}.{i}");
                interpolate_tree(item, &sub, vars, broken, unset, file);
            }
        }
        Value::Map(entries) => {
            for (k, v) in entries.iter_mut() {
                let sub = if path.is_empty() {
                    k.name.clone()
                } else {
                    format!("{path}.{}", k.name)
                };
                interpolate_tree(v, &sub, vars, broken, unset, file);
            }
        }
        Value::Null => {}
    }
}

/// Read a file of a project (Compose file, override, `.env`, `env_file:`) as every input is
/// read (see `safe_read::input_contents`): never blocking on a FIFO or a device, at most
/// 1 MiB, within the run's time and bytes, and, as root, only a file root owns and no one
/// else can write (the units made from it run as root). The error names the file.
pub fn read(path: &Path, listed_regular: bool, budget: &Budget) -> Result<String, String> {
    let owner = crate::trust::Owner::for_inputs();
    let read = crate::safe_read::input_contents(path, listed_regular, budget, owner, |data| {
        String::from_utf8(data.to_vec()).map_err(|e| e.utf8_error().valid_up_to())
    });
    match read {
        Ok(Ok(text)) => Ok(text),
        Ok(Err(valid)) => Err(format!(
            "{}: not read: not UTF-8 text (byte {} is not); Compose files and .env files are UTF-8\n  hint: check that this is the intended file, and convert it (iconv -t UTF-8)",
            path.display(),
            valid + 1
        )),
        Err(refused) => Err(refusal(path, &refused)),
    }
}

/// The message for a project file that was not read: as for any input, with a hint that
/// speaks of Compose files where the general one speaks of Quadlet files.
fn refusal(path: &Path, refused: &Refused) -> String {
    let (message, hint) = refused.describe(path);
    let hint = match refused {
        Refused::TooLarge(_) => Some(
            "Compose files and .env files are a few kilobytes: check that this is the intended file".to_string(),
        ),
        // (The general hint says inputs in such a directory are read: a project's are not.)
        Refused::NotRegular("a directory") => {
            Some("make it a regular file: nothing in a project directory is searched for inputs".to_string())
        }
        _ => hint,
    };
    match hint {
        Some(h) => format!("{}: {message}\n  hint: {h}", path.display()),
        None => format!("{}: {message}", path.display()),
    }
}

/// Why a project whose directory name is not UTF-8 is not read: unit files are UTF-8, so
/// neither a project name nor a path in it (a bind mount, a build context) can be written
/// in one faithfully, and none is made up from the `\xNN` shown for it.
fn not_utf8(input: &Input) -> String {
    format!(
        "{}: not read: the project directory's name \"{}\" is not valid UTF-8, and unit files are; no path in it can be written in a unit\n  hint: rename the directory (letters, digits, '-', '_')",
        shown_path(input),
        input.name
    )
}

/// The Compose file's path with the project directory's name as shown (`\xNN` for bytes
/// that are not UTF-8), as `badname` shows file names.
fn shown_path(input: &Input) -> String {
    let file = input.path.file_name().unwrap_or_default();
    match input.path.parent().and_then(Path::parent) {
        Some(root) => format!(
            "{}/{}/{}",
            root.display(),
            input.name,
            file.to_string_lossy()
        ),
        None => input.path.display().to_string(),
    }
}

/// Services of a project in file order, with their nodes.
pub fn services(root: &Node) -> Vec<(&str, usize, &Node)> {
    root.get("services")
        .and_then(Node::as_map)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.name.as_str(), k.line, v))
                .collect()
        })
        .unwrap_or_default()
}

/// Which unit names a project's units take, shared by the translation steps.
pub struct Names<'p> {
    pub project: &'p str,
    /// Service → number of replicas (1 unless scaled; 0 for `replicas: 0`).
    pub replicas: HashMap<String, u32>,
}

impl Names<'_> {
    /// The Quadlet file name of a service's container (`app-web.container`, `app-web@.container`).
    pub fn container_file(&self, service: &str) -> String {
        if self.is_template(service) {
            format!("{}-{service}@.container", self.project)
        } else {
            format!("{}-{service}.container", self.project)
        }
    }

    /// A service's container as Docker Compose names it, unless `container_name:` says
    /// otherwise: `PROJECT-SERVICE-1`, `PROJECT-SERVICE-%i` for replicas. Its anonymous
    /// volumes are named after it.
    pub fn container_prefix(&self, service: &str) -> String {
        let n = if self.is_template(service) { "%i" } else { "1" };
        format!("{}-{service}-{n}", self.project)
    }

    pub fn is_template(&self, service: &str) -> bool {
        self.replicas.get(service).copied().unwrap_or(1) > 1
    }

    /// The systemd units that run a service: one, or one per replica.
    pub fn service_units(&self, service: &str) -> Vec<String> {
        let n = self.replicas.get(service).copied().unwrap_or(1);
        if n > 1 {
            (1..=n)
                .map(|i| format!("{}-{service}@{i}.service", self.project))
                .collect()
        } else {
            vec![format!("{}-{service}.service", self.project)]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::TOTAL_BYTES;
    use std::time::{Duration, Instant};

    const HELPER: &str = "/usr/bin/unitsmith";

    /// A project `app` under a fresh root: compose.yaml (one service with an env_file:),
    /// .env and app.env. Returns its input and the bytes of its three files.
    fn project_with_three_files(test: &str) -> (Input, u64) {
        let root =
            std::env::temp_dir().join(format!("unitsmith-compose-{test}-{}", std::process::id()));
        let dir = root.join("compose/app");
        std::fs::create_dir_all(&dir).unwrap();
        let files = [
            (
                "compose.yaml",
                "services:\n  web:\n    image: docker.io/library/nginx:${TAG}\n    env_file: app.env\n",
            ),
            (".env", "TAG=1.27\n"),
            ("app.env", "A=1\n"),
        ];
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        let bytes = files.iter().map(|(_, t)| t.len() as u64).sum();
        (super::input(dir.join("compose.yaml")).unwrap(), bytes)
    }

    /// Remove the root [`project_with_three_files`] made (ROOT/compose/app/compose.yaml).
    fn remove_root(input: &Input) {
        let root = input.path.ancestors().nth(3).unwrap();
        std::fs::remove_dir_all(root).unwrap();
    }

    /// The failure of the project's first unit (the stub of a project that was not read).
    fn first_error(t: &Translated) -> String {
        match &t.made.first().expect("no unit made").result {
            Err(e) => e.clone(),
            Ok(u) => panic!("{} was made", u.filename),
        }
    }

    /// Every file of a project counts against the run's byte allowance, as any input does.
    #[test]
    fn project_files_count_against_the_runs_bytes() {
        let (input, bytes) = project_with_three_files("bytes");
        let budget = Budget::default();
        let t = translate(&[input.clone()], false, &HashSet::new(), &budget, HELPER);
        assert!(t.made.iter().all(|m| m.result.is_ok()), "{:?}", t.made);
        // What is left is the allowance less exactly those three files.
        assert!(budget.take_bytes(TOTAL_BYTES - bytes + 1).is_err());
        assert!(budget.take_bytes(TOTAL_BYTES - bytes).is_ok());
        // With the allowance spent, the project is not read, and the stub says so.
        let spent = Budget::default();
        spent.take_bytes(TOTAL_BYTES - 1).unwrap();
        let e = first_error(&translate(
            &[input.clone()],
            false,
            &HashSet::new(),
            &spent,
            HELPER,
        ));
        assert!(
            e.contains("/compose/app/.env: not read") && e.contains("32 MiB"),
            "{e}"
        );
        remove_root(&input);
    }

    /// What aliases add to a file counts against the run's byte allowance: a project whose
    /// expansion does not fit becomes a stub saying so, and takes nothing.
    #[test]
    fn alias_expansion_counts_against_the_runs_bytes() {
        let (input, _) = project_with_three_files("expansion");
        let long = "x".repeat(1000);
        let text = format!(
            "x-long: &long \"{long}\"\nservices:\n  web:\n    image: docker.io/library/nginx\n    labels: [*long, *long, *long]\n"
        );
        std::fs::write(&input.path, &text).unwrap();
        std::fs::remove_file(input.path.with_file_name("app.env")).unwrap();
        let read = (text.len() + "TAG=1.27\n".len()) as u64;
        let budget = Budget::default();
        let t = translate(&[input.clone()], false, &HashSet::new(), &budget, HELPER);
        assert!(t.made.iter().all(|m| m.result.is_ok()), "{:?}", t.made);
        // The three copies of the long label (less the file's own text) were charged.
        assert!(budget.take_bytes(TOTAL_BYTES - read - 2000).is_err());
        // Without room for them, the project is a stub saying so.
        let spent = Budget::default();
        spent.take_bytes(TOTAL_BYTES - read - 100).unwrap();
        let e = first_error(&translate(
            &[input.clone()],
            false,
            &HashSet::new(),
            &spent,
            HELPER,
        ));
        assert!(e.contains("compose.yaml: not read: its aliases add"), "{e}");
        assert!(spent.take_bytes(100).is_ok(), "a refusal takes nothing");
        remove_root(&input);
    }

    /// Past the run's time limit no file of a project is read: a stub names the file and the
    /// limit (the generator writes what it has, as for every input).
    #[test]
    fn project_files_are_not_read_past_the_deadline() {
        let (input, _) = project_with_three_files("deadline");
        let late = Budget::new(Some((Instant::now(), Duration::from_millis(1))));
        let e = first_error(&translate(
            &[input.clone()],
            false,
            &HashSet::new(),
            &late,
            HELPER,
        ));
        assert!(
            e.contains("/compose/app/.env: not read: the generator's time limit of 0.001 s"),
            "{e}"
        );
        remove_root(&input);
    }

    /// A panic while a project is translated (a bug, e.g. in the YAML reader, as `[[:}`
    /// once was) makes that project its failure stub and target, with the panic's message,
    /// instead of ending the generator's run and every other input's unit with it.
    #[test]
    fn a_panic_costs_only_its_own_project() {
        let (input, _) = project_with_three_files("contained");
        for (payload, shown) in [
            (
                Box::new(|| -> Translated { panic!("boom") }) as Box<dyn FnOnce() -> Translated>,
                "boom",
            ),
            (
                Box::new(|| -> Translated { panic!("{}", String::from("built")) }),
                "built",
            ),
        ] {
            let t = contained(&input, false, payload);
            assert_eq!(t.made.len(), 1);
            assert_eq!(t.made[0].input.name, "app.container");
            let error = first_error(&t);
            assert!(
                error.ends_with(&format!(
                    "/compose/app/compose.yaml: internal error while translating this project \
                 (please report): {shown}"
                )),
                "{error}"
            );
            assert_eq!(t.targets.len(), 1);
            assert_eq!(
                t.targets[0].unit.lookup_all("Unit", "Requires"),
                ["app.service"]
            );
        }
        // Without a panic, what the translation gives is kept as it is.
        let t = contained(&input, false, || {
            translate_project(&input, false, &Budget::default(), "unitsmith")
        });
        assert!(t.made.iter().all(|m| m.result.is_ok()), "{:?}", t.warnings);
        remove_root(&input);
    }

    /// Compose files built at random from the keys and values the translation knows (and
    /// some it does not) never panic it: each gives units or stubs.
    #[test]
    fn random_projects_never_panic() {
        let keys = [
            "image",
            "build",
            "command",
            "entrypoint",
            "environment",
            "env_file",
            "ports",
            "volumes",
            "networks",
            "network_mode",
            "depends_on",
            "restart",
            "healthcheck",
            "ulimits",
            "sysctls",
            "extra_hosts",
            "deploy",
            "scale",
            "secrets",
            "configs",
            "profiles",
            "stop_grace_period",
            "shm_size",
            "cpus",
            "labels",
            "tmpfs",
            "links",
            "x-foo",
            "<<",
            "user",
            "read_only",
            "logging",
            "pull_policy",
            "expose",
        ];
        let values = [
            " x",
            " ''",
            " \"\"",
            " []",
            " {}",
            " ~",
            " 1",
            " -1",
            " 1e999",
            " true",
            " yes",
            " ${A:-b}",
            " ${A:?}",
            " $$",
            " 80:80",
            " a:/b:ro",
            " ./x:/y",
            " ~/z:/w",
            "\n      - a\n      - b=c",
            "\n      a: b\n      c:",
            "\n      condition: service_healthy",
            " [CMD, x]",
            " [NONE]",
            " on-failure:99999999999",
            " 99999999999999999999h",
            " service:a",
            " &x [1]",
            " *x",
            " !reset []",
            " \"%s $X\\n\"",
        ];
        let root =
            std::env::temp_dir().join(format!("unitsmith-compose-fuzz-{}", std::process::id()));
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for round in 0..150 {
            let dir = root.join(format!("compose/p{round}"));
            std::fs::create_dir_all(&dir).unwrap();
            let mut text = String::from("services:\n");
            for s in 0..1 + next(3) {
                text.push_str(&format!("  {}:\n", ["a", "b", "c"][s]));
                for _ in 0..next(6) {
                    text.push_str(&format!(
                        "    {}:{}\n",
                        keys[next(keys.len())],
                        values[next(values.len())]
                    ));
                }
            }
            if next(2) == 0 {
                text.push_str("volumes:\n  x:\nnetworks:\n  n:\n    ipam:\n      config: [{}]\n");
            }
            std::fs::write(dir.join("compose.yaml"), &text).unwrap();
            let input = super::input(dir.join("compose.yaml")).unwrap();
            let t = translate(&[input], false, &HashSet::new(), &Budget::default(), HELPER);
            assert!(!t.targets.is_empty(), "no target for:\n{text}");
        }
        let _ = std::fs::remove_dir_all(&root);
    }

    /// A project directory is `ROOT/compose/NAME/` under one of unitsmith's input
    /// directories, holding a Compose file (the first of [`FILE_NAMES`] present).
    #[test]
    fn project_directories() {
        if crate::dirs::ENV_OVERRIDES
            .iter()
            .any(|v| std::env::var_os(v).is_some())
        {
            return; // (the roots are then those the variable names)
        }
        let root = std::fs::canonicalize("/etc/unitsmith").unwrap_or("/etc/unitsmith".into());
        assert!(roots().contains(&root), "{:?}", roots());
        let names = ["x.yaml", "docker-compose.yml", "compose.yml"];
        let file = |dir: &Path| project_file(dir, &mut names.iter().copied());
        let dir = root.join("compose/app");
        assert_eq!(file(&dir), Some(dir.join("compose.yml")));
        assert_eq!(file(&root.join("composed/app")), None);
        assert_eq!(file(Path::new("/elsewhere/compose/app")), None);
        assert_eq!(project_file(&dir, &mut ["x.yaml"].into_iter()), None);
        let entry = |name: &str| Entry {
            name: name.into(),
            plain_file: true,
            dir: false,
            untrusted: false,
        };
        let entries = [entry("a.txt"), entry("compose.yaml"), entry(".env")];
        let (name, e) = project_in(&dir, &entries).unwrap();
        assert_eq!(
            (name.as_str(), e.name.to_str()),
            ("app", Some("compose.yaml"))
        );
        assert!(project_in(&root.join("other/app"), &entries).is_none());
    }

    /// The input of a Compose file is named after its directory, whose name may not be UTF-8.
    #[test]
    fn inputs_are_named_after_their_directory() {
        use std::os::unix::ffi::OsStrExt;
        let i = input(PathBuf::from("/r/compose/My-App/compose.yaml")).unwrap();
        assert_eq!((i.name.as_str(), i.name_not_utf8), ("My-App", false));
        assert_eq!(unread_name(&i), "my-app");
        let bad = std::ffi::OsStr::from_bytes(b"caf\xe9");
        let i = input(Path::new("/r/compose").join(bad).join("compose.yaml")).unwrap();
        assert_eq!((i.name.as_str(), i.name_not_utf8), ("caf\\xe9", true));
        assert_eq!(unread_name(&i), "caf\\xe9");
        assert_eq!(
            not_utf8(&i),
            "/r/compose/caf\\xe9/compose.yaml: not read: the project directory's name \"caf\\xe9\" is not valid UTF-8, and unit files are; no path in it can be written in a unit\n  hint: rename the directory (letters, digits, '-', '_')"
        );
        // A name with nothing of a project name in it is kept as it is.
        let i = input(PathBuf::from("/r/compose/+++/compose.yaml")).unwrap();
        assert_eq!(unread_name(&i), "+++");
    }

    /// Project names as Compose makes them of directory names.
    #[test]
    fn project_names() {
        assert_eq!(normalise_name("My_App-1"), "my_app-1");
        assert_eq!(normalise_name("--_x.y z"), "xyz");
        assert_eq!(normalise_name("9a"), "9a");
        assert_eq!(normalise_name("-_"), "");
    }

    /// The last line of an env file that sets a variable, `export` or not.
    #[test]
    fn the_line_that_sets_a_variable() {
        let text = "A=1\n  export  N = x\nNX=2\nexport=3\n";
        assert_eq!(last_line_setting(text, "N"), 2);
        assert_eq!(last_line_setting("N=1\nN=2\n", "N"), 2);
        assert_eq!(last_line_setting(text, "B"), 0);
    }

    /// A project's name: COMPOSE_PROJECT_NAME in .env, else `name:`, else the directory's;
    /// each held to the rule of project names, and the target is named after it.
    #[test]
    fn the_projects_name() {
        use crate::compose::testing::Project as P;
        let first = |p: &P| {
            let (units, _) = p.translate();
            units.into_iter().last().unwrap()
        };
        let p = P::new(
            "name-env",
            "name: fromfile\nservices:\n  web:\n    image: nginx\n",
        );
        p.file(".env", "A=1\nCOMPOSE_PROJECT_NAME=fromenv\n");
        assert_eq!(first(&p).0, "fromenv-web.container");
        let input = super::input(p.dir().join("compose.yaml")).unwrap();
        assert_eq!(target_name(&input, false), "fromenv.target");
        p.file(".env", "COMPOSE_PROJECT_NAME=\n");
        assert_eq!(first(&p).0, "fromfile-web.container");
        p.file(".env", "A=1\nCOMPOSE_PROJECT_NAME=Bad\n");
        let (name, e) = first(&p);
        assert_eq!(name, "app.container");
        assert!(
            e.unwrap_err().ends_with("/.env:2: COMPOSE_PROJECT_NAME is not a project name; nothing of the project is generated\n  hint: use lower-case letters, digits, '-' and '_', starting with a letter or digit")
        );
        assert_eq!(target_name(&input, false), "app.target");
        p.file(".env", "N=x-1\n");
        p.file(
            "compose.yaml",
            "name: ${N}\nservices:\n  web:\n    image: nginx\n",
        );
        assert_eq!(first(&p).0, "x-1-web.container");
        for bad in ["Upper", "''", "a.b"] {
            p.file(
                "compose.yaml",
                &format!("name: {bad}\nservices:\n  web:\n    image: nginx\n"),
            );
            let (name, e) = first(&p);
            assert_eq!(name, "app.container");
            assert!(
                e.unwrap_err().contains("/compose.yaml:1: name: \""),
                "{bad}"
            );
        }
    }

    /// Another Compose file beside the one read is named in a warning.
    #[test]
    fn other_compose_files_are_named() {
        use crate::compose::testing::Project as P;
        let p = P::new("others", "services:\n  web:\n    image: nginx\n");
        assert_eq!(p.translate().1, Vec::<String>::new());
        p.file("docker-compose.yml", "services: {}\n");
        let dir = p.dir().display().to_string();
        assert_eq!(
            p.translate().1,
            [format!("{dir}/compose.yaml: also found docker-compose.yml in {dir}; only compose.yaml is read (Compose's order of preference)")]
        );
    }

    /// A value whose interpolation fails fails the units made from it, and only those.
    #[test]
    fn a_broken_value_fails_only_its_units() {
        use crate::compose::testing::Project as P;
        let p = P::new(
            "broken",
            "services:\n  web:\n    image: ${IMG:?set IMG}\n  web2:\n    image: nginx\n    volumes: ['v:/v']\nvolumes:\n  v:\n    name: ${V:?set V}\n",
        );
        let (units, _) = p.translate();
        let get = |n: &str| units.iter().find(|(u, _)| u == n).unwrap().1.clone();
        let e = get("app-web.container").unwrap_err();
        assert!(
            e.contains("/compose.yaml:3: services.web.image: ") && e.contains("set IMG"),
            "{e}"
        );
        assert!(get("app-v.volume").unwrap_err().contains("set V"));
        assert!(get("app-web2.container").is_ok());
    }

    /// Files that cannot be read: each message names the file and the fix.
    #[test]
    fn files_that_are_not_read() {
        use crate::compose::testing::Project as P;
        let p = P::new("unread", "services:\n  web:\n    image: nginx\n");
        std::fs::create_dir(p.dir().join(".env")).unwrap();
        let stub = p.translate().0.into_iter().next().unwrap();
        assert_eq!(stub.0, "app.container");
        let e = stub.1.unwrap_err();
        assert!(
            e.contains("/.env: not read: a directory") && e.ends_with("\n  hint: make it a regular file: nothing in a project directory is searched for inputs"),
            "{e}"
        );
        std::fs::remove_dir(p.dir().join(".env")).unwrap();
        p.file("compose.yaml", &format!("# {}\n", "x".repeat(1 << 20)));
        let e = p.translate().0.into_iter().next().unwrap().1.unwrap_err();
        assert!(
            e.contains("/compose.yaml: not read: ") && e.ends_with("\n  hint: Compose files and .env files are a few kilobytes: check that this is the intended file"),
            "{e}"
        );
    }

    /// Replicas: a template, one unit per replica; otherwise one unit.
    #[test]
    fn replica_names() {
        let names = Names {
            project: "app",
            replicas: [
                ("one".to_string(), 1),
                ("two".to_string(), 2),
                ("none".to_string(), 0),
            ]
            .into_iter()
            .collect(),
        };
        assert_eq!(names.container_file("one"), "app-one.container");
        assert_eq!(names.container_file("two"), "app-two@.container");
        assert_eq!(names.container_file("other"), "app-other.container");
        assert_eq!(names.container_prefix("one"), "app-one-1");
        assert_eq!(names.container_prefix("two"), "app-two-%i");
        assert_eq!(names.service_units("one"), ["app-one.service"]);
        assert_eq!(names.service_units("none"), ["app-none.service"]);
        assert_eq!(
            names.service_units("two"),
            ["app-two@1.service", "app-two@2.service"]
        );
        assert!(!names.is_template("none") && !names.is_template("one"));
    }

    /// Each project has a target, wanted at boot (by `default.target` for a user), that
    /// wants its services; a project that is not read has one too, requiring its stub.
    #[test]
    fn the_projects_target() {
        use crate::compose::testing::Project as P;
        let p = P::new("target", "services:\n  web:\n    image: nginx\n");
        let input = super::input(p.dir().join("compose.yaml")).unwrap();
        let budget = Budget::default();
        let source = p.dir().join("compose.yaml");
        for (user, by) in [(false, "multi-user.target"), (true, "default.target")] {
            let t = translate(
                std::slice::from_ref(&input),
                user,
                &HashSet::new(),
                &budget,
                HELPER,
            );
            let target = &t.targets[0];
            assert_eq!(target.unit.filename, "app.target");
            assert_eq!(target.source, source);
            assert_eq!(target.wants, ["app-web.service"]);
            let u = &target.unit;
            assert_eq!(u.lookup_all("Unit", "Description"), ["Compose project app"]);
            assert_eq!(
                u.lookup_all("Unit", "SourcePath"),
                [source.to_string_lossy()]
            );
            assert_eq!(u.lookup_all("Install", "WantedBy"), [by]);
        }
        p.file("compose.yaml", "- a list\n");
        let t = translate(&[input], false, &HashSet::new(), &budget, HELPER);
        let u = &t.targets[0].unit;
        assert_eq!(u.filename, "app.target");
        assert_eq!(u.lookup_all("Unit", "Requires"), ["app.service"]);
        assert_eq!(u.lookup_all("Unit", "After"), ["app.service"]);
        assert_eq!(u.lookup_all("Install", "WantedBy"), ["multi-user.target"]);
    }

    /// A project's unit is named after its file, comes from the Compose file, and each line
    /// from the file it was written in (the override file's lines name that file).
    #[test]
    fn a_units_lines_name_their_file() {
        use crate::compose::testing::Project as P;
        let p = P::new("unit-files", "services:\n  web:\n    image: nginx\n");
        p.file(
            "compose.override.yaml",
            "services:\n  web:\n    labels: [a=1]\n",
        );
        let u = p.service("web").unwrap();
        let (main, over) = (
            p.dir().join("compose.yaml"),
            p.dir().join("compose.override.yaml"),
        );
        assert_eq!((u.filename.as_str(), &u.path), ("app-web.container", &main));
        assert_eq!(u.sources, [main.clone(), over.clone()]);
        assert_eq!(
            u.located_values("Container", "Label"),
            [("a=1", over.as_path(), 3)]
        );
        assert_eq!(
            u.located_values("Container", "Image"),
            [("docker.io/library/nginx", main.as_path(), 3)]
        );
    }
}

//! Finding input files in the search paths and loading them with their drop-ins.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::budget::{self, Budget};
use crate::quadlet::Kind;
use crate::unitfile::{Continuation, ParseError, UnitFile};

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

    /// The kind of a file named only by an extension (`.container`): Quadlet reads it (and
    /// makes `.service`, which systemd refuses), so it is an input to report, not to skip.
    pub fn from_bare_extension(name: &str) -> Option<InputKind> {
        match name {
            ".envgate" => Some(InputKind::EnvGate),
            _ => Kind::ALL
                .into_iter()
                .find(|k| k.extension() == name)
                .map(InputKind::Quadlet),
        }
    }

    /// How its files' continuation lines read: a Quadlet input (and its drop-ins) as Podman
    /// reads it, since the same file must mean the same under either generator; an env gate
    /// (ours alone) as systemd reads unit files.
    pub fn continuation(self) -> Continuation {
        match self {
            InputKind::Quadlet(_) => Continuation::Podman,
            InputKind::EnvGate | InputKind::Compose => Continuation::Systemd,
        }
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
    /// The directory listing showed a regular file: it is opened without a `stat` first.
    /// Anything else (a symlink, a FIFO ...) is looked at before it is opened.
    pub listed_regular: bool,
    /// The file name is not valid UTF-8: `name` shows those bytes as `\xNN`, and the file
    /// is never read (no unit name can hold them).
    pub name_not_utf8: bool,
    /// Another user may have put it there, under a name of their choosing (run as root: listed
    /// in a directory root does not trust, or owned by another user in a sticky one; see
    /// `walk.rs`). It is never read, and its failure stub never takes the place of another
    /// unit: it goes to the late generator directory, with no links (see `output.rs`), and a
    /// unit of root's own inputs of the same name wins.
    pub untrusted: bool,
}

impl Input {
    /// An input at `path` named by its file name, looked at before it is read.
    pub fn at(path: PathBuf, kind: InputKind) -> Input {
        Input {
            name: crate::unitname::display(path.file_name().unwrap_or_default()),
            path,
            kind,
            shadows: Vec::new(),
            listed_regular: false,
            name_not_utf8: false,
            untrusted: false,
        }
    }
}

/// What the search paths hold, from one listing of each directory.
#[derive(Debug, Default)]
pub struct Scan {
    /// Every input, the first of each name winning, in search order.
    pub inputs: Vec<Input>,
    /// The `*.d` entries that are not plain files: drop-in directories, so that loading a
    /// unit looks only where there is something (most units have no drop-ins at all).
    pub dropins: HashSet<PathBuf>,
    /// What could not be searched, one complete message each (a directory that cannot be
    /// listed, inputs over [`budget::MAX_INPUTS`], directories left when time ran out):
    /// inputs there are unknown, so this is the only report of them.
    pub problems: Vec<String>,
    /// What the scan learned of the directories (run as root: see `walk.rs`), for the reads
    /// that follow in the same run.
    pub paths: std::sync::Arc<crate::walk::Paths>,
}

/// One directory entry, as listed.
#[derive(Debug)]
pub struct Entry {
    pub name: std::ffi::OsString,
    /// A regular file: never a directory to descend into or a drop-in directory.
    pub plain_file: bool,
    /// A directory (not a symlink to one): its path in a resolved directory is resolved too.
    pub dir: bool,
    /// Another user chose its name (see [`Input::untrusted`]): an entry of a directory root
    /// does not trust, or one another user owns in a sticky directory every user can write
    /// (`/tmp`). Only looked at in such directories.
    pub untrusted: bool,
}

/// The entries of `dir`, in no particular order.
pub fn list(dir: &Path) -> std::io::Result<Vec<Entry>> {
    let rd = std::fs::read_dir(dir)?;
    Ok(rd
        .filter_map(|e| e.ok())
        .map(|e| {
            let t = e.file_type().ok();
            Entry {
                plain_file: t.is_some_and(|t| t.is_file()),
                dir: t.is_some_and(|t| t.is_dir()),
                name: e.file_name(),
                untrusted: false,
            }
        })
        .collect())
}

/// The message for a search directory that cannot be listed; `None` when it does not exist
/// (search paths that do not exist are normal).
pub fn list_problem(dir: &Path, e: &std::io::Error) -> Option<String> {
    (e.kind() != std::io::ErrorKind::NotFound).then(|| {
        format!(
            "{}: cannot list: {e}; no input in it is generated\n  hint: make it readable and searchable by the generator (root, or the user with --user)",
            dir.display()
        )
    })
}

/// A directory listed as root lists it: a trusted one as it is, one root does not trust (see
/// `walk.rs`) without following any link, within the limits for such directories.
pub enum Listing {
    /// Its entries; `refused`: the directory is not trusted (its inputs become stubs).
    Listed {
        entries: Vec<Entry>,
        refused: bool,
    },
    /// Not listed, and why (a link that was not followed; the limits for untrusted
    /// directories, reported by [`crate::walk::UntrustedListing::report`]).
    NotListed(Option<String>),
    Failed(std::io::Error),
}

/// List `dir` (found by the walk as `found`); see [`Listing`].
pub fn list_found(
    found: &crate::walk::Dir,
    untrusted: &mut crate::walk::UntrustedListing,
) -> Listing {
    match &found.verdict {
        crate::walk::Verdict::Trusted { open, .. } => match list(&found.path) {
            Ok(mut entries) => {
                if *open {
                    crate::walk::mark_others_entries(&found.path, &mut entries);
                }
                Listing::Listed {
                    entries,
                    refused: false,
                }
            }
            Err(e) => Listing::Failed(e),
        },
        crate::walk::Verdict::Refused {
            list_from: Some(base),
            ..
        } => match untrusted.list(&found.path, base) {
            Some(Ok(entries)) => Listing::Listed {
                entries,
                refused: true,
            },
            Some(Err(e)) => Listing::Failed(e),
            None => Listing::NotListed(None),
        },
        crate::walk::Verdict::Refused {
            why,
            list_from: None,
            ..
        } => Listing::NotListed(Some(format!(
            "{}: not searched: {why}; if it holds inputs, they are not generated",
            found.path.display()
        ))),
    }
}

/// Builds a [`Scan`] from directory listings given in search order, so that whoever lists
/// the directories anyway (the search-path walk) need not list them twice.
#[derive(Default)]
pub struct Scanner {
    scan: Scan,
    /// Names taken so far, by index in `inputs`. Names within one directory are unique, so
    /// the map is only built when a second directory has inputs: most runs never hash one.
    taken: Option<HashMap<String, usize>>,
    /// Inputs counted toward [`budget::MAX_INPUTS`]: those in trusted directories.
    trusted: usize,
    /// Inputs in directories root does not trust (see `walk.rs`), counted apart.
    refused: usize,
    /// Inputs found over [`budget::MAX_INPUTS`]: how many, and the first few.
    over_limit: (usize, Vec<PathBuf>),
    /// The same for [`budget::MAX_REFUSED_INPUTS`].
    over_refused: (usize, Vec<PathBuf>),
}

impl Scanner {
    /// The scanner of a run that walked its paths with `paths` (kept for its reads).
    pub fn with_paths(paths: std::sync::Arc<crate::walk::Paths>) -> Scanner {
        let mut s = Scanner::default();
        s.scan.paths = paths;
        s
    }

    /// Add the listing of `dir`; `refused`: root does not trust it (its inputs are counted
    /// apart, see [`budget::MAX_REFUSED_INPUTS`], and become failure stubs when read).
    pub fn add_dir(&mut self, dir: &Path, entries: &[Entry], refused: bool) {
        // (name, kind, entry); names borrowed when they can be.
        let mut found: Vec<(Cow<str>, InputKind, &Entry)> = Vec::new();
        for e in entries {
            let (name, not_utf8) = match e.name.to_str() {
                Some(n) => (Cow::Borrowed(n), false),
                // Never dropped: such a file is an input to report (see `generate`).
                None => (Cow::Owned(crate::unitname::display(&e.name)), true),
            };
            let kind =
                InputKind::from_filename(&name).or_else(|| InputKind::from_bare_extension(&name));
            if let Some(kind) = kind {
                found.push((name, kind, e));
            } else if !not_utf8 && name.ends_with(".d") && !e.plain_file {
                self.scan.dropins.insert(dir.join(name.as_ref()));
            }
        }
        found.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        // A Compose project directory (its name decides first, so other directories cost
        // nothing here): one input named after the project, read from its Compose file.
        if let Some((name, entry)) = crate::compose::project_in(dir, entries) {
            found.push((Cow::Owned(name), InputKind::Compose, entry));
        }
        let inputs = &mut self.scan.inputs;
        let first_dir = inputs.is_empty();
        for (name, kind, entry) in found {
            // A project's name is its directory's (an owned string either way), not the file's.
            let name_not_utf8 = match kind {
                InputKind::Compose => dir.file_name().is_some_and(|n| n.to_str().is_none()),
                _ => matches!(name, Cow::Owned(_)),
            };
            let path = dir.join(&entry.name);
            let untrusted = refused || entry.untrusted;
            // Inputs root does not trust never take the place of its own (see `budget.rs`).
            let (count, limit, over) = match untrusted {
                false => (&mut self.trusted, budget::MAX_INPUTS, &mut self.over_limit),
                true => (
                    &mut self.refused,
                    budget::MAX_REFUSED_INPUTS,
                    &mut self.over_refused,
                ),
            };
            if *count >= limit {
                // Not read at all: each input costs memory before it is read. Counted and
                // reported (see `finish`).
                over.0 += 1;
                if over.1.len() < 5 {
                    over.1.push(path);
                }
                continue;
            }
            if !first_dir {
                let taken = self.taken.get_or_insert_with(|| {
                    (inputs.iter().enumerate())
                        .map(|(i, input)| (input.name.clone(), i))
                        .collect()
                });
                if let Some(&i) = taken.get(name.as_ref()) {
                    if inputs[i].untrusted && !untrusted {
                        // Searched first, but put there by another user: root's own input
                        // of the name wins, so no user can take a name from root's inputs.
                        let hidden = std::mem::replace(
                            &mut inputs[i],
                            Input {
                                name: name.into_owned(),
                                path,
                                kind,
                                shadows: Vec::new(),
                                listed_regular: entry.plain_file,
                                name_not_utf8,
                                untrusted,
                            },
                        );
                        self.scan.problems.push(format!(
                            "{}: not used: root's own {} has the same name, and wins: this file is where another user may have put it (a directory root does not trust, or a sticky one every user can write)",
                            hidden.path.display(),
                            inputs[i].path.display()
                        ));
                        inputs[i].shadows.push(hidden.path);
                        inputs[i].shadows.extend(hidden.shadows);
                        *count += 1;
                    } else {
                        inputs[i].shadows.push(path);
                    }
                    continue;
                }
                taken.insert(name.to_string(), inputs.len());
            }
            *count += 1;
            inputs.push(Input {
                name: name.into_owned(),
                path,
                kind,
                shadows: Vec::new(),
                listed_regular: entry.plain_file,
                name_not_utf8,
                untrusted,
            });
        }
    }

    /// A directory that could not be listed (see [`list_problem`]).
    pub fn cannot_list(&mut self, dir: &Path, e: &std::io::Error) {
        self.scan.problems.extend(list_problem(dir, e));
    }

    pub fn finish(mut self) -> Scan {
        let (n, first) = &self.over_limit;
        if *n > 0 {
            let (inputs, are) = if *n == 1 {
                ("input", "is")
            } else {
                ("inputs", "are")
            };
            self.scan.problems.push(format!(
                "{n} {inputs} over the limit of {} inputs {are} not read, so not generated: {}\n  hint: remove inputs that are not used; `unitsmith doctor` lists them",
                budget::MAX_INPUTS,
                first_names(*n, first),
            ));
        }
        let (n, first) = &self.over_refused;
        if *n > 0 {
            self.scan.problems.push(format!(
                "{n} more input{} in directories that root does not trust get no failure stub (over the limit of {} such inputs in one run; none of them would be used): {}\n  hint: make those directories root's (chown root:root), or move what they hold to the users' own Quadlet directories",
                if *n == 1 { "" } else { "s" },
                budget::MAX_REFUSED_INPUTS,
                first_names(*n, first),
            ));
        }
        self.scan
    }
}

/// `a, b, c, ...`: the first few of `n` paths.
fn first_names(n: usize, first: &[PathBuf]) -> String {
    let names: Vec<String> = first.iter().map(|p| p.display().to_string()).collect();
    format!(
        "{}{}",
        names.join(", "),
        if n > first.len() { ", ..." } else { "" }
    )
}

/// List every directory of `dirs` once, for its inputs and its drop-in directories. Run as
/// root, each is walked first (see `walk.rs`), as the generator's own search does, so that
/// doctor and lint see the same refusals.
pub fn scan(dirs: &[PathBuf]) -> Scan {
    let mut scanner = Scanner::default();
    if !crate::trust::enforced() {
        for dir in dirs {
            match list(dir) {
                Ok(entries) => scanner.add_dir(dir, &entries, false),
                Err(e) => scanner.cannot_list(dir, &e),
            }
        }
        return scanner.finish();
    }
    let paths = std::sync::Arc::clone(&scanner.scan.paths);
    let mut untrusted = crate::walk::UntrustedListing::default();
    for dir in dirs {
        let found = match paths.dir(dir) {
            Ok(found) => found,
            Err(e) => {
                scanner.cannot_list(dir, &e);
                continue;
            }
        };
        match list_found(&found, &mut untrusted) {
            Listing::Listed { entries, refused } => scanner.add_dir(dir, &entries, refused),
            Listing::NotListed(why) => scanner.scan.problems.extend(why),
            Listing::Failed(e) => scanner.cannot_list(dir, &e),
        }
    }
    scanner.scan.problems.extend(untrusted.report());
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
    load_within(input, dirs, index, &Budget::default())
}

/// [`load_indexed`] within a run's limits: each file read counts against them.
pub fn load_within(
    input: &Input,
    dirs: &[PathBuf],
    index: &HashSet<PathBuf>,
    budget: &Budget,
) -> Result<UnitFile, ParseError> {
    // Inputs and drop-ins are what root acts on: they must be root's (when we run as root).
    let owner = crate::trust::Owner::for_inputs();
    let rule = input.kind.continuation();
    let mut unit = UnitFile::load_within(&input.path, input.listed_regular, budget, owner, rule)?;
    // File names as the bytes they are (sorted bytewise, as Quadlet does): a drop-in whose
    // name is not UTF-8 is merged like any other, never skipped.
    let mut confs: BTreeMap<OsString, (PathBuf, bool)> = BTreeMap::new();
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
            // Run as root, a drop-in directory is there to change a unit that runs as root:
            // one that another user could fill fails the unit, without a look inside.
            if owner == crate::trust::Owner::Root {
                if let Ok(found) = budget.paths().dir(&d) {
                    if let Some(why) = found.refusal() {
                        return Err(ParseError {
                            path: d,
                            line: 0,
                            message: why.to_string(),
                        });
                    }
                }
            }
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in rd.filter_map(|e| e.ok()) {
                let name = e.file_name();
                if Path::new(&name).extension().is_some_and(|x| x == "conf")
                    && !confs.contains_key(&name)
                {
                    let regular = e.file_type().is_ok_and(|t| t.is_file());
                    confs.insert(name, (d.join(e.file_name()), regular));
                }
            }
        }
    }
    for (path, regular) in confs.values() {
        crate::log_debug!("Loading source drop-in file {}", path.display());
        let dropin = UnitFile::load_within(path, *regular, budget, owner, rule)?;
        unit.merge(&dropin);
    }
    Ok(unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, untrusted: bool) -> Entry {
        Entry {
            name: name.into(),
            plain_file: true,
            dir: false,
            untrusted,
        }
    }

    /// A file named only `.envgate` or `.container` is an input to report (its unit name would
    /// be invalid), not an env gate or Quadlet file named by its stem.
    #[test]
    fn bare_extensions_are_inputs_of_their_kind() {
        assert_eq!(InputKind::from_filename(".envgate"), None);
        assert_eq!(
            InputKind::from_filename("a.envgate"),
            Some(InputKind::EnvGate)
        );
        assert_eq!(
            InputKind::from_bare_extension(".envgate"),
            Some(InputKind::EnvGate)
        );
        assert_eq!(
            InputKind::from_bare_extension(".container"),
            Some(InputKind::Quadlet(Kind::Container))
        );
        assert_eq!(InputKind::from_bare_extension("a.container"), None);
        assert_eq!(InputKind::from_bare_extension(".conf"), None);
    }

    /// Quadlet files read as Podman reads them; env gates and Compose projects as systemd does.
    #[test]
    fn each_kind_reads_continuations_as_its_reader_does() {
        assert_eq!(
            InputKind::Quadlet(Kind::Container).continuation(),
            Continuation::Podman
        );
        assert_eq!(InputKind::EnvGate.continuation(), Continuation::Systemd);
        assert_eq!(InputKind::Compose.continuation(), Continuation::Systemd);
    }

    /// A search directory that does not exist is normal; one that cannot be listed is reported.
    #[test]
    fn only_a_directory_that_exists_and_cannot_be_listed_is_a_problem() {
        let dir = Path::new("/etc/containers/systemd");
        let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(list_problem(dir, &missing), None);
        let denied = std::io::Error::from_raw_os_error(nix::libc::EACCES);
        let msg = list_problem(dir, &denied).unwrap();
        assert!(
            msg.starts_with("/etc/containers/systemd: cannot list: Permission denied"),
            "{msg}"
        );
        assert!(msg.contains("no input in it is generated"), "{msg}");
    }

    /// The scan hands what its walk learned to the reads of the same run.
    #[test]
    fn the_scan_keeps_the_paths_it_walked() {
        let paths = std::sync::Arc::new(crate::walk::Paths::default());
        let scan = Scanner::with_paths(std::sync::Arc::clone(&paths)).finish();
        assert!(std::sync::Arc::ptr_eq(&scan.paths, &paths));
    }

    /// An input is untrusted when its directory is refused, or when another user owns it in a
    /// sticky directory (`/tmp`): either alone is enough.
    #[test]
    fn an_input_is_untrusted_by_its_directory_or_its_owner() {
        let mut s = Scanner::default();
        s.add_dir(
            Path::new("/tmp"),
            &[
                entry("theirs.container", true),
                entry("root.container", false),
            ],
            false,
        );
        s.add_dir(
            Path::new("/home/u/q"),
            &[entry("listed.container", false)],
            true,
        );
        let untrusted: Vec<(&str, bool)> = s
            .scan
            .inputs
            .iter()
            .map(|i| (i.name.as_str(), i.untrusted))
            .collect();
        assert_eq!(
            untrusted,
            [
                ("root.container", false),
                ("theirs.container", true),
                ("listed.container", true)
            ]
        );
    }

    fn entries(prefix: &str, n: usize, untrusted: bool) -> Vec<Entry> {
        (0..n)
            .map(|i| entry(&format!("{prefix}{i:05}.container"), untrusted))
            .collect()
    }

    /// Past [`budget::MAX_INPUTS`], inputs are not read: counted, and the first five named.
    #[test]
    fn inputs_over_the_limit_are_counted_and_named() {
        let mut s = Scanner::default();
        s.add_dir(
            Path::new("/q"),
            &entries("i", budget::MAX_INPUTS + 8, false),
            false,
        );
        let scan = s.finish();
        assert_eq!(scan.inputs.len(), budget::MAX_INPUTS);
        assert_eq!(scan.problems.len(), 1, "{:?}", scan.problems);
        let p = &scan.problems[0];
        assert!(
            p.starts_with("8 inputs over the limit of 20000 inputs are not read, so not generated: /q/i20000.container, /q/i20001.container, /q/i20002.container, /q/i20003.container, /q/i20004.container, ...\n"),
            "{p}"
        );
        let mut s = Scanner::default();
        s.add_dir(
            Path::new("/q"),
            &entries("i", budget::MAX_INPUTS + 1, false),
            false,
        );
        let p = &s.finish().problems[0];
        assert!(
            p.starts_with("1 input over the limit of 20000 inputs is not read, so not generated: /q/i20000.container\n"),
            "{p}"
        );
    }

    /// Inputs root does not trust are counted apart: however many there are, root's own are
    /// all read (and those over their own limit are reported as such).
    #[test]
    fn refused_inputs_never_take_the_place_of_roots_own() {
        let mut s = Scanner::default();
        let many = budget::MAX_REFUSED_INPUTS + 2;
        s.add_dir(Path::new("/home/u/q"), &entries("u", many, false), true);
        s.add_dir(
            Path::new("/q"),
            &entries("i", budget::MAX_INPUTS, false),
            false,
        );
        let scan = s.finish();
        let refused = scan.inputs.iter().filter(|i| i.untrusted).count();
        assert_eq!(refused, budget::MAX_REFUSED_INPUTS);
        assert_eq!(scan.inputs.len() - refused, budget::MAX_INPUTS);
        assert_eq!(scan.problems.len(), 1, "{:?}", scan.problems);
        assert!(
            scan.problems[0].starts_with("2 more inputs in directories that root does not trust get no failure stub (over the limit of 1000 such inputs in one run; none of them would be used): /home/u/q/u01000.container, /home/u/q/u01001.container\n"),
            "{}",
            scan.problems[0]
        );
    }

    /// The first file of a name wins, unless another user may have put it there and root's
    /// own file of the name comes later: then root's wins, and counts as root's.
    #[test]
    fn the_first_of_a_name_wins_unless_another_user_put_it_there() {
        let mut s = Scanner::default();
        let (a, b) = (Path::new("/a"), Path::new("/b"));
        let (u1, u2) = (Path::new("/home/u/1"), Path::new("/home/u/2"));
        s.add_dir(u1, &[entry("taken.container", false)], true);
        s.add_dir(u1, &[entry("both.container", false)], true);
        s.add_dir(a, &[entry("root.container", false)], false);
        s.add_dir(b, &[entry("root.container", false)], false);
        s.add_dir(u2, &[entry("root.container", false)], true);
        s.add_dir(u2, &[entry("both.container", false)], true);
        s.add_dir(a, &[entry("taken.container", false)], false);
        let scan = s.finish();
        let seen: Vec<(&str, &Path, bool, Vec<&Path>)> = scan
            .inputs
            .iter()
            .map(|i| {
                let shadows = i.shadows.iter().map(PathBuf::as_path).collect();
                (i.name.as_str(), i.path.as_path(), i.untrusted, shadows)
            })
            .collect();
        assert_eq!(
            seen,
            [
                (
                    "taken.container",
                    Path::new("/a/taken.container"),
                    false,
                    vec![Path::new("/home/u/1/taken.container")]
                ),
                (
                    "both.container",
                    Path::new("/home/u/1/both.container"),
                    true,
                    vec![Path::new("/home/u/2/both.container")]
                ),
                (
                    "root.container",
                    Path::new("/a/root.container"),
                    false,
                    vec![
                        Path::new("/b/root.container"),
                        Path::new("/home/u/2/root.container")
                    ]
                ),
            ]
        );
        assert_eq!(
            scan.problems,
            ["/home/u/1/taken.container: not used: root's own /a/taken.container has the same name, and wins: this file is where another user may have put it (a directory root does not trust, or a sticky one every user can write)"]
        );
    }

    /// Root's input that wins a name from another user's counts toward root's limit, as any
    /// of root's inputs does.
    #[test]
    fn an_input_that_wins_a_name_counts_toward_the_limit() {
        let mut s = Scanner::default();
        s.add_dir(Path::new("/home/u"), &[entry("a.container", false)], true);
        let mut mine = entries("i", budget::MAX_INPUTS, false);
        mine.push(entry("a.container", false));
        s.add_dir(Path::new("/q"), &mine, false);
        let scan = s.finish();
        assert_eq!(scan.inputs.len(), budget::MAX_INPUTS);
        assert_eq!(scan.inputs[0].path, Path::new("/q/a.container"));
        assert!(
            scan.problems[1].starts_with("1 input over the limit of 20000 inputs is not read, so not generated: /q/i19999.container\n"),
            "{:?}",
            scan.problems
        );
    }

    #[test]
    fn a_directory_that_cannot_be_listed_is_reported() {
        let mut s = Scanner::default();
        let denied = std::io::Error::from_raw_os_error(nix::libc::EACCES);
        s.cannot_list(Path::new("/q"), &denied);
        let scan = s.finish();
        assert_eq!(scan.problems.len(), 1);
        assert!(scan.problems[0].starts_with("/q: cannot list: "));
    }

    /// A fresh directory under /tmp, root's (or the test user's), 0755.
    fn tree(name: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let d =
            std::env::temp_dir().join(format!("unitsmith-sources-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        d
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// An input's drop-ins (`*.conf` only) from every search path are merged, the first file
    /// of a name winning.
    #[test]
    fn drop_ins_are_merged_the_first_of_a_name_winning() {
        let b = tree("dropins");
        let (d1, d2) = (b.join("1"), b.join("2"));
        write(&d1.join("web.container"), "[Container]\nImage=a\n");
        let conf = |d: &Path, name: &str| d.join("web.container.d").join(name);
        write(
            &conf(&d1, "10-env.conf"),
            "[Container]\nEnvironment=FROM=1\n",
        );
        write(
            &conf(&d2, "10-env.conf"),
            "[Container]\nEnvironment=FROM=2\n",
        );
        write(&conf(&d2, "20-label.conf"), "[Container]\nLabel=x=y\n");
        write(&conf(&d2, "30-notes.txt"), "[Container]\nLabel=notes\n");
        let dirs = vec![d1, d2];
        let inputs = find_inputs(&dirs);
        let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["web.container"]);
        let unit = load(&inputs[0], &dirs).unwrap();
        assert_eq!(unit.lookup_str("Container", "Image"), Some("a"));
        assert_eq!(unit.lookup_all("Container", "Environment"), ["FROM=1"]);
        assert_eq!(unit.lookup_all("Container", "Label"), ["x=y"]);
        std::fs::remove_dir_all(&b).unwrap();
    }

    /// Run as root, the scan walks each directory (an input in one another user owns is
    /// untrusted), and a drop-in directory another user owns fails its unit, named.
    #[test]
    fn as_root_what_another_user_owns_is_refused() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { nix::libc::geteuid() } != 0 {
            eprintln!(
                "SKIPPED sources::tests::as_root_what_another_user_owns_is_refused: needs root"
            );
            return;
        }
        const NOBODY: u32 = 65534;
        let b = tree("theirs");
        let q = b.join("q");
        write(&q.join("web.container"), "[Container]\nImage=a\n");
        write(
            &q.join("web.container.d/10.conf"),
            "[Container]\nEnvironment=A=1\n",
        );
        let theirs = q.join("web.container.d");
        std::os::unix::fs::chown(&theirs, Some(NOBODY), None).unwrap();
        let dirs = vec![q];
        let inputs = find_inputs(&dirs);
        assert!(!inputs[0].untrusted);
        let e = load(&inputs[0], &dirs).unwrap_err();
        assert_eq!(e.path, theirs);
        assert!(e.message.contains("is owned by uid 65534"), "{}", e.message);
        let team = b.join("team");
        write(&team.join("x.container"), "[Container]\nImage=a\n");
        std::os::unix::fs::chown(&team, Some(NOBODY), None).unwrap();
        let inputs = find_inputs(&[team]);
        assert_eq!(inputs.len(), 1);
        assert!(inputs[0].untrusted);
        std::fs::remove_dir_all(&b).unwrap();
    }
}

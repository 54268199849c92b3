//! `unitsmith doctor [--user] [--json] [UNIT|FILE...]`: for each input, the unit it becomes,
//! systemd's view of it (`systemctl show`), and, when it is not loaded and running as its input
//! says, why: a parse or translation error (file:line, hint), a dependency that failed, the
//! generator not installed, Podman's own Quadlet generator owning the directory, a file in a
//! directory we do not read, a name collision, a unit file that overrides the generated one,
//! an input changed since the last reload. No argument: everything. Exit status 1 when anything
//! is wrong, 2 when doctor itself cannot run.
//!
//! The inputs and their units come from the generator library (the very code the generator
//! runs); the pure classification is in `classify`, shared with `reload`.

pub mod classify;
pub mod files;
pub mod inputs;
pub mod sd;
pub mod table;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::systemctl::Scope;
use classify::{Context, Kind, Problem, Severity, UnitFacts};
use files::{Candidate, Stray};
use inputs::Model;
use serde::Serialize;
use table::Row;

/// Examples and exit statuses, shown by both `-h` and `--help`.
macro_rules! doctor_examples {
    () => {
        "\
Examples:
  unitsmith doctor                       every input, its unit and what is wrong
  unitsmith doctor web.service           why web.service is missing or failed
  unitsmith doctor /etc/systemd/system/web.container
  unitsmith doctor --user --json         for tools

Exit status: 0 nothing wrong, 1 something is wrong (listed), 2 doctor could not run.
See unitsmith-doctor(1)."
    };
}

#[derive(clap::Args, Debug)]
#[command(after_help = doctor_examples!())]
#[command(after_long_help = concat!("\
For each input file (no argument: all of them, and stray files), the unit it becomes, systemd's \
view of it (systemctl show: LoadState, ActiveState, SubState, Result, FragmentPath) and, when \
something is wrong, why:
  stub               the file cannot be parsed or translated (file:line, did-you-mean)
  dependency-failed  a volume/network/... it uses failed to generate, or a unit it requires failed
  generator-missing  unitsmith-generator is not in systemd's generator directories (or masked)
  podman-generator   Podman's own Quadlet generator handles that directory
  not-read           a Quadlet file in a directory unitsmith does not read
  not-an-input       a misspelt extension (web.conatiner)
  bad-name           the unit would have a name systemd refuses (@.service, over 255 bytes): none is written
  collision          two files would write the same unit
  overridden         a unit file of the same name hides the generated one
  stale              the input changed since the last daemon-reload
  input-removed      the unit still runs, but its input (or its unit file) is gone
  not-loaded, masked, load-error, failed: systemd's own view

", doctor_examples!()))]
pub struct Args {
    /// Examine the user manager and the user's Quadlet directories (as the user).
    #[arg(long)]
    pub user: bool,
    /// Print one JSON object (units, files, problems) instead of tables (fields:
    /// unitsmith-doctor(1)).
    #[arg(long)]
    pub json: bool,
    /// Units (web.service, or web) or input files (a path, or a file name such as
    /// web.container) to examine. None: every input, and stray files.
    #[arg(value_name = "UNIT|FILE")]
    pub targets: Vec<String>,
}

/// One unit's diagnosis.
#[derive(Debug, Clone)]
pub struct UnitReport {
    pub facts: UnitFacts,
    pub problems: Vec<Problem>,
}

impl UnitReport {
    pub fn status(&self) -> &'static str {
        classify::status(&self.problems)
    }

    /// `loaded`, `not-found`, ... (`?` when systemd could not be asked).
    pub fn load(&self) -> String {
        or_q(self.facts.prop("LoadState"))
    }

    /// `active/running`, `failed/failed`, ...
    pub fn active(&self) -> String {
        match (self.facts.prop("ActiveState"), self.facts.prop("SubState")) {
            ("", _) if sd::is_template(&self.facts.name) => "-".into(), // only instances run
            ("", _) => "?".into(),
            (a, "") => a.into(),
            (a, s) => format!("{a}/{s}"),
        }
    }

    /// As `--json` prints it.
    pub fn to_json(&self) -> UnitJson<'_> {
        let f = &self.facts;
        let p = |k: &str| crate::json::prop(&f.props, k);
        UnitJson {
            unit: &f.name,
            source: crate::json::opt_path(f.source.as_deref()),
            status: self.status(),
            stub: f.stub_error.is_some(),
            load_state: p("LoadState"),
            active_state: p("ActiveState"),
            sub_state: p("SubState"),
            result: p("Result"),
            fragment_path: p("FragmentPath"),
            invocation_id: p("InvocationID"),
            problems: &self.problems,
        }
    }
}

/// `doctor --json`: the fields unitsmith-doctor(1) documents under JSON OUTPUT, in order.
#[derive(Serialize)]
pub struct ReportJson<'a> {
    pub schema: u32,
    pub scope: &'static str,
    pub ok: bool,
    pub generator: GeneratorJson,
    pub podman_generator: Option<String>,
    pub search_paths: Vec<String>,
    pub units: Vec<UnitJson<'a>>,
    pub files: Vec<FileJson<'a>>,
    /// Problems of the installation rather than of one unit.
    pub problems: &'a [Problem],
}

#[derive(Serialize)]
pub struct GeneratorJson {
    pub installed: bool,
    pub path: Option<String>,
}

/// One unit; the systemd properties are null when systemd gave none.
#[derive(Serialize)]
pub struct UnitJson<'a> {
    pub unit: &'a str,
    pub source: Option<String>,
    pub status: &'static str,
    pub stub: bool,
    pub load_state: Option<&'a str>,
    pub active_state: Option<&'a str>,
    pub sub_state: Option<&'a str>,
    pub result: Option<&'a str>,
    pub fragment_path: Option<&'a str>,
    pub invocation_id: Option<&'a str>,
    pub problems: &'a [Problem],
}

/// A file that gives no unit of its own (stray, misspelt, lost a collision).
#[derive(Serialize)]
pub struct FileJson<'a> {
    pub path: String,
    pub unit: Option<&'a str>,
    pub status: &'static str,
    pub problems: &'a [Problem],
}

fn or_q(s: &str) -> String {
    if s.is_empty() {
        "?".into()
    } else {
        s.into()
    }
}

/// What doctor (and reload) know about the machine: the inputs, the generator, its output.
pub struct Env {
    pub scope: Scope,
    pub model: Model,
    pub cx: Context,
    /// Files our generator wrote at the last daemon-reload, by path relative to their dir.
    pub disk: BTreeMap<String, (PathBuf, String)>,
    /// Units unitsmith generated that no input gives any more, and how we know
    /// ([`Env::find_removed`]; empty until then).
    pub removed: BTreeMap<String, String>,
}

impl Env {
    pub fn load(scope: Scope) -> Env {
        let user = scope == Scope::User;
        let model = Model::build(user);
        let output_dirs = sd::generator_output_dirs(scope);
        let cx = Context {
            generator: sd::generator_installed(
                &sd::generator_dirs(user),
                sd::generator_names(user),
            ),
            output_dirs,
            user,
        };
        let disk = sd::scan_generated(&cx.output_dirs);
        Env {
            scope,
            model,
            cx,
            disk,
            removed: BTreeMap::new(),
        }
    }

    /// Find the units unitsmith generated that no input gives any more: generated files whose
    /// input is gone (no daemon-reload since), and units the reload state remembers (the
    /// file went with the last daemon-reload, the unit may still run). The same rule as
    /// `reload --restart-changed` applies when it stops them.
    pub fn find_removed(&mut self) {
        let state = self.reload_state();
        let mut known: crate::reload::state::Digests = crate::reload::state::digests(&self.disk);
        if let Some((_, d)) = &state {
            known.extend(d.iter().map(|(u, v)| (u.clone(), v.clone())));
        }
        for c in crate::reload::removed::gone(self.scope, self, &known) {
            let how = match (&c.source, &state) {
                (Some(src), _) => format!("its input {} is gone", src.display()),
                (None, Some((path, _))) => format!(
                    "no input gives it any more (unitsmith generated it: {} lists it)",
                    path.display()
                ),
                (None, None) => "no input gives it any more".to_string(),
            };
            self.removed.insert(c.unit, how);
        }
    }

    /// The reload state (read-only) and its path, when there is one.
    fn reload_state(&self) -> Option<(PathBuf, crate::reload::state::Digests)> {
        let dir = sd::state_dir(self.scope).ok()?;
        let dir = crate::safepath::open_dir(
            &dir,
            &crate::safepath::Trust::ours(),
            crate::safepath::Missing::Fail,
        )
        .ok()?;
        let path = dir.path().join(crate::reload::state::FILE_NAME);
        crate::reload::state::load(&dir).map(|d| (path, d))
    }

    /// The units to examine for [`Env::removed`]: each removed unit, a template's running
    /// instances instead of the template.
    pub fn removed_units(&self) -> Vec<String> {
        let mut out = Vec::new();
        for u in self.removed.keys() {
            if sd::is_template(u) {
                out.extend(sd::running_instances(self.scope, u));
            } else {
                out.push(u.clone());
            }
        }
        out
    }

    /// Read the generator's output again (after a reload, or once units are loaded).
    pub fn rescan(&mut self) {
        self.disk = sd::scan_generated(&self.cx.output_dirs);
    }

    /// The facts about `unit` that do not need systemd.
    pub fn facts(&self, unit: &str) -> UnitFacts {
        let mut f = UnitFacts {
            name: unit.to_string(),
            ..UnitFacts::default()
        };
        let lookup = sd::template_of(unit)
            .filter(|t| self.model.unit(unit).is_none() && self.model.unit(t).is_some());
        let key = lookup.as_deref().unwrap_or(unit);
        if let Some(g) = self.model.unit(key) {
            f.source = Some(g.source.clone());
            f.stub_error = g.error.clone();
            f.untrusted = g.untrusted;
            if lookup.is_none() {
                f.expected_text = Some(g.text());
            }
        }
        f.input_removed = self
            .removed
            .get(unit)
            .or_else(|| sd::template_of(unit).and_then(|t| self.removed.get(&t)))
            .cloned();
        if let Some((path, text)) = self.disk.get(key) {
            if lookup.is_none() {
                f.on_disk = Some((path.clone(), text.clone()));
            }
            // What systemd loaded is what counts: a stub on disk is a stub.
            if f.stub_error.is_none() {
                f.stub_error = stub_error_of(path, text);
            }
            if f.source.is_none() {
                f.source = source_of(path, text);
            }
        } else if let Some((path, text)) = sd::template_of(unit).and_then(|t| self.disk.get(&t)) {
            // An instance of a template whose input is gone (no daemon-reload since).
            if f.source.is_none() {
                f.source = source_of(path, text);
            }
        }
        f
    }

    /// Diagnose `units`, asking systemd once for all of them (and once for their dependencies).
    /// `props` may hold fresh `systemctl show` results to reuse.
    pub fn diagnose(
        &self,
        units: &[String],
        props: Option<&HashMap<String, HashMap<String, String>>>,
    ) -> Vec<UnitReport> {
        let mut facts: Vec<UnitFacts> = units.iter().map(|u| self.facts(u)).collect();
        let missing: Vec<String> = units
            .iter()
            .filter(|u| !props.is_some_and(|p| p.contains_key(*u)))
            .cloned()
            .collect();
        let shown: HashMap<String, HashMap<String, String>> = missing
            .iter()
            .cloned()
            .zip(sd::show_many(self.scope, &missing, sd::PROPS))
            .collect();
        for f in facts.iter_mut() {
            f.props = shown
                .get(&f.name)
                .or_else(|| props.and_then(|p| p.get(&f.name)))
                .cloned()
                .unwrap_or_default();
            let fragment = f.prop("FragmentPath");
            f.fragment_gone = f.prop("LoadState") == "loaded"
                && !fragment.is_empty()
                && !Path::new(fragment).exists();
        }
        self.add_failed_deps(&mut facts);
        facts
            .into_iter()
            .map(|f| {
                let problems = classify::classify(&f, &self.cx);
                UnitReport { facts: f, problems }
            })
            .collect()
    }

    /// Units that are not running: which of the units they require failed or do not exist.
    fn add_failed_deps(&self, facts: &mut [UnitFacts]) {
        let deps_of = |f: &UnitFacts| -> Vec<String> {
            if matches!(
                f.prop("ActiveState"),
                "active" | "activating" | "reloading" | ""
            ) {
                return Vec::new();
            }
            ["Requires", "Requisite", "BindsTo"]
                .iter()
                .flat_map(|k| {
                    f.prop(k)
                        .split_whitespace()
                        .map(String::from)
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        let mut all: Vec<String> = facts.iter().flat_map(deps_of).collect();
        all.sort();
        all.dedup();
        if all.is_empty() {
            return;
        }
        let shown: HashMap<String, HashMap<String, String>> = all
            .iter()
            .cloned()
            .zip(sd::show_many(
                self.scope,
                &all,
                &["LoadState", "ActiveState", "Result"],
            ))
            .collect();
        for f in facts.iter_mut() {
            for d in deps_of(f) {
                let Some(how) = shown.get(&d).and_then(classify::dep_failure) else {
                    continue;
                };
                let how = match self.model.unit(&d).and_then(|g| g.error.as_ref()) {
                    Some(e) => format!(
                        "{how}; it is a failure stub: {}",
                        e.lines().next().unwrap_or("")
                    ),
                    None => how,
                };
                f.failed_deps.push((d, how));
            }
        }
    }
}

/// The error a generated file carries when it is a failure stub.
pub fn stub_error_of(path: &Path, text: &str) -> Option<String> {
    let unit = unitsmith_generator::unitfile::UnitFile::parse(text.as_bytes(), path).ok()?;
    unitsmith_generator::stub::stub_error(&unit)
}

/// The input a generated file names (`SourcePath=`).
pub fn source_of(path: &Path, text: &str) -> Option<PathBuf> {
    let unit = unitsmith_generator::unitfile::UnitFile::parse(text.as_bytes(), path).ok()?;
    unit.lookup("Unit", "SourcePath").map(PathBuf::from)
}

/// Everything doctor found.
pub struct Report {
    pub scope: Scope,
    pub units: Vec<UnitReport>,
    pub files: Vec<Stray>,
    /// Problems of the installation rather than of one unit.
    pub global: Vec<Problem>,
    pub generator: Result<PathBuf, String>,
    pub podman_generator: Option<PathBuf>,
    pub search_dirs: Vec<PathBuf>,
}

impl Report {
    pub fn ok(&self) -> bool {
        !self
            .units
            .iter()
            .flat_map(|u| &u.problems)
            .chain(self.files.iter().map(|f| &f.problem))
            .chain(&self.global)
            .any(Problem::is_problem)
    }

    pub fn problem_count(&self) -> usize {
        let units = self
            .units
            .iter()
            .flat_map(|u| &u.problems)
            .filter(|p| p.is_problem())
            .count();
        units
            + self.files.iter().filter(|f| f.problem.is_problem()).count()
            + self.global.iter().filter(|p| p.is_problem()).count()
    }

    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let manager = if self.scope == Scope::User {
            "user manager"
        } else {
            "system manager"
        };
        match &self.generator {
            Ok(p) => out.push_str(&format!("generator: {} ({manager})\n", p.display())),
            Err(_) => out.push_str(&format!("generator: NOT INSTALLED ({manager})\n")),
        }
        if let Some(p) = &self.podman_generator {
            out.push_str(&format!(
                "podman generator: {} (handles the containers directories)\n",
                p.display()
            ));
        }
        for p in &self.global {
            out.push_str(&indent(&p.render()));
        }
        out.push('\n');
        if !self.units.is_empty() {
            let rows: Vec<Row> = self
                .units
                .iter()
                .map(|u| {
                    let mut r = Row::new(vec![
                        u.facts.name.clone(),
                        u.load(),
                        u.active(),
                        u.status().to_string(),
                        u.facts
                            .source
                            .as_ref()
                            .map(|s| s.display().to_string())
                            .unwrap_or_else(|| "-".into()),
                    ]);
                    r.details = u.problems.iter().map(Problem::render).collect();
                    r
                })
                .collect();
            out.push_str(&table::render(
                &["UNIT", "LOAD", "ACTIVE", "STATUS", "SOURCE"],
                &rows,
            ));
        }
        if !self.files.is_empty() {
            if !self.units.is_empty() {
                out.push('\n');
            }
            let rows: Vec<Row> = self
                .files
                .iter()
                .map(|f| {
                    let status = classify::status(std::slice::from_ref(&f.problem));
                    let mut r = Row::new(vec![
                        f.path.display().to_string(),
                        f.unit.clone().unwrap_or_else(|| "-".into()),
                        if status == "ok" {
                            "info".into()
                        } else {
                            status.to_string()
                        },
                    ]);
                    r.details = vec![f.problem.render()];
                    r
                })
                .collect();
            out.push_str(&table::render(&["FILE", "WOULD BE", "STATUS"], &rows));
        }
        if self.units.is_empty() && self.files.is_empty() {
            out.push_str("no inputs found in: ");
            out.push_str(
                &self
                    .search_dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.summary());
        out.push('\n');
        out
    }

    /// `3 units, 1 file not read, 2 problems`.
    pub fn summary(&self) -> String {
        let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let mut parts = vec![plural(self.units.len(), "unit")];
        let files = self.files.iter().filter(|f| f.problem.is_problem()).count();
        if files > 0 {
            parts.push(format!("{} not used", plural(files, "file")));
        }
        parts.push(match self.problem_count() {
            0 => "nothing wrong".to_string(),
            n => plural(n, "problem"),
        });
        parts.join(", ")
    }

    /// As `--json` prints it.
    pub fn to_json(&self) -> ReportJson<'_> {
        use crate::json::{opt_path, path};
        ReportJson {
            schema: crate::json::SCHEMA,
            scope: self.scope.name(),
            ok: self.ok(),
            generator: GeneratorJson {
                installed: self.generator.is_ok(),
                path: opt_path(self.generator.as_deref().ok()),
            },
            podman_generator: opt_path(self.podman_generator.as_deref()),
            search_paths: self.search_dirs.iter().map(|d| path(d)).collect(),
            units: self.units.iter().map(UnitReport::to_json).collect(),
            files: self
                .files
                .iter()
                .map(|f| FileJson {
                    path: path(&f.path),
                    unit: f.unit.as_deref(),
                    status: classify::status(std::slice::from_ref(&f.problem)),
                    problems: std::slice::from_ref(&f.problem),
                })
                .collect(),
            problems: &self.global,
        }
    }
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("    {l}\n")).collect()
}

/// What a command-line argument names.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    Unit(String),
    File(PathBuf),
    /// A bare input file name (`web.container`): wherever it is.
    InputName(String),
}

fn parse_target(arg: &str) -> Target {
    if arg.contains('/') {
        return Target::File(PathBuf::from(arg));
    }
    if inputs::unit_name_from_filename(arg).is_some() {
        return Target::InputName(arg.to_string());
    }
    Target::Unit(sd::normalize_unit(arg))
}

/// Build the report for `targets` (none: everything).
pub fn examine(env: &Env, targets: &[String]) -> Report {
    let user = env.scope == Scope::User;
    let model = &env.model;
    let cands: Vec<Candidate> = if model.search.from_env {
        Vec::new()
    } else {
        files::candidates(user)
    };
    let podman_dirs = if model.search.podman_generator.is_some() && !model.search.from_env {
        files::podman_dirs(user)
    } else {
        Vec::new()
    };
    // Inputs Podman's generator handles: they are not ours, but their units are still examined.
    let mut podman_files: Vec<(PathBuf, String)> = Vec::new();
    let mut podman_skipped = Vec::new();
    for d in &podman_dirs {
        let (found, skipped) = files::input_files(d, true);
        podman_files.extend(found);
        podman_skipped.extend(skipped.into_iter().map(files::not_walked));
    }

    let mut units: Vec<String> = Vec::new();
    let mut file_reports: Vec<Stray> = podman_skipped;
    let mut global: Vec<Problem> = Vec::new();
    let mut podman_owned: HashMap<String, PathBuf> = HashMap::new();
    let pg = model.search.podman_generator.clone();

    let want_unit = |u: String, units: &mut Vec<String>| {
        if !units.contains(&u) {
            units.push(u);
        }
    };

    if targets.is_empty() {
        for u in model.unit_names() {
            want_unit(u, &mut units);
        }
        for (i, winner) in model.collisions() {
            file_reports.push(collision(model, i, &winner));
        }
        for ng in &model.outcome.not_generated {
            file_reports.push(not_generated(ng));
        }
        for (path, unit) in &podman_files {
            podman_owned.insert(unit.clone(), path.clone());
            want_unit(unit.clone(), &mut units);
        }
        // Units whose input is gone: listed below only when they still run.
        for u in env.removed_units() {
            want_unit(u, &mut units);
        }
        file_reports.extend(files::strays(&cands, &model.search, user));
        for (hidden, winner) in model.shadows() {
            file_reports.push(Stray {
                unit: hidden
                    .file_name()
                    .and_then(|n| inputs::unit_name_from_filename(&n.to_string_lossy())),
                problem: Problem::new(
                    Kind::Shadowed,
                    Severity::Info,
                    format!(
                        "{}: not used: {} has the same name and comes first",
                        hidden.display(),
                        winner.display()
                    ),
                ),
                path: hidden,
            });
        }
    }
    for t in targets {
        match parse_target(t) {
            Target::Unit(u) => {
                let key = sd::template_of(&u)
                    .filter(|tpl| model.unit(&u).is_none() && model.unit(tpl).is_some());
                let key = key.unwrap_or_else(|| u.clone());
                for i in model.inputs_for(&key) {
                    if let Some(w) = model.collision_winner(i) {
                        file_reports.push(collision(model, i, w));
                    }
                }
                if model.unit(&key).is_none() {
                    // Not from an input we read: a stray file, or Podman's, may be meant to give it.
                    for s in files::strays(&cands, &model.search, user) {
                        if s.unit.as_deref() == Some(key.as_str()) {
                            file_reports.push(s);
                        }
                    }
                    if let Some((path, _)) = podman_files.iter().find(|(_, unit)| *unit == key) {
                        podman_owned.insert(u.clone(), path.clone());
                    }
                }
                want_unit(u, &mut units);
            }
            Target::File(p) => {
                let p = if p.is_absolute() {
                    p
                } else {
                    std::env::current_dir().unwrap_or_default().join(p)
                };
                file_target(
                    env,
                    &p,
                    &cands,
                    &podman_dirs,
                    &mut units,
                    &mut file_reports,
                    &mut podman_owned,
                );
            }
            Target::InputName(name) => {
                let mut found: Vec<PathBuf> = model
                    .inputs
                    .iter()
                    .filter(|i| i.name == name)
                    .map(|i| i.path.clone())
                    .collect();
                for (hidden, _) in model.shadows() {
                    if hidden
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy() == name)
                    {
                        found.push(hidden);
                    }
                }
                for s in files::strays(&cands, &model.search, user) {
                    if s.path
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy() == name)
                    {
                        found.push(s.path);
                    }
                }
                for (p, _) in &podman_files {
                    if p.file_name().is_some_and(|n| n.to_string_lossy() == name) {
                        found.push(p.clone());
                    }
                }
                if found.is_empty() {
                    file_reports.push(Stray {
                        path: PathBuf::from(&name),
                        unit: inputs::unit_name_from_filename(&name),
                        problem: Problem::error(
                            Kind::NotInput,
                            format!(
                                "no file named {name} in the directories unitsmith reads ({}) nor in the usual wrong places",
                                model.search.dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
                            ),
                        ),
                    });
                }
                for p in found {
                    file_target(
                        env,
                        &p,
                        &cands,
                        &podman_dirs,
                        &mut units,
                        &mut file_reports,
                        &mut podman_owned,
                    );
                }
            }
        }
    }

    global.extend(search_problems(model));
    if let Err(why) = &env.cx.generator {
        if !model.inputs.is_empty() || !targets.is_empty() {
            global.push(
                Problem::error(Kind::GeneratorMissing, why.clone())
                    .hint(classify::generator_hint(user)),
            );
        }
    }
    if let Some(p) = &pg {
        if !podman_files.is_empty() {
            global.push(Problem::new(
                Kind::PodmanGenerator,
                Severity::Info,
                format!(
                    "Podman's Quadlet generator {} is installed: it handles {}; unitsmith reads only its own directories ({})",
                    p.display(),
                    podman_dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "),
                    unitsmith_generator::dirs::own_dirs(user).iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }

    let mut reports = env.diagnose(&units, None);
    if targets.is_empty() {
        // A removed unit that no longer runs is nothing to report (systemd forgot it, or will).
        reports.retain(|r| r.facts.input_removed.is_none() || !r.problems.is_empty());
    }
    for r in reports.iter_mut() {
        if let Some(path) = podman_owned.get(&r.facts.name) {
            if r.facts.source.is_none() {
                r.facts.source = Some(path.clone());
                r.facts.podman_generator = pg.clone();
                r.problems = classify::classify(&r.facts, &env.cx);
            }
        }
        // A unit no input gives is only a problem when it is not loaded or failed.
        if r.facts.source.is_none() && r.facts.prop("LoadState") == "not-found" {
            let stray_for: Vec<String> = file_reports
                .iter()
                .filter(|s| s.unit.as_deref() == Some(r.facts.name.as_str()))
                .map(|s| s.path.display().to_string())
                .collect();
            if !stray_for.is_empty() {
                for p in r.problems.iter_mut().filter(|p| p.kind == Kind::NotLoaded) {
                    p.message = format!("{} is not loaded: no input unitsmith reads gives it; {} would, but is not read (see below)", r.facts.name, stray_for.join(", "));
                    p.hint = None;
                }
            }
        }
    }
    Report {
        scope: env.scope,
        units: reports,
        files: file_reports,
        global,
        generator: env.cx.generator.clone(),
        podman_generator: pg,
        search_dirs: model.search.dirs.clone(),
    }
}

fn collision(model: &Model, i: usize, winner: &Path) -> Stray {
    let name = &model.unit_names[i];
    Stray {
        path: model.inputs[i].path.clone(),
        unit: Some(name.clone()),
        problem: Problem::error(
            Kind::Collision,
            format!(
                "{}: not generated: {name} is already generated from {}",
                model.inputs[i].path.display(),
                winner.display()
            ),
        )
        .hint("rename one of them, or set ServiceName= to tell them apart"),
    }
}

fn file_target(
    env: &Env,
    p: &Path,
    cands: &[Candidate],
    podman_dirs: &[PathBuf],
    units: &mut Vec<String>,
    file_reports: &mut Vec<Stray>,
    podman_owned: &mut HashMap<String, PathBuf>,
) {
    let model = &env.model;
    match files::classify_file(p, model, cands, podman_dirs) {
        None => {
            let i = model.input_at(p).expect("classify_file: an input");
            if let Some(w) = model.collision_winner(i) {
                file_reports.push(collision(model, i, w));
            }
            // No unit at all (its name cannot be one): nothing to ask systemd about.
            let source = &model.inputs[i].path;
            if let Some(ng) = (model.outcome.not_generated.iter()).find(|ng| ng.source == *source) {
                file_reports.push(not_generated(ng));
                return;
            }
            let name = model.unit_names[i].clone();
            if !units.contains(&name) {
                units.push(name);
            }
        }
        Some(s) => {
            if let Some(u) = &s.unit {
                if s.problem.kind == Kind::PodmanGenerator {
                    podman_owned.insert(u.clone(), s.path.clone());
                }
                // A file that is fine where it is (for another manager): no unit to examine here.
                if s.problem.is_problem() && !units.contains(u) && !sd::is_template(u) {
                    units.push(u.clone());
                }
            }
            file_reports.push(s);
        }
    }
}

/// A generator message (`message\n  hint: hint`) as a problem of `kind`.
fn problem_of(kind: Kind, text: &str) -> Problem {
    match text.split_once("\n  hint: ") {
        Some((m, h)) => Problem::error(kind, m).hint(h),
        None => Problem::error(kind, text),
    }
}

/// What the generator could not search (directories, inputs over the limit).
fn search_problems(model: &Model) -> Vec<Problem> {
    (model.problems.iter())
        .map(|p| problem_of(Kind::NotRead, p))
        .collect()
}

/// For `reload`: inputs with no unit at all, and what the generator could not search.
pub fn refused_inputs(model: &Model) -> Vec<Problem> {
    (model.outcome.not_generated.iter())
        .map(|ng| problem_of(Kind::BadName, &ng.error))
        .chain(search_problems(model))
        .collect()
}

/// An input the generator made no unit of, not even a stub (see `Outcome::not_generated`).
fn not_generated(ng: &unitsmith_generator::generate::NotGenerated) -> Stray {
    Stray {
        path: ng.source.clone(),
        unit: Some(ng.unit.clone()),
        problem: problem_of(Kind::BadName, &ng.error),
    }
}

/// Route the generator library's own messages through stderr, quietly unless -v.
pub fn init_library_log() {
    use unitsmith_generator::log::{init, Level};
    let level = if log::max_level() >= log::LevelFilter::Debug {
        Level::Debug
    } else {
        Level::Error
    };
    init("unitsmith", false, level);
}

pub fn run(args: Args) -> ExitCode {
    init_library_log();
    let scope = if args.user {
        Scope::User
    } else {
        Scope::System
    };
    if args.user {
        if let Err(e) = sd::runtime_dir() {
            log::error!("{e}");
            return ExitCode::from(2);
        }
    }
    let mut env = Env::load(scope);
    env.find_removed();
    let report = examine(&env, &args.targets);
    if args.json {
        if let Err(e) = crate::json::print(&report.to_json()) {
            log::error!("{e}");
            return ExitCode::from(2);
        }
    } else {
        crate::term::print_report(&report.render_text(), report.ok());
    }
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(parse_target("web"), Target::Unit("web.service".into()));
        assert_eq!(
            parse_target("web.socket"),
            Target::Unit("web.socket".into())
        );
        assert_eq!(
            parse_target("web.container"),
            Target::InputName("web.container".into())
        );
        assert_eq!(
            parse_target("./web.container"),
            Target::File("./web.container".into())
        );
        assert_eq!(
            parse_target("/etc/x/db.volume"),
            Target::File("/etc/x/db.volume".into())
        );
    }

    #[test]
    fn report_counts_and_renders() {
        let bad = UnitReport {
            facts: UnitFacts {
                name: "bad.service".into(),
                source: Some("/e/bad.container".into()),
                stub_error: Some(
                    "/e/bad.container:2: unsupported key 'Imag'\n  hint: did you mean 'Image'?"
                        .into(),
                ),
                props: [
                    ("LoadState", "loaded"),
                    ("ActiveState", "failed"),
                    ("SubState", "failed"),
                ]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
                ..UnitFacts::default()
            },
            problems: vec![Problem::error(
                Kind::Stub,
                "/e/bad.container:2: unsupported key 'Imag'\n  hint: did you mean 'Image'?",
            )],
        };
        let r = Report {
            scope: Scope::System,
            units: vec![bad],
            files: vec![Stray {
                path: "/etc/systemd/system/foo.container".into(),
                unit: Some("foo.service".into()),
                problem: Problem::error(
                    Kind::NotRead,
                    "/etc/systemd/system/foo.container: not read: x",
                ),
            }],
            global: vec![],
            generator: Ok("/g".into()),
            podman_generator: None,
            search_dirs: vec![],
        };
        assert!(!r.ok());
        assert_eq!(r.problem_count(), 2);
        let t = r.render_text();
        assert!(
            t.contains("bad.service  loaded  failed/failed  error   /e/bad.container"),
            "{t}"
        );
        assert!(t.contains("    error (stub): /e/bad.container:2: unsupported key 'Imag'\n      hint: did you mean 'Image'?"), "{t}");
        assert!(
            t.contains("/etc/systemd/system/foo.container  foo.service  error"),
            "{t}"
        );
        assert!(t.contains("1 unit, 1 file not used, 2 problems"), "{t}");
        let j = serde_json::to_string(&r.to_json()).unwrap();
        assert!(
            j.starts_with("{\"schema\":1,\"scope\":\"system\",\"ok\":false,"),
            "{j}"
        );
        assert!(j.contains("\"kind\":\"not-read\""), "{j}");
        assert!(j.contains("did you mean 'Image'?"), "{j}");
    }

    /// `--json` parses, starts with the schema and has exactly the fields unitsmith-doctor(1)
    /// documents (every list filled, so every field shows).
    #[test]
    fn json_carries_the_documented_fields() {
        let stub = Problem::error(Kind::Stub, "/e/a.container:2: bad").hint("did you mean");
        let unit = UnitReport {
            facts: UnitFacts {
                name: "a.service".into(),
                source: Some("/e/a.container".into()),
                stub_error: Some("/e/a.container:2: bad".into()),
                props: [("LoadState", "loaded"), ("ActiveState", "failed")]
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ..UnitFacts::default()
            },
            problems: vec![stub],
        };
        let r = Report {
            scope: Scope::User,
            units: vec![unit],
            files: vec![Stray {
                path: "/e/web.conatiner".into(),
                unit: None,
                problem: Problem::error(Kind::NotInput, "not an input"),
            }],
            global: vec![Problem::error(Kind::GeneratorMissing, "not installed")],
            generator: Err("not installed".into()),
            podman_generator: Some("/usr/lib/systemd/user-generators/podman-user-generator".into()),
            search_dirs: vec!["/e".into()],
        };
        let json = serde_json::to_string(&r.to_json()).unwrap();
        crate::json::fields::check_against_page(&json, "unitsmith-doctor.1", true);
    }
}

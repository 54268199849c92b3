//! `unitsmith reconcile [--dry-run] [--user] [--all] [--json]`: repair lost or failed units
//! that the generator produced. Run by `unitsmith-reconcile.timer` every 30 s.
//!
//! Which units: every unit the generator makes from the inputs now (the generator library,
//! as `doctor` and `reload` use it) that is *enabled*, i.e. has an `[Install]` link in a
//! `.wants/`, `.requires/` or `.upholds/` directory, plus every unit listed in
//! `/etc/unitsmith/reconcile.conf`. One pass, at most one attempt per unit:
//!
//! 1. lost: not loaded (`LoadState` not `loaded`) or its unit file is gone from disk → one
//!    `daemon-reload` for all of them (the generator writes them again), then look again;
//! 2. by state, see [`decide`]: `failed` → `reset-failed` + `start`; `inactive` → `start`
//!    only when it never ran in this boot (as systemd remembers it) while a unit that wants it
//!    is active, or when its last run did not succeed; a unit whose last job was a stop job
//!    (the journal says so: `systemctl stop`, a dependency stopping it, isolate) is left
//!    alone, and so is an inactive unit whose last run ended successfully (`systemctl stop`
//!    or a clean exit);
//! 3. the starts run in parallel, each bounded by `--timeout`; the result is read back.
//!
//! A table of what was not simply fine, and a summary line; exit status 1 when a unit could
//! not be repaired (failure stubs included: only fixing the input helps).

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::doctor::sd;
use crate::doctor::table::{self, Row};
use crate::systemctl::{self, Scope};

/// The extra units to watch (system manager).
pub const CONFIG: &str = "/etc/unitsmith/reconcile.conf";

const AFTER_HELP: &str = "\
Units: every enabled unit the generator makes from the inputs (an [Install] WantedBy=,
RequiredBy= or UpheldBy= link), plus the units listed in /etc/unitsmith/reconcile.conf (unit
names, '#' comments; --user: ~/.config/unitsmith/reconcile.conf), treated as enabled and wanted.

Repairs, at most one attempt per unit and run:
  not loaded, or its unit file is gone    one daemon-reload for all of them, then as below
  failed                                  reset-failed + start
  inactive, never started in this boot while a unit that wants it is active    start
  inactive, its last run did not succeed  reset-failed + start
Left alone (never fights an operator):
  units whose last job in this boot was a stop job (journal: systemctl stop, a dependency
  stopped, isolate), even when the stop ended in `failed` (exit 143, stop timeout);
  inactive units whose last run succeeded (a clean exit, or systemctl stop);
  units with a job pending, and active or activating units.
Failure stubs are reported and never started: fix the input.

Exit status: 0 every unit fine, repaired or left alone; 1 a unit could not be repaired (with
--dry-run: a unit needs a repair or cannot be repaired); 2 usage. See unitsmith-reconcile(1).";

#[derive(clap::Args, Debug)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// Say what would be done; change nothing (no daemon-reload, no start).
    #[arg(long)]
    pub dry_run: bool,
    /// The user's manager and Quadlet directories (config: ~/.config/unitsmith/reconcile.conf).
    ///
    /// $XDG_CONFIG_HOME is respected.
    #[arg(long)]
    pub user: bool,
    /// Extra units to watch: this file instead of /etc/unitsmith/reconcile.conf.
    ///
    /// PATH must exist (the default file may be missing).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// List every unit checked, not only those that needed something.
    #[arg(long)]
    pub all: bool,
    /// How long each start may take.
    #[arg(long, value_name = "TIME", default_value = "90s", value_parser = crate::duration::parse)]
    pub timeout: Duration,
    /// Print one JSON object instead of the table (fields: unitsmith-reconcile(1)).
    #[arg(long)]
    pub json: bool,
}

/// The properties reconcile reads.
const PROPS: &[&str] = &[
    "Id",
    "LoadState",
    "ActiveState",
    "SubState",
    "Result",
    "FragmentPath",
    "InactiveExitTimestampMonotonic",
    "ActiveEnterTimestampMonotonic",
];

/// A unit to look after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub unit: String,
    /// The input it is generated from, or the config file line that lists it.
    pub origin: String,
    /// Set for failure stubs: the generator's error.
    pub stub: Option<String>,
    /// Units whose `.wants/`-style link pulls it in; empty = listed in the config (wanted).
    pub wanted_by: Vec<String>,
}

/// What to do about one unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing to do.
    Fine(String),
    /// Not ours to touch now (stopped on purpose, job pending, not wanted yet).
    LeaveAlone(String),
    /// reset-failed + start, because ...
    Start(String),
    /// Cannot be repaired by reconcile.
    Broken(String),
}

/// One unit's state, as `systemctl show` gave it.
#[derive(Debug, Clone, Default)]
pub struct State(pub HashMap<String, String>);

impl State {
    pub fn get(&self, k: &str) -> &str {
        self.0.get(k).map(String::as_str).unwrap_or("")
    }
    fn loaded(&self) -> bool {
        self.get("LoadState") == "loaded"
    }
    /// Not loaded, or loaded from a file that no longer exists.
    pub fn lost(&self) -> bool {
        !self.loaded()
            || (!self.get("FragmentPath").is_empty()
                && !Path::new(self.get("FragmentPath")).exists())
    }
    /// Has systemd seen it start since it loaded it (this boot, unless it was unloaded)?
    fn ran(&self) -> bool {
        let n = |k| self.get(k).parse::<u64>().unwrap_or(0);
        n("InactiveExitTimestampMonotonic") > 0 || n("ActiveEnterTimestampMonotonic") > 0
    }
    pub fn describe(&self) -> String {
        if self.0.is_empty() {
            return "?".into();
        }
        if !self.loaded() {
            return self.get("LoadState").to_string();
        }
        let mut s = format!("{}/{}", self.get("ActiveState"), self.get("SubState"));
        if !matches!(self.get("Result"), "" | "success") {
            s.push_str(&format!(" ({})", self.get("Result")));
        }
        if !self.get("FragmentPath").is_empty() && !Path::new(self.get("FragmentPath")).exists() {
            s.push_str(", unit file gone");
        }
        s
    }
}

/// The decision for a loaded unit. `wanted`: a unit that wants it is active (or it is listed
/// in the config). `stop_job_last`: the journal says the last job for it was a stop job
/// (None: the journal could not tell).
pub fn decide(
    t: &Target,
    s: &State,
    job_pending: bool,
    wanted: bool,
    stop_job_last: Option<bool>,
) -> Decision {
    if let Some(e) = &t.stub {
        let first = e.lines().next().unwrap_or("");
        return Decision::Broken(format!("failure stub, not started: fix the input: {first}"));
    }
    if !s.loaded() {
        return Decision::Broken(format!(
            "{} (not generated: is the generator installed and the input readable?)",
            s.get("LoadState")
        ));
    }
    if job_pending {
        return Decision::LeaveAlone("a job is pending for it".into());
    }
    let active = s.get("ActiveState");
    let result = s.get("Result");
    let candidate = match active {
        "active" | "activating" | "deactivating" | "reloading" | "refreshing" => {
            return Decision::Fine(active.into())
        }
        "failed" => format!("failed ({})", if result.is_empty() { "?" } else { result }),
        "inactive" if s.ran() && matches!(result, "success" | "") => {
            return Decision::LeaveAlone(
                "stopped: its last run ended successfully (clean exit or systemctl stop)".into(),
            )
        }
        "inactive" if s.ran() => format!("inactive, last run ended with {result}"),
        "inactive" if wanted => {
            "never started in this boot, though wanted by an active unit".into()
        }
        "inactive" => {
            return Decision::LeaveAlone("not started: nothing that wants it is active yet".into())
        }
        other => return Decision::LeaveAlone(format!("in state {other}")),
    };
    if stop_job_last == Some(true) {
        return Decision::LeaveAlone(
            "stopped on purpose: the last job systemd ran for it was a stop job".into(),
        );
    }
    Decision::Start(candidate)
}

/// Units to look after: enabled generated units, then the config's (each once).
pub fn targets(
    generated: &[unitsmith_generator::generate::Generated],
    config: &[(String, String)],
) -> Vec<Target> {
    let mut out: Vec<Target> = Vec::new();
    for g in generated {
        // Links are `TARGET.wants/UNIT` (UNIT is the instance for DefaultInstance=); aliases
        // have no directory part and do not make a unit wanted.
        for (link, _) in &g.symlinks {
            let Some((dir, unit)) = link.rsplit_once('/') else {
                continue;
            };
            let Some(by) = [".wants", ".requires", ".upholds"]
                .iter()
                .find_map(|s| dir.strip_suffix(s))
            else {
                continue;
            };
            match out.iter_mut().find(|t| t.unit == unit) {
                Some(t) => {
                    if !t.wanted_by.iter().any(|w| w == by) {
                        t.wanted_by.push(by.to_string());
                    }
                }
                None => out.push(Target {
                    unit: unit.to_string(),
                    origin: g.source.display().to_string(),
                    stub: g.error.clone(),
                    wanted_by: vec![by.to_string()],
                }),
            }
        }
    }
    for (unit, origin) in config {
        match out.iter_mut().find(|t| &t.unit == unit) {
            Some(t) => t.wanted_by.clear(), // listed: wanted whatever its targets do
            None => out.push(Target {
                unit: unit.clone(),
                origin: origin.clone(),
                stub: None,
                wanted_by: Vec::new(),
            }),
        }
    }
    out
}

/// `reconcile.conf`: unit names, whitespace separated, `#`/`;` comments. Returns the units
/// with `file:line`, and warnings for names that cannot be used.
pub fn parse_config(text: &str, path: &Path) -> (Vec<(String, String)>, Vec<String>) {
    let mut units = Vec::new();
    let mut warnings = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split(['#', ';']).next().unwrap_or("");
        for word in line.split_whitespace() {
            let loc = format!("{}:{}", path.display(), i + 1);
            let unit = sd::normalize_unit(word);
            if unit.contains('/') || unit.starts_with('.') || unit.starts_with('@') {
                warnings.push(format!("{loc}: \"{word}\" is not a unit name; ignored"));
            } else if sd::is_template(&unit) {
                warnings.push(format!("{loc}: {unit} is a template; list an instance (NAME@INSTANCE.service); ignored"));
            } else if !units.iter().any(|(u, _)| u == &unit) {
                units.push((unit, loc));
            }
        }
    }
    (units, warnings)
}

/// The configuration names units root will start: it must be root's (or ours) and writable
/// by no one else, on a path no other user could have steered (see `safepath`).
fn read_config(path: &Path) -> Result<String, crate::safepath::Error> {
    let path = std::env::current_dir()
        .map(|d| d.join(path))
        .unwrap_or_else(|_| path.to_path_buf());
    let opened = crate::safepath::open_trusted_file(&path, &crate::safepath::Trust::ours())?;
    let data = opened.read_all(&path, 1 << 20)?;
    Ok(String::from_utf8_lossy(&data).into_owned())
}

fn config_path(args: &Args) -> Option<PathBuf> {
    if let Some(p) = &args.config {
        return Some(p.clone());
    }
    if !args.user {
        return Some(PathBuf::from(CONFIG));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })?;
    Some(base.join("unitsmith/reconcile.conf"))
}

/// Units with a job queued or running (`systemctl list-jobs`).
fn pending_jobs(scope: Scope) -> BTreeSet<String> {
    let out = systemctl::run(scope, &["list-jobs", "--no-legend", "--plain"]);
    parse_jobs(&out.stdout)
}

pub fn parse_jobs(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let id = f.next()?;
            let unit = f.next()?;
            (id.chars().all(|c| c.is_ascii_digit()) && sd::has_unit_suffix(unit))
                .then(|| unit.to_string())
        })
        .collect()
}

// The journal messages PID 1 writes when a job begins or ends (sd-messages.h).
const MSG_STARTING: &str = "7d4958e842da4a758f6c1cdc7b36dcc5";
const MSG_STARTED: &str = "39f53479d3a045ac8e11786248231fbf";
const MSG_START_FAILED: &str = "be02cf6855d2428ba40df7e9d022f03d";
const MSG_STOPPING: &str = "de5b426a63be47a7b6ac3eaac82e2f6f";
const MSG_STOPPED: &str = "9d1aaa27d60140bd96365438aad20286";

/// Was the last job systemd ran for `unit` in this boot a stop job? The manager logs
/// "Starting/Started/Failed to start" and "Stopping/Stopped" with these message IDs; a crash
/// logs neither (only the unit's failure), so a stop job as the latest of them means the unit
/// was stopped on purpose, however the stop ended. None when the journal cannot tell.
fn last_job_was_stop(scope: Scope, unit: &str) -> Option<bool> {
    let mut cmd =
        Command::new(std::env::var("UNITSMITH_JOURNALCTL").unwrap_or_else(|_| "journalctl".into()));
    match scope {
        Scope::System => cmd.args(["_PID=1".to_string(), format!("UNIT={unit}")]),
        Scope::User => cmd.args(["--user".to_string(), format!("USER_UNIT={unit}")]),
    };
    for id in [
        MSG_STARTING,
        MSG_STARTED,
        MSG_START_FAILED,
        MSG_STOPPING,
        MSG_STOPPED,
    ] {
        cmd.arg(format!("MESSAGE_ID={id}"));
    }
    cmd.args(["-b", "-q", "--no-pager", "-r", "-n", "1", "-o", "export"]);
    let text = run_bounded(cmd, Duration::from_secs(10))?;
    let id = text.lines().find_map(|l| l.strip_prefix("MESSAGE_ID="))?;
    Some(id == MSG_STOPPING || id == MSG_STOPPED)
}

/// Run a command, killed after `timeout`; its stdout when it exited 0.
fn run_bounded(mut cmd: Command, timeout: Duration) -> Option<String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdout = child.stdout.take()?;
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let end = Instant::now() + timeout;
    let exit = crate::child_exit::ChildExit::watch(&child);
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if Instant::now() < end && !crate::signals::stop_requested() => {
                exit.wait(end.saturating_duration_since(Instant::now()))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    };
    let text = reader.join().ok()?;
    status.success().then_some(text)
}

/// One row of the report.
#[derive(Debug, Clone)]
struct Line {
    target: Target,
    before: String,
    action: String,
    result: String,
    outcome: Outcome,
    details: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Fine,
    LeftAlone,
    Repaired,
    WouldRepair,
    NotRepaired,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Fine => "ok",
            Outcome::LeftAlone => "left alone",
            Outcome::Repaired => "repaired",
            Outcome::WouldRepair => "would repair",
            Outcome::NotRepaired => "NOT REPAIRED",
        }
    }
}

pub fn run(args: Args) -> ExitCode {
    let scope = if args.user {
        Scope::User
    } else {
        Scope::System
    };
    let t0 = Instant::now();
    // One reconcile at a time (the timer and a manual run): the second has nothing to add.
    let lock_name = if args.user {
        ".reconcile-user.lock"
    } else {
        ".reconcile.lock"
    };
    let _lock = match take_lock(lock_name) {
        Ok(Some(f)) => f,
        Ok(None) => {
            log::info!("another unitsmith reconcile is running ({lock_name}); nothing to do");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            log::error!("cannot take the reconcile lock: {e}");
            return ExitCode::from(1);
        }
    };

    let model = crate::doctor::inputs::Model::build(args.user);
    let mut config_units = Vec::new();
    if let Some(path) = config_path(&args) {
        match read_config(&path) {
            Ok(text) => {
                let (units, warnings) = parse_config(&text, &path);
                for w in warnings {
                    log::warn!("{w}");
                }
                config_units = units;
            }
            Err(e) if e.is_not_found() && args.config.is_none() => {}
            Err(e) => {
                log::error!("cannot use the reconcile configuration: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let targets = targets(&model.outcome.units, &config_units);
    let names: Vec<String> = targets.iter().map(|t| t.unit.clone()).collect();
    let mut states: Vec<State> = sd::show_many(scope, &names, PROPS)
        .into_iter()
        .map(State)
        .collect();
    let before: Vec<String> = states.iter().map(State::describe).collect();

    // 1. Lost units: one daemon-reload for all of them.
    let lost: Vec<usize> = (0..targets.len())
        .filter(|&i| targets[i].stub.is_none() && states[i].lost())
        .collect();
    let mut reloaded = false;
    let mut reload_error = None;
    if !lost.is_empty() && !args.dry_run {
        log::info!(
            "not loaded or unit file gone: {}; running daemon-reload",
            lost.iter()
                .map(|&i| names[i].as_str())
                .collect::<Vec<_>>()
                .join(" ")
        );
        let out = systemctl::daemon_reload(scope);
        if out.success {
            reloaded = true;
            let again: Vec<String> = lost.iter().map(|&i| names[i].clone()).collect();
            for (k, s) in lost.iter().zip(sd::show_many(scope, &again, PROPS)) {
                states[*k] = State(s);
            }
        } else {
            reload_error = Some(format!("daemon-reload failed: {}", out.stderr.trim()));
        }
    }

    crate::signals::exit_if_stopped(|| "after looking for lost units; nothing started".into());

    // 2. Decide.
    let jobs = pending_jobs(scope);
    let mut wanting: Vec<String> = targets.iter().flat_map(|t| t.wanted_by.clone()).collect();
    wanting.sort();
    wanting.dedup();
    let wanting_active: HashMap<String, bool> = wanting
        .iter()
        .cloned()
        .zip(
            sd::show_many(scope, &wanting, &["ActiveState"])
                .into_iter()
                .map(|p| {
                    matches!(
                        p.get("ActiveState").map(String::as_str),
                        Some("active" | "reloading")
                    )
                }),
        )
        .collect();
    let mut lines: Vec<Line> = Vec::with_capacity(targets.len());
    let mut to_start: Vec<usize> = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        let s = &states[i];
        let was_lost = lost.contains(&i);
        let wanted = t.wanted_by.is_empty()
            || t.wanted_by
                .iter()
                .any(|w| wanting_active.get(w).copied().unwrap_or(false));
        let mut line = Line {
            target: t.clone(),
            before: before[i].clone(),
            action: "-".into(),
            result: String::new(),
            outcome: Outcome::Fine,
            details: Vec::new(),
        };
        if was_lost && args.dry_run {
            line.action = "daemon-reload (+ start if needed)".into();
            line.outcome = Outcome::WouldRepair;
            line.result = "would run daemon-reload".into();
            lines.push(line);
            continue;
        }
        if was_lost {
            line.action = "daemon-reload".into();
            if let Some(e) = &reload_error {
                line.outcome = Outcome::NotRepaired;
                line.result = e.clone();
                lines.push(line);
                continue;
            }
        }
        let needs_journal = t.stub.is_none()
            && s.loaded()
            && !jobs.contains(&t.unit)
            && (s.get("ActiveState") == "failed"
                || (s.get("ActiveState") == "inactive"
                    && !(s.ran() && s.get("Result") == "success")));
        let stop_last = if needs_journal {
            last_job_was_stop(scope, &t.unit)
        } else {
            None
        };
        match decide(t, s, jobs.contains(&t.unit), wanted, stop_last) {
            Decision::Fine(state) => {
                if was_lost && !s.lost() {
                    line.outcome = Outcome::Repaired;
                    line.result = format!("unit file restored, {state}");
                } else {
                    line.result = state;
                }
            }
            Decision::LeaveAlone(why) => {
                line.outcome = if was_lost && !s.lost() {
                    Outcome::Repaired
                } else {
                    Outcome::LeftAlone
                };
                line.result = if was_lost {
                    format!("unit file restored; left alone: {why}")
                } else {
                    why
                };
            }
            Decision::Broken(why) => {
                line.outcome = Outcome::NotRepaired;
                line.result = why;
            }
            Decision::Start(why) => {
                line.action = if was_lost {
                    "daemon-reload + reset-failed + start".into()
                } else {
                    "reset-failed + start".into()
                };
                if !why.starts_with(&format!("{} ", s.get("ActiveState"))) {
                    line.details.push(format!("because: {why}"));
                }
                if args.dry_run {
                    line.outcome = Outcome::WouldRepair;
                    line.result = format!("would start: {why}");
                } else {
                    log::info!("{}: {why}: reset-failed + start", t.unit);
                    to_start.push(lines.len());
                }
            }
        }
        lines.push(line);
    }

    crate::signals::exit_if_stopped(|| "before starting anything".to_string());

    // 3. Start, in parallel, each bounded (and ended by SIGTERM); then read the states back.
    if !to_start.is_empty() {
        let units: Vec<String> = to_start
            .iter()
            .map(|&k| lines[k].target.unit.clone())
            .collect();
        let outputs: Vec<systemctl::Output> = std::thread::scope(|sc| {
            let handles: Vec<_> = units
                .iter()
                .map(|u| {
                    let timeout = args.timeout;
                    sc.spawn(move || {
                        let _ = systemctl::reset_failed(scope, u);
                        systemctl::run_with_timeout(scope, &["start", "--", u], timeout)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("start thread"))
                .collect()
        });
        crate::signals::exit_if_stopped(|| {
            format!(
                "while starting {}; the start jobs already queued go on in systemd",
                units.join(" ")
            )
        });
        let after = sd::show_many(scope, &units, PROPS);
        for ((k, out), props) in to_start.iter().zip(outputs).zip(after) {
            let s = State(props);
            let line = &mut lines[*k];
            let ok = matches!(s.get("ActiveState"), "active" | "activating" | "reloading")
                || (s.get("ActiveState") == "inactive"
                    && s.get("Result") == "success"
                    && out.success);
            if ok {
                line.outcome = Outcome::Repaired;
                line.result = s.describe();
            } else {
                line.outcome = Outcome::NotRepaired;
                line.result = format!("start failed: {}", s.describe());
                if let Some(l) = out.stderr.lines().find(|l| !l.trim().is_empty()) {
                    line.details.push(l.trim().to_string());
                }
            }
        }
    }

    // The cause of what is still broken, as `doctor` explains it.
    let broken: Vec<String> = lines
        .iter()
        .filter(|l| l.outcome == Outcome::NotRepaired && l.target.stub.is_none())
        .map(|l| l.target.unit.clone())
        .collect();
    if !broken.is_empty() && !args.dry_run {
        let env = crate::doctor::Env::load(scope);
        for report in env.diagnose(&broken, None) {
            if let Some(line) = lines
                .iter_mut()
                .find(|l| l.target.unit == report.facts.name)
            {
                line.details.extend(
                    report
                        .problems
                        .iter()
                        .filter(|p| p.is_problem())
                        .map(|p| p.render()),
                );
            }
        }
    }

    let count = |o: Outcome| lines.iter().filter(|l| l.outcome == o).count();
    let summary = format!(
        "reconcile: {} units checked, {} ok, {} repaired{}, {} left alone, {} not repaired{}{} ({:.2}s)",
        lines.len(),
        count(Outcome::Fine),
        count(Outcome::Repaired),
        if args.dry_run { format!(", {} would be repaired", count(Outcome::WouldRepair)) } else { String::new() },
        count(Outcome::LeftAlone),
        count(Outcome::NotRepaired),
        if reloaded { ", daemon-reload done" } else { "" },
        if args.dry_run { " [dry run: nothing changed]" } else { "" },
        t0.elapsed().as_secs_f64()
    );
    let failed =
        count(Outcome::NotRepaired) > 0 || (args.dry_run && count(Outcome::WouldRepair) > 0);
    if args.json {
        if let Err(e) = crate::json::print(&to_json(scope, args.dry_run, reloaded, &lines)) {
            log::error!("{e}");
            return ExitCode::from(2);
        }
    } else {
        let rows: Vec<Row> = lines
            .iter()
            .filter(|l| args.all || l.outcome != Outcome::Fine)
            .map(|l| {
                let mut r = Row::new(vec![
                    l.target.unit.clone(),
                    l.before.clone(),
                    l.action.clone(),
                    format!("{}: {}", l.outcome.as_str(), l.result),
                ]);
                r.details = l.details.clone();
                r
            })
            .collect();
        let mut text = String::new();
        if !rows.is_empty() {
            text.push_str(&table::render(
                &["UNIT", "BEFORE", "ACTION", "RESULT"],
                &rows,
            ));
        }
        text.push_str(&summary);
        text.push('\n');
        crate::term::print_report(&text, !failed);
    }
    for l in lines.iter().filter(|l| l.outcome == Outcome::NotRepaired) {
        log::error!("{}: not repaired: {}", l.target.unit, l.result);
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The lock that keeps two reconciles apart, in the lock directory (root's alone).
fn take_lock(name: &str) -> Result<Option<std::fs::File>, String> {
    let (f, path) = crate::lock::open_named(name)?;
    match crate::lock::acquire(&f, Duration::ZERO, || false, || {})
        .map_err(|e| format!("{}: {e}", path.display()))?
    {
        crate::lock::Acquired::Locked => Ok(Some(f)),
        _ => Ok(None),
    }
}

/// `reconcile --json`: the fields unitsmith-reconcile(1) documents under JSON OUTPUT, in order.
#[derive(Serialize)]
struct ReportJson<'a> {
    schema: u32,
    scope: &'static str,
    dry_run: bool,
    daemon_reload: bool,
    units: Vec<UnitJson<'a>>,
}

#[derive(Serialize)]
struct UnitJson<'a> {
    unit: &'a str,
    origin: &'a str,
    before: &'a str,
    action: &'a str,
    outcome: String,
    result: &'a str,
    details: &'a [String],
}

fn to_json(scope: Scope, dry_run: bool, reloaded: bool, lines: &[Line]) -> ReportJson<'_> {
    ReportJson {
        schema: crate::json::SCHEMA,
        scope: scope.name(),
        dry_run,
        daemon_reload: reloaded,
        units: lines
            .iter()
            .map(|l| UnitJson {
                unit: &l.target.unit,
                origin: &l.target.origin,
                before: &l.before,
                action: &l.action,
                outcome: l.outcome.as_str().to_lowercase(),
                result: &l.result,
                details: &l.details,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_others_can_write_is_not_used() {
        use std::os::unix::fs::PermissionsExt;
        let d = std::env::temp_dir().join(format!("unitsmith-reconcile-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("reconcile.conf");
        std::fs::write(&p, "web.service\n").unwrap();
        assert_eq!(read_config(&p).unwrap(), "web.service\n");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o666)).unwrap();
        let e = read_config(&p).unwrap_err().to_string();
        assert!(
            e.contains("reconcile.conf: the file can be written by every user"),
            "{e}"
        );
        assert!(read_config(&d.join("none")).unwrap_err().is_not_found());
        std::fs::remove_dir_all(&d).unwrap();
    }

    fn state(pairs: &[(&str, &str)]) -> State {
        State(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn target(unit: &str) -> Target {
        Target {
            unit: unit.into(),
            origin: "x.container".into(),
            stub: None,
            wanted_by: vec!["multi-user.target".into()],
        }
    }

    const RAN: (&str, &str) = ("InactiveExitTimestampMonotonic", "123456");

    #[test]
    fn decisions() {
        let t = target("a.service");
        let loaded = ("LoadState", "loaded");
        // Running: fine.
        assert!(matches!(
            decide(
                &t,
                &state(&[loaded, ("ActiveState", "active"), RAN]),
                false,
                true,
                None
            ),
            Decision::Fine(_)
        ));
        // Killed into failed: start.
        let failed = state(&[loaded, ("ActiveState", "failed"), ("Result", "signal"), RAN]);
        assert!(matches!(
            decide(&t, &failed, false, true, Some(false)),
            Decision::Start(_)
        ));
        assert!(matches!(
            decide(&t, &failed, false, true, None),
            Decision::Start(_)
        ));
        // Failed while being stopped on purpose (exit 143, stop timeout): left alone.
        assert!(matches!(
            decide(&t, &failed, false, true, Some(true)),
            Decision::LeaveAlone(_)
        ));
        // systemctl stop / clean exit: inactive after a successful run.
        let stopped = state(&[
            loaded,
            ("ActiveState", "inactive"),
            ("Result", "success"),
            RAN,
        ]);
        assert!(matches!(
            decide(&t, &stopped, false, true, None),
            Decision::LeaveAlone(_)
        ));
        assert!(matches!(
            decide(&t, &stopped, false, true, Some(false)),
            Decision::LeaveAlone(_)
        ));
        // Never ran since loaded, wanted by an active target: start, unless a stop job was last.
        let fresh = state(&[loaded, ("ActiveState", "inactive"), ("Result", "success")]);
        assert!(matches!(
            decide(&t, &fresh, false, true, None),
            Decision::Start(_)
        ));
        assert!(matches!(
            decide(&t, &fresh, false, true, Some(true)),
            Decision::LeaveAlone(_)
        ));
        assert!(matches!(
            decide(&t, &fresh, false, false, None),
            Decision::LeaveAlone(_)
        ));
        // A job pending: the manager is on it.
        assert!(matches!(
            decide(&t, &failed, true, true, None),
            Decision::LeaveAlone(_)
        ));
        // Not loaded even after the reload: broken.
        assert!(matches!(
            decide(&t, &state(&[("LoadState", "not-found")]), false, true, None),
            Decision::Broken(_)
        ));
        // A failure stub is never started.
        let stub = Target {
            stub: Some("x.container:3: bad".into()),
            ..target("a.service")
        };
        assert!(matches!(
            decide(&stub, &failed, false, true, None),
            Decision::Broken(_)
        ));
    }

    #[test]
    fn lost_means_not_loaded_or_file_gone() {
        assert!(state(&[("LoadState", "not-found")]).lost());
        assert!(state(&[
            ("LoadState", "loaded"),
            ("FragmentPath", "/nonexistent/x.service")
        ])
        .lost());
        assert!(!state(&[("LoadState", "loaded"), ("FragmentPath", "/")]).lost());
    }

    #[test]
    fn config_file() {
        let (u, w) = parse_config(
            "# extra units\nfoo\nbar.service  baz.timer # inline\n\napp@.service\napp@one.service\nfoo.service\n../x\n",
            Path::new("/etc/unitsmith/reconcile.conf"),
        );
        let names: Vec<&str> = u.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["foo.service", "bar.service", "baz.timer", "app@one.service"]
        );
        assert_eq!(u[1].1, "/etc/unitsmith/reconcile.conf:3");
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains(":5:") && w[0].contains("template"));
    }

    #[test]
    fn jobs() {
        let j = parse_jobs(
            "12 web.service start waiting\n13 multi-user.target start waiting\nNo jobs running.\n",
        );
        assert_eq!(
            j.into_iter().collect::<Vec<_>>(),
            ["multi-user.target", "web.service"]
        );
    }

    #[test]
    fn enabled_generated_units_and_config() {
        use unitsmith_generator::generate::Generated;
        use unitsmith_generator::unitfile::UnitFile;
        let g = |name: &str, links: &[&str]| Generated {
            name: name.into(),
            unit: UnitFile::new(name),
            source: PathBuf::from(format!("/etc/containers/systemd/{name}")),
            error: None,
            symlinks: links
                .iter()
                .map(|l| (l.to_string(), String::new()))
                .collect(),
            untrusted: false,
        };
        let units = vec![
            g(
                "web.service",
                &["multi-user.target.wants/web.service", "www.service"],
            ),
            g(
                "app@.service",
                &[
                    "multi-user.target.wants/app@one.service",
                    "default.target.wants/app@one.service",
                ],
            ),
            g("manual.service", &[]),
            g("alias-only.service", &["other.service"]),
        ];
        let t = targets(
            &units,
            &[
                ("extra.service".into(), "c:1".into()),
                ("web.service".into(), "c:2".into()),
            ],
        );
        let names: Vec<&str> = t.iter().map(|t| t.unit.as_str()).collect();
        assert_eq!(names, ["web.service", "app@one.service", "extra.service"]);
        assert_eq!(t[1].wanted_by, ["multi-user.target", "default.target"]);
        assert!(
            t[0].wanted_by.is_empty(),
            "listed in the config: wanted regardless"
        );
    }

    /// `--json` parses, starts with the schema and has exactly the fields
    /// unitsmith-reconcile(1) documents.
    #[test]
    fn json_carries_the_documented_fields() {
        let lines = [Line {
            target: target("crash.service"),
            before: "failed/failed (signal)".into(),
            action: "reset-failed + start".into(),
            result: "start failed: failed/failed".into(),
            outcome: Outcome::NotRepaired,
            details: vec!["Job for crash.service failed.".into()],
        }];
        let json = serde_json::to_string(&to_json(Scope::System, false, true, &lines)).unwrap();
        assert!(json.contains(r#""outcome":"not repaired""#), "{json}");
        crate::json::fields::check_against_page(&json, "unitsmith-reconcile.1", true);
    }
}

//! `unitsmith reload [--user] [--restart UNIT]... [--restart-changed] [--timeout 5s] [UNIT...]`:
//! the race-free apply. `systemctl daemon-reload` (which returns once every generator has
//! run), then a check that every named unit and every unit the generator produced from our
//! inputs is `LoadState=loaded` (retried with exponential backoff up to the timeout: belt and
//! braces for older systemd and for units from other generators), then one `systemctl restart`
//! of the requested units. `--restart-changed` restarts exactly the units whose generated
//! content changed since the last reload (see `state`). A failure stub, or a unit not loaded at
//! the deadline, is reported with its cause (the same diagnosis as `doctor`) and makes the exit
//! status 1; the other units are still restarted. A short table ends the output.

mod state;

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsStr;
use std::fs::File;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use serde::Serialize;

use crate::doctor::classify::{Kind, Problem};
use crate::doctor::table::{self, Row};
use crate::doctor::{self, sd, Env};
use crate::progress::Progress;
use crate::safepath::{self, Dir, Missing, Trust};
use crate::systemctl::{self, Scope};
use state::Change;
use unitsmith_generator::envgate;
use unitsmith_generator::sources::InputKind;

/// Examples and exit statuses, shown by both `-h` and `--help`.
macro_rules! reload_examples {
    () => {
        "\
Examples:
  unitsmith reload --restart-changed          apply edited Quadlet files: restart what changed
  unitsmith reload --restart web.service      reload, check, restart web.service
  unitsmith reload --timeout 10s db.service   reload and wait until db.service is loaded

Exit status: 0 every unit loaded and every restart succeeded; 1 a failure stub, a unit not
loaded at the deadline, a failed restart or a failed daemon-reload (each listed with its
cause); 2 bad usage. See unitsmith-reload(1)."
    };
}

#[derive(clap::Args, Debug)]
#[command(after_help = reload_examples!())]
#[command(after_long_help = concat!("\
1. systemctl daemon-reload (it returns once every generator has run);
2. check that every UNIT, every --restart unit and every unit generated from our inputs is \
LoadState=loaded, retrying with exponential backoff up to --timeout;
3. restart the requested units in one systemctl call and check that they run;
4. print a short table (changed, restarted or broken units) and a summary.

A failure stub or a unit not loaded at the deadline is listed with its cause (as `unitsmith \
doctor` gives it) and is not restarted; the other units still are, and the exit status is 1. \
--restart-changed keeps a digest of each generated unit in /run/unitsmith/reload.state \
($XDG_RUNTIME_DIR/unitsmith with --user); a unit keeps its old digest until a restart of it \
succeeds, so a change that could not be applied is applied next time.

", reload_examples!()))]
pub struct Args {
    /// Talk to the user manager; the inputs are the user's Quadlet directories.
    ///
    /// systemctl --user; needs XDG_RUNTIME_DIR.
    #[arg(long)]
    pub user: bool,
    /// Restart UNIT once the reload is verified (repeatable).
    ///
    /// A name without a unit type means UNIT.service.
    #[arg(long, value_name = "UNIT")]
    pub restart: Vec<String>,
    /// Restart exactly the units whose generated content (unit file and generated drop-ins)
    /// changed since the last `unitsmith reload`; new units are started; for a changed
    /// template, its running instances are restarted.
    #[arg(long)]
    pub restart_changed: bool,
    /// How long to wait for the units to be loaded after the daemon-reload.
    ///
    /// A systemd time span: 500ms, 5s, 1min.
    #[arg(long, value_name = "TIME", default_value = "5s", value_parser = crate::duration::parse)]
    pub timeout: Duration,
    /// Print one JSON object instead of the table (fields: unitsmith-reload(1)).
    #[arg(long)]
    pub json: bool,
    /// Units that must be loaded after the reload (besides every unit from our inputs).
    #[arg(value_name = "UNIT")]
    pub units: Vec<String>,
}

/// How long to wait for another `unitsmith reload` to finish.
const LOCK_WAIT: Duration = Duration::from_secs(120);

/// What happened to one unit.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    /// Nothing asked for.
    None,
    Restarted,
    RestartFailed,
    /// Asked for, but the unit is a stub or not loaded.
    NotRestarted,
    /// A changed template with no running instance.
    NoInstances,
    /// Restarted, and skipped by its env gate's ExecCondition= (the env is still the stub):
    /// the gate's wait unit starts it when the env arrives. Not a failure.
    Held,
}

impl Action {
    fn as_str(&self) -> &'static str {
        match self {
            Action::None => "-",
            Action::Restarted => "restarted",
            Action::RestartFailed => "restart failed",
            Action::NotRestarted => "not restarted",
            Action::NoInstances => "no instances",
            Action::Held => "held by env gate",
        }
    }
}

#[derive(Debug, Clone)]
struct Line {
    unit: String,
    source: Option<PathBuf>,
    /// None: not a unit our generator wrote.
    change: Option<Change>,
    action: Action,
    props: HashMap<String, String>,
    problems: Vec<Problem>,
    /// Instances restarted for a template.
    instances: Vec<String>,
    /// Named on the command line (shown in the table even when all is well).
    named: bool,
}

impl Line {
    fn prop(&self, k: &str) -> &str {
        self.props.get(k).map(String::as_str).unwrap_or("")
    }
    fn is_error(&self) -> bool {
        self.problems
            .iter()
            .any(|p| p.severity == doctor::classify::Severity::Error)
    }
    fn result(&self) -> String {
        if let Some(p) = self.problems.iter().find(|p| p.is_problem()) {
            let what = match p.kind {
                Kind::Stub => "failure stub".to_string(),
                Kind::DependencyFailed => "failure stub (dependency)".to_string(),
                Kind::Failed => "restart failed".to_string(),
                k => k.as_str().replace('-', " "),
            };
            return format!("{}: {what}", p.severity.as_str());
        }
        let state = match (self.prop("ActiveState"), self.prop("SubState")) {
            ("", _) => String::new(),
            (a, s) => format!(" ({a}/{s})"),
        };
        format!("ok{state}")
    }
    fn interesting(&self) -> bool {
        self.named
            || self.action != Action::None
            || self.change.is_some_and(Change::needs_restart)
            || self.problems.iter().any(Problem::is_problem)
    }
}

/// What the load check waits for, for the progress line.
fn to_be_loaded(pending: &[String]) -> String {
    match pending {
        [one] => format!("{one} to be loaded"),
        [a, b] => format!("2 units to be loaded: {a} {b}"),
        [a, b, ..] => format!("{} units to be loaded: {a} {b} ...", pending.len()),
        [] => "units to be loaded".into(),
    }
}

/// Units systemd has loaded (a template counts when its file is loadable).
fn is_loaded(props: &HashMap<String, String>) -> bool {
    props.get("LoadState").is_some_and(|s| s == "loaded")
}

/// Take `reload.lock` in the state directory, waiting up to `wait` for another reload.
fn lock(dir: &Dir, wait: Duration) -> Result<Flock<File>, String> {
    let name = OsStr::new("reload.lock");
    let path = dir.path().join(name);
    let file = dir.open_lock_file(name, 0o600, &Trust::ours())?;
    let mut slot = Some(file);
    let mut said = false;
    crate::retry::with_backoff(
        wait,
        Duration::from_millis(10),
        Duration::from_millis(500),
        || {
            let f = slot.take()?;
            match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
                Ok(l) => Some(l),
                Err((f, _)) => {
                    if !said {
                        log::info!(
                            "waiting for another unitsmith reload to finish ({})",
                            path.display()
                        );
                        said = true;
                    }
                    slot = Some(f);
                    None
                }
            }
        },
    )
    .ok_or_else(|| {
        format!(
            "another unitsmith reload still holds {} after {:?}",
            path.display(),
            wait
        )
    })
}

/// Running instances of a template (`app@.service` → `app@one.service`, ...).
fn running_instances(scope: Scope, template: &str) -> Vec<String> {
    let Some((prefix, suffix)) = template.split_once("@.") else {
        return Vec::new();
    };
    let pattern = format!("{prefix}@*.{suffix}");
    let out = systemctl::run(
        scope,
        &[
            "list-units",
            "--all",
            "--plain",
            "--no-legend",
            "--full",
            "--",
            &pattern,
        ],
    );
    out.stdout
        .lines()
        .filter_map(|l| {
            let mut cols = l.split_whitespace();
            let (unit, _load, active) = (cols.next()?, cols.next()?, cols.next()?);
            matches!(active, "active" | "activating" | "reloading").then(|| unit.to_string())
        })
        .collect()
}

/// Did the restart leave the unit running (or, for a oneshot, finished well)?
fn restart_ok(before: &HashMap<String, String>, after: &HashMap<String, String>) -> bool {
    let get = |m: &HashMap<String, String>, k: &str| m.get(k).cloned().unwrap_or_default();
    match get(after, "ActiveState").as_str() {
        "active" | "activating" | "reloading" => true,
        "inactive" => {
            get(after, "Result") == "success"
                && get(after, "InvocationID") != get(before, "InvocationID")
        }
        _ => false,
    }
}

/// systemctl's own messages about `unit` (e.g. "Job for web.service failed because ...").
fn messages_about(stderr: &str, unit: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.contains(unit))
        .map(|l| l.trim().to_string())
        .collect()
}

/// A restart that ended in the skip of an env gate's `ExecCondition=` (the consumer is held on
/// the stub env), for a unit our generator gave a gate's drop-in.
fn held_by_gate(env: &Env, unit: &str, after: &HashMap<String, String>) -> bool {
    let prefix = format!("{unit}.d/50-unitsmith-envgate-");
    after.get("Result").map(String::as_str) == Some("exec-condition")
        && env.disk.keys().any(|k| k.starts_with(&prefix))
}

/// The baseline of the first run after boot (no state yet): what the generator wrote at the
/// last daemon-reload, for the units systemd has started since it booted. A unit that was
/// generated but never started (its files were written, then `takeover` or the package's
/// postinst reloaded, as on a first boot driven by cloud-init) is new: it is started.
fn first_baseline(scope: Scope, output_dirs: &[PathBuf]) -> state::Digests {
    log::debug!("no reload state yet: the baseline is what the generator wrote at the last daemon-reload, for the units started since");
    let mut digests = state::digests(&sd::scan_generated(output_dirs));
    let plain: Vec<String> = digests
        .keys()
        .filter(|u| !sd::is_template(u))
        .cloned()
        .collect();
    let shown = sd::show_many(scope, &plain, &["InvocationID"]);
    for (unit, props) in plain.iter().zip(shown) {
        // Only a unit systemd says it never ran (an empty InvocationID): when systemd cannot be
        // asked, the files stay the baseline and nothing is restarted for it.
        if props.get("InvocationID").is_some_and(|i| i.is_empty()) {
            digests.remove(unit);
        }
    }
    digests
}

pub fn run(args: Args) -> ExitCode {
    doctor::init_library_log();
    let scope = if args.user {
        Scope::User
    } else {
        Scope::System
    };
    let t_start = Instant::now();
    let progress = Progress::stderr("reload");

    // Serialise reloads, and keep the state next to the lock.
    let state_dir = match sd::state_dir(scope) {
        Ok(d) => d,
        Err(e) => {
            log::error!("{e}");
            return ExitCode::from(2);
        }
    };
    // Root's state is root's alone (another user's digests would decide what root restarts).
    let state_dir = match safepath::open_dir(&state_dir, &Trust::ours(), Missing::Create(0o755)) {
        Ok(d) => d,
        Err(e) => {
            log::error!("cannot use the state directory: {e}");
            return ExitCode::from(2);
        }
    };
    progress.waiting("another unitsmith reload to finish");
    let held = lock(&state_dir, LOCK_WAIT);
    progress.done();
    let _lock = match held {
        Ok(l) => l,
        Err(e) => {
            log::error!("{e}");
            return ExitCode::from(1);
        }
    };
    let state_name = OsStr::new(state::FILE_NAME);
    let state_path = state_dir.path().join(state_name);
    let output_dirs = sd::generator_output_dirs(scope);
    let baseline = state::load(&state_dir).unwrap_or_else(|| first_baseline(scope, &output_dirs));

    // 1. The reload: systemd runs every generator and loads the units before it returns.
    let t0 = Instant::now();
    progress.waiting("systemctl daemon-reload");
    let rl = systemctl::daemon_reload(scope);
    progress.done();
    let reload_time = t0.elapsed();
    let mut global: Vec<Problem> = Vec::new();
    if !rl.success {
        global.push(Problem::error(
            Kind::Systemd,
            format!("systemctl daemon-reload failed: {}", rl.stderr.trim()),
        ));
    }

    // 2. Which units must be loaded: ours (from the inputs, and whatever our generator wrote)
    //    and the named ones.
    let mut env = Env::load(scope);
    // Inputs with no unit at all, and directories the generator could not search: nothing
    // systemd could load tells of them.
    global.extend(doctor::refused_inputs(&env.model));
    let named: Vec<String> = args.units.iter().map(|u| sd::normalize_unit(u)).collect();
    let restart: Vec<String> = args.restart.iter().map(|u| sd::normalize_unit(u)).collect();
    let mut check: Vec<String> = Vec::new();
    let mut seen = BTreeSet::new();
    let ours: BTreeSet<String> = env
        .model
        .unit_names()
        .into_iter()
        .chain(env.disk.keys().map(|r| sd::unit_of(r).to_string()))
        .collect();
    for u in env
        .model
        .unit_names()
        .into_iter()
        .chain(ours.iter().cloned())
        .chain(named.iter().cloned())
        .chain(restart.iter().cloned())
    {
        if seen.insert(u.clone()) {
            check.push(u);
        }
    }

    // 3. Wait (bounded) until all of them are loaded.
    let mut props: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut pending = check.clone();
    let mut tries = 0;
    let t1 = Instant::now();
    progress.waiting(to_be_loaded(&pending));
    crate::retry::with_backoff(
        args.timeout,
        Duration::from_millis(20),
        Duration::from_millis(500),
        || {
            tries += 1;
            let shown = sd::show_many(scope, &pending, sd::PROPS);
            for (u, p) in pending.iter().zip(shown) {
                props.insert(u.clone(), p);
            }
            pending.retain(|u| !is_loaded(&props[u]));
            progress.still_waiting(to_be_loaded(&pending));
            pending.is_empty().then_some(())
        },
    );
    progress.done();
    log::debug!(
        "{} units checked in {:?} ({tries} tries), {} not loaded",
        check.len(),
        t1.elapsed(),
        pending.len()
    );

    // 4. What changed, what is broken.
    env.rescan();
    let now = state::digests(&env.disk);
    let mut lines: Vec<Line> = check
        .iter()
        .map(|u| {
            let facts = env.facts(u);
            Line {
                unit: u.clone(),
                source: facts.source.clone(),
                change: now.get(u).map(|d| state::change(&baseline, u, d)),
                action: Action::None,
                props: props.get(u).cloned().unwrap_or_default(),
                problems: Vec::new(),
                instances: Vec::new(),
                named: named.contains(u) || restart.contains(u),
            }
        })
        .collect();
    let blocked: Vec<String> = check
        .iter()
        .filter(|u| !is_loaded(&props[*u]) || env.facts(u).stub_error.is_some())
        .cloned()
        .collect();
    // The causes, exactly as doctor gives them.
    let diagnosis = env.diagnose(&blocked, Some(&props));
    for (u, d) in blocked.iter().zip(diagnosis) {
        let line = lines
            .iter_mut()
            .find(|l| &l.unit == u)
            .expect("a checked unit");
        line.problems = d
            .problems
            .into_iter()
            .filter(|p| !matches!(p.kind, Kind::Failed | Kind::Stale | Kind::Overridden))
            .collect();
        if line.problems.is_empty() {
            line.problems.push(Problem::error(
                Kind::NotLoaded,
                format!("{u} is not loaded (LoadState={})", line.prop("LoadState")),
            ));
        }
    }

    // 5. Restart what was asked for, in one systemctl call.
    let mut to_restart: Vec<String> = Vec::new();
    let mut restart_of: HashMap<String, String> = HashMap::new(); // restarted unit -> its line
                                                                  // An env gate's wait unit is the gate's to start (its populate does when the env is not
                                                                  // there yet): --restart-changed restarts the gate, never the wait unit on its own.
    let gate_waits: BTreeSet<String> = env
        .model
        .inputs
        .iter()
        .filter(|i| i.kind == InputKind::EnvGate)
        .map(|i| envgate::wait_service_name(&i.name))
        .collect();
    for line in lines.iter_mut() {
        let changed = args.restart_changed
            && line.change.is_some_and(Change::needs_restart)
            && !gate_waits.contains(&line.unit);
        let wanted = restart.contains(&line.unit) || changed;
        if !wanted {
            continue;
        }
        if blocked.contains(&line.unit) {
            line.action = Action::NotRestarted;
            continue;
        }
        if sd::is_template(&line.unit) {
            line.instances = running_instances(scope, &line.unit);
            if line.instances.is_empty() {
                line.action = Action::NoInstances;
            }
            for i in &line.instances {
                restart_of.insert(i.clone(), line.unit.clone());
                to_restart.push(i.clone());
            }
        } else {
            restart_of.insert(line.unit.clone(), line.unit.clone());
            to_restart.push(line.unit.clone());
        }
    }
    let mut restart_time = Duration::ZERO;
    if !to_restart.is_empty() {
        let pre: HashMap<String, HashMap<String, String>> = to_restart
            .iter()
            .map(|u| (u.clone(), props.get(u).cloned().unwrap_or_default()))
            .collect();
        // Instances were not in the check: learn their InvocationID first.
        let unknown: Vec<String> = to_restart
            .iter()
            .filter(|u| pre[*u].is_empty())
            .cloned()
            .collect();
        let mut pre = pre;
        for (u, p) in unknown
            .iter()
            .zip(sd::show_many(scope, &unknown, &["InvocationID"]))
        {
            pre.insert(u.clone(), p);
        }
        let t2 = Instant::now();
        let mut cmd: Vec<&str> = vec!["restart", "--"];
        cmd.extend(to_restart.iter().map(String::as_str));
        progress.waiting(format!("systemctl restart {}", to_restart.join(" ")));
        let out = systemctl::run(scope, &cmd);
        progress.done();
        restart_time = t2.elapsed();
        let post = sd::show_many(
            scope,
            &to_restart,
            &[
                "LoadState",
                "ActiveState",
                "SubState",
                "Result",
                "InvocationID",
            ],
        );
        for (u, after) in to_restart.iter().zip(post) {
            let line = lines
                .iter_mut()
                .find(|l| Some(&l.unit) == restart_of.get(u))
                .expect("a restarted unit's line");
            let ok = restart_ok(&pre[u], &after);
            if !ok && held_by_gate(&env, u, &after) {
                if line.action != Action::RestartFailed {
                    line.action = Action::Held;
                }
            } else if !ok {
                let mut msg = format!(
                    "restart of {u} failed: ActiveState={}, SubState={}, Result={}",
                    after.get("ActiveState").map(String::as_str).unwrap_or("?"),
                    after.get("SubState").map(String::as_str).unwrap_or("?"),
                    after.get("Result").map(String::as_str).unwrap_or("?"),
                );
                for m in messages_about(&out.stderr, u) {
                    msg.push_str("\n  ");
                    msg.push_str(&m);
                }
                line.problems
                    .push(Problem::error(Kind::Failed, msg).hint(format!(
                        "journalctl{} -b -u {u}",
                        if args.user { " --user" } else { "" }
                    )));
                line.action = Action::RestartFailed;
            } else if line.action != Action::RestartFailed {
                line.action = Action::Restarted;
            }
            if line.unit == *u {
                line.props.extend(after);
            }
        }
    }

    // 6. Remember what the units now run with (only after a good daemon-reload).
    let removed = state::removed(&baseline, &now);
    if rl.success {
        let applied = |u: &str| match lines.iter().find(|l| l.unit == u) {
            None => false,
            Some(l) => match l.change {
                Some(Change::Unchanged) => true,
                // A held consumer starts with what is generated now when its gate opens.
                _ => matches!(
                    l.action,
                    Action::Restarted | Action::NoInstances | Action::Held
                ),
            },
        };
        let next = state::next_state(&baseline, &now, applied);
        if let Err(e) = crate::atomic::write_in(
            &state_dir,
            state_name,
            state::render(&next).as_bytes(),
            0o644,
        ) {
            global.push(Problem::error(
                Kind::Systemd,
                format!(
                    "{}: cannot write the reload state: {e}",
                    state_path.display()
                ),
            ));
        }
    }

    // 7. Report.
    let ok = global.iter().all(|p| !p.is_problem()) && !lines.iter().any(Line::is_error);
    let summary = Summary {
        checked: lines.len(),
        not_loaded: lines.iter().filter(|l| !is_loaded(&l.props)).count(),
        restarted: lines
            .iter()
            .filter(|l| l.action == Action::Restarted)
            .count(),
        errors: lines.iter().filter(|l| l.is_error()).count()
            + global.iter().filter(|p| p.is_problem()).count(),
        unchanged_quiet: lines.iter().filter(|l| !l.interesting()).count(),
        removed: removed.len(),
        reload_time,
        restart_time,
        total: t_start.elapsed(),
    };
    if args.json {
        if let Err(e) = crate::json::print(&to_json(scope, ok, &global, &lines, &removed, &summary))
        {
            log::error!("{e}");
            return ExitCode::from(2);
        }
    } else {
        drop(progress);
        crate::term::print_report(&render_text(&global, &lines, &summary), ok);
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

struct Summary {
    checked: usize,
    not_loaded: usize,
    restarted: usize,
    errors: usize,
    unchanged_quiet: usize,
    removed: usize,
    reload_time: Duration,
    restart_time: Duration,
    total: Duration,
}

fn render_text(global: &[Problem], lines: &[Line], s: &Summary) -> String {
    let mut out = String::new();
    for p in global {
        for l in p.render().lines() {
            out.push_str(l);
            out.push('\n');
        }
    }
    let rows: Vec<Row> = lines
        .iter()
        .filter(|l| l.interesting())
        .map(|l| {
            let mut r = Row::new(vec![
                l.unit.clone(),
                if l.prop("LoadState").is_empty() {
                    "?".into()
                } else {
                    l.prop("LoadState").to_string()
                },
                l.change.map_or("-", Change::as_str).to_string(),
                if l.instances.is_empty() {
                    l.action.as_str().to_string()
                } else {
                    format!("{} ({})", l.action.as_str(), l.instances.join(" "))
                },
                l.result(),
            ]);
            r.details = l.problems.iter().map(Problem::render).collect();
            r
        })
        .collect();
    if !rows.is_empty() {
        out.push_str(&table::render(
            &["UNIT", "LOAD", "CHANGE", "ACTION", "RESULT"],
            &rows,
        ));
    }
    out.push_str(&summary_line(s));
    out
}

fn summary_line(s: &Summary) -> String {
    let mut parts = vec![format!(
        "{} unit{} checked",
        s.checked,
        if s.checked == 1 { "" } else { "s" }
    )];
    if s.not_loaded > 0 {
        parts.push(format!("{} not loaded", s.not_loaded));
    }
    parts.push(format!("{} restarted", s.restarted));
    if s.unchanged_quiet > 0 {
        parts.push(format!("{} unchanged (not listed)", s.unchanged_quiet));
    }
    if s.removed > 0 {
        parts.push(format!("{} removed since the last reload", s.removed));
    }
    parts.push(match s.errors {
        0 => "no errors".to_string(),
        1 => "1 error".to_string(),
        n => format!("{n} errors"),
    });
    format!(
        "reload: {} (daemon-reload {:.2}s, restart {:.2}s, total {:.2}s)\n",
        parts.join(", "),
        s.reload_time.as_secs_f64(),
        s.restart_time.as_secs_f64(),
        s.total.as_secs_f64()
    )
}

/// `reload --json`: the fields unitsmith-reload(1) documents under JSON OUTPUT, in order.
#[derive(Serialize)]
struct ReportJson<'a> {
    schema: u32,
    scope: &'static str,
    ok: bool,
    restarted: usize,
    errors: usize,
    daemon_reload_ms: u128,
    problems: &'a [Problem],
    units: Vec<UnitJson<'a>>,
    removed: &'a [String],
}

#[derive(Serialize)]
struct UnitJson<'a> {
    unit: &'a str,
    source: Option<String>,
    change: Option<&'static str>,
    action: &'static str,
    instances: &'a [String],
    status: &'static str,
    load_state: Option<&'a str>,
    active_state: Option<&'a str>,
    sub_state: Option<&'a str>,
    result: Option<&'a str>,
    invocation_id: Option<&'a str>,
    problems: &'a [Problem],
}

fn to_json<'a>(
    scope: Scope,
    ok: bool,
    global: &'a [Problem],
    lines: &'a [Line],
    removed: &'a [String],
    s: &Summary,
) -> ReportJson<'a> {
    use crate::json::prop;
    ReportJson {
        schema: crate::json::SCHEMA,
        scope: scope.name(),
        ok,
        restarted: s.restarted,
        errors: s.errors,
        daemon_reload_ms: s.reload_time.as_millis(),
        problems: global,
        units: lines
            .iter()
            .map(|l| UnitJson {
                unit: &l.unit,
                source: crate::json::opt_path(l.source.as_deref()),
                change: l.change.map(|c| c.as_str()),
                action: l.action.as_str(),
                instances: &l.instances,
                status: doctor::classify::status(&l.problems),
                load_state: prop(&l.props, "LoadState"),
                active_state: prop(&l.props, "ActiveState"),
                sub_state: prop(&l.props, "SubState"),
                result: prop(&l.props, "Result"),
                invocation_id: prop(&l.props, "InvocationID"),
                problems: &l.problems,
            })
            .collect(),
        removed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn line(unit: &str, change: Option<Change>, action: Action, problems: Vec<Problem>) -> Line {
        Line {
            unit: unit.into(),
            source: None,
            change,
            action,
            props: m(&[
                ("LoadState", "loaded"),
                ("ActiveState", "active"),
                ("SubState", "running"),
            ]),
            problems,
            instances: Vec::new(),
            named: false,
        }
    }

    #[test]
    fn restart_outcome() {
        let before = m(&[("InvocationID", "a")]);
        assert!(restart_ok(&before, &m(&[("ActiveState", "active")])));
        assert!(restart_ok(
            &before,
            &m(&[
                ("ActiveState", "inactive"),
                ("Result", "success"),
                ("InvocationID", "b")
            ])
        ));
        assert!(!restart_ok(
            &before,
            &m(&[
                ("ActiveState", "inactive"),
                ("Result", "success"),
                ("InvocationID", "a")
            ])
        ));
        assert!(!restart_ok(
            &before,
            &m(&[("ActiveState", "failed"), ("Result", "exit-code")])
        ));
        assert!(!restart_ok(&before, &m(&[])));
    }

    #[test]
    fn table_lists_only_what_matters() {
        let stub = Problem::error(Kind::Stub, "/e/t.container:2: [Container] Imag: unsupported key 'Imag'\n  hint: did you mean 'Image'?");
        let lines = vec![
            line("a.service", Some(Change::New), Action::Restarted, vec![]),
            line(
                "quiet.service",
                Some(Change::Unchanged),
                Action::None,
                vec![],
            ),
            line(
                "t.service",
                Some(Change::New),
                Action::NotRestarted,
                vec![stub],
            ),
        ];
        let s = Summary {
            checked: 3,
            not_loaded: 0,
            restarted: 1,
            errors: 1,
            unchanged_quiet: 1,
            removed: 2,
            reload_time: Duration::from_millis(90),
            restart_time: Duration::from_millis(400),
            total: Duration::from_millis(600),
        };
        let t = render_text(&[], &lines, &s);
        let expected = "\
UNIT       LOAD    CHANGE  ACTION         RESULT
a.service  loaded  new     restarted      ok (active/running)
t.service  loaded  new     not restarted  error: failure stub
    error (stub): /e/t.container:2: [Container] Imag: unsupported key 'Imag'
      hint: did you mean 'Image'?
reload: 3 units checked, 1 restarted, 1 unchanged (not listed), 2 removed since the last reload, 1 error (daemon-reload 0.09s, restart 0.40s, total 0.60s)
";
        assert_eq!(t, expected);
        let removed = ["gone.service".to_string()];
        let j = serde_json::to_string(&to_json(Scope::System, false, &[], &lines, &removed, &s))
            .unwrap();
        assert!(
            j.starts_with(r#"{"schema":1,"scope":"system","ok":false,"restarted":1,"errors":1,"#),
            "{j}"
        );
        assert!(
            j.contains(
                r#""unit":"t.service","source":null,"change":"new","action":"not restarted""#
            ),
            "{j}"
        );
        assert!(j.contains(r#""removed":["gone.service"]"#), "{j}");
    }

    #[test]
    fn systemctl_messages_are_picked_per_unit() {
        let err = "Job for a.service failed because the control process exited with error code.\nSee \"systemctl status a.service\".\nJob for b.service failed.\n";
        assert_eq!(messages_about(err, "a.service").len(), 2);
        assert_eq!(
            messages_about(err, "b.service"),
            ["Job for b.service failed."]
        );
    }

    #[test]
    fn lock_is_exclusive_and_bounded() {
        let p = std::env::temp_dir().join(format!("unitsmith-reload-lock-{}", std::process::id()));
        let dir = safepath::open_dir(&p, &Trust::ours(), Missing::Create(0o755)).unwrap();
        let held = lock(&dir, Duration::from_millis(50)).unwrap();
        let t = Instant::now();
        assert!(lock(&dir, Duration::from_millis(100))
            .unwrap_err()
            .contains("another unitsmith reload"));
        assert!(t.elapsed() < Duration::from_secs(2));
        drop(held);
        assert!(lock(&dir, Duration::from_millis(50)).is_ok());
        let _ = std::fs::remove_dir_all(&p);
    }

    /// `--json` parses, starts with the schema and has exactly the fields unitsmith-reload(1)
    /// documents (every list filled, so every field shows).
    #[test]
    fn json_carries_the_documented_fields() {
        let mut l = line(
            "app@.service",
            Some(Change::Changed),
            Action::RestartFailed,
            vec![
                Problem::error(Kind::Failed, "restart of app@x.service failed").hint("journalctl"),
            ],
        );
        l.instances = vec!["app@x.service".into()];
        l.source = Some("/e/app@.container".into());
        let global = [Problem::error(Kind::Systemd, "daemon-reload failed")];
        let s = Summary {
            checked: 1,
            not_loaded: 0,
            restarted: 0,
            errors: 2,
            unchanged_quiet: 0,
            removed: 1,
            reload_time: Duration::from_millis(90),
            restart_time: Duration::ZERO,
            total: Duration::from_millis(100),
        };
        let removed = ["gone.service".to_string()];
        let lines = [l];
        let doc = to_json(Scope::System, false, &global, &lines, &removed, &s);
        let json = serde_json::to_string(&doc).unwrap();
        crate::json::fields::check_against_page(&json, "unitsmith-reload.1", true);
    }
}

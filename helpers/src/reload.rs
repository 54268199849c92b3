//! `unitsmith reload [--user] [--restart UNIT]... [--restart-changed [--keep-removed]]
//! [--timeout 5s] [UNIT...]`: the race-free apply. `systemctl daemon-reload` (which returns
//! once every generator has run), then a check that every named unit and every unit the
//! generator produced from our inputs is `LoadState=loaded` (retried with exponential backoff
//! up to the timeout: belt and braces for older systemd and for units from other generators),
//! then one `systemctl restart` of the requested units. `--restart-changed` restarts exactly
//! the units whose generated content changed since the last reload (see `state`), and stops the
//! units whose input was removed (see `removed`), before the daemon-reload, while systemd still
//! has their unit files. A failure stub, or a unit not loaded at the deadline, is reported with
//! its cause (the same diagnosis as `doctor`) and makes the exit status 1; the other units are
//! still restarted. A short table ends the output.
//!
//! Every wait for systemd is bounded by `--timeout` (restart and stop jobs by at least
//! systemd's default job timeout), and SIGTERM ends the run at the next step, before anything
//! more is changed: the state is then left as it was, so the next run does what this one did
//! not.

pub mod removed;
pub mod state;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::OsStr;
use std::fs::File;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use serde::Serialize;

use crate::doctor::classify::{Kind, Problem, Severity};
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

Exit status: 0 every unit loaded and every restart and stop succeeded; 1 a failure stub, a
unit not loaded at the deadline, a failed restart or stop, a failed daemon-reload or systemd
not answering within --timeout (each listed with its cause); 2 bad usage. SIGTERM ends it at
the next step (it dies of SIGTERM). See unitsmith-reload(1)."
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
succeeds, so a change that could not be applied is applied next time. A removed unit is one \
the state lists (or our generator wrote) that no input gives any more and that no other unit \
file provides; units we did not generate are never stopped.

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
    /// changed since the last `unitsmith reload`, and stop those whose input was removed.
    ///
    /// New units are started; for a changed template, its running instances are restarted. A
    /// unit whose input was removed is stopped and its failed state cleared (--keep-removed
    /// leaves it running); units our generator did not write are never stopped.
    #[arg(long)]
    pub restart_changed: bool,
    /// With --restart-changed: leave running the units whose input was removed.
    ///
    /// They are listed as kept running, and a later --restart-changed without this option
    /// stops them.
    #[arg(long, requires = "restart_changed")]
    pub keep_removed: bool,
    /// How long to wait for systemd: the daemon-reload, each query, and the units to be
    /// loaded after it.
    ///
    /// A systemd time span: 500ms, 5s, 1min. Restart and stop jobs may take this long, and at
    /// least 90s.
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
    /// Removed units: stopped, stop failed, left running.
    Stopped,
    StopFailed,
    KeptRunning,
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
            Action::Stopped => "stopped",
            Action::StopFailed => "stop failed",
            Action::KeptRunning => "kept running",
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
        self.problems.iter().any(|p| p.severity == Severity::Error)
    }
    fn result(&self) -> String {
        if let Some(p) = self.problems.iter().find(|p| p.is_problem()) {
            let what = match p.kind {
                Kind::Stub => "failure stub".to_string(),
                Kind::DependencyFailed => "failure stub (dependency)".to_string(),
                Kind::Failed if self.action == Action::StopFailed => "stop failed".to_string(),
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
            || self.change.is_some_and(|c| c != Change::Unchanged)
            || self.problems.iter().any(Problem::is_problem)
    }
}

/// Up, or on its way up.
fn is_up(props: &HashMap<String, String>) -> bool {
    matches!(
        props.get("ActiveState").map(String::as_str),
        Some("active" | "activating" | "reloading")
    )
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
    let file = dir.open_lock_file(name, 0o600, &Trust::ours()).map_err(|e| {
        format!(
            "cannot take the reload lock: {e} (hint: reload keeps its lock and state in {}, which must be a directory it can write)",
            dir.path().display()
        )
    })?;
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
        crate::signals::exit_if_stopped(|| {
            "while waiting for another unitsmith reload; nothing done".into()
        });
        format!(
            "another unitsmith reload still holds {} after {:?}",
            path.display(),
            wait
        )
    })
}

/// Did the restart leave the unit running (or, for a oneshot, finished well)? `job_ok`: systemctl
/// said nothing against this unit's job; `since_us`: CLOCK_MONOTONIC (µs) just before the restart.
fn restart_ok(after: &HashMap<String, String>, job_ok: bool, since_us: u64) -> bool {
    let get = |k: &str| after.get(k).map(String::as_str).unwrap_or("");
    match get("ActiveState") {
        "active" | "activating" | "reloading" => true,
        "inactive" => {
            // An inactive unit ran again when it left the inactive state after the restart
            // began (systemd stamps that with the same monotonic clock). A start that never
            // happened (a dependency failed, the job was cancelled) leaves the old stamp, and
            // the Result of the run before, which may well be "success".
            let ran = get("InactiveExitTimestampMonotonic")
                .parse::<u64>()
                .is_ok_and(|t| t >= since_us);
            // A unit that ran to its end and was unloaded (nothing references an env gate's
            // wait unit) comes back without an InvocationID or stamps: its job's outcome says.
            let unloaded = get("InvocationID").is_empty();
            get("Result") == "success" && (ran || (unloaded && job_ok))
        }
        _ => false,
    }
}

/// CLOCK_MONOTONIC in µs: systemd's `*TimestampMonotonic` properties use this clock.
fn monotonic_us() -> u64 {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .expect("CLOCK_MONOTONIC is always there on Linux");
    t.tv_sec() as u64 * 1_000_000 + t.tv_nsec() as u64 / 1_000
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
fn first_baseline(scope: Scope, generated: &BTreeMap<String, (PathBuf, String)>) -> state::Digests {
    log::debug!("no reload state yet: the baseline is what the generator wrote at the last daemon-reload, for the units started since");
    let mut digests = state::digests(generated);
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
    // Every wait for systemd's answer is bounded by --timeout; restart and stop jobs take what
    // the units need, up to systemd's default job timeout at least.
    systemctl::set_call_timeout(args.timeout);
    let job_timeout = args.timeout.max(systemctl::CALL_TIMEOUT);
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
            log::error!(
                "cannot use the state directory: {e}; nothing done (hint: reload keeps its lock and state there: it must be a writable directory of {})",
                if args.user { "yours" } else { "root's" }
            );
            return ExitCode::from(2);
        }
    };
    progress.waiting("another unitsmith reload to finish");
    let held = lock(&state_dir, LOCK_WAIT);
    progress.done();
    let _lock = match held {
        Ok(l) => l,
        Err(e) => {
            log::error!("{e}; nothing done");
            return ExitCode::from(1);
        }
    };
    let state_name = OsStr::new(state::FILE_NAME);
    let state_path = state_dir.path().join(state_name);
    // The generator learns the Podman release from a record only (never running podman at
    // boot): a podman installed or upgraded without the package's trigger is recorded here,
    // before the daemon-reload that runs the generator (and before anything reads the units).
    if scope == Scope::System
        && nix::unistd::geteuid().is_root()
        && crate::podman_version::record_is_stale()
    {
        crate::podman_version::record_quietly();
    }

    // 0. Before the reload: what the inputs give, what our generator wrote last time, and so
    //    which units lost their input. Those are stopped now, while systemd still has their
    //    unit files (ExecStop=, ExecStopPost=: a container is removed, not merely signalled).
    let pre = Env::load(scope);
    let baseline = state::load(&state_dir).unwrap_or_else(|| first_baseline(scope, &pre.disk));
    let mut removed = removed::find(scope, &pre, &baseline);
    drop(pre);
    let mut stop_time = Duration::ZERO;
    let stopped = if args.restart_changed && !args.keep_removed {
        crate::signals::exit_if_stopped(|| "before stopping anything; nothing done".into());
        let t = Instant::now();
        progress.waiting("the units whose input was removed to stop");
        let out = removed::stop(scope, &removed, job_timeout);
        progress.done();
        if out.is_some() {
            stop_time = t.elapsed();
        }
        crate::signals::exit_if_stopped(|| {
            "while stopping the units whose input was removed; the next reload finishes it".into()
        });
        out
    } else {
        None
    };

    let mut profile = Profile::new(t_start);
    profile.mark("lock, state, stop of removed units");
    // 1. The reload: systemd runs every generator and loads the units before it returns.
    let t0 = Instant::now();
    progress.waiting("systemctl daemon-reload");
    let rl = systemctl::daemon_reload(scope);
    progress.done();
    let reload_time = t0.elapsed();
    crate::signals::exit_if_stopped(|| "during the daemon-reload; nothing restarted".into());
    let mut global: Vec<Problem> = Vec::new();
    if !rl.success {
        global.push(
            Problem::error(
                Kind::Systemd,
                format!("systemctl daemon-reload failed: {}", rl.stderr.trim()),
            )
            .hint(format!(
                "nothing was restarted and the state is unchanged: run `unitsmith reload{}` again once systemd answers (`--timeout` waits longer)",
                if args.user { " --user" } else { "" }
            )),
        );
    }
    profile.mark("daemon-reload");
    removed::finish(scope, &mut removed, stopped.as_ref());

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
    // A unit stopped as removed whose input came back meanwhile is started again below.
    let back: BTreeSet<String> = removed
        .iter()
        .filter(|r| r.outcome == removed::Outcome::Stopped && ours.contains(&r.unit))
        .map(|r| r.unit.clone())
        .collect();
    removed.retain(|r| !ours.contains(&r.unit));

    // 3. Wait (bounded) until all of them are loaded.
    let mut props: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut pending = check.clone();
    let mut tries = 0;
    profile.mark("removed units, inputs");
    let t1 = Instant::now();
    // Three properties tell whether a unit is loaded and how it runs, and one list-units call
    // gives them for all; --json reports each unit's full state (and costs a show per unit).
    let look = |units: &[String]| {
        if args.json {
            sd::show_many(scope, units, sd::PROPS)
        } else {
            sd::states(scope, units, sd::PROPS)
        }
    };
    if rl.success {
        progress.waiting(to_be_loaded(&pending));
        crate::retry::with_backoff(
            args.timeout,
            Duration::from_millis(20),
            Duration::from_millis(500),
            || {
                tries += 1;
                let shown = look(&pending);
                for (u, p) in pending.iter().zip(shown) {
                    props.insert(u.clone(), p);
                }
                pending.retain(|u| !is_loaded(&props[u]));
                progress.still_waiting(to_be_loaded(&pending));
                pending.is_empty().then_some(())
            },
        );
        progress.done();
    } else {
        // systemd did not reload (or did not answer): one look, for the report.
        for (u, p) in check.iter().zip(look(&check)) {
            props.insert(u.clone(), p);
        }
    }
    crate::signals::exit_if_stopped(|| {
        "while waiting for the units to be loaded; nothing restarted".into()
    });
    log::debug!(
        "{} units checked in {:?} ({tries} tries), {} not loaded",
        check.len(),
        t1.elapsed(),
        pending.len()
    );

    profile.mark("load check");
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
    // The causes, exactly as doctor gives them, from every property of the broken units: --json
    // has them all, the others are asked now; a unit systemd told nothing of (it did not answer)
    // is not asked again, and so is reported as one systemd cannot be asked about.
    let known: HashMap<String, HashMap<String, String>> = props
        .iter()
        .filter(|(_, p)| args.json || p.is_empty())
        .map(|(u, p)| (u.clone(), p.clone()))
        .collect();
    let diagnosis = env.diagnose(&blocked, Some(&known));
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

    profile.mark("changes, diagnosis");
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
        // A removed unit whose input came back is started again, as a changed one is.
        let automatic = back.contains(&line.unit)
            || (args.restart_changed && line.change.is_some_and(Change::needs_restart));
        let wanted =
            restart.contains(&line.unit) || (automatic && !gate_waits.contains(&line.unit));
        if !wanted || !rl.success {
            continue;
        }
        if blocked.contains(&line.unit) {
            line.action = Action::NotRestarted;
            continue;
        }
        if sd::is_template(&line.unit) {
            line.instances = sd::running_instances(scope, &line.unit);
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
        crate::signals::exit_if_stopped(|| "before restarting anything".into());
        profile.mark("before the restart");
        let since = monotonic_us();
        let t2 = Instant::now();
        let mut cmd: Vec<&str> = vec!["restart", "--"];
        cmd.extend(to_restart.iter().map(String::as_str));
        progress.waiting(format!("systemctl restart {}", to_restart.join(" ")));
        let out = systemctl::run_with_timeout(scope, &cmd, job_timeout);
        progress.done();
        restart_time = t2.elapsed();
        profile.mark("restart");
        crate::signals::exit_if_stopped(|| {
            "while restarting; the state is unchanged, so the next reload restarts them again"
                .into()
        });
        // How each runs now; what is not running is asked in full (did it run, and how).
        const AFTER: &[&str] = &[
            "LoadState",
            "ActiveState",
            "SubState",
            "Result",
            "InvocationID",
            "InactiveExitTimestampMonotonic",
        ];
        let mut post = if args.json {
            sd::show_many(scope, &to_restart, AFTER)
        } else {
            sd::states(scope, &to_restart, AFTER)
        };
        let unclear: Vec<usize> = (0..to_restart.len())
            .filter(|&i| !post[i].contains_key("Result") && !is_up(&post[i]))
            .collect();
        let names: Vec<String> = unclear.iter().map(|&i| to_restart[i].clone()).collect();
        for (i, p) in unclear.into_iter().zip(sd::show_many(scope, &names, AFTER)) {
            post[i] = p;
        }
        for (u, after) in to_restart.iter().zip(post) {
            let line = lines
                .iter_mut()
                .find(|l| Some(&l.unit) == restart_of.get(u))
                .expect("a restarted unit's line");
            let ok = restart_ok(&after, messages_about(&out.stderr, u).is_empty(), since);
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
                if !out.success && messages_about(&out.stderr, u).is_empty() {
                    if let Some(first) = out.stderr.lines().find(|l| !l.trim().is_empty()) {
                        msg.push_str("\n  ");
                        msg.push_str(first.trim());
                    }
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

    profile.mark("after the restart");
    // The removed units, after the checked ones.
    lines.extend(removed.iter().map(|r| removed_line(r, &args)));

    // 6. Remember what the units now run with (only after a good daemon-reload).
    if rl.success {
        let applied = |u: &str| match lines.iter().find(|l| l.unit == u) {
            None => false,
            Some(l) => match l.change {
                Some(Change::Unchanged) => !back.contains(u),
                // A held consumer starts with what is generated now when its gate opens.
                _ => matches!(
                    l.action,
                    Action::Restarted | Action::NoInstances | Action::Held
                ),
            },
        };
        let still_running = |u: &str| {
            removed.iter().any(|r| {
                r.unit == u
                    && matches!(
                        r.outcome,
                        removed::Outcome::StopFailed | removed::Outcome::KeptRunning
                    )
            })
        };
        let next = state::next_state(&baseline, &now, applied, still_running);
        if let Err(e) = crate::atomic::write_in(
            &state_dir,
            state_name,
            state::render(&next).as_bytes(),
            0o644,
        ) {
            global.push(
                Problem::error(
                    Kind::Systemd,
                    format!(
                        "{}: cannot write the reload state: {e}",
                        state_path.display()
                    ),
                )
                .hint("the units were restarted; until the state can be written, the next reload restarts them again"),
            );
        }
    }

    profile.mark("state");
    log::debug!("time spent: {}", profile.render());
    // 7. Report.
    let ok = global.iter().all(|p| !p.is_problem()) && !lines.iter().any(Line::is_error);
    let count = |o: removed::Outcome| removed.iter().filter(|r| r.outcome == o).count();
    let summary = Summary {
        checked: check.len(),
        not_loaded: lines
            .iter()
            .filter(|l| l.change != Some(Change::Removed) && !is_loaded(&l.props))
            .count(),
        restarted: lines
            .iter()
            .filter(|l| l.action == Action::Restarted)
            .count(),
        errors: lines.iter().filter(|l| l.is_error()).count()
            + global.iter().filter(|p| p.is_problem()).count(),
        unchanged_quiet: lines.iter().filter(|l| !l.interesting()).count(),
        removed: removed.len(),
        stopped: count(removed::Outcome::Stopped),
        kept: count(removed::Outcome::KeptRunning),
        reload_time,
        stop_time,
        restart_time,
        total: t_start.elapsed(),
    };
    let removed_names: Vec<String> = removed.iter().map(|r| r.unit.clone()).collect();
    if args.json {
        let doc = to_json(scope, ok, &global, &lines, &removed_names, &summary);
        if let Err(e) = crate::json::print(&doc) {
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

/// The report's line for a removed unit.
fn removed_line(r: &removed::Removed, args: &Args) -> Line {
    let reload_cmd = if args.user {
        "unitsmith reload --user --restart-changed"
    } else {
        "unitsmith reload --restart-changed"
    };
    let mut problems = Vec::new();
    let action = match r.outcome {
        removed::Outcome::NotRunning => Action::None,
        removed::Outcome::Stopped => Action::Stopped,
        removed::Outcome::StopFailed => {
            for e in &r.errors {
                problems.push(Problem::error(Kind::Failed, e.clone()).hint(format!(
                    "journalctl{} -b -u {}; the next `{reload_cmd}` stops it again",
                    if args.user { " --user" } else { "" },
                    r.unit
                )));
            }
            Action::StopFailed
        }
        removed::Outcome::KeptRunning => {
            let what = if r.targets == [r.unit.clone()] {
                r.unit.clone()
            } else {
                r.targets.join(" ")
            };
            problems.push(if args.keep_removed {
                Problem::new(
                    Kind::InputRemoved,
                    Severity::Info,
                    format!("{what} runs on although its input is gone (--keep-removed)"),
                )
                .hint(format!("`{reload_cmd}` without --keep-removed stops it"))
            } else {
                Problem::new(
                    Kind::InputRemoved,
                    Severity::Warning,
                    format!("{what} still runs although its input is gone"),
                )
                .hint(format!("`{reload_cmd}` stops it"))
            });
            Action::KeptRunning
        }
    };
    Line {
        unit: r.unit.clone(),
        source: r.source.clone(),
        change: Some(Change::Removed),
        action,
        props: r.props.clone(),
        problems,
        instances: if sd::is_template(&r.unit) {
            r.targets.clone()
        } else {
            Vec::new()
        },
        named: false,
    }
}

/// Where a run spends its time (logged at debug level: `-v`, or RUST_LOG=debug): each step's
/// wall-clock time.
struct Profile {
    last: Instant,
    steps: Vec<(&'static str, Duration)>,
}

impl Profile {
    fn new(start: Instant) -> Profile {
        Profile {
            last: start,
            steps: Vec::new(),
        }
    }

    /// The step that ends now.
    fn mark(&mut self, step: &'static str) {
        let now = Instant::now();
        self.steps.push((step, now - self.last));
        self.last = now;
    }

    fn render(&self) -> String {
        self.steps
            .iter()
            .map(|(s, d)| format!("{s} {:.1} ms", d.as_secs_f64() * 1000.0))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

struct Summary {
    checked: usize,
    not_loaded: usize,
    restarted: usize,
    errors: usize,
    unchanged_quiet: usize,
    /// Units whose input was removed, how many of them were stopped, left running.
    removed: usize,
    stopped: usize,
    kept: usize,
    reload_time: Duration,
    stop_time: Duration,
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
        let mut how = vec![format!("{} stopped", s.stopped)];
        if s.kept > 0 {
            how.push(format!("{} kept running", s.kept));
        }
        parts.push(format!("{} removed ({})", s.removed, how.join(", ")));
    }
    parts.push(match s.errors {
        0 => "no errors".to_string(),
        1 => "1 error".to_string(),
        n => format!("{n} errors"),
    });
    let stop = if s.stop_time.is_zero() {
        String::new()
    } else {
        format!("stop {:.2}s, ", s.stop_time.as_secs_f64())
    };
    format!(
        "reload: {} ({stop}daemon-reload {:.2}s, restart {:.2}s, total {:.2}s)\n",
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
        let since = 5_000_000;
        assert!(restart_ok(&m(&[("ActiveState", "active")]), true, since));
        // A oneshot that ran after the restart began.
        let ran = m(&[
            ("ActiveState", "inactive"),
            ("Result", "success"),
            ("InvocationID", "b"),
            ("InactiveExitTimestampMonotonic", "5000100"),
        ]);
        assert!(restart_ok(&ran, true, since));
        // Its start never happened (a dependency failed): the stamp and Result are the old run's.
        let old = m(&[
            ("ActiveState", "inactive"),
            ("Result", "success"),
            ("InvocationID", "a"),
            ("InactiveExitTimestampMonotonic", "4000000"),
        ]);
        assert!(!restart_ok(&old, true, since));
        // Ran to its end and unloaded: no InvocationID; ok only when its job did not fail.
        let done = m(&[
            ("ActiveState", "inactive"),
            ("Result", "success"),
            ("InactiveExitTimestampMonotonic", "0"),
        ]);
        assert!(restart_ok(&done, true, since));
        assert!(!restart_ok(&done, false, since));
        assert!(!restart_ok(
            &m(&[("ActiveState", "failed"), ("Result", "exit-code")]),
            true,
            since
        ));
        assert!(!restart_ok(&m(&[]), true, since));
        assert!(monotonic_us() > 0);
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
            stopped: 2,
            kept: 0,
            reload_time: Duration::from_millis(90),
            stop_time: Duration::ZERO,
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
reload: 3 units checked, 1 restarted, 1 unchanged (not listed), 2 removed (2 stopped), 1 error (daemon-reload 0.09s, restart 0.40s, total 0.60s)
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

    fn args(keep_removed: bool) -> Args {
        Args {
            user: false,
            restart: Vec::new(),
            restart_changed: true,
            keep_removed,
            timeout: Duration::from_secs(5),
            json: false,
            units: Vec::new(),
        }
    }

    fn removed_unit(
        unit: &str,
        targets: &[&str],
        outcome: removed::Outcome,
        active: &str,
    ) -> removed::Removed {
        removed::Removed {
            unit: unit.into(),
            source: Some(format!("/etc/containers/systemd/{unit}.container").into()),
            targets: targets.iter().map(|t| t.to_string()).collect(),
            outcome,
            props: m(&[
                ("LoadState", "not-found"),
                ("ActiveState", active),
                (
                    "SubState",
                    if active == "active" {
                        "running"
                    } else {
                        "dead"
                    },
                ),
            ]),
            errors: if outcome == removed::Outcome::StopFailed {
                vec![format!(
                    "stop of {unit} failed: ActiveState=active, SubState=running"
                )]
            } else {
                Vec::new()
            },
        }
    }

    #[test]
    fn removed_units_are_listed_with_what_became_of_them() {
        use removed::Outcome as O;
        let lines = [
            removed_line(
                &removed_unit("gone.service", &["gone.service"], O::Stopped, "inactive"),
                &args(false),
            ),
            removed_line(
                &removed_unit(
                    "app@.service",
                    &["app@1.service", "app@2.service"],
                    O::Stopped,
                    "inactive",
                ),
                &args(false),
            ),
            removed_line(
                &removed_unit("stuck.service", &["stuck.service"], O::StopFailed, "active"),
                &args(false),
            ),
            removed_line(
                &removed_unit("old.service", &[], O::NotRunning, "inactive"),
                &args(false),
            ),
        ];
        let s = Summary {
            checked: 0,
            not_loaded: 0,
            restarted: 0,
            errors: 1,
            unchanged_quiet: 0,
            removed: 4,
            stopped: 2,
            kept: 0,
            reload_time: Duration::from_millis(90),
            stop_time: Duration::from_millis(300),
            restart_time: Duration::ZERO,
            total: Duration::from_millis(600),
        };
        let t = render_text(&[], &lines, &s);
        let expected = "\
UNIT           LOAD       CHANGE   ACTION                                 RESULT
gone.service   not-found  removed  stopped                                ok (inactive/dead)
app@.service   not-found  removed  stopped (app@1.service app@2.service)  ok (inactive/dead)
stuck.service  not-found  removed  stop failed                            error: stop failed
    error (failed): stop of stuck.service failed: ActiveState=active, SubState=running
      hint: journalctl -b -u stuck.service; the next `unitsmith reload --restart-changed` stops it again
old.service    not-found  removed  -                                      ok (inactive/dead)
reload: 0 units checked, 0 restarted, 4 removed (2 stopped), 1 error (stop 0.30s, daemon-reload 0.09s, restart 0.00s, total 0.60s)
";
        assert_eq!(t, expected);
        assert!(lines[2].is_error());
        let removed = ["gone.service".to_string()];
        let j = serde_json::to_string(&to_json(Scope::System, false, &[], &lines, &removed, &s))
            .unwrap();
        assert!(
            j.contains(r#""unit":"gone.service","source":"/etc/containers/systemd/gone.service.container","change":"removed","action":"stopped""#),
            "{j}"
        );
        assert!(
            j.contains(r#""action":"stopped","instances":["app@1.service","app@2.service"]"#),
            "{j}"
        );

        // Left running: a warning without --keep-removed (it does not fail the run), a note with.
        let kept = removed_unit("gone.service", &["gone.service"], O::KeptRunning, "active");
        let l = removed_line(&kept, &args(false));
        assert_eq!(l.action, Action::KeptRunning);
        assert!(!l.is_error());
        assert_eq!(l.result(), "warning: input removed");
        assert_eq!(
            l.problems[0].hint.as_deref(),
            Some("`unitsmith reload --restart-changed` stops it")
        );
        let l = removed_line(&kept, &args(true));
        assert_eq!(l.problems[0].severity, Severity::Info);
        assert!(l.problems[0].message.contains("(--keep-removed)"));
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
            stopped: 1,
            kept: 0,
            reload_time: Duration::from_millis(90),
            stop_time: Duration::from_millis(40),
            restart_time: Duration::ZERO,
            total: Duration::from_millis(100),
        };
        let removed = ["gone.service".to_string()];
        let gone = removed_line(
            &removed_unit(
                "gone.service",
                &["gone.service"],
                removed::Outcome::Stopped,
                "inactive",
            ),
            &args(false),
        );
        let lines = [l, gone];
        let doc = to_json(Scope::System, false, &global, &lines, &removed, &s);
        let json = serde_json::to_string(&doc).unwrap();
        crate::json::fields::check_against_page(&json, "unitsmith-reload.1", true);
    }
}

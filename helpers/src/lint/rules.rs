//! The boot and reload hazards from the field reports, over a whole tree of units (they are
//! about how units pull each other in, so each rule looks at the relations, not one file).

use std::path::PathBuf;

use unitsmith_generator::split;
use unitsmith_generator::unitfile::UnitFile;

use super::load::{PullKind, Tree, Unit};
use super::shell;
use super::{Finding, Severity};
use crate::doctor::sd;

/// Targets the boot transaction waits for (a oneshot ordered before one of them delays boot).
const BOOT_TARGETS: &[&str] = &[
    "sysinit.target",
    "basic.target",
    "local-fs.target",
    "remote-fs.target",
    "network.target",
    "network-online.target",
    "multi-user.target",
    "graphical.target",
    "default.target",
    "cloud-init.target",
    "cryptsetup.target",
    "timers.target",
    "sockets.target",
    "paths.target",
];

/// Start timeout systemd applies to non-oneshot services by default (DefaultTimeoutStartSec).
const DEFAULT_TIMEOUT_SECS: f64 = 90.0;

/// Who pulls a unit in, and where that is written.
#[derive(Debug, Clone)]
pub struct Pull {
    pub by: String,
    /// The name pulled in, as written (an instance of a template unit: `modprobe@fuse.service`).
    pub target: String,
    pub kind: PullKind,
    pub file: PathBuf,
    pub line: usize,
    /// Through the unit's own `[Install]` (active once enabled), not the puller's file.
    pub install: bool,
}

impl Pull {
    pub fn how(&self) -> String {
        let at = if self.line > 0 {
            format!("{}:{}", self.file.display(), self.line)
        } else {
            self.file.display().to_string()
        };
        if self.install {
            let key = if self.kind == PullKind::Wants {
                "WantedBy"
            } else {
                "RequiredBy"
            };
            format!("[Install] {key}={} at {at}", self.by)
        } else if self.line > 0 {
            format!("{}= of {} at {at}", self.kind.key(), self.by)
        } else {
            format!("link {at}")
        }
    }
}

impl Tree {
    /// The `Type=oneshot` services: the units the start-limit and boot-wait rules are about.
    fn oneshots(&self) -> impl Iterator<Item = &Unit> {
        self.units
            .values()
            .filter(|u| is_service(u) && service_type(&u.file) == "oneshot")
    }

    /// The unit a name refers to here: itself, what an alias points to, or its template.
    pub fn resolve_name(&self, name: &str) -> String {
        let name = self.aliases.get(name).map(String::as_str).unwrap_or(name);
        if self.units.contains_key(name) {
            return name.to_string();
        }
        match sd::template_of(name) {
            Some(t) if self.units.contains_key(&t) => t,
            _ => name.to_string(),
        }
    }

    /// Every unit that pulls `name` (or, for a template, an instance of it) in with
    /// Wants=/Requires= (in its file or as a link), and the targets in `name`'s own `[Install]`
    /// WantedBy=/RequiredBy=. Each puller once per name pulled.
    pub fn pullers(&self, name: &str) -> Vec<Pull> {
        let mut out: Vec<Pull> = Vec::new();
        let mut add = |p: Pull| {
            if !out.iter().any(|o| o.by == p.by && o.target == p.target) {
                out.push(p);
            }
        };
        for u in self.units.values() {
            for kind in [PullKind::Wants, PullKind::Requires] {
                for (v, path, line) in u.file.located_values("Unit", kind.key()) {
                    for w in split::split_strv(v) {
                        if self.resolve_name(&w) == name {
                            add(Pull {
                                by: u.name.clone(),
                                target: w.clone(),
                                kind,
                                file: path.to_path_buf(),
                                line,
                                install: false,
                            });
                        }
                    }
                }
            }
        }
        for l in &self.links {
            if self.resolve_name(&l.to) == name {
                add(Pull {
                    by: self.resolve_name(&l.from),
                    target: l.to.clone(),
                    kind: l.kind,
                    file: l.path.clone(),
                    line: 0,
                    install: false,
                });
            }
        }
        if let Some(u) = self.units.get(name) {
            for (key, kind) in [
                ("WantedBy", PullKind::Wants),
                ("RequiredBy", PullKind::Requires),
            ] {
                for (v, path, line) in u.file.located_values("Install", key) {
                    for w in split::split_strv(v) {
                        add(Pull {
                            by: self.resolve_name(&w),
                            target: name.to_string(),
                            kind,
                            file: path.to_path_buf(),
                            line,
                            install: true,
                        });
                    }
                }
            }
        }
        out
    }
}

/// `file:line` of the last assignment of a key, else the unit's file.
pub fn loc(u: &Unit, group: &str, key: &str) -> (PathBuf, usize) {
    match u.file.location(group, key) {
        Some((p, l)) => (p.to_path_buf(), l),
        None => (u.file.path.clone(), 0),
    }
}

/// Where to point for a finding about a service as a whole: its Type= line, else the first
/// line of its [Service] section, else the file.
pub fn anchor(u: &Unit) -> (PathBuf, usize) {
    if let Some((p, l)) = u.file.location("Service", "Type").filter(|(_, l)| *l > 0) {
        return (p.to_path_buf(), l);
    }
    for k in u.file.list_keys("Service") {
        if let Some((p, l)) = u.file.first_location("Service", k).filter(|(_, l)| *l > 0) {
            return (p.to_path_buf(), l);
        }
    }
    (u.file.path.clone(), 0)
}

/// Type= as systemd settles it: the value given, else dbus with BusName=, simple with
/// ExecStart=, oneshot without.
pub fn service_type(f: &UnitFile) -> String {
    if let Some(t) = f.lookup_last("Service", "Type").filter(|t| !t.is_empty()) {
        return t.to_string();
    }
    if f.has_key("Service", "BusName") {
        "dbus".into()
    } else if f.lookup_all("Service", "ExecStart").is_empty() {
        "oneshot".into()
    } else {
        "simple".into()
    }
}

fn is_service(u: &Unit) -> bool {
    u.unit_type() == "service"
}

fn last(u: &Unit, group: &str, key: &str) -> Option<String> {
    u.file
        .lookup_last(group, key)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

fn is_true(v: Option<String>) -> bool {
    v.is_some_and(|v| super::verify::parse_bool(&v) == Some(true))
}

/// DefaultDependencies=no units are not ordered before the targets that want them.
fn default_deps(u: &Unit) -> bool {
    !matches!(last(u, "Unit", "DefaultDependencies"), Some(v) if super::verify::parse_bool(&v) == Some(false))
}

fn ordered_before(u: &Unit, target: &str) -> bool {
    u.file
        .lookup_all_strv("Unit", "Before")
        .iter()
        .any(|b| b == target)
}

fn finding(
    rule: &'static str,
    severity: Severity,
    at: (PathBuf, usize),
    u: &Unit,
    message: String,
    fix: &str,
) -> Finding {
    Finding {
        rule,
        severity,
        file: at.0,
        line: at.1,
        unit: u.name.clone(),
        message,
        fix: fix.to_string(),
    }
}

// ------------------------------------------------------------------ cloud-init-cycle

/// A unit pulled in by multi-user.target (its `WantedBy=`/`RequiredBy=`, or a link) and
/// ordered `After=cloud-final.service` or `After=cloud-init.target`. cloud-init.target is
/// ordered after multi-user.target and cloud-final.service runs in it, while multi-user.target
/// waits for the units it wants (the implicit After= a target adds, unless the unit says
/// DefaultDependencies=no and no explicit Before=multi-user.target): a cycle.
pub fn cloud_init_cycle(tree: &Tree) -> Vec<Finding> {
    let mut out = Vec::new();
    for u in tree.units.values() {
        let by_multi = tree
            .pullers(&u.name)
            .into_iter()
            .find(|p| p.by == "multi-user.target");
        let Some(pull) = by_multi else { continue };
        if !default_deps(u) && !ordered_before(u, "multi-user.target") {
            continue;
        }
        for (v, path, line) in u.file.located_values("Unit", "After") {
            for w in split::split_strv(v) {
                if w != "cloud-final.service" && w != "cloud-init.target" {
                    continue;
                }
                out.push(finding(
                    "cloud-init-cycle",
                    Severity::Error,
                    (path.to_path_buf(), line),
                    u,
                    format!(
                        "ordering cycle with cloud-init: {} is pulled in by multi-user.target ({}), so multi-user.target waits for it, \
                         but it is ordered After={w}, which runs after multi-user.target (cloud-init.target is After=multi-user.target). \
                         At boot systemd breaks the cycle by deleting a start job: this unit or a cloud-init stage silently does not run",
                        u.name,
                        pull.how()
                    ),
                    "to run after cloud-init's final stage, install it into that stage instead: [Install] WantedBy=cloud-init.target \
                     (not multi-user.target); to run during boot, drop this After= or order it after an earlier stage \
                     (After=cloud-init.service), which runs before multi-user.target",
                ));
            }
        }
    }
    out
}

// ------------------------------------------------------------------ start-limit-burn

/// (a) a `Restart=on-failure` oneshot pulled in by a `Restart=always` service: every restart
/// of the puller starts the oneshot again, and its own retries add to that, so its start
/// limit (StartLimitBurst=5 in 10 s by default) is hit and it stays failed (with Requires=,
/// the puller then fails too). (b) a oneshot without `RemainAfterExit=yes` pulled in by two
/// or more units (targets not counted: they start once per boot): it is inactive again after
/// each run, so every puller's start runs it again.
pub fn start_limit_burn(tree: &Tree) -> Vec<Finding> {
    let mut out = Vec::new();
    for u in tree.oneshots() {
        let pulls = tree.pullers(&u.name);
        if last(u, "Service", "Restart").as_deref() == Some("on-failure") {
            for p in &pulls {
                let Some(by) = tree.units.get(&p.by) else {
                    continue;
                };
                if !is_service(by) || last(by, "Service", "Restart").as_deref() != Some("always") {
                    continue;
                }
                let (bf, bl) = loc(by, "Service", "Restart");
                out.push(finding(
                    "start-limit-burn",
                    Severity::Warning,
                    loc(u, "Service", "Restart"),
                    u,
                    format!(
                        "start-limit burn: this Restart=on-failure oneshot is pulled in by {} ({}), which has Restart=always ({}:{bl}): \
                         every restart of {} starts it again and its own retries add up, until its start limit \
                         (StartLimitBurst=, 5 in 10 s by default) is hit and it stays failed{}",
                        p.by,
                        p.how(),
                        bf.display(),
                        p.by,
                        if p.kind == PullKind::Requires { format!(", taking {} down with it (Requires=)", p.by) } else { String::new() }
                    ),
                    "give the oneshot RemainAfterExit=yes (it then runs once and stays active) and drop Restart=on-failure, or bound \
                     it explicitly (StartLimitIntervalSec=/StartLimitBurst=, RestartSec=); or make the pull Wants= with After= \
                     so a failure does not stop the service",
                ));
            }
        }
        if !is_true(last(u, "Service", "RemainAfterExit")) {
            // Per name pulled in: each instance of a template is a unit of its own.
            let mut names: Vec<&str> = pulls.iter().map(|p| p.target.as_str()).collect();
            names.sort();
            names.dedup();
            for name in names {
                let mut by: Vec<&Pull> = pulls
                    .iter()
                    .filter(|p| p.target == name && !p.by.ends_with(".target"))
                    .collect();
                by.dedup_by(|a, b| a.by == b.by);
                if by.len() < 2 {
                    continue;
                }
                let which = if name == u.name {
                    String::new()
                } else {
                    format!(" (as {name})")
                };
                out.push(finding(
                    "start-limit-burn",
                    Severity::Warning,
                    anchor(u),
                    u,
                    format!(
                        "start-limit burn: this oneshot without RemainAfterExit=yes is pulled in{which} by {} units ({}): it is \
                         inactive again after each run, so every start of each of them runs it again, and together they can \
                         exceed its start limit (StartLimitBurst=, 5 in 10 s by default) and leave it failed",
                        by.len(),
                        by.iter().map(|p| p.how()).collect::<Vec<_>>().join("; ")
                    ),
                    "add RemainAfterExit=yes to its [Service] so it runs once and stays active; later pulls are then no-ops",
                ));
            }
        }
    }
    out
}

// ------------------------------------------------------------------ boot-blocking-wait

/// A oneshot pulled in by a boot target (and ordered before it: default dependencies or an
/// explicit Before=) whose start sleeps or polls (`sleep`, a `while`/`until` loop in
/// ExecStartPre/ExecStart/ExecStartPost), or whose start timeout is infinity/0 or over 90 s.
/// Oneshots have no start timeout by default: the boot waits as long as the wait lasts.
pub fn boot_blocking_wait(tree: &Tree) -> Vec<Finding> {
    let mut out = Vec::new();
    for u in tree.oneshots() {
        let pulls = tree.pullers(&u.name);
        let Some(pull) = pulls.iter().find(|p| {
            BOOT_TARGETS.contains(&p.by.as_str()) && (default_deps(u) || ordered_before(u, &p.by))
        }) else {
            continue;
        };
        let fix = "do not wait inside the boot transaction: let the unit that needs the result wait for it with an env gate \
                   (a .envgate file, see `unitsmith envgate`), so it starts when its input lands; or make this unit Type=simple/exec \
                   (boot does not wait for it); at the very least bound the wait with TimeoutStartSec=90s";
        let mut hit = None;
        'keys: for key in ["ExecStartPre", "ExecStart", "ExecStartPost"] {
            for (v, path, line) in u.file.located_values("Service", key) {
                let Some(e) = shell::parse_exec(v) else {
                    continue;
                };
                if let Some(what) = shell::runs(&e.argv, &["sleep", "while", "until"]) {
                    let what = if what == "sleep" {
                        "sleeps".to_string()
                    } else {
                        format!("polls in a `{what}` loop")
                    };
                    hit = Some(((path.to_path_buf(), line), format!("its {key}= {what}")));
                    break 'keys;
                }
            }
        }
        if hit.is_none() {
            for key in ["TimeoutStartSec", "TimeoutSec"] {
                if let Some(v) = last(u, "Service", key) {
                    match super::verify::parse_timespan(&v) {
                        Some(None) => {
                            hit = Some((
                                loc(u, "Service", key),
                                format!("{key}={v} lets its start run forever"),
                            ))
                        }
                        Some(Some(0.0)) => {
                            hit = Some((
                                loc(u, "Service", key),
                                format!("{key}=0 disables its start timeout"),
                            ))
                        }
                        Some(Some(s)) if s > DEFAULT_TIMEOUT_SECS => {
                            hit = Some((
                                loc(u, "Service", key),
                                format!("{key}={v} lets its start take over 90 s"),
                            ))
                        }
                        _ => {}
                    }
                    break;
                }
            }
        }
        if let Some((at, what)) = hit {
            out.push(finding(
                "boot-blocking-wait",
                Severity::Warning,
                at,
                u,
                format!(
                    "boot-blocking wait: a oneshot pulled in by {} ({}) and {what}; {} is not reached until it exits, and oneshots \
                     have no start timeout by default, so boot (and everything ordered after {}) waits as long as it does",
                    pull.by,
                    pull.how(),
                    pull.by,
                    pull.by
                ),
                fix,
            ));
        }
    }
    out
}

// ------------------------------------------------------------------ prestart-kill

/// ExecStartPre= that kills (`pkill`, `killall`) or deletes lock/pid files: the "old process
/// still exiting" workaround, racy and able to kill the wrong process.
pub fn prestart_kill(tree: &Tree) -> Vec<Finding> {
    let mut out = Vec::new();
    let fix = "hold a kernel lock instead: ExecStart=/usr/local/bin/unitsmith lock --wait 30s -- COMMAND ...: the new instance waits \
               for the old one to exit, the lock dies with its holder (nothing to kill, nothing stale to delete, even after kill -9)";
    for u in tree.units.values() {
        for (v, path, line) in u.file.located_values("Service", "ExecStartPre") {
            let Some(e) = shell::parse_exec(v) else {
                continue;
            };
            let what = if let Some(k) = shell::runs(&e.argv, &["pkill", "killall"]) {
                Some(format!("runs {k}: it races with the old process still exiting and can kill unrelated processes that match"))
            } else {
                let files = shell::removed_lock_files(&e.argv);
                (!files.is_empty()).then(|| {
                    format!(
                        "deletes lock/pid files ({}): a lock the old process may still hold is broken, and two instances run at once",
                        files.join(", ")
                    )
                })
            };
            if let Some(what) = what {
                out.push(finding(
                    "prestart-kill",
                    Severity::Warning,
                    (path.to_path_buf(), line),
                    u,
                    format!("ExecStartPre= {what}"),
                    fix,
                ));
            }
        }
    }
    out
}

// ------------------------------------------------------------------ stop timeouts

fn has_stop_timeout(u: &Unit) -> bool {
    u.file.has_key("Service", "TimeoutStopSec") || u.file.has_key("Service", "TimeoutSec")
}

/// Type=notify (or notify-reload) with a watchdog but no TimeoutStopSec=/TimeoutSec=.
pub fn watchdog_stop_timeout(tree: &Tree) -> Vec<Finding> {
    let mut out = Vec::new();
    for u in tree.units.values().filter(|u| is_service(u)) {
        let ty = service_type(&u.file);
        if ty != "notify" && ty != "notify-reload" {
            continue;
        }
        let Some(w) = last(u, "Service", "WatchdogSec") else {
            continue;
        };
        if !matches!(super::verify::parse_timespan(&w), Some(Some(s)) if s > 0.0)
            || has_stop_timeout(u)
        {
            continue;
        }
        out.push(finding(
            "watchdog-stop-timeout",
            Severity::Warning,
            loc(u, "Service", "WatchdogSec"),
            u,
            format!(
                "Type={ty} with WatchdogSec={w} but no TimeoutStopSec=: the watchdog is there because the process can hang, and a hung \
                 process ignores SIGTERM, so every stop, restart and shutdown waits the default stop timeout (90 s) before SIGKILL; \
                 the watchdog's own abort waits as long (TimeoutAbortSec= defaults to it)"
            ),
            "set TimeoutStopSec= to what a clean stop needs (e.g. TimeoutStopSec=15s)",
        ));
    }
    out
}

/// KillMode=mixed or process, set in the unit (not the generator's default for containers,
/// whose ExecStop= bounds the stop), without TimeoutStopSec=/TimeoutSec=.
pub fn killmode_stop_timeout(tree: &Tree) -> Vec<Finding> {
    let mut out = Vec::new();
    for u in tree.units.values().filter(|u| is_service(u)) {
        let Some(mode) = last(u, "Service", "KillMode") else {
            continue;
        };
        if mode != "mixed" && mode != "process" {
            continue;
        }
        let at = loc(u, "Service", "KillMode");
        if at.1 == 0 || has_stop_timeout(u) {
            continue; // the generator's own KillMode=mixed
        }
        let rest = if mode == "process" {
            "and the other processes are left running after the stop, so the next start meets the old ones still exiting"
        } else {
            "and the others only get SIGKILL once it has gone"
        };
        out.push(finding(
            "killmode-stop-timeout",
            Severity::Warning,
            at,
            u,
            format!(
                "KillMode={mode} without TimeoutStopSec=: SIGTERM goes to the main process only, {rest}; how long a stop or restart may \
                 take is then the default stop timeout (90 s), not a decision"
            ),
            "set TimeoutStopSec= to how long a stop may take; and run the daemon under `unitsmith lock --wait` so a new instance \
             waits for the old one instead of overlapping it",
        ));
    }
    out
}

//! What `systemd-analyze verify` rejects or warns about, where that can be told from the
//! files alone: unknown sections and keys, values systemd cannot parse, services systemd
//! refuses to load, commands that do not exist on the machine (or in the `--root` image).
//! Keys, values and refusals are those of the systemd release judged by ([`Release`]).

use std::path::Path;

use unitsmith_generator::spell;

use super::keys::{OtherRelease, Release, ValueKind};
use super::load::{Source, Unit};
use super::root::Root;
use super::rules::{anchor, loc, service_type};
use super::shell;
use super::{Finding, Severity};

/// systemd's parse_boolean().
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "yes" | "y" | "true" | "t" | "on" => Some(true),
        "0" | "no" | "n" | "false" | "f" | "off" => Some(false),
        _ => None,
    }
}

/// systemd's time spans (systemd.time(7)), seconds by default: `Some(None)` for infinity,
/// `Some(Some(seconds))`, `None` when systemd would not parse it.
pub fn parse_timespan(v: &str) -> Option<Option<f64>> {
    let t = v.trim();
    if t == "infinity" {
        return Some(None);
    }
    if t.is_empty() {
        return None;
    }
    let mut total = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        rest = rest.trim_start();
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if n == 0 {
            return None;
        }
        let num: f64 = rest[..n].parse().ok()?;
        rest = rest[n..].trim_start();
        let u = rest
            .find(|c: char| !(c.is_alphabetic()))
            .unwrap_or(rest.len());
        let factor = match &rest[..u] {
            "" | "s" | "sec" | "second" | "seconds" => 1.0,
            "us" | "usec" | "µs" | "μs" => 1e-6,
            "ms" | "msec" => 1e-3,
            "m" | "min" | "minute" | "minutes" => 60.0,
            "h" | "hr" | "hour" | "hours" => 3600.0,
            "d" | "day" | "days" => 86400.0,
            "w" | "week" | "weeks" => 7.0 * 86400.0,
            "M" | "month" | "months" => 2_629_800.0,
            "y" | "year" | "years" => 31_557_600.0,
            _ => return None,
        };
        rest = &rest[u..];
        total += num * factor;
    }
    Some(Some(total))
}

/// The type-specific section of a unit type (`service` → `Service`).
fn type_section(unit_type: &str) -> Option<&'static str> {
    Some(match unit_type {
        "service" => "Service",
        "socket" => "Socket",
        "timer" => "Timer",
        "path" => "Path",
        "mount" => "Mount",
        "automount" => "Automount",
        "swap" => "Swap",
        "slice" => "Slice",
        "scope" => "Scope",
        _ => return None,
    })
}

const EXEC_KEYS: &[&str] = &[
    "ExecCondition",
    "ExecStartPre",
    "ExecStart",
    "ExecStartPost",
    "ExecReload",
    "ExecStop",
    "ExecStopPost",
];

/// systemd's search path for command names without a `/`.
const EXEC_SEARCH: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// Line-by-line checks of one file (a unit file or a drop-in), as systemd `release` reads
/// it. Lines the generator wrote (line 0 of a generated unit) are its responsibility, not the
/// author's, and are skipped.
pub fn check_source(src: &Source, release: &Release, root: &Root) -> Vec<Finding> {
    let mut out = Vec::new();
    let f = &src.file;
    let unit = unit_name_of(src);
    let own = type_section(&src.unit_type);
    let sections: Vec<&str> = ["Unit", "Install"].into_iter().chain(own).collect();
    for group in f.list_groups() {
        if group.is_empty() || group.starts_with("X-") {
            continue;
        }
        if !sections.contains(&group) {
            let first = f
                .list_keys(group)
                .first()
                .and_then(|k| f.first_location(group, k))
                .map(|(_, l)| l)
                .unwrap_or(0);
            let first = header_line(&f.path, group, root).unwrap_or(first);
            if !(src.generated && first == 0) {
                let allowed: Vec<String> = sections.iter().map(|s| format!("[{s}]")).collect();
                out.push(Finding {
                    rule: "unknown-section",
                    severity: Severity::Warning,
                    file: f.path.clone(),
                    line: first,
                    unit: unit.clone(),
                    message: format!(
                        "unknown section [{group}] in a .{} unit: systemd ignores all of it",
                        src.unit_type
                    ),
                    fix: format!(
                        "use one of {}, or prefix it with X- for tools",
                        allowed.join(", ")
                    ),
                });
            }
            continue;
        }
        for key in f.list_keys(group) {
            if key.starts_with("X-") {
                continue;
            }
            let Some((path, line)) = f.first_location(group, key) else {
                continue;
            };
            if src.generated && line == 0 {
                continue;
            }
            if !release.knows(group, key) {
                let (message, fix) = unknown_key(release, &sections, group, key, &src.unit_type);
                out.push(Finding {
                    rule: "unknown-key",
                    severity: Severity::Warning,
                    file: path.to_path_buf(),
                    line,
                    unit: unit.clone(),
                    message,
                    fix,
                });
                continue;
            }
            for (v, path, line) in f.located_values(group, key) {
                if src.generated && line == 0 {
                    continue;
                }
                if let Some((why, fix)) = bad_value(release, group, key, v) {
                    out.push(Finding {
                        rule: "bad-value",
                        severity: Severity::Warning,
                        file: path.to_path_buf(),
                        line,
                        unit: unit.clone(),
                        message: format!("{key}={v}: {why}; systemd ignores the line"),
                        fix,
                    });
                }
                if EXEC_KEYS.contains(&key) {
                    if let Some(msg) = missing_command(v, root).filter(|_| !guarded(f, v)) {
                        let place = match root.dir() {
                            Some(d) => format!("in the image {}", d.display()),
                            None => "on this machine".into(),
                        };
                        out.push(Finding {
                            rule: "exec-not-found",
                            severity: Severity::Error,
                            file: path.to_path_buf(),
                            line,
                            unit: unit.clone(),
                            message: format!("{key}=: {msg} {place}: systemd-analyze verify rejects the unit, and the command fails when run"),
                            fix: "install the program, fix the path, or prefix the line with - if a missing command is fine".into(),
                        });
                    }
                }
            }
        }
    }
    out
}

/// Why systemd `release` ignores `key=` in `[group]`, and the fix: it belongs in another
/// section of this unit; a newer release added it (or this one removed it); or no release
/// knows it, and a known key is spelt alike.
fn unknown_key(
    release: &Release,
    sections: &[&str],
    group: &str,
    key: &str,
    unit_type: &str,
) -> (String, String) {
    let v = release.version;
    if let Some(s) = sections
        .iter()
        .find(|s| **s != group && release.knows(s, key))
    {
        return (
            format!("unknown key {key}= in [{group}]: systemd ignores it"),
            format!("move it to the [{s}] section"),
        );
    }
    match release.other_release(group, key) {
        Some(OtherRelease::AddedIn(n)) => (
            format!("unknown key {key}= in [{group}]: added in systemd {n}; systemd {v} here ignores it"),
            format!(
                "drop it while this runs on systemd {v}, or install the unit only where systemd {n} or newer runs \
                 (lint that with --systemd-version {n})"
            ),
        ),
        Some(OtherRelease::RemovedIn(n)) => (
            format!("unknown key {key}= in [{group}]: removed in systemd {n}; systemd {v} here ignores it"),
            format!("remove it (see systemd's NEWS for {n} for what replaced it)"),
        ),
        None => (
            format!("unknown key {key}= in [{group}]: systemd ignores it"),
            spell::closest(key, &release.keys(group))
                .map(|s| format!("did you mean {s}=?"))
                .unwrap_or_else(|| {
                    format!("remove it, or prefix it with X- for tools (see systemd.{unit_type}(5))")
                }),
        ),
    }
}

/// The line of a `[group]` header in a file (the parser keeps lines of assignments only).
fn header_line(path: &Path, group: &str, root: &Root) -> Option<usize> {
    let data = root.read(path).ok()?;
    let text = String::from_utf8_lossy(&data);
    let header = format!("[{group}]");
    text.lines().position(|l| l.trim() == header).map(|i| i + 1)
}

fn unit_name_of(src: &Source) -> String {
    let p = &src.file.path;
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.ends_with(".conf") {
        // a drop-in: NAME.d/x.conf
        if let Some(d) = p.parent().and_then(Path::file_name) {
            return d.to_string_lossy().trim_end_matches(".d").to_string();
        }
    }
    if src.generated {
        // the generator's unit for this input, e.g. web.service for web.container
        return src.file.filename.clone();
    }
    name
}

/// Why systemd `release` cannot parse `key=v` in `[group]`, and the fix; `None` when it can
/// (or when lint cannot tell: values with specifiers or variables, parsers not checked).
fn bad_value(release: &Release, group: &str, key: &str, v: &str) -> Option<(String, String)> {
    if v.contains('%') || v.contains('$') {
        return None; // specifiers and variables are resolved at load time
    }
    let (why, fix) = match release.value_kind(group, key) {
        ValueKind::Boolean { empty_resets } => {
            if parse_bool(v).is_some() || (empty_resets && v.is_empty()) {
                return None;
            }
            (
                "not a boolean (yes/no, true/false, on/off, 1/0)".to_string(),
                format!("write {key}=yes or {key}=no"),
            )
        }
        ValueKind::TimeSpan { empty_ok } => {
            if parse_timespan(v).is_some() || (empty_ok && v.trim().is_empty()) {
                return None;
            }
            (
                "not a time span (e.g. 90s, 5min, 1h 30min, infinity)".to_string(),
                format!("write a time span, e.g. {key}=30s (systemd.time(7))"),
            )
        }
        ValueKind::Enum(parser) => {
            let allowed = release.enum_values(parser);
            if allowed.contains(&v) {
                return None;
            }
            let why = match release.enum_value_added_in(parser, v) {
                Some(n) => format!(
                    "{v} is accepted from systemd {n} on, not by systemd {} here",
                    release.version
                ),
                None => format!("not one of {}", allowed.join(", ")),
            };
            (why, format!("use one of: {}", allowed.join(", ")))
        }
        ValueKind::Other => return None,
    };
    // A value this release refuses may be one a newer release's parser takes.
    let why = match release.parser_changes_in(group, key) {
        Some(n) => format!(
            "{why} for systemd {} here (systemd {n} parses {key}= differently)",
            release.version
        ),
        None => why,
    };
    Some((why, fix))
}

/// An `Exec*=` command that does not exist here (`-` lines are allowed to fail; specifiers and
/// variables are resolved by systemd, so those are not judged).
fn missing_command(v: &str, root: &Root) -> Option<String> {
    let e = shell::parse_exec(v)?;
    if e.prefixes.contains('-') {
        return None;
    }
    let cmd = &e.argv[0];
    if cmd.contains('%') || cmd.contains('$') {
        return None;
    }
    if cmd.starts_with('/') {
        return (!root.exists(&root.join(Path::new(cmd)))).then(|| format!("{cmd} does not exist"));
    }
    if cmd.contains('/') {
        return Some(format!(
            "{cmd} is neither an absolute path nor a plain command name"
        ));
    }
    if EXEC_SEARCH
        .iter()
        .any(|d| root.exists(&root.join(&Path::new(d).join(cmd))))
    {
        return None;
    }
    Some(format!(
        "{cmd} is not in systemd's command search path ({})",
        EXEC_SEARCH.join(":")
    ))
}

/// A command the unit only runs when it exists: `ConditionFileIsExecutable=`/
/// `ConditionPathExists=` on it (rc-local.service), so its absence is not a problem.
fn guarded(f: &unitsmith_generator::unitfile::UnitFile, v: &str) -> bool {
    let Some(cmd) = shell::parse_exec(v).map(|e| e.argv[0].clone()) else {
        return false;
    };
    [
        "ConditionFileIsExecutable",
        "ConditionPathExists",
        "ConditionPathIsExecutable",
        "ConditionFileNotEmpty",
    ]
    .iter()
    .any(|k| f.lookup_all("Unit", k).iter().any(|c| *c == cmd))
}

/// The last release whose service_verify() refuses a Type=oneshot service with
/// RestartForceExitStatus= (systemd 256 dropped that refusal).
const ONESHOT_FORCE_EXIT_STATUS_REFUSED_UNTIL: u32 = 255;
/// The last release that refuses PAMName= with KillMode=process or none (257 dropped it).
const PAM_KILL_MODE_REFUSED_UNTIL: u32 = 256;
/// The first release that refuses Type=forking with PrivatePIDs=yes (257 added the key).
const FORKING_PRIVATE_PIDS_REFUSED_FROM: u32 = 257;

/// Services systemd `release` refuses to load ("Unit has a bad unit file setting"): the
/// conditions of service_verify() in its src/core/service.c.
pub fn check_unit(u: &Unit, release: &Release) -> Vec<Finding> {
    let mut out = Vec::new();
    if u.unit_type() != "service" {
        return out;
    }
    let v = release.version;
    let f = &u.file;
    let ty = service_type(f);
    let starts = f.located_values("Service", "ExecStart");
    let stops = f.lookup_all("Service", "ExecStop");
    let last = |group: &str, key: &str| f.lookup_last(group, key).filter(|x| !x.is_empty());
    let success_action = last("Unit", "SuccessAction").is_some_and(|a| a != "none");
    let remain = last("Service", "RemainAfterExit").and_then(parse_bool) == Some(true);
    let mut refuse = |at: (std::path::PathBuf, usize), msg: String, fix: &str| {
        out.push(Finding {
            rule: "service-refused",
            severity: Severity::Error,
            file: at.0,
            line: at.1,
            unit: u.name.clone(),
            message: format!("{msg}: systemd {v} refuses to load it (\"bad unit file setting\"), so it can never start"),
            fix: fix.to_string(),
        });
    };
    if starts.is_empty() && stops.is_empty() && !success_action {
        refuse(
            anchor(u),
            "the service has no ExecStart=, ExecStop= or SuccessAction=".into(),
            "add ExecStart=/absolute/path ARGS...",
        );
    } else if starts.is_empty() && ty != "oneshot" {
        refuse(
            anchor(u),
            format!("Type={ty} without ExecStart= (only Type=oneshot may omit it)"),
            "add ExecStart=, or use Type=oneshot",
        );
    } else if starts.is_empty() && !success_action && !remain {
        refuse(
            anchor(u),
            "a service with no ExecStart= and no SuccessAction= that is not RemainAfterExit=yes".into(),
            "add RemainAfterExit=yes (a unit that only runs ExecStop= at shutdown must stay active until then)",
        );
    }
    if starts.len() > 1 && ty != "oneshot" {
        let (_, p, l) = starts[1];
        refuse(
            (p.to_path_buf(), l),
            format!("Type={ty} with more than one ExecStart= (only Type=oneshot may have several)"),
            "keep one ExecStart= (move the others to ExecStartPre=/ExecStartPost=), or use Type=oneshot",
        );
    }
    if ty == "oneshot" {
        if let Some(r) = last("Service", "Restart").filter(|r| *r == "always" || *r == "on-success")
        {
            refuse(
                loc(u, "Service", "Restart"),
                format!("Restart={r} in a Type=oneshot service"),
                "use Restart=on-failure (or no) for a oneshot, or make it Type=simple/exec if it is a daemon",
            );
        }
        if v <= ONESHOT_FORCE_EXIT_STATUS_REFUSED_UNTIL
            && !f
                .located_values("Service", "RestartForceExitStatus")
                .is_empty()
        {
            refuse(
                loc(u, "Service", "RestartForceExitStatus"),
                format!("RestartForceExitStatus= in a Type=oneshot service (refused up to systemd {ONESHOT_FORCE_EXIT_STATUS_REFUSED_UNTIL})"),
                "remove RestartForceExitStatus= (Restart=on-failure covers a oneshot's failures), or run where systemd 256 or newer runs",
            );
        }
        if last("Service", "ExitType") == Some("cgroup") {
            refuse(
                loc(u, "Service", "ExitType"),
                "ExitType=cgroup in a Type=oneshot service".into(),
                "remove ExitType=cgroup: a oneshot is done when its commands exit",
            );
        }
    }
    if ty == "dbus" && !f.has_key("Service", "BusName") {
        refuse(
            anchor(u),
            "Type=dbus without BusName=".into(),
            "add BusName= (the name the service acquires on the bus)",
        );
    }
    if v <= PAM_KILL_MODE_REFUSED_UNTIL && last("Service", "PAMName").is_some() {
        if let Some(mode) = last("Service", "KillMode").filter(|m| *m == "process" || *m == "none")
        {
            refuse(
                loc(u, "Service", "KillMode"),
                format!("PAMName= with KillMode={mode} (refused up to systemd {PAM_KILL_MODE_REFUSED_UNTIL})"),
                "use KillMode=control-group or mixed with PAMName=",
            );
        }
    }
    if v >= FORKING_PRIVATE_PIDS_REFUSED_FROM
        && ty == "forking"
        && last("Service", "PrivatePIDs").and_then(parse_bool) == Some(true)
    {
        refuse(
            loc(u, "Service", "PrivatePIDs"),
            "Type=forking with PrivatePIDs=yes".into(),
            "use Type=notify or exec (the daemon's fork cannot be followed into its own PID namespace), or drop PrivatePIDs=",
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_and_time_spans() {
        assert_eq!(parse_bool("Yes"), Some(true));
        assert_eq!(parse_bool("off"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
        assert_eq!(parse_timespan("90"), Some(Some(90.0)));
        assert_eq!(parse_timespan("1min 30s"), Some(Some(90.0)));
        assert_eq!(parse_timespan("2h"), Some(Some(7200.0)));
        assert_eq!(parse_timespan("500ms"), Some(Some(0.5)));
        assert_eq!(parse_timespan("infinity"), Some(None));
        assert_eq!(parse_timespan("1M"), Some(Some(2_629_800.0)));
        assert_eq!(parse_timespan("10 parsecs"), None);
        assert_eq!(parse_timespan(""), None);
    }

    #[test]
    fn commands() {
        let here = Root::host();
        assert!(missing_command("/bin/sh -c true", &here).is_none());
        assert!(missing_command("-/nonexistent/x", &here).is_none());
        assert!(missing_command("/nonexistent/x", &here).is_some());
        assert!(missing_command("sh -c true", &here).is_none());
        assert!(missing_command("no-such-command-here", &here).is_some());
        assert!(missing_command("%h/bin/x", &here).is_none());
        assert!(missing_command("bin/x", &here).is_some());
    }
}

//! A declaration's units. The ordering here is the whole point of env gates:
//!
//! - `NAME.service` has `DefaultDependencies=no` and is ordered only after `local-fs.target`
//!   (its output must be writable) and before its consumers and `shutdown.target`. Nothing late
//!   (no cloud-init unit, no network target): a gate after a unit that is itself after
//!   multi-user.target, with a consumer that multi-user.target waits for, is an ordering cycle.
//!   It never has `Restart=`: populate cannot fail, and a restarting gate would re-trigger
//!   everything after it.
//! - `NAME-wait.service` is `Type=exec`: its start job ends as soon as the helper runs, so the
//!   job queue empties and the boot *finishes* (`systemctl is-system-running`, `systemd-analyze`)
//!   while it waits. Nothing wants it and nothing is ordered after it, so it can hold up nobody;
//!   it is ordered after `NAME.service` so that it never runs beside populate. The helper has
//!   its own deadline (`Timeout=`); `RuntimeMaxSec=` (Timeout + 1 min) is a backstop should the
//!   helper ever hang. `TimeoutStopSec=` is short: the helper ends within a second of SIGTERM.
//! - Each consumer's drop-in adds `Wants=` + `After=` on `NAME.service`, and, with
//!   `HoldConsumers=yes`, an `ExecCondition=` that skips the consumer while the output is the
//!   stub (see envgate.rs).

use std::path::Path;
use std::time::Duration;

use super::decl::{self, Decl};
use crate::split;
use crate::unitfile::UnitFile;

const UNIT: &str = "Unit";
const SERVICE: &str = "Service";
const INSTALL: &str = "Install";
const MAN: &str = "man:unitsmith.envgate(5)";
/// The backstop beyond the helper's own deadline.
const RUNTIME_MARGIN: Duration = Duration::from_secs(60);

pub fn units(d: &Decl, unit: &UnitFile, helper: &str) -> Vec<UnitFile> {
    let mut out = vec![gate_unit(d, unit, helper), wait_unit(d, helper)];
    for c in &d.consumers {
        out.push(dropin(d, c, helper));
    }
    out
}

fn gate_unit(d: &Decl, unit: &UnitFile, helper: &str) -> UnitFile {
    let mut s = UnitFile::new(&d.service());
    let desc = d.description.clone().unwrap_or_else(|| {
        specifier_safe(&format!(
            "Env gate {}: write {}",
            d.name,
            d.output.display()
        ))
    });
    s.add(UNIT, "Description", &desc);
    for doc in &d.documentation {
        s.add(UNIT, "Documentation", doc);
    }
    s.add(UNIT, "Documentation", MAN);
    s.add(
        UNIT,
        "SourcePath",
        &specifier_safe(&d.source.to_string_lossy()),
    );
    s.add(UNIT, "DefaultDependencies", "no");
    s.add(UNIT, "After", "local-fs.target");
    let mut mounts: Vec<&Path> = Vec::new();
    for p in std::iter::once(&d.output).chain(d.wait_for.iter()) {
        if let Some(dir) = p.parent().filter(|dir| *dir != Path::new("/")) {
            if !mounts.contains(&dir) {
                mounts.push(dir);
            }
        }
    }
    if !mounts.is_empty() {
        // Quotes are removed from these paths, but no C escapes are read: quote plainly, and
        // leave out a path that cannot be written so (it would name another directory).
        let words: Vec<String> = mounts
            .iter()
            .map(|m| specifier_safe(&m.to_string_lossy()))
            .filter(|m| !m.contains(['"', '\\', '\'']))
            .map(|m| {
                if m.contains(char::is_whitespace) {
                    format!("\"{m}\"")
                } else {
                    m
                }
            })
            .collect();
        if !words.is_empty() {
            s.add(UNIT, "RequiresMountsFor", &words.join(" "));
        }
    }
    if !d.consumers.is_empty() {
        s.add(UNIT, "Before", &d.consumers.join(" "));
    }
    s.add(UNIT, "Conflicts", "shutdown.target");
    s.add(UNIT, "Before", "shutdown.target");

    s.add(SERVICE, "Type", "oneshot");
    s.add(SERVICE, "RemainAfterExit", "yes");
    s.add(SERVICE, "ExecStart", &command(helper, "populate", d));
    // populate takes milliseconds (Exec= at most 3 s); this only bounds a wedged helper, and
    // a timed-out gate still lets its consumers start (they only Want= it).
    s.add(SERVICE, "TimeoutStartSec", "30s");

    // The declaration in effect (drop-ins merged), for `systemctl cat` and tools; systemd
    // ignores X- sections.
    for key in unit.list_keys(decl::GROUP) {
        if decl::LIST_KEYS.contains(&key) {
            for v in unit.lookup_all(decl::GROUP, key) {
                s.add("X-EnvGate", key, v);
            }
        } else if let Some(v) = unit.lookup_last(decl::GROUP, key).filter(|v| !v.is_empty()) {
            s.add("X-EnvGate", key, v);
        }
    }

    for w in &d.wanted_by {
        s.add(INSTALL, "WantedBy", w);
    }
    for r in &d.required_by {
        s.add(INSTALL, "RequiredBy", r);
    }
    s
}

fn wait_unit(d: &Decl, helper: &str) -> UnitFile {
    let mut s = UnitFile::new(&d.wait_service());
    let mut what: Vec<String> = d.wait_for.iter().map(|p| p.display().to_string()).collect();
    if d.wait_for_cloud_init {
        what.push(format!("cloud-init ({})", decl::CLOUD_INIT_RESULT));
    }
    let joiner = if d.wait_for_cloud_init && !d.wait_for.is_empty() {
        " and "
    } else {
        " or "
    };
    let what = if d.wait_for_cloud_init && d.wait_for.len() > 1 {
        let files = what[..what.len() - 1].join(" or ");
        format!("({files}) and {}", what[what.len() - 1])
    } else {
        what.join(joiner)
    };
    s.add(
        UNIT,
        "Description",
        &specifier_safe(&format!("Env gate {}: wait for {what}", d.name)),
    );
    s.add(UNIT, "Documentation", MAN);
    s.add(
        UNIT,
        "SourcePath",
        &specifier_safe(&d.source.to_string_lossy()),
    );
    s.add(UNIT, "After", &d.service());
    s.add(UNIT, "PartOf", &d.service());
    s.add(SERVICE, "Type", "exec");
    s.add(SERVICE, "ExecStart", &command(helper, "wait", d));
    s.add(SERVICE, "RuntimeMaxSec", &span(d.timeout + RUNTIME_MARGIN));
    s.add(SERVICE, "TimeoutStopSec", "5s");
    s
}

fn dropin(d: &Decl, consumer: &str, helper: &str) -> UnitFile {
    let mut s = UnitFile::new(&d.dropin(consumer));
    s.add(UNIT, "Wants", &d.service());
    s.add(UNIT, "After", &d.service());
    if d.hold_consumers {
        // '+': full privileges, so a consumer running as another user can still read the
        // 0600 output to tell a stub from real content. `--consumer %n` (systemd puts in the
        // unit's full name, a template's instance included): the check trusts the output's
        // directories only when root or the user that unit runs as alone can write them.
        let args = [
            helper.to_string(),
            "envgate".into(),
            "check".into(),
            "--gate".into(),
            d.name.clone(),
        ];
        let output = exec_words(&[d.output.to_string_lossy().into_owned()]);
        s.add(
            SERVICE,
            "ExecCondition",
            &format!("+{} --consumer %n {output}", exec_words(&args)),
        );
    }
    s
}

/// `HELPER envgate SUB DECLARATION`.
fn command(helper: &str, sub: &str, d: &Decl) -> String {
    exec_words(&[
        helper.to_string(),
        "envgate".into(),
        sub.into(),
        d.source.to_string_lossy().into_owned(),
    ])
}

/// Words for an Exec*= line: quoted as needed, `%` and `$` made literal.
fn exec_words(args: &[String]) -> String {
    let safe: Vec<String> = args
        .iter()
        .map(|a| specifier_safe(a).replace('$', "$$"))
        .collect();
    split::escape_words(&safe)
}

fn specifier_safe(s: &str) -> String {
    s.replace('%', "%%")
}

/// A time span systemd reads back exactly: whole seconds, or milliseconds.
fn span(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envgate::decl::parse;

    fn gen(text: &str) -> Vec<UnitFile> {
        let u =
            UnitFile::parse(text.as_bytes(), Path::new("/etc/unitsmith/creds.envgate")).unwrap();
        units(&parse(&u).unwrap(), &u, "/usr/local/bin/unitsmith")
    }

    fn values<'a>(u: &'a UnitFile, g: &str, k: &str) -> Vec<&'a str> {
        u.lookup_all(g, k)
    }

    const DECL: &str = "[EnvGate]\nWaitFor=/etc/app/worker.env /etc/app/server.env\nOutput=/etc/vector/vector.env\nImport=A\nConsumer=vector.service other.service\nTimeout=60s\n[Install]\nWantedBy=multi-user.target\n";

    #[test]
    fn the_gate_is_fast_and_early() {
        let units = gen(DECL);
        let names: Vec<&str> = units.iter().map(|u| u.filename.as_str()).collect();
        assert_eq!(
            names,
            [
                "creds.service",
                "creds-wait.service",
                "vector.service.d/50-unitsmith-envgate-creds.conf",
                "other.service.d/50-unitsmith-envgate-creds.conf"
            ]
        );
        let g = &units[0];
        assert_eq!(g.lookup(SERVICE, "Type").as_deref(), Some("oneshot"));
        assert_eq!(g.lookup(SERVICE, "RemainAfterExit").as_deref(), Some("yes"));
        assert_eq!(g.lookup(UNIT, "DefaultDependencies").as_deref(), Some("no"));
        assert_eq!(values(g, UNIT, "After"), ["local-fs.target"]);
        assert_eq!(
            values(g, UNIT, "Before"),
            ["vector.service other.service", "shutdown.target"]
        );
        assert_eq!(
            values(g, UNIT, "RequiresMountsFor"),
            ["/etc/vector /etc/app"]
        );
        assert!(!g.has_key(SERVICE, "Restart"));
        assert_eq!(
            g.lookup(SERVICE, "ExecStart").as_deref(),
            Some("/usr/local/bin/unitsmith envgate populate /etc/unitsmith/creds.envgate")
        );
        assert_eq!(values(g, INSTALL, "WantedBy"), ["multi-user.target"]);
        assert_eq!(values(g, "X-EnvGate", "Output"), ["/etc/vector/vector.env"]);
        // nothing that could order it after a late unit
        let text = g.to_text();
        for late in ["cloud", "network", "multi-user.target\n", "basic.target"] {
            assert!(!text.contains(&format!("After={late}")), "{text}");
        }
    }

    #[test]
    fn the_wait_unit_holds_up_nobody() {
        let units = gen(DECL);
        let w = &units[1];
        assert_eq!(w.lookup(SERVICE, "Type").as_deref(), Some("exec"));
        assert_eq!(values(w, UNIT, "After"), ["creds.service"]);
        assert!(!w.has_group(INSTALL), "wanted by nothing");
        assert!(!w.has_key(UNIT, "Before"));
        assert!(!w.has_key(SERVICE, "Restart"));
        assert_eq!(w.lookup(SERVICE, "RuntimeMaxSec").as_deref(), Some("120s"));
        assert_eq!(w.lookup(SERVICE, "TimeoutStopSec").as_deref(), Some("5s"));
        assert_eq!(
            w.lookup(UNIT, "Description").as_deref(),
            Some("Env gate creds: wait for /etc/app/worker.env or /etc/app/server.env")
        );
    }

    #[test]
    fn consumers_are_ordered_and_held() {
        let units = gen(DECL);
        let c = &units[2];
        assert_eq!(values(c, UNIT, "Wants"), ["creds.service"]);
        assert_eq!(values(c, UNIT, "After"), ["creds.service"]);
        assert_eq!(
            c.lookup(SERVICE, "ExecCondition").as_deref(),
            Some("+/usr/local/bin/unitsmith envgate check --gate creds --consumer %n /etc/vector/vector.env")
        );
        let units = gen(&DECL.replace("Timeout=60s", "HoldConsumers=no"));
        assert!(!units[2].has_group(SERVICE));
    }

    #[test]
    fn specifiers_and_dollars_stay_literal() {
        let units = gen(&DECL.replace("/etc/vector/vector.env", "\"/etc/v%i/a$b c.env\""));
        assert_eq!(
            units[2].lookup_last(SERVICE, "ExecCondition"),
            Some(
                "+/usr/local/bin/unitsmith envgate check --gate creds --consumer %n \"/etc/v%%i/a$$b\\x20c.env\""
            )
        );
        assert_eq!(
            values(&units[0], UNIT, "RequiresMountsFor"),
            ["/etc/v%%i /etc/app"]
        );
    }

    #[test]
    fn cloud_init_wording_and_spans() {
        let units = gen("[EnvGate]\nWaitFor=/a/x /a/y\nWaitForCloudInit=yes\nOutput=/o.env\nImport=A\nConsumer=c.service\nTimeout=90s\n");
        assert_eq!(
            units[1].lookup(UNIT, "Description").as_deref(),
            Some("Env gate creds: wait for (/a/x or /a/y) and cloud-init (/run/cloud-init/result.json)")
        );
        assert_eq!(span(Duration::from_millis(1500)), "1500ms");
        assert_eq!(span(Duration::from_secs(150)), "150s");
    }
}

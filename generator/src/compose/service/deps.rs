//! `depends_on`: which services wait for which, how (started, healthy, completed), checked
//! against the active services and for cycles; and what it becomes in the units.
//!
//! `Wants=` + `After=` the dependency (After= waits for its readiness: started, healthy
//! through `Notify=healthy`, or completed as a oneshot). Compose restarts and stops a
//! service with its dependency only when asked (`restart: true`), and systemd's `Requires=`
//! would do both, so a required dependency is checked instead: the service is skipped (not
//! failed, not restarted) when the dependency did not come up.

use std::collections::{HashMap, HashSet};

use super::Ctx;
use crate::compose::check::{check_keys, flag, string_list, text, Fail};
use crate::compose::unit::Q;
use crate::compose::yaml::{Node, Value};
use crate::compose::{Names, Project};
use crate::unitfile::UnitFile;

/// One `depends_on` entry.
pub struct Dep<'n> {
    pub service: String,
    pub condition: Condition,
    pub required: bool,
    pub restart: bool,
    pub node: &'n Node,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Started,
    Healthy,
    Completed,
}

/// Every active service's dependencies, and the services whose `depends_on` is wrong (an
/// undefined service, a cycle...) with the error.
pub type Resolved<'n> = (HashMap<String, Vec<Dep<'n>>>, HashMap<String, String>);

/// The dependencies of the `active` services, checked (cycles included).
pub fn resolve<'n>(
    p: &Project,
    active: &[(&'n str, &'n Node)],
    inactive: &HashMap<&str, Vec<String>>,
) -> Resolved<'n> {
    let mut deps: HashMap<String, Vec<Dep>> = HashMap::new();
    let mut errors: HashMap<String, String> = HashMap::new();
    for (name, node) in active {
        match depends_on(p, name, node, active, inactive) {
            Ok(d) => {
                deps.insert(name.to_string(), d);
            }
            Err(e) => {
                errors.insert(name.to_string(), e);
            }
        }
    }
    for (name, _) in active {
        if let Some(cycle) = find_cycle(name, &deps) {
            let d = deps[*name]
                .iter()
                .find(|d| d.service == cycle[1])
                .map(|d| d.node);
            let at = d.map(|n| p.at(n)).unwrap_or_default();
            errors.entry(name.to_string()).or_insert(format!(
                "{at}: services.{name}.depends_on: dependency cycle: {}\n  hint: Compose refuses cycles too; remove one of the dependencies",
                cycle.join(" -> ")
            ));
        }
    }
    (deps, errors)
}

/// The services others wait on to be healthy, and to complete.
pub fn awaited(deps: &HashMap<String, Vec<Dep>>) -> (HashSet<String>, HashSet<String>) {
    let mut healthy = HashSet::new();
    let mut completed = HashSet::new();
    for ds in deps.values() {
        for d in ds {
            match d.condition {
                Condition::Healthy => healthy.insert(d.service.clone()),
                Condition::Completed => completed.insert(d.service.clone()),
                Condition::Started => false,
            };
        }
    }
    (healthy, completed)
}

fn depends_on<'n>(
    p: &Project,
    name: &str,
    node: &'n Node,
    active: &[(&str, &Node)],
    inactive: &HashMap<&str, Vec<String>>,
) -> Result<Vec<Dep<'n>>, String> {
    let path = format!("services.{name}.depends_on");
    let mut out = Vec::new();
    // (service, its node, its long syntax, from links:)
    let mut entries: Vec<(&str, &Node, Option<&Node>, bool)> = Vec::new();
    if let Some(dn) = node.get("depends_on") {
        match &dn.value {
            Value::Seq(items) => {
                for (i, it) in items.iter().enumerate() {
                    entries.push((text(p, it, &format!("{path}.{i}"))?, it, None, false));
                }
            }
            Value::Map(m) => {
                for (k, v) in m {
                    entries.push((&k.name, v, Some(v), false));
                }
            }
            Value::Null => {}
            Value::Scalar { .. } => {
                return Err(
                    Fail::at(p, dn, &path, "must be a list of services or a mapping").plain(),
                )
            }
        }
    }
    // links: SERVICE[:ALIAS] also orders, as depends_on with service_started does.
    for (link, at) in links(p, name, node)? {
        if !entries.iter().any(|(d, _, _, _)| *d == link.service) {
            entries.push((link.service, at, None, true));
        }
    }
    for (dep, at, long, link) in entries {
        let dpath = if link {
            format!("services.{name}.links")
        } else {
            format!("{path}.{dep}")
        };
        let (mut condition, mut required, mut restart) = (Condition::Started, true, false);
        if let Some(l) = long.filter(|l| !l.is_null()) {
            check_keys(p, l, &dpath, &["condition", "required", "restart"], &[])?;
            if let Some(c) = l.get("condition") {
                condition =
                    match text(p, c, &format!("{dpath}.condition"))? {
                        "service_started" => Condition::Started,
                        "service_healthy" => Condition::Healthy,
                        "service_completed_successfully" => Condition::Completed,
                        other => return Err(Fail::at(
                            p,
                            c,
                            &format!("{dpath}.condition"),
                            format!("unknown condition \"{other}\""),
                        )
                        .hint(
                            "service_started, service_healthy or service_completed_successfully",
                        )),
                    };
            }
            if let Some(r) = l.get("required") {
                required = flag(p, r, &format!("{dpath}.required"))?;
            }
            if let Some(r) = l.get("restart") {
                restart = flag(p, r, &format!("{dpath}.restart"))?;
            }
        }
        let found = active.iter().find(|(n, _)| *n == dep);
        match found {
            None if inactive.contains_key(dep) => {
                if required {
                    return Err(Fail::at(
                        p,
                        at,
                        &dpath,
                        format!(
                            "{dep} is in profile(s) {} that are not active",
                            inactive[dep].join(", ")
                        ),
                    )
                    .hint("add the profile to COMPOSE_PROFILES in .env, or set required: false"));
                }
                continue;
            }
            None => {
                let names: Vec<&str> = active.iter().map(|(n, _)| *n).collect();
                let f = Fail::at(
                    p,
                    at,
                    &dpath,
                    format!("depends on undefined service \"{dep}\""),
                );
                return Err(match crate::spell::closest(dep, &names) {
                    Some(s) => f.hint(format!("did you mean '{s}'?")),
                    None => f.hint("name a service of this project"),
                });
            }
            Some((_, dnode)) => {
                if condition == Condition::Healthy && dnode.get("healthcheck").is_none() {
                    p.warnings.borrow_mut().push(format!(
                        "{}: {dpath}: service_healthy, but {dep} has no healthcheck: in this file: it waits on the image's HEALTHCHECK (and fails to start without one)",
                        p.at(at)
                    ));
                }
            }
        }
        out.push(Dep {
            service: dep.to_string(),
            condition,
            required,
            restart,
            node: at,
        });
    }
    Ok(out)
}

/// One `links:` entry: `SERVICE` or `SERVICE:ALIAS`.
pub struct Link<'n> {
    pub service: &'n str,
    pub alias: Option<&'n str>,
}

/// A service's `links:`, each with its node.
pub fn links<'n>(
    p: &Project,
    name: &str,
    node: &'n Node,
) -> Result<Vec<(Link<'n>, &'n Node)>, String> {
    let Some(l) = node.get("links") else {
        return Ok(Vec::new());
    };
    let path = format!("services.{name}.links");
    let mut out = Vec::new();
    for (s, n) in string_list(p, l, &path)? {
        let (service, alias) = match s.split_once(':') {
            Some((svc, a)) => (svc, Some(a)),
            None => (s, None),
        };
        if service.is_empty() || alias.is_some_and(str::is_empty) {
            return Err(Fail::at(
                p,
                n,
                &path,
                format!("\"{s}\" is not SERVICE or SERVICE:ALIAS"),
            )
            .plain());
        }
        out.push((Link { service, alias }, n));
    }
    Ok(out)
}

/// A dependency cycle through `start`, as the list of services (`a -> b -> a`).
fn find_cycle(start: &str, deps: &HashMap<String, Vec<Dep>>) -> Option<Vec<String>> {
    let mut stack: Vec<(String, Vec<String>)> = vec![(start.to_string(), vec![start.to_string()])];
    let mut seen = HashSet::new();
    while let Some((cur, path)) = stack.pop() {
        for d in deps.get(&cur).map(Vec::as_slice).unwrap_or_default() {
            if d.service == start {
                let mut c = path.clone();
                c.push(start.to_string());
                return Some(c);
            }
            if seen.insert(d.service.clone()) {
                let mut np = path.clone();
                np.push(d.service.clone());
                stack.push((d.service.clone(), np));
            }
        }
    }
    None
}

/// A service whose required dependency failed to translate fails too, naming it (until
/// nothing changes: failures propagate along chains).
pub fn fail_dependents(
    p: &Project,
    deps: &HashMap<String, Vec<Dep>>,
    names: &Names,
    results: &mut [(String, Result<UnitFile, String>)],
) {
    loop {
        let failed: HashMap<String, String> = results
            .iter()
            .filter_map(|(n, r)| {
                r.as_ref()
                    .err()
                    .map(|e| (n.clone(), e.lines().next().unwrap_or("").to_string()))
            })
            .collect();
        let mut changed = false;
        for (name, r) in results.iter_mut() {
            if r.is_err() {
                continue;
            }
            let Some(d) = deps.get(name).and_then(|ds| {
                ds.iter()
                    .find(|d| d.required && failed.contains_key(&d.service))
            }) else {
                continue;
            };
            let unit = names.service_units(&d.service).join(" ");
            *r = Err(Fail::at(
                p,
                d.node,
                &format!("services.{name}.depends_on.{}", d.service),
                format!(
                    "depends on {} ({unit}), which failed: {}",
                    d.service, failed[&d.service]
                ),
            )
            .hint(format!(
                "fix {} first; this service is generated again once it translates",
                d.service
            )));
            changed = true;
        }
        if !changed {
            break;
        }
    }
}

/// What other services waiting on this one make of it (`Notify=healthy`, a oneshot), then its
/// own dependencies' `Wants=`/`After=`/`ExecCondition=`/`PartOf=`.
pub fn unit_lines(q: &mut Q, ctx: &Ctx, name: &str, node: &Node) -> Result<(), String> {
    let p = q.p;
    let path = format!("services.{name}");
    if ctx.healthy.contains(name) {
        if ctx.completed.contains(name) {
            return Err(Fail::at(
                p,
                node,
                &path,
                "other services wait both for it to be healthy and for it to complete",
            )
            .hint("use one condition for this service in every depends_on"));
        }
        q.raw("Container", "Notify", "healthy", node);
    }
    if ctx.completed.contains(name) {
        q.raw("Service", "Type", "oneshot", node);
        q.raw("Service", "RemainAfterExit", "yes", node);
    }
    for d in ctx.deps.get(name).map(Vec::as_slice).unwrap_or_default() {
        let units = ctx.names.service_units(&d.service).join(" ");
        q.raw("Unit", "Wants", &units, d.node);
        q.raw("Unit", "After", &units, d.node);
        if d.restart {
            q.raw("Unit", "PartOf", &units, d.node);
        }
    }
    Ok(())
}

/// The steps that make a required dependency late rather than fatal: the service is skipped
/// (not failed) while a dependency is not active, and remembered as waiting (`await`); a
/// service others wait for starts those, once it is up itself (`release`, after its
/// readiness: running, healthy or completed).
pub fn runtime_lines(q: &mut Q, ctx: &Ctx, name: &str, node: &Node) {
    let mut units: Vec<String> = Vec::new();
    let mut at = node;
    for d in ctx.deps.get(name).map(Vec::as_slice).unwrap_or_default() {
        if d.required {
            units.extend(ctx.names.service_units(&d.service));
            at = d.node;
        }
    }
    if !units.is_empty() {
        q.raw(
            "Service",
            "ExecCondition",
            &ctx.steps.await_units(&units),
            at,
        );
    }
    let mut waiting: Vec<String> = Vec::new();
    let mut services: Vec<&String> = ctx.deps.keys().collect();
    services.sort();
    for other in services {
        if ctx.deps[other]
            .iter()
            .any(|d| d.required && d.service == name)
        {
            waiting.extend(ctx.names.service_units(other));
        }
    }
    if !waiting.is_empty() {
        q.raw(
            "Service",
            "ExecStartPost",
            &ctx.steps.release(&waiting),
            node,
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::compose::testing::{Project, Units};
    use crate::unitfile::UnitFile;

    /// Each unit of a project of `services:` `text`, by service name (`app-db@` for a
    /// template), with the warnings.
    fn units(test: &str, text: &str) -> (Units, Vec<String>) {
        let (units, warnings) = Project::new(test, &format!("services:\n{text}")).translate();
        let units = units
            .into_iter()
            .filter_map(|(n, u)| {
                let s = n.strip_prefix("app-")?.strip_suffix(".container")?;
                Some((s.to_string(), u))
            })
            .collect();
        (units, warnings)
    }

    fn get<'u>(
        units: &'u [(String, Result<UnitFile, String>)],
        s: &str,
    ) -> &'u Result<UnitFile, String> {
        &units
            .iter()
            .find(|(n, _)| n == s)
            .unwrap_or_else(|| panic!("no {s}"))
            .1
    }

    fn unit<'u>(units: &'u [(String, Result<UnitFile, String>)], s: &str) -> &'u UnitFile {
        get(units, s)
            .as_ref()
            .unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn error<'u>(units: &'u [(String, Result<UnitFile, String>)], s: &str) -> &'u str {
        match get(units, s) {
            Err(e) => e,
            Ok(_) => panic!("{s} was made"),
        }
    }

    fn steps(u: &UnitFile, key: &str, step: &str) -> Vec<String> {
        u.lookup_all("Service", key)
            .into_iter()
            .filter(|s| s.contains(&format!(" compose {step} ")))
            .map(|s| s[s.find(" compose ").unwrap()..].to_string())
            .collect()
    }

    const WAITING: &str = "--waiting %t/unitsmith/compose-run/app/waiting";

    /// A dependency orders (Wants= + After=), is awaited (the service is skipped while it is
    /// not up) and releases the services waiting for it once up; restart: true adds PartOf=.
    #[test]
    fn a_required_dependency() {
        let (u, w) = units(
            "deps-required",
            "  web:\n    image: nginx\n    depends_on:\n      db: {restart: true}\n  db:\n    image: db\n    scale: 2\n",
        );
        assert!(w.is_empty(), "{w:?}");
        let web = unit(&u, "web");
        let db_units = "app-db@1.service app-db@2.service";
        assert_eq!(web.lookup_all("Unit", "Wants"), [db_units]);
        assert_eq!(web.lookup_all("Unit", "After"), [db_units]);
        assert_eq!(web.lookup_all("Unit", "PartOf"), ["app.target", db_units]);
        assert_eq!(
            steps(web, "ExecCondition", "await"),
            [format!(" compose await {WAITING} %n {db_units}")]
        );
        assert!(steps(web, "ExecStartPost", "release").is_empty());
        let db = unit(&u, "db@");
        assert_eq!(
            steps(db, "ExecStartPost", "release"),
            [format!(" compose release {WAITING} app-web.service")]
        );
        assert!(steps(db, "ExecCondition", "await").is_empty());
        assert!(db.lookup_all("Unit", "Wants").is_empty());
        assert!(db.lookup_all("Container", "Notify").is_empty());
        assert!(db.lookup_all("Service", "Type").is_empty());
    }

    /// `required: false` orders only: nothing awaited, nothing released.
    #[test]
    fn an_optional_dependency() {
        let (u, _) = units(
            "deps-optional",
            "  web:\n    image: nginx\n    depends_on:\n      db: {required: false}\n  db:\n    image: db\n",
        );
        let web = unit(&u, "web");
        assert_eq!(web.lookup_all("Unit", "After"), ["app-db.service"]);
        assert_eq!(web.lookup_all("Unit", "PartOf"), ["app.target"]);
        assert!(steps(web, "ExecCondition", "await").is_empty());
        assert!(steps(unit(&u, "db"), "ExecStartPost", "release").is_empty());
    }

    /// What a condition makes of the service waited for: Notify=healthy, or a oneshot; never
    /// both. A healthy wait on a service without a healthcheck warns.
    #[test]
    fn conditions() {
        let (u, w) = units(
            "deps-conditions",
            "  web:\n    image: nginx\n    depends_on:\n      db: {condition: service_healthy}\n      init:\n        condition: service_completed_successfully\n      log:\n        condition: service_started\n  db:\n    image: db\n    healthcheck: {test: [CMD, x]}\n  init:\n    image: init\n  log:\n    image: log\n",
        );
        assert!(w.is_empty(), "{w:?}");
        let db = unit(&u, "db");
        assert_eq!(db.lookup_all("Container", "Notify"), ["healthy"]);
        assert!(db.lookup_all("Service", "Type").is_empty());
        let init = unit(&u, "init");
        assert_eq!(init.lookup_all("Service", "Type"), ["oneshot"]);
        assert_eq!(init.lookup_all("Service", "RemainAfterExit"), ["yes"]);
        assert!(init.lookup_all("Container", "Notify").is_empty());
        let log = unit(&u, "log");
        assert!(log.lookup_all("Container", "Notify").is_empty());
        assert!(log.lookup_all("Service", "Type").is_empty());
        assert_eq!(
            unit(&u, "web").lookup_all("Unit", "After"),
            ["app-db.service", "app-init.service", "app-log.service"]
        );

        let (u, w) = units(
            "deps-no-healthcheck",
            "  web:\n    image: nginx\n    depends_on:\n      db:\n        condition: service_healthy\n  db:\n    image: db\n",
        );
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains(
                ":6: services.web.depends_on.db: service_healthy, but db has no healthcheck"
            ),
            "{w:?}"
        );
        unit(&u, "web");

        let (u, _) = units(
            "deps-both",
            "  a:\n    image: a\n    depends_on:\n      db: {condition: service_healthy}\n  b:\n    image: b\n    depends_on:\n      db: {condition: service_completed_successfully}\n  db:\n    image: db\n    healthcheck: {test: [CMD, x]}\n",
        );
        assert!(error(&u, "db").contains("wait both for it to be healthy and for it to complete"));
        let (u, _) = units(
            "deps-bad-condition",
            "  a:\n    image: a\n    depends_on:\n      db: {condition: service_ready}\n  db:\n    image: db\n",
        );
        assert!(error(&u, "a").contains("unknown condition \"service_ready\""));
    }

    /// links: orders as depends_on does, once when both name a service.
    #[test]
    fn links_order_too() {
        let (u, _) = units(
            "deps-links",
            "  web:\n    image: nginx\n    depends_on: [db]\n    links: ['db:database', cache]\n  db:\n    image: db\n  cache:\n    image: cache\n",
        );
        let web = unit(&u, "web");
        assert_eq!(
            web.lookup_all("Unit", "Wants"),
            ["app-db.service", "app-cache.service"]
        );
        for bad in ["'db:'", "':db'", "''"] {
            let (u, _) = units(
                &format!("deps-bad-link-{}", bad.len()),
                &format!("  web:\n    image: nginx\n    links: [{bad}]\n  db:\n    image: db\n"),
            );
            let e = error(&u, "web");
            assert!(e.contains("is not SERVICE or SERVICE:ALIAS"), "{bad}: {e}");
        }
    }

    /// A dependency outside the active profiles: an error when required, left out when not;
    /// one that does not exist is an error.
    #[test]
    fn missing_dependencies() {
        let project = |required: bool| {
            format!("  web:\n    image: nginx\n    depends_on:\n      db: {{required: {required}}}\n  db:\n    image: db\n    profiles: [debug]\n")
        };
        let (u, _) = units("deps-profile-required", &project(true));
        let e = error(&u, "web");
        assert!(
            e.contains("db is in profile(s) debug that are not active"),
            "{e}"
        );
        let (u, _) = units("deps-profile-optional", &project(false));
        assert!(unit(&u, "web").lookup_all("Unit", "After").is_empty());
        let (u, _) = units(
            "deps-undefined",
            "  web:\n    image: nginx\n    depends_on: [dc]\n  db:\n    image: db\n",
        );
        let e = error(&u, "web");
        assert!(e.contains("depends on undefined service \"dc\""), "{e}");
        assert!(e.contains("did you mean 'db'?"), "{e}");
    }

    /// A cycle fails each service on it, at the line of its dependency on the next one.
    #[test]
    fn cycles() {
        let (u, _) = units(
            "deps-cycle",
            "  a:\n    image: a\n    depends_on: [c, b]\n  b:\n    image: b\n    depends_on: [a]\n  c:\n    image: c\n",
        );
        let e = error(&u, "a");
        assert!(
            e.contains("compose.yaml:4: services.a.depends_on: dependency cycle: a -> b -> a"),
            "{e}"
        );
        let e = error(&u, "b");
        assert!(
            e.contains("compose.yaml:7: services.b.depends_on: dependency cycle: b -> a -> b"),
            "{e}"
        );
        unit(&u, "c");
    }

    /// A service whose required dependency failed fails too, along a chain; an optional one
    /// does not.
    #[test]
    fn failures_propagate_to_dependents() {
        let (u, _) = units(
            "deps-failed",
            "  a:\n    image: a\n    depends_on: [b]\n  b:\n    image: b\n    depends_on: [c]\n  c:\n    image: c\n    restart: sometimes\n  d:\n    image: d\n    depends_on:\n      c: {required: false}\n",
        );
        assert!(error(&u, "c").contains("unknown restart policy"));
        let e = error(&u, "b");
        assert!(
            e.contains("services.b.depends_on.c: depends on c (app-c.service), which failed:"),
            "{e}"
        );
        let e = error(&u, "a");
        assert!(
            e.contains("services.a.depends_on.b: depends on b (app-b.service), which failed:"),
            "{e}"
        );
        unit(&u, "d");
    }
}

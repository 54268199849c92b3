//! A project's services → in-memory `.container` (and `.build`) units, with their ordering
//! (`depends_on`), and the project's target. Every Compose key of a service is either
//! translated or refused by line; none is passed over: [`keys`] says which and how, each key
//! family's module how its keys become Quadlet.

mod deps;
mod environment;
mod health;
mod image;
pub mod keys;
mod lifecycle;
#[cfg(test)]
mod lifecycle_tests;
mod limits;
mod networking;
mod process;
mod reference;
mod select;
mod volumes;

use std::collections::{HashMap, HashSet};

use super::check::{check_keys, Fail};
use super::resources::{self, Mounted, Resource};
use super::runtime::{self, Steps};
use super::unit::Q;
use super::yaml::Node;
use super::{Made, Names, Project, Translated};
use crate::quadlet::Kind;
use crate::unitfile::UnitFile;
use deps::Dep;

/// Everything services refer to by name.
pub struct Ctx<'n> {
    steps: Steps<'n>,
    /// Service → the aliases other services' `links:` give it.
    link_aliases: HashMap<String, Vec<String>>,
    volumes: HashMap<String, Resource>,
    networks: HashMap<String, Resource>,
    secrets: HashMap<String, Mounted>,
    configs: HashMap<String, Mounted>,
    healthy: HashSet<String>,
    completed: HashSet<String>,
    deps: HashMap<String, Vec<Dep<'n>>>,
    names: Names<'n>,
}

/// The service being translated, as a key's translation sees it.
pub struct Service<'a> {
    pub name: &'a str,
    pub node: &'a Node,
    pub ctx: &'a Ctx<'a>,
}

/// A key family's translation of one key: the unit being written, the service, the key's
/// value and its dotted path (`services.web.ports`).
pub type Handler = fn(&mut Q, &Service, &Node, &str) -> Result<(), String>;

/// Translate a loaded project; an error is one about the whole project. Units call the
/// `unitsmith` helper at `helper` (see `runtime`).
pub fn translate(p: &Project, helper: &str, out: &mut Translated) {
    let mut made = Vec::new();
    let result = translate_services(p, helper, &mut made);
    out.warnings.append(&mut p.warnings.borrow_mut());
    match result {
        Ok((target, wants)) => {
            out.made.append(&mut made);
            out.targets.push(super::Target {
                unit: target,
                source: p.files[0].clone(),
                wants,
                untrusted: false,
            });
        }
        Err(e) => {
            out.made.push(Made {
                input: super::synthetic(&format!("{}.container", p.name), &p.files[0]),
                kind: Kind::Container,
                result: Err(e),
            });
            let mut target = super::target_unit(&p.name, &p.files[0], p.user);
            target.add("Unit", "Requires", &format!("{}.service", p.name));
            target.add("Unit", "After", &format!("{}.service", p.name));
            out.targets.push(super::Target {
                unit: target,
                source: p.files[0].clone(),
                wants: Vec::new(),
                untrusted: false,
            });
        }
    }
}

fn translate_services(
    p: &Project,
    helper: &str,
    made: &mut Vec<Made>,
) -> Result<(UnitFile, Vec<String>), String> {
    check_keys(p, &p.root, "(top level)", keys::TOP, keys::TOP_UNSUPPORTED)
        .map_err(|e| e.replace("(top level).", ""))?;
    if let Some(s) = p.root.get("services") {
        if s.as_map().is_none() && !s.is_null() {
            return Err(Fail::at(p, s, "services", "must be a mapping of service names").plain());
        }
    }
    let all = super::services(&p.root);
    for (name, line, _) in &all {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(Fail::at_line(
                p,
                0,
                *line,
                &format!("services.{name}"),
                "a service name is letters, digits, '.', '_' and '-'",
            )
            .plain());
        }
    }
    let (active, inactive) = select::by_profile(p, &all)?;
    let mut replicas = HashMap::new();
    for (name, node) in &active {
        replicas.insert(name.to_string(), select::replica_count(p, name, node)?);
    }
    let names = Names {
        project: &p.name,
        replicas,
    };

    // What the services refer to.
    let default_used = active.iter().any(|(_, node)| {
        node.get("network_mode").is_none() && node.get("networks").is_none_or(Node::is_null)
    });
    let volumes: HashMap<String, Resource> = resources::volumes(p, made).into_iter().collect();
    let networks: HashMap<String, Resource> = resources::networks(p, made, default_used)
        .into_iter()
        .collect();
    let secrets: HashMap<String, Mounted> = resources::files(p, false)?.into_iter().collect();
    let configs: HashMap<String, Mounted> = resources::files(p, true)?.into_iter().collect();

    let (deps, mut dep_errors) = deps::resolve(p, &active, &inactive);
    let (healthy, completed) = deps::awaited(&deps);
    let mut link_aliases: HashMap<String, Vec<String>> = HashMap::new();
    for (name, node) in &active {
        // (A malformed links: is the service's own error, from deps::resolve.)
        for (link, _) in deps::links(p, name, node).unwrap_or_default() {
            if let Some(a) = link.alias.filter(|a| *a != link.service) {
                let list = link_aliases.entry(link.service.to_string()).or_default();
                if !list.iter().any(|x| x == a) {
                    list.push(a.to_string());
                }
            }
        }
    }
    let ctx = Ctx {
        steps: Steps {
            helper,
            project: &p.name,
            user: p.user,
        },
        link_aliases,
        volumes,
        networks,
        secrets,
        configs,
        healthy,
        completed,
        deps,
        names,
    };

    // Each service; then a service whose required dependency failed fails too.
    let mut results: Vec<(String, Result<UnitFile, String>)> = Vec::new();
    for (name, node) in &active {
        let r = match dep_errors.remove(*name) {
            Some(e) => Err(e),
            None => container(p, &ctx, name, node, made),
        };
        results.push((name.to_string(), r));
    }
    deps::fail_dependents(p, &ctx.deps, &ctx.names, &mut results);

    let target = super::target_unit(&p.name, &p.files[0], p.user);
    let mut wants = Vec::new();
    for (name, r) in results {
        let file = ctx.names.container_file(&name);
        if ctx.names.replicas.get(&name).copied().unwrap_or(1) > 0 {
            wants.extend(ctx.names.service_units(&name));
        }
        made.push(Made {
            input: super::synthetic(&file, &p.files[0]),
            kind: Kind::Container,
            result: r,
        });
    }
    Ok((target, wants))
}

/// One service's `.container` unit (and its `.build`, pushed to `made`): first what the
/// other keys build on (name, image, networks, dependencies), then every key in file order
/// as [`keys::SERVICE`] says.
fn container(
    p: &Project,
    ctx: &Ctx,
    name: &str,
    node: &Node,
    made: &mut Vec<Made>,
) -> Result<UnitFile, String> {
    let path = format!("services.{name}");
    if let Some(e) = p.broken_under(&path) {
        return Err(e);
    }
    if node.as_map().is_none() {
        return Err(Fail::at(
            p,
            node,
            &path,
            format!("must be a mapping, not {}", node.kind()),
        )
        .plain());
    }
    check_keys(p, node, &path, &keys::supported(), keys::UNSUPPORTED)?;
    let file = ctx.names.container_file(name);
    let mut q = Q::new(p, &file);
    q.raw(
        "Unit",
        "Description",
        &format!("{}: Compose service {name}", p.name),
        node,
    );
    q.raw("Unit", "PartOf", &format!("{}.target", p.name), node);
    image::container_name(&mut q, ctx, name, node)?;
    let image = image::image(&mut q, ctx, name, node, made)?;
    networking::networking(&mut q, ctx, name, node)?;
    deps::unit_lines(&mut q, ctx, name, node)?;

    let service = Service { name, node, ctx };
    for (k, v) in node.as_map().unwrap_or_default() {
        // (x- extensions have no translation: check_keys let nothing else through.)
        if let Some(t) = keys::translation(&k.name) {
            keys::apply(&mut q, &service, t, v, &format!("{path}.{}", k.name))?;
        }
    }
    runtime_steps(&mut q, &service, &image);
    Ok(q.unit)
}

/// What runs around `podman run`, once every key is read (see `runtime`): the volumes step,
/// the restart limit, the dependency steps, and a start timeout that fits the pull and the
/// health check the unit waits for.
fn runtime_steps(q: &mut Q, s: &Service, image: &image::Image) {
    let ctx = s.ctx;
    let prefix = ctx.names.container_prefix(s.name);
    let step = ctx.steps.volumes(
        &image.reference,
        &prefix,
        s.name,
        &q.notes.mounted,
        &q.notes.anonymous,
    );
    q.raw("Service", "ExecStartPre", &step, s.node);
    let file = ctx.steps.runtime_file(&format!("{prefix}.volumes"));
    q.raw("Service", "EnvironmentFile", &format!("-{file}"), s.node);
    q.raw(
        "Container",
        "PodmanArgs",
        &format!("${}", runtime::VOLUMES_VAR),
        s.node,
    );
    if let Some(n) = q.notes.restart_limit {
        let at = s.node.get("restart").unwrap_or(s.node);
        q.raw("Service", "ExecCondition", &ctx.steps.restart_limit(n), at);
    }
    deps::runtime_lines(q, ctx, s.name, s.node);
    let oneshot = ctx.completed.contains(s.name);
    let health = ctx
        .healthy
        .contains(s.name)
        .then(|| health::wait_secs(s.node.get("healthcheck")));
    if let Some(secs) = start_timeout(image.pulled, health, oneshot) {
        q.raw("Service", "TimeoutStartSec", &secs.to_string(), s.node);
    }
}

/// The start timeout (seconds) of a unit that pulls its image first and/or becomes active only
/// once healthy: systemd's default 90 s for the rest, plus the pull's own limit, plus the
/// longest the health check may take. `None`: the default fits, or a oneshot (no limit).
fn start_timeout(pulled: bool, health: Option<u64>, oneshot: bool) -> Option<u64> {
    if oneshot || (!pulled && health.is_none()) {
        return None;
    }
    let pull = if pulled {
        runtime::PULL_TIMEOUT_SECS
    } else {
        0
    };
    Some(90 + pull + health.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::start_timeout;
    use crate::compose::runtime::PULL_TIMEOUT_SECS;
    use crate::compose::testing::{web, Project};

    /// The error of a project refused whole (its failure stub `app.container`).
    fn project_error(test: &str, text: &str) -> Option<String> {
        let (units, _) = Project::new(test, text).translate();
        units
            .into_iter()
            .find(|(n, _)| n == "app.container")
            .map(|(_, r)| r.unwrap_err())
    }

    fn names(test: &str, text: &str) -> Vec<String> {
        let (units, _) = Project::new(test, text).translate();
        units.into_iter().map(|(n, _)| n).collect()
    }

    /// `services:` is a mapping, or nothing; a service's name is letters, digits, `.`, `_`
    /// and `-`.
    #[test]
    fn services_and_their_names() {
        let e = project_error("services-scalar", "services: 5\n").unwrap();
        assert!(
            e.contains("compose.yaml:1: services: must be a mapping of service names"),
            "{e}"
        );
        assert_eq!(project_error("services-null", "services:\n"), None);
        for bad in ["'a b'", "'a/b'", "''"] {
            let text = format!("services:\n  x:\n    image: x\n  {bad}:\n    image: x\n");
            let e = project_error("service-name", &text).unwrap();
            assert!(
                e.contains("compose.yaml:4: services.") && e.contains("a service name is"),
                "{bad}: {e}"
            );
        }
        let ok = names("service-name-ok", "services:\n  a.b_c-1:\n    image: x\n");
        assert!(ok.contains(&"app-a.b_c-1.container".to_string()), "{ok:?}");
    }

    /// The project's default network is made when a service uses it, not for one that has
    /// a network_mode: only.
    #[test]
    fn the_default_network_only_when_used() {
        let host = names(
            "default-net-host",
            "services:\n  web:\n    image: x\n    network_mode: host\n",
        );
        assert!(
            !host.contains(&"app-default.network".to_string()),
            "{host:?}"
        );
        let used = names("default-net-used", "services:\n  web:\n    image: x\n");
        assert!(
            used.contains(&"app-default.network".to_string()),
            "{used:?}"
        );
    }

    /// `links: [db:database]` makes `database` an alias of db, once however many services
    /// give it; a link by the service's own name adds nothing.
    #[test]
    fn link_aliases() {
        let aliases = |test: &str, links: &str| {
            let p = Project::new(
                test,
                &format!("services:\n  db:\n    image: db\n  web:\n    image: x\n    links: {links}\n  api:\n    image: x\n    links: {links}\n"),
            );
            let u = p.service("db").unwrap();
            u.lookup_all("Container", "NetworkAlias")
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            aliases("links-alias", "['db:database']"),
            ["db", "database"]
        );
        assert_eq!(aliases("links-self", "['db:db', db]"), ["db"]);
        assert_eq!(
            aliases("links-two", "['db:database', 'db:store']"),
            ["db", "database", "store"]
        );
    }

    /// The target wants each replica of a service, and none of a service scaled to 0.
    #[test]
    fn the_target_wants_each_replica() {
        let p = Project::new(
            "wants",
            "services:\n  one:\n    image: x\n  none:\n    image: x\n    scale: 0\n  two:\n    image: x\n    scale: 2\n",
        );
        let (wants, requires) = p.wants();
        assert_eq!(
            wants,
            ["app-one.service", "app-two@1.service", "app-two@2.service"]
        );
        assert!(requires.is_empty(), "{requires:?}");
        // A project refused whole: its target requires the failure stub.
        let (wants, requires) = Project::new("wants-failed", "services: 5\n").wants();
        assert!(wants.is_empty(), "{wants:?}");
        assert_eq!(requires, ["app.service"]);
    }

    /// Every container runs the volumes step before `podman run`, with its variable.
    #[test]
    fn the_runtime_steps() {
        let u = web("runtime-steps", "services:\n  web:\n    image: x\n").unwrap();
        let pre = u.lookup_all("Service", "ExecStartPre");
        assert!(pre.iter().any(|s| s.contains("compose volumes")), "{pre:?}");
        assert!(u
            .lookup_all("Service", "EnvironmentFile")
            .iter()
            .any(|f| f.starts_with('-') && f.ends_with("app-web-1.volumes")));
        assert!(!u.lookup_all("Container", "PodmanArgs").is_empty());
    }

    /// 90 s, plus the pull's limit when it pulls, plus the health check's longest wait; none
    /// for a oneshot or when the default fits.
    #[test]
    fn start_timeouts() {
        assert_eq!(start_timeout(false, None, false), None);
        assert_eq!(start_timeout(true, Some(5), true), None);
        assert_eq!(start_timeout(false, Some(5), true), None);
        assert_eq!(
            start_timeout(true, None, false),
            Some(90 + PULL_TIMEOUT_SECS)
        );
        assert_eq!(start_timeout(false, Some(7), false), Some(97));
        assert_eq!(
            start_timeout(true, Some(7), false),
            Some(97 + PULL_TIMEOUT_SECS)
        );
    }
}

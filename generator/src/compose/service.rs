//! A project's services → in-memory `.container` (and `.build`) units, with their ordering
//! (`depends_on`), and the project's target. Every Compose key of a service is either
//! translated here or refused by line; none is passed over.

use std::collections::{HashMap, HashSet};
use std::fmt::Display;

use super::resources::{self, Mounted, Resource};
use super::yaml::{Node, Value};
use super::{values, Made, Names, Project, Translated};
use crate::quadlet::Kind;
use crate::unitfile::UnitFile;

/// Service keys that are translated (see `man 5 unitsmith.compose` for what each becomes).
pub const SERVICE_KEYS: &[&str] = &[
    "image",
    "build",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "ports",
    "expose",
    "volumes",
    "tmpfs",
    "networks",
    "network_mode",
    "depends_on",
    "restart",
    "healthcheck",
    "user",
    "group_add",
    "working_dir",
    "hostname",
    "domainname",
    "labels",
    "annotations",
    "cap_add",
    "cap_drop",
    "devices",
    "extra_hosts",
    "dns",
    "dns_search",
    "dns_opt",
    "sysctls",
    "ulimits",
    "init",
    "read_only",
    "stop_signal",
    "stop_grace_period",
    "shm_size",
    "mem_limit",
    "cpus",
    "pids_limit",
    "secrets",
    "configs",
    "profiles",
    "scale",
    "deploy",
    "container_name",
    "logging",
    "privileged",
    "security_opt",
    "tty",
    "stdin_open",
    "pull_policy",
    "platform",
    "ipc",
    "pid",
    "userns_mode",
];

/// Keys of the Compose specification that unitsmith does not translate: a service using one
/// becomes a failure stub naming it.
pub const SERVICE_KEYS_UNSUPPORTED: &[&str] = &[
    "attach",
    "blkio_config",
    "cpu_count",
    "cpu_percent",
    "cpu_shares",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_runtime",
    "cpu_rt_period",
    "cpuset",
    "cgroup",
    "cgroup_parent",
    "credential_spec",
    "develop",
    "device_cgroup_rules",
    "extends",
    "external_links",
    "gpus",
    "isolation",
    "label_file",
    "links",
    "mac_address",
    "mem_reservation",
    "mem_swappiness",
    "memswap_limit",
    "models",
    "oom_kill_disable",
    "oom_score_adj",
    "post_start",
    "pre_start",
    "pre_stop",
    "provider",
    "runtime",
    "storage_opt",
    "use_api_socket",
    "uts",
    "volumes_from",
];

/// Top-level keys.
const TOP_KEYS: &[&str] = &[
    "version", "name", "services", "networks", "volumes", "secrets", "configs",
];
const TOP_KEYS_UNSUPPORTED: &[&str] = &["include", "models"];

/// An error about a node: `file:line: path: message`, and a hint.
pub struct Fail(String);

impl Fail {
    pub fn at(p: &Project, node: &Node, path: &str, msg: impl Display) -> Fail {
        Fail(format!("{}: {path}: {msg}", p.at(node)))
    }

    pub fn at_line(p: &Project, file: usize, line: usize, path: &str, msg: impl Display) -> Fail {
        Fail(format!("{}: {path}: {msg}", p.at_line(file, line)))
    }

    pub fn hint(self, hint: impl Display) -> String {
        format!("{}\n  hint: {hint}", self.0)
    }

    pub fn plain(self) -> String {
        self.0
    }
}

/// Refuse keys of `node` (a mapping) that are not in `supported`: `unsupported` ones as not
/// translated by unitsmith, others as unknown (with a did-you-mean). `x-` keys are
/// extensions, which the specification says to ignore.
pub fn check_keys(
    p: &Project,
    node: &Node,
    path: &str,
    supported: &[&str],
    unsupported: &[&str],
) -> Result<(), String> {
    let Some(map) = node.as_map() else {
        if node.is_null() {
            return Ok(());
        }
        return Err(Fail::at(
            p,
            node,
            path,
            format!("must be a mapping, not {}", node.kind()),
        )
        .plain());
    };
    for (k, _) in map {
        if k.name.starts_with("x-") || supported.contains(&k.name.as_str()) {
            continue;
        }
        let at = Fail::at_line(
            p,
            file_of(node, &k.name),
            k.line,
            &format!("{path}.{}", k.name),
            "",
        );
        if unsupported.contains(&k.name.as_str()) {
            let f = Fail(at.0.trim_end_matches(": ").to_string() + ": not supported by unitsmith");
            return Err(if path.starts_with("services.") {
                f.hint("remove it, or run this service from a Quadlet .container file (PodmanArgs= takes any podman run flag); man 5 unitsmith.compose lists what is supported")
            } else {
                f.hint("remove it; man 5 unitsmith.compose lists what is supported")
            });
        }
        let all: Vec<&str> = supported.iter().chain(unsupported).copied().collect();
        let f = Fail(at.0.trim_end_matches(": ").to_string() + ": unknown key");
        return Err(match crate::spell::closest(&k.name, &all) {
            Some(s) => f.hint(format!("did you mean '{s}'?")),
            None => f.hint("see man 5 unitsmith.compose for the keys of the Compose specification that are supported"),
        });
    }
    Ok(())
}

/// The file a key of a mapping came from (the override file may have added it).
fn file_of(node: &Node, key: &str) -> usize {
    node.get(key).map_or(node.file, |v| v.file)
}

/// A boolean: `true`/`false` (any case), quoted or not.
pub fn flag(p: &Project, node: &Node, path: &str) -> Result<bool, String> {
    match node.as_str().map(str::to_ascii_lowercase).as_deref() {
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        _ => Err(Fail::at(
            p,
            node,
            path,
            format!("must be true or false, not {}", shown(node)),
        )
        .hint("YAML 1.2 booleans are true and false (yes/no are strings)")),
    }
}

fn shown(node: &Node) -> String {
    match node.as_str() {
        Some(s) => format!("\"{s}\""),
        None => node.kind().to_string(),
    }
}

fn text<'n>(p: &Project, node: &'n Node, path: &str) -> Result<&'n str, String> {
    node.as_str().ok_or_else(|| {
        Fail::at(
            p,
            node,
            path,
            format!("must be a string, not {}", node.kind()),
        )
        .plain()
    })
}

/// A string or a list of strings, as a list (each with its node).
fn string_list<'n>(
    p: &Project,
    node: &'n Node,
    path: &str,
) -> Result<Vec<(&'n str, &'n Node)>, String> {
    match &node.value {
        Value::Scalar { text, .. } => Ok(vec![(text.as_str(), node)]),
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .map(|(i, n)| text(p, n, &format!("{path}.{i}")).map(|t| (t, n)))
            .collect(),
        Value::Null => Ok(Vec::new()),
        Value::Map(_) => {
            Err(Fail::at(p, node, path, "must be a string or a list of strings").plain())
        }
    }
}

/// An in-memory Quadlet unit being written, every line with its Compose line.
pub struct Q<'p> {
    pub p: &'p Project<'p>,
    pub unit: UnitFile,
}

impl<'p> Q<'p> {
    pub fn new(p: &'p Project<'p>, filename: &str) -> Q<'p> {
        Q {
            p,
            unit: p.unit(filename),
        }
    }

    /// A literal value taken as written (see [`values::single`]).
    pub fn set_at(&mut self, group: &str, key: &str, value: &str, at: &Node) -> Result<(), String> {
        let v = values::single(value).map_err(|e| Fail::at(self.p, at, key, e).plain())?;
        self.unit.add_from(group, key, &v, at.file, at.line);
        Ok(())
    }

    /// A scalar node's value taken as written.
    pub fn single(
        &mut self,
        group: &str,
        key: &str,
        node: &Node,
        path: &str,
    ) -> Result<(), String> {
        let t = text(self.p, node, path)?;
        let v = values::single(t).map_err(|e| Fail::at(self.p, node, path, e).plain())?;
        self.unit.add_from(group, key, &v, node.file, node.line);
        Ok(())
    }

    /// A literal value for a key Quadlet splits into words.
    pub fn add_word(&mut self, group: &str, key: &str, value: &str, at: &Node) {
        self.unit
            .add_from(group, key, &values::word(value), at.file, at.line);
    }

    /// A literal value for a key Quadlet splits as a list on blanks.
    fn list_item(
        &mut self,
        group: &str,
        key: &str,
        value: &str,
        at: &Node,
        path: &str,
    ) -> Result<(), String> {
        let v = values::list_item(value).map_err(|e| Fail::at(self.p, at, path, e).plain())?;
        self.unit.add_from(group, key, &v, at.file, at.line);
        Ok(())
    }

    /// Unit names and other values made here, with nothing to escape.
    pub fn raw(&mut self, group: &str, key: &str, value: &str, at: &Node) {
        self.unit.add_from(group, key, value, at.file, at.line);
    }

    pub fn warn(&self, node: &Node, path: &str, msg: &str) {
        self.p
            .warnings
            .borrow_mut()
            .push(format!("{}: {path}: {msg}", self.p.at(node)));
    }
}

/// One `depends_on` entry.
struct Dep<'n> {
    service: String,
    condition: Condition,
    required: bool,
    restart: bool,
    node: &'n Node,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Condition {
    Started,
    Healthy,
    Completed,
}

/// Everything services refer to by name.
struct Ctx<'n> {
    volumes: HashMap<String, Resource>,
    networks: HashMap<String, Resource>,
    secrets: HashMap<String, Mounted>,
    configs: HashMap<String, Mounted>,
    healthy: HashSet<String>,
    completed: HashSet<String>,
    deps: HashMap<String, Vec<Dep<'n>>>,
    names: Names<'n>,
}

/// Translate a loaded project; an error is one about the whole project.
pub fn translate(p: &Project, out: &mut Translated) {
    let mut made = Vec::new();
    let result = translate_services(p, &mut made);
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
    made: &mut Vec<Made>,
) -> Result<(UnitFile, Vec<String>), String> {
    check_keys(p, &p.root, "(top level)", TOP_KEYS, TOP_KEYS_UNSUPPORTED)
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

    // Profiles: a service with profiles runs only when one of them is active.
    let active_profiles: Vec<String> = p
        .vars
        .get("COMPOSE_PROFILES")
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let mut active: Vec<(&str, &Node)> = Vec::new();
    let mut inactive: HashMap<&str, Vec<String>> = HashMap::new();
    for (name, _, node) in &all {
        match node.get("profiles") {
            None => active.push((name, node)),
            Some(pn) => {
                let list = string_list(p, pn, &format!("services.{name}.profiles"))?;
                let profiles: Vec<String> = list.iter().map(|(s, _)| s.to_string()).collect();
                if profiles.is_empty()
                    || profiles.iter().any(|pr| {
                        active_profiles.contains(pr) || active_profiles.iter().any(|a| a == "*")
                    })
                {
                    active.push((name, node));
                } else {
                    crate::log_debug!(
                        "{}: services.{name}: not generated: its profiles ({}) are not in COMPOSE_PROFILES",
                        p.at(pn),
                        profiles.join(", ")
                    );
                    inactive.insert(name, profiles);
                }
            }
        }
    }

    // Replicas.
    let mut replicas = HashMap::new();
    for (name, node) in &active {
        replicas.insert(name.to_string(), replica_count(p, name, node)?);
    }
    let names = Names {
        project: &p.name,
        replicas,
    };

    // What the services refer to.
    let mut default_used = false;
    for (_, node) in &active {
        if node.get("network_mode").is_none() && node.get("networks").is_none_or(Node::is_null) {
            default_used = true;
        }
    }
    let volumes: HashMap<String, Resource> = resources::volumes(p, made).into_iter().collect();
    let networks: HashMap<String, Resource> = resources::networks(p, made, default_used)
        .into_iter()
        .collect();
    let secrets: HashMap<String, Mounted> = resources::files(p, false)?.into_iter().collect();
    let configs: HashMap<String, Mounted> = resources::files(p, true)?.into_iter().collect();

    // depends_on, checked against the active services; then cycles.
    let mut deps: HashMap<String, Vec<Dep>> = HashMap::new();
    let mut dep_errors: HashMap<String, String> = HashMap::new();
    for (name, node) in &active {
        match depends_on(p, name, node, &active, &inactive) {
            Ok(d) => {
                deps.insert(name.to_string(), d);
            }
            Err(e) => {
                dep_errors.insert(name.to_string(), e);
            }
        }
    }
    for (name, _) in &active {
        if let Some(cycle) = find_cycle(name, &deps) {
            let d = deps[*name]
                .iter()
                .find(|d| d.service == cycle[1])
                .map(|d| d.node);
            let at = d.map(|n| p.at(n)).unwrap_or_default();
            dep_errors.entry(name.to_string()).or_insert(format!(
                "{at}: services.{name}.depends_on: dependency cycle: {}\n  hint: Compose refuses cycles too; remove one of the dependencies",
                cycle.join(" -> ")
            ));
        }
    }
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
    let ctx = Ctx {
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
            let Some(d) = ctx.deps.get(name).and_then(|ds| {
                ds.iter()
                    .find(|d| d.required && failed.contains_key(&d.service))
            }) else {
                continue;
            };
            let unit = ctx.names.service_units(&d.service).join(" ");
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

fn replica_count(p: &Project, name: &str, node: &Node) -> Result<u32, String> {
    let count = |n: &Node, path: &str| -> Result<u32, String> {
        n.as_str()
            .and_then(|s| s.parse::<u32>().ok())
            .filter(|c| *c <= 1000)
            .ok_or_else(|| {
                Fail::at(
                    p,
                    n,
                    path,
                    format!("must be a number of containers (0..1000), not {}", shown(n)),
                )
                .plain()
            })
    };
    let scale = node
        .get("scale")
        .map(|n| count(n, &format!("services.{name}.scale")))
        .transpose()?;
    let replicas = node
        .get("deploy")
        .and_then(|d| d.get("replicas"))
        .map(|n| count(n, &format!("services.{name}.deploy.replicas")))
        .transpose()?;
    match (scale, replicas) {
        (Some(s), Some(r)) if s != r => {
            let n = node.get("scale").unwrap_or(node);
            Err(Fail::at(
                p,
                n,
                &format!("services.{name}.scale"),
                format!("{s} differs from deploy.replicas: {r}"),
            )
            .hint("the specification requires them to agree; keep one"))
        }
        (Some(s), _) => Ok(s),
        (_, Some(r)) => Ok(r),
        _ => Ok(1),
    }
}

fn depends_on<'n>(
    p: &Project,
    name: &str,
    node: &'n Node,
    active: &[(&str, &Node)],
    inactive: &HashMap<&str, Vec<String>>,
) -> Result<Vec<Dep<'n>>, String> {
    let path = format!("services.{name}.depends_on");
    let Some(dn) = node.get("depends_on") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let mut entries: Vec<(&str, &Node, Option<&Node>)> = Vec::new();
    match &dn.value {
        Value::Seq(items) => {
            for (i, it) in items.iter().enumerate() {
                entries.push((text(p, it, &format!("{path}.{i}"))?, it, None));
            }
        }
        Value::Map(m) => {
            for (k, v) in m {
                entries.push((&k.name, v, Some(v)));
            }
        }
        Value::Null => {}
        Value::Scalar { .. } => {
            return Err(Fail::at(p, dn, &path, "must be a list of services or a mapping").plain())
        }
    }
    for (dep, at, long) in entries {
        let dpath = format!("{path}.{dep}");
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

/// One service's `.container` unit (and its `.build`, pushed to `made`).
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
    check_keys(p, node, &path, SERVICE_KEYS, SERVICE_KEYS_UNSUPPORTED)?;
    let file = ctx.names.container_file(name);
    let mut q = Q::new(p, &file);
    let template = ctx.names.is_template(name);
    let key = |k: &str| format!("{path}.{k}");

    q.raw(
        "Unit",
        "Description",
        &format!("{}: Compose service {name}", p.name),
        node,
    );
    q.raw("Unit", "PartOf", &format!("{}.target", p.name), node);

    // The container's name, as Docker Compose names it.
    match node.get("container_name") {
        Some(cn) if template => {
            return Err(Fail::at(
                p,
                cn,
                &key("container_name"),
                "a fixed container name with more than one replica",
            )
            .hint("remove container_name (replicas are named PROJECT-SERVICE-N) or scale to 1"));
        }
        Some(cn) => q.single("Container", "ContainerName", cn, &key("container_name"))?,
        None if template => q.raw(
            "Container",
            "ContainerName",
            &format!("{}-{name}-%i", p.name),
            node,
        ),
        None => q.raw(
            "Container",
            "ContainerName",
            &format!("{}-{name}-1", p.name),
            node,
        ),
    }

    // The image, or the .build that makes it.
    let image = node.get("image");
    match (node.get("build"), image) {
        (Some(b), _) => {
            let tag = image.map(|i| text(p, i, &key("image"))).transpose()?;
            let build = resources::build(p, name, b, tag, made)?;
            q.raw("Container", "Image", &build, b);
        }
        (None, Some(i)) => q.single("Container", "Image", i, &key("image"))?,
        (None, None) => {
            return Err(Fail::at(p, node, &path, "neither image: nor build:")
                .hint("add image: REGISTRY/NAME:TAG"));
        }
    }

    networking(&mut q, ctx, name, node)?;

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
    // depends_on: pulled in and ordered (After= waits for the dependency's readiness: started,
    // healthy through Notify=healthy, or completed as a oneshot). Compose restarts and stops
    // a service with its dependency only when asked (restart: true), and systemd's
    // Requires= would do both, so a required dependency is checked instead: the service is
    // skipped (not failed, not restarted) when the dependency did not come up.
    for d in ctx.deps.get(name).map(Vec::as_slice).unwrap_or_default() {
        let units = ctx.names.service_units(&d.service).join(" ");
        q.raw("Unit", "Wants", &units, d.node);
        q.raw("Unit", "After", &units, d.node);
        if d.required {
            let user = if p.user { "--user " } else { "" };
            q.raw(
                "Service",
                "ExecCondition",
                &format!("systemctl {user}is-active --quiet {units}"),
                d.node,
            );
        }
        if d.restart {
            q.raw("Unit", "PartOf", &units, d.node);
        }
    }

    let map = node.as_map().unwrap_or_default();
    for (k, v) in map {
        let kp = key(&k.name);
        match k.name.as_str() {
            "image" | "build" | "container_name" | "networks" | "network_mode" | "depends_on"
            | "profiles" | "scale" => {}
            "command" => {
                let args = command_words(p, v, &kp)?;
                if args.is_empty() {
                    return Err(Fail::at(
                        p,
                        v,
                        &kp,
                        "an empty command (to clear the image's CMD) cannot be given to podman run",
                    )
                    .hint("remove it, or give the command to run"));
                }
                if let Some(i) = args.iter().position(String::is_empty) {
                    return Err(Fail::at(p, v, &kp, format!("argument {} is empty: Quadlet's Exec= drops empty arguments (as Podman's does)", i + 1))
                        .hint("give the program the value another way (an option with =, a config file)"));
                }
                q.raw("Container", "Exec", &values::words(&args), v);
            }
            "entrypoint" => {
                let args = command_words(p, v, &kp)?;
                let ep = match args.len() {
                    0 => String::new(),
                    1 => args[0].clone(),
                    _ => values::json_array(&args),
                };
                q.set_at("Container", "Entrypoint", &ep, v)?;
            }
            "environment" => environment(&mut q, v, &kp)?,
            "env_file" => env_files(&mut q, v, &kp)?,
            "ports" => ports(&mut q, v, &kp)?,
            "expose" => {
                for (s, n) in scalar_list(p, v, &kp)? {
                    if values::parse_port(&s).map(|p| p.published.is_empty()) != Ok(true) {
                        return Err(Fail::at(
                            p,
                            n,
                            &kp,
                            format!("\"{s}\" is not PORT[-PORT][/PROTOCOL]"),
                        )
                        .plain());
                    }
                    q.set_at("Container", "ExposeHostPort", &s, n)?;
                }
            }
            "volumes" => volumes(&mut q, ctx, v, &kp)?,
            "tmpfs" => {
                for (s, n) in string_list(p, v, &kp)? {
                    q.set_at("Container", "Tmpfs", s, n)?;
                }
            }
            "restart" => restart(&mut q, ctx.completed.contains(name), v, &kp)?,
            "healthcheck" => healthcheck(&mut q, v, &kp)?,
            "user" => q.single("Container", "User", v, &kp)?,
            "group_add" => {
                for (s, n) in scalar_list(p, v, &kp)? {
                    q.set_at("Container", "GroupAdd", &s, n)?;
                }
            }
            "working_dir" => q.single("Container", "WorkingDir", v, &kp)?,
            "hostname" => q.single("Container", "HostName", v, &kp)?,
            "domainname" => q.add_word(
                "Container",
                "PodmanArgs",
                &format!("--domainname={}", text(p, v, &kp)?),
                v,
            ),
            "labels" | "annotations" => {
                let qk = if k.name == "labels" {
                    "Label"
                } else {
                    "Annotation"
                };
                for (lk, lv, n) in resources::string_map(p, v, &kp)? {
                    q.add_word("Container", qk, &format!("{lk}={lv}"), n);
                }
            }
            "cap_add" | "cap_drop" => {
                let qk = if k.name == "cap_add" {
                    "AddCapability"
                } else {
                    "DropCapability"
                };
                for (s, n) in string_list(p, v, &kp)? {
                    q.list_item("Container", qk, s, n, &kp)?;
                }
            }
            "devices" => {
                for (s, n) in string_list(p, v, &kp)? {
                    q.list_item("Container", "AddDevice", s, n, &kp)?;
                }
            }
            "extra_hosts" => extra_hosts(&mut q, v, &kp)?,
            "dns" | "dns_search" | "dns_opt" => {
                let qk = match k.name.as_str() {
                    "dns" => "DNS",
                    "dns_search" => "DNSSearch",
                    _ => "DNSOption",
                };
                for (s, n) in string_list(p, v, &kp)? {
                    q.set_at("Container", qk, s, n)?;
                }
            }
            "sysctls" => {
                for (sk, sv, n) in resources::string_map(p, v, &kp)? {
                    q.list_item("Container", "Sysctl", &format!("{sk}={sv}"), n, &kp)?;
                }
            }
            "ulimits" => ulimits(&mut q, v, &kp)?,
            "init" => {
                let on = flag(p, v, &kp)?;
                q.raw("Container", "RunInit", if on { "yes" } else { "no" }, v);
            }
            "read_only" => {
                let on = flag(p, v, &kp)?;
                q.raw("Container", "ReadOnly", if on { "yes" } else { "no" }, v);
            }
            "privileged" | "tty" | "stdin_open" if flag(p, v, &kp)? => {
                let f = match k.name.as_str() {
                    "privileged" => "--privileged",
                    "tty" => "--tty",
                    _ => "--interactive",
                };
                q.add_word("Container", "PodmanArgs", f, v);
            }
            "privileged" | "tty" | "stdin_open" => {} // false: podman's default
            "security_opt" => {
                for (s, n) in string_list(p, v, &kp)? {
                    q.add_word("Container", "PodmanArgs", &format!("--security-opt={s}"), n);
                }
            }
            "stop_signal" => q.single("Container", "StopSignal", v, &kp)?,
            "stop_grace_period" => {
                let secs = values::duration_secs(text(p, v, &kp)?)
                    .map_err(|e| Fail::at(p, v, &kp, e).plain())?;
                q.raw("Container", "StopTimeout", &secs.to_string(), v);
                // systemd must wait longer than podman does (its default is 90 s).
                if secs.saturating_add(30) > 90 {
                    q.raw(
                        "Service",
                        "TimeoutStopSec",
                        &(secs.saturating_add(30)).to_string(),
                        v,
                    );
                }
            }
            "shm_size" | "mem_limit" => {
                let b =
                    values::bytes(text(p, v, &kp)?).map_err(|e| Fail::at(p, v, &kp, e).plain())?;
                q.raw(
                    "Container",
                    if k.name == "shm_size" {
                        "ShmSize"
                    } else {
                        "Memory"
                    },
                    &b,
                    v,
                );
            }
            "cpus" => cpus(&mut q, v, &kp)?,
            "pids_limit" => {
                let t = text(p, v, &kp)?;
                if t.parse::<i64>().is_err() {
                    return Err(Fail::at(p, v, &kp, format!("\"{t}\" is not a number")).plain());
                }
                q.raw("Container", "PidsLimit", t, v);
            }
            "secrets" | "configs" => mounts(&mut q, ctx, k.name == "configs", v, &kp)?,
            "deploy" => deploy(&mut q, v, &kp)?,
            "logging" => {
                check_keys(p, v, &kp, &["driver", "options"], &[])?;
                if let Some(d) = v.get("driver") {
                    q.single("Container", "LogDriver", d, &format!("{kp}.driver"))?;
                }
                if let Some(o) = v.get("options") {
                    for (ok, ov, n) in resources::string_map(p, o, &format!("{kp}.options"))? {
                        q.list_item("Container", "LogOpt", &format!("{ok}={ov}"), n, &kp)?;
                    }
                }
            }
            "pull_policy" => {
                let pol = match text(p, v, &kp)? {
                    "always" => Some("always"),
                    "never" => Some("never"),
                    "missing" | "if_not_present" => Some("missing"),
                    "build" if node.get("build").is_some() => None,
                    other => {
                        return Err(Fail::at(p, v, &kp, format!("\"{other}\" is not supported"))
                            .hint(
                                "always, never, missing (if_not_present), or build with build:",
                            ));
                    }
                };
                if let Some(pol) = pol {
                    q.raw("Container", "Pull", pol, v);
                }
            }
            "platform" => q.add_word(
                "Container",
                "PodmanArgs",
                &format!("--platform={}", text(p, v, &kp)?),
                v,
            ),
            "ipc" | "pid" => {
                let t = text(p, v, &kp)?;
                if t.starts_with("service:") || t.starts_with("container:") {
                    return Err(Fail::at(
                        p,
                        v,
                        &kp,
                        format!("\"{t}\": sharing another container's namespace is not supported"),
                    )
                    .hint("host, private, shareable or none"));
                }
                q.add_word("Container", "PodmanArgs", &format!("--{}={t}", k.name), v);
            }
            "userns_mode" => q.single("Container", "UserNS", v, &kp)?,
            _ => {} // x- extensions (check_keys let nothing else through)
        }
    }
    Ok(q.unit)
}

/// `command:`/`entrypoint:`: a string is split as a shell would (no expansion), a list taken as is.
fn command_words(p: &Project, v: &Node, path: &str) -> Result<Vec<String>, String> {
    match &v.value {
        Value::Scalar { text, .. } => {
            values::shell_words(text).map_err(|e| Fail::at(p, v, path, e).plain())
        }
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .map(|(i, n)| text(p, n, &format!("{path}.{i}")).map(str::to_string))
            .collect(),
        Value::Null => Ok(Vec::new()),
        Value::Map(_) => Err(Fail::at(p, v, path, "must be a string or a list").plain()),
    }
}

/// A list of scalars (numbers or strings), or one.
fn scalar_list<'n>(
    p: &Project,
    v: &'n Node,
    path: &str,
) -> Result<Vec<(String, &'n Node)>, String> {
    Ok(string_list(p, v, path)?
        .into_iter()
        .map(|(s, n)| (s.to_string(), n))
        .collect())
}

fn environment(q: &mut Q, v: &Node, path: &str) -> Result<(), String> {
    let p = q.p;
    let m = super::merge::to_map(v.clone());
    let Some(entries) = m.as_map() else {
        return Err(Fail::at(p, v, path, "must be a mapping or a list of KEY=VALUE").plain());
    };
    for (k, val) in entries {
        let value = match &val.value {
            Value::Scalar { text, .. } => text.clone(),
            // A name alone takes its value from the environment (the project's .env);
            // unset there, it is not set in the container (05-services.md).
            Value::Null => match p.vars.get(&k.name) {
                Some(x) => x.clone(),
                None => continue,
            },
            _ => {
                return Err(
                    Fail::at(p, val, &format!("{path}.{}", k.name), "must be a string").plain(),
                )
            }
        };
        let at = Node::new(val.file, k.line, Value::Null);
        q.add_word(
            "Container",
            "Environment",
            &format!("{}={value}", k.name),
            &at,
        );
    }
    Ok(())
}

fn env_files(q: &mut Q, v: &Node, path: &str) -> Result<(), String> {
    let p = q.p;
    let items: Vec<&Node> = match &v.value {
        Value::Seq(items) => items.iter().collect(),
        _ => vec![v],
    };
    for (i, item) in items.into_iter().enumerate() {
        let ip = format!("{path}.{i}");
        let (file, required, raw) = match &item.value {
            Value::Scalar { text, .. } => (text.clone(), true, false),
            Value::Map(_) => {
                check_keys(p, item, &ip, &["path", "required", "format"], &[])?;
                let f = item
                    .get("path")
                    .ok_or_else(|| Fail::at(p, item, &ip, "no path:").plain())?;
                let required = item
                    .get("required")
                    .map(|r| flag(p, r, &format!("{ip}.required")))
                    .transpose()?
                    .unwrap_or(true);
                let raw = match item
                    .get("format")
                    .map(|f| text(p, f, &format!("{ip}.format")))
                    .transpose()?
                {
                    None => false,
                    Some("raw") => true,
                    Some(other) => {
                        return Err(
                            Fail::at(p, item, &ip, format!("unknown format \"{other}\""))
                                .hint("raw, or leave it out"),
                        )
                    }
                };
                (
                    text(p, f, &format!("{ip}.path"))?.to_string(),
                    required,
                    raw,
                )
            }
            _ => {
                return Err(
                    Fail::at(p, item, &ip, "must be a path or a mapping with path:").plain(),
                )
            }
        };
        let abs = resources::host_path(p, &file);
        if abs.starts_with("%h") {
            // `%h` is resolved by systemd when the unit starts; the check is made now.
            return Err(Fail::at(p, item, &ip, format!("{file}: under ~, the home of the manager's user, which the generator cannot look into (it checks env_file: files before podman reads them)"))
                .hint("write the path relative to the project directory, or absolute"));
        }
        if std::fs::symlink_metadata(&abs).is_err() {
            if required {
                return Err(Fail::at(p, item, &ip, format!("{abs} does not exist"))
                    .hint("create it, or set required: false"));
            }
            q.warn(
                item,
                &ip,
                &format!("{abs} does not exist; not used (required: false)"),
            );
            continue;
        }
        let content = super::read(std::path::Path::new(&abs), false, p.budget)
            .map_err(|e| Fail::at(p, item, &ip, e).plain())?;
        if let Some(d) = super::dotenv::podman_differences(&content, raw).first() {
            return Err(Fail::at(p, item, &ip, format!("{abs}:{}: {}", d.line, d.message))
                .hint("the file is read by podman --env-file when the container starts (its values never go into unit files, which every user can read); write that line as plain KEY=VALUE"));
        }
        q.add_word("Container", "EnvironmentFile", &abs, item);
    }
    Ok(())
}

fn ports(q: &mut Q, v: &Node, path: &str) -> Result<(), String> {
    let p = q.p;
    let items = v
        .as_seq()
        .ok_or_else(|| Fail::at(p, v, path, "must be a list").plain())?;
    for (i, item) in items.iter().enumerate() {
        let ip = format!("{path}.{i}");
        let publish = match &item.value {
            Value::Scalar { text, .. } => values::parse_port(text).map_err(|e| {
                Fail::at(p, item, &ip, e).hint("[[HOST_IP:][HOST_PORT]:]CONTAINER_PORT[/PROTOCOL]")
            })?,
            Value::Map(_) => {
                check_keys(
                    p,
                    item,
                    &ip,
                    &[
                        "target",
                        "published",
                        "host_ip",
                        "protocol",
                        "mode",
                        "name",
                        "app_protocol",
                    ],
                    &[],
                )?;
                let get = |k: &str| item.get(k).and_then(Node::as_str).unwrap_or("").to_string();
                for k in ["mode", "name", "app_protocol"] {
                    if let Some(n) = item.get(k) {
                        if !(k == "mode" && n.as_str() == Some("host")) {
                            q.warn(n, &format!("{ip}.{k}"), "has no effect with Podman");
                        }
                    }
                }
                let target = get("target");
                if target.is_empty() {
                    return Err(
                        Fail::at(p, item, &ip, "no target:").hint("target: is the container port")
                    );
                }
                let mut spec = String::new();
                let host = get("host_ip");
                if !host.is_empty() {
                    spec.push_str(&if host.contains(':') {
                        format!("[{host}]:")
                    } else {
                        format!("{host}:")
                    });
                }
                let published = get("published");
                if !published.is_empty() || !host.is_empty() {
                    spec.push_str(&published);
                    spec.push(':');
                }
                spec.push_str(&target);
                let proto = get("protocol");
                if !proto.is_empty() {
                    spec.push('/');
                    spec.push_str(&proto);
                }
                values::parse_port(&spec).map_err(|e| Fail::at(p, item, &ip, e).plain())?
            }
            _ => return Err(Fail::at(p, item, &ip, "must be a string or a mapping").plain()),
        };
        q.set_at("Container", "PublishPort", &publish.to_publish(), item)?;
    }
    Ok(())
}

fn volumes(q: &mut Q, ctx: &Ctx, v: &Node, path: &str) -> Result<(), String> {
    let p = q.p;
    let items = v
        .as_seq()
        .ok_or_else(|| Fail::at(p, v, path, "must be a list").plain())?;
    for (i, item) in items.iter().enumerate() {
        let ip = format!("{path}.{i}");
        // (type, source, target, options, create host path)
        let (kind, source, target, opts, create) = match &item.value {
            Value::Scalar { text, .. } => {
                let parts: Vec<&str> = text.split(':').collect();
                let (src, tgt, mode) = match parts.as_slice() {
                    [t] => ("", *t, ""),
                    [s, t] => (*s, *t, ""),
                    [s, t, m] => (*s, *t, *m),
                    _ => {
                        return Err(Fail::at(
                            p,
                            item,
                            &ip,
                            format!("\"{text}\" is not [SOURCE:]TARGET[:MODE]"),
                        )
                        .plain())
                    }
                };
                let kind = if src.is_empty() {
                    "volume"
                } else if src.starts_with(['/', '.', '~']) {
                    "bind"
                } else {
                    "volume"
                };
                let opts: Vec<String> = mode
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .collect();
                (
                    kind.to_string(),
                    src.to_string(),
                    tgt.to_string(),
                    opts,
                    kind == "bind",
                )
            }
            Value::Map(_) => {
                check_keys(
                    p,
                    item,
                    &ip,
                    &[
                        "type",
                        "source",
                        "target",
                        "read_only",
                        "bind",
                        "volume",
                        "tmpfs",
                        "consistency",
                    ],
                    &["image"],
                )?;
                let get = |k: &str| item.get(k).and_then(Node::as_str).unwrap_or("").to_string();
                let kind = get("type");
                let mut opts = Vec::new();
                let mut create = false;
                if let Some(ro) = item.get("read_only") {
                    if flag(p, ro, &format!("{ip}.read_only"))? {
                        opts.push("ro".to_string());
                    }
                }
                if let Some(c) = item.get("consistency") {
                    q.warn(c, &format!("{ip}.consistency"), "has no effect on Linux");
                }
                if let Some(b) = item.get("bind") {
                    let bp = format!("{ip}.bind");
                    check_keys(
                        p,
                        b,
                        &bp,
                        &["propagation", "create_host_path", "selinux"],
                        &["recursive"],
                    )?;
                    if let Some(pr) = b.get("propagation") {
                        opts.push(text(p, pr, &format!("{bp}.propagation"))?.to_string());
                    }
                    if let Some(s) = b.get("selinux") {
                        opts.push(text(p, s, &format!("{bp}.selinux"))?.to_string());
                    }
                    if let Some(c) = b.get("create_host_path") {
                        create = flag(p, c, &format!("{bp}.create_host_path"))?;
                    }
                }
                if let Some(vo) = item.get("volume") {
                    let vp = format!("{ip}.volume");
                    check_keys(p, vo, &vp, &["nocopy"], &["subpath"])?;
                    if let Some(n) = vo.get("nocopy") {
                        if flag(p, n, &format!("{vp}.nocopy"))? {
                            opts.push("nocopy".to_string());
                        }
                    }
                }
                if let Some(t) = item.get("tmpfs") {
                    let tp = format!("{ip}.tmpfs");
                    check_keys(p, t, &tp, &["size", "mode"], &[])?;
                    if let Some(s) = t.get("size") {
                        let b = values::bytes(text(p, s, &format!("{tp}.size"))?)
                            .map_err(|e| Fail::at(p, s, &tp, e).plain())?;
                        opts.push(format!("size={b}"));
                    }
                    if let Some(m) = t.get("mode") {
                        opts.push(format!("mode={}", text(p, m, &format!("{tp}.mode"))?));
                    }
                }
                (kind, get("source"), get("target"), opts, create)
            }
            _ => return Err(Fail::at(p, item, &ip, "must be a string or a mapping").plain()),
        };
        if target.is_empty() {
            return Err(Fail::at(p, item, &ip, "no target").hint("the path inside the container"));
        }
        match kind.as_str() {
            "tmpfs" => {
                let v = if opts.is_empty() {
                    target.clone()
                } else {
                    format!("{target}:{}", opts.join(","))
                };
                q.set_at("Container", "Tmpfs", &v, item)?;
                continue;
            }
            "bind" => {
                if source.is_empty() {
                    return Err(Fail::at(p, item, &ip, "a bind mount without source").plain());
                }
                let abs = resources::host_path(p, &source);
                if create {
                    let word = values::word(&abs).replacen("%%h", "%h", 1);
                    q.raw(
                        "Service",
                        "ExecStartPre",
                        &format!("-mkdir -p {word}"),
                        item,
                    );
                }
                let spec = join_volume(&abs, &target, &opts);
                let v = values::single(&spec).map_err(|e| Fail::at(p, item, &ip, e).plain())?;
                q.raw("Container", "Volume", &v.replacen("%%h", "%h", 1), item);
            }
            "volume" => {
                if source.is_empty() {
                    q.set_at(
                        "Container",
                        "Volume",
                        &join_volume("", &target, &opts),
                        item,
                    )?;
                    continue;
                }
                let spec = match ctx.volumes.get(&source) {
                    Some(Resource::Unit(file)) => join_volume(file, &target, &opts),
                    Some(Resource::External(n)) => join_volume(n, &target, &opts),
                    None => {
                        let names: Vec<&str> = ctx.volumes.keys().map(String::as_str).collect();
                        let f = Fail::at(
                            p,
                            item,
                            &ip,
                            format!("refers to undefined volume \"{source}\""),
                        );
                        return Err(match crate::spell::closest(&source, &names) {
                            Some(s) => f.hint(format!("did you mean '{s}'? (a path starts with /, ./ or ~)")),
                            None => f.hint(format!("declare it under the top-level volumes: (volumes: {{{source}: }}), or write a path (./{source})")),
                        });
                    }
                };
                q.set_at("Container", "Volume", &spec, item)?;
            }
            other => {
                return Err(Fail::at(
                    p,
                    item,
                    &ip,
                    format!("volume type \"{other}\" is not supported"),
                )
                .hint("bind, volume or tmpfs"));
            }
        }
    }
    Ok(())
}

fn join_volume(source: &str, target: &str, opts: &[String]) -> String {
    let mut s = String::new();
    if !source.is_empty() {
        s.push_str(source);
        s.push(':');
    }
    s.push_str(target);
    if !opts.is_empty() {
        s.push(':');
        s.push_str(&opts.join(","));
    }
    s
}

fn networking(q: &mut Q, ctx: &Ctx, name: &str, node: &Node) -> Result<(), String> {
    let p = q.p;
    let path = format!("services.{name}");
    if let Some(mode) = node.get("network_mode") {
        let mp = format!("{path}.network_mode");
        if node.get("networks").is_some_and(|n| !n.is_null()) {
            return Err(
                Fail::at(p, mode, &mp, "network_mode and networks cannot be combined")
                    .hint("keep one"),
            );
        }
        let m = text(p, mode, &mp)?;
        let value = match m {
            "host" | "none" | "bridge" => m.to_string(),
            _ if m.starts_with("container:") => m.to_string(),
            _ => match m.strip_prefix("service:") {
                Some(other) if ctx.names.replicas.contains_key(other) => {
                    if ctx.names.is_template(other) {
                        return Err(Fail::at(
                            p,
                            mode,
                            &mp,
                            format!("{other} has several replicas: whose network?"),
                        )
                        .plain());
                    }
                    format!("{}-{other}.container", p.name)
                }
                Some(other) => {
                    return Err(
                        Fail::at(p, mode, &mp, format!("undefined service \"{other}\"")).plain(),
                    )
                }
                None => {
                    return Err(Fail::at(p, mode, &mp, format!("\"{m}\" is not supported"))
                        .hint("host, none, bridge, service:NAME or container:NAME"))
                }
            },
        };
        q.set_at("Container", "Network", &value, mode)?;
        return Ok(());
    }
    let nets: Vec<(String, Option<&Node>, &Node)> = match node.get("networks") {
        None => vec![("default".to_string(), None, node)],
        Some(n) if n.is_null() => vec![("default".to_string(), None, n)],
        Some(n) => match &n.value {
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .map(|(i, it)| {
                    text(p, it, &format!("{path}.networks.{i}")).map(|t| (t.to_string(), None, it))
                })
                .collect::<Result<_, _>>()?,
            Value::Map(m) => m
                .iter()
                .map(|(k, v)| (k.name.clone(), Some(v), v))
                .collect(),
            _ => {
                return Err(Fail::at(
                    p,
                    n,
                    &format!("{path}.networks"),
                    "must be a list or a mapping",
                )
                .plain())
            }
        },
    };
    for (net, opts, at) in nets {
        let np = format!("{path}.networks.{net}");
        let base = match ctx.networks.get(&net) {
            Some(Resource::Unit(f)) => f.clone(),
            Some(Resource::External(n)) => n.clone(),
            None => {
                let names: Vec<&str> = ctx.networks.keys().map(String::as_str).collect();
                let f = Fail::at(p, at, &np, format!("refers to undefined network \"{net}\""));
                return Err(match crate::spell::closest(&net, &names) {
                    Some(s) => f.hint(format!("did you mean '{s}'?")),
                    None => f.hint(format!(
                        "declare it under the top-level networks: (networks: {{{net}: }})"
                    )),
                });
            }
        };
        let mut o: Vec<String> = Vec::new();
        if let Some(opts) = opts.filter(|n| !n.is_null()) {
            check_keys(
                p,
                opts,
                &np,
                &[
                    "aliases",
                    "ipv4_address",
                    "ipv6_address",
                    "interface_name",
                    "mac_address",
                ],
                &["priority", "gw_priority", "link_local_ips", "driver_opts"],
            )?;
            if let Some(a) = opts.get("aliases") {
                for (s, _) in string_list(p, a, &format!("{np}.aliases"))? {
                    o.push(format!("alias={s}"));
                }
            }
            for (k, opt) in [
                ("ipv4_address", "ip"),
                ("ipv6_address", "ip6"),
                ("interface_name", "interface_name"),
                ("mac_address", "mac"),
            ] {
                if let Some(n) = opts.get(k) {
                    o.push(format!("{opt}={}", text(p, n, &format!("{np}.{k}"))?));
                }
            }
        }
        let value = if o.is_empty() {
            base
        } else {
            format!("{base}:{}", o.join(","))
        };
        q.set_at("Container", "Network", &value, at)?;
    }
    // Other services reach this one by its name, on every network (Compose's DNS alias).
    q.raw("Container", "NetworkAlias", name, node);
    Ok(())
}

fn restart(q: &mut Q, oneshot: bool, v: &Node, path: &str) -> Result<(), String> {
    let p = q.p;
    let t = text(p, v, path)?;
    let (policy, retries) = match t.split_once(':') {
        Some(("on-failure", n)) => {
            let n: u32 = n.parse().map_err(|_| {
                Fail::at(p, v, path, format!("\"{n}\" is not a number of retries")).plain()
            })?;
            ("on-failure", Some(n))
        }
        _ => (t, None),
    };
    let restart = match policy {
        "no" => "no",
        "always" | "unless-stopped" => "always",
        "on-failure" => "on-failure",
        _ => {
            return Err(
                Fail::at(p, v, path, format!("unknown restart policy \"{t}\""))
                    .hint("no, always, on-failure[:N] or unless-stopped"),
            )
        }
    };
    if oneshot && restart == "always" {
        return Err(Fail::at(p, v, path, format!("restart: {t} on a service others wait to complete (service_completed_successfully)")).hint("use on-failure or no: a service that must complete cannot restart after it did"));
    }
    q.raw("Service", "Restart", restart, v);
    if let Some(n) = retries {
        // At most N restarts: N + 1 starts, never forgotten.
        q.raw("Unit", "StartLimitIntervalSec", "infinity", v);
        q.raw(
            "Unit",
            "StartLimitBurst",
            &n.saturating_add(1).to_string(),
            v,
        );
    }
    Ok(())
}

fn healthcheck(q: &mut Q, v: &Node, path: &str) -> Result<(), String> {
    let p = q.p;
    check_keys(
        p,
        v,
        path,
        &[
            "test",
            "interval",
            "timeout",
            "retries",
            "start_period",
            "disable",
        ],
        &["start_interval"],
    )?;
    if let Some(d) = v.get("disable") {
        if flag(p, d, &format!("{path}.disable"))? {
            q.raw("Container", "HealthCmd", "none", d);
            return Ok(());
        }
    }
    if let Some(t) = v.get("test") {
        let tp = format!("{path}.test");
        let cmd = match &t.value {
            Value::Scalar { text, .. } => text.trim().to_string(),
            Value::Seq(items) => {
                let words: Vec<String> = items
                    .iter()
                    .enumerate()
                    .map(|(i, n)| text(p, n, &format!("{tp}.{i}")).map(str::to_string))
                    .collect::<Result<_, _>>()?;
                match words.split_first() {
                    Some((k, rest)) if k == "NONE" => {
                        let _ = rest;
                        "none".to_string()
                    }
                    Some((k, rest)) if k == "CMD-SHELL" && rest.len() == 1 => rest[0].clone(),
                    // Podman takes an exec-form check as a JSON array.
                    Some((k, rest)) if k == "CMD" && !rest.is_empty() => values::json_array(rest),
                    _ => return Err(Fail::at(p, t, &tp, "a list starts with CMD (then the command's words), CMD-SHELL (then one shell command) or NONE").plain()),
                }
            }
            _ => return Err(Fail::at(p, t, &tp, "must be a string or a list").plain()),
        };
        q.set_at("Container", "HealthCmd", &cmd, t)?;
    }
    for (k, qk) in [
        ("interval", "HealthInterval"),
        ("timeout", "HealthTimeout"),
        ("start_period", "HealthStartPeriod"),
    ] {
        if let Some(n) = v.get(k) {
            let kp = format!("{path}.{k}");
            let d =
                values::duration(text(p, n, &kp)?).map_err(|e| Fail::at(p, n, &kp, e).plain())?;
            q.raw("Container", qk, &d, n);
        }
    }
    if let Some(n) = v.get("retries") {
        let kp = format!("{path}.retries");
        let r = text(p, n, &kp)?;
        if r.parse::<u32>().is_err() {
            return Err(Fail::at(p, n, &kp, format!("\"{r}\" is not a number")).plain());
        }
        q.raw("Container", "HealthRetries", r, n);
    }
    Ok(())
}

fn extra_hosts(q: &mut Q, v: &Node, path: &str) -> Result<(), String> {
    let p = q.p;
    let mut pairs: Vec<(String, String, &Node)> = Vec::new();
    match &v.value {
        Value::Seq(items) => {
            for (i, it) in items.iter().enumerate() {
                let s = text(p, it, &format!("{path}.{i}"))?;
                let (h, ip) = s
                    .split_once('=')
                    .or_else(|| s.split_once(':'))
                    .ok_or_else(|| {
                        Fail::at(p, it, path, format!("\"{s}\" is not HOST=IP or HOST:IP")).plain()
                    })?;
                pairs.push((h.to_string(), ip.to_string(), it));
            }
        }
        Value::Map(m) => {
            for (k, val) in m {
                for (ip, n) in string_list(p, val, &format!("{path}.{}", k.name))? {
                    pairs.push((k.name.clone(), ip.to_string(), n));
                }
            }
        }
        _ => return Err(Fail::at(p, v, path, "must be a list or a mapping").plain()),
    }
    for (h, ip, n) in pairs {
        let ip = ip.trim_start_matches('[').trim_end_matches(']');
        q.set_at("Container", "AddHost", &format!("{h}:{ip}"), n)?;
    }
    Ok(())
}

fn ulimits(q: &mut Q, v: &Node, path: &str) -> Result<(), String> {
    let p = q.p;
    let m = v
        .as_map()
        .ok_or_else(|| Fail::at(p, v, path, "must be a mapping").plain())?;
    for (k, val) in m {
        let kp = format!("{path}.{}", k.name);
        let num = |n: &Node, what: &str| -> Result<String, String> {
            let t = text(p, n, &format!("{kp}{what}"))?;
            if t.parse::<i64>().is_err() {
                return Err(Fail::at(p, n, &kp, format!("\"{t}\" is not a number")).plain());
            }
            Ok(t.to_string())
        };
        let limit = match &val.value {
            Value::Scalar { .. } => num(val, "")?,
            Value::Map(_) => {
                check_keys(p, val, &kp, &["soft", "hard"], &[])?;
                let soft = val
                    .get("soft")
                    .ok_or_else(|| Fail::at(p, val, &kp, "no soft:").plain())?;
                let hard = val
                    .get("hard")
                    .ok_or_else(|| Fail::at(p, val, &kp, "no hard:").plain())?;
                format!("{}:{}", num(soft, ".soft")?, num(hard, ".hard")?)
            }
            _ => return Err(Fail::at(p, val, &kp, "must be a number or soft:/hard:").plain()),
        };
        q.set_at("Container", "Ulimit", &format!("{}={limit}", k.name), val)?;
    }
    Ok(())
}

fn cpus(q: &mut Q, v: &Node, path: &str) -> Result<(), String> {
    let t = text(q.p, v, path)?;
    if t.parse::<f64>().map_or(true, |c| c <= 0.0) {
        return Err(Fail::at(q.p, v, path, format!("\"{t}\" is not a number of CPUs")).plain());
    }
    q.add_word("Container", "PodmanArgs", &format!("--cpus={t}"), v);
    Ok(())
}

fn mounts(q: &mut Q, ctx: &Ctx, configs: bool, v: &Node, path: &str) -> Result<(), String> {
    let p = q.p;
    let (table, dir) = if configs {
        (&ctx.configs, "/")
    } else {
        (&ctx.secrets, "/run/secrets/")
    };
    let items = v
        .as_seq()
        .ok_or_else(|| Fail::at(p, v, path, "must be a list").plain())?;
    for (i, item) in items.iter().enumerate() {
        let ip = format!("{path}.{i}");
        let (source, target) = match &item.value {
            Value::Scalar { text, .. } => (text.clone(), None),
            Value::Map(_) => {
                check_keys(p, item, &ip, &["source", "target"], &["uid", "gid", "mode"])?;
                let s = item
                    .get("source")
                    .ok_or_else(|| Fail::at(p, item, &ip, "no source:").plain())?;
                let t = item
                    .get("target")
                    .map(|t| text(p, t, &format!("{ip}.target")))
                    .transpose()?;
                (
                    text(p, s, &format!("{ip}.source"))?.to_string(),
                    t.map(str::to_string),
                )
            }
            _ => return Err(Fail::at(p, item, &ip, "must be a name or a mapping").plain()),
        };
        let Some(m) = table.get(&source) else {
            let top = if configs { "configs" } else { "secrets" };
            return Err(Fail::at(
                p,
                item,
                &ip,
                format!("refers to undefined {} \"{source}\"", &top[..top.len() - 1]),
            )
            .hint(format!(
                "declare it under the top-level {top}: with file: PATH"
            )));
        };
        let target = match target {
            Some(t) if t.starts_with('/') => t,
            Some(t) => format!("{dir}{t}"),
            None => format!("{dir}{source}"),
        };
        resources::mount_file(q, m, &target, item, &ip)?;
    }
    Ok(())
}

fn deploy(q: &mut Q, v: &Node, path: &str) -> Result<(), String> {
    let p = q.p;
    check_keys(
        p,
        v,
        path,
        &["replicas", "resources"],
        &[
            "endpoint_mode",
            "labels",
            "mode",
            "placement",
            "restart_policy",
            "rollback_config",
            "update_config",
        ],
    )?;
    let Some(r) = v.get("resources") else {
        return Ok(());
    };
    let rp = format!("{path}.resources");
    check_keys(p, r, &rp, &["limits"], &["reservations"])?;
    let Some(l) = r.get("limits") else {
        return Ok(());
    };
    let lp = format!("{rp}.limits");
    check_keys(p, l, &lp, &["cpus", "memory", "pids"], &[])?;
    if let Some(c) = l.get("cpus") {
        cpus(q, c, &format!("{lp}.cpus"))?;
    }
    if let Some(m) = l.get("memory") {
        let mp = format!("{lp}.memory");
        let b = values::bytes(text(p, m, &mp)?).map_err(|e| Fail::at(p, m, &mp, e).plain())?;
        q.raw("Container", "Memory", &b, m);
    }
    if let Some(n) = l.get("pids") {
        q.single("Container", "PidsLimit", n, &format!("{lp}.pids"))?;
    }
    Ok(())
}

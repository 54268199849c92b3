//! Top-level `networks:` and `volumes:` → `.network` and `.volume` units; `secrets:` and
//! `configs:` → what a service mounts.

use super::check::{check_keys, flag, Fail};
use super::unit::Q;
use super::yaml::{Node, Value};
use super::{values, Made, Project};
use crate::quadlet::Kind;

/// What a service refers to by name: how it is reached.
#[derive(Debug, Clone)]
pub enum Resource {
    /// Made by this project: the Quadlet unit's file name (`app-data.volume`).
    Unit(String),
    /// `external: true`: an existing Podman object of this name.
    External(String),
}

/// Keys of a top-level volume, and what each becomes.
const VOLUME_KEYS: &[&str] = &["driver", "driver_opts", "external", "labels", "name"];
/// Keys of a top-level network.
const NETWORK_KEYS: &[&str] = &[
    "driver",
    "driver_opts",
    "external",
    "internal",
    "enable_ipv6",
    "ipam",
    "labels",
    "name",
    "attachable",
];
const NETWORK_KEYS_UNSUPPORTED: &[&str] = &["enable_ipv4"];

/// The top-level volumes: name → how services reach it; their units go to `made`.
pub fn volumes(p: &Project, made: &mut Vec<Made>) -> Vec<(String, Resource)> {
    let mut out = Vec::new();
    let Some(map) = p.root.get("volumes").and_then(Node::as_map) else {
        return out;
    };
    for (key, node) in map {
        let name = &key.name;
        let file = format!("{}-{name}.volume", p.name);
        let result = volume(p, name, node, &file);
        let resource = match result {
            Ok(None) => {
                let ext = external_name(node, name);
                Resource::External(ext)
            }
            Ok(Some(u)) => {
                made.push(made_unit(&file, p, Kind::Volume, Ok(u)));
                Resource::Unit(file)
            }
            // Its units fail through the generator's dependency check, naming it.
            Err(e) => {
                made.push(made_unit(&file, p, Kind::Volume, Err(e)));
                Resource::Unit(file)
            }
        };
        out.push((name.clone(), resource));
    }
    out
}

fn made_unit(
    file: &str,
    p: &Project,
    kind: Kind,
    result: Result<crate::unitfile::UnitFile, String>,
) -> Made {
    Made {
        input: super::synthetic(file, &p.files[0]),
        kind,
        result,
    }
}

fn external_name(node: &Node, key: &str) -> String {
    node.get("name")
        .and_then(Node::as_str)
        .unwrap_or(key)
        .to_string()
}

fn is_external(p: &Project, node: &Node, path: &str) -> Result<bool, String> {
    match node.get("external") {
        None => Ok(false),
        Some(n) => flag(p, n, &format!("{path}.external")),
    }
}

/// A volume's unit, or `None` for an external one.
fn volume(
    p: &Project,
    name: &str,
    node: &Node,
    file: &str,
) -> Result<Option<crate::unitfile::UnitFile>, String> {
    let path = format!("volumes.{name}");
    if let Some(e) = p.broken_under(&path) {
        return Err(e);
    }
    if node.is_null() {
        let mut q = Q::new(p, file);
        q.set_at("Volume", "VolumeName", &format!("{}_{name}", p.name), node)?;
        project_label(&mut q, node);
        return Ok(Some(q.unit));
    }
    check_keys(p, node, &path, VOLUME_KEYS, &[])?;
    if is_external(p, node, &path)? {
        return Ok(None);
    }
    let mut q = Q::new(p, file);
    let vol_name = node
        .get("name")
        .and_then(Node::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}_{name}", p.name));
    q.set_at(
        "Volume",
        "VolumeName",
        &vol_name,
        node.get("name").unwrap_or(node),
    )?;
    if let Some(d) = node.get("driver") {
        q.single("Volume", "Driver", d, &format!("{path}.driver"))?;
    }
    if let Some(opts) = node.get("driver_opts") {
        for (k, v, at) in string_map(p, opts, &format!("{path}.driver_opts"))? {
            match k.as_str() {
                "type" => q.set_at("Volume", "Type", &v, at)?,
                "device" => q.set_at("Volume", "Device", &v, at)?,
                "o" => q.set_at("Volume", "Options", &v, at)?,
                _ => q.add_word("Volume", "PodmanArgs", &format!("--opt={k}={v}"), at),
            }
        }
    }
    if let Some(labels) = node.get("labels") {
        for (k, v, at) in string_map(p, labels, &format!("{path}.labels"))? {
            q.add_word("Volume", "Label", &format!("{k}={v}"), at);
        }
    }
    project_label(&mut q, node);
    Ok(Some(q.unit))
}

/// The label that finds every volume of the project (`podman volume ls --filter
/// label=io.unitsmith.compose.project=NAME`), anonymous ones included.
fn project_label(q: &mut Q, at: &Node) {
    let label = format!("{}={}", super::anonymous::LABEL_PROJECT, q.p.name);
    q.add_word("Volume", "Label", &label, at);
}

/// The top-level networks (and `default` when a service uses it without declaring it).
pub fn networks(p: &Project, made: &mut Vec<Made>, default_used: bool) -> Vec<(String, Resource)> {
    let mut out = Vec::new();
    let declared = p
        .root
        .get("networks")
        .and_then(Node::as_map)
        .unwrap_or_default();
    for (key, node) in declared {
        let name = &key.name;
        let file = format!("{}-{name}.network", p.name);
        let resource = match network(p, name, node, &file) {
            Ok(None) => Resource::External(external_name(node, name)),
            Ok(Some(u)) => {
                made.push(made_unit(&file, p, Kind::Network, Ok(u)));
                Resource::Unit(file)
            }
            Err(e) => {
                made.push(made_unit(&file, p, Kind::Network, Err(e)));
                Resource::Unit(file)
            }
        };
        out.push((name.clone(), resource));
    }
    if default_used && !out.iter().any(|(n, _)| n == "default") {
        let file = format!("{}-default.network", p.name);
        let mut q = Q::new(p, &file);
        let name = format!("{}_default", p.name);
        let at = p.root.get("services").unwrap_or(&p.root);
        // Plain text, no specifier or `$` can be in a project name.
        q.unit
            .add_from("Network", "NetworkName", &name, at.file, at.line);
        made.push(made_unit(&file, p, Kind::Network, Ok(q.unit)));
        out.push(("default".into(), Resource::Unit(file)));
    }
    out
}

fn network(
    p: &Project,
    name: &str,
    node: &Node,
    file: &str,
) -> Result<Option<crate::unitfile::UnitFile>, String> {
    let path = format!("networks.{name}");
    if let Some(e) = p.broken_under(&path) {
        return Err(e);
    }
    let mut q = Q::new(p, file);
    if node.is_null() {
        q.set_at(
            "Network",
            "NetworkName",
            &format!("{}_{name}", p.name),
            node,
        )?;
        return Ok(Some(q.unit));
    }
    check_keys(p, node, &path, NETWORK_KEYS, NETWORK_KEYS_UNSUPPORTED)?;
    if is_external(p, node, &path)? {
        return Ok(None);
    }
    let net_name = node
        .get("name")
        .and_then(Node::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}_{name}", p.name));
    q.set_at(
        "Network",
        "NetworkName",
        &net_name,
        node.get("name").unwrap_or(node),
    )?;
    if let Some(d) = node.get("driver") {
        q.single("Network", "Driver", d, &format!("{path}.driver"))?;
    }
    if let Some(n) = node.get("internal") {
        if flag(p, n, &format!("{path}.internal"))? {
            q.set_at("Network", "Internal", "yes", n)?;
        }
    }
    if let Some(n) = node.get("enable_ipv6") {
        if flag(p, n, &format!("{path}.enable_ipv6"))? {
            q.set_at("Network", "IPv6", "yes", n)?;
        }
    }
    if let Some(n) = node.get("attachable") {
        q.warn(
            n,
            &format!("{path}.attachable"),
            "has no effect with Podman: every Podman network is attachable",
        );
    }
    if let Some(opts) = node.get("driver_opts") {
        for (k, v, at) in string_map(p, opts, &format!("{path}.driver_opts"))? {
            q.add_word("Network", "Options", &format!("{k}={v}"), at);
        }
    }
    if let Some(labels) = node.get("labels") {
        for (k, v, at) in string_map(p, labels, &format!("{path}.labels"))? {
            q.add_word("Network", "Label", &format!("{k}={v}"), at);
        }
    }
    if let Some(ipam) = node.get("ipam") {
        let ipath = format!("{path}.ipam");
        check_keys(p, ipam, &ipath, &["driver", "config", "options"], &[])?;
        if let Some(d) = ipam.get("driver") {
            q.single("Network", "IPAMDriver", d, &format!("{ipath}.driver"))?;
        }
        if let Some(o) = ipam.get("options") {
            return Err(Fail::at(
                p,
                o,
                &format!("{ipath}.options"),
                "not supported: Podman's networks take no IPAM driver options",
            )
            .hint("remove it"));
        }
        if let Some(configs) = ipam.get("config") {
            let items = configs.as_seq().ok_or_else(|| {
                Fail::at(p, configs, &format!("{ipath}.config"), "must be a list").plain()
            })?;
            for (i, c) in items.iter().enumerate() {
                let cpath = format!("{ipath}.config.{i}");
                check_keys(
                    p,
                    c,
                    &cpath,
                    &["subnet", "gateway", "ip_range"],
                    &["aux_addresses"],
                )?;
                let subnet = c.get("subnet").ok_or_else(|| {
                    Fail::at(p, c, &cpath, "a config without subnet")
                        .hint("add subnet: (e.g. 10.5.0.0/16)")
                })?;
                q.single("Network", "Subnet", subnet, &format!("{cpath}.subnet"))?;
                if let Some(g) = c.get("gateway") {
                    q.single("Network", "Gateway", g, &format!("{cpath}.gateway"))?;
                }
                if let Some(r) = c.get("ip_range") {
                    q.single("Network", "IPRange", r, &format!("{cpath}.ip_range"))?;
                }
            }
        }
    }
    Ok(Some(q.unit))
}

/// A file a service mounts (`secrets:`/`configs:` top level): its absolute path, the name
/// of an external Podman secret, or a config's `content:` (written when the container starts).
#[derive(Debug, Clone)]
pub enum Mounted {
    File(String),
    ExternalSecret(String),
    Content(String),
}

/// The most a config's `content:` may hold: it is written into the unit (one line of an
/// `ExecStartPre=`, escaped), and systemd reads unit lines of up to 1 MiB.
pub const MAX_CONFIG_CONTENT: usize = 64 * 1024;

/// The top-level `secrets:` (`configs:` with `configs = true`).
pub fn files(p: &Project, configs: bool) -> Result<Vec<(String, Mounted)>, String> {
    let top = if configs { "configs" } else { "secrets" };
    let mut out = Vec::new();
    let Some(map) = p.root.get(top).and_then(Node::as_map) else {
        return Ok(out);
    };
    for (key, node) in map {
        let path = format!("{top}.{}", key.name);
        if let Some(e) = p.broken_under(&path) {
            return Err(e);
        }
        let unsupported: &[&str] = &[
            "environment",
            "template_driver",
            "driver",
            "driver_opts",
            "labels",
        ];
        let known: &[&str] = if configs {
            &["file", "external", "name", "content"]
        } else {
            &["file", "external", "name"]
        };
        let unsupported_here: Vec<&str> = unsupported
            .iter()
            .copied()
            .chain((!configs).then_some("content"))
            .collect();
        check_keys(p, node, &path, known, &unsupported_here)?;
        if let Some(c) = node.get("content") {
            out.push((key.name.clone(), config_content(p, &key.name, c, &path)?));
            continue;
        }
        if is_external(p, node, &path)? {
            if configs {
                return Err(
                    Fail::at(p, node, &path, "an external config: Podman has no configs")
                        .hint("use file: PATH"),
                );
            }
            out.push((
                key.name.clone(),
                Mounted::ExternalSecret(external_name(node, &key.name)),
            ));
            continue;
        }
        let Some(file) = node.get("file") else {
            return Err(Fail::at(p, node, &path, "neither file: nor external: true")
                .hint("add file: ./PATH (mounted read-only into the services that use it)"));
        };
        let f = file
            .as_str()
            .ok_or_else(|| Fail::at(p, file, &format!("{path}.file"), "must be a path").plain())?;
        out.push((key.name.clone(), Mounted::File(host_path(p, f))));
    }
    Ok(out)
}

/// A config's inline `content:` (interpolated like every value). Its name becomes a file
/// name in the runtime directory: letters, digits, `.`, `_` and `-` only.
fn config_content(p: &Project, name: &str, c: &Node, path: &str) -> Result<Mounted, String> {
    let cp = format!("{path}.content");
    let text = c
        .as_str()
        .ok_or_else(|| Fail::at(p, c, &cp, "must be a string").plain())?;
    let name_ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-'));
    if !name_ok {
        return Err(Fail::at(p, c, path, "a config with content: needs a name of letters, digits, '.', '_' and '-' (it names a file)").hint("rename the config"));
    }
    if text.len() > MAX_CONFIG_CONTENT {
        return Err(Fail::at(
            p,
            c,
            &cp,
            format!(
                "{} bytes: more than {MAX_CONFIG_CONTENT} that a unit can carry",
                text.len()
            ),
        )
        .hint("put it in a file and use file: PATH"));
    }
    Ok(Mounted::Content(text.to_string()))
}

/// A host path as Compose resolves it: relative to the project directory, `~` the home of
/// the manager's user (`%h`).
pub fn host_path(p: &Project, path: &str) -> String {
    if let Some(rest) = path.strip_prefix('~') {
        return format!("%h{rest}");
    }
    if path.starts_with('/') {
        return crate::quadlet::clean_path(path);
    }
    crate::quadlet::clean_path(&p.dir.join(path).to_string_lossy())
}

/// A mapping (or `KEY=VALUE` list) of strings: (key, value, node of the value).
pub fn string_map<'n>(
    p: &Project,
    node: &'n Node,
    path: &str,
) -> Result<Vec<(String, String, &'n Node)>, String> {
    let node_map = super::merge::to_map(node.clone());
    let Value::Map(entries) = &node_map.value else {
        return Err(Fail::at(
            p,
            node,
            path,
            format!(
                "must be a mapping or a list of KEY=VALUE, not {}",
                node.kind()
            ),
        )
        .plain());
    };
    let mut out = Vec::new();
    // Values point at the original nodes for their lines.
    for (k, v) in entries {
        let original = find_node(node, &k.name).unwrap_or(node);
        let value = match &v.value {
            Value::Scalar { text, .. } => text.clone(),
            Value::Null => String::new(),
            _ => {
                return Err(Fail::at(
                    p,
                    v,
                    &format!("{path}.{}", k.name),
                    format!("must be a string, not {}", v.kind()),
                )
                .plain())
            }
        };
        out.push((k.name.clone(), value, original));
    }
    Ok(out)
}

/// The node holding `key` in a mapping or a `KEY=VALUE` list.
fn find_node<'n>(node: &'n Node, key: &str) -> Option<&'n Node> {
    match &node.value {
        Value::Map(m) => m.iter().find(|(k, _)| k.name == key).map(|(_, v)| v),
        Value::Seq(items) => items.iter().find(|i| {
            i.as_str()
                .is_some_and(|s| s == key || s.split_once('=').is_some_and(|(k, _)| k == key))
        }),
        _ => None,
    }
}

/// Mount a file (`secrets:`/`configs:` of a service) read-only at `target`.
pub fn mount_file(
    q: &mut Q,
    steps: &super::runtime::Steps,
    source: &str,
    m: &Mounted,
    target: &str,
    at: &Node,
    path: &str,
) -> Result<(), String> {
    match m {
        Mounted::File(f) => {
            if f.contains(':') || target.contains(':') {
                return Err(
                    Fail::at(q.p, at, path, "a path with ':' cannot be mounted with -v").plain(),
                );
            }
            let v = values::single(&format!("{f}:{target}:ro"))
                .map_err(|e| Fail::at(q.p, at, path, e).plain())?;
            // `%h` must stay a specifier: single() doubled it.
            q.unit.add_from(
                "Container",
                "Volume",
                &v.replacen("%%h", "%h", 1),
                at.file,
                at.line,
            );
            Ok(())
        }
        Mounted::ExternalSecret(name) => {
            q.add_word(
                "Container",
                "Secret",
                &format!("{name},type=mount,target={target}"),
                at,
            );
            Ok(())
        }
        Mounted::Content(content) => {
            // Written by a step before each start (atomically: services sharing the config
            // may start together), then mounted read-only like a file.
            let file = steps.runtime_file(&format!("{source}.config"));
            q.raw("Service", "ExecStartPre", &steps.config(&file, content), at);
            if target.contains(':') {
                return Err(
                    Fail::at(q.p, at, path, "a path with ':' cannot be mounted with -v").plain(),
                );
            }
            q.raw(
                "Container",
                "Volume",
                &format!("{file}:{}:ro", values::literal(target)),
                at,
            );
            Ok(())
        }
    }
}

/// `build:` → a `.build` unit; returns its file name and the image's tag.
pub fn build(
    p: &Project,
    service: &str,
    node: &Node,
    image: Option<&str>,
    made: &mut Vec<Made>,
) -> Result<(String, String), String> {
    let path = format!("services.{service}.build");
    let file = format!("{}-{service}.build", p.name);
    let node = if node.as_str().is_some() {
        Node::new(
            node.file,
            node.line,
            Value::Map(vec![(
                super::yaml::Key {
                    name: "context".into(),
                    line: node.line,
                },
                node.clone(),
            )]),
        )
    } else {
        node.clone()
    };
    let unsupported: &[&str] = &[
        "additional_contexts",
        "cache_to",
        "dockerfile_inline",
        "entitlements",
        "extra_hosts",
        "isolation",
        "platforms",
        "privileged",
        "secrets",
        "shm_size",
        "ssh",
        "tags",
        "ulimits",
        "provenance",
        "sbom",
    ];
    check_keys(
        p,
        &node,
        &path,
        &[
            "context",
            "dockerfile",
            "args",
            "target",
            "labels",
            "network",
            "pull",
            "no_cache",
            "cache_from",
        ],
        unsupported,
    )?;
    if let Some(c) = node.get("cache_from") {
        // A cache only makes a build faster; Podman's --cache-from takes a repository
        // without a tag, and BuildKit's type=... sources mean nothing to it.
        q_warn(
            p,
            c,
            &format!("{path}.cache_from"),
            "has no effect: Podman builds with its own layer cache",
        );
    }
    let mut q = Q::new(p, &file);
    let tag = match image {
        Some(i) => i.to_string(),
        None => format!("localhost/{}-{service}:latest", p.name),
    };
    q.set_at(
        "Build",
        "ImageTag",
        &tag,
        node.get("context").unwrap_or(&node),
    )?;
    let context = match node.get("context") {
        Some(c) => c
            .as_str()
            .ok_or_else(|| {
                Fail::at(p, c, &format!("{path}.context"), "must be a path or URL").plain()
            })?
            .to_string(),
        None => ".".to_string(),
    };
    let is_url = context.contains("://")
        || context.starts_with("git@")
        || context.starts_with("github.com/");
    let context_abs = if is_url {
        context.clone()
    } else {
        host_path(p, &context)
    };
    let ctx_node = node.get("context").unwrap_or(&node);
    q.set_at("Build", "SetWorkingDirectory", &context_abs, ctx_node)?;
    if let Some(d) = node.get("dockerfile") {
        let f = d.as_str().ok_or_else(|| {
            Fail::at(p, d, &format!("{path}.dockerfile"), "must be a path").plain()
        })?;
        let abs = if f.starts_with('/') || is_url {
            f.to_string()
        } else {
            crate::quadlet::clean_path(&format!("{context_abs}/{f}"))
        };
        q.set_at("Build", "File", &abs, d)?;
    }
    if let Some(args) = node.get("args") {
        for (k, v, at) in string_map(p, args, &format!("{path}.args"))? {
            q.add_word("Build", "BuildArg", &format!("{k}={v}"), at);
        }
    }
    if let Some(t) = node.get("target") {
        q.single("Build", "Target", t, &format!("{path}.target"))?;
    }
    if let Some(labels) = node.get("labels") {
        for (k, v, at) in string_map(p, labels, &format!("{path}.labels"))? {
            q.add_word("Build", "Label", &format!("{k}={v}"), at);
        }
    }
    if let Some(n) = node.get("network") {
        q.single("Build", "Network", n, &format!("{path}.network"))?;
    }
    if let Some(n) = node.get("pull") {
        if flag(p, n, &format!("{path}.pull"))? {
            q.set_at("Build", "Pull", "always", n)?;
        }
    }
    if let Some(n) = node.get("no_cache") {
        if flag(p, n, &format!("{path}.no_cache"))? {
            q.add_word("Build", "PodmanArgs", "--no-cache", n);
        }
    }
    made.push(made_unit(&file, p, Kind::Build, Ok(q.unit)));
    Ok((file, tag))
}

fn q_warn(p: &Project, node: &Node, path: &str, msg: &str) {
    p.warnings
        .borrow_mut()
        .push(format!("{}: {path}: {msg}", p.at(node)));
}

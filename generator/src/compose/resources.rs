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

#[cfg(test)]
mod tests {
    use crate::compose::testing::{Project, Units};
    use crate::unitfile::UnitFile;

    /// The unit `name` among `units`, or its error.
    fn get(units: &Units, name: &str) -> Result<UnitFile, String> {
        units
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no unit {name}"))
            .1
            .clone()
    }

    /// Service `web`'s unit, or the error of the project's stub (`app.container`) when what
    /// is wrong is a top-level key.
    fn web(p: &Project) -> Result<UnitFile, String> {
        let (units, _) = p.translate();
        match units.iter().any(|(n, _)| n == "app.container") {
            true => get(&units, "app.container"),
            false => get(&units, "app-web.container"),
        }
    }

    fn names(units: &Units) -> Vec<&str> {
        units.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// Each value of a key, with its Compose line.
    fn lines(u: &UnitFile, group: &str, key: &str) -> Vec<(String, usize)> {
        u.located_values(group, key)
            .into_iter()
            .map(|(v, _, line)| (v.to_string(), line))
            .collect()
    }

    fn values(u: &UnitFile, group: &str, key: &str) -> Vec<String> {
        u.lookup_all(group, key)
            .iter()
            .map(|v| v.to_string())
            .collect()
    }

    const LABEL: &str = "io.unitsmith.compose.project=app";

    /// A volume declared empty, one with every key (the values of `driver_opts` and
    /// `labels` at their own lines, as a mapping and as a list), an external one.
    #[test]
    fn top_level_volumes() {
        let p = Project::new(
            "res-volumes",
            "services:\n  web:\n    image: nginx\n    volumes: ['plain:/p', 'full:/f', 'ext:/e', 'ext2:/e2']\nvolumes:\n  plain:\n  full:\n    name: my-full\n    driver: local\n    driver_opts:\n      type: nfs\n      device: ':/srv'\n      o: addr=10.0.0.1\n      other: x\n    labels:\n      - a=1\n      - b\n      - c=3\n  ext:\n    external: true\n  ext2:\n    external: true\n    name: outside\n",
        );
        let (units, _) = p.translate();
        assert_eq!(
            names(&units),
            [
                "app-plain.volume",
                "app-full.volume",
                "app-default.network",
                "app-web.container"
            ]
        );
        let plain = get(&units, "app-plain.volume").unwrap();
        assert_eq!(values(&plain, "Volume", "VolumeName"), ["app_plain"]);
        assert_eq!(values(&plain, "Volume", "Label"), [LABEL]);
        let full = get(&units, "app-full.volume").unwrap();
        assert_eq!(
            lines(&full, "Volume", "VolumeName"),
            [("my-full".into(), 8)]
        );
        assert_eq!(values(&full, "Volume", "Driver"), ["local"]);
        assert_eq!(lines(&full, "Volume", "Type"), [("nfs".into(), 11)]);
        assert_eq!(lines(&full, "Volume", "Device"), [(":/srv".into(), 12)]);
        assert_eq!(
            lines(&full, "Volume", "Options"),
            [("addr=10.0.0.1".into(), 13)]
        );
        assert_eq!(
            lines(&full, "Volume", "PodmanArgs"),
            [("--opt=other=x".into(), 14)]
        );
        assert_eq!(
            lines(&full, "Volume", "Label"),
            [
                ("a=1".into(), 16),
                ("b=".into(), 17),
                ("c=3".into(), 18),
                (LABEL.into(), 8)
            ]
        );
        let web = get(&units, "app-web.container").unwrap();
        assert_eq!(
            values(&web, "Container", "Volume"),
            [
                "app-plain.volume:/p",
                "app-full.volume:/f",
                "ext:/e",
                "outside:/e2"
            ]
        );
    }

    /// A volume or network that cannot be made is a unit that fails, named after it.
    #[test]
    fn a_broken_volume_or_network_is_a_failing_unit() {
        let p = Project::new(
            "res-broken",
            "services:\n  web:\n    image: nginx\n    volumes: ['v:/v']\n    networks: [n]\nvolumes:\n  v:\n    size: 1\nnetworks:\n  n:\n    external: maybe\n",
        );
        let (units, _) = p.translate();
        let e = get(&units, "app-v.volume").unwrap_err();
        assert!(e.contains(":8: volumes.v.size: unknown key"), "{e}");
        let e = get(&units, "app-n.network").unwrap_err();
        assert!(
            e.contains(":11: networks.n.external: must be true or false"),
            "{e}"
        );
        let web = get(&units, "app-web.container").unwrap();
        assert_eq!(values(&web, "Container", "Volume"), ["app-v.volume:/v"]);
        assert_eq!(values(&web, "Container", "Network"), ["app-n.network"]);
    }

    /// The network `default` is made when a service uses it and it is not declared, and only
    /// then.
    #[test]
    fn the_default_network() {
        let made = |test: &str, text: &str| {
            let (units, _) = Project::new(test, text).translate();
            names(&units)
                .into_iter()
                .filter(|n| n.ends_with(".network"))
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        let p = Project::new("res-default", "services:\n  web:\n    image: nginx\n");
        let (units, _) = p.translate();
        let d = get(&units, "app-default.network").unwrap();
        assert_eq!(
            lines(&d, "Network", "NetworkName"),
            [("app_default".into(), 2)]
        );
        assert!(!d.has_key("Network", "Label"));
        assert_eq!(
            made(
                "res-default-other",
                "services:\n  web:\n    image: nginx\n  db:\n    image: pg\n    networks: [n]\nnetworks:\n  n:\n"
            ),
            ["app-n.network", "app-default.network"]
        );
        assert_eq!(
            made(
                "res-default-unused",
                "services:\n  db:\n    image: pg\n    networks: [n]\nnetworks:\n  n:\n"
            ),
            ["app-n.network"]
        );
        let p = Project::new(
            "res-default-declared",
            "services:\n  web:\n    image: nginx\nnetworks:\n  default:\n    name: mine\n",
        );
        let (units, _) = p.translate();
        assert_eq!(names(&units), ["app-default.network", "app-web.container"]);
        let d = get(&units, "app-default.network").unwrap();
        assert_eq!(values(&d, "Network", "NetworkName"), ["mine"]);
    }

    /// A network with every key, an empty one, an external one.
    #[test]
    fn top_level_networks() {
        let p = Project::new(
            "res-networks",
            "services:\n  web:\n    image: nginx\n    networks: [plain, full, ext]\nnetworks:\n  plain:\n  full:\n    driver: bridge\n    internal: true\n    enable_ipv6: true\n    attachable: true\n    driver_opts: {mtu: '1400'}\n    labels: [a=1]\n    ipam:\n      driver: host-local\n      config:\n        - subnet: 10.5.0.0/16\n          gateway: 10.5.0.1\n          ip_range: 10.5.1.0/24\n        - subnet: fd00::/64\n  ext:\n    external: true\n    name: outside\n",
        );
        let (units, warnings) = p.translate();
        let plain = get(&units, "app-plain.network").unwrap();
        assert_eq!(
            lines(&plain, "Network", "NetworkName"),
            [("app_plain".into(), 6)]
        );
        let full = get(&units, "app-full.network").unwrap();
        let all = |k: &str| values(&full, "Network", k);
        assert_eq!(all("NetworkName"), ["app_full"]);
        assert_eq!(all("Driver"), ["bridge"]);
        assert_eq!(all("Internal"), ["yes"]);
        assert_eq!(all("IPv6"), ["yes"]);
        assert_eq!(all("Options"), ["mtu=1400"]);
        assert_eq!(all("Label"), ["a=1"]);
        assert_eq!(all("IPAMDriver"), ["host-local"]);
        assert_eq!(all("Subnet"), ["10.5.0.0/16", "fd00::/64"]);
        assert_eq!(all("Gateway"), ["10.5.0.1"]);
        assert_eq!(all("IPRange"), ["10.5.1.0/24"]);
        assert!(
            warnings
                .iter()
                .any(|w| w.ends_with(":11: networks.full.attachable: has no effect with Podman: every Podman network is attachable")),
            "{warnings:?}"
        );
        assert!(!names(&units).contains(&"app-ext.network"));
        let web = get(&units, "app-web.container").unwrap();
        assert_eq!(
            values(&web, "Container", "Network"),
            ["app-plain.network", "app-full.network", "outside"]
        );
        // Internal and IPv6 only when true.
        let p = Project::new(
            "res-networks-false",
            "services:\n  web:\n    image: nginx\n    networks: [n]\nnetworks:\n  n:\n    internal: false\n    enable_ipv6: false\n",
        );
        let (units, _) = p.translate();
        let n = get(&units, "app-n.network").unwrap();
        assert!(!n.has_key("Network", "Internal") && !n.has_key("Network", "IPv6"));
    }

    /// What `ipam:` refuses: options, a config that is not a list or has no subnet.
    #[test]
    fn ipam_errors() {
        let error = |test: &str, ipam: &str| {
            let p = Project::new(
                test,
                &format!("services:\n  web:\n    image: nginx\n    networks: [n]\nnetworks:\n  n:\n    ipam:\n{ipam}"),
            );
            get(&p.translate().0, "app-n.network").unwrap_err()
        };
        let e = error("res-ipam-opts", "      options: {a: b}\n");
        assert!(e.contains(":8: networks.n.ipam.options: not supported: Podman's networks take no IPAM driver options\n  hint: remove it"), "{e}");
        let e = error("res-ipam-list", "      config: {subnet: x}\n");
        assert!(
            e.ends_with(":8: networks.n.ipam.config: must be a list"),
            "{e}"
        );
        let e = error(
            "res-ipam-subnet",
            "      config:\n        - gateway: 10.0.0.1\n",
        );
        assert!(
            e.contains(
                ":9: networks.n.ipam.config.0: a config without subnet\n  hint: add subnet:"
            ),
            "{e}"
        );
        let e = error(
            "res-ipam-aux",
            "      config:\n        - {subnet: 10.0.0.0/8, aux_addresses: {a: 10.0.0.5}}\n",
        );
        assert!(
            e.contains("networks.n.ipam.config.0.aux_addresses: not supported by unitsmith"),
            "{e}"
        );
    }

    /// A config's `content:` up to the limit, and its name (which names a file).
    #[test]
    fn config_content() {
        let error = |test: &str, name: &str, content: &str| {
            web(&Project::new(
                test,
                &format!("services:\n  web:\n    image: nginx\n    configs: ['{name}']\nconfigs:\n  '{name}':\n    content: {content}\n"),
            ))
        };
        let at_limit = "x".repeat(super::MAX_CONFIG_CONTENT);
        assert_eq!(super::MAX_CONFIG_CONTENT, 65536);
        let u = error("res-content-limit", "ok", &at_limit).unwrap();
        assert!(values(&u, "Service", "ExecStartPre")
            .iter()
            .any(|s| s.contains(&at_limit)));
        let e = error("res-content-over", "ok", &format!("{at_limit}x")).unwrap_err();
        assert!(
            e.contains(":7: configs.ok.content: 65537 bytes: more than 65536 that a unit can carry\n  hint: put it in a file"),
            "{e}"
        );
        assert!(error("res-content-name", "a.B_c-1", "x").is_ok());
        for bad in ["", ".hidden", "a b", "a/b", "é"] {
            let e = error("res-content-bad", bad, "x").unwrap_err();
            assert!(
                e.contains("a config with content: needs a name of letters, digits"),
                "{bad:?}: {e}"
            );
        }
        let e = error("res-content-list", "ok", "[a]").unwrap_err();
        assert!(
            e.ends_with(":7: configs.ok.content: must be a string"),
            "{e}"
        );
    }

    /// Top-level secrets and configs: a file (relative, absolute, under `~`), an external
    /// secret; what is refused.
    #[test]
    fn secrets_and_configs() {
        let p = Project::new(
            "res-files",
            "services:\n  web:\n    image: nginx\n    secrets: [rel, abs, home, ext]\n    configs: [c]\nsecrets:\n  rel: {file: ./s/../rel.txt}\n  abs: {file: /etc/x//y}\n  home: {file: ~/h.txt}\n  ext: {external: true, name: podman-secret}\nconfigs:\n  c: {file: c.txt}\n",
        );
        let u = web(&p).unwrap();
        let dir = p.dir().display().to_string();
        assert_eq!(
            values(&u, "Container", "Volume"),
            [
                format!("{dir}/rel.txt:/run/secrets/rel:ro"),
                "/etc/x/y:/run/secrets/abs:ro".to_string(),
                "%h/h.txt:/run/secrets/home:ro".to_string(),
                format!("{dir}/c.txt:/c:ro"),
            ]
        );
        assert_eq!(
            values(&u, "Container", "Secret"),
            ["podman-secret,type=mount,target=/run/secrets/ext"]
        );
        let error = |test: &str, text: &str| {
            web(&Project::new(
                test,
                &format!("services:\n  web:\n    image: nginx\n    secrets: [s]\n{text}"),
            ))
            .unwrap_err()
        };
        let e = error("res-secret-content", "secrets:\n  s: {content: x}\n");
        assert!(
            e.contains(":6: secrets.s.content: not supported by unitsmith"),
            "{e}"
        );
        let e = error("res-secret-none", "secrets:\n  s: {name: x}\n");
        assert!(
            e.contains(":6: secrets.s: neither file: nor external: true\n  hint: add file:"),
            "{e}"
        );
        let e = error("res-secret-list", "secrets:\n  s: {file: [a]}\n");
        assert!(e.contains(":6: secrets.s.file: must be a path"), "{e}");
        let e = error("res-secret-colon", "secrets:\n  s: {file: './a:b'}\n");
        assert!(
            e.contains("a path with ':' cannot be mounted with -v"),
            "{e}"
        );
        let e = web(&Project::new(
            "res-config-ext",
            "services:\n  web:\n    image: nginx\n    configs: [c]\nconfigs:\n  c: {external: true}\n",
        ))
        .unwrap_err();
        assert!(
            e.contains(
                ":6: configs.c: an external config: Podman has no configs\n  hint: use file: PATH"
            ),
            "{e}"
        );
        let e = Project::new(
            "res-target-colon",
            "services:\n  web:\n    image: nginx\n    secrets: [{source: s, target: '/a:b'}]\nsecrets:\n  s: {file: ./s.txt}\n",
        )
        .service("web")
        .unwrap_err();
        assert!(
            e.contains("a path with ':' cannot be mounted with -v"),
            "{e}"
        );
    }

    /// `build:`: the context (a directory, or a URL of each form, which Dockerfiles are not
    /// resolved against), the tag, and the warning for `cache_from`.
    #[test]
    fn build_contexts() {
        let build = |test: &str, build: &str| {
            let p = Project::new(test, &format!("services:\n  web:\n    build:{build}\n"));
            let (units, warnings) = p.translate();
            let b = get(&units, "app-web.build").unwrap();
            let web = get(&units, "app-web.container").unwrap();
            (
                values(&b, "Build", "SetWorkingDirectory"),
                values(&b, "Build", "File"),
                values(&b, "Build", "ImageTag"),
                values(&web, "Container", "Image"),
                warnings,
                p.dir().display().to_string(),
            )
        };
        let (ctx, file, tag, image, _, dir) = build(
            "res-build-dir",
            "\n      context: ./src\n      dockerfile: /abs/Dockerfile",
        );
        assert_eq!(ctx, [format!("{dir}/src")]);
        assert_eq!(file, ["/abs/Dockerfile"]);
        assert_eq!(tag, ["localhost/app-web:latest"]);
        assert_eq!(image, ["app-web.build"]);
        for url in [
            "https://example.com/r.git",
            "git@github.com:a/r.git",
            "github.com/a/r",
        ] {
            let (ctx, file, ..) = build(
                "res-build-url",
                &format!("\n      context: '{url}'\n      dockerfile: sub/Dockerfile"),
            );
            assert_eq!(
                (ctx, file),
                (vec![url.to_string()], vec!["sub/Dockerfile".to_string()])
            );
        }
        let (.., warnings, _) = build(
            "res-build-cache",
            "\n      context: .\n      cache_from: [x]",
        );
        assert!(
            warnings.iter().any(|w| w.ends_with(
                ":5: services.web.build.cache_from: has no effect: Podman builds with its own layer cache"
            )),
            "{warnings:?}"
        );
    }
}

//! Translation of Quadlet files into systemd services, with Podman 5.8.2's semantics (or its
//! main branch's, for hosts running Podman 6: see `flavor`).
//!
//! One module per file type; this one holds what they share: the kinds, unit names, the
//! conversion context, errors, and the handlers several types use (networks, volumes, user
//! mappings, ...). The key tables live in `keys` as data.

mod artifact;
mod build;
mod container;
mod flavor;
mod image;
pub mod keys;
mod kube;
mod network;
mod pod;
mod volume;

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use crate::cmdline::Cmdline;
use crate::unitfile::{self, UnitFile};

pub use flavor::{Flavor, VERSION_ENV};

pub const UNIT: &str = "Unit";
pub const SERVICE: &str = "Service";
pub const INSTALL: &str = "Install";
pub const QUADLET: &str = "Quadlet";

/// The Quadlet file types, in the order they are processed (producers before consumers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Artifact,
    Image,
    Volume,
    Network,
    Build,
    Container,
    Kube,
    Pod,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Artifact,
        Kind::Image,
        Kind::Volume,
        Kind::Network,
        Kind::Build,
        Kind::Container,
        Kind::Kube,
        Kind::Pod,
    ];

    pub fn from_filename(name: &str) -> Option<Kind> {
        // Called for every directory entry: find the extension once, not once per kind.
        let ext = unitfile::extension(name);
        Kind::ALL.into_iter().find(|k| ext == k.extension())
    }

    pub fn extension(self) -> &'static str {
        match self {
            Kind::Artifact => ".artifact",
            Kind::Image => ".image",
            Kind::Volume => ".volume",
            Kind::Network => ".network",
            Kind::Build => ".build",
            Kind::Container => ".container",
            Kind::Kube => ".kube",
            Kind::Pod => ".pod",
        }
    }

    /// The group holding the type's own keys, e.g. `Container`.
    pub fn group(self) -> &'static str {
        match self {
            Kind::Artifact => "Artifact",
            Kind::Image => "Image",
            Kind::Volume => "Volume",
            Kind::Network => "Network",
            Kind::Build => "Build",
            Kind::Container => "Container",
            Kind::Kube => "Kube",
            Kind::Pod => "Pod",
        }
    }

    /// Name the group is renamed to in the service, so systemd ignores it.
    pub fn x_group(self) -> &'static str {
        match self {
            Kind::Artifact => "X-Artifact",
            Kind::Image => "X-Image",
            Kind::Volume => "X-Volume",
            Kind::Network => "X-Network",
            Kind::Build => "X-Build",
            Kind::Container => "X-Container",
            Kind::Kube => "X-Kube",
            Kind::Pod => "X-Pod",
        }
    }

    pub fn keys(self) -> &'static [&'static str] {
        match self {
            Kind::Artifact => keys::ARTIFACT,
            Kind::Image => keys::IMAGE,
            Kind::Volume => keys::VOLUME,
            Kind::Network => keys::NETWORK,
            Kind::Build => keys::BUILD,
            Kind::Container => keys::CONTAINER,
            Kind::Kube => keys::KUBE,
            Kind::Pod => keys::POD,
        }
    }

    /// [`keys`](Self::keys) in [`key_order`] for binary search, sorted on first use (the
    /// tables themselves keep Podman's order, which spelling hints depend on).
    fn sorted_keys(self) -> &'static [&'static str] {
        static SORTED: OnceLock<[Vec<&'static str>; 8]> = OnceLock::new();
        let all = SORTED.get_or_init(|| {
            Kind::ALL.map(|k| {
                let mut keys = k.keys().to_vec();
                keys.sort_unstable_by(|a, b| key_order(a, b));
                keys
            })
        });
        let i = Kind::ALL.iter().position(|k| *k == self).unwrap_or(0);
        all.get(i).map_or(&[], |v| v.as_slice())
    }

    /// Processing order: artifacts and images, volumes and networks, builds, containers and
    /// kube, pods (Quadlet's; a pod learns its containers from their conversion).
    pub fn order(self) -> u8 {
        match self {
            Kind::Artifact | Kind::Image => 1,
            Kind::Volume | Kind::Network => 2,
            Kind::Build => 3,
            Kind::Container | Kind::Kube => 4,
            Kind::Pod => 5,
        }
    }

    fn service_suffix(self) -> &'static str {
        match self {
            Kind::Container | Kind::Kube => "",
            Kind::Volume => "-volume",
            Kind::Network => "-network",
            Kind::Image => "-image",
            Kind::Build => "-build",
            Kind::Artifact => "-artifact",
            Kind::Pod => "-pod",
        }
    }
}

/// What other files need to know about a Quadlet unit.
#[derive(Debug, Clone, Default)]
pub struct UnitInfo {
    /// The service's name without `.service`.
    pub service_name: String,
    /// The podman object it creates (container, volume, network, image, pod name), when known.
    pub resource_name: String,
    /// For pods: the services of the containers that start with it.
    pub containers_to_start: Vec<String>,
    /// Set when the file failed: why.
    pub failed: Option<String>,
}

impl UnitInfo {
    pub fn service_file_name(&self) -> String {
        [self.service_name.as_str(), ".service"].concat()
    }
}

pub type UnitsInfo = HashMap<String, UnitInfo>;

/// A conversion failure: Podman's message, plus where it happened and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertError {
    pub message: String,
    /// The group and key the message is about, to locate it (file:line).
    pub at: Option<(String, String)>,
    pub hint: Option<String>,
}

impl ConvertError {
    pub fn new(message: impl Into<String>) -> ConvertError {
        ConvertError {
            message: message.into(),
            at: None,
            hint: None,
        }
    }

    pub fn at(mut self, group: &str, key: &str) -> ConvertError {
        self.at = Some((group.to_string(), key.to_string()));
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> ConvertError {
        self.hint = Some(hint.into());
        self
    }
}

pub type Result<T> = std::result::Result<T, ConvertError>;

/// The outcome of converting one file.
pub struct Converted {
    pub service: UnitFile,
    /// Quadlet files whose resources this service uses (a failure there fails this one).
    pub deps: Vec<String>,
    /// The podman object the service creates, for files that refer to this one.
    pub resource_name: Option<String>,
    /// The `.pod` this container asked to be started with.
    pub join_pod: Option<String>,
}

/// One conversion's view of the run: what is known of the other files (read-only, so files of
/// one processing level can be converted in parallel), and what this conversion found.
pub struct Ctx<'a> {
    pub infos: &'a UnitsInfo,
    pub is_user: bool,
    /// The podman binary generated commands call.
    pub podman: &'a str,
    /// Whose Quadlet the output follows.
    pub flavor: Flavor,
    /// Warnings, each with its location.
    pub warnings: Vec<String>,
    deps: Vec<String>,
    resource_name: Option<String>,
    join_pod: Option<String>,
}

impl<'a> Ctx<'a> {
    pub fn new(infos: &'a UnitsInfo, is_user: bool, podman: &'a str, flavor: Flavor) -> Ctx<'a> {
        Ctx {
            infos,
            is_user,
            podman,
            flavor,
            warnings: Vec::new(),
            deps: Vec::new(),
            resource_name: None,
            join_pod: None,
        }
    }

    /// Look up a referenced Quadlet file, remembering the dependency. `missing` is Podman's
    /// message for a file that does not exist.
    ///
    /// The info is borrowed from the run's table, not copied (most references need only
    /// the service and resource names, once).
    fn dependency(&mut self, name: &str, missing: impl FnOnce() -> String) -> Result<&'a UnitInfo> {
        let infos: &'a UnitsInfo = self.infos;
        match infos.get(name) {
            None => Err(ConvertError::new(missing())),
            Some(info) => {
                if let Some(why) = &info.failed {
                    let why = why.lines().next().unwrap_or_default();
                    return Err(ConvertError::new(format!(
                        "depends on {name} ({}), which failed: {why}",
                        info.service_file_name()
                    ))
                    .hint(format!(
                        "fix {name} first; this unit is generated again once it converts"
                    )));
                }
                if !self.deps.iter().any(|d| d == name) {
                    self.deps.push(name.to_string());
                }
                Ok(info)
            }
        }
    }

    fn warn(&mut self, unit: &UnitFile, group: &str, key: &str, msg: impl std::fmt::Display) {
        let loc = match unit.location(group, key) {
            Some((p, l)) => format!("{}:{}", p.display(), l),
            None => unit.path.display().to_string(),
        };
        self.warnings.push(format!("{loc}: {key}: {msg}"));
    }
}

/// The service name (without `.service`) a Quadlet file produces.
pub fn service_name(unit: &UnitFile, kind: Kind) -> String {
    if let Some(name) = unit.lookup(kind.group(), "ServiceName") {
        return name;
    }
    // Built in one allocation: this runs for every input before any is converted.
    let base = without_extension(&unit.filename);
    let (base, template) = match base.strip_suffix('@') {
        Some(b) => (b, "@"),
        None => (base, ""),
    };
    [base, kind.service_suffix(), template].concat()
}

/// The service name a file produces from its name alone (for files that could not be parsed).
pub fn service_name_from_filename(filename: &str) -> Option<String> {
    let kind = Kind::from_filename(filename)?;
    Some(service_name(&UnitFile::new(filename), kind))
}

/// `name` without its last extension, between `prefix` and `suffix`.
pub fn remove_extension(name: &str, prefix: &str, suffix: &str) -> String {
    [prefix, without_extension(name), suffix].concat()
}

/// `name` without its last extension (borrowed).
fn without_extension(name: &str) -> &str {
    match name.rfind('.') {
        Some(i) if i > 0 => &name[..i],
        _ => name,
    }
}

/// The podman object name of a file: the key's value, or `systemd-BASENAME` (`-%i` for templates).
fn resource_name(unit: &UnitFile, group: &str, key: &str) -> String {
    match unit.lookup(group, key) {
        Some(v) if !v.is_empty() => v,
        _ => {
            let mut name = remove_extension(&unit.filename, "systemd-", "");
            if unit.filename.contains('@') {
                // Quadlet drops the last character (the `@` of `foo@.volume`) before adding `-%i`.
                name.pop();
                name.push_str("-%i");
            }
            name
        }
    }
}

/// The container name, unresolved (may hold `%` specifiers).
fn container_name(unit: &UnitFile) -> String {
    match unit.lookup("Container", "ContainerName") {
        Some(v) if !v.is_empty() => v,
        _ if unit.filename.contains('@') => "systemd-%p_%i".to_string(),
        _ => "systemd-%N".to_string(),
    }
}

/// The container name when it is known before systemd runs: only %N (the service name) is
/// resolvable; other specifiers leave the name unknown (empty). The same as resolving
/// [`container_name`], without building the unresolved name first.
fn known_container_name(unit: &UnitFile, service_name: &str) -> String {
    let name = match unit.lookup_str("Container", "ContainerName") {
        Some(v) if !v.is_empty() => v,
        // `systemd-%p_%i`: never known.
        _ if unit.filename.contains('@') => return String::new(),
        // `systemd-%N`
        _ => return without_specifiers(["systemd-", service_name].concat()),
    };
    if name.contains('%') {
        without_specifiers(name.replace("%N", service_name))
    } else {
        name.to_string()
    }
}

/// `name`, or "" when it still holds a specifier.
fn without_specifiers(name: String) -> String {
    if name.contains('%') {
        String::new()
    } else {
        name
    }
}

/// What other files can know of each file before any is converted.
pub fn prefill_info(unit: &UnitFile, kind: Kind) -> UnitInfo {
    let service_name = service_name(unit, kind);
    let resource_name = match kind {
        Kind::Container => known_container_name(unit, &service_name),
        Kind::Build => unit
            .lookup_all("Build", "ImageTag")
            .first()
            .map(|s| s.to_string())
            .unwrap_or_default(),
        Kind::Pod => match unit.lookup("Pod", "PodName") {
            Some(v) if !v.is_empty() => v,
            _ => remove_extension(&unit.filename, "systemd-", ""),
        },
        _ => String::new(),
    };
    UnitInfo {
        service_name,
        resource_name,
        containers_to_start: Vec::new(),
        failed: None,
    }
}

/// Convert one parsed Quadlet file. Warnings are left in `ctx.warnings`.
pub fn convert(unit: &UnitFile, kind: Kind, ctx: &mut Ctx) -> Result<Converted> {
    let service = match kind {
        Kind::Container => container::convert(unit, ctx)?,
        Kind::Volume => volume::convert(unit, ctx)?,
        Kind::Network => network::convert(unit, ctx)?,
        Kind::Kube => kube::convert(unit, ctx)?,
        Kind::Image => image::convert(unit, ctx)?,
        Kind::Build => build::convert(unit, ctx)?,
        Kind::Artifact => artifact::convert(unit, ctx)?,
        Kind::Pod => pod::convert(unit, ctx)?,
    };
    Ok(Converted {
        service,
        deps: std::mem::take(&mut ctx.deps),
        resource_name: ctx.resource_name.take(),
        join_pod: ctx.join_pod.take(),
    })
}

/// Warnings Quadlet gives before converting: `[Service]` keys that break podman, short image names.
pub fn pre_warnings(unit: &UnitFile, kind: Kind) -> Vec<String> {
    let mut out = Vec::new();
    for key in keys::UNSUPPORTED_SERVICE {
        if unit.has_key(SERVICE, key) {
            let loc = location_prefix(unit, SERVICE, key);
            out.push(format!(
                "{loc}Warning: using key {key} in the Service group is not supported - use at your own risk"
            ));
        }
    }
    if matches!(
        kind,
        Kind::Container | Kind::Volume | Kind::Image | Kind::Artifact
    ) {
        if let Some(image) = unit.lookup(kind.group(), "Image") {
            if !image.ends_with(".build")
                && !image.ends_with(".image")
                && !is_unambiguous_image_name(&image)
            {
                let loc = location_prefix(unit, kind.group(), "Image");
                out.push(format!(
                    "{loc}Warning: {} specifies the image \"{image}\" which not a fully qualified image name. This is not ideal for performance and security reasons. See the podman-pull manpage discussion of short-name-aliases.conf for details.",
                    unit.filename
                ));
            }
        }
    }
    out
}

fn location_prefix(unit: &UnitFile, group: &str, key: &str) -> String {
    match unit.location(group, key) {
        Some((p, l)) => format!("{}:{}: ", p.display(), l),
        None => String::new(),
    }
}

fn is_unambiguous_image_name(name: &str) -> bool {
    if name.starts_with("sha256:")
        || (name.len() == 64 && name.chars().all(|c| c.is_ascii_hexdigit()))
    {
        return true;
    }
    match name.split_once('/') {
        None => false,
        Some((domain, _)) => domain.contains(['.', ':']) || domain == "localhost",
    }
}

// ------------------------------------------------------------- shared steps

/// The service skeleton every type starts from: a copy of the file with its type group renamed,
/// Quadlet dependencies translated, default dependencies and `SourcePath=`.
fn init_service(unit: &UnitFile, kind: Kind, ctx: &mut Ctx) -> Result<UnitFile> {
    let extra = ctx.flavor.extra_keys(kind);
    check_unknown_keys(unit, kind.group(), kind.keys(), kind.sorted_keys(), extra)?;
    // One key: sorted as it is.
    check_unknown_keys(unit, QUADLET, keys::QUADLET, keys::QUADLET, &[])?;
    let mut service = unit.clone();
    service.filename = match ctx.infos.get(&unit.filename) {
        Some(info) => info.service_file_name(),
        None => service_name(unit, kind) + ".service",
    };
    translate_unit_dependencies(&mut service, ctx)?;
    if service.lookup_bool_or(QUADLET, "DefaultDependencies", true) {
        // Pulls must not start before the network is up; user managers cannot wait for
        // network-online.target, so Podman ships a helper service for them.
        let target = if ctx.is_user {
            "podman-user-wait-network-online.service"
        } else {
            "network-online.target"
        };
        service.prepend(UNIT, "After", target);
        service.prepend(UNIT, "Wants", target);
    }
    if !unit.path.as_os_str().is_empty() {
        service.add(UNIT, "SourcePath", &unit.path.to_string_lossy());
    }
    service.add(UNIT, "RequiresMountsFor", "%t/containers");
    service.rename_group(kind.group(), kind.x_group());
    service.rename_group(QUADLET, "X-Quadlet");
    Ok(service)
}

/// Shorter keys first, keys of one length by their bytes: most comparisons of a binary search
/// then end at the lengths, without comparing bytes.
fn key_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Fails on the first key of `group` that `supported` and `extra` (the flavour's own) lack;
/// `sorted` is `supported` in [`key_order`].
fn check_unknown_keys(
    unit: &UnitFile,
    group: &str,
    supported: &[&str],
    sorted: &[&str],
    extra: &[&str],
) -> Result<()> {
    // Every assignment in order: the first unsupported one is also the first unsupported key
    // in order of first appearance, which is the one to report.
    for key in unit.keys_in_order(group) {
        if sorted.binary_search_by(|s| key_order(s, key)).is_err() && !extra.contains(&key) {
            let mut err = ConvertError::new(format!(
                "unsupported key '{key}' in group '{group}' in {}",
                unit.path.display()
            ))
            .at(group, key);
            if let Some(s) = crate::spell::closest(key, supported) {
                err = err.hint(format!("did you mean '{s}'?"));
            }
            return Err(err);
        }
    }
    Ok(())
}

/// `Requires=foo.container` and friends name the Quadlet file; systemd needs the service.
fn translate_unit_dependencies(service: &mut UnitFile, ctx: &mut Ctx) -> Result<()> {
    // Most of these keys are absent: find [Unit] once and ask it which are there (the key
    // filter answers for the absent ones) before editing the service.
    let unit_section = service.section(UNIT);
    let present: Vec<&'static str> = keys::UNIT_DEPENDENCIES
        .iter()
        .copied()
        .filter(|key| unit_section.has_key(key))
        .collect();
    for key in present {
        let deps = service.lookup_all_strv(UNIT, key);
        if deps.is_empty() {
            continue;
        }
        let mut translated = false;
        let mut out = Vec::with_capacity(deps.len());
        for dep in deps {
            if Kind::from_filename(&dep).is_some() {
                match ctx.infos.get(&dep) {
                    Some(info) => out.push(info.service_file_name()),
                    None => {
                        return Err(ConvertError::new(format!(
                            "unable to translate dependency for {dep}"
                        ))
                        .at(UNIT, key)
                        .hint(format!(
                            "no Quadlet file named {dep} is in the search paths"
                        )))
                    }
                }
                translated = true;
            } else {
                out.push(dep);
            }
        }
        if translated {
            service.unset(UNIT, key);
            service.add(UNIT, key, &out.join(" "));
        }
    }
    Ok(())
}

/// `podman` plus `--module=` and `GlobalArgs=`, the start of every command.
fn base_command<'a>(unit: &UnitFile, group: &str, ctx: &Ctx<'a>) -> Cmdline<'a> {
    let mut c = Cmdline::new(ctx.podman);
    for m in unit.lookup_all(group, "ContainersConfModule") {
        c.add(["--module=", m].concat());
    }
    c.add_all(unit.lookup_all_args(group, "GlobalArgs"));
    c
}

/// Keys whose last non-empty value becomes `flag VALUE`.
fn add_strings<'a>(
    unit: &'a UnitFile,
    group: &str,
    table: &[(&str, &'a str)],
    c: &mut Cmdline<'a>,
) {
    let sec = unit.section(group);
    for (key, flag) in table {
        if let Some(v) = sec.lookup_str(key).filter(|v| !v.is_empty()) {
            c.add(*flag).add(v);
        }
    }
}

/// Keys whose every value becomes `flag VALUE`.
fn add_all_strings<'a>(
    unit: &'a UnitFile,
    group: &str,
    table: &[(&str, &'a str)],
    c: &mut Cmdline<'a>,
) {
    let sec = unit.section(group);
    for (key, flag) in table {
        for v in sec.lookup_all(key) {
            c.add(*flag).add(v);
        }
    }
}

/// Boolean keys: `flag` or `flag=false` when set.
fn add_booleans<'a>(unit: &UnitFile, group: &str, table: &[(&str, &'a str)], c: &mut Cmdline<'a>) {
    let sec = unit.section(group);
    for (key, flag) in table {
        if let Some(v) = sec.lookup_bool(key) {
            c.add_bool(flag, v);
        }
    }
}

/// `KEY=VALUE` list keys: one `flag KEY=VALUE` per key, sorted; split failures are warnings.
fn add_key_vals<'a>(
    unit: &UnitFile,
    group: &str,
    table: &[(&str, &'a str)],
    c: &mut Cmdline<'a>,
    ctx: &mut Ctx,
) {
    let sec = unit.section(group);
    for (key, flag) in table {
        let (words, errors) = sec.lookup_all_key_val(key);
        for e in errors {
            ctx.warn(unit, group, key, e);
        }
        c.add_keys(flag, words);
    }
}

fn add_podman_args(unit: &UnitFile, group: &str, c: &mut Cmdline) {
    c.add_all(unit.lookup_all_args(group, "PodmanArgs"));
}

fn add_publish_ports<'a>(unit: &'a UnitFile, group: &str, c: &mut Cmdline<'a>) {
    for p in unit.lookup_all(group, "PublishPort") {
        c.add("--publish").add(p);
    }
}

fn add_log_driver_and_opts<'a>(unit: &'a UnitFile, group: &str, c: &mut Cmdline<'a>) {
    if let Some(d) = unit.lookup_str(group, "LogDriver") {
        c.add("--log-driver").add(d);
    }
    for o in unit.lookup_all_strv(group, "LogOpt") {
        c.add("--log-opt").add(o);
    }
}

/// `Network=`: plain podman networks, or `x.network` / `x.container` references.
fn add_networks(
    unit: &UnitFile,
    group: &str,
    service: &mut UnitFile,
    c: &mut Cmdline,
    ctx: &mut Ctx,
) -> Result<()> {
    for network in unit.lookup_all(group, "Network") {
        let (name, options) = match network.split_once(':') {
            Some((n, o)) => (n, Some(o)),
            None => (network, None),
        };
        let is_network = name.ends_with(".network");
        let is_container = name.ends_with(".container");
        let mut arg = network.to_string();
        if is_network || is_container {
            let info = ctx
                .dependency(name, || {
                    format!("requested Quadlet unit {name} was not found")
                })
                .map_err(|e| e.at(group, "Network"))?;
            if info.resource_name.is_empty() {
                return Err(ConvertError::new(format!("cannot get the resource name of {name}"))
                    .at(group, "Network")
                    .hint("set ContainerName= (or NetworkName=) without specifiers other than %N in it"));
            }
            let svc = info.service_file_name();
            service.add(UNIT, "Requires", &svc);
            service.add(UNIT, "After", &svc);
            arg =
                match (options, is_container) {
                    (Some(_), true) => return Err(ConvertError::new(
                        "extra options are not supported when joining another container's network",
                    )
                    .at(group, "Network")),
                    (Some(o), false) => format!("{}:{o}", info.resource_name),
                    (None, true) => format!("container:{}", info.resource_name),
                    (None, false) => info.resource_name.clone(),
                };
        }
        c.add("--network").add(arg);
    }
    Ok(())
}

/// A volume or mount source: relative paths become absolute, absolute paths get
/// `RequiresMountsFor=`, Quadlet references become the resource they create.
fn storage_source(
    unit: &UnitFile,
    service: &mut UnitFile,
    source: &str,
    check_image: bool,
    ctx: &mut Ctx,
) -> Result<String> {
    if source.is_empty() {
        return Err(ConvertError::new("source cannot be empty"));
    }
    let mut source = source.to_string();
    if source.starts_with('.') {
        source = absolute_path(unit, &source);
    }
    if source.starts_with('/') {
        service.add_escaped(UNIT, "RequiresMountsFor", &source);
    } else if source.ends_with(".volume")
        || (check_image && source.ends_with(".image"))
        || source.ends_with(".artifact")
    {
        let info = ctx.dependency(&source, || {
            format!("requested Quadlet source {source} was not found")
        })?;
        let svc = info.service_file_name();
        service.add(UNIT, "Requires", &svc);
        service.add(UNIT, "After", &svc);
        source = info.resource_name.clone();
    }
    Ok(source)
}

/// `Volume=[SOURCE:]DEST[:OPTIONS]`.
fn add_volumes<'a>(
    unit: &'a UnitFile,
    group: &str,
    service: &mut UnitFile,
    c: &mut Cmdline<'a>,
    ctx: &mut Ctx,
) -> Result<()> {
    for volume in unit.lookup_all(group, "Volume") {
        let mut parts = volume.splitn(3, ':');
        let first = parts.next().unwrap_or_default();
        let (source, dest) = match parts.next() {
            Some(dest) => (first, dest),
            None => ("", first),
        };
        c.add("-v");
        if source.is_empty() {
            c.add(dest);
            continue;
        }
        let source =
            storage_source(unit, service, source, false, ctx).map_err(|e| e.at(group, "Volume"))?;
        if source.is_empty() {
            // A referenced volume without a name: only the destination is left.
            c.add(dest);
            continue;
        }
        let mut arg = source;
        arg.push(':');
        arg.push_str(dest);
        if let Some(options) = parts.next() {
            arg.push(':');
            arg.push_str(options);
        }
        c.add(arg);
    }
    Ok(())
}

/// `Image=x.image` or `x.build`: the image that unit produces, and a dependency on it.
fn image_source(name: &str, group: &str, service: &mut UnitFile, ctx: &mut Ctx) -> Result<String> {
    if name.ends_with(".build") || name.ends_with(".image") {
        let info = ctx
            .dependency(name, || {
                format!("requested Quadlet image {name} was not found")
            })
            .map_err(|e| e.at(group, "Image"))?;
        let svc = info.service_file_name();
        service.add(UNIT, "Requires", &svc);
        service.add(UNIT, "After", &svc);
        return Ok(info.resource_name.clone());
    }
    Ok(name.to_string())
}

/// `User=` and `Group=` as `--user USER[:GROUP]`.
fn handle_user(unit: &UnitFile, group: &str, c: &mut Cmdline) -> Result<()> {
    let user = unit.lookup(group, "User").filter(|v| !v.is_empty());
    let grp = unit.lookup(group, "Group").filter(|v| !v.is_empty());
    match (user, grp) {
        (None, Some(_)) => {
            Err(ConvertError::new("invalid Group set without User").at(group, "Group"))
        }
        (None, None) => Ok(()),
        (Some(u), None) => {
            c.add("--user").add(u);
            Ok(())
        }
        (Some(u), Some(g)) => {
            c.add("--user").add(format!("{u}:{g}"));
            Ok(())
        }
    }
}

/// `UserNS=`, `UIDMap=`, `GIDMap=`, `SubUIDMap=`, `SubGIDMap=`, or the deprecated `Remap*=` keys.
fn handle_user_mappings(
    unit: &UnitFile,
    group: &str,
    c: &mut Cmdline,
    support_manual: bool,
) -> Result<()> {
    let mut defined = false;
    if let Some(ns) = unit.lookup(group, "UserNS").filter(|v| !v.is_empty()) {
        c.add("--userns").add(ns);
        defined = true;
    }
    for (key, flag) in [("UIDMap", "--uidmap"), ("GIDMap", "--gidmap")] {
        for m in unit.lookup_all_strv(group, key) {
            c.add(flag).add(m);
            defined = true;
        }
    }
    for (key, flag) in [("SubUIDMap", "--subuidname"), ("SubGIDMap", "--subgidname")] {
        if let Some(v) = unit.lookup(group, key).filter(|v| !v.is_empty()) {
            c.add(flag).add(v);
            defined = true;
        }
    }
    if defined {
        for key in ["RemapUid", "RemapGid", "RemapUsers"] {
            if unit.has_key(group, key) {
                return Err(ConvertError::new(
                    "deprecated Remap keys are set along with explicit mapping keys",
                )
                .at(group, key)
                .hint("remove the Remap* keys; UserNS=, UIDMap= and GIDMap= replace them"));
            }
        }
        return Ok(());
    }
    handle_user_remap(unit, group, c, support_manual)
}

fn handle_user_remap(
    unit: &UnitFile,
    group: &str,
    c: &mut Cmdline,
    support_manual: bool,
) -> Result<()> {
    let uid_maps = unit.lookup_all_strv(group, "RemapUid");
    let gid_maps = unit.lookup_all_strv(group, "RemapGid");
    let remap = unit.lookup_last(group, "RemapUsers").unwrap_or("");
    match remap {
        "" => {
            if !uid_maps.is_empty() {
                return Err(
                    ConvertError::new("UidMap set without RemapUsers").at(group, "RemapUid")
                );
            }
            if !gid_maps.is_empty() {
                return Err(
                    ConvertError::new("GidMap set without RemapUsers").at(group, "RemapGid")
                );
            }
        }
        "manual" => {
            if !support_manual {
                return Err(
                    ConvertError::new("RemapUsers=manual is not supported").at(group, "RemapUsers")
                );
            }
            for m in uid_maps {
                c.add("--uidmap").add(m);
            }
            for m in gid_maps {
                c.add("--gidmap").add(m);
            }
        }
        "auto" => {
            let mut opts: Vec<String> =
                uid_maps.iter().map(|m| format!("uidmapping={m}")).collect();
            opts.extend(gid_maps.iter().map(|m| format!("gidmapping={m}")));
            let size = unit.lookup_u32(group, "RemapUidSize", 0);
            if size > 0 {
                opts.push(format!("size={size}"));
            }
            c.add("--userns").add(userns_opts("auto", &opts));
        }
        "keep-id" => {
            let mut opts = Vec::new();
            if uid_maps.len() > 1 {
                return Err(ConvertError::new(
                    "RemapUsers=keep-id supports only a single value for UID mapping",
                )
                .at(group, "RemapUid"));
            }
            if gid_maps.len() > 1 {
                return Err(ConvertError::new(
                    "RemapUsers=keep-id supports only a single value for GID mapping",
                )
                .at(group, "RemapGid"));
            }
            if let Some(u) = uid_maps.first() {
                opts.push(format!("uid={u}"));
            }
            if let Some(g) = gid_maps.first() {
                opts.push(format!("gid={g}"));
            }
            c.add("--userns").add(userns_opts("keep-id", &opts));
        }
        other => {
            return Err(
                ConvertError::new(format!("unsupported RemapUsers option '{other}'"))
                    .at(group, "RemapUsers")
                    .hint("use auto, keep-id or manual"),
            )
        }
    }
    Ok(())
}

fn userns_opts(kind: &str, opts: &[String]) -> String {
    if opts.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}:{}", opts.join(","))
    }
}

/// `%h/x` style paths are left to systemd; other relative paths are relative to the file.
fn absolute_path(unit: &UnitFile, path: &str) -> String {
    if starts_with_specifier(path) || path.starts_with('/') {
        return path.to_string();
    }
    let dir = unit.path.parent().unwrap_or(Path::new("/"));
    let dir = if dir.as_os_str().is_empty() {
        std::env::current_dir().unwrap_or_else(|_| "/".into())
    } else {
        dir.to_path_buf()
    };
    clean_path(&dir.join(path).to_string_lossy())
}

fn starts_with_specifier(path: &str) -> bool {
    path.starts_with('%') && !path.starts_with("%%")
}

/// Lexical path cleaning like Go's `filepath.Clean`.
pub fn clean_path(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// `SetWorkingDirectory=` (kube and build): returns the build context, if one was given.
fn set_working_directory(unit: &UnitFile, service: &mut UnitFile, group: &str) -> Result<String> {
    let Some(value) = unit
        .lookup(group, "SetWorkingDirectory")
        .filter(|v| !v.is_empty())
    else {
        return Ok(String::new());
    };
    let mut relative_to = String::new();
    let mut context = String::new();
    match value.to_ascii_lowercase().as_str() {
        "yaml" => {
            if group != "Kube" {
                return Err(ConvertError::new(format!(
                    "SetWorkingDirectory={value} is only supported in .kube files"
                ))
                .at(group, "SetWorkingDirectory"));
            }
            let yamls = unit.lookup_all_strv("Kube", "Yaml");
            match yamls.len() {
                0 => return Err(ConvertError::new("no Yaml key specified")),
                1 => relative_to = yamls[0].clone(),
                _ => return Err(ConvertError::new(
                    "SetWorkingDirectory=yaml is only supported when a single Yaml key is provided",
                )
                .at(group, "SetWorkingDirectory")),
            }
        }
        "file" => {
            if group != "Build" {
                return Err(ConvertError::new(format!(
                    "SetWorkingDirectory={value} is only supported in .build files"
                ))
                .at(group, "SetWorkingDirectory"));
            }
            relative_to = unit.lookup(group, "File").ok_or_else(|| {
                ConvertError::new("no File key specified").at(group, "SetWorkingDirectory")
            })?;
        }
        "unit" => relative_to = unit.path.to_string_lossy().into_owned(),
        _ => {
            if group != "Build" {
                return Err(ConvertError::new(format!(
                    "unsupported value for WorkingDirectory: {value} "
                ))
                .at(group, "SetWorkingDirectory")
                .hint("use yaml or unit"));
            }
            context = value.clone();
            if !context.starts_with('/') {
                relative_to = unit.path.to_string_lossy().into_owned();
            }
        }
    }
    if !relative_to.is_empty() && !is_url(&context) {
        if unit
            .lookup(SERVICE, "WorkingDirectory")
            .is_some_and(|w| !w.is_empty())
        {
            return Ok(String::new());
        }
        let file = absolute_path(unit, &relative_to);
        let dir = Path::new(&file)
            .parent()
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or_else(|| "/".into());
        service.add(SERVICE, "WorkingDirectory", &dir);
    }
    Ok(context)
}

/// Quadlet's URL test: `http(s)://`, `git://` or `github.com/` followed by something.
fn is_url(s: &str) -> bool {
    let rest = ["https://", "http://", "git://"]
        .iter()
        .find_map(|p| s.strip_prefix(p));
    match rest {
        Some(_) => true,
        None => s.strip_prefix("github.com/").is_some_and(|r| !r.is_empty()),
    }
}

/// Oneshot defaults for the resource-creating types.
fn default_oneshot(service: &mut UnitFile, remain_after_exit: bool) {
    if service.lookup(SERVICE, "SyslogIdentifier").is_none() {
        service.set(SERVICE, "SyslogIdentifier", "%N");
    }
    if service.lookup(SERVICE, "Type").is_none() {
        service.set(SERVICE, "Type", "oneshot");
    }
    if remain_after_exit && service.lookup(SERVICE, "RemainAfterExit").is_none() {
        service.set(SERVICE, "RemainAfterExit", "yes");
    }
}

/// Only `mixed` and `control-group` let conmon clean up; default to `mixed`.
fn check_kill_mode(service: &mut UnitFile) -> Result<()> {
    match service.lookup(SERVICE, "KillMode") {
        None => {
            service.set(SERVICE, "KillMode", "mixed");
            Ok(())
        }
        Some(m) if m == "mixed" || m == "control-group" => Ok(()),
        Some(m) => Err(ConvertError::new(format!("invalid KillMode '{m}'"))
            .at(SERVICE, "KillMode")
            .hint("use KillMode=mixed or KillMode=control-group")),
    }
}

/// Only `notify` (the default) and `oneshot` services work with podman.
fn check_service_type(service: &UnitFile) -> Result<Option<String>> {
    match service.lookup(SERVICE, "Type") {
        Some(t) if t != "notify" && t != "oneshot" => {
            Err(ConvertError::new(format!("invalid service Type '{t}'"))
                .at(SERVICE, "Type")
                .hint("use Type=notify (the default) or Type=oneshot"))
        }
        t => Ok(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names() {
        let name = |f: &str| service_name_from_filename(f).unwrap();
        assert_eq!(name("web.container"), "web");
        assert_eq!(name("data.volume"), "data-volume");
        assert_eq!(name("app@.container"), "app@");
        assert_eq!(name("tpl@.volume"), "tpl-volume@");
        assert_eq!(name("tpl@x.network"), "tpl@x-network");
        assert_eq!(service_name_from_filename("x.service"), None);
    }

    #[test]
    fn sorted_keys_hold_each_table() {
        for kind in Kind::ALL {
            let sorted = kind.sorted_keys();
            assert_eq!(sorted.len(), kind.keys().len());
            for key in kind.keys() {
                assert!(sorted.binary_search_by(|s| key_order(s, key)).is_ok());
            }
            assert!(sorted
                .binary_search_by(|s| key_order(s, "NoSuchKey"))
                .is_err());
        }
        assert_eq!(keys::QUADLET.len(), 1);
    }

    #[test]
    fn cleans_paths_like_go() {
        assert_eq!(clean_path("/a/b/../c/./d/"), "/a/c/d");
        assert_eq!(clean_path("/../x"), "/x");
        assert_eq!(clean_path("a/../../b"), "../b");
    }

    #[test]
    fn image_names() {
        assert!(is_unambiguous_image_name("quay.io/x"));
        assert!(is_unambiguous_image_name("localhost/x:1"));
        assert!(!is_unambiguous_image_name("library/fedora"));
        assert!(!is_unambiguous_image_name("fedora"));
    }
}

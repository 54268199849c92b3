//! `.container` → a service running `podman run`.

use super::*;

const G: &str = "Container";

/// Keys whose last non-empty value is passed as `flag VALUE`.
const STRING_FLAGS: &[(&str, &str)] = &[
    ("Timezone", "--tz"),
    ("PidsLimit", "--pids-limit"),
    ("ShmSize", "--shm-size"),
    ("WorkingDir", "--workdir"),
    ("IP", "--ip"),
    ("IP6", "--ip6"),
    ("HostName", "--hostname"),
    ("StopSignal", "--stop-signal"),
    ("StopTimeout", "--stop-timeout"),
    ("Pull", "--pull"),
    ("Memory", "--memory"),
    ("Retry", "--retry"),
    ("RetryDelay", "--retry-delay"),
];

/// Keys whose every value is passed as `flag VALUE`.
const LIST_FLAGS: &[(&str, &str)] = &[
    ("NetworkAlias", "--network-alias"),
    ("Ulimit", "--ulimit"),
    ("DNS", "--dns"),
    ("DNSOption", "--dns-option"),
    ("DNSSearch", "--dns-search"),
    ("GroupAdd", "--group-add"),
    ("AddHost", "--add-host"),
    ("Tmpfs", "--tmpfs"),
];

const BOOL_FLAGS: &[(&str, &str)] = &[
    ("RunInit", "--init"),
    ("EnvironmentHost", "--env-host"),
    ("HttpProxy", "--http-proxy"),
    ("ReadOnlyTmpfs", "--read-only-tmpfs"),
];

/// `--security-opt label=...` style keys: (key, prefix of the option value).
const SECURITY_LABELS: &[(&str, &str)] = &[
    ("SecurityLabelType", "label=type:"),
    ("SecurityLabelFileType", "label=filetype:"),
    ("SecurityLabelLevel", "label=level:"),
    ("AppArmor", "apparmor="),
];

const KEY_VAL_FLAGS: &[(&str, &str)] = &[
    ("Environment", "--env"),
    ("Label", "--label"),
    ("Annotation", "--annotation"),
];

/// `Health*=` keys and their `--health-*` flags.
const HEALTH_FLAGS: &[(&str, &str)] = &[
    ("HealthCmd", "--health-cmd"),
    ("HealthInterval", "--health-interval"),
    ("HealthOnFailure", "--health-on-failure"),
    ("HealthLogDestination", "--health-log-destination"),
    ("HealthMaxLogCount", "--health-max-log-count"),
    ("HealthMaxLogSize", "--health-max-log-size"),
    ("HealthRetries", "--health-retries"),
    ("HealthStartPeriod", "--health-start-period"),
    ("HealthTimeout", "--health-timeout"),
    ("HealthStartupCmd", "--health-startup-cmd"),
    ("HealthStartupInterval", "--health-startup-interval"),
    ("HealthStartupRetries", "--health-startup-retries"),
    ("HealthStartupSuccess", "--health-startup-success"),
    ("HealthStartupTimeout", "--health-startup-timeout"),
];

pub(super) fn convert(unit: &UnitFile, ctx: &mut Ctx) -> Result<UnitFile> {
    let mut service = init_service(unit, Kind::Container, ctx)?;
    // Most lookups are in [Container]: find it once.
    let sec = unit.section(G);

    let image = sec.lookup_str("Image").unwrap_or_default();
    let rootfs = sec.lookup_str("Rootfs").unwrap_or_default();
    if image.is_empty() && rootfs.is_empty() {
        return Err(ConvertError::new("no Image or Rootfs key specified")
            .hint("add Image=REGISTRY/NAME:TAG (or Rootfs=PATH) to the [Container] section"));
    }
    if !image.is_empty() && !rootfs.is_empty() {
        return Err(ConvertError::new(
            "the Image And Rootfs keys conflict can not be specified together",
        )
        .at(G, "Rootfs"));
    }
    let image = if image.is_empty() {
        String::new()
    } else {
        image_source(image, G, &mut service, ctx)?
    };

    let name = container_name(unit);
    // Lets `podman auto-update` find the unit to restart.
    service.add(SERVICE, "Environment", "PODMAN_SYSTEMD_UNIT=%n");
    check_kill_mode(&mut service)?;

    // If conmon died uncleanly the container may still exist: remove it on stop, and in
    // ExecStopPost too, which runs even when the main process was killed.
    let mut stop = base_command(unit, G, ctx);
    stop.add_all(["rm", "-v", "-f", "-i", name.as_str()]);
    service.add_cmdline(SERVICE, "ExecStop", &stop.args);
    stop.args[0] = ["-", &stop.args[0]].concat().into();
    service.add_cmdline(SERVICE, "ExecStopPost", &stop.args);

    exec_reload(unit, &mut service, &name, ctx)?;

    let mut podman = base_command(unit, G, ctx);
    podman.add_all(["run", "--name", name.as_str(), "--replace", "--rm"]);
    add_log_driver_and_opts(unit, G, &mut podman);

    // podman manages the cgroup below the unit's.
    service.add(SERVICE, "Delegate", "yes");
    match sec.lookup_str("CgroupsMode").filter(|v| !v.is_empty()) {
        Some(mode) => podman.add("--cgroups").add(mode),
        None => podman.add("--cgroups=split"),
    };

    // An empty Entrypoint= is meaningful: it clears the image's entrypoint.
    if let Some(ep) = sec.lookup_str("Entrypoint") {
        podman.add(["--entrypoint=", ep].concat());
    }

    add_strings(unit, G, STRING_FLAGS, &mut podman);
    add_all_strings(unit, G, LIST_FLAGS, &mut podman);
    add_booleans(unit, G, BOOL_FLAGS, &mut podman);
    add_networks(unit, G, &mut service, &mut podman, ctx)?;

    let service_type = check_service_type(&service)?;
    if service_type.as_deref() != Some("oneshot") {
        // Readiness comes through sd_notify: from conmon by default, from the container
        // with Notify=yes, or once healthy with Notify=healthy.
        let notify = sec.lookup_str("Notify");
        if notify.is_some_and(|n| n.eq_ignore_ascii_case("healthy")) {
            podman.add("--sdnotify=healthy");
        } else if sec.lookup_bool_or("Notify", false) {
            podman.add("--sdnotify=container");
        } else {
            podman.add("--sdnotify=conmon");
        }
        service.set(SERVICE, "Type", "notify");
        service.set(SERVICE, "NotifyAccess", "all");
        // podman itself need not stay: conmon is the main process.
        podman.add("-d");
    }

    if !unit.has_key(SERVICE, "SyslogIdentifier") {
        service.set(SERVICE, "SyslogIdentifier", "%N");
    }

    security_options(unit, &mut podman);
    devices(unit, &mut podman);

    if let Some(p) = sec.lookup_str("SeccompProfile") {
        podman.add("--security-opt").add(["seccomp=", p].concat());
    }
    for cap in sec.lookup_all_strv("DropCapability") {
        podman.add("--cap-drop").add(cap.to_lowercase());
    }
    for cap in sec.lookup_all_strv("AddCapability") {
        podman.add("--cap-add").add(cap.to_lowercase());
    }
    for s in sec.lookup_all_strv("Sysctl") {
        podman.add("--sysctl").add(s);
    }

    let read_only = sec.lookup_bool("ReadOnly");
    if let Some(ro) = read_only {
        podman.add_bool("--read-only", ro);
    }
    if sec.lookup_bool_or("VolatileTmp", false) && read_only != Some(true) {
        podman.add("--tmpfs").add("/tmp:rw,size=512M,mode=1777");
    }

    handle_user(unit, G, &mut podman)?;
    handle_user_mappings(unit, G, &mut podman, true)?;
    add_volumes(unit, G, &mut service, &mut podman, ctx)?;

    if let Some(update) = sec.lookup_str("AutoUpdate").filter(|v| !v.is_empty()) {
        podman
            .add("--label")
            .add(["io.containers.autoupdate=", update].concat());
    }

    for port in sec.lookup_all("ExposeHostPort") {
        let port = port.trim();
        if !is_port_range(port) {
            return Err(ConvertError::new(format!("invalid port format '{port}'"))
                .at(G, "ExposeHostPort")
                .hint("use PORT, PORT-PORT, optionally with /tcp or /udp"));
        }
        podman.add("--expose").add(port);
    }

    add_publish_ports(unit, G, &mut podman);
    add_key_vals(unit, G, KEY_VAL_FLAGS, &mut podman, ctx);

    for m in sec.lookup_all_args("Mask") {
        podman.add("--security-opt").add(["mask=", &m].concat());
    }
    for m in sec.lookup_all_args("Unmask") {
        podman.add("--security-opt").add(["unmask=", &m].concat());
    }
    for f in sec.lookup_all_args("EnvironmentFile") {
        podman.add("--env-file").add(absolute_path(unit, &f));
    }
    for s in sec.lookup_all_args("Secret") {
        podman.add("--secret").add(s);
    }
    for m in sec.lookup_all_args("Mount") {
        let resolved = mount_params(unit, &mut service, &m, ctx).map_err(|e| e.at(G, "Mount"))?;
        podman.add("--mount").add(resolved);
    }

    for (key, flag) in HEALTH_FLAGS {
        if let Some(v) = sec.lookup_str(key).filter(|v| !v.is_empty()) {
            podman.add(*flag).add(v);
        }
    }

    handle_pod(unit, &mut service, &mut podman, ctx)?;
    add_podman_args(unit, G, &mut podman);

    if image.is_empty() {
        podman.add("--rootfs").add(rootfs);
    } else {
        podman.add(image);
    }

    match sec.lookup_last_args("Exec") {
        Ok(Some(args)) => {
            warn_unbalanced_quotes(unit, "Exec", ctx);
            podman.add_all(args);
        }
        Ok(None) => {}
        Err(e) => ctx.warn(unit, G, "Exec", e),
    }

    service.add_cmdline(SERVICE, "ExecStart", &podman.args);
    Ok(service)
}

/// `ReloadCmd=` (run in the container) or `ReloadSignal=` (sent to it) → `ExecReload=`.
fn exec_reload(unit: &UnitFile, service: &mut UnitFile, name: &str, ctx: &mut Ctx) -> Result<()> {
    let sec = unit.section(G);
    let signal = sec.lookup_str("ReloadSignal").filter(|v| !v.is_empty());
    let cmd = match sec.lookup_last_args("ReloadCmd") {
        Ok(c) => c.filter(|c| !c.is_empty()),
        Err(e) => {
            ctx.warn(unit, G, "ReloadCmd", e);
            None
        }
    };
    let mut reload = base_command(unit, G, ctx);
    match (cmd, signal) {
        (None, None) => return Ok(()),
        (Some(_), Some(_)) => {
            return Err(ConvertError::new(
                "ReloadCmd and ReloadSignal are mutually exclusive but both are set",
            )
            .at(G, "ReloadSignal")
            .hint("keep one of them"))
        }
        (Some(cmd), None) => {
            reload.add_all(["exec", name]).add_all(cmd);
        }
        (None, Some(sig)) => {
            reload.add_all(["kill", "--signal", sig, name]);
        }
    }
    service.add_cmdline(SERVICE, "ExecReload", &reload.args);
    Ok(())
}

fn security_options<'a>(unit: &'a UnitFile, podman: &mut Cmdline<'a>) {
    let sec = unit.section(G);
    if sec.lookup_bool_or("NoNewPrivileges", false) {
        podman.add("--security-opt=no-new-privileges");
    }
    if sec.lookup_bool_or("SecurityLabelDisable", false) {
        podman.add("--security-opt").add("label=disable");
    }
    if sec.lookup_bool_or("SecurityLabelNested", false) {
        podman.add("--security-opt").add("label=nested");
    }
    for (key, prefix) in SECURITY_LABELS {
        if let Some(v) = sec.lookup_str(key).filter(|v| !v.is_empty()) {
            podman.add("--security-opt").add([prefix, v].concat());
        }
    }
}

/// `AddDevice=`: a leading `-` makes the device optional (skipped when absent at boot).
fn devices(unit: &UnitFile, podman: &mut Cmdline) {
    let sec = unit.section(G);
    for device in sec.lookup_all_strv("AddDevice") {
        let device = match device.strip_prefix('-') {
            Some(optional) => {
                let host = optional.split(':').next().unwrap_or("");
                if !Path::new(host).exists() {
                    continue;
                }
                optional.to_string()
            }
            None => device,
        };
        podman.add("--device").add(device);
    }
}

/// `Pod=x.pod`: join the pod, bind to its service, and let the pod start this container.
fn handle_pod(
    unit: &UnitFile,
    service: &mut UnitFile,
    podman: &mut Cmdline,
    ctx: &mut Ctx,
) -> Result<()> {
    let Some(pod) = unit.lookup(G, "Pod").filter(|v| !v.is_empty()) else {
        return Ok(());
    };
    if !pod.ends_with(".pod") {
        return Err(ConvertError::new(format!("pod {pod} is not Quadlet based"))
            .at(G, "Pod")
            .hint("name a .pod file, e.g. Pod=mypod.pod"));
    }
    let info = ctx
        .dependency(&pod, || format!("quadlet pod unit {pod} does not exist"))
        .map_err(|e| e.at(G, "Pod"))?;
    podman.add("--pod").add(info.resource_name.clone());
    let svc = info.service_file_name();
    service.add(UNIT, "BindsTo", &svc);
    service.add(UNIT, "After", &svc);
    // Podman 6 does not make a pod want a template (`foo@.container`): systemd cannot start
    // a template without an instance.
    let template = without_extension(&unit.filename).ends_with('@');
    let skip_template = template && ctx.flavor == Flavor::Podman6;
    if unit.lookup_bool_or(G, "StartWithPod", true) && !skip_template {
        ctx.join_pod = Some(pod.clone());
    }
    Ok(())
}

/// `Mount=`: resolve the source of volume, bind, glob, image and artifact mounts.
fn mount_params(
    unit: &UnitFile,
    service: &mut UnitFile,
    mount: &str,
    ctx: &mut Ctx,
) -> Result<String> {
    let (mount_type, mut tokens) = find_mount_type(mount).map_err(ConvertError::new)?;
    if !matches!(
        mount_type.as_str(),
        "volume" | "bind" | "glob" | "image" | "artifact"
    ) {
        return Ok(mount.to_string());
    }
    let mut source_index = None;
    let mut original = String::new();
    for (i, token) in tokens.iter().enumerate() {
        let (key, val) = match token.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (token.as_str(), None),
        };
        if key == "source" || key == "src" {
            let Some(val) = val else {
                return Err(ConvertError::new(
                    "source parameter does not include a value",
                ));
            };
            source_index = Some(i);
            original = val.to_string();
        }
    }
    if original.is_empty() && ctx.flavor == Flavor::Podman6 {
        // Podman 6: a volume mount without a source is an anonymous volume; other types
        // need one.
        if mount_type != "volume" {
            return Err(ConvertError::new(format!(
                "source parameter is required for mount type {mount_type}"
            )));
        }
    } else {
        let resolved = storage_source(unit, service, &original, true, ctx)?;
        if let Some(i) = source_index {
            tokens[i] = format!("source={resolved}");
        }
    }
    tokens.insert(0, format!("type={mount_type}"));
    Ok(crate::csv::write_record(&tokens))
}

/// The mount's `type=` (default `volume`) and its other fields.
fn find_mount_type(input: &str) -> std::result::Result<(String, Vec<String>), String> {
    let fields = crate::csv::parse_record(input)?;
    let mut mount_type = None;
    let mut tokens = Vec::new();
    for f in fields {
        let kv: Vec<&str> = f.split('=').collect();
        if mount_type.is_none() && kv.len() == 2 && kv[0] == "type" {
            mount_type = Some(kv[1].to_string());
        } else {
            tokens.push(f);
        }
    }
    Ok((mount_type.unwrap_or_else(|| "volume".to_string()), tokens))
}

/// Quadlet's `\d+(-\d+)?(/udp|/tcp)?$`, unanchored at the start: the value must end in
/// digits, optionally followed by `/udp` or `/tcp`.
fn is_port_range(port: &str) -> bool {
    let port = port
        .strip_suffix("/udp")
        .or_else(|| port.strip_suffix("/tcp"))
        .unwrap_or(port);
    port.ends_with(|c: char| c.is_ascii_digit())
}

/// systemd reads an unterminated quote as closed at the end of the line (Quadlet too), which
/// is rarely what was meant: say so.
fn warn_unbalanced_quotes(unit: &UnitFile, key: &str, ctx: &mut Ctx) {
    let Some(v) = unit.lookup_last(G, key) else {
        return;
    };
    let strict = crate::split::SplitFlags {
        relax: false,
        ..crate::split::SplitFlags::EXEC
    };
    if let Err(crate::split::SplitError::UnbalancedQuotes) =
        crate::split::split_words(v, crate::split::WHITESPACE, strict)
    {
        ctx.warn(
            unit,
            G,
            key,
            "unterminated quote; read as if it were closed at the end of the line",
        );
    }
}

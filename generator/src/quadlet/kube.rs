//! `.kube` → a service running `podman kube play`.

use super::*;

const G: &str = "Kube";

pub(super) fn convert(unit: &UnitFile, ctx: &mut Ctx) -> Result<UnitFile> {
    let mut service = init_service(unit, Kind::Kube, ctx)?;
    let yamls = unit.lookup_all_strv(G, "Yaml");
    if yamls.is_empty() {
        return Err(ConvertError::new("no Yaml key specified").hint("add Yaml=PATH to [Kube]"));
    }
    let yamls: Vec<String> = yamls.iter().map(|y| absolute_path(unit, y)).collect();

    check_kill_mode(&mut service)?;
    service.add(SERVICE, "Environment", "PODMAN_SYSTEMD_UNIT=%n");
    // Type=oneshot is allowed for YAML that only creates resources.
    if check_service_type(&service)?.as_deref() != Some("oneshot") {
        service.set(SERVICE, "Type", "notify");
        service.set(SERVICE, "NotifyAccess", "all");
    }
    if !unit.has_key(SERVICE, "SyslogIdentifier") {
        service.set(SERVICE, "SyslogIdentifier", "%N");
    }

    let mut play = base_command(unit, G, ctx);
    play.add_all(["kube", "play", "--replace", "--service-container=true"]);
    if let Some(ecp) = unit
        .lookup(G, "ExitCodePropagation")
        .filter(|v| !v.is_empty())
    {
        play.add(format!("--service-exit-code-propagation={ecp}"));
    }
    add_log_driver_and_opts(unit, G, &mut play);
    handle_user_mappings(unit, G, &mut play, false)?;
    add_networks(unit, G, &mut service, &mut play, ctx)?;

    // AutoUpdate=[CONTAINER/]TYPE → --annotation=io.containers.autoupdate[/CONTAINER]=TYPE
    for update in unit.lookup_all_strv(G, "AutoUpdate") {
        let arg = match update.split_once('/') {
            Some((container, kind)) => {
                format!("--annotation=io.containers.autoupdate/{container}={kind}")
            }
            None => format!("--annotation=io.containers.autoupdate={update}"),
        };
        play.add(arg);
    }
    for cm in unit.lookup_all_strv(G, "ConfigMap") {
        play.add("--configmap").add(absolute_path(unit, &cm));
    }
    add_publish_ports(unit, G, &mut play);
    add_podman_args(unit, G, &mut play);
    play.add_all(yamls.iter().cloned());
    service.add_cmdline(SERVICE, "ExecStart", &play.args);

    // ExecStopPost runs even when the start failed, so nothing is left behind.
    let mut down = base_command(unit, G, ctx);
    down.add_all(["kube", "down"]);
    if let Some(force) = unit.lookup_bool(G, "KubeDownForce") {
        down.add_bool("--force", force);
    }
    down.add_all(yamls);
    service.add_cmdline(SERVICE, "ExecStopPost", &down.args);

    set_working_directory(unit, &mut service, G)?;
    Ok(service)
}

//! `.pod` → a forking service that creates and starts a pod.

use super::*;

const G: &str = "Pod";

const STRING_FLAGS: &[(&str, &str)] =
    &[("IP", "--ip"), ("IP6", "--ip6"), ("ShmSize", "--shm-size")];

const LIST_FLAGS: &[(&str, &str)] = &[
    ("NetworkAlias", "--network-alias"),
    ("DNS", "--dns"),
    ("DNSOption", "--dns-option"),
    ("DNSSearch", "--dns-search"),
    ("AddHost", "--add-host"),
    ("HostName", "--hostname"),
];

pub(super) fn convert(unit: &UnitFile, ctx: &mut Ctx) -> Result<UnitFile> {
    let mut service = init_service(unit, Kind::Pod, ctx)?;
    let info = ctx.infos.get(&unit.filename).cloned().unwrap_or_default();
    let name = info.resource_name.clone();
    // Containers with Pod= this file asked to start with it (they were converted first).
    for c in &info.containers_to_start {
        service.add(UNIT, "Wants", c);
        service.add(UNIT, "Before", c);
    }
    if !unit.has_key(SERVICE, "SyslogIdentifier") {
        service.set(SERVICE, "SyslogIdentifier", "%N");
    }

    let mut start = base_command(unit, G, ctx);
    start.add_all(["pod", "start", name.as_str()]);
    service.add_cmdline(SERVICE, "ExecStart", &start.args);

    let mut stop = base_command(unit, G, ctx);
    let timeout = unit
        .lookup(G, "StopTimeout")
        .unwrap_or_else(|| "10".to_string());
    stop.add_all(["pod", "stop", "--ignore"])
        .add(format!("--time={timeout}"))
        .add(name.clone());
    service.add_cmdline(SERVICE, "ExecStop", &stop.args);

    let mut rm = base_command(unit, G, ctx);
    rm.add_all(["pod", "rm", "--ignore", "--force", name.as_str()]);
    service.add_cmdline(SERVICE, "ExecStopPost", &rm.args);

    let mut create = base_command(unit, G, ctx);
    create.add_all([
        "pod",
        "create",
        "--infra-conmon-pidfile=%t/%N.pid",
        "--replace",
    ]);
    create.add("--exit-policy").add(
        unit.lookup(G, "ExitPolicy")
            .unwrap_or_else(|| "stop".to_string()),
    );
    handle_user_mappings(unit, G, &mut create, true)?;
    add_publish_ports(unit, G, &mut create);
    add_key_vals(unit, G, &[("Label", "--label")], &mut create, ctx);
    add_networks(unit, G, &mut service, &mut create, ctx)?;
    add_strings(unit, G, STRING_FLAGS, &mut create);
    add_all_strings(unit, G, LIST_FLAGS, &mut create);
    add_volumes(unit, G, &mut service, &mut create, ctx)?;
    create.add("--infra-name").add(format!("{name}-infra"));
    create.add("--name").add(name);
    add_podman_args(unit, G, &mut create);
    service.add_cmdline(SERVICE, "ExecStartPre", &create.args);

    service.add(SERVICE, "Environment", "PODMAN_SYSTEMD_UNIT=%n");
    service.set(SERVICE, "Type", "forking");
    match ctx.flavor {
        Flavor::Podman5 => {
            service.set(SERVICE, "Restart", "on-failure");
            service.set(SERVICE, "PIDFile", "%t/%N.pid");
        }
        // Podman 6 keeps a Restart= the file sets (even an empty one), and adds its own last.
        Flavor::Podman6 => {
            service.set(SERVICE, "PIDFile", "%t/%N.pid");
            if !unit.has_key(SERVICE, "Restart") {
                service.set(SERVICE, "Restart", "on-failure");
            }
        }
    }
    Ok(service)
}

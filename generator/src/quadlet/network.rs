//! `.network` → a oneshot running `podman network create`.

use super::*;

const G: &str = "Network";

pub(super) fn convert(unit: &UnitFile, ctx: &mut Ctx) -> Result<UnitFile> {
    let mut service = init_service(unit, Kind::Network, ctx)?;
    let name = resource_name(unit, G, "NetworkName");

    if unit.lookup_bool_or(G, "NetworkDeleteOnStop", false) {
        let mut rm = base_command(unit, G, ctx);
        rm.add_all(["network", "rm", name.as_str()]);
        service.add_cmdline(SERVICE, "ExecStopPost", &rm.args);
    }

    let mut podman = base_command(unit, G, ctx);
    let prefix = podman.args.len();
    let ignore = ctx.has("network-create", "--ignore");
    podman.add_all(["network", "create"]);
    if ignore {
        podman.add("--ignore");
    }
    add_booleans(
        unit,
        G,
        &[
            ("DisableDNS", "--disable-dns"),
            ("Internal", "--internal"),
            ("IPv6", "--ipv6"),
        ],
        &mut podman,
    );
    add_strings(
        unit,
        G,
        &[
            ("Driver", "--driver"),
            ("IPAMDriver", "--ipam-driver"),
            ("InterfaceName", "--interface-name"),
        ],
        &mut podman,
    );
    add_all_strings(unit, G, &[("DNS", "--dns")], &mut podman);

    // Gateway= and IPRange= pair up with Subnet= by position.
    let subnets = unit.lookup_all(G, "Subnet");
    let gateways = unit.lookup_all(G, "Gateway");
    let ranges = unit.lookup_all(G, "IPRange");
    if !subnets.is_empty() {
        if gateways.len() > subnets.len() {
            return Err(ConvertError::new("cannot set more gateways than subnets").at(G, "Gateway"));
        }
        if ranges.len() > subnets.len() {
            return Err(ConvertError::new("cannot set more ranges than subnets").at(G, "IPRange"));
        }
        for (i, subnet) in subnets.iter().enumerate() {
            podman.add("--subnet").add(*subnet);
            if let Some(g) = gateways.get(i) {
                podman.add("--gateway").add(*g);
            }
            if let Some(r) = ranges.get(i) {
                podman.add("--ip-range").add(*r);
            }
        }
    } else if !ranges.is_empty() || !gateways.is_empty() {
        let key = if gateways.is_empty() {
            "IPRange"
        } else {
            "Gateway"
        };
        return Err(
            ConvertError::new("cannot set gateway or range without subnet")
                .at(G, key)
                .hint("add Subnet="),
        );
    }

    add_key_vals(
        unit,
        G,
        &[("Options", "--opt"), ("Label", "--label")],
        &mut podman,
        ctx,
    );
    add_podman_args(unit, G, &mut podman);
    podman.add(name.clone());
    if !ignore {
        podman = create_unless_exists(podman, prefix, "network", &name);
    }
    service.add_cmdline(SERVICE, "ExecStart", &podman.args);
    default_oneshot(&mut service, true);
    ctx.resource_name = Some(name);
    Ok(service)
}

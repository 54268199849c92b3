//! `.volume` → a oneshot running `podman volume create`.

use super::*;

const G: &str = "Volume";

pub(super) fn convert(unit: &UnitFile, ctx: &mut Ctx) -> Result<UnitFile> {
    let mut service = init_service(unit, Kind::Volume, ctx)?;
    let name = resource_name(unit, G, "VolumeName");
    let mut podman = base_command(unit, G, ctx);
    podman.add_all(["volume", "create", "--ignore"]);
    if ctx.flavor == Flavor::Podman6 {
        // The volume's owner, as given (`podman volume create --uid/--gid`).
        if let Some(uid) = unit.lookup(G, "UID") {
            podman.add("--uid").add(uid);
        }
        if let Some(gid) = unit.lookup(G, "GID") {
            podman.add("--gid").add(gid);
        }
    }

    let driver = unit.lookup(G, "Driver");
    if let Some(d) = &driver {
        podman.add("--driver").add(d.clone());
    }

    // Mount options accumulate into one `--opt o=...` (or `image=...` for the image driver).
    let mut opts = String::new();
    if driver.as_deref() == Some("image") {
        let Some(image) = unit.lookup(G, "Image") else {
            return Err(ConvertError::new(
                "the key Image is mandatory when using the image driver",
            )
            .at(G, "Driver")
            .hint("add Image=NAME (or Image=x.image / x.build)"));
        };
        let image = image_source(&image, G, &mut service, ctx)?;
        opts = format!("image={image}");
    } else {
        let mut o: Vec<String> = Vec::new();
        if unit.has_key(G, "User") {
            o.push(format!("uid={}", unit.lookup_u32(G, "User", 0)));
        }
        if unit.has_key(G, "Group") {
            o.push(format!("gid={}", unit.lookup_u32(G, "Group", 0)));
        }
        if let Some(copy) = unit.lookup_bool(G, "Copy") {
            podman
                .add("--opt")
                .add(if copy { "copy" } else { "nocopy" });
        }
        let device = unit.lookup(G, "Device").filter(|d| !d.is_empty());
        if let Some(dev) = &device {
            podman.add("--opt").add(format!("device={dev}"));
        }
        if let Some(dev_type) = unit.lookup(G, "Type").filter(|t| !t.is_empty()) {
            let Some(dev) = &device else {
                return Err(
                    ConvertError::new("key Type can't be used without Device").at(G, "Type")
                );
            };
            podman.add("--opt").add(format!("type={dev_type}"));
            if dev_type == "bind" {
                service.add_escaped(UNIT, "RequiresMountsFor", dev);
            }
        }
        if let Some(mount_opts) = unit.lookup(G, "Options").filter(|o| !o.is_empty()) {
            // Podman 6 passes mount options on without a device too (tmpfs size=, ...).
            if device.is_none() && ctx.flavor == Flavor::Podman5 {
                return Err(
                    ConvertError::new("key Options can't be used without Device").at(G, "Options"),
                );
            }
            o.push(mount_opts);
        }
        if !o.is_empty() {
            opts = format!("o={}", o.join(","));
        }
    }
    if !opts.is_empty() {
        podman.add("--opt").add(opts);
    }

    add_key_vals(unit, G, &[("Label", "--label")], &mut podman, ctx);
    add_podman_args(unit, G, &mut podman);
    podman.add(name.clone());
    service.add_cmdline(SERVICE, "ExecStart", &podman.args);
    default_oneshot(&mut service, true);
    ctx.resource_name = Some(name);
    Ok(service)
}

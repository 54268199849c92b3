//! `.image` → a oneshot running `podman image pull`.

use super::*;

const G: &str = "Image";

const STRING_FLAGS: &[(&str, &str)] = &[
    ("Arch", "--arch"),
    ("AuthFile", "--authfile"),
    ("CertDir", "--cert-dir"),
    ("Creds", "--creds"),
    ("DecryptionKey", "--decryption-key"),
    ("OS", "--os"),
    ("Policy", "--policy"),
    ("Variant", "--variant"),
    ("Retry", "--retry"),
    ("RetryDelay", "--retry-delay"),
];

pub(super) fn convert(unit: &UnitFile, ctx: &mut Ctx) -> Result<UnitFile> {
    let mut service = init_service(unit, Kind::Image, ctx)?;
    let Some(image) = unit.lookup(G, "Image").filter(|v| !v.is_empty()) else {
        return Err(ConvertError::new("no Image key specified")
            .hint("add Image=REGISTRY/NAME:TAG to [Image]"));
    };
    let mut podman = base_command(unit, G, ctx);
    podman.add_all(["image", "pull"]);
    add_strings(unit, G, STRING_FLAGS, &mut podman);
    add_booleans(
        unit,
        G,
        &[("AllTags", "--all-tags"), ("TLSVerify", "--tls-verify")],
        &mut podman,
    );
    add_podman_args(unit, G, &mut podman);
    podman.add(image.clone());
    service.add_cmdline(SERVICE, "ExecStart", &podman.args);
    default_oneshot(&mut service, true);
    let resource = unit
        .lookup(G, "ImageTag")
        .filter(|t| !t.is_empty())
        .unwrap_or(image);
    ctx.resource_name = Some(resource);
    Ok(service)
}

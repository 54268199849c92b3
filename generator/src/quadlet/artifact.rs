//! `.artifact` → a oneshot running `podman artifact pull`.

use super::*;

const G: &str = "Artifact";

const STRING_FLAGS: &[(&str, &str)] = &[
    ("AuthFile", "--authfile"),
    ("CertDir", "--cert-dir"),
    ("Creds", "--creds"),
    ("DecryptionKey", "--decryption-key"),
    ("Retry", "--retry"),
    ("RetryDelay", "--retry-delay"),
];

pub(super) fn convert(unit: &UnitFile, ctx: &mut Ctx) -> Result<UnitFile> {
    let mut service = init_service(unit, Kind::Artifact, ctx)?;
    let Some(artifact) = unit.lookup(G, "Artifact").filter(|v| !v.is_empty()) else {
        return Err(ConvertError::new("no Artifact key specified")
            .hint("add Artifact=REGISTRY/NAME:TAG to [Artifact]"));
    };
    let mut podman = base_command(unit, G, ctx);
    podman.add_all(["artifact", "pull"]);
    add_strings(unit, G, STRING_FLAGS, &mut podman);
    add_booleans(
        unit,
        G,
        &[("Quiet", "--quiet"), ("TLSVerify", "--tls-verify")],
        &mut podman,
    );
    add_podman_args(unit, G, &mut podman);
    podman.add(artifact.clone());
    service.add_cmdline(SERVICE, "ExecStart", &podman.args);
    default_oneshot(&mut service, true);
    ctx.resource_name = Some(artifact);
    Ok(service)
}

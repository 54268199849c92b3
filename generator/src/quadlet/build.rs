//! `.build` → a oneshot running `podman build`.

use super::*;

const G: &str = "Build";

const STRING_FLAGS: &[(&str, &str)] = &[
    ("Arch", "--arch"),
    ("AuthFile", "--authfile"),
    ("IgnoreFile", "--ignorefile"),
    ("Target", "--target"),
    ("Variant", "--variant"),
    ("Retry", "--retry"),
    ("RetryDelay", "--retry-delay"),
];

const LIST_FLAGS: &[(&str, &str)] = &[
    ("DNS", "--dns"),
    ("DNSOption", "--dns-option"),
    ("DNSSearch", "--dns-search"),
    ("GroupAdd", "--group-add"),
    ("ImageTag", "--tag"),
];

const KEY_VAL_FLAGS: &[(&str, &str)] = &[
    ("BuildArg", "--build-arg"),
    ("Environment", "--env"),
    ("Label", "--label"),
    ("Annotation", "--annotation"),
];

pub(super) fn convert(unit: &UnitFile, ctx: &mut Ctx) -> Result<UnitFile> {
    let mut service = init_service(unit, Kind::Build, ctx)?;
    let has_tag = ctx
        .infos
        .get(&unit.filename)
        .is_some_and(|i| !i.resource_name.is_empty());
    if !has_tag {
        return Err(ConvertError::new("no ImageTag key specified")
            .hint("add ImageTag=localhost/NAME to [Build]"));
    }
    let mut podman = base_command(unit, G, ctx);
    podman.add("build");
    // podman build needs `--pull=VALUE` in one word.
    if let Some(pull) = unit.lookup(G, "Pull").filter(|v| !v.is_empty()) {
        podman.add(format!("--pull={pull}"));
    }
    add_strings(unit, G, STRING_FLAGS, &mut podman);
    add_booleans(
        unit,
        G,
        &[("TLSVerify", "--tls-verify"), ("ForceRM", "--force-rm")],
        &mut podman,
    );
    add_all_strings(unit, G, LIST_FLAGS, &mut podman);
    add_key_vals(unit, G, KEY_VAL_FLAGS, &mut podman, ctx);
    add_networks(unit, G, &mut service, &mut podman, ctx)?;
    for s in unit.lookup_all_args(G, "Secret") {
        podman.add("--secret").add(s);
    }
    add_volumes(unit, G, &mut service, &mut podman, ctx)?;

    // The build needs a Containerfile (File=) or a context (SetWorkingDirectory=).
    let context = set_working_directory(unit, &mut service, G)?;
    let working_dir = service
        .lookup(SERVICE, "WorkingDirectory")
        .unwrap_or_default();
    let file = unit.lookup(G, "File").unwrap_or_default();
    if working_dir.is_empty() && file.is_empty() && context.is_empty() {
        return Err(
            ConvertError::new("neither SetWorkingDirectory, nor File key specified")
                .hint("add File=PATH (a Containerfile) or SetWorkingDirectory=unit|file|PATH|URL"),
        );
    }
    if !file.is_empty() {
        podman.add("--file").add(file.clone());
    }
    add_podman_args(unit, G, &mut podman);
    // The context (or working directory) must be the last argument.
    if !context.is_empty() {
        podman.add(context);
    } else if !starts_with_specifier(&file) && !file.starts_with('/') && !is_url(&file) {
        if working_dir.is_empty() {
            return Err(ConvertError::new(
                "relative path in File key requires SetWorkingDirectory key to be set",
            )
            .at(G, "File")
            .hint("add SetWorkingDirectory=unit to resolve it next to this file"));
        }
        podman.add(working_dir);
    }
    service.add_cmdline(SERVICE, "ExecStart", &podman.args);
    default_oneshot(&mut service, false);
    Ok(service)
}

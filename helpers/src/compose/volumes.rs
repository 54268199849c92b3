//! `unitsmith compose volumes`: the volumes Docker leaves anonymous, named so that their data
//! outlives the container (the generator's `compose/anonymous.rs` says why and how).
//!
//! Before `podman run`: the image's `VOLUME`s (`podman image inspect`) that nothing else is
//! mounted on get a named volume each, as the file's anonymous volumes already have; each is
//! created with the project's and the service's labels when it does not exist; and the
//! `-v NAME:PATH` words for the image's go to `--out`, as `UNITSMITH_VOLUMES=...`, which
//! the unit reads (`EnvironmentFile=`) and gives `podman run` (`$UNITSMITH_VOLUMES`).

use std::path::PathBuf;
use std::process::ExitCode;

use unitsmith_generator::compose::anonymous;

use super::podman;

#[derive(clap::Args)]
pub struct Args {
    /// The image the container runs.
    #[arg(long)]
    image: String,
    /// The container's default name (PROJECT-SERVICE-N), which its volumes are named after.
    #[arg(long)]
    prefix: String,
    /// The project, for the volumes' labels.
    #[arg(long)]
    project: String,
    /// The service, for the volumes' labels.
    #[arg(long)]
    service: String,
    /// A path in the container that the service mounts something on.
    #[arg(long)]
    mounted: Vec<String>,
    /// A volume the unit mounts by name (an anonymous volume of the Compose file).
    #[arg(long)]
    create: Vec<String>,
    /// Where to write UNITSMITH_VOLUMES=... for the unit.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(a: Args) -> Result<ExitCode, String> {
    let image_volumes = image_volumes(&a.image)?;
    let mounted: Vec<String> = a
        .mounted
        .iter()
        .map(|m| unitsmith_generator::quadlet::clean_path(m))
        .collect();
    let mut words: Vec<String> = Vec::new();
    let mut names: Vec<String> = a.create.clone();
    for path in image_volumes {
        let clean = unitsmith_generator::quadlet::clean_path(&path);
        if mounted.contains(&clean) {
            continue;
        }
        if let Some(c) = clean
            .chars()
            .find(|c| c.is_whitespace() || matches!(c, ':' | '"' | '\'' | '\\' | '$'))
        {
            return Err(format!(
                "{}: the image's VOLUME {clean:?} holds {c:?}, which cannot be passed to podman run here; its data would not be kept\n  hint: mount a named volume there in the Compose file (volumes: [NAME:PATH])",
                a.image
            ));
        }
        let name = anonymous::name(&a.prefix, &clean);
        log::info!("the image's VOLUME {clean} is kept in the volume {name}");
        words.push(format!("-v {name}:{clean}"));
        names.push(name);
    }
    for name in &names {
        create(name, &a.project, &a.service)?;
    }
    let line = format!("{}={}\n", VOLUMES_VAR, words.join(" "));
    let (dir, file) = super::runtime_dir(&a.out)?;
    crate::atomic::write_in(&dir, &file, line.as_bytes(), 0o600).map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}

/// The variable the unit gives `podman run` (the generator's `runtime::VOLUMES_VAR`).
const VOLUMES_VAR: &str = "UNITSMITH_VOLUMES";

/// The image's `VOLUME` paths.
fn image_volumes(image: &str) -> Result<Vec<String>, String> {
    let out = podman::query(&[
        "image",
        "inspect",
        "--format",
        "{{json .Config.Volumes}}",
        image,
    ]);
    if !out.success {
        return Err(format!(
            "{image}: cannot read the image's VOLUMEs: {}\n  hint: is the image there? (podman image exists {image})",
            out.stderr.trim()
        ));
    }
    parse_volumes(&out.stdout).map_err(|e| format!("{image}: podman image inspect gave {e}"))
}

/// `{"/data":{}, ...}` (or `null`) → the paths, sorted.
fn parse_volumes(json: &str) -> Result<Vec<String>, String> {
    let v: serde_json::Value =
        serde_json::from_str(json.trim()).map_err(|e| format!("no JSON ({e})"))?;
    let mut paths: Vec<String> = match v {
        serde_json::Value::Null => Vec::new(),
        serde_json::Value::Object(m) => m.keys().cloned().collect(),
        other => return Err(format!("not a mapping of VOLUMEs: {other}")),
    };
    paths.sort();
    Ok(paths)
}

/// Create the volume `name` with the labels that find it again, unless it exists.
fn create(name: &str, project: &str, service: &str) -> Result<(), String> {
    if podman::query(&["volume", "exists", name]).success {
        return Ok(());
    }
    let lp = format!("{}={project}", anonymous::LABEL_PROJECT);
    let ls = format!("{}={service}", anonymous::LABEL_SERVICE);
    let out = podman::query(&["volume", "create", "--label", &lp, "--label", &ls, name]);
    // (Created meanwhile by another start: fine.)
    if out.success || podman::query(&["volume", "exists", name]).success {
        log::debug!("volume {name} created");
        return Ok(());
    }
    Err(format!(
        "cannot create the volume {name}: {}",
        out.stderr.trim()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_volumes_from_inspect() {
        assert_eq!(parse_volumes("null\n").unwrap(), Vec::<String>::new());
        assert_eq!(
            parse_volumes("{\"/var/lib/x\":{},\"/data\":{}}\n").unwrap(),
            vec!["/data".to_string(), "/var/lib/x".to_string()]
        );
        assert!(parse_volumes("[1]").is_err());
        assert!(parse_volumes("").is_err());
    }
}

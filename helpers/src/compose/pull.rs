//! `unitsmith compose pull`: a service's image, as its `pull_policy` says, before `podman run
//! --pull never`. Its own time limit (a pull of gigabytes takes minutes, a registry that never
//! answers must not hold the unit for ever) and its progress in the unit's journal.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use super::podman;

#[derive(clap::Args)]
pub struct Args {
    /// missing: pull unless present; always: pull; refresh: pull when the last pull is older
    /// than --every.
    #[arg(long, value_parser = ["missing", "always", "refresh"])]
    policy: String,
    /// The pull's time limit, in seconds.
    #[arg(long, default_value_t = 900)]
    timeout: u64,
    /// With --policy refresh: seconds after which the image is pulled again.
    #[arg(long, requires = "stamp")]
    every: Option<u64>,
    /// With --policy refresh: the file whose time is the last pull's.
    #[arg(long)]
    stamp: Option<PathBuf>,
    /// The image (docker.io/library/nginx:1.27).
    image: String,
}

pub fn run(a: Args) -> Result<ExitCode, String> {
    let present = podman::image_exists(&a.image)?;
    let due = match a.policy.as_str() {
        "missing" => !present,
        "always" => true,
        _ => {
            let every = Duration::from_secs(a.every.unwrap_or(0));
            !present || a.stamp.as_deref().is_none_or(|s| older_than(s, every))
        }
    };
    if !due {
        log::debug!(
            "{}: present (pull_policy: {}); not pulled",
            a.image,
            a.policy
        );
        return Ok(ExitCode::SUCCESS);
    }
    log::info!(
        "pulling {} (pull_policy: {}; at most {} s)",
        a.image,
        a.policy,
        a.timeout
    );
    podman::run_visible(&["pull", &a.image], Duration::from_secs(a.timeout)).map_err(|e| {
        format!(
            "{e}\n  hint: check the image name and the registry (podman pull {})",
            a.image
        )
    })?;
    if let Some(stamp) = &a.stamp {
        touch(stamp)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether the stamp is missing or older than `age`.
fn older_than(stamp: &std::path::Path, age: Duration) -> bool {
    let Ok(modified) = std::fs::metadata(stamp).and_then(|m| m.modified()) else {
        return true;
    };
    SystemTime::now()
        .duration_since(modified)
        .is_ok_and(|d| d >= age)
}

/// Record the pull's time (an empty file, written atomically).
fn touch(stamp: &std::path::Path) -> Result<(), String> {
    use crate::safepath::{self, Missing, Trust};
    let (dir, name) = safepath::split(stamp).map_err(|e| e.to_string())?;
    let dir = safepath::open_dir(dir, &Trust::ours(), Missing::Create(0o755))
        .map_err(|e| e.to_string())?;
    crate::atomic::write_in(&dir, name, b"", 0o644).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_age() {
        let d = std::env::temp_dir().join(format!("unitsmith-pull-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let s = d.join("x.pulled");
        assert!(older_than(&s, Duration::from_secs(3600)), "missing is old");
        touch(&s).unwrap();
        assert!(!older_than(&s, Duration::from_secs(3600)));
        assert!(older_than(&s, Duration::ZERO));
        std::fs::remove_dir_all(&d).unwrap();
    }
}

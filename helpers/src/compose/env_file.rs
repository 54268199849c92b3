//! `unitsmith compose env-file`: a service's `env_file:`s read as docker compose reads them
//! (the generator's `compose/envfile.rs`), written as `podman run --env-file` reads them, to a
//! file only the unit's user can read (`0600`, in a `0700` directory of the runtime
//! directory). No value is ever printed: an error names the file, the line and the variable.

use std::path::PathBuf;
use std::process::ExitCode;

use unitsmith_generator::budget::Budget;
use unitsmith_generator::compose::envfile::{self, EnvFile};

#[derive(clap::Args)]
pub struct Args {
    /// The project's .env (its variables are interpolated into the files' values).
    #[arg(long)]
    dotenv: Option<PathBuf>,
    /// The file to write.
    #[arg(long)]
    out: PathBuf,
    /// The env files, in order (a later value wins); an absolute path, after `optional:`,
    /// `raw:` or `optional,raw:` when those apply.
    #[arg(required = true)]
    files: Vec<String>,
}

pub fn run(a: Args) -> Result<ExitCode, String> {
    let files: Vec<EnvFile> = a
        .files
        .iter()
        .map(|f| EnvFile::from_arg(f))
        .collect::<Result<_, _>>()?;
    let budget = Budget::default();
    let project = envfile::project_vars(a.dotenv.as_deref(), &budget)?;
    let (vars, warnings) = envfile::read_all(&files, &project, &budget)?;
    for w in warnings {
        log::warn!("{w}");
    }
    let (dir, name) = super::runtime_dir(&a.out)?;
    crate::atomic::write_in(&dir, &name, envfile::podman_format(&vars).as_bytes(), 0o600)
        .map_err(|e| e.to_string())?;
    log::debug!(
        "{}: {} variables for podman run --env-file",
        a.out.display(),
        vars.len()
    );
    Ok(ExitCode::SUCCESS)
}

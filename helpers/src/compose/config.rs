//! `unitsmith compose config`: a config's inline `content:` written to the file the container
//! mounts read-only (mode 0444: a config is not a secret, and the container's user, whoever
//! it is, reads it). The content comes from the unit, where the generator wrote it; written
//! atomically, so that services sharing the config may start at the same time.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The file to write.
    #[arg(long)]
    out: PathBuf,
    /// The content, as it goes into the file.
    content: String,
}

pub fn run(a: Args) -> Result<ExitCode, String> {
    let (dir, name) = super::runtime_dir(&a.out)?;
    crate::atomic::write_in(&dir, &name, a.content.as_bytes(), 0o444).map_err(|e| e.to_string())?;
    log::debug!("{}: {} bytes", a.out.display(), a.content.len());
    Ok(ExitCode::SUCCESS)
}

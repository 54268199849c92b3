//! The gate's `Output=` file: its directory opened through `safepath` (created when missing,
//! refused when another user than root or a consumer's user could write it), read and written
//! relative to that directory. What is at the output's name is never followed: a link or a
//! FIFO there counts as no output, and is replaced by the next write.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::atomic;
use crate::safepath::{self, Dir, Missing, Trust};

use super::envfile::Existing;

/// An env file larger than this is not one of ours.
const MAX_READ: u64 = 16 << 20;

pub struct Output {
    dir: Dir,
    name: OsString,
    path: PathBuf,
}

impl Output {
    /// Open the output's directory (creating it, mode 0755, when missing).
    pub fn open(path: &Path, trust: &Trust) -> Result<Output, String> {
        let (dir, name) = safepath::split(path)?;
        let dir = safepath::open_dir(dir, trust, Missing::Create(0o755))?;
        Ok(Output {
            path: dir.path().join(name),
            name: name.to_os_string(),
            dir,
        })
    }

    /// What the output holds now, and its bytes.
    pub fn read(&self) -> (Existing, Option<Vec<u8>>) {
        let data = self
            .dir
            .open_file(&self.name)
            .and_then(|o| o.map(|o| o.read_all(&self.path, MAX_READ)).transpose());
        match data {
            Ok(Some(data)) => (Existing::of(Some(&data)), Some(data)),
            Ok(None) => (Existing::Missing, None),
            Err(e) => {
                log::warn!("{e}; it is replaced by what the gate writes");
                (Existing::Missing, None)
            }
        }
    }

    /// Write `text` atomically with permission bits `mode`, unless it holds exactly that
    /// already (then only the mode is set). Returns whether it wrote.
    pub fn write(&self, text: &str, existing: Option<&[u8]>, mode: u32) -> Result<bool, String> {
        if existing == Some(text.as_bytes()) {
            // OutputMode= may have changed; set on the file itself, never through a link.
            if let Err(e) = self.dir.set_mode(&self.name, mode) {
                log::warn!("{e}");
            }
            return Ok(false);
        }
        atomic::write_in(&self.dir, &self.name, text.as_bytes(), mode).map_err(|e| {
            // The write is atomic: whatever failed, the file is as it was.
            let full = matches!(&e, safepath::Error::Io { err, .. }
                if matches!(err.raw_os_error(), Some(nix::libc::ENOSPC | nix::libc::EDQUOT)));
            format!(
                "cannot write {}: {e}; it keeps its old content{}",
                self.path.display(),
                if full {
                    format!(
                        " (the file system of {} is full: free space there)",
                        self.dir.path().display()
                    )
                } else {
                    String::new()
                }
            )
        })?;
        Ok(true)
    }
}

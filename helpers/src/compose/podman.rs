//! Podman, run by the compose steps: bounded, its output captured (queries) or in the unit's
//! journal (a pull).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::systemctl::{run_command, Output};

/// How long a query (inspect, exists, volume create) may take: Podman waits for its locks.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(60);

/// The podman binary (`UNITSMITH_PODMAN` for tests), found in the unit's `PATH`.
fn binary() -> String {
    std::env::var("UNITSMITH_PODMAN").unwrap_or_else(|_| "podman".to_string())
}

/// `podman ARGS...`, its output captured, within [`QUERY_TIMEOUT`].
pub fn query(args: &[&str]) -> Output {
    let mut cmd = Command::new(binary());
    cmd.args(args);
    let what = format!("podman {}", args.join(" "));
    run_command(cmd, &what, QUERY_TIMEOUT, "")
}

/// `podman ARGS...` with its output in the journal (the unit's stdout and stderr), killed
/// after `timeout` or at a stop. `Err` says why it did not succeed.
pub fn run_visible(args: &[&str], timeout: Duration) -> Result<(), String> {
    use nix::sys::signal::{killpg, Signal};
    use nix::unistd::Pid;
    use std::os::unix::process::CommandExt;
    let what = format!("podman {}", args.join(" "));
    let mut child = Command::new(binary())
        .args(args)
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", binary()))?;
    let exit = crate::child_exit::ChildExit::watch(&child);
    let start = Instant::now();
    let kill = |child: &mut std::process::Child| {
        let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
        let _ = child.wait();
    };
    loop {
        match child.try_wait() {
            Ok(Some(st)) if st.success() => return Ok(()),
            Ok(Some(st)) => return Err(format!("{what} failed ({st})")),
            Ok(None) if crate::signals::stop_requested() => {
                kill(&mut child);
                return Err(format!("{what}: stopped (SIGTERM) before it finished"));
            }
            Ok(None) if start.elapsed() >= timeout => {
                kill(&mut child);
                return Err(format!(
                    "{what}: not finished within {} s (killed)",
                    timeout.as_secs()
                ));
            }
            Ok(None) => exit.wait(timeout.saturating_sub(start.elapsed())),
            Err(e) => {
                kill(&mut child);
                return Err(format!("{what}: {e}"));
            }
        }
    }
}

/// Whether the image is in local storage.
pub fn image_exists(image: &str) -> Result<bool, String> {
    let out = query(&["image", "exists", image]);
    if out.unanswered {
        return Err(out.stderr);
    }
    Ok(out.success)
}

//! The one way helpers talk to systemd: the `systemctl` command, with a bound on every call.

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// Which manager to talk to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Scope {
    #[default]
    System,
    User,
}

impl Scope {
    /// `system` or `user`, as tools read it.
    pub fn name(self) -> &'static str {
        match self {
            Scope::System => "system",
            Scope::User => "user",
        }
    }
}

/// The outcome of one systemctl call.
#[derive(Debug)]
pub struct Output {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
    /// It did not answer: killed at its time limit or by a stop, or never run.
    pub unanswered: bool,
}

/// How long one systemctl call may take before it is killed, unless the command sets its own
/// bound ([`set_call_timeout`]): systemd's default start and stop job timeout.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(90);

/// The bound [`run`] uses, in milliseconds (a command such as `reload --timeout` sets it).
static CALL_TIMEOUT_MS: AtomicU64 = AtomicU64::new(CALL_TIMEOUT.as_millis() as u64);

/// Bound every later [`run`] (and so every query built on it) by `timeout`.
pub fn set_call_timeout(timeout: Duration) {
    CALL_TIMEOUT_MS.store(timeout.as_millis() as u64, Ordering::Relaxed);
}

/// The bound [`run`] uses now.
pub fn call_timeout() -> Duration {
    Duration::from_millis(CALL_TIMEOUT_MS.load(Ordering::Relaxed))
}

fn binary() -> String {
    std::env::var("UNITSMITH_SYSTEMCTL").unwrap_or_else(|_| "systemctl".to_string())
}

fn failed(stderr: String) -> Output {
    Output {
        success: false,
        stdout: String::new(),
        stderr,
        unanswered: false,
    }
}

fn unanswered(stderr: String) -> Output {
    Output {
        unanswered: true,
        ..failed(stderr)
    }
}

/// Run `systemctl [--user] ARGS...`, killed after `timeout`, or at once when a stop (SIGTERM)
/// is requested. Its output is read while it runs (a `show` of many units is more than a pipe
/// holds), and it runs in its own process group, so that whatever it started dies with it.
pub fn run_with_timeout(scope: Scope, args: &[&str], timeout: Duration) -> Output {
    let mut cmd = Command::new(binary());
    if scope == Scope::User {
        cmd.arg("--user");
    }
    cmd.args(args);
    let what = format!("systemctl {}", args.join(" "));
    run_command(cmd, &what, timeout, "; is systemd busy or hung?")
}

/// Run `cmd` (shown as `what` in messages), its output captured, killed after `timeout` (the
/// message then ends with `hang_hint`) or at once when a stop (SIGTERM) is requested; in its
/// own process group, so that whatever it started dies with it. (systemctl's calls, and
/// podman's in `compose`.)
pub fn run_command(mut cmd: Command, what: &str, timeout: Duration, hang_hint: &str) -> Output {
    let mut what = what.to_string();
    let program = cmd.get_program().to_string_lossy().into_owned();
    if what.len() > 160 {
        // A show of many units: enough to recognise the call.
        let cut = (0..=157)
            .rev()
            .find(|&i| what.is_char_boundary(i))
            .unwrap_or(0);
        what.truncate(cut);
        what.push_str("...");
    }
    if crate::signals::stop_requested() {
        return unanswered(format!("{what}: not run: stopping (SIGTERM)"));
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    log::debug!("{what}");
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return failed(format!("cannot run {program}: {e}")),
    };
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let start = Instant::now();
    let kill = |child: &mut std::process::Child| {
        let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
        let _ = child.wait();
        // The readers are not joined: something that left the group could hold the pipes.
    };
    let exit = crate::child_exit::ChildExit::watch(&child);
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if crate::signals::stop_requested() => {
                kill(&mut child);
                return unanswered(format!("{what}: stopped (SIGTERM) before it finished"));
            }
            Ok(None) if start.elapsed() >= timeout => {
                kill(&mut child);
                return unanswered(format!(
                    "{what}: no answer within {timeout:?} (killed){hang_hint}"
                ));
            }
            Ok(None) => exit.wait(timeout.saturating_sub(start.elapsed())),
            Err(e) => {
                kill(&mut child);
                return failed(format!("{what}: {e}"));
            }
        }
    };
    Output {
        success: status.success(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        unanswered: false,
    }
}

pub fn run(scope: Scope, args: &[&str]) -> Output {
    run_with_timeout(scope, args, call_timeout())
}

/// `systemctl show -p P1,P2 UNIT` as a map.
pub fn show(scope: Scope, unit: &str, props: &[&str]) -> HashMap<String, String> {
    show_bounded(scope, unit, props, call_timeout())
}

/// [`show`], killed after `timeout` (an empty map then).
pub fn show_bounded(
    scope: Scope,
    unit: &str,
    props: &[&str],
    timeout: Duration,
) -> HashMap<String, String> {
    let p = props.join(",");
    let out = run_with_timeout(scope, &["show", "-p", &p, "--", unit], timeout);
    out.stdout
        .lines()
        .filter_map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

pub fn daemon_reload(scope: Scope) -> Output {
    run(scope, &["daemon-reload"])
}

/// `reset-failed`, tolerating "not loaded" (a unit that was only condition-skipped).
pub fn reset_failed(scope: Scope, unit: &str) -> Output {
    let mut out = run(scope, &["reset-failed", "--", unit]);
    if !out.success && out.stderr.contains("not loaded") {
        out.success = true;
    }
    out
}

pub fn restart(scope: Scope, unit: &str) -> Output {
    run(scope, &["restart", "--", unit])
}

pub fn start_no_block(scope: Scope, unit: &str) -> Output {
    run(scope, &["--no-block", "start", "--", unit])
}

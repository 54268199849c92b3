//! The one way helpers talk to systemd: the `systemctl` command, with a bound on every call.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
}

/// How long any one systemctl call may take before it is killed.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(90);

fn binary() -> String {
    std::env::var("UNITSMITH_SYSTEMCTL").unwrap_or_else(|_| "systemctl".to_string())
}

/// Run `systemctl [--user] ARGS...`, killed after `timeout`.
pub fn run_with_timeout(scope: Scope, args: &[&str], timeout: Duration) -> Output {
    let mut cmd = Command::new(binary());
    if scope == Scope::User {
        cmd.arg("--user");
    }
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    log::debug!("systemctl {}", args.join(" "));
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Output {
                success: false,
                stdout: String::new(),
                stderr: format!("cannot run systemctl: {e}"),
            }
        }
    };
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Output {
                    success: false,
                    stdout: String::new(),
                    stderr: format!("systemctl {} timed out after {:?}", args.join(" "), timeout),
                };
            }
            Ok(None) => {
                // Most calls end within milliseconds (populate runs on the boot path): poll
                // fast at first, then back off.
                let waited = start.elapsed();
                let pause = if waited < Duration::from_millis(20) {
                    1
                } else {
                    10
                };
                std::thread::sleep(Duration::from_millis(pause))
            }
            Err(e) => {
                return Output {
                    success: false,
                    stdout: String::new(),
                    stderr: e.to_string(),
                }
            }
        }
    }
    match child.wait_with_output() {
        Ok(o) => Output {
            success: o.status.success(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        },
        Err(e) => Output {
            success: false,
            stdout: String::new(),
            stderr: e.to_string(),
        },
    }
}

pub fn run(scope: Scope, args: &[&str]) -> Output {
    run_with_timeout(scope, args, CALL_TIMEOUT)
}

/// `systemctl show -p P1,P2 UNIT` as a map.
pub fn show(scope: Scope, unit: &str, props: &[&str]) -> HashMap<String, String> {
    show_bounded(scope, unit, props, CALL_TIMEOUT)
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

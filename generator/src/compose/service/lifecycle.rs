//! How the container starts again and stops: `restart`, `stop_grace_period`.

use super::Service;
use crate::compose::check::{text, Fail};
use crate::compose::unit::Q;
use crate::compose::values;
use crate::compose::yaml::Node;

/// `restart` → `Restart=` (a service others wait to complete cannot restart always).
pub fn restart(q: &mut Q, s: &Service, v: &Node, path: &str) -> Result<(), String> {
    restart_policy(q, s.ctx.completed.contains(s.name), v, path)
}

fn restart_policy(q: &mut Q, oneshot: bool, v: &Node, path: &str) -> Result<(), String> {
    let p = q.p;
    let t = text(p, v, path)?;
    let (policy, retries) = match t.split_once(':') {
        Some(("on-failure", n)) => {
            let n: u32 = n.parse().map_err(|_| {
                Fail::at(p, v, path, format!("\"{n}\" is not a number of retries")).plain()
            })?;
            ("on-failure", Some(n))
        }
        _ => (t, None),
    };
    let restart = match policy {
        "no" => "no",
        "always" | "unless-stopped" => "always",
        "on-failure" => "on-failure",
        _ => {
            return Err(
                Fail::at(p, v, path, format!("unknown restart policy \"{t}\""))
                    .hint("no, always, on-failure[:N] or unless-stopped"),
            )
        }
    };
    if oneshot && restart == "always" {
        return Err(Fail::at(p, v, path, format!("restart: {t} on a service others wait to complete (service_completed_successfully)")).hint("use on-failure or no: a service that must complete cannot restart after it did"));
    }
    q.raw("Service", "Restart", restart, v);
    if let Some(n) = retries {
        // At most N automatic restarts, counted by systemd (NRestarts, which a manual start,
        // a restart and a boot set back to 0): the restart-limit step skips the N+1th. No
        // start limit, which would count manual starts too and refuse them.
        q.raw("Unit", "StartLimitIntervalSec", "0", v);
        q.notes.restart_limit = Some(n);
    }
    Ok(())
}

/// `stop_grace_period` → `StopTimeout=` (seconds, rounded up), and systemd's stop timeout
/// longer than Podman's wait.
pub fn stop_grace_period(q: &mut Q, _s: &Service, v: &Node, kp: &str) -> Result<(), String> {
    let p = q.p;
    let secs = values::duration_secs(text(p, v, kp)?).map_err(|e| Fail::at(p, v, kp, e).plain())?;
    q.raw("Container", "StopTimeout", &secs.to_string(), v);
    // systemd must wait longer than podman does (its default is 90 s).
    if secs.saturating_add(30) > 90 {
        q.raw(
            "Service",
            "TimeoutStopSec",
            &(secs.saturating_add(30)).to_string(),
            v,
        );
    }
    Ok(())
}

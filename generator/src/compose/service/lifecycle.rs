//! How the container starts again and stops: `restart` (and `deploy.restart_policy`),
//! `stop_grace_period`.

use super::Service;
use crate::compose::check::{check_keys, text, Fail};
use crate::compose::unit::Q;
use crate::compose::values;
use crate::compose::yaml::Node;

/// `restart` → `Restart=` (a service others wait to complete cannot restart always).
/// `deploy.restart_policy`, where there is one, is the policy instead, as in docker compose.
pub fn restart(q: &mut Q, s: &Service, v: &Node, path: &str) -> Result<(), String> {
    let t = text(q.p, v, path)?;
    if has_deploy_restart_policy(s) {
        return Ok(());
    }
    restart_policy(q, s, t, v, path)
}

fn has_deploy_restart_policy(s: &Service) -> bool {
    s.node
        .get("deploy")
        .is_some_and(|d| d.get("restart_policy").is_some())
}

/// `deploy.restart_policy` → `Restart=`, read as docker compose reads it outside a swarm:
/// `condition` none/on-failure/any (or the `restart:` names), `max_attempts` as the N of
/// `on-failure:N`; `delay` and `window` are the swarm's and have no effect.
pub fn deploy_restart_policy(q: &mut Q, s: &Service, v: &Node, path: &str) -> Result<(), String> {
    let p = q.p;
    check_keys(
        p,
        v,
        path,
        &["condition", "max_attempts", "delay", "window"],
        &[],
    )?;
    let condition = match v.get("condition") {
        Some(c) => match text(p, c, &format!("{path}.condition"))? {
            "none" | "no" => "no",
            "any" | "always" => "always",
            "unless-stopped" => "unless-stopped",
            "on-failure" => "on-failure",
            other => {
                return Err(Fail::at(
                    p,
                    c,
                    &format!("{path}.condition"),
                    format!("unknown restart condition \"{other}\""),
                )
                .hint("none, on-failure or any"))
            }
        },
        // The Compose specification's default condition.
        None => "always",
    };
    for k in ["delay", "window"] {
        if let Some(n) = v.get(k) {
            q.warn(
                n,
                &format!("{path}.{k}"),
                "not applied: a swarm setting, which docker compose ignores too",
            );
        }
    }
    let policy = match v.get("max_attempts") {
        Some(m) => {
            let mp = format!("{path}.max_attempts");
            let n = text(p, m, &mp)?;
            if condition != "on-failure" {
                return Err(Fail::at(p, m, &mp, format!("max_attempts with condition {condition}"))
                    .hint("max_attempts counts restarts after a failure: use condition: on-failure (Docker refuses it otherwise)"));
            }
            format!("on-failure:{n}")
        }
        None => condition.to_string(),
    };
    restart_policy(q, s, &policy, v, path)
}

fn restart_policy(q: &mut Q, s: &Service, t: &str, v: &Node, path: &str) -> Result<(), String> {
    let p = q.p;
    let oneshot = s.ctx.completed.contains(s.name);
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

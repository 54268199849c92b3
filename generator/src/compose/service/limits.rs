//! Resources: `cpus`, `ulimits`, `sysctls`, `deploy` (replicas are read by `select`,
//! `resources.limits` and `resources.reservations` here, `restart_policy` by `lifecycle`).

use super::{lifecycle, Service};
use crate::compose::check::{check_keys, text, Fail};
use crate::compose::resources;
use crate::compose::unit::Q;
use crate::compose::values;
use crate::compose::yaml::{Node, Value};

pub fn ulimits(q: &mut Q, _s: &Service, v: &Node, path: &str) -> Result<(), String> {
    let p = q.p;
    let m = v
        .as_map()
        .ok_or_else(|| Fail::at(p, v, path, "must be a mapping").plain())?;
    for (k, val) in m {
        let kp = format!("{path}.{}", k.name);
        let num = |n: &Node, what: &str| -> Result<String, String> {
            let t = text(p, n, &format!("{kp}{what}"))?;
            if t.parse::<i64>().is_err() {
                return Err(Fail::at(p, n, &kp, format!("\"{t}\" is not a number")).plain());
            }
            Ok(t.to_string())
        };
        let limit = match &val.value {
            Value::Scalar { .. } => num(val, "")?,
            Value::Map(_) => {
                check_keys(p, val, &kp, &["soft", "hard"], &[])?;
                let soft = val
                    .get("soft")
                    .ok_or_else(|| Fail::at(p, val, &kp, "no soft:").plain())?;
                let hard = val
                    .get("hard")
                    .ok_or_else(|| Fail::at(p, val, &kp, "no hard:").plain())?;
                format!("{}:{}", num(soft, ".soft")?, num(hard, ".hard")?)
            }
            _ => return Err(Fail::at(p, val, &kp, "must be a number or soft:/hard:").plain()),
        };
        q.set_at("Container", "Ulimit", &format!("{}={limit}", k.name), val)?;
    }
    Ok(())
}

/// `cpus` → `--cpus=`.
pub fn cpus(q: &mut Q, _s: &Service, v: &Node, path: &str) -> Result<(), String> {
    cpu_count(q, v, path)
}

fn cpu_count(q: &mut Q, v: &Node, path: &str) -> Result<(), String> {
    let t = text(q.p, v, path)?;
    if t.parse::<f64>().map_or(true, |c| c <= 0.0) {
        return Err(Fail::at(q.p, v, path, format!("\"{t}\" is not a number of CPUs")).plain());
    }
    q.add_word("Container", "PodmanArgs", &format!("--cpus={t}"), v);
    Ok(())
}

pub fn deploy(q: &mut Q, s: &Service, v: &Node, path: &str) -> Result<(), String> {
    let p = q.p;
    check_keys(
        p,
        v,
        path,
        &["replicas", "resources", "restart_policy"],
        &[
            "endpoint_mode",
            "labels",
            "mode",
            "placement",
            "rollback_config",
            "update_config",
        ],
    )?;
    if let Some(rp) = v.get("restart_policy") {
        lifecycle::deploy_restart_policy(q, s, rp, &format!("{path}.restart_policy"))?;
    }
    let Some(r) = v.get("resources") else {
        return Ok(());
    };
    let rp = format!("{path}.resources");
    check_keys(p, r, &rp, &["limits", "reservations"], &[])?;
    if let Some(res) = r.get("reservations") {
        reservations(q, res, &format!("{rp}.reservations"))?;
    }
    let Some(l) = r.get("limits") else {
        return Ok(());
    };
    let lp = format!("{rp}.limits");
    check_keys(p, l, &lp, &["cpus", "memory", "pids"], &[])?;
    if let Some(c) = l.get("cpus") {
        cpu_count(q, c, &format!("{lp}.cpus"))?;
    }
    if let Some(m) = l.get("memory") {
        let mp = format!("{lp}.memory");
        let b = values::bytes(text(p, m, &mp)?).map_err(|e| Fail::at(p, m, &mp, e).plain())?;
        q.raw("Container", "Memory", &b, m);
    }
    if let Some(n) = l.get("pids") {
        q.single("Container", "PidsLimit", n, &format!("{lp}.pids"))?;
    }
    Ok(())
}

/// `deploy.resources.reservations`, as docker compose applies it outside a swarm: `memory`
/// is the container's memory reservation (a soft limit); `cpus` is a swarm scheduling
/// setting and has no effect; `devices` (GPU requests) are not translated.
fn reservations(q: &mut Q, v: &Node, path: &str) -> Result<(), String> {
    let p = q.p;
    check_keys(
        p,
        v,
        path,
        &["memory", "cpus", "pids"],
        &["devices", "generic_resources"],
    )?;
    if let Some(m) = v.get("memory") {
        let mp = format!("{path}.memory");
        let b = values::bytes(text(p, m, &mp)?).map_err(|e| Fail::at(p, m, &mp, e).plain())?;
        q.add_word(
            "Container",
            "PodmanArgs",
            &format!("--memory-reservation={b}"),
            m,
        );
    }
    for k in ["cpus", "pids"] {
        if let Some(n) = v.get(k) {
            q.warn(
                n,
                &format!("{path}.{k}"),
                "not applied: a swarm setting, which docker compose ignores too",
            );
        }
    }
    Ok(())
}

/// `sysctls` → `Sysctl=K=V`.
pub fn sysctls(q: &mut Q, _s: &Service, v: &Node, kp: &str) -> Result<(), String> {
    for (sk, sv, n) in resources::string_map(q.p, v, kp)? {
        q.list_item("Container", "Sysctl", &format!("{sk}={sv}"), n, kp)?;
    }
    Ok(())
}

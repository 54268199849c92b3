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

#[cfg(test)]
mod tests {
    use crate::compose::testing::{container_values as all, web_with as service};

    /// `ulimits:` as a number or soft/hard; `sysctls:`; `cpus:`.
    #[test]
    fn ulimits_sysctls_and_cpus() {
        let u = service(
            "limits-ulimits",
            "    ulimits:\n      nproc: 65535\n      nofile: {soft: 1024, hard: 2048}\n    sysctls: {net.core.somaxconn: 1024}\n    cpus: 0.5\n",
        )
        .unwrap();
        assert_eq!(all(&u, "Ulimit"), ["nproc=65535", "nofile=1024:2048"]);
        assert_eq!(all(&u, "Sysctl"), ["net.core.somaxconn=1024"]);
        assert_eq!(all(&u, "PodmanArgs").join(" "), "--cpus=0.5");
        for (test, body, message) in [
            (
                "limits-nproc",
                "    ulimits: {nproc: x}\n",
                "\"x\" is not a number",
            ),
            (
                "limits-soft",
                "    ulimits: {nofile: {hard: 1}}\n",
                "services.web.ulimits.nofile: no soft:",
            ),
            (
                "limits-hard",
                "    ulimits: {nofile: {soft: 1}}\n",
                "services.web.ulimits.nofile: no hard:",
            ),
            (
                "limits-list",
                "    ulimits: {nofile: [1]}\n",
                "must be a number or soft:/hard:",
            ),
            (
                "limits-zero",
                "    cpus: 0\n",
                "\"0\" is not a number of CPUs",
            ),
            (
                "limits-cpus",
                "    cpus: x\n",
                "\"x\" is not a number of CPUs",
            ),
        ] {
            let e = service(test, body).unwrap_err();
            assert!(e.contains(message), "{test}: {e}");
        }
    }

    /// `deploy:` limits and reservations as docker compose applies them outside a swarm.
    #[test]
    fn deploy_resources() {
        let u = service(
            "limits-deploy",
            "    deploy:\n      restart_policy: {condition: on-failure}\n      resources:\n        limits: {cpus: '2', memory: 1g, pids: 100}\n        reservations: {memory: 512m, cpus: '1'}\n",
        )
        .unwrap();
        assert_eq!(all(&u, "Memory"), ["1g"]);
        assert_eq!(all(&u, "PidsLimit"), ["100"]);
        assert_eq!(
            all(&u, "PodmanArgs").join(" "),
            "--memory-reservation=512m --cpus=2"
        );
        assert_eq!(u.lookup_all("Service", "Restart"), ["on-failure"]);
        let e = service("limits-deploy-mode", "    deploy:\n      placement: {}\n").unwrap_err();
        assert!(e.contains("services.web.deploy.placement"), "{e}");
    }
}

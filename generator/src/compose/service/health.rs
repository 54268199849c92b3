//! `healthcheck` → Podman's health check (`HealthCmd=` and its timings).

use super::Service;
use crate::compose::check::{check_keys, flag, text, Fail};
use crate::compose::unit::Q;
use crate::compose::values;
use crate::compose::yaml::{Node, Value};

pub fn healthcheck(q: &mut Q, _s: &Service, v: &Node, path: &str) -> Result<(), String> {
    let p = q.p;
    check_keys(
        p,
        v,
        path,
        &[
            "test",
            "interval",
            "timeout",
            "retries",
            "start_period",
            "disable",
        ],
        &["start_interval"],
    )?;
    if let Some(d) = v.get("disable") {
        if flag(p, d, &format!("{path}.disable"))? {
            q.raw("Container", "HealthCmd", "none", d);
            return Ok(());
        }
    }
    if let Some(t) = v.get("test") {
        let tp = format!("{path}.test");
        let cmd = match &t.value {
            Value::Scalar { text, .. } => text.trim().to_string(),
            Value::Seq(items) => {
                let words: Vec<String> = items
                    .iter()
                    .enumerate()
                    .map(|(i, n)| text(p, n, &format!("{tp}.{i}")).map(str::to_string))
                    .collect::<Result<_, _>>()?;
                match words.split_first() {
                    Some((k, rest)) if k == "NONE" => {
                        let _ = rest;
                        "none".to_string()
                    }
                    Some((k, rest)) if k == "CMD-SHELL" && rest.len() == 1 => rest[0].clone(),
                    // Podman takes an exec-form check as a JSON array.
                    Some((k, rest)) if k == "CMD" && !rest.is_empty() => values::json_array(rest),
                    _ => return Err(Fail::at(p, t, &tp, "a list starts with CMD (then the command's words), CMD-SHELL (then one shell command) or NONE").plain()),
                }
            }
            _ => return Err(Fail::at(p, t, &tp, "must be a string or a list").plain()),
        };
        q.set_at("Container", "HealthCmd", &cmd, t)?;
    }
    for (k, qk) in [
        ("interval", "HealthInterval"),
        ("timeout", "HealthTimeout"),
        ("start_period", "HealthStartPeriod"),
    ] {
        if let Some(n) = v.get(k) {
            let kp = format!("{path}.{k}");
            let d =
                values::duration(text(p, n, &kp)?).map_err(|e| Fail::at(p, n, &kp, e).plain())?;
            q.raw("Container", qk, &d, n);
        }
    }
    if let Some(n) = v.get("retries") {
        let kp = format!("{path}.retries");
        let r = text(p, n, &kp)?;
        if r.parse::<u32>().is_err() {
            return Err(Fail::at(p, n, &kp, format!("\"{r}\" is not a number")).plain());
        }
        q.raw("Container", "HealthRetries", r, n);
    }
    Ok(())
}

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
            "start_interval",
            "disable",
        ],
        &[],
    )?;
    if let Some(n) = v.get("start_interval") {
        // Podman has no interval of its own for the start period (its startup checks count
        // failures, which Docker's start period does not): `interval` applies throughout,
        // so the first success may be seen up to one interval later than under Docker.
        q.warn(
            n,
            &format!("{path}.start_interval"),
            "not applied: Podman checks every `interval` during the start period too",
        );
    }
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
        if cmd.contains(['\n', '\r']) {
            // A shell command of several lines (a `|` block) cannot be one `HealthCmd=` line;
            // `PodmanArgs=` is split into words with C escapes decoded, so it goes there as
            // one escaped word, and reaches Podman with its line breaks.
            q.add_word("Container", "PodmanArgs", &format!("--health-cmd={cmd}"), t);
        } else {
            q.set_at("Container", "HealthCmd", &cmd, t)?;
        }
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

/// Podman's defaults for a health check's timings (those of an image's HEALTHCHECK too).
const DEFAULT_INTERVAL: u64 = 30;
const DEFAULT_TIMEOUT: u64 = 30;
const DEFAULT_RETRIES: u64 = 3;

/// The longest a container may take to become healthy, in seconds: its start period, then
/// `retries` checks each an interval apart, each allowed its timeout. An unreadable timing
/// counts as Podman's default (the translation of the key says what is wrong with it).
pub fn wait_secs(healthcheck: Option<&Node>) -> u64 {
    let secs = |k: &str, default: u64| -> u64 {
        healthcheck
            .and_then(|h| h.get(k))
            .and_then(Node::as_str)
            .and_then(|t| values::duration_secs(t).ok())
            .unwrap_or(default)
    };
    let retries = healthcheck
        .and_then(|h| h.get("retries"))
        .and_then(Node::as_str)
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(DEFAULT_RETRIES);
    let each = secs("interval", DEFAULT_INTERVAL).saturating_add(secs("timeout", DEFAULT_TIMEOUT));
    secs("start_period", 0).saturating_add(retries.saturating_mul(each))
}

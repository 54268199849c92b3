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

#[cfg(test)]
mod tests {
    use super::wait_secs;
    use crate::compose::testing::web;
    use crate::compose::yaml;
    use crate::unitfile::UnitFile;

    fn check(test: &str, healthcheck: &str) -> Result<UnitFile, String> {
        web(
            test,
            &format!("services:\n  web:\n    image: x\n    healthcheck:\n{healthcheck}"),
        )
    }

    fn cmd(test: &str, healthcheck: &str) -> Vec<String> {
        let u = check(test, healthcheck).unwrap();
        u.lookup_all("Container", "HealthCmd")
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    /// Each form of `test:` as Podman's `HealthCmd=`.
    #[test]
    fn test_forms() {
        assert_eq!(
            cmd("health-string", "      test: ' curl -f x '\n"),
            ["curl -f x"]
        );
        assert_eq!(
            cmd(
                "health-shell",
                "      test: [CMD-SHELL, 'curl -f x || exit 1']\n"
            ),
            ["curl -f x || exit 1"]
        );
        assert_eq!(
            cmd("health-cmd", "      test: [CMD, curl, -f, x]\n"),
            [r#"["curl","-f","x"]"#]
        );
        assert_eq!(cmd("health-none", "      test: [NONE]\n"), ["none"]);
        assert_eq!(
            cmd(
                "health-disable",
                "      test: [CMD, x]\n      disable: true\n"
            ),
            ["none"]
        );
        assert_eq!(
            cmd(
                "health-enabled",
                "      test: [CMD, x]\n      disable: false\n"
            ),
            [r#"["x"]"#]
        );
        for (bad, message) in [
            ("[CMD]", "a list starts with CMD"),
            ("[CMD-SHELL]", "a list starts with CMD"),
            ("[CMD-SHELL, a, b]", "a list starts with CMD"),
            ("[SHELL, x]", "a list starts with CMD"),
            ("[]", "a list starts with CMD"),
            ("{a: b}", "must be a string or a list"),
        ] {
            let e = check("health-bad", &format!("      test: {bad}\n")).unwrap_err();
            assert!(
                e.contains(&format!(
                    "compose.yaml:5: services.web.healthcheck.test: {message}"
                )),
                "{bad}: {e}"
            );
        }
    }

    /// The timings, and retries as a number.
    #[test]
    fn timings() {
        let u = check(
            "health-timings",
            "      test: x\n      interval: 1m30s\n      timeout: 5s\n      start_period: 10s\n      retries: 4\n",
        )
        .unwrap();
        let one = |k: &str| u.lookup_all("Container", k).join(" ");
        assert_eq!(one("HealthInterval"), "1m30s");
        assert_eq!(one("HealthTimeout"), "5s");
        assert_eq!(one("HealthStartPeriod"), "10s");
        assert_eq!(one("HealthRetries"), "4");
        let e = check("health-retries", "      retries: many\n").unwrap_err();
        assert!(e.contains("\"many\" is not a number"), "{e}");
    }

    /// The longest wait: the start period, then `retries` checks an interval apart, each
    /// allowed its timeout; Podman's defaults for what is not set or not readable.
    #[test]
    fn longest_wait() {
        let wait = |text: &str| {
            let n = yaml::parse(text, 0).unwrap();
            wait_secs(Some(&n))
        };
        assert_eq!(wait_secs(None), 3 * (30 + 30));
        assert_eq!(
            wait("interval: 10s\ntimeout: 2s\nretries: 5\nstart_period: 1m\n"),
            60 + 5 * 12
        );
        assert_eq!(wait("interval: x\nretries: y\n"), 3 * (30 + 30));
    }
}

//! The process and what it may do: `command`, `entrypoint`, `logging`, `security_opt`,
//! `ipc`/`pid`.

use super::Service;
use crate::compose::check::{check_keys, string_list, text, Fail};
use crate::compose::resources;
use crate::compose::unit::Q;
use crate::compose::values;
use crate::compose::yaml::{Node, Value};
use crate::compose::Project;

/// `command` → `Exec=`.
pub fn command(q: &mut Q, _s: &Service, v: &Node, kp: &str) -> Result<(), String> {
    let p = q.p;
    let args = command_words(p, v, kp)?;
    if args.is_empty() {
        return Err(Fail::at(
            p,
            v,
            kp,
            "an empty command (to clear the image's CMD) cannot be given to podman run",
        )
        .hint("remove it, or give the command to run"));
    }
    if let Some(i) = args.iter().position(String::is_empty) {
        return Err(Fail::at(
            p,
            v,
            kp,
            format!(
                "argument {} is empty: Quadlet's Exec= drops empty arguments (as Podman's does)",
                i + 1
            ),
        )
        .hint("give the program the value another way (an option with =, a config file)"));
    }
    q.raw("Container", "Exec", &values::words(&args), v);
    Ok(())
}

/// `entrypoint` → `Entrypoint=` (several words as the JSON array Podman takes; none clears
/// the image's).
pub fn entrypoint(q: &mut Q, _s: &Service, v: &Node, kp: &str) -> Result<(), String> {
    let args = command_words(q.p, v, kp)?;
    let ep = match args.len() {
        0 => String::new(),
        1 => args[0].clone(),
        _ => values::json_array(&args),
    };
    q.set_at("Container", "Entrypoint", &ep, v)
}

/// `command:`/`entrypoint:`: a string is split as a shell would (no expansion), a list taken as is.
fn command_words(p: &Project, v: &Node, path: &str) -> Result<Vec<String>, String> {
    match &v.value {
        Value::Scalar { text, .. } => {
            values::shell_words(text).map_err(|e| Fail::at(p, v, path, e).plain())
        }
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .map(|(i, n)| text(p, n, &format!("{path}.{i}")).map(str::to_string))
            .collect(),
        Value::Null => Ok(Vec::new()),
        Value::Map(_) => Err(Fail::at(p, v, path, "must be a string or a list").plain()),
    }
}

/// `logging` → `LogDriver=`, `LogOpt=`.
pub fn logging(q: &mut Q, _s: &Service, v: &Node, kp: &str) -> Result<(), String> {
    let p = q.p;
    check_keys(p, v, kp, &["driver", "options"], &[])?;
    if let Some(d) = v.get("driver") {
        q.single("Container", "LogDriver", d, &format!("{kp}.driver"))?;
    }
    if let Some(o) = v.get("options") {
        for (ok, ov, n) in resources::string_map(p, o, &format!("{kp}.options"))? {
            q.list_item("Container", "LogOpt", &format!("{ok}={ov}"), n, kp)?;
        }
    }
    Ok(())
}

/// `security_opt` → `--security-opt=`.
pub fn security_opt(q: &mut Q, _s: &Service, v: &Node, kp: &str) -> Result<(), String> {
    for (s, n) in string_list(q.p, v, kp)? {
        q.add_word("Container", "PodmanArgs", &format!("--security-opt={s}"), n);
    }
    Ok(())
}

/// `ipc`, `pid` → `--ipc=`, `--pid=` (not another container's namespace).
pub fn namespace(q: &mut Q, _s: &Service, v: &Node, kp: &str) -> Result<(), String> {
    let p = q.p;
    let t = text(p, v, kp)?;
    if t.starts_with("service:") || t.starts_with("container:") {
        return Err(Fail::at(
            p,
            v,
            kp,
            format!("\"{t}\": sharing another container's namespace is not supported"),
        )
        .hint("host, private, shareable or none"));
    }
    let key = kp.rsplit('.').next().unwrap_or_default();
    q.add_word("Container", "PodmanArgs", &format!("--{key}={t}"), v);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::compose::testing::{container_values as all, web_with as service};

    /// `command:` as a string split as a shell would, or a list; never empty.
    #[test]
    fn commands() {
        let exec = |test: &str, body: &str| all(&service(test, body).unwrap(), "Exec");
        assert_eq!(
            exec("cmd-string", "    command: run 'a b'\n"),
            [r#"run "a\x20b""#]
        );
        assert_eq!(
            exec("cmd-list", "    command: [run, a b]\n"),
            [r#"run "a\x20b""#]
        );
        for (test, body, message) in [
            ("cmd-empty", "    command: []\n", "an empty command"),
            ("cmd-blank", "    command: ''\n", "an empty command"),
            ("cmd-arg", "    command: [a, '']\n", "argument 2 is empty"),
            (
                "cmd-map",
                "    command: {a: b}\n",
                "services.web.command: must be a string or a list",
            ),
            (
                "cmd-quote",
                "    command: \"a 'b\"\n",
                "services.web.command:",
            ),
        ] {
            let e = service(test, body).unwrap_err();
            assert!(e.contains(message), "{test}: {e}");
        }
    }

    /// `entrypoint:` of no word (clears the image's), one, several (a JSON array).
    #[test]
    fn entrypoints() {
        let ep = |test: &str, body: &str| all(&service(test, body).unwrap(), "Entrypoint");
        // An empty value: the image's entrypoint is cleared.
        let none = service("ep-none", "    entrypoint: []\n").unwrap();
        assert_eq!(none.lookup_last("Container", "Entrypoint"), Some(""));
        assert_eq!(ep("ep-one", "    entrypoint: /init\n"), ["/init"]);
        assert_eq!(
            ep("ep-two", "    entrypoint: [/bin/sh, -c]\n"),
            [r#"["/bin/sh","-c"]"#]
        );
    }

    /// `logging:`, `security_opt:`, `ipc:`/`pid:` (not another container's).
    #[test]
    fn logging_security_and_namespaces() {
        let u = service(
            "process-misc",
            "    logging: {driver: journald, options: {tag: web}}\n    security_opt: [no-new-privileges:true]\n    ipc: shareable\n    pid: host\n",
        )
        .unwrap();
        assert_eq!(all(&u, "LogDriver"), ["journald"]);
        assert_eq!(all(&u, "LogOpt"), ["tag=web"]);
        assert_eq!(
            all(&u, "PodmanArgs"),
            [
                "--security-opt=no-new-privileges:true",
                "--ipc=shareable",
                "--pid=host"
            ]
        );
        for ns in ["service:db", "container:db"] {
            let e =
                service(&format!("ns-{}", ns.len()), &format!("    pid: '{ns}'\n")).unwrap_err();
            assert!(
                e.contains("sharing another container's namespace is not supported"),
                "{ns}: {e}"
            );
        }
        let e = service("logging-bad", "    logging: {format: x}\n").unwrap_err();
        assert!(e.contains("services.web.logging.format"), "{e}");
    }
}

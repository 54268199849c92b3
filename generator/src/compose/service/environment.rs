//! The container's environment: `environment` (written into the unit) and `env_file`.

use std::path::PathBuf;

use super::Service;
use crate::compose::check::{check_keys, flag, text, Fail};
use crate::compose::envfile::{self, EnvFile};
use crate::compose::resources;
use crate::compose::unit::Q;
use crate::compose::yaml::{Node, Value};

pub fn environment(q: &mut Q, _s: &Service, v: &Node, path: &str) -> Result<(), String> {
    let p = q.p;
    let m = crate::compose::merge::to_map(v.clone());
    let Some(entries) = m.as_map() else {
        return Err(Fail::at(p, v, path, "must be a mapping or a list of KEY=VALUE").plain());
    };
    for (k, val) in entries {
        let value = match &val.value {
            Value::Scalar { text, .. } => text.clone(),
            // A name alone takes its value from the environment (the project's .env);
            // unset there, it is not set in the container (05-services.md).
            Value::Null => match p.vars.get(&k.name) {
                Some(x) => x.clone(),
                None => continue,
            },
            _ => {
                return Err(
                    Fail::at(p, val, &format!("{path}.{}", k.name), "must be a string").plain(),
                )
            }
        };
        let at = Node::new(val.file, k.line, Value::Null);
        q.add_word(
            "Container",
            "Environment",
            &format!("{}={value}", k.name),
            &at,
        );
    }
    Ok(())
}

/// `env_file` → a step that reads the files as Compose does when the container starts and
/// writes them for `podman run --env-file` (see `envfile`); checked now, so that an error
/// names its line. Their values never go into the unit.
pub fn env_files(q: &mut Q, s: &Service, v: &Node, path: &str) -> Result<(), String> {
    let p = q.p;
    let items: Vec<&Node> = match &v.value {
        Value::Seq(items) => items.iter().collect(),
        _ => vec![v],
    };
    let mut files: Vec<EnvFile> = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let ip = format!("{path}.{i}");
        let (file, required, raw) = match &item.value {
            Value::Scalar { text, .. } => (text.clone(), true, false),
            Value::Map(_) => {
                check_keys(p, item, &ip, &["path", "required", "format"], &[])?;
                let f = item
                    .get("path")
                    .ok_or_else(|| Fail::at(p, item, &ip, "no path:").plain())?;
                let required = item
                    .get("required")
                    .map(|r| flag(p, r, &format!("{ip}.required")))
                    .transpose()?
                    .unwrap_or(true);
                let raw = match item
                    .get("format")
                    .map(|f| text(p, f, &format!("{ip}.format")))
                    .transpose()?
                {
                    None => false,
                    Some("raw") => true,
                    Some(other) => {
                        return Err(
                            Fail::at(p, item, &ip, format!("unknown format \"{other}\""))
                                .hint("raw, or leave it out"),
                        )
                    }
                };
                (
                    text(p, f, &format!("{ip}.path"))?.to_string(),
                    required,
                    raw,
                )
            }
            _ => {
                return Err(
                    Fail::at(p, item, &ip, "must be a path or a mapping with path:").plain(),
                )
            }
        };
        let abs = resources::host_path(p, &file);
        if abs.starts_with("%h") {
            // `%h` is resolved by systemd when the unit starts; the check is made now.
            return Err(Fail::at(p, item, &ip, format!("{file}: under ~, the home of the manager's user, which the generator cannot look into (it checks env_file: files before the container starts)"))
                .hint("write the path relative to the project directory, or absolute"));
        }
        if std::fs::symlink_metadata(&abs).is_err() {
            if required {
                return Err(Fail::at(p, item, &ip, format!("{abs} does not exist"))
                    .hint("create it, or set required: false"));
            }
            q.warn(
                item,
                &ip,
                &format!("{abs} does not exist; not used until it does (required: false)"),
            );
        }
        files.push(EnvFile {
            path: PathBuf::from(&abs),
            required,
            raw,
        });
    }
    // Read now as the step will: an error (never a value) names the file and line.
    let (_, warnings) = envfile::read_all(&files, &p.vars, p.budget)
        .map_err(|e| Fail::at(p, v, path, e).plain())?;
    for w in warnings {
        q.warn(v, path, &w);
    }
    let out = s
        .ctx
        .steps
        .runtime_file(&format!("{}.env", s.ctx.names.container_prefix(s.name)));
    let dotenv = p.dir.join(".env");
    let dotenv = std::fs::symlink_metadata(&dotenv)
        .is_ok()
        .then(|| dotenv.to_string_lossy().into_owned());
    let args: Vec<String> = files.iter().map(EnvFile::arg).collect();
    let step = s.ctx.steps.env_file(&out, dotenv.as_deref(), &args);
    q.raw("Service", "ExecStartPre", &step, v);
    q.raw("Container", "EnvironmentFile", &out, v);
    // podman run has read it: no copy of the values is left behind.
    q.raw("Service", "ExecStartPost", &format!("-rm -f {out}"), v);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::compose::testing::Project;

    fn service(body: &str) -> String {
        format!("services:\n  web:\n    image: x\n{body}")
    }

    /// `environment:` as a mapping or a list; a name alone takes the project's `.env` value,
    /// or is left out when that has none.
    #[test]
    fn environment() {
        for (test, body) in [
            (
                "env-map",
                "    environment:\n      A: '1'\n      FROM_DOTENV:\n      UNSET:\n",
            ),
            ("env-list", "    environment: [A=1, FROM_DOTENV, UNSET]\n"),
        ] {
            let p = Project::new(test, &service(body));
            p.file(".env", "FROM_DOTENV=d\n");
            let u = p.service("web").unwrap();
            assert_eq!(
                u.lookup_all("Container", "Environment"),
                ["A=1", "FROM_DOTENV=d"],
                "{test}"
            );
        }
        let e = Project::new("env-nested", &service("    environment:\n      A: [1]\n"))
            .service("web")
            .unwrap_err();
        assert!(
            e.contains("compose.yaml:5: services.web.environment.A: must be a string"),
            "{e}"
        );
        let e = Project::new("env-scalar", &service("    environment: A\n"))
            .service("web")
            .unwrap_err();
        assert!(
            e.contains("must be a mapping or a list of KEY=VALUE"),
            "{e}"
        );
    }

    /// `env_file:` as a path, a list, or mappings with `required:` and `format:`: each file
    /// is an argument of the step, never its values in the unit.
    #[test]
    fn env_files() {
        let step = |test: &str, body: &str| -> Result<String, String> {
            let p = Project::new(test, &service(body));
            p.file("a.env", "A=secret\n").file("b.env", "B=2\n");
            let u = p.service("web")?;
            let dir = p.dir().display().to_string();
            let pre: Vec<String> = u
                .lookup_all("Service", "ExecStartPre")
                .iter()
                .filter(|s| s.contains("compose env-file"))
                .map(|s| s.replace(&dir, "DIR"))
                .collect();
            assert_eq!(pre.len(), 1, "{pre:?}");
            assert!(!pre[0].contains("secret"));
            assert_eq!(u.lookup_all("Container", "EnvironmentFile").len(), 1);
            Ok(pre[0].clone())
        };
        let one = step("envfile-one", "    env_file: a.env\n").unwrap();
        assert!(one.ends_with(" DIR/a.env"), "{one}");
        let list = step("envfile-list", "    env_file: [a.env, b.env]\n").unwrap();
        assert!(list.ends_with(" DIR/a.env DIR/b.env"), "{list}");
        let long = step(
            "envfile-long",
            "    env_file:\n      - {path: a.env, format: raw}\n      - {path: none.env, required: false}\n",
        )
        .unwrap();
        assert!(
            long.ends_with(" raw:DIR/a.env optional:DIR/none.env"),
            "{long}"
        );
        for (test, body, message) in [
            (
                "envfile-gone",
                "    env_file: none.env\n",
                "none.env does not exist",
            ),
            (
                "envfile-nopath",
                "    env_file: [{required: false}]\n",
                "services.web.env_file.0: no path:",
            ),
            (
                "envfile-format",
                "    env_file: [{path: a.env, format: toml}]\n",
                "unknown format \"toml\"",
            ),
            (
                "envfile-nested",
                "    env_file: [[a.env]]\n",
                "must be a path or a mapping with path:",
            ),
        ] {
            let e = step(test, body).unwrap_err();
            assert!(e.contains(message), "{test}: {e}");
        }
    }
}

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

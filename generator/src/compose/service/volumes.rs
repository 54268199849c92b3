//! Storage: `volumes` (named, bind, tmpfs, anonymous), and the files `secrets` and `configs`
//! mount.

use super::{Ctx, Service};
use crate::compose::anonymous;
use crate::compose::check::{check_keys, flag, string_list, text, Fail};
use crate::compose::resources::{self, Resource};
use crate::compose::unit::Q;
use crate::compose::values;
use crate::compose::yaml::{Node, Value};

pub fn volumes(q: &mut Q, s: &Service, v: &Node, path: &str) -> Result<(), String> {
    let p = q.p;
    let items = v
        .as_seq()
        .ok_or_else(|| Fail::at(p, v, path, "must be a list").plain())?;
    for (i, item) in items.iter().enumerate() {
        let ip = format!("{path}.{i}");
        // (type, source, target, options, create host path)
        let (kind, source, target, opts, create) = match &item.value {
            Value::Scalar { text, .. } => {
                let parts: Vec<&str> = text.split(':').collect();
                let (src, tgt, mode) = match parts.as_slice() {
                    [t] => ("", *t, ""),
                    [s, t] => (*s, *t, ""),
                    [s, t, m] => (*s, *t, *m),
                    _ => {
                        return Err(Fail::at(
                            p,
                            item,
                            &ip,
                            format!("\"{text}\" is not [SOURCE:]TARGET[:MODE]"),
                        )
                        .plain())
                    }
                };
                let kind = if src.is_empty() {
                    "volume"
                } else if src.starts_with(['/', '.', '~']) {
                    "bind"
                } else {
                    "volume"
                };
                let opts: Vec<String> = mode
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .collect();
                (
                    kind.to_string(),
                    src.to_string(),
                    tgt.to_string(),
                    opts,
                    kind == "bind",
                )
            }
            Value::Map(_) => {
                check_keys(
                    p,
                    item,
                    &ip,
                    &[
                        "type",
                        "source",
                        "target",
                        "read_only",
                        "bind",
                        "volume",
                        "tmpfs",
                        "consistency",
                    ],
                    &["image"],
                )?;
                let get = |k: &str| item.get(k).and_then(Node::as_str).unwrap_or("").to_string();
                let kind = get("type");
                let mut opts = Vec::new();
                let mut create = false;
                if let Some(ro) = item.get("read_only") {
                    if flag(p, ro, &format!("{ip}.read_only"))? {
                        opts.push("ro".to_string());
                    }
                }
                if let Some(c) = item.get("consistency") {
                    q.warn(c, &format!("{ip}.consistency"), "has no effect on Linux");
                }
                if let Some(b) = item.get("bind") {
                    let bp = format!("{ip}.bind");
                    check_keys(
                        p,
                        b,
                        &bp,
                        &["propagation", "create_host_path", "selinux"],
                        &["recursive"],
                    )?;
                    if let Some(pr) = b.get("propagation") {
                        opts.push(text(p, pr, &format!("{bp}.propagation"))?.to_string());
                    }
                    if let Some(s) = b.get("selinux") {
                        opts.push(text(p, s, &format!("{bp}.selinux"))?.to_string());
                    }
                    if let Some(c) = b.get("create_host_path") {
                        create = flag(p, c, &format!("{bp}.create_host_path"))?;
                    }
                }
                if let Some(vo) = item.get("volume") {
                    let vp = format!("{ip}.volume");
                    check_keys(p, vo, &vp, &["nocopy"], &["subpath"])?;
                    if let Some(n) = vo.get("nocopy") {
                        if flag(p, n, &format!("{vp}.nocopy"))? {
                            opts.push("nocopy".to_string());
                        }
                    }
                }
                if let Some(t) = item.get("tmpfs") {
                    let tp = format!("{ip}.tmpfs");
                    check_keys(p, t, &tp, &["size", "mode"], &[])?;
                    if let Some(s) = t.get("size") {
                        let b = values::bytes(text(p, s, &format!("{tp}.size"))?)
                            .map_err(|e| Fail::at(p, s, &tp, e).plain())?;
                        opts.push(format!("size={b}"));
                    }
                    if let Some(m) = t.get("mode") {
                        opts.push(format!("mode={}", text(p, m, &format!("{tp}.mode"))?));
                    }
                }
                (kind, get("source"), get("target"), opts, create)
            }
            _ => return Err(Fail::at(p, item, &ip, "must be a string or a mapping").plain()),
        };
        if target.is_empty() {
            return Err(Fail::at(p, item, &ip, "no target").hint("the path inside the container"));
        }
        q.notes.mounted.push(crate::quadlet::clean_path(&target));
        match kind.as_str() {
            "tmpfs" => {
                let v = if opts.is_empty() {
                    target.clone()
                } else {
                    format!("{target}:{}", opts.join(","))
                };
                q.set_at("Container", "Tmpfs", &v, item)?;
                continue;
            }
            "bind" => {
                if source.is_empty() {
                    return Err(Fail::at(p, item, &ip, "a bind mount without source").plain());
                }
                let abs = resources::host_path(p, &source);
                if create {
                    let word = values::word(&abs).replacen("%%h", "%h", 1);
                    q.raw(
                        "Service",
                        "ExecStartPre",
                        &format!("-mkdir -p {word}"),
                        item,
                    );
                }
                let spec = join_volume(&abs, &target, &opts);
                let v = values::single(&spec).map_err(|e| Fail::at(p, item, &ip, e).plain())?;
                q.raw("Container", "Volume", &v.replacen("%%h", "%h", 1), item);
            }
            "volume" => {
                if source.is_empty() {
                    anonymous(q, s, item, &ip, &target, &opts)?;
                    continue;
                }
                let spec = match s.ctx.volumes.get(&source) {
                    Some(Resource::Unit(file)) => join_volume(file, &target, &opts),
                    Some(Resource::External(n)) => join_volume(n, &target, &opts),
                    None => {
                        let names: Vec<&str> = s.ctx.volumes.keys().map(String::as_str).collect();
                        let f = Fail::at(
                            p,
                            item,
                            &ip,
                            format!("refers to undefined volume \"{source}\""),
                        );
                        return Err(match crate::spell::closest(&source, &names) {
                            Some(s) => f.hint(format!("did you mean '{s}'? (a path starts with /, ./ or ~)")),
                            None => f.hint(format!("declare it under the top-level volumes: (volumes: {{{source}: }}), or write a path (./{source})")),
                        });
                    }
                };
                q.set_at("Container", "Volume", &spec, item)?;
            }
            other => {
                return Err(Fail::at(
                    p,
                    item,
                    &ip,
                    format!("volume type \"{other}\" is not supported"),
                )
                .hint("bind, volume or tmpfs"));
            }
        }
    }
    Ok(())
}

/// An anonymous volume (a target alone): named after the container and the path, so that
/// its data outlives the container, as Docker Compose keeps it (see `anonymous`).
fn anonymous(
    q: &mut Q,
    s: &Service,
    item: &Node,
    ip: &str,
    target: &str,
    opts: &[String],
) -> Result<(), String> {
    let p = q.p;
    if !target.starts_with('/') {
        return Err(
            Fail::at(p, item, ip, format!("\"{target}\" is not an absolute path")).hint(
                "an anonymous volume's target is the path inside the container (/var/lib/...)",
            ),
        );
    }
    let name = anonymous::name(&s.ctx.names.container_prefix(s.name), target);
    let v = values::single(&join_volume(&name, target, opts))
        .map_err(|e| Fail::at(p, item, ip, e).plain())?;
    // The replica's number (%i in a template) stays a specifier.
    q.raw("Container", "Volume", &v.replacen("%%i", "%i", 1), item);
    q.notes.anonymous.push(name);
    Ok(())
}

/// `tmpfs` → `Tmpfs=` (each a path, maybe with options after `:`).
pub fn tmpfs(q: &mut Q, _s: &Service, v: &Node, kp: &str) -> Result<(), String> {
    for (t, n) in string_list(q.p, v, kp)? {
        let target = t.split(':').next().unwrap_or_default();
        q.notes.mounted.push(crate::quadlet::clean_path(target));
        q.set_at("Container", "Tmpfs", t, n)?;
    }
    Ok(())
}

fn join_volume(source: &str, target: &str, opts: &[String]) -> String {
    let mut s = String::new();
    if !source.is_empty() {
        s.push_str(source);
        s.push(':');
    }
    s.push_str(target);
    if !opts.is_empty() {
        s.push(':');
        s.push_str(&opts.join(","));
    }
    s
}

/// `secrets` → the files they name mounted read-only at `/run/secrets/NAME` (or `target`).
pub fn secrets(q: &mut Q, s: &Service, v: &Node, kp: &str) -> Result<(), String> {
    mounts(q, s.ctx, false, v, kp)
}

/// `configs` → the files they name mounted read-only at `/NAME` (or `target`).
pub fn configs(q: &mut Q, s: &Service, v: &Node, kp: &str) -> Result<(), String> {
    mounts(q, s.ctx, true, v, kp)
}

fn mounts(q: &mut Q, ctx: &Ctx, configs: bool, v: &Node, path: &str) -> Result<(), String> {
    let p = q.p;
    let (table, dir) = if configs {
        (&ctx.configs, "/")
    } else {
        (&ctx.secrets, "/run/secrets/")
    };
    let items = v
        .as_seq()
        .ok_or_else(|| Fail::at(p, v, path, "must be a list").plain())?;
    for (i, item) in items.iter().enumerate() {
        let ip = format!("{path}.{i}");
        let (source, target) = match &item.value {
            Value::Scalar { text, .. } => (text.clone(), None),
            Value::Map(_) => {
                check_keys(
                    p,
                    item,
                    &ip,
                    &["source", "target", "uid", "gid", "mode"],
                    &[],
                )?;
                for k in ["uid", "gid", "mode"] {
                    if let Some(n) = item.get(k) {
                        // docker compose warns and mounts the file as it is.
                        q.warn(
                            n,
                            &format!("{ip}.{k}"),
                            "not applied: the file is mounted as it is, as docker compose does",
                        );
                    }
                }
                let s = item
                    .get("source")
                    .ok_or_else(|| Fail::at(p, item, &ip, "no source:").plain())?;
                let t = item
                    .get("target")
                    .map(|t| text(p, t, &format!("{ip}.target")))
                    .transpose()?;
                (
                    text(p, s, &format!("{ip}.source"))?.to_string(),
                    t.map(str::to_string),
                )
            }
            _ => return Err(Fail::at(p, item, &ip, "must be a name or a mapping").plain()),
        };
        let Some(m) = table.get(&source) else {
            let top = if configs { "configs" } else { "secrets" };
            return Err(Fail::at(
                p,
                item,
                &ip,
                format!("refers to undefined {} \"{source}\"", &top[..top.len() - 1]),
            )
            .hint(format!(
                "declare it under the top-level {top}: with file: PATH"
            )));
        };
        let target = match target {
            Some(t) if t.starts_with('/') => t,
            Some(t) => format!("{dir}{t}"),
            None => format!("{dir}{source}"),
        };
        q.notes.mounted.push(crate::quadlet::clean_path(&target));
        resources::mount_file(q, &ctx.steps, &source, m, &target, item, &ip)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::compose::testing::Project;

    /// What a service's `volumes:`, `tmpfs:`, `secrets:` and `configs:` mount, in the unit.
    fn mounts(test: &str, service: &str) -> (Vec<String>, Vec<String>, Vec<String>, String) {
        let p = Project::new(
            test,
            &format!("services:\n  web:\n    image: nginx\n{service}volumes:\n  named:\nsecrets:\n  s: {{file: ./s.txt}}\nconfigs:\n  c: {{file: ./c.txt}}\n"),
        );
        let u = p.service("web").unwrap();
        let all = |g: &str, k: &str| -> Vec<String> {
            u.lookup_all(g, k).iter().map(|v| v.to_string()).collect()
        };
        let dir = p.dir().display().to_string();
        (
            all("Container", "Volume"),
            all("Container", "Tmpfs"),
            all("Service", "ExecStartPre"),
            dir,
        )
    }

    fn error(test: &str, service: &str) -> String {
        Project::new(
            test,
            &format!("services:\n  web:\n    image: nginx\n{service}"),
        )
        .service("web")
        .unwrap_err()
    }

    /// The short syntax: a target alone (anonymous, named after the container), a named
    /// volume, a host path (created when missing, as Docker does) with its options.
    #[test]
    fn short_syntax() {
        let (v, _, pre, dir) = mounts(
            "volumes-short",
            "    volumes: [/data, 'named:/n', './host:/h:ro,z', '/abs:/a']\n",
        );
        assert_eq!(
            v,
            [
                "app-web-1_data:/data".to_string(),
                "app-named.volume:/n".to_string(),
                format!("{dir}/host:/h:ro,z"),
                "/abs:/a".to_string(),
            ]
        );
        assert!(pre.contains(&format!("-mkdir -p {dir}/host")), "{pre:?}");
        assert!(pre.contains(&"-mkdir -p /abs".to_string()), "{pre:?}");
        assert!(
            pre.iter()
                .any(|s| s.contains("compose volumes") && s.contains("--create app-web-1_data")),
            "{pre:?}"
        );
        let e = error("volumes-four", "    volumes: ['a:/b:ro:x']\n");
        assert!(
            e.contains("\"a:/b:ro:x\" is not [SOURCE:]TARGET[:MODE]"),
            "{e}"
        );
    }

    /// The long syntax: a bind mount is not created unless asked; tmpfs with its size.
    #[test]
    fn long_syntax() {
        let (v, t, pre, dir) = mounts(
            "volumes-long",
            "    volumes:\n      - {type: bind, source: ./b, target: /b, read_only: true}\n      - {type: volume, source: named, target: /n, volume: {nocopy: true}}\n      - {type: tmpfs, target: /t, tmpfs: {size: 1k}}\n      - {type: volume, target: /anon}\n",
        );
        assert_eq!(
            v,
            [
                format!("{dir}/b:/b:ro"),
                "app-named.volume:/n:nocopy".to_string(),
                "app-web-1_anon:/anon".to_string(),
            ]
        );
        assert_eq!(t, ["/t:size=1k"]);
        assert!(!pre.iter().any(|s| s.contains("mkdir")), "{pre:?}");
        let (v, _, pre, dir) = mounts(
            "volumes-create",
            "    volumes:\n      - {type: bind, source: ./c, target: /c, bind: {create_host_path: true}}\n",
        );
        assert_eq!(v, [format!("{dir}/c:/c")]);
        assert!(pre.contains(&format!("-mkdir -p {dir}/c")), "{pre:?}");
    }

    /// An anonymous volume's target must be a path in the container.
    #[test]
    fn an_anonymous_volume_needs_an_absolute_target() {
        let e = error(
            "volumes-relative",
            "    volumes:\n      - {type: volume, target: data}\n",
        );
        assert!(e.contains("\"data\" is not an absolute path"), "{e}");
    }

    #[test]
    fn tmpfs_key() {
        let (_, t, _, _) = mounts("volumes-tmpfs", "    tmpfs: [/run, '/cache:size=1m']\n");
        assert_eq!(t, ["/run", "/cache:size=1m"]);
    }

    /// Secrets under /run/secrets/, configs under /, a relative target below either, an
    /// absolute one where it says; an undefined one is an error.
    #[test]
    fn secrets_and_configs() {
        let (v, _, _, dir) = mounts(
            "volumes-secrets",
            "    secrets: [s, {source: s, target: /etc/s}, {source: s, target: rel}]\n    configs: [c, {source: c, target: conf}]\n",
        );
        assert_eq!(
            v,
            [
                format!("{dir}/s.txt:/run/secrets/s:ro"),
                format!("{dir}/s.txt:/etc/s:ro"),
                format!("{dir}/s.txt:/run/secrets/rel:ro"),
                format!("{dir}/c.txt:/c:ro"),
                format!("{dir}/c.txt:/conf:ro"),
            ]
        );
        let e = error("volumes-no-secret", "    secrets: [nope]\n");
        assert!(e.contains("refers to undefined secret \"nope\""), "{e}");
        let e = error("volumes-no-config", "    configs: [{source: nope}]\n");
        assert!(e.contains("refers to undefined config \"nope\""), "{e}");
    }
}

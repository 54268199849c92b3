//! Networking: `networks`/`network_mode` (which networks, aliases, addresses), `ports`,
//! `expose`, `extra_hosts`; and the service's name as an alias on every network, as
//! Compose's DNS gives it.

use super::{Ctx, Service};
use crate::compose::check::{check_keys, string_list, text, Fail};
use crate::compose::resources::Resource;
use crate::compose::unit::Q;
use crate::compose::values;
use crate::compose::yaml::{Node, Value};

pub fn networking(q: &mut Q, ctx: &Ctx, name: &str, node: &Node) -> Result<(), String> {
    let p = q.p;
    let path = format!("services.{name}");
    if let Some(mode) = node.get("network_mode") {
        let mp = format!("{path}.network_mode");
        if node.get("networks").is_some_and(|n| !n.is_null()) {
            return Err(
                Fail::at(p, mode, &mp, "network_mode and networks cannot be combined")
                    .hint("keep one"),
            );
        }
        let m = text(p, mode, &mp)?;
        let value = match m {
            "host" | "none" | "bridge" => m.to_string(),
            _ if m.starts_with("container:") => m.to_string(),
            _ => match m.strip_prefix("service:") {
                Some(other) if ctx.names.replicas.contains_key(other) => {
                    if ctx.names.is_template(other) {
                        return Err(Fail::at(
                            p,
                            mode,
                            &mp,
                            format!("{other} has several replicas: whose network?"),
                        )
                        .plain());
                    }
                    format!("{}-{other}.container", p.name)
                }
                Some(other) => {
                    return Err(
                        Fail::at(p, mode, &mp, format!("undefined service \"{other}\"")).plain(),
                    )
                }
                None => {
                    return Err(Fail::at(p, mode, &mp, format!("\"{m}\" is not supported"))
                        .hint("host, none, bridge, service:NAME or container:NAME"))
                }
            },
        };
        q.set_at("Container", "Network", &value, mode)?;
        return Ok(());
    }
    let nets: Vec<(String, Option<&Node>, &Node)> = match node.get("networks") {
        None => vec![("default".to_string(), None, node)],
        Some(n) if n.is_null() => vec![("default".to_string(), None, n)],
        Some(n) => match &n.value {
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .map(|(i, it)| {
                    text(p, it, &format!("{path}.networks.{i}")).map(|t| (t.to_string(), None, it))
                })
                .collect::<Result<_, _>>()?,
            Value::Map(m) => m
                .iter()
                .map(|(k, v)| (k.name.clone(), Some(v), v))
                .collect(),
            _ => {
                return Err(Fail::at(
                    p,
                    n,
                    &format!("{path}.networks"),
                    "must be a list or a mapping",
                )
                .plain())
            }
        },
    };
    for (net, opts, at) in nets {
        let np = format!("{path}.networks.{net}");
        let base = match ctx.networks.get(&net) {
            Some(Resource::Unit(f)) => f.clone(),
            Some(Resource::External(n)) => n.clone(),
            None => {
                let names: Vec<&str> = ctx.networks.keys().map(String::as_str).collect();
                let f = Fail::at(p, at, &np, format!("refers to undefined network \"{net}\""));
                return Err(match crate::spell::closest(&net, &names) {
                    Some(s) => f.hint(format!("did you mean '{s}'?")),
                    None => f.hint(format!(
                        "declare it under the top-level networks: (networks: {{{net}: }})"
                    )),
                });
            }
        };
        let mut o: Vec<String> = Vec::new();
        if let Some(opts) = opts.filter(|n| !n.is_null()) {
            check_keys(
                p,
                opts,
                &np,
                &[
                    "aliases",
                    "ipv4_address",
                    "ipv6_address",
                    "interface_name",
                    "mac_address",
                ],
                &["priority", "gw_priority", "link_local_ips", "driver_opts"],
            )?;
            if let Some(a) = opts.get("aliases") {
                for (s, _) in string_list(p, a, &format!("{np}.aliases"))? {
                    o.push(format!("alias={s}"));
                }
            }
            for (k, opt) in [
                ("ipv4_address", "ip"),
                ("ipv6_address", "ip6"),
                ("interface_name", "interface_name"),
                ("mac_address", "mac"),
            ] {
                if let Some(n) = opts.get(k) {
                    o.push(format!("{opt}={}", text(p, n, &format!("{np}.{k}"))?));
                }
            }
        }
        let value = if o.is_empty() {
            base
        } else {
            format!("{base}:{}", o.join(","))
        };
        q.set_at("Container", "Network", &value, at)?;
    }
    // Other services reach this one by its name, on every network (Compose's DNS alias),
    // and by the names their links: give it (on every network too: Podman's aliases are
    // the network's, not one container's view).
    q.raw("Container", "NetworkAlias", name, node);
    for alias in ctx
        .link_aliases
        .get(name)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        q.set_at("Container", "NetworkAlias", alias, node)?;
    }
    Ok(())
}

pub fn ports(q: &mut Q, _s: &Service, v: &Node, path: &str) -> Result<(), String> {
    let p = q.p;
    let items = v
        .as_seq()
        .ok_or_else(|| Fail::at(p, v, path, "must be a list").plain())?;
    for (i, item) in items.iter().enumerate() {
        let ip = format!("{path}.{i}");
        let publish = match &item.value {
            Value::Scalar { text, .. } => values::parse_port(text).map_err(|e| {
                Fail::at(p, item, &ip, e).hint("[[HOST_IP:][HOST_PORT]:]CONTAINER_PORT[/PROTOCOL]")
            })?,
            Value::Map(_) => {
                check_keys(
                    p,
                    item,
                    &ip,
                    &[
                        "target",
                        "published",
                        "host_ip",
                        "protocol",
                        "mode",
                        "name",
                        "app_protocol",
                    ],
                    &[],
                )?;
                let get = |k: &str| item.get(k).and_then(Node::as_str).unwrap_or("").to_string();
                for k in ["mode", "name", "app_protocol"] {
                    if let Some(n) = item.get(k) {
                        if !(k == "mode" && n.as_str() == Some("host")) {
                            q.warn(n, &format!("{ip}.{k}"), "has no effect with Podman");
                        }
                    }
                }
                let target = get("target");
                if target.is_empty() {
                    return Err(
                        Fail::at(p, item, &ip, "no target:").hint("target: is the container port")
                    );
                }
                let mut spec = String::new();
                let host = get("host_ip");
                if !host.is_empty() {
                    spec.push_str(&if host.contains(':') {
                        format!("[{host}]:")
                    } else {
                        format!("{host}:")
                    });
                }
                let published = get("published");
                if !published.is_empty() || !host.is_empty() {
                    spec.push_str(&published);
                    spec.push(':');
                }
                spec.push_str(&target);
                let proto = get("protocol");
                if !proto.is_empty() {
                    spec.push('/');
                    spec.push_str(&proto);
                }
                values::parse_port(&spec).map_err(|e| Fail::at(p, item, &ip, e).plain())?
            }
            _ => return Err(Fail::at(p, item, &ip, "must be a string or a mapping").plain()),
        };
        q.set_at("Container", "PublishPort", &publish.to_publish(), item)?;
    }
    Ok(())
}

pub fn extra_hosts(q: &mut Q, _s: &Service, v: &Node, path: &str) -> Result<(), String> {
    let p = q.p;
    let mut pairs: Vec<(String, String, &Node)> = Vec::new();
    match &v.value {
        Value::Seq(items) => {
            for (i, it) in items.iter().enumerate() {
                let s = text(p, it, &format!("{path}.{i}"))?;
                let (h, ip) = s
                    .split_once('=')
                    .or_else(|| s.split_once(':'))
                    .ok_or_else(|| {
                        Fail::at(p, it, path, format!("\"{s}\" is not HOST=IP or HOST:IP")).plain()
                    })?;
                pairs.push((h.to_string(), ip.to_string(), it));
            }
        }
        Value::Map(m) => {
            for (k, val) in m {
                for (ip, n) in string_list(p, val, &format!("{path}.{}", k.name))? {
                    pairs.push((k.name.clone(), ip.to_string(), n));
                }
            }
        }
        _ => return Err(Fail::at(p, v, path, "must be a list or a mapping").plain()),
    }
    for (h, ip, n) in pairs {
        let ip = ip.trim_start_matches('[').trim_end_matches(']');
        q.set_at("Container", "AddHost", &format!("{h}:{ip}"), n)?;
    }
    Ok(())
}

/// `expose` → `ExposeHostPort=`.
pub fn expose(q: &mut Q, _s: &Service, v: &Node, kp: &str) -> Result<(), String> {
    let p = q.p;
    for (s, n) in string_list(p, v, kp)? {
        if values::parse_port(s).map(|p| p.published.is_empty()) != Ok(true) {
            return Err(
                Fail::at(p, n, kp, format!("\"{s}\" is not PORT[-PORT][/PROTOCOL]")).plain(),
            );
        }
        q.set_at("Container", "ExposeHostPort", s, n)?;
    }
    Ok(())
}

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

#[cfg(test)]
mod tests {
    use crate::compose::testing::{web, Project};
    use crate::unitfile::UnitFile;

    fn service(test: &str, body: &str) -> Result<UnitFile, String> {
        web(test, &format!("services:\n  web:\n    image: x\n{body}networks:\n  front:\n  ext: {{external: true, name: outside}}\n"))
    }

    fn all(u: &UnitFile, key: &str) -> Vec<String> {
        u.lookup_all("Container", key)
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    /// `networks:` as nothing (the default network), a list, a mapping with options.
    #[test]
    fn networks() {
        let nets = |test: &str, body: &str| all(&service(test, body).unwrap(), "Network");
        assert_eq!(nets("net-none", ""), ["app-default.network"]);
        assert_eq!(nets("net-null", "    networks:\n"), ["app-default.network"]);
        assert_eq!(
            nets("net-list", "    networks: [front, ext]\n"),
            ["app-front.network", "outside"]
        );
        assert_eq!(
            nets(
                "net-map",
                "    networks:\n      front:\n        aliases: [a, b]\n        ipv4_address: 10.0.0.2\n        mac_address: 02:42:ac:11:00:02\n      ext:\n"
            ),
            [
                "app-front.network:alias=a,alias=b,ip=10.0.0.2,mac=02:42:ac:11:00:02",
                "outside"
            ]
        );
        for (test, body, message) in [
            (
                "net-undefined",
                "    networks: [fron]\n",
                "refers to undefined network \"fron\"\n  hint: did you mean 'front'?",
            ),
            (
                "net-scalar",
                "    networks: front\n",
                "services.web.networks: must be a list or a mapping",
            ),
            (
                "net-option",
                "    networks: {front: {ip: 1}}\n",
                "services.web.networks.front.ip",
            ),
        ] {
            let e = service(test, body).unwrap_err();
            assert!(e.contains(message), "{test}: {e}");
        }
        let u = service("net-alias", "").unwrap();
        assert_eq!(all(&u, "NetworkAlias"), ["web"]);
    }

    /// `network_mode:`: Podman's modes as they are, another service's container by its
    /// unit; never beside `networks:`.
    #[test]
    fn network_modes() {
        let mode = |test: &str, m: &str| {
            Project::new(
                test,
                &format!("services:\n  web:\n    image: x\n    network_mode: '{m}'\n  db:\n    image: x\n  many:\n    image: x\n    scale: 2\n"),
            )
            .service("web")
            .map(|u| all(&u, "Network"))
        };
        for m in ["host", "none", "bridge", "container:abc"] {
            assert_eq!(mode(&format!("mode-{}", m.len()), m).unwrap(), [m]);
        }
        assert_eq!(
            mode("mode-service", "service:db").unwrap(),
            ["app-db.container"]
        );
        for (m, message) in [
            ("service:nope", "undefined service \"nope\""),
            ("service:many", "many has several replicas: whose network?"),
            ("slirp4netns", "\"slirp4netns\" is not supported"),
        ] {
            let e = mode(&format!("mode-bad-{}", m.len()), m).unwrap_err();
            assert!(e.contains(message), "{m}: {e}");
        }
        let e = service(
            "mode-and-networks",
            "    network_mode: host\n    networks: [front]\n",
        )
        .unwrap_err();
        assert!(
            e.contains("network_mode and networks cannot be combined"),
            "{e}"
        );
        let u = service("mode-and-null", "    network_mode: host\n    networks:\n").unwrap();
        assert_eq!(all(&u, "Network"), ["host"]);
    }

    /// `ports:` short and long; what Podman has no use for is a warning.
    #[test]
    fn ports() {
        let p = Project::new(
            "ports",
            "services:\n  web:\n    image: x\n    ports:\n      - '8080:80'\n      - {target: 81}\n      - {target: 82, published: '8082', mode: host}\n      - {target: 83, host_ip: 127.0.0.1, protocol: udp, mode: ingress}\n      - {target: 84, host_ip: '::1', published: '8084', name: web}\n",
        );
        let (units, warnings) = p.translate();
        let u = units
            .into_iter()
            .find(|(n, _)| n == "app-web.container")
            .unwrap()
            .1
            .unwrap();
        assert_eq!(
            all(&u, "PublishPort"),
            [
                "8080:80",
                "81",
                "8082:82",
                "127.0.0.1::83/udp",
                "[::1]:8084:84"
            ]
        );
        let warned: Vec<&str> = warnings
            .iter()
            .filter_map(|w| w.split(": ").nth(1))
            .collect();
        assert_eq!(
            warned,
            ["services.web.ports.3.mode", "services.web.ports.4.name"],
            "{warnings:?}"
        );
        for (test, body, message) in [
            (
                "ports-scalar",
                "    ports: '80'\n",
                "services.web.ports: must be a list",
            ),
            (
                "ports-target",
                "    ports: [{published: 80}]\n",
                "services.web.ports.0: no target:",
            ),
            (
                "ports-bad",
                "    ports: ['x:y:z:w']\n",
                "services.web.ports.0:",
            ),
            (
                "ports-list",
                "    ports: [[80]]\n",
                "must be a string or a mapping",
            ),
        ] {
            let e = service(test, body).unwrap_err();
            assert!(e.contains(message), "{test}: {e}");
        }
    }

    /// `extra_hosts:` as a list (`=` or `:`) or a mapping; `expose:`.
    #[test]
    fn hosts_and_exposed_ports() {
        let u = service(
            "hosts",
            "    extra_hosts: ['a=1.2.3.4', 'b:5.6.7.8', 'c=[::1]']\n    expose: ['80', '9000-9001/udp']\n",
        )
        .unwrap();
        assert_eq!(all(&u, "AddHost"), ["a:1.2.3.4", "b:5.6.7.8", "c:::1"]);
        assert_eq!(all(&u, "ExposeHostPort"), ["80", "9000-9001/udp"]);
        let u = service(
            "hosts-map",
            "    extra_hosts: {a: 1.2.3.4, b: ['::1', 10.0.0.1]}\n",
        )
        .unwrap();
        assert_eq!(all(&u, "AddHost"), ["a:1.2.3.4", "b:::1", "b:10.0.0.1"]);
        for (test, body, message) in [
            (
                "hosts-bad",
                "    extra_hosts: [nohost]\n",
                "\"nohost\" is not HOST=IP or HOST:IP",
            ),
            (
                "hosts-scalar",
                "    extra_hosts: a=1\n",
                "must be a list or a mapping",
            ),
            (
                "expose-bad",
                "    expose: ['8080:80']\n",
                "\"8080:80\" is not PORT[-PORT][/PROTOCOL]",
            ),
        ] {
            let e = service(test, body).unwrap_err();
            assert!(e.contains(message), "{test}: {e}");
        }
    }
}

//! `compose.override.yaml` merged into `compose.yaml` by the rules of the Compose
//! specification (13-merge.md): mappings merge key by key, sequences append, except
//! `command`, `entrypoint` and `healthcheck.test` (replaced), and `ports`, `volumes`,
//! `secrets`, `configs` (an entry replaces the one with the same target); `!reset` removes a
//! value, `!override` replaces it whole. Attributes that may be written as a list or as a
//! mapping (`environment`, `labels`, ...) are merged in their mapping form, and a string
//! where a list may stand (`dns: 8.8.8.8`) as a one-entry list, as the specification says
//! ("merges apply to the expanded form").
//!
//! Every node keeps its file and line, so an error about a merged value names the file it
//! came from.

use super::yaml::{Key, Node, Value};

/// Merge `over` into `base` at `path` (dotted, e.g. `services.web.ports`).
pub fn merge(base: Node, over: Node, path: &str) -> Node {
    match over.tag.as_deref() {
        Some("override") => return untagged(over),
        Some("reset") => return Node::new(over.file, over.line, Value::Null),
        _ => {}
    }
    if is_replaced(path) {
        return over;
    }
    let (base, over) = if as_map_attribute(path) {
        (to_map(base), to_map(over))
    } else if as_list_attribute(path) {
        (to_list(base), to_list(over))
    } else if path.ends_with(".build") && path.starts_with("services.") {
        (build_to_map(base), build_to_map(over))
    } else {
        (base, over)
    };
    match (base.value, over.value) {
        (Value::Map(mut entries), Value::Map(over_entries)) => {
            for (key, value) in over_entries {
                let sub = if path.is_empty() {
                    key.name.clone()
                } else {
                    format!("{path}.{}", key.name)
                };
                let reset = value.tag.as_deref() == Some("reset");
                match entries.iter().position(|(k, _)| k.name == key.name) {
                    Some(_) if reset => {
                        entries.retain(|(k, _)| k.name != key.name);
                    }
                    Some(i) => {
                        let (k, old) = entries.remove(i);
                        let merged = merge(old, value, &sub);
                        entries.insert(
                            i,
                            (
                                Key {
                                    line: key.line,
                                    ..k
                                },
                                merged,
                            ),
                        );
                    }
                    None if reset => {}
                    None => entries.push((key, untagged(value))),
                }
            }
            Node {
                value: Value::Map(entries),
                ..base_meta(&base.file, base.line)
            }
        }
        (Value::Seq(mut items), Value::Seq(over_items)) => {
            let unique = unique_key_of(path);
            for item in over_items {
                let item = untagged(item);
                match unique.and_then(|f| f(&item).map(|k| (f, k))) {
                    Some((f, k)) => {
                        match items
                            .iter()
                            .position(|i| f(i).as_deref() == Some(k.as_str()))
                        {
                            Some(i) => items[i] = item,
                            None => items.push(item),
                        }
                    }
                    None => items.push(item),
                }
            }
            Node {
                value: Value::Seq(items),
                ..base_meta(&base.file, base.line)
            }
        }
        (_, value) => Node {
            file: over.file,
            line: over.line,
            tag: None,
            value,
        },
    }
}

fn base_meta(file: &usize, line: usize) -> Node {
    Node::new(*file, line, Value::Null)
}

fn untagged(mut n: Node) -> Node {
    if matches!(n.tag.as_deref(), Some("override")) {
        n.tag = None;
    }
    n
}

/// `services.NAME.ATTR` → `ATTR` (and `services.NAME.healthcheck.test` → `healthcheck.test`).
fn service_attribute(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("services.")?;
    let (_, attr) = rest.split_once('.')?;
    Some(attr)
}

fn is_replaced(path: &str) -> bool {
    matches!(
        service_attribute(path),
        Some("command" | "entrypoint" | "healthcheck.test")
    )
}

/// Attributes written as a list of `KEY=VALUE` (or names) or as a mapping.
fn as_map_attribute(path: &str) -> bool {
    matches!(
        service_attribute(path),
        Some(
            "environment"
                | "labels"
                | "annotations"
                | "sysctls"
                | "extra_hosts"
                | "networks"
                | "depends_on"
                | "build.args"
                | "build.labels"
        )
    )
}

/// Attributes written as a string or a list.
fn as_list_attribute(path: &str) -> bool {
    matches!(
        service_attribute(path),
        Some("dns" | "dns_search" | "tmpfs" | "env_file" | "expose")
    )
}

/// `[KEY=VALUE, NAME]` → `{KEY: VALUE, NAME: null}` (extra_hosts: `host:ip` too).
pub fn to_map(n: Node) -> Node {
    let Value::Seq(items) = n.value else {
        return n;
    };
    let mut entries: Vec<(Key, Node)> = Vec::with_capacity(items.len());
    for item in items {
        let (name, value) = match &item.value {
            Value::Scalar { text, .. } => match text.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (text.clone(), None),
            },
            _ => {
                // Not a list of strings: leave it for the translation to refuse, by line.
                return Node {
                    value: Value::Seq(vec![item]),
                    ..n
                };
            }
        };
        let value = match value {
            Some(v) => Node::new(
                item.file,
                item.line,
                Value::Scalar {
                    text: v,
                    plain: false,
                },
            ),
            None => Node::new(item.file, item.line, Value::Null),
        };
        entries.retain(|(k, _)| k.name != name);
        entries.push((
            Key {
                name,
                line: item.line,
            },
            value,
        ));
    }
    Node {
        value: Value::Map(entries),
        ..n
    }
}

fn to_list(n: Node) -> Node {
    match n.value {
        Value::Scalar { .. } => Node {
            file: n.file,
            line: n.line,
            tag: None,
            value: Value::Seq(vec![n]),
        },
        _ => n,
    }
}

fn build_to_map(n: Node) -> Node {
    match n.value {
        Value::Scalar { .. } => {
            let key = Key {
                name: "context".into(),
                line: n.line,
            };
            Node {
                file: n.file,
                line: n.line,
                tag: None,
                value: Value::Map(vec![(key, n)]),
            }
        }
        _ => n,
    }
}

type UniqueKey = fn(&Node) -> Option<String>;

/// How entries of a unique-resource list are told apart (13-merge.md, "Unique resources").
fn unique_key_of(path: &str) -> Option<UniqueKey> {
    match service_attribute(path)? {
        "volumes" => Some(volume_target),
        "secrets" => Some(|n| mount_target(n, "/run/secrets/")),
        "configs" => Some(|n| mount_target(n, "/")),
        "ports" => Some(port_key),
        _ => None,
    }
}

fn volume_target(n: &Node) -> Option<String> {
    match &n.value {
        Value::Scalar { text, .. } => {
            let parts: Vec<&str> = text.split(':').collect();
            Some(match parts.len() {
                1 => parts[0].to_string(),
                _ => parts[1].to_string(),
            })
        }
        Value::Map(_) => n.get("target")?.as_str().map(str::to_string),
        _ => None,
    }
}

fn mount_target(n: &Node, dir: &str) -> Option<String> {
    let (source, target) = match &n.value {
        Value::Scalar { text, .. } => (text.as_str(), None),
        Value::Map(_) => (
            n.get("source")?.as_str()?,
            n.get("target").and_then(Node::as_str),
        ),
        _ => return None,
    };
    Some(match target {
        Some(t) if t.starts_with('/') => t.to_string(),
        Some(t) => format!("{dir}{t}"),
        None => format!("{dir}{source}"),
    })
}

/// `{ip, target, published, protocol}` of a port, short or long syntax.
fn port_key(n: &Node) -> Option<String> {
    match &n.value {
        Value::Scalar { text, .. } => {
            let p = super::values::parse_port(text).ok()?;
            Some(format!(
                "{}|{}|{}|{}",
                p.ip, p.target, p.published, p.protocol
            ))
        }
        Value::Map(_) => {
            let get = |k: &str| n.get(k).and_then(Node::as_str).unwrap_or("").to_string();
            let proto = match get("protocol") {
                p if p.is_empty() => "tcp".to_string(),
                p => p,
            };
            Some(format!(
                "{}|{}|{}|{}",
                get("host_ip"),
                get("target"),
                get("published"),
                proto
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::yaml::parse;
    use super::*;

    fn merged(base: &str, over: &str) -> Node {
        merge(parse(base, 0).unwrap(), parse(over, 1).unwrap(), "")
    }

    fn strings(n: &Node) -> Vec<String> {
        n.as_seq()
            .unwrap()
            .iter()
            .map(|i| i.as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn the_rules_of_the_specification() {
        let m = merged(
            "services:\n  foo:\n    key1: value1\n    key2: value2\n    dns: [1.1.1.1]\n    command: [echo, foo]\n    volumes: ['foo:/work', 'x:/x']\n    ports: ['8080:80']\n",
            "services:\n  foo:\n    key2: VALUE\n    key3: value3\n    dns: 8.8.8.8\n    command: [echo, bar]\n    volumes: ['bar:/work']\n    ports: ['8443:443', '8080:80']\n",
        );
        let foo = m.get("services").unwrap().get("foo").unwrap();
        assert_eq!(foo.get("key1").unwrap().as_str(), Some("value1"));
        assert_eq!(foo.get("key2").unwrap().as_str(), Some("VALUE"));
        assert_eq!(foo.get("key2").unwrap().file, 1);
        assert_eq!(foo.get("key3").unwrap().as_str(), Some("value3"));
        assert_eq!(strings(foo.get("dns").unwrap()), ["1.1.1.1", "8.8.8.8"]);
        assert_eq!(strings(foo.get("command").unwrap()), ["echo", "bar"]);
        assert_eq!(strings(foo.get("volumes").unwrap()), ["bar:/work", "x:/x"]);
        assert_eq!(strings(foo.get("ports").unwrap()), ["8080:80", "8443:443"]);
    }

    #[test]
    fn lists_and_mappings_merge_in_mapping_form() {
        let m = merged(
            "services:\n  a:\n    environment: [A=1, B=2]\n",
            "services:\n  a:\n    environment:\n      B: 3\n      C: 4\n",
        );
        let env = m
            .get("services")
            .unwrap()
            .get("a")
            .unwrap()
            .get("environment")
            .unwrap();
        let keys: Vec<(&str, Option<&str>)> = env
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.name.as_str(), v.as_str()))
            .collect();
        assert_eq!(keys, [("A", Some("1")), ("B", Some("3")), ("C", Some("4"))]);
    }

    #[test]
    fn reset_and_override() {
        let m = merged(
            "services:\n  app:\n    image: myapp\n    ports: ['8080:80']\n    environment:\n      FOO: BAR\n    dns: [1.1.1.1]\n",
            "services:\n  app:\n    ports: !reset []\n    environment:\n      FOO: !reset null\n    dns: !override [9.9.9.9]\n",
        );
        let app = m.get("services").unwrap().get("app").unwrap();
        assert!(app.get("ports").is_none());
        assert_eq!(app.get("environment").unwrap().as_map().unwrap().len(), 0);
        assert_eq!(strings(app.get("dns").unwrap()), ["9.9.9.9"]);
    }

    /// A value `!reset` where the merge takes it whole (an extended service, an included
    /// definition) is gone, whatever it holds; a key reset that the base lacks is not added.
    #[test]
    fn reset_whole_values_and_absent_keys() {
        let base = parse("x:\n  a: 1\n", 0).unwrap();
        let over = parse("x: !reset {b: 2}\n", 1).unwrap();
        let m = merge(
            base.get("x").unwrap().clone(),
            over.get("x").unwrap().clone(),
            "x",
        );
        assert!(m.is_null(), "{m:?}");
        assert_eq!((m.file, m.line), (1, 1));
        let m = merged(
            "services:\n  a:\n    image: x\n",
            "services:\n  a:\n    ports: !reset []\n    labels: !reset null\n",
        );
        let a = m.get("services").unwrap().get("a").unwrap();
        let keys: Vec<&str> = a
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.name.as_str())
            .collect();
        assert_eq!(keys, ["image"]);
    }

    /// A merged key is at the override's line (where the value now comes from), the mapping
    /// that holds it where the base has it.
    #[test]
    fn merged_keys_have_the_lines_of_their_values() {
        let base = parse("services:\n  a:\n    image: x\n    user: u\n", 2).unwrap();
        let over = parse("\n\nservices:\n  a:\n    user: v\n", 3).unwrap();
        let m = merge(base, over, "");
        let a = m.get("services").unwrap().get("a").unwrap();
        assert_eq!((a.file, a.line), (2, 3));
        let (key, value) = &a.as_map().unwrap()[1];
        assert_eq!((key.name.as_str(), key.line), ("user", 5));
        assert_eq!((value.file, value.line), (3, 5));
    }

    /// `build: DIR` merges as `build: {context: DIR}`.
    #[test]
    fn a_build_string_is_its_context() {
        let m = merged(
            "services:\n  a:\n    build: ./dir\n",
            "services:\n  a:\n    build: {dockerfile: other}\n",
        );
        let build = m
            .get("services")
            .unwrap()
            .get("a")
            .unwrap()
            .get("build")
            .unwrap();
        assert_eq!(build.get("context").unwrap().as_str(), Some("./dir"));
        assert_eq!(build.get("dockerfile").unwrap().as_str(), Some("other"));
    }

    /// Volumes, secrets and configs: an entry replaces the one mounted at the same target,
    /// whatever the syntax (a target alone, SOURCE:TARGET, a mapping, a relative target).
    #[test]
    fn mounts_replace_by_target() {
        let m = merged(
            "services:\n  a:\n    volumes: [/data, 'v:/v', '/keep']\n    secrets: [s, {source: t, target: /etc/t}, {source: u, target: u2}]\n    configs: [c, {source: d, target: d2}]\n",
            "services:\n  a:\n    volumes: ['x:/data', {type: volume, source: w, target: /v}, /new]\n    secrets: [{source: s2, target: s}, {source: t2, target: /etc/t}, {source: u3, target: /run/secrets/u2}, v]\n    configs: [{source: c2, target: /c}, {source: d3, target: /d2}, {source: e, target: e2}]\n",
        );
        let a = m.get("services").unwrap().get("a").unwrap();
        let sources = |key: &str| -> Vec<String> {
            a.get(key)
                .unwrap()
                .as_seq()
                .unwrap()
                .iter()
                .map(|n| match n.as_str() {
                    Some(s) => s.to_string(),
                    None => n.get("source").unwrap().as_str().unwrap().to_string(),
                })
                .collect()
        };
        assert_eq!(sources("volumes"), ["x:/data", "w", "/keep", "/new"]);
        assert_eq!(sources("secrets"), ["s2", "t2", "u3", "v"]);
        assert_eq!(sources("configs"), ["c2", "d3", "e"]);
    }

    /// A port in the long syntax without a protocol is TCP's, as in the short syntax; with
    /// one, it is told apart by it.
    #[test]
    fn ports_replace_by_address_and_protocol() {
        let m = merged(
            "services:\n  a:\n    ports: ['8080:80', '53:53/udp']\n",
            "services:\n  a:\n    ports:\n      - {target: 80, published: '8080'}\n      - {target: 53, published: '53', protocol: tcp}\n      - {target: 53, published: '53', protocol: udp}\n",
        );
        let ports = m
            .get("services")
            .unwrap()
            .get("a")
            .unwrap()
            .get("ports")
            .unwrap();
        let shown: Vec<String> = ports
            .as_seq()
            .unwrap()
            .iter()
            .map(|n| match n.as_str() {
                Some(s) => s.to_string(),
                None => format!(
                    "{}/{}",
                    n.get("target").unwrap().as_str().unwrap(),
                    n.get("protocol").and_then(Node::as_str).unwrap_or("-")
                ),
            })
            .collect();
        assert_eq!(shown, ["80/-", "53/udp", "53/tcp"]);
    }
}

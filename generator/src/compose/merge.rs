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
}

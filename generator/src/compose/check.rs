//! What every translation step of a project shares: errors that name `file:line` and the key
//! ([`Fail`]), the check of a mapping's keys against what is translated ([`check_keys`]), and
//! the readers of the value shapes Compose allows (booleans, strings, string lists).

use std::fmt::Display;

use super::yaml::{Node, Value};
use super::Project;

/// An error about a node: `file:line: path: message`, and a hint.
pub struct Fail(String);

impl Fail {
    pub fn at(p: &Project, node: &Node, path: &str, msg: impl Display) -> Fail {
        Fail(format!("{}: {path}: {msg}", p.at(node)))
    }

    pub fn at_line(p: &Project, file: usize, line: usize, path: &str, msg: impl Display) -> Fail {
        Fail(format!("{}: {path}: {msg}", p.at_line(file, line)))
    }

    pub fn hint(self, hint: impl Display) -> String {
        format!("{}\n  hint: {hint}", self.0)
    }

    pub fn plain(self) -> String {
        self.0
    }
}

/// Refuse keys of `node` (a mapping) that are not in `supported`: `unsupported` ones as not
/// translated by unitsmith, others as unknown (with a did-you-mean). `x-` keys are
/// extensions, which the specification says to ignore.
pub fn check_keys(
    p: &Project,
    node: &Node,
    path: &str,
    supported: &[&str],
    unsupported: &[&str],
) -> Result<(), String> {
    let Some(map) = node.as_map() else {
        if node.is_null() {
            return Ok(());
        }
        return Err(Fail::at(
            p,
            node,
            path,
            format!("must be a mapping, not {}", node.kind()),
        )
        .plain());
    };
    for (k, _) in map {
        if k.name.starts_with("x-") || supported.contains(&k.name.as_str()) {
            continue;
        }
        let at = Fail::at_line(
            p,
            file_of(node, &k.name),
            k.line,
            &format!("{path}.{}", k.name),
            "",
        );
        if unsupported.contains(&k.name.as_str()) {
            let f = Fail(at.0.trim_end_matches(": ").to_string() + ": not supported by unitsmith");
            return Err(if path.starts_with("services.") {
                f.hint("remove it, or run this service from a Quadlet .container file (PodmanArgs= takes any podman run flag); man 5 unitsmith.compose lists what is supported")
            } else {
                f.hint("remove it; man 5 unitsmith.compose lists what is supported")
            });
        }
        let all: Vec<&str> = supported.iter().chain(unsupported).copied().collect();
        let f = Fail(at.0.trim_end_matches(": ").to_string() + ": unknown key");
        return Err(match crate::spell::closest(&k.name, &all) {
            Some(s) => f.hint(format!("did you mean '{s}'?")),
            None => f.hint("see man 5 unitsmith.compose for the keys of the Compose specification that are supported"),
        });
    }
    Ok(())
}

/// The file a key of a mapping came from (the override file may have added it).
fn file_of(node: &Node, key: &str) -> usize {
    node.get(key).map_or(node.file, |v| v.file)
}

/// A boolean: `true`/`false` (any case), quoted or not.
pub fn flag(p: &Project, node: &Node, path: &str) -> Result<bool, String> {
    match node.as_str().map(str::to_ascii_lowercase).as_deref() {
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        _ => Err(Fail::at(
            p,
            node,
            path,
            format!("must be true or false, not {}", shown(node)),
        )
        .hint("YAML 1.2 booleans are true and false (yes/no are strings)")),
    }
}

/// A node as an error message shows it: a string quoted, anything else by its kind.
pub fn shown(node: &Node) -> String {
    match node.as_str() {
        Some(s) => format!("\"{s}\""),
        None => node.kind().to_string(),
    }
}

pub fn text<'n>(p: &Project, node: &'n Node, path: &str) -> Result<&'n str, String> {
    node.as_str().ok_or_else(|| {
        Fail::at(
            p,
            node,
            path,
            format!("must be a string, not {}", node.kind()),
        )
        .plain()
    })
}

/// A string or a list of strings, as a list (each with its node).
pub fn string_list<'n>(
    p: &Project,
    node: &'n Node,
    path: &str,
) -> Result<Vec<(&'n str, &'n Node)>, String> {
    match &node.value {
        Value::Scalar { text, .. } => Ok(vec![(text.as_str(), node)]),
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .map(|(i, n)| text(p, n, &format!("{path}.{i}")).map(|t| (t, n)))
            .collect(),
        Value::Null => Ok(Vec::new()),
        Value::Map(_) => {
            Err(Fail::at(p, node, path, "must be a string or a list of strings").plain())
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::compose::testing::{web, Project};

    /// The unit `name` (`app-n.network`) of a project, or its error.
    fn unit(p: &Project, name: &str) -> Result<crate::unitfile::UnitFile, String> {
        p.translate()
            .0
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no unit {name}"))
            .1
    }

    /// The error of network `n` of a project whose `networks.n` is `network`.
    fn network_error(test: &str, network: &str) -> String {
        let p = Project::new(
            test,
            &format!("services:\n  web:\n    image: nginx\n    networks: [n]\nnetworks:\n  n:{network}\n"),
        );
        unit(&p, "app-n.network").unwrap_err()
    }

    /// A key nobody knows names its line and the nearest key; an `x-` key is an extension.
    #[test]
    fn unknown_keys() {
        let p = Project::new(
            "check-unknown",
            "services:\n  web:\n    image: nginx\n    imagee: x\n",
        );
        let e = p.service("web").unwrap_err();
        let dir = p.dir().display().to_string();
        assert_eq!(
            e,
            format!("{dir}/compose.yaml:4: services.web.imagee: unknown key\n  hint: did you mean 'image'?")
        );
        let e = web(
            "check-far",
            "services:\n  web:\n    image: nginx\n    zzzzzzzz: x\n",
        )
        .unwrap_err();
        assert!(
            e.ends_with("services.web.zzzzzzzz: unknown key\n  hint: see man 5 unitsmith.compose for the keys of the Compose specification that are supported"),
            "{e}"
        );
        let u = web(
            "check-x",
            "services:\n  web:\n    x-mine: 1\n    image: nginx\n",
        )
        .unwrap();
        assert_eq!(
            u.lookup_all("Container", "Image"),
            ["docker.io/library/nginx"]
        );
    }

    /// A key of the specification that is not translated: in a service, the hint names a
    /// Quadlet file as the way; elsewhere, only the removal.
    #[test]
    fn unsupported_keys() {
        let e = web(
            "check-unsup",
            "services:\n  web:\n    image: nginx\n    cpuset: 0-1\n",
        )
        .unwrap_err();
        assert!(
            e.ends_with(":4: services.web.cpuset: not supported by unitsmith\n  hint: remove it, or run this service from a Quadlet .container file (PodmanArgs= takes any podman run flag); man 5 unitsmith.compose lists what is supported"),
            "{e}"
        );
        let e = network_error("check-unsup-net", "\n    enable_ipv4: true");
        assert!(
            e.ends_with(":7: networks.n.enable_ipv4: not supported by unitsmith\n  hint: remove it; man 5 unitsmith.compose lists what is supported"),
            "{e}"
        );
        let e = network_error("check-not-map", " [1]");
        assert!(
            e.ends_with(":6: networks.n: must be a mapping, not a list"),
            "{e}"
        );
    }

    /// A key the override file adds is found in that file, one of the main file in it.
    #[test]
    fn a_keys_file() {
        let p = Project::new(
            "check-override",
            "services:\n  web:\n    image: nginx\n    bad1: x\n",
        );
        p.file("compose.override.yaml", "services:\n  web:\n    bad2: y\n");
        let e = p.service("web").unwrap_err();
        assert!(
            e.contains("/compose.yaml:4: services.web.bad1: unknown key"),
            "{e}"
        );
        p.file("compose.yaml", "services:\n  web:\n    image: nginx\n");
        let e = p.service("web").unwrap_err();
        assert!(
            e.contains("/compose.override.yaml:3: services.web.bad2: unknown key"),
            "{e}"
        );
    }

    /// Booleans: true and false in any case, quoted or not; anything else is named.
    #[test]
    fn booleans() {
        for (value, internal) in [
            ("true", vec!["yes"]),
            ("TRUE", vec!["yes"]),
            ("'True'", vec!["yes"]),
            ("false", vec![]),
            ("False", vec![]),
        ] {
            let p = Project::new(
                "check-flag",
                &format!("services:\n  web:\n    image: nginx\n    networks: [n]\nnetworks:\n  n:\n    internal: {value}\n"),
            );
            let u = unit(&p, "app-n.network").unwrap();
            assert_eq!(u.lookup_all("Network", "Internal"), internal, "{value}");
        }
        let e = network_error("check-yes", "\n    internal: yes");
        assert!(
            e.ends_with(":7: networks.n.internal: must be true or false, not \"yes\"\n  hint: YAML 1.2 booleans are true and false (yes/no are strings)"),
            "{e}"
        );
        let e = network_error("check-list", "\n    internal: [true]");
        assert!(e.contains("must be true or false, not a list\n"), "{e}");
    }

    /// A string or a list of strings (each item a string), nothing for null.
    #[test]
    fn strings_and_lists() {
        let args = |test: &str, value: &str| {
            web(
                test,
                &format!("services:\n  web:\n    image: nginx\n    security_opt:{value}\n"),
            )
            .map(|u| {
                u.lookup_all("Container", "PodmanArgs")
                    .iter()
                    .filter(|s| s.starts_with("--security-opt"))
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(
            args("check-one", " label=disable").unwrap(),
            ["--security-opt=label=disable"]
        );
        assert_eq!(
            args("check-two", " [label=disable, no-new-privileges]").unwrap(),
            [
                "--security-opt=label=disable",
                "--security-opt=no-new-privileges"
            ]
        );
        assert!(args("check-null", " ~").unwrap().is_empty());
        let e = args("check-item", " [a, [b]]").unwrap_err();
        assert!(
            e.ends_with(":4: services.web.security_opt.1: must be a string, not a list"),
            "{e}"
        );
        let e = args("check-map", " {a: b}").unwrap_err();
        assert!(
            e.ends_with(":4: services.web.security_opt: must be a string or a list of strings"),
            "{e}"
        );
    }
}

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

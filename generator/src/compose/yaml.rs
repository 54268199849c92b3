//! A Compose file as a tree of YAML nodes, each with the file and line it came from.
//!
//! The parser is `saphyr-parser` (the event parser of the saphyr project, the maintained
//! successor of yaml-rust2): every event carries its line and column, which is what lets every
//! error name `compose.yaml:LINE`. Why it and not the others (measured on this machine, a
//! release build of a 20-line program that parses a file, `lto = "thin"`):
//!
//! | crate | maintained | positions | build (2 cores) | binary |
//! |---|---|---|---|---|
//! | serde_yaml 0.9 | archived (2024) | errors only | — | — |
//! | serde_yaml_ng 0.10 | one maintainer, on unsafe-libyaml (C translated to unsafe Rust) | errors only: a value's line is lost after deserialising | +19.8 s | +254 KB |
//! | serde-saphyr 2.2 | yes | errors and `Spanned<T>` fields; serde derive, MSRV 1.89 | +74.8 s | +1.42 MB |
//! | yaml-rust2 0.13 | "basic maintenance only", new work goes to saphyr | events with a marker | +2.4 s | +224 KB |
//! | saphyr 0.3 (tree) | yes | `MarkedYaml` spans | +9.1 s | +231 KB |
//! | **saphyr-parser 0.3** | yes (saphyr project) | every event: line, column | +4.3 s | +137 KB |
//!
//! (`+` is over the same program without YAML; 4.3 s is mostly thiserror's proc macro, whose
//! syn the workspace builds anyway for clap and serde.) The tree built here is small, and it
//! has to be ours anyway: Compose reads merge keys (`<<: *base`, a YAML 1.1 feature that 1.2
//! loaders leave out), its own tags (`!reset`, `!override`), and refuses duplicate keys; and
//! an alias must not be able to expand a small file into millions of nodes at boot.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle};

/// At most this many nodes per file, aliases expanded (a "billion laughs" file is refused
/// long before it costs time or memory; real Compose files have a few hundred).
pub const MAX_NODES: usize = 100_000;
/// Nesting deeper than this is refused (Compose files nest to about 6).
pub const MAX_DEPTH: usize = 64;

/// One YAML node.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Index of the file it came from (in the project's list of files).
    pub file: usize,
    /// 1-based line of its first character.
    pub line: usize,
    /// Its tag's suffix when it has a local tag (`reset` for `!reset`).
    pub tag: Option<String>,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`, `~`, or nothing at all.
    Null,
    /// A scalar's text; `plain` when it was not quoted (only a plain scalar can be a number,
    /// a boolean or null).
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    /// Entries in file order; keys are scalars (Compose has no other keys).
    Map(Vec<(Key, Node)>),
}

/// A mapping key: its text and line.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub line: usize,
}

/// A parse failure at a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub line: usize,
    pub message: String,
}

impl Node {
    pub fn new(file: usize, line: usize, value: Value) -> Node {
        Node {
            file,
            line,
            tag: None,
            value,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The scalar's text (numbers and booleans as written); `None` for null and collections.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    /// What the node is, for messages ("a mapping", "a string").
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Scalar { .. } => "a scalar",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// Nodes in this subtree (itself included).
    fn size(&self) -> usize {
        1 + match &self.value {
            Value::Seq(s) => s.iter().map(Node::size).sum(),
            Value::Map(m) => m.iter().map(|(_, v)| 1 + v.size()).sum(),
            _ => 0,
        }
    }
}

/// A collection being built.
enum Open {
    Seq(Node, usize),
    /// The mapping, its anchor, and the key read but not yet given a value.
    Map(Node, usize, Option<Key>),
}

/// Parse one YAML document (an empty file is an empty mapping; a second document is refused,
/// as Compose refuses it).
pub fn parse(text: &str, file: usize) -> Result<Node, YamlError> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Open> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut root: Option<Node> = None;
    let mut nodes = 0usize;
    let mut documents = 0;
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|e| YamlError {
            line: e.marker().line(),
            message: format!("YAML syntax error: {}", e.info()),
        })?;
        let line = span.start.line();
        let done: Option<(Node, usize)> = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => None,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(YamlError {
                        line,
                        message: "a second YAML document (---) in one Compose file".into(),
                    });
                }
                None
            }
            Event::Alias(id) => {
                let Some(node) = anchors.get(&id) else {
                    return Err(YamlError {
                        line,
                        message: "alias to an unknown anchor".into(),
                    });
                };
                nodes += node.size();
                if nodes > MAX_NODES {
                    return Err(too_many(line));
                }
                let mut node = node.clone();
                node.line = line;
                Some((node, 0))
            }
            Event::Scalar(text, style, anchor, tag) => {
                nodes += 1;
                let plain = style == ScalarStyle::Plain;
                let value = if plain && matches!(&*text, "" | "~" | "null" | "Null" | "NULL") {
                    Value::Null
                } else {
                    Value::Scalar {
                        text: text.into_owned(),
                        plain,
                    }
                };
                let mut node = Node::new(file, line, value);
                node.tag = local_tag(tag.as_deref());
                Some((node, anchor))
            }
            Event::SequenceStart(anchor, tag) => {
                let mut node = Node::new(file, line, Value::Seq(Vec::new()));
                node.tag = local_tag(tag.as_deref());
                stack.push(Open::Seq(node, anchor));
                None
            }
            Event::MappingStart(anchor, tag) => {
                let mut node = Node::new(file, line, Value::Map(Vec::new()));
                node.tag = local_tag(tag.as_deref());
                stack.push(Open::Map(node, anchor, None));
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Open::Seq(node, anchor)) => Some((node, anchor)),
                _ => return Err(internal(line)),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Open::Map(mut node, anchor, None)) => {
                    apply_merge_keys(&mut node)?;
                    Some((node, anchor))
                }
                _ => return Err(internal(line)),
            },
        };
        if stack.len() > MAX_DEPTH {
            return Err(YamlError {
                line,
                message: format!("nested deeper than {MAX_DEPTH} levels"),
            });
        }
        let Some((node, anchor)) = done else {
            continue;
        };
        nodes += 1;
        if nodes > MAX_NODES {
            return Err(too_many(line));
        }
        if anchor != 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Open::Seq(seq, _)) => {
                if let Value::Seq(items) = &mut seq.value {
                    items.push(node);
                }
            }
            Some(Open::Map(map, _, pending)) => match pending.take() {
                None => {
                    let name = match (&node.value, &node.tag) {
                        (Value::Scalar { text, .. }, _) => text.clone(),
                        (Value::Null, None) if node.line > 0 => String::new(),
                        _ => {
                            return Err(YamlError {
                                line: node.line,
                                message: format!(
                                    "a mapping key must be a string, not {}",
                                    node.kind()
                                ),
                            })
                        }
                    };
                    if let Value::Map(entries) = &map.value {
                        if name != "<<" && entries.iter().any(|(k, _)| k.name == name) {
                            return Err(YamlError {
                                line: node.line,
                                message: format!("duplicate key \"{name}\" in one mapping"),
                            });
                        }
                    }
                    *pending = Some(Key {
                        name,
                        line: node.line,
                    });
                }
                Some(key) => {
                    if let Value::Map(entries) = &mut map.value {
                        entries.push((key, node));
                    }
                }
            },
        }
    }
    Ok(root.unwrap_or_else(|| Node::new(file, 1, Value::Map(Vec::new()))))
}

fn too_many(line: usize) -> YamlError {
    YamlError {
        line,
        message: format!(
            "more than {MAX_NODES} YAML nodes once aliases are expanded; not read (a file that expands like this is an attack or a mistake)"
        ),
    }
}

fn internal(line: usize) -> YamlError {
    YamlError {
        line,
        message: "YAML syntax error: unbalanced collection".into(),
    }
}

/// `!reset` → `reset`: the local tags Compose defines; other tags are kept for the caller to
/// refuse (`!!str` and the other core tags are left out: they only restate the type).
fn local_tag(tag: Option<&saphyr_parser::Tag>) -> Option<String> {
    let tag = tag?;
    if tag.is_yaml_core_schema() {
        return None;
    }
    Some(format!(
        "{}{}",
        tag.handle.trim_start_matches('!'),
        tag.suffix
    ))
}

/// `<<: *base` (or a list of them): the entries of the merged mappings that the mapping does
/// not set itself, earlier mappings of the list first (YAML 1.1's merge key, which Compose
/// reads).
fn apply_merge_keys(node: &mut Node) -> Result<(), YamlError> {
    let Value::Map(entries) = &mut node.value else {
        return Ok(());
    };
    if !entries.iter().any(|(k, _)| k.name == "<<") {
        return Ok(());
    }
    let mut own: Vec<(Key, Node)> = Vec::with_capacity(entries.len());
    let mut merged: Vec<(Key, Node)> = Vec::new();
    for (key, value) in std::mem::take(entries) {
        if key.name != "<<" {
            own.push((key, value));
            continue;
        }
        let sources: Vec<Node> = match value.value {
            Value::Map(_) => vec![value],
            Value::Seq(items) => items,
            _ => {
                return Err(YamlError {
                    line: key.line,
                    message: format!(
                        "merge key <<: must be a mapping or a list of mappings, not {}",
                        value.kind()
                    ),
                })
            }
        };
        for source in sources {
            let Value::Map(from) = source.value else {
                return Err(YamlError {
                    line: source.line,
                    message: "merge key <<: a list entry is not a mapping".into(),
                });
            };
            for (k, v) in from {
                if !merged.iter().any(|(m, _)| m.name == k.name) {
                    merged.push((k, v));
                }
            }
        }
    }
    for (k, v) in merged {
        if !own.iter().any(|(o, _)| o.name == k.name) {
            own.push((k, v));
        }
    }
    *entries = own;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map_keys(n: &Node) -> Vec<(&str, usize)> {
        n.as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| (k.name.as_str(), k.line))
            .collect()
    }

    #[test]
    fn lines_of_keys_and_values() {
        let n = parse(
            "services:\n  web:\n    image: x\n\n    ports:\n      - 80\n",
            0,
        )
        .unwrap();
        let web = n.get("services").unwrap().get("web").unwrap();
        assert_eq!(map_keys(web), vec![("image", 3), ("ports", 5)]);
        assert_eq!(web.get("ports").unwrap().as_seq().unwrap()[0].line, 6);
    }

    #[test]
    fn null_and_quoted_scalars() {
        let n = parse("a:\nb: ~\nc: 'null'\nd: \"\"\n", 0).unwrap();
        assert!(n.get("a").unwrap().is_null());
        assert!(n.get("b").unwrap().is_null());
        assert_eq!(n.get("c").unwrap().as_str(), Some("null"));
        assert_eq!(n.get("d").unwrap().as_str(), Some(""));
    }

    #[test]
    fn merge_keys_fill_in_what_is_not_set() {
        let text = "x-base: &base\n  image: a\n  restart: always\ns:\n  <<: *base\n  image: b\n";
        let n = parse(text, 0).unwrap();
        let s = n.get("s").unwrap();
        assert_eq!(s.get("image").unwrap().as_str(), Some("b"));
        assert_eq!(s.get("restart").unwrap().as_str(), Some("always"));
    }

    #[test]
    fn refuses_duplicates_bombs_and_second_documents() {
        assert_eq!(parse("a: 1\na: 2\n", 0).unwrap_err().line, 2);
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            bomb.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        assert!(parse(&bomb, 0).unwrap_err().message.contains("aliases"));
        assert!(parse("a: 1\n---\nb: 2\n", 0).is_err());
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(parse(&deep, 0).is_err());
    }

    #[test]
    fn tags_are_kept() {
        let n = parse("ports: !reset []\nb: !override\n  - 1\nc: !!str 5\n", 0).unwrap();
        assert_eq!(n.get("ports").unwrap().tag.as_deref(), Some("reset"));
        assert_eq!(n.get("b").unwrap().tag.as_deref(), Some("override"));
        assert_eq!(n.get("c").unwrap().tag, None);
    }

    /// Arbitrary bytes never panic the parser or the tree builder.
    #[test]
    fn random_input_never_panics() {
        let alphabet = b"ab: -[]{}&*!|>'\"#\n\n  ,?<<~%@`\t\\";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..3000 {
            let len = (seed % 60) as usize;
            let mut s = String::new();
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                s.push(alphabet[(seed % alphabet.len() as u64) as usize] as char);
            }
            let _ = parse(&s, 0);
        }
    }
}

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
//!
//! What it accepts is what docker compose's parser (go-yaml, a port of libyaml) accepts on
//! real files: a flow collection whose lines sit at or left of its key (`command: [` ... `]`),
//! which YAML 1.2 and saphyr refuse, is read as go-yaml reads it (see `yaml/flow_indent.rs`).
//! Merge keys and duplicate keys follow go-yaml too: only a plain `<<` merges, the mapping's
//! own keys win over merged ones and earlier merged mappings over later ones, and a key twice
//! in one mapping (`<<` included) is an error. `tests/yaml_corpus.rs` compares the trees of
//! every file of a corpus of real projects with libyaml's.
//!
//! Limits (an alias repeats what it names, so a small file can ask for a lot): at most
//! [`MAX_NODES`] nodes and [`MAX_TEXT_BYTES`] bytes of text once aliases are expanded, and
//! [`MAX_DEPTH`] levels of nesting. The error names the line where a limit was passed (for an
//! alias, the alias's line).

mod flow_indent;
mod lines;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, Tag};

use flow_indent::{Candidate, Span};

/// At most this many nodes (keys included) per file, aliases expanded: a "billion laughs"
/// file is refused long before it costs time or memory; the largest file of the corpus
/// (`tests/compose-corpus/`) has 4,307.
pub const MAX_NODES: usize = 100_000;
/// At most this many bytes of text (keys and scalars) per file, aliases expanded: four times
/// the largest file read (1 MiB); the largest of the corpus has 63 KB. Without it a 0.7 MB
/// file of long scalars aliased many times asks for tens of gigabytes.
pub const MAX_TEXT_BYTES: usize = 4 << 20;
/// Nesting deeper than this is refused (Compose files nest to about 6).
pub const MAX_DEPTH: usize = 64;
/// Bytes read by saphyr for one file, all readings together (each flow collection indented
/// as go-yaml allows costs one more reading; real files need at most 3).
const MAX_READ_BYTES: usize = 32 << 20;

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

    /// Bytes of text in this subtree: scalars and keys (what the file costs in memory once
    /// its aliases are expanded, apart from a fixed cost per node).
    pub fn text_bytes(&self) -> usize {
        match &self.value {
            Value::Null => 0,
            Value::Scalar { text, .. } => text.len(),
            Value::Seq(s) => s.iter().map(Node::text_bytes).sum(),
            Value::Map(m) => m.iter().map(|(k, v)| k.name.len() + v.text_bytes()).sum(),
        }
    }
}

/// Parse one YAML document (an empty file is an empty mapping; a second document is refused).
pub fn parse(text: &str, file: usize) -> Result<Node, YamlError> {
    let mut current = Cow::Borrowed(text);
    let mut moved: Vec<usize> = Vec::new();
    let mut first_error: Option<YamlError> = None;
    let mut read = 0;
    loop {
        read += current.len();
        let failure = match Builder::new(file, &current, !moved.is_empty()).read() {
            Ok(built) if flow_indent::all_inside(&current, &moved, &built.spans) => {
                return Ok(built.root)
            }
            // A moved line was not inside a flow collection after all: the file as written
            // is refused.
            Ok(_) => return Err(first_error.unwrap_or_else(|| internal(1))),
            Err(failure) => failure,
        };
        let error = failure.error;
        let retry = if read + current.len() <= MAX_READ_BYTES {
            flow_indent::indent_flow(&current, &failure.open, error.line)
        } else {
            None
        };
        let Some((indented, lines)) = retry else {
            return Err(error);
        };
        first_error.get_or_insert(error);
        moved.extend(lines);
        current = Cow::Owned(indented);
    }
}

/// Why a reading failed, and where a flow collection whose lines are indented as go-yaml
/// allows may have started: the collections open at that moment, outermost first, then where
/// the last event read ends (saphyr gives a flow collection after a block indicator, `- [`,
/// only once it has read to its end).
struct Failure {
    error: YamlError,
    open: Vec<Candidate>,
}

impl From<YamlError> for Failure {
    fn from(error: YamlError) -> Failure {
        Failure {
            error,
            open: Vec::new(),
        }
    }
}

/// A collection being built.
struct Open {
    node: Node,
    anchor: usize,
    start: Marker,
    /// Nodes and text bytes counted when it opened (what it holds is the difference at its end).
    counted: (usize, usize),
    /// Mappings: the key read but not yet given a value, the keys seen, the merge key's value.
    pending: Option<(Key, bool)>,
    keys: HashSet<String>,
    merge: Option<(Key, Node)>,
}

/// An anchored node, with what an alias to it adds to the counts.
struct Anchored {
    node: Node,
    nodes: usize,
    bytes: usize,
}

/// What a reading gives: the tree, and (when asked) where each collection started and ended.
struct Built {
    root: Node,
    spans: Vec<Span>,
}

/// Builds the tree from saphyr's events, counting nodes and text with aliases expanded.
struct Builder<'t> {
    file: usize,
    text: &'t str,
    /// Where its lines start, once needed.
    starts: Option<Vec<usize>>,
    stack: Vec<Open>,
    anchors: HashMap<usize, Anchored>,
    root: Option<Node>,
    nodes: usize,
    bytes: usize,
    documents: usize,
    spans: Option<Vec<Span>>,
    /// Where the last event read ends.
    last: Marker,
}

impl<'t> Builder<'t> {
    fn new(file: usize, text: &'t str, record_spans: bool) -> Builder<'t> {
        Builder {
            file,
            text,
            starts: None,
            stack: Vec::new(),
            anchors: HashMap::new(),
            root: None,
            nodes: 0,
            bytes: 0,
            documents: 0,
            spans: record_spans.then(Vec::new),
            last: Marker::new(0, 1, 0),
        }
    }

    /// The line of a block scalar's header (`|`, `>`), which is the line of the value (saphyr
    /// gives its first line of text): the first thing after the event `before` it.
    fn header_line(&mut self, before: Marker, text_line: usize) -> usize {
        let starts = self
            .starts
            .get_or_insert_with(|| lines::line_starts(self.text));
        let b = self.text.as_bytes();
        lines::byte_at(self.text, starts, before.line(), before.col())
            .and_then(|at| lines::node_start(b, at, true))
            .filter(|&i| matches!(b[i], b'|' | b'>'))
            .map_or(text_line, |i| lines::line_of(starts, i))
    }

    fn candidates(&self) -> Vec<Candidate> {
        let at = |m: &Marker, indicator| Candidate {
            line: m.line(),
            col: m.col(),
            indicator,
        };
        let mut c: Vec<Candidate> = self.stack.iter().map(|o| at(&o.start, false)).collect();
        c.push(at(&self.last, true));
        c
    }

    fn read(mut self) -> Result<Built, Failure> {
        let mut parser = Parser::new_from_str(self.text);
        while let Some(event) = parser.next_event() {
            let (event, span) = match event {
                Ok(e) => e,
                Err(e) => {
                    return Err(Failure {
                        error: YamlError {
                            line: e.marker().line(),
                            message: format!("YAML syntax error: {}", e.info()),
                        },
                        open: self.candidates(),
                    })
                }
            };
            let before = std::mem::replace(&mut self.last, span.end);
            self.event(event, span.start, before)?;
        }
        Ok(Built {
            root: self
                .root
                .unwrap_or_else(|| Node::new(self.file, 1, Value::Map(Vec::new()))),
            spans: self.spans.unwrap_or_default(),
        })
    }

    /// One event at `at`; `before`: where the event before it ended.
    fn event(&mut self, event: Event, at: Marker, before: Marker) -> Result<(), YamlError> {
        let line = at.line();
        match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => {}
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(YamlError {
                        line,
                        message: "a second YAML document (---) in one Compose file".into(),
                    });
                }
            }
            Event::Alias(id) => {
                let Some(&Anchored { nodes, bytes, .. }) = self.anchors.get(&id) else {
                    return Err(YamlError {
                        line,
                        message: "alias to an unknown anchor".into(),
                    });
                };
                // Counted before the copy is made: a copy over the limits is never made.
                self.count(nodes, bytes, line)?;
                let mut node = self.anchors[&id].node.clone();
                node.line = line;
                self.attach(node, false, line)?;
            }
            Event::Scalar(text, style, anchor, tag) => {
                let line = match style {
                    ScalarStyle::Literal | ScalarStyle::Folded => self.header_line(before, line),
                    _ => line,
                };
                self.count(1, text.len(), line)?;
                let plain = style == ScalarStyle::Plain;
                let merge_key = plain && text == "<<" && tag.as_deref().is_none_or(is_merge_tag);
                let null = plain
                    && !tag.as_deref().is_some_and(is_str_tag)
                    && matches!(&*text, "" | "~" | "null" | "Null" | "NULL");
                let value = if null {
                    Value::Null
                } else {
                    Value::Scalar {
                        text: text.into_owned(),
                        plain,
                    }
                };
                let mut node = Node::new(self.file, line, value);
                node.tag = local_tag(tag.as_deref());
                self.remember(anchor, &node, 1, node.text_bytes());
                self.attach(node, merge_key, line)?;
            }
            Event::SequenceStart(anchor, tag) => {
                self.open(Value::Seq(Vec::new()), anchor, tag, at)?
            }
            Event::MappingStart(anchor, tag) => {
                self.open(Value::Map(Vec::new()), anchor, tag, at)?
            }
            Event::SequenceEnd | Event::MappingEnd => self.close(at)?,
        }
        Ok(())
    }

    /// Count `nodes` and `bytes` more (at `line`), within the limits.
    fn count(&mut self, nodes: usize, bytes: usize, line: usize) -> Result<(), YamlError> {
        self.nodes += nodes;
        self.bytes += bytes;
        if self.nodes > MAX_NODES {
            return Err(YamlError {
                line,
                message: format!("more than {MAX_NODES} YAML nodes once aliases are expanded (passed here); not read (a file that expands like this is an attack or a mistake)"),
            });
        }
        if self.bytes > MAX_TEXT_BYTES {
            return Err(YamlError {
                line,
                message: format!("more than {} MiB of text once aliases are expanded (passed here); not read (a file that expands like this is an attack or a mistake)", MAX_TEXT_BYTES >> 20),
            });
        }
        Ok(())
    }

    fn open(
        &mut self,
        value: Value,
        anchor: usize,
        tag: Option<Cow<Tag>>,
        at: Marker,
    ) -> Result<(), YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError {
                line: at.line(),
                message: format!("nested deeper than {MAX_DEPTH} levels"),
            });
        }
        let mut node = Node::new(self.file, at.line(), value);
        node.tag = local_tag(tag.as_deref());
        self.stack.push(Open {
            node,
            anchor,
            start: at,
            counted: (self.nodes, self.bytes),
            pending: None,
            keys: HashSet::new(),
            merge: None,
        });
        Ok(())
    }

    fn close(&mut self, at: Marker) -> Result<(), YamlError> {
        let line = at.line();
        let Some(mut open) = self.stack.pop() else {
            return Err(internal(line));
        };
        if open.pending.is_some() {
            return Err(internal(line));
        }
        if let Some(spans) = &mut self.spans {
            spans.push(Span {
                start: (open.start.line(), open.start.col()),
                end: (at.line(), at.col()),
            });
        }
        if let Some((key, value)) = open.merge.take() {
            merge_into(&mut open.node, key, value)?;
        }
        let line = open.node.line;
        self.count(1, 0, line)?;
        let nodes = self.nodes - open.counted.0;
        let bytes = self.bytes - open.counted.1;
        self.remember(open.anchor, &open.node, nodes, bytes);
        self.attach(open.node, false, line)
    }

    fn remember(&mut self, anchor: usize, node: &Node, nodes: usize, bytes: usize) {
        if anchor != 0 {
            let node = node.clone();
            self.anchors.insert(anchor, Anchored { node, nodes, bytes });
        }
    }

    /// Put a finished node where it belongs: the root, a list's next item, a mapping's next
    /// key (`merge_key`: a plain `<<`) or the value of its pending key.
    fn attach(&mut self, node: Node, merge_key: bool, line: usize) -> Result<(), YamlError> {
        let Some(top) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        match &mut top.node.value {
            Value::Seq(items) => items.push(node),
            Value::Map(entries) => match top.pending.take() {
                None => {
                    let key = key_of(&node)?;
                    if !top.keys.insert(key.name.clone()) {
                        return Err(YamlError {
                            line: key.line,
                            message: format!("duplicate key \"{}\" in one mapping", key.name),
                        });
                    }
                    top.pending = Some((key, merge_key));
                }
                Some((key, true)) => top.merge = Some((key, node)),
                Some((key, false)) => entries.push((key, node)),
            },
            _ => return Err(internal(line)),
        }
        Ok(())
    }
}

/// A mapping key: a scalar's text (null is the empty name).
fn key_of(node: &Node) -> Result<Key, YamlError> {
    let name = match (&node.value, &node.tag) {
        (Value::Scalar { text, .. }, _) => text.clone(),
        (Value::Null, None) => String::new(),
        _ => {
            return Err(YamlError {
                line: node.line,
                message: format!("a mapping key must be a string, not {}", node.kind()),
            })
        }
    };
    Ok(Key {
        name,
        line: node.line,
    })
}

fn internal(line: usize) -> YamlError {
    YamlError {
        line,
        message: "YAML syntax error: unbalanced collection".into(),
    }
}

/// `!!str`: a plain `~` so tagged is the text `~`, not null.
fn is_str_tag(tag: &Tag) -> bool {
    tag.handle == "tag:yaml.org,2002:" && tag.suffix == "str"
}

/// `!`, the non-specific tag (saphyr gives it as the suffix `!` of an empty handle).
fn is_non_specific(tag: &Tag) -> bool {
    tag.handle.is_empty() && tag.suffix == "!"
}

/// go-yaml's merge key: `<<` untagged, tagged `!` or `!!merge`.
fn is_merge_tag(tag: &Tag) -> bool {
    is_non_specific(tag) || (tag.handle == "tag:yaml.org,2002:" && tag.suffix == "merge")
}

/// `!reset` → `reset`: the local tags Compose defines; other tags are kept for the caller to
/// refuse (`!!str` and the other core tags are left out: they only restate the type).
fn local_tag(tag: Option<&Tag>) -> Option<String> {
    let tag = tag?;
    if tag.is_yaml_core_schema() {
        return None;
    }
    if is_non_specific(tag) {
        return Some(String::new());
    }
    Some(format!(
        "{}{}",
        tag.handle.trim_start_matches('!'),
        tag.suffix
    ))
}

/// `<<: *base` (or a list of them): the entries of the merged mappings that the mapping does
/// not set itself, earlier mappings of the list first (YAML 1.1's merge key, which Compose
/// reads through go-yaml).
fn merge_into(node: &mut Node, key: Key, value: Node) -> Result<(), YamlError> {
    let Value::Map(entries) = &mut node.value else {
        return Err(internal(key.line));
    };
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
    let mut set: HashSet<String> = entries.iter().map(|(k, _)| k.name.clone()).collect();
    for source in sources {
        let Value::Map(from) = source.value else {
            return Err(YamlError {
                line: source.line,
                message: "merge key <<: a list entry is not a mapping".into(),
            });
        };
        for (k, v) in from {
            if set.insert(k.name.clone()) {
                entries.push((k, v));
            }
        }
    }
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
        // Six levels: 1.2 million nodes, a few hundred MB should the limit ever fail (the
        // tests of this file stay small whatever is broken: cargo-mutants breaks the limits).
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..6 {
            let p = i - 1;
            bomb.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = parse(&bomb, 0).unwrap_err();
        assert!(e.message.contains("100000 YAML nodes"), "{e:?}");
        // Passed at an alias of line 5 (a4: 10 × 11,111 nodes).
        assert_eq!(e.line, 5);
        let second = parse("a: 1\n---\nb: 2\n", 0).unwrap_err();
        assert_eq!(second.line, 2);
        assert!(second.message.contains("second YAML document"));
        let deep = "[".repeat(200) + &"]".repeat(200);
        let e = parse(&deep, 0).unwrap_err();
        assert!(e.message.contains("deeper than 64"), "{e:?}");
    }

    /// A bomb by bytes: a long scalar aliased many times, few nodes (issue 20 measured one of
    /// 0.7 MB asking for 40 GB: tests/yaml_bomb.rs runs that one through the generator under
    /// a memory limit; this one asks for 8 MB, so that it stays small should the limit fail).
    /// It is refused at the alias that passes the limit.
    #[test]
    fn aliases_are_counted_by_the_text_they_repeat() {
        let long = "x".repeat(40_000);
        let aliases = vec!["*a"; 200].join(",");
        let bomb = format!("x-a: &a \"{long}\"\nx-b:\n  - [{aliases}]\n");
        let e = parse(&bomb, 0).unwrap_err();
        assert!(e.message.contains("more than 4 MiB of text"), "{e:?}");
        assert_eq!(e.line, 3, "the line of the alias that passed the limit");
    }

    /// The limits are where they say: at MAX_TEXT_BYTES and MAX_NODES a file is read, one
    /// more and it is not.
    #[test]
    fn the_limits_are_exact() {
        // Keys and scalars count: "k" + the scalar + 3 aliases of it.
        let with_text = |n: usize| format!("k: &a {}\nl: [*a, *a, *a]\n", "y".repeat(n));
        let fits = (MAX_TEXT_BYTES - 2) / 4; // k, l and four copies
        assert!(parse(&with_text(fits), 0).is_ok());
        let e = parse(&with_text(fits + 1), 0).unwrap_err();
        assert!(e.message.contains("MiB of text"), "{e:?}");
        assert_eq!(e.line, 2);
        // Nodes: the mapping, its 2 keys, the list, and the list's items.
        let with_nodes = |n: usize| format!("k: &a x\nl: [{}]\n", vec!["*a"; n].join(","));
        assert!(parse(&with_nodes(MAX_NODES - 5), 0).is_ok());
        let e = parse(&with_nodes(MAX_NODES - 4), 0).unwrap_err();
        assert!(e.message.contains("YAML nodes"), "{e:?}");
    }

    /// An anchored collection counts what it holds once per alias, nested anchors included.
    #[test]
    fn anchored_collections_count_what_they_hold() {
        let n = parse("a: &a {k: vv, l: [w]}\nb: &b [*a, *a]\nc: *b\n", 0).unwrap();
        // a: k vv l w (5 bytes) ×5 in all (a, b twice, c twice), keys a b c.
        assert_eq!(n.text_bytes(), 5 * 5 + 3);
        let big = format!("a: &a [{}]\n", "x".repeat(MAX_TEXT_BYTES / 8));
        let aliases = format!("{big}b: [{}]\n", vec!["*a"; 8].join(","));
        assert!(parse(&aliases, 0).is_err());
    }

    /// A mapping of many keys is read, and merged: keys are looked up in a set, not compared
    /// with every earlier key (the 50,000 keys MAX_NODES allows would be 1.2 billion
    /// comparisons; no time is asserted: debug builds are slow anyway).
    #[test]
    fn many_keys_are_read_at_once() {
        let text: String = (0..20_000).map(|i| format!("k{i}: 1\n")).collect();
        let n = parse(&text, 0).unwrap();
        assert_eq!(n.as_map().unwrap().len(), 20_000);
        let merged = format!(
            "b: &b {{{}}}\nc:\n  <<: *b\n  k1: 2\n",
            (0..10_000)
                .map(|i| format!("k{i}: 1"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let n = parse(&merged, 0).unwrap();
        assert_eq!(n.get("c").unwrap().as_map().unwrap().len(), 10_000);
    }

    /// Merge keys as go-yaml reads them (see tests/yaml_corpus.rs for the comparison with
    /// libyaml): own keys win, earlier merged mappings win, only a plain `<<` merges, and `<<`
    /// twice is a duplicate key.
    #[test]
    fn merge_keys_as_go_yaml() {
        let n = parse(
            "a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nc:\n  x: 0\n  <<: [*a, *b]\n",
            0,
        )
        .unwrap();
        let c = n.get("c").unwrap();
        let got: Vec<(&str, &str)> = c
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.name.as_str(), v.as_str().unwrap()))
            .collect();
        assert_eq!(got, vec![("x", "0"), ("y", "1"), ("z", "2")]);
        let quoted = parse("a: &a {x: 1}\nc:\n  '<<': *a\n", 0).unwrap();
        assert!(quoted.get("c").unwrap().get("<<").is_some());
        let tagged = parse("a: &a {x: 1}\nc:\n  !!merge <<: *a\nd:\n  ! <<: *a\n", 0).unwrap();
        assert_eq!(
            tagged.get("c").unwrap().get("x").unwrap().as_str(),
            Some("1")
        );
        assert_eq!(
            tagged.get("d").unwrap().get("x").unwrap().as_str(),
            Some("1")
        );
        let str_tagged = parse("a: &a {x: 1}\nc:\n  !!str <<: *a\n", 0).unwrap();
        assert!(str_tagged.get("c").unwrap().get("<<").is_some());
        let twice = parse("a: &a {x: 1}\nc:\n  <<: *a\n  <<: *a\n", 0).unwrap_err();
        assert_eq!(twice.line, 4);
        assert!(twice.message.contains("duplicate key \"<<\""));
        for (bad, line) in [
            ("a: &a 1\nc:\n  <<: *a\n", 3),
            ("c:\n  <<: [{x: 1}, 2]\n", 2),
            ("c:\n  <<: ~\n", 2),
        ] {
            let e = parse(bad, 0).unwrap_err();
            assert_eq!(e.line, line, "{bad}: {e:?}");
            assert!(e.message.contains("merge key"), "{e:?}");
        }
    }

    /// Flow collections indented as go-yaml allows are read, with every line kept; what is
    /// not inside a flow collection is never moved.
    #[test]
    fn flow_collections_left_of_their_key() {
        let text = "s:\n  a:\n    command: [\n      \"start\",\n    ]\n    image: x\n  b:\n    test: {\n    k: v\n    }\n";
        let n = parse(text, 0).unwrap();
        let a = n.get("s").unwrap().get("a").unwrap();
        let cmd = a.get("command").unwrap();
        assert_eq!(cmd.line, 3);
        assert_eq!(cmd.as_seq().unwrap()[0].line, 4);
        assert_eq!(a.get("image").unwrap().line, 6);
        let test = n.get("s").unwrap().get("b").unwrap().get("test").unwrap();
        assert_eq!(test.get("k").unwrap().line, 9);
        // The error stays the file's own when the lines are not all in a flow collection.
        assert_eq!(parse("a: [\n1,\nb: 2\n", 0).unwrap_err().line, 4);
        assert_eq!(
            parse("a:\n  b: [\n  1\n  ]\n c: 1\n", 0).unwrap_err().line,
            5
        );
    }

    /// A block scalar's line is its header's (`key: |`), as go-yaml gives it.
    #[test]
    fn block_scalars_are_on_their_headers_line() {
        let n = parse(
            "a: |\n  x\nb:\n  - >-\n\n    y\nc: |\nd:\n  |\n  z\ne: |",
            0,
        )
        .unwrap();
        assert_eq!(n.get("a").unwrap().line, 1);
        assert_eq!(n.get("b").unwrap().as_seq().unwrap()[0].line, 4);
        assert_eq!(n.get("c").unwrap().line, 7);
        assert_eq!(n.get("d").unwrap().line, 9);
        assert_eq!(n.get("e").unwrap().line, 11);
    }

    #[test]
    fn tags_are_kept() {
        let n = parse("ports: !reset []\nb: !override\n  - 1\nc: !!str 5\n", 0).unwrap();
        assert_eq!(n.get("ports").unwrap().tag.as_deref(), Some("reset"));
        assert_eq!(n.get("b").unwrap().tag.as_deref(), Some("override"));
        assert_eq!(n.get("c").unwrap().tag, None);
    }

    /// What a node is, as messages name it.
    #[test]
    fn kinds() {
        let n = parse("a:\nb: x\nc: [x]\nd: {x: 1}\n", 0).unwrap();
        let kinds: Vec<&str> = n.as_map().unwrap().iter().map(|(_, v)| v.kind()).collect();
        assert_eq!(kinds, ["null", "a scalar", "a list", "a mapping"]);
        let e = parse("? [x]\n: 1\n", 0).unwrap_err();
        assert_eq!(e.message, "a mapping key must be a string, not a list");
        let e = parse("c:\n  <<: x\n", 0).unwrap_err();
        assert!(e.message.ends_with("not a scalar"), "{e:?}");
    }

    /// A null key is the empty name; a tagged null is no name.
    #[test]
    fn null_keys() {
        let n = parse("~: 1\n", 0).unwrap();
        assert_eq!(map_keys(&n), [("", 1)]);
        let e = parse("a: 1\n!t ~: 1\n", 0).unwrap_err();
        assert_eq!(
            (e.line, e.message.as_str()),
            (2, "a mapping key must be a string, not null")
        );
    }

    /// Only `!!str` makes a plain null a string; other tags leave it null. A verbatim tag
    /// (`!<x>`) is kept whole.
    #[test]
    fn tagged_nulls() {
        let n = parse(
            "a: !!str ~\nb: !!str null\nc: !reset\nd: !str ~\ne: !!int ~\nf: !<x> ~\n",
            0,
        )
        .unwrap();
        assert_eq!(n.get("a").unwrap().as_str(), Some("~"));
        assert_eq!(n.get("b").unwrap().as_str(), Some("null"));
        for k in ["c", "d", "e", "f"] {
            assert!(n.get(k).unwrap().is_null(), "{k}");
        }
        assert_eq!(n.get("c").unwrap().tag.as_deref(), Some("reset"));
        assert_eq!(n.get("d").unwrap().tag.as_deref(), Some("str"));
        assert_eq!(n.get("f").unwrap().tag.as_deref(), Some("x"));
    }

    /// Text is counted to the byte: exactly MAX_TEXT_BYTES is read, more is not.
    #[test]
    fn the_text_limit_is_exact() {
        // "ab" + "cd" + four copies of the scalar.
        let with_text = |n: usize| format!("ab: &a {}\ncd: [*a, *a, *a]\n", "y".repeat(n));
        let fits = MAX_TEXT_BYTES / 4 - 1;
        assert!(parse(&with_text(fits), 0).is_ok());
        let e = parse(&with_text(fits + 1), 0).unwrap_err();
        assert!(e.message.contains("MiB of text"), "{e:?}");
    }

    /// An alias of an anchored collection counts what the collection holds, not what the
    /// file held before it: many nodes and bytes before it cost nothing more per alias.
    #[test]
    fn an_anchored_collection_counts_only_itself() {
        let items = vec!["x"; MAX_NODES / 3].join(",");
        let text = format!("big: [{items}]\na: &a [1]\nb: [*a, *a, *a]\n");
        let n = parse(&text, 0).unwrap();
        assert_eq!(n.get("b").unwrap().as_seq().unwrap().len(), 3);
        let long = "y".repeat(MAX_TEXT_BYTES / 3);
        let text = format!("big: {long}\na: &a [1]\nb: [*a, *a, *a]\n");
        assert!(parse(&text, 0).is_ok());
    }

    /// All readings of a file together read at most MAX_READ_BYTES: a file that needs two
    /// more readings (two flow collections left of their keys, each moved 2 lines × 4
    /// spaces) is read when its three readings fit, and keeps its error when they do not.
    #[test]
    fn the_readings_are_bounded() {
        let head = "a: [\n1,\n]\nb: [\n2,\n]\n#";
        let file = |size: usize| format!("{head}{}\n", "x".repeat(size - head.len() - 1));
        // size + (size + 8) + (size + 8): the third reading is allowed when that fits.
        let fits = (MAX_READ_BYTES - 16) / 3;
        assert_eq!(file(fits).len(), fits);
        let n = parse(&file(fits), 0).unwrap();
        assert_eq!(n.get("b").unwrap().as_seq().unwrap()[0].as_str(), Some("2"));
        let e = parse(&file(fits + 1), 0).unwrap_err();
        assert_eq!(e.line, 5, "{e:?}");
        // A small file is read as often as it needs.
        let small = format!("{}{head}\n", "# a comment line\n".repeat(1000));
        assert!(parse(&small, 0).is_ok());
    }

    /// A flow mapping with a trailing comma and its `}` at its key's column, which go-yaml
    /// reads (saphyr ends such a mapping at its comma).
    #[test]
    fn a_trailing_comma_before_the_closing_brace() {
        let n = parse("x:\n  k: {\n  a: 1,\n  }\n  l: 2\n", 0).unwrap();
        let x = n.get("x").unwrap();
        assert_eq!(x.get("k").unwrap().get("a").unwrap().as_str(), Some("1"));
        assert_eq!(x.get("l").unwrap().line, 5);
        let n = parse("k: {\na: 1, # c\n\n}\n", 0).unwrap();
        assert_eq!(n.get("k").unwrap().get("a").unwrap().line, 2);
    }

    /// Inputs a fuzzer found that made the flow-indentation step index past the last line
    /// (saphyr placed their error beyond it): refused, never a panic.
    #[test]
    fn errors_past_the_last_line() {
        for text in [
            "[[:}",
            "? [&x ",
            "[...'*x",
            "{b         *x",
            "- [a\t\n  &x ",
        ] {
            assert!(parse(text, 0).is_err(), "{text:?}");
        }
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

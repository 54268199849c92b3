//! The Compose reader's YAML (`compose/yaml.rs`, on saphyr-parser) against a reference:
//! libyaml, as `libyaml-safer` (a safe Rust port of libyaml 0.2.5). docker compose reads
//! Compose files with go-yaml, itself a Go port of libyaml; what libyaml accepts and the tree it
//! gives are what go-yaml accepts and gives on these files, with the differences below.
//!
//! Every YAML file of `tests/compose-corpus/` (real projects) is read by both, and the trees
//! are compared as Compose sees them: each scalar's text, whether it is plain (only a plain
//! scalar can be a number, a boolean or null) and its local tag (`!reset`, `!override`);
//! mappings (key order aside: Compose's mappings have none) and sequences; aliases expanded;
//! merge keys (`<<:`) resolved as go-yaml resolves them; and the line of every node and key.
//! A second test does the same on small files written for the leniencies go-yaml allows
//! (flow collections indented less than their key, in every shape).
//!
//! Differences between libyaml and go-yaml known to matter here (none occurs in the corpus):
//! - go-yaml v3/v4 refuses a key twice in one mapping (`<<` included) when it decodes, as
//!   compose-go does; libyaml's parser does not look at keys: the reference below refuses
//!   them itself, as go-yaml does.
//! - Merge keys are not libyaml's (a parser): the reference applies go-yaml's rule (decode.go
//!   `merge`: the mapping's own keys win, then earlier merged mappings over later ones; only
//!   a plain `<<`, untagged, `!` or `!!merge`, merges).
//! - go-yaml's scanner differs from libyaml 0.2.5 in: `:` right after a flow-context plain
//!   scalar's text (`[a:b]`) and some tab placements, and in comments (which it keeps).
//!   Neither occurs in Compose files of the corpus.
//! - compose-go reads every document of a file (a second `---` merges over the first);
//!   unitsmith refuses a second document, and so does the reference here.
//!
//! Documents the reference refuses but go-yaml accepts are listed in [`REFERENCE_REFUSES`],
//! with why: none today.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use libyaml_safer::{EventData, Parser, ScalarStyle};
use unitsmith_generator::compose::yaml::{self, Node, Value};

/// Corpus files libyaml refuses although go-yaml reads them: (file, why).
const REFERENCE_REFUSES: &[(&str, &str)] = &[];

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/compose-corpus")
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let path = e.path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if matches!(
            path.extension().and_then(|x| x.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
}

/// A node as Compose sees it, flattened: one line per scalar, null and empty collection,
/// `PATH @LINE [!TAG] KIND`, keys with their own line; sorted (mappings have no order).
fn flatten(node: &Node, path: &str, out: &mut Vec<String>) {
    let tag = node
        .tag
        .as_ref()
        .map(|t| format!(" !{t}"))
        .unwrap_or_default();
    let at = format!("{path} @{}{tag}", node.line);
    match &node.value {
        Value::Null => out.push(format!("{at} null")),
        Value::Scalar { text, plain } => {
            let kind = if *plain { "plain" } else { "quoted" };
            out.push(format!("{at} {kind} {text:?}"));
        }
        Value::Seq(items) => {
            out.push(format!("{at} seq of {}", items.len()));
            for (i, item) in items.iter().enumerate() {
                flatten(item, &format!("{path}[{i}]"), out);
            }
        }
        Value::Map(entries) => {
            out.push(format!("{at} map of {}", entries.len()));
            for (k, v) in entries {
                let sub = format!("{path}.{:?}", k.name);
                out.push(format!("{sub} key @{}", k.line));
                flatten(v, &sub, out);
            }
        }
    }
}

fn ours(text: &str) -> Result<Vec<String>, String> {
    let node = yaml::parse(text, 0).map_err(|e| format!("{}: {}", e.line, e.message))?;
    let mut out = Vec::new();
    flatten(&node, "", &mut out);
    out.sort();
    Ok(out)
}

/// The reference: libyaml's events made into the same tree, with go-yaml's rules for what
/// libyaml leaves to the loader (null, tags, aliases, merge keys, duplicate keys).
mod reference {
    use super::*;

    const CORE: &str = "tag:yaml.org,2002:";

    struct Open {
        node: Node,
        anchor: Option<String>,
        /// Mappings: the key waiting for its value (and whether it is a merge key), the keys
        /// read, the merge key's value.
        key: Option<(yaml::Key, bool)>,
        seen: HashSet<String>,
        merge: Option<Node>,
    }

    fn local(tag: &Option<String>) -> Option<String> {
        match tag {
            Some(t) if !t.starts_with(CORE) => Some(t.trim_start_matches('!').to_string()),
            _ => None,
        }
    }

    fn err(line: u64, m: &str) -> String {
        format!("{}: {m}", line + 1)
    }

    /// go-yaml's merge (decode.go): own keys first, then each merged mapping's keys not yet
    /// set, in order.
    fn merge(map: &mut Node, with: Node) -> Result<(), String> {
        let sources = match with.value {
            Value::Map(_) => vec![with],
            Value::Seq(items) => items,
            _ => return Err("merge of a non-mapping".into()),
        };
        let Value::Map(entries) = &mut map.value else {
            unreachable!()
        };
        for s in sources {
            let Value::Map(from) = s.value else {
                return Err("merge of a non-mapping".into());
            };
            for (k, v) in from {
                if !entries.iter().any(|(e, _)| e.name == k.name) {
                    entries.push((k, v));
                }
            }
        }
        Ok(())
    }

    pub fn parse(text: &str) -> Result<Vec<String>, String> {
        let mut parser = Parser::new();
        let mut input: &[u8] = text.as_bytes();
        parser.set_input(&mut input);
        let mut stack: Vec<Open> = Vec::new();
        let mut anchors: HashMap<String, Node> = HashMap::new();
        let mut root: Option<Node> = None;
        let mut documents = 0;
        loop {
            let event = parser.parse().map_err(|e| e.to_string())?;
            let line = event.start_mark.line;
            let l = line as usize + 1;
            let is_map = matches!(event.data, EventData::MappingStart { .. });
            let (node, anchor, merge_key) = match event.data {
                EventData::StreamEnd => break,
                EventData::DocumentStart { .. } => {
                    documents += 1;
                    if documents > 1 {
                        return Err(err(line, "a second document"));
                    }
                    continue;
                }
                EventData::Alias { anchor } => {
                    let mut n = anchors
                        .get(&anchor)
                        .ok_or_else(|| err(line, "unknown anchor"))?
                        .clone();
                    n.line = l;
                    (n, None, false)
                }
                EventData::Scalar {
                    anchor,
                    tag,
                    value,
                    style,
                    ..
                } => {
                    let plain = style == ScalarStyle::Plain;
                    let merge_key = plain
                        && value == "<<"
                        && matches!(
                            tag.as_deref(),
                            None | Some("!") | Some("tag:yaml.org,2002:merge")
                        );
                    let is_null = plain
                        && tag.as_deref() != Some("tag:yaml.org,2002:str")
                        && matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL");
                    let mut n = Node::new(
                        0,
                        l,
                        if is_null {
                            Value::Null
                        } else {
                            Value::Scalar { text: value, plain }
                        },
                    );
                    n.tag = local(&tag);
                    (n, anchor, merge_key)
                }
                EventData::SequenceStart { anchor, tag, .. }
                | EventData::MappingStart { anchor, tag, .. } => {
                    let mut n = Node::new(
                        0,
                        l,
                        if is_map {
                            Value::Map(Vec::new())
                        } else {
                            Value::Seq(Vec::new())
                        },
                    );
                    n.tag = local(&tag);
                    stack.push(Open {
                        node: n,
                        anchor,
                        key: None,
                        seen: HashSet::new(),
                        merge: None,
                    });
                    continue;
                }
                EventData::SequenceEnd | EventData::MappingEnd => {
                    let mut open = stack.pop().unwrap();
                    if let Some(m) = open.merge.take() {
                        merge(&mut open.node, m).map_err(|e| err(line, &e))?;
                    }
                    (open.node, open.anchor, false)
                }
                _ => continue,
            };
            if let Some(a) = anchor {
                anchors.insert(a, node.clone());
            }
            match stack.last_mut() {
                None => root = Some(node),
                Some(top) => match (&mut top.node.value, top.key.take()) {
                    (Value::Seq(items), _) => items.push(node),
                    (Value::Map(_), None) => {
                        let name = match &node.value {
                            Value::Scalar { text, .. } => text.clone(),
                            Value::Null if node.tag.is_none() => String::new(),
                            _ => return Err(err(line, "a key that is not a string")),
                        };
                        if !top.seen.insert(name.clone()) {
                            return Err(err(line, &format!("duplicate key {name:?}")));
                        }
                        top.key = Some((
                            yaml::Key {
                                name,
                                line: node.line,
                            },
                            merge_key,
                        ));
                    }
                    (Value::Map(_), Some((_, true))) => top.merge = Some(node),
                    (Value::Map(entries), Some((key, false))) => entries.push((key, node)),
                    _ => unreachable!(),
                },
            }
        }
        let root = root.unwrap_or_else(|| Node::new(0, 1, Value::Map(Vec::new())));
        let mut out = Vec::new();
        flatten(&root, "", &mut out);
        out.sort();
        Ok(out)
    }
}

/// `Ok` when both read `text` to the same tree or both refuse it; else what differs.
fn compare(text: &str) -> Result<(), String> {
    match (ours(text), reference::parse(text)) {
        (Ok(a), Ok(b)) if a == b => Ok(()),
        (Ok(a), Ok(b)) => {
            let only_ours: Vec<_> = a.iter().filter(|l| !b.contains(l)).take(5).collect();
            let only_ref: Vec<_> = b.iter().filter(|l| !a.contains(l)).take(5).collect();
            Err(format!(
                "trees differ:\n  unitsmith only: {only_ours:#?}\n  libyaml only: {only_ref:#?}"
            ))
        }
        (Err(_), Err(_)) => Ok(()),
        (Err(e), Ok(_)) => Err(format!("unitsmith refuses what libyaml reads: {e}")),
        (Ok(_), Err(e)) => Err(format!("libyaml refuses what unitsmith reads: {e}")),
    }
}

#[test]
fn every_corpus_file_reads_as_libyaml_reads_it() {
    let mut files = Vec::new();
    yaml_files(&corpus(), &mut files);
    assert!(
        files.len() >= 90,
        "the corpus has {} YAML files: is tests/compose-corpus there?",
        files.len()
    );
    let mut failures = Vec::new();
    let mut read = 0;
    let (mut most_nodes, mut most_bytes) = (0, 0);
    for path in &files {
        let name = path.strip_prefix(corpus()).unwrap().display().to_string();
        let text = std::fs::read_to_string(path).unwrap();
        if let Some((_, why)) = REFERENCE_REFUSES.iter().find(|(f, _)| *f == name) {
            assert!(
                reference::parse(&text).is_err(),
                "{name}: listed as refused by libyaml ({why}), but it reads it"
            );
            assert!(ours(&text).is_ok(), "{name}: unitsmith refuses it");
            continue;
        }
        if let Ok(tree) = yaml::parse(&text, 0) {
            read += 1;
            let mut nodes = Vec::new();
            flatten(&tree, "", &mut nodes);
            most_nodes = most_nodes.max(nodes.len());
            most_bytes = most_bytes.max(tree.text_bytes());
        }
        if let Err(e) = compare(&text) {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(read, files.len(), "every corpus file is read");
    // The limits on expansion stay far above what real projects need (README cites these).
    println!("largest expanded file of the corpus: {most_nodes} nodes and keys, {most_bytes} bytes of text");
    assert!(most_nodes * 10 < yaml::MAX_NODES, "{most_nodes} nodes");
    assert!(most_bytes * 10 < yaml::MAX_TEXT_BYTES, "{most_bytes} bytes");
}

/// Small files written for what go-yaml reads and YAML 1.2 does not: flow collections whose
/// lines sit at or left of their key, in the shapes real files use and some they might.
#[test]
fn flow_collections_indented_as_go_yaml_allows() {
    let cases = [
        // otel-demo: the closing bracket at the key's column.
        "s:\n  a:\n    command: [\n      \"start\",\n      \"--uri\"\n    ]\n    ports:\n      - \"1\"\n",
        // sentry: items indented past, the bracket back at the key, a comment inside.
        "s:\n  h:\n    test: [\n        \"CMD-SHELL\",\n        # why\n        \"wget || exit 1\",\n    ]\n    interval: 30s\n",
        // wger: a mapping's lines at the key's column.
        "s:\n  db:\n    environment: {\n    A: 1,\n    B: \"x\"\n    }\n    image: p\n",
        // Lines left of the key, down to column 0.
        "a:\n  b: [\nx,\n  y\n]\n  c: 1\n",
        // Nested collections, quoted scalars over several lines, an empty line.
        "a:\n  b: [[1,\n  2], {k: 'v\n w'},\n\n  \"m\n n\"\n  ]\n",
        // An anchored flow collection, aliased and merged.
        "x: &x {\nimage: a,\nrestart: always\n}\ns:\n  w:\n    <<: *x\n    image: b\n  v: *x\n",
        // A tag on it, and a flow mapping in a list item.
        "a:\n  - !override [\n  1]\n  - {k:\n  v}\n",
        // Tabs before the lines.
        "a:\n  b: [\n\t1,\n \t2\n  ]\n",
        // Several collections, one after the other (three readings).
        "a:\n  b: [\n  1]\n  c: [\n  2]\n  d: {\n  e: 3}\n",
        // Brackets and quotes inside plain and quoted scalars.
        "a:\n  b: [it's,\n  \"]\", 'x''[',\n  c#d ]\n",
        // Not saphyr's to refuse, not go-yaml's either: a second key after a closed flow.
        "a: [\n1\n]\nb: 2\n",
    ];
    for text in cases {
        assert!(
            ours(text).is_ok(),
            "unitsmith refuses:\n{text}\n{:?}",
            ours(text)
        );
        compare(text).unwrap_or_else(|e| panic!("{text}\n{e}"));
    }
}

/// What both refuse stays refused (the leniency is only for flow collections' indentation),
/// with the line of the error.
#[test]
fn errors_stay_errors() {
    let cases = [
        ("a: [\n1,\nb: 2\n", 4),              // never closed
        ("a:\n  b: 1\n c: 2\n", 3),           // block indentation
        ("a: [1,\n---\n]\n", 2),              // a document marker inside a flow collection
        ("a: [\n  1 ]\na: 2\n", 3),           // a duplicate key after a moved line
        ("a: {\nb: 1,\nb: 2\n}\n", 3),        // a duplicate key inside it
        ("a: [\n  1,\n  ] ]\n", 3),           // an extra bracket
        ("a:\n  b: [\n  1\n  ]\n c: 1\n", 5), // an error after the moved lines
    ];
    for (text, line) in cases {
        let e = yaml::parse(text, 0).expect_err(text);
        assert_eq!(e.line, line, "{text}: {}", e.message);
        assert!(reference::parse(text).is_err(), "libyaml reads:\n{text}");
    }
}

/// Merge keys and duplicate keys as go-yaml reads them.
#[test]
fn merge_and_duplicate_keys_as_go_yaml() {
    let same = [
        // Own keys win wherever they are; earlier merged mappings win over later ones.
        "a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nc:\n  x: 0\n  <<: [*a, *b]\n  w: 0\n",
        // A quoted "<<" is a key like any other.
        "a: &a {x: 1}\nc:\n  \"<<\": *a\n",
        // !!merge and ! are merge keys too.
        "a: &a {x: 1}\nc:\n  !!merge <<: *a\nd:\n  ! <<: *a\n",
        // A merge of a merge.
        "a: &a {x: 1}\nb: &b {<<: *a, y: 2}\nc: {<<: *b, z: 3}\n",
    ];
    for text in same {
        compare(text).unwrap_or_else(|e| panic!("{text}\n{e}"));
    }
    let refused = [
        "a: &a {x: 1}\nc:\n  <<: *a\n  <<: *a\n", // << twice
        "a: 1\nc:\n  <<: [*a]\n",                 // unknown anchor
        "a: &a 1\nc:\n  <<: *a\n",                // a scalar merged
        "a: &a [1]\nc:\n  <<: [*a]\n",            // a list of a list
        "a: 1\n'a': 2\n",                         // the same key, quoted or not
    ];
    for text in refused {
        assert!(yaml::parse(text, 0).is_err(), "unitsmith reads:\n{text}");
        assert!(reference::parse(text).is_err(), "libyaml reads:\n{text}");
    }
}

/// Lines as go-yaml gives them where saphyr's events say otherwise: a block scalar is on its
/// header's line (`key: |`), wherever its text starts.
#[test]
fn block_scalars_on_the_line_of_their_header() {
    let cases = [
        "a: |\n  x\nb: >-\n  y\n",
        "a:\n  - |\n\n\n    x\n  - >+\n    y\n",
        "a:\n  |\n  x\n",
        "a: &x !t |2\n   x\nb: *x\n",
        "a: | # comment\n  x\n",
        "a: |\nb: |",
        "a: |\n\n\n",
        "- - |\n    x\n",
    ];
    for text in cases {
        compare(text).unwrap_or_else(|e| panic!("{text}\n{e}"));
    }
}

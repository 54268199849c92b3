//! `--json` for every command: serde structs, printed the one way here. A document is one
//! JSON object on one line of stdout whose first field is `"schema": SCHEMA`; its fields are
//! documented in the command's man page (JSON OUTPUT), and tests hold the two together.
//!
//! Paths are written with `Path::display` (lossy for names that are not UTF-8, as the text
//! output is) rather than serde's `Path` impl, which refuses such names: a hostile file name
//! must not cost the whole report.

use std::path::Path;

use serde::Serialize;

/// Version of every `--json` document. Bump it when a field is removed or changes meaning
/// (adding a field does not): tools check it before they read.
pub const SCHEMA: u32 = 1;

/// Print `doc` on stdout as one line. Err: why it could not be encoded (for the log).
pub fn print<T: Serialize>(doc: &T) -> Result<(), String> {
    let text = serde_json::to_string(doc).map_err(|e| format!("cannot encode the report: {e}"))?;
    println!("{text}");
    Ok(())
}

/// A path as a JSON string, lossily (see the module comment).
pub fn path(p: &Path) -> String {
    p.display().to_string()
}

/// `#[serde(serialize_with = ...)]` for a path field: as [`path`] writes it.
pub fn serialize_path<S: serde::Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&path(p))
}

/// The same for an optional path (`null` for none).
pub fn serialize_opt_path<S: serde::Serializer>(
    p: &Option<std::path::PathBuf>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match p {
        Some(p) => serialize_path(p, s),
        None => s.serialize_none(),
    }
}

/// An optional path, `null` for none.
pub fn opt_path(p: Option<&Path>) -> Option<String> {
    p.map(path)
}

/// A property systemd gave, `null` when it gave none or an empty one.
pub fn prop<'a>(
    props: &'a std::collections::HashMap<String, String>,
    key: &str,
) -> Option<&'a str> {
    props.get(key).map(String::as_str).filter(|v| !v.is_empty())
}

#[cfg(test)]
pub mod tests {
    //! What every command's JSON test checks: the document parses, carries `schema`, and has
    //! exactly the fields its man page documents under JSON OUTPUT.

    use std::collections::BTreeSet;

    use serde_json::Value;

    /// Every `(parent key, key)` pair of `v`: the top level's parent is `""`, and the elements
    /// of an array count as the array's key (`units` → `unit` for `{"units":[{"unit":..}]}`).
    pub fn field_pairs(v: &Value) -> BTreeSet<(String, String)> {
        fn walk(v: &Value, parent: &str, out: &mut BTreeSet<(String, String)>) {
            match v {
                Value::Object(m) => {
                    for (k, child) in m {
                        out.insert((parent.to_string(), k.clone()));
                        walk(child, k, out);
                    }
                }
                Value::Array(items) => {
                    for i in items {
                        walk(i, parent, out);
                    }
                }
                _ => {}
            }
        }
        let mut out = BTreeSet::new();
        walk(v, "", &mut out);
        out
    }

    /// The `(parent, field)` pairs a man page documents in its JSON OUTPUT section: each
    /// `.TP` item whose tag is a bold word is a field; `.RS`/`.RE` nest the fields of an object
    /// (or of an array's objects) under the item before them.
    pub fn documented_pairs(page: &str) -> BTreeSet<(String, String)> {
        let section = json_section(page);
        let mut out = BTreeSet::new();
        let mut stack: Vec<String> = vec![String::new()];
        let mut last = String::new();
        let mut lines = section.lines();
        while let Some(l) = lines.next() {
            if l.starts_with(".TP") {
                let tag = lines.next().unwrap_or("");
                if let Some(field) = bold_word(tag) {
                    let parent = stack.last().cloned().unwrap_or_default();
                    out.insert((parent, field.clone()));
                    last = field;
                }
            } else if l.starts_with(".RS") {
                stack.push(last.clone());
            } else if l.starts_with(".RE") {
                stack.pop();
            }
        }
        out
    }

    /// `.B name` or `.BR name ...` → `name` (roff escapes of `-` undone).
    fn bold_word(tag: &str) -> Option<String> {
        let rest = tag
            .strip_prefix(".B ")
            .or_else(|| tag.strip_prefix(".BR "))?;
        let word = rest.split_whitespace().next()?.replace("\\-", "-");
        word.chars()
            .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
            .then_some(word)
    }

    /// The text of `.SH "JSON OUTPUT"` up to the next `.SH`.
    pub fn json_section(page: &str) -> &str {
        let start = page
            .find(".SH \"JSON OUTPUT\"\n")
            .expect("the page has a JSON OUTPUT section");
        let body = &page[start + 1..];
        let end = body.find("\n.SH ").map_or(body.len(), |i| i + 1);
        &body[..end]
    }

    pub fn page(name: &str) -> String {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../man")
            .join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// The check itself: `json` (what the command printed) parses, starts with the schema,
    /// and its fields are exactly those documented in man page `page`.
    pub fn check_against_page(json: &str, page_name: &str) {
        assert!(!json.contains('\n'), "one line: {json}");
        let v: Value = serde_json::from_str(json).expect("the output is JSON");
        let first = v
            .as_object()
            .and_then(|m| m.iter().next())
            .map(|(k, v)| (k.clone(), v.clone()));
        assert_eq!(
            first,
            Some(("schema".to_string(), Value::from(super::SCHEMA))),
            "the first field is the schema"
        );
        let have = field_pairs(&v);
        let documented = documented_pairs(&page(page_name));
        let undocumented: Vec<_> = have.difference(&documented).collect();
        let missing: Vec<_> = documented.difference(&have).collect();
        assert!(
            undocumented.is_empty() && missing.is_empty(),
            "{page_name}: (parent, field) printed but not documented: {undocumented:?}; \
             documented but not printed (or the sample leaves them out): {missing:?}"
        );
    }

    #[test]
    fn pairs_of_nested_documents() {
        let v: Value =
            serde_json::from_str(r#"{"a":1,"u":[{"x":1,"p":[{"k":1}]}],"o":{"y":null}}"#).unwrap();
        let got: Vec<(String, String)> = field_pairs(&v).into_iter().collect();
        let want = [
            ("", "a"),
            ("", "o"),
            ("", "u"),
            ("o", "y"),
            ("p", "k"),
            ("u", "p"),
            ("u", "x"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn reads_nested_field_lists_from_a_page() {
        let page = ".SH OPTIONS\n.TP\n.B \\-\\-json\nx\n.SH \"JSON OUTPUT\"\ntext\n.TP\n.B schema\n1\n.TP\n.B units\nlist:\n.RS\n.TP\n.B unit\nname\n.TP\n.BR load_state \" (string)\"\n.RE\n.TP\n.B ok\nyes\n.SH \"SEE ALSO\"\n.TP\n.B nope\n";
        let got: Vec<(String, String)> = documented_pairs(page).into_iter().collect();
        let want = [
            ("", "ok"),
            ("", "schema"),
            ("", "units"),
            ("units", "load_state"),
            ("units", "unit"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(got, want);
    }
}

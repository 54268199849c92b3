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
/// `.TP` (or `.TQ`) item whose tag is a bold word is a field; `.RS`/`.RE` nest the fields of an object
/// (or of an array's objects) under the item before them.
pub fn documented_pairs(page: &str) -> BTreeSet<(String, String)> {
    let section = json_section(page);
    let mut out = BTreeSet::new();
    let mut stack: Vec<String> = vec![String::new()];
    let mut last = String::new();
    let mut lines = section.lines();
    while let Some(l) = lines.next() {
        if l.starts_with(".TP") || l.starts_with(".TQ") {
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

/// The check itself: `json` (what the command printed) is one line of JSON that starts with
/// `"schema":1`, and every field in it is documented in man page `page_name`; with `exact`,
/// every documented field is in it too (give it a sample that fills every list).
pub fn check_against_page(json: &str, page_name: &str, exact: bool) {
    let json = json.strip_suffix('\n').unwrap_or(json);
    assert!(!json.contains('\n'), "one line: {json}");
    assert!(
        json.starts_with("{\"schema\":1,"),
        "the first field is the schema: {json}"
    );
    let v: Value = serde_json::from_str(json).expect("the output is JSON");
    let have = field_pairs(&v);
    let documented = documented_pairs(&page(page_name));
    let undocumented: Vec<_> = have.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "{page_name}: (parent, field) printed but not documented under JSON OUTPUT: {undocumented:?}"
    );
    if exact {
        let missing: Vec<_> = documented.difference(&have).collect();
        assert!(
            missing.is_empty(),
            "{page_name}: documented but not printed: {missing:?}"
        );
    }
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

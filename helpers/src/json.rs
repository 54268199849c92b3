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

/// The JSON-against-man-page check, shared with the integration tests (tests/json.rs).
#[cfg(test)]
#[path = "../tests/support/json_fields.rs"]
pub mod fields;

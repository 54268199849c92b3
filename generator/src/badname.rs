//! Inputs whose unit would have a name systemd refuses (`sp ace.container` → `sp ace.service`,
//! `@.container`, a file name that is not UTF-8, a name over 255 bytes): systemd would skip
//! such a unit without a word, so the generator reports it instead, with the name to use.
//!
//! The failure stub goes under the name `systemctl` makes of the bad one (`sp\x20ace.service`
//! for `systemctl status 'sp ace'`), when that is a valid name; when no valid name can be made
//! (`@.service`, too long) there is no stub, and the error is all there is: it is logged,
//! listed by `doctor` and `lint`, and sets the exit status.

use std::path::Path;

use crate::sources::Input;
use crate::unitname::{self, Problem};

/// Why an input gets no unit of its own name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// The file name is not UTF-8.
    NotUtf8,
    /// The unit name breaks systemd's rules.
    Rule(Problem),
}

/// The error for `input`, which would become `unit`; `key` when the name comes from a key:
/// (`path:line: [Group] Key`, `Key`). Returns the message (with its hint line) and the name
/// a failure stub can have, if any.
pub fn report(
    input: &Input,
    unit: &str,
    why: &Why,
    key: Option<(String, &str)>,
) -> (String, Option<String>) {
    let stub = Some(unitname::mangle(unit.as_bytes())).filter(|m| unitname::check(m).is_ok());
    let msg = report_with_stub(input, unit, why, key, stub.as_deref());
    (msg, stub)
}

/// [`report`] with the failure stub's name chosen by the caller (`None`: no stub).
pub fn report_with_stub(
    input: &Input,
    unit: &str,
    why: &Why,
    key: Option<(String, &str)>,
    stub: Option<&str>,
) -> String {
    let path = shown_path(&input.path);
    let (loc, what) = match &key {
        Some((loc, key)) => (format!("{loc}:"), key.to_string()),
        None => (format!("{path}:"), "the file name".to_string()),
    };
    let mut msg = match why {
        Why::NotUtf8 => format!(
            "{loc} cannot become a unit: the file name is not valid UTF-8 (those bytes are shown as \\xNN); unit names are ASCII"
        ),
        Why::Rule(p) => format!(
            "{loc} cannot become a unit: \"{}\" is not a valid unit name: {p}; systemd would ignore it",
            unitname::display(unit.as_ref())
        ),
    };
    let file_name = &input.name;
    let bare = crate::sources::InputKind::from_bare_extension(file_name).is_some();
    let ext = match bare {
        true => file_name.as_str(),
        false => crate::unitfile::extension(file_name),
    };
    let hint = match (why, &key) {
        (_, Some(_)) => format!(
            "set {what}= to a valid name, e.g. {}",
            stub.map_or("NAME", |s| {
                s.strip_suffix(crate::unitfile::extension(s)).unwrap_or(s)
            })
        ),
        (Why::Rule(Problem::TooLong(n)), None) => match n - unitname::MAX_LEN {
            1 => "rename the file: at least 1 byte shorter".to_string(),
            over => format!("rename the file: at least {over} bytes shorter"),
        },
        (Why::Rule(Problem::NoPrefix), None) => format!(
            "rename it to NAME{file_name}: a template or instance needs a name before the '@'"
        ),
        (Why::Rule(Problem::NoStem), None) => format!("rename it to NAME{ext}"),
        (Why::NotUtf8 | Why::Rule(Problem::BadChar(_)), None) => format!(
            "rename it to {} (the name escaped as `systemd-escape` does), or to a name of ASCII letters, digits and \":-_.\\\"",
            unitname::escaped_file_name(file_name)
        ),
    };
    msg.push_str("\n  hint: ");
    msg.push_str(&hint);
    match stub {
        Some(s) => msg.push_str(&format!(
            "; until then the failure stub {s} (the name systemctl makes of \"{}\") carries this error",
            unitname::display(unit.as_ref())
        )),
        None => msg.push_str("; no unit is written for it (no valid unit name can be made of it)"),
    }
    msg
}

/// `path` for messages, its file name shown as [`unitname::display`] does (no raw bytes, no
/// line breaks).
pub fn shown_path(path: &Path) -> String {
    let name = path.file_name().unwrap_or_default();
    match path.parent() {
        Some(dir) => format!("{}/{}", dir.display(), unitname::display(name)),
        None => unitname::display(name),
    }
}

/// What is wrong with the name `unit` that `input` would have, if anything.
pub fn check(input: &Input, unit: &str) -> Option<Why> {
    if input.name_not_utf8 {
        return Some(Why::NotUtf8);
    }
    // `.container` alone: Quadlet names its unit `.service`, which systemd refuses.
    if crate::sources::InputKind::from_bare_extension(&input.name).is_some() {
        return Some(Why::Rule(Problem::NoStem));
    }
    unitname::check(unit).err().map(Why::Rule)
}

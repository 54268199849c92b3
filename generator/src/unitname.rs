//! systemd's rules for unit names, so that no input silently becomes a unit systemd refuses.
//!
//! systemd loads a unit file only when its name is valid (`unit_name_is_valid` in systemd's
//! `src/basic/unit-name.c`): shorter than 256 bytes; a type suffix (`.service`) after a
//! non-empty stem; the stem made of ASCII letters, digits and `:-_.\` plus `@`, where the first
//! `@` splits a template (`foo@.service`) from an instance (`foo@bar.service`) and may not come
//! first. A file of any other name in a generator directory is ignored without a word in the
//! journal, so the generator checks every name it would write and reports the bad ones.
//!
//! [`mangle`] escapes a name the way `systemctl` does with what an operator types
//! (`systemctl status 'sp ace'` looks for `sp\x20ace.service`): a failure stub written under
//! that name is found by the name people use.

use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;

/// The longest valid unit name, in bytes (systemd's `UNIT_NAME_MAX` is 256 with the NUL).
pub const MAX_LEN: usize = 255;

/// Why a name is not a valid unit name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No `.TYPE` suffix, or nothing before it.
    NoStem,
    /// `@` first: a template or instance needs a prefix (`foo@.service`).
    NoPrefix,
    /// A character systemd does not allow (the first one found).
    BadChar(char),
    /// Over [`MAX_LEN`] bytes.
    TooLong(usize),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::NoStem => write!(f, "it has no name before its type suffix"),
            Problem::NoPrefix => write!(
                f,
                "it starts with '@': a template or instance needs a name before the '@' (NAME@.service)"
            ),
            Problem::BadChar(c) => write!(
                f,
                "{} is not allowed (unit names use ASCII letters, digits, \":-_.\\\" and '@')",
                describe_char(*c)
            ),
            Problem::TooLong(n) => write!(f, "it is {n} bytes long, over systemd's limit of {MAX_LEN}"),
        }
    }
}

fn describe_char(c: char) -> String {
    match c {
        ' ' => "a space".to_string(),
        c if c.is_control() => format!("the control character U+{:04X}", c as u32),
        c if !c.is_ascii() => format!("the character '{c}' (U+{:04X})", c as u32),
        c => format!("the character '{c}'"),
    }
}

fn allowed(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b':' | b'-' | b'_' | b'.' | b'\\' | b'@')
}

/// Check `name` (`web.service`, `web@.service`, `web@1.service`) against systemd's rules. The
/// type suffix itself is the caller's: the generator only makes names of known types.
pub fn check(name: &str) -> Result<(), Problem> {
    if name.len() > MAX_LEN {
        return Err(Problem::TooLong(name.len()));
    }
    let stem = match name.rfind('.') {
        Some(i) if i > 0 => &name[..i],
        _ => return Err(Problem::NoStem),
    };
    if let Some(c) = stem.chars().find(|c| !c.is_ascii() || !allowed(*c as u8)) {
        return Err(Problem::BadChar(c));
    }
    if stem.starts_with('@') {
        return Err(Problem::NoPrefix);
    }
    Ok(())
}

/// `name` with every byte systemd does not allow written `\xNN`, as `systemctl` (and
/// `systemd-escape --mangle`) turn a typed name into a unit name. `@` is kept.
pub fn mangle(name: &[u8]) -> String {
    let mut out = String::with_capacity(name.len());
    for &b in name {
        if allowed(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// A file name for messages: bytes that are not UTF-8, and control characters (a newline in
/// a name would split a log line), written `\xNN`; everything else as it is.
pub fn display(name: &OsStr) -> String {
    let mut out = String::with_capacity(name.len());
    let mut rest = name.as_bytes();
    // `from_utf8` one valid run at a time (`utf8_chunks` is newer than our rust-version).
    while !rest.is_empty() {
        let (valid, bad) = match std::str::from_utf8(rest) {
            Ok(s) => (s, 0),
            Err(e) => {
                let s = std::str::from_utf8(&rest[..e.valid_up_to()]).unwrap_or_default();
                (s, e.error_len().unwrap_or(rest.len() - e.valid_up_to()))
            }
        };
        for c in valid.chars() {
            if c.is_control() {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            } else {
                out.push(c);
            }
        }
        let bad_bytes = &rest[valid.len()..valid.len() + bad];
        for b in bad_bytes {
            out.push_str(&format!("\\x{b:02x}"));
        }
        rest = &rest[valid.len() + bad..];
    }
    out
}

/// The name to rename an input to: its stem escaped as [`mangle`] does (each part of a
/// template or instance on its own, so the `@` stays), with its extension.
pub fn escaped_file_name(file_name: &str) -> String {
    let (stem, ext) = match file_name.rfind('.') {
        Some(i) if i > 0 => file_name.split_at(i),
        _ => (file_name, ""),
    };
    // `display` already wrote undecodable bytes as `\xNN`; keep those backslashes as they are.
    format!("{}{ext}", mangle(stem.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_systemds_rules() {
        for ok in [
            "web.service",
            "web@.service",
            "web@1.service",
            "a@b@c.service", // the instance may hold '@'
            "x:y_z-1.2\\x20.service",
            &format!("{}.service", "a".repeat(MAX_LEN - 8)),
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        assert_eq!(check("sp ace.service"), Err(Problem::BadChar(' ')));
        assert_eq!(check("café.service"), Err(Problem::BadChar('é')));
        assert_eq!(check("a*b.service"), Err(Problem::BadChar('*')));
        assert_eq!(check("@.service"), Err(Problem::NoPrefix));
        assert_eq!(check("@x.service"), Err(Problem::NoPrefix));
        assert_eq!(check(".service"), Err(Problem::NoStem));
        assert_eq!(check("service"), Err(Problem::NoStem));
        let long = format!("{}.service", "a".repeat(MAX_LEN - 7));
        assert_eq!(check(&long), Err(Problem::TooLong(MAX_LEN + 1)));
    }

    /// What each refusal says, and how a character is named in it.
    #[test]
    fn problems_say_what_is_wrong() {
        assert_eq!(
            Problem::NoStem.to_string(),
            "it has no name before its type suffix"
        );
        assert!(Problem::NoPrefix
            .to_string()
            .starts_with("it starts with '@'"));
        assert_eq!(
            Problem::TooLong(300).to_string(),
            "it is 300 bytes long, over systemd's limit of 255"
        );
        for (c, says) in [
            (' ', "a space is not allowed"),
            ('\n', "the control character U+000A is not allowed"),
            ('\u{7f}', "the control character U+007F"),
            ('é', "the character 'é' (U+00E9) is not allowed"),
            ('\u{85}', "the control character U+0085"),
            ('*', "the character '*' is not allowed"),
        ] {
            let m = Problem::BadChar(c).to_string();
            assert!(m.starts_with(says), "{c:?}: {m}");
        }
    }

    #[test]
    fn the_name_to_rename_to_keeps_its_extension() {
        assert_eq!(escaped_file_name("a b.container"), "a\\x20b.container");
        assert_eq!(escaped_file_name("a.b c.volume"), "a.b\\x20c.volume");
        // The extension is kept as it is (the generator's are known types); a name with
        // nothing before its dot, or no dot, is escaped whole.
        assert_eq!(escaped_file_name("a.b c"), "a.b c");
        assert_eq!(escaped_file_name(". x"), ".\\x20x");
        assert_eq!(escaped_file_name("no ext"), "no\\x20ext");
    }

    #[test]
    fn mangles_as_systemctl_does() {
        // Compared with `systemd-escape --mangle` (systemd 252).
        assert_eq!(mangle(b"sp ace.service"), "sp\\x20ace.service");
        assert_eq!(mangle(b"bad\xffname.service"), "bad\\xffname.service");
        assert_eq!(mangle("café.service".as_bytes()), "caf\\xc3\\xa9.service");
        assert_eq!(mangle(b"a@b@c.service"), "a@b@c.service");
        assert_eq!(check(&mangle(b"sp ace.service")), Ok(()));
    }

    #[test]
    fn displays_names_without_raw_bytes_or_line_breaks() {
        assert_eq!(
            display(OsStr::from_bytes(b"bad\xffname.container")),
            "bad\\xffname.container"
        );
        assert_eq!(
            display(OsStr::from_bytes(b"a\nb.container")),
            "a\\x0ab.container"
        );
        assert_eq!(display(OsStr::new("café.container")), "café.container");
        // A sequence cut at the end of the name (no byte after it to tell it is bad), and in
        // the middle; the valid text around each is kept.
        assert_eq!(display(OsStr::from_bytes(b"caf\xc3")), "caf\\xc3");
        assert_eq!(display(OsStr::from_bytes(b"x\xe2\x82")), "x\\xe2\\x82");
        assert_eq!(display(OsStr::from_bytes(b"\xe2\x82y")), "\\xe2\\x82y");
        assert_eq!(
            display(OsStr::from_bytes(b"\xf0\x9f\x98")),
            "\\xf0\\x9f\\x98"
        );
        assert_eq!(display(OsStr::from_bytes(b"")), "");
        assert_eq!(
            escaped_file_name("sp ace@.container"),
            "sp\\x20ace@.container"
        );
    }
}

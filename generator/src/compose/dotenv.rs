//! `.env` files as Compose reads them (05-services.md, "Env_file format"), and the check that
//! an `env_file:` reads the same to Podman's `--env-file`.
//!
//! The project's `.env` is the only source of interpolation variables: the generator runs in
//! systemd's environment and `doctor`/`lint` in a shell's, so reading the process environment
//! would make the same file give different units depending on who looks.

use super::interpolate::{self, Found, Vars};

/// One problem in an env file, at its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

/// Parse a `.env` file: `VAR=VAL` lines (optionally `export VAR=VAL`), `#` comments, values
/// unquoted (trimmed, ` #` starts a comment, interpolated), double-quoted (escapes `\n`,
/// `\r`, `\t`, `\\`, `\"`; interpolated; may span lines) or single-quoted (literal; `\'` is a
/// quote). `VAR=` is empty; a line `VAR` alone defines nothing. Earlier variables are seen by
/// later ones. Unset variables that values refer to are returned as warnings, with their line.
pub fn parse(text: &str) -> Result<(Vars, Vec<LineError>), LineError> {
    let mut vars = Vars::new();
    let mut warnings = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let lineno = i + 1;
        let line = lines[i].trim_start();
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let err = |m: String| LineError {
            line: lineno,
            message: m,
        };
        // A line that does not parse is never quoted, not even the part before '=': .env
        // holds secrets, and the message goes into a stub every user can read and the logs.
        let Some((key, rest)) = line.split_once('=') else {
            if !valid_key(line.trim_end()) {
                let colon = if line.contains(':') {
                    " (a ':' where '=' belongs? write VAR=VALUE)"
                } else {
                    ""
                };
                return Err(err(format!(
                    "not a VAR=VALUE line{colon}; the line is not shown: it could hold a secret"
                )));
            }
            continue;
        };
        let key = key.trim_end();
        if !valid_key(key) {
            return Err(err(
                "the name before '=' is not a variable name (letters, digits, '_', '.', '-'); the line is not shown: it could hold a secret".into(),
            ));
        }
        let rest = rest.trim_start();
        let mut found = Found::default();
        let value = match rest.chars().next() {
            Some('\'') => {
                let (v, tail) = single_quoted(&rest[1..]).ok_or_else(|| {
                    err(format!(
                        "{key}: the single quote is not closed on this line"
                    ))
                })?;
                check_tail(tail).map_err(|m| err(format!("{key}: {m}")))?;
                v
            }
            Some('"') => {
                // A double-quoted value may go on over the next lines.
                let mut body = rest[1..].to_string();
                let (raw, tail) = loop {
                    if let Some(end) = closing_double_quote(&body) {
                        let tail = body[end + 1..].to_string();
                        body.truncate(end);
                        break (body, tail);
                    }
                    let Some(next) = lines.get(i) else {
                        return Err(err(format!("{key}: the double quote is never closed")));
                    };
                    body.push('\n');
                    body.push_str(next);
                    i += 1;
                };
                check_tail(&tail).map_err(|m| err(format!("{key}: {m}")))?;
                let unescaped = unescape_double(&raw);
                interpolate::interpolate(&unescaped, &vars, &mut found)
                    .map_err(|m| err(format!("{key}: {m}")))?
            }
            _ => {
                let v = match rest.find(" #").or_else(|| rest.find("\t#")) {
                    Some(c) => &rest[..c],
                    None => rest,
                };
                interpolate::interpolate(v.trim_end(), &vars, &mut found)
                    .map_err(|m| err(format!("{key}: {m}")))?
            }
        };
        for name in found.unset {
            warnings.push(LineError {
                line: lineno,
                message: format!("{key}: variable {name} is not set; replaced by \"\""),
            });
        }
        vars.insert(key.to_string(), value);
    }
    Ok((vars, warnings))
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// After a closing quote only whitespace and a comment may follow.
fn check_tail(tail: &str) -> Result<(), String> {
    let t = tail.trim_start();
    if t.is_empty() || t.starts_with('#') {
        Ok(())
    } else {
        Err("text after the closing quote (only a # comment may follow it)".into())
    }
}

/// The literal text up to the closing `'` (`\'` is a quote), and what follows it.
fn single_quoted(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        match c {
            '\\' if it.peek().is_some_and(|(_, n)| *n == '\'') => {
                out.push('\'');
                it.next();
            }
            '\'' => return Some((out, &s[i + 1..])),
            c => out.push(c),
        }
    }
    None
}

/// The byte index of the `"` that closes a double-quoted value (not one escaped by `\`).
fn closing_double_quote(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

fn unescape_double(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.peek() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            _ => {
                out.push('\\');
                continue;
            }
        }
        it.next();
    }
    out
}

/// Lines of an `env_file:` that Podman's `--env-file` (which reads `KEY=VALUE` as is) would
/// read differently from Compose: quoted values, `$` (Compose interpolates), a ` #` comment,
/// spaces around the value, `export`, a name alone (Podman takes it from its own
/// environment). With `raw` (Compose's `format: raw`) only a name alone differs.
pub fn podman_differences(text: &str, raw: bool) -> Vec<LineError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let why = match t.split_once('=') {
            None => Some("a name without '=': Compose leaves it unset, Podman copies it from its own environment"),
            Some(_) if raw => None,
            Some((k, _)) if k.starts_with("export ") => {
                Some("'export': Compose drops it, Podman makes it part of the name")
            }
            Some((_, v)) if v.starts_with(['"', '\'']) => {
                Some("a quoted value: Compose removes the quotes, Podman keeps them")
            }
            Some((_, v)) if v.contains('$') => Some(
                "a '$' in the value: Compose interpolates it, Podman keeps it (use format: raw to keep it)",
            ),
            Some((_, v)) if v.contains(" #") || v.contains("\t#") => {
                Some("a ' #' comment: Compose removes it, Podman keeps it in the value")
            }
            Some((_, v)) if v != v.trim() => {
                Some("spaces around the value: Compose trims them, Podman keeps them")
            }
            _ => None,
        };
        if let Some(why) = why {
            // The key, when the line has one that is a name; never the value.
            let key = t
                .split_once('=')
                .map(|(k, _)| k.strip_prefix("export ").unwrap_or(k).trim())
                .filter(|k| valid_key(k));
            out.push(LineError {
                line: i + 1,
                message: match key {
                    Some(k) => format!("{k}: {why}"),
                    None => why.to_string(),
                },
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(text: &str) -> Vars {
        parse(text).unwrap().0
    }

    #[test]
    fn the_rules_of_the_specification() {
        let v = vars(concat!(
            "# comment\n\nVAR=VAL\nA=VAL # comment\nB=VAL# not a comment\n",
            "C=\"VAL # not a comment\"\nD=\"VAL\" # comment\nE='$OTHER'\n",
            "F='Let\\'s go!'\nG=\"{\\\"hello\\\": \\\"json\\\"}\"\nH=\"some\\tvalue\"\n",
            "I='some\\tvalue'\nJ=some\\tvalue\nK=\nUNSETONLY\nexport L=${VAR}-x\n",
            "M=\"two\nlines\"\nN=${NOPE:-dflt}\n"
        ));
        let get = |k: &str| v.get(k).map(String::as_str);
        assert_eq!(get("VAR"), Some("VAL"));
        assert_eq!(get("A"), Some("VAL"));
        assert_eq!(get("B"), Some("VAL# not a comment"));
        assert_eq!(get("C"), Some("VAL # not a comment"));
        assert_eq!(get("D"), Some("VAL"));
        assert_eq!(get("E"), Some("$OTHER"));
        assert_eq!(get("F"), Some("Let's go!"));
        assert_eq!(get("G"), Some("{\"hello\": \"json\"}"));
        assert_eq!(get("H"), Some("some\tvalue"));
        assert_eq!(get("I"), Some("some\\tvalue"));
        assert_eq!(get("J"), Some("some\\tvalue"));
        assert_eq!(get("K"), Some(""));
        assert_eq!(get("UNSETONLY"), None);
        assert_eq!(get("L"), Some("VAL-x"));
        assert_eq!(get("M"), Some("two\nlines"));
        assert_eq!(get("N"), Some("dflt"));
    }

    #[test]
    /// Issue 20: a malformed line of root's 0600 .env (`POSTGRES_PASSWORD: s3cret`) was quoted
    /// whole into a stub every user can read, the kernel log and the journal. An error names
    /// the line and, where the line has one, the key; never the value.
    #[test]
    fn errors_never_quote_a_value() {
        let secret = "s3cret";
        for (text, key) in [
            (format!("POSTGRES_PASSWORD: {secret}\n"), None),
            (format!("{secret} {secret}\n"), None),
            (format!("PASS WORD={secret}\n"), None),
            (format!("{secret}:x=1\n"), None),
            (format!("A='{secret}' {secret}\n"), Some("A")),
            (format!("A=\"{secret}\" {secret}\n"), Some("A")),
            (format!("A='{secret}\n"), Some("A")),
            (format!("A=\"{secret}\n"), Some("A")),
            (format!("A=${{{secret}\n"), Some("A")),
            (format!("A=${{1{secret}}}\n"), Some("A")),
            (format!("A=${{B/{secret}}}\n"), Some("A")),
        ] {
            let e = parse(&text).unwrap_err();
            assert_eq!(e.line, 1, "{text:?}");
            assert!(!e.message.contains(secret), "{text:?}: {}", e.message);
            if let Some(k) = key {
                assert!(
                    e.message.starts_with(&format!("{k}: ")),
                    "{text:?}: {}",
                    e.message
                );
            }
        }
        let e = parse(&format!("POSTGRES_PASSWORD: {secret}\n")).unwrap_err();
        assert!(e.message.contains("':' where '=' belongs"), "{}", e.message);
    }

    #[test]
    fn podman_differences_name_the_key_never_the_value() {
        let secret = "s3cret";
        let d = podman_differences(
            &format!("A=1\nexport TOKEN={secret}\nB=\"{secret}\"\n{secret}\n"),
            false,
        );
        let got: Vec<(usize, &str)> = d.iter().map(|e| (e.line, e.message.as_str())).collect();
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got[0].1.starts_with("TOKEN: 'export'"), "{got:?}");
        assert!(got[1].1.starts_with("B: a quoted value"), "{got:?}");
        assert_eq!(got[2].0, 4);
        assert!(d.iter().all(|e| !e.message.contains(secret)), "{got:?}");
    }

    #[test]
    fn errors_and_warnings_have_lines() {
        assert_eq!(parse("A=1\nB='open\n").unwrap_err().line, 2);
        assert_eq!(parse("A=1\n\nB=\"x\" y\n").unwrap_err().line, 3);
        assert_eq!(parse("bad name=1\n").unwrap_err().line, 1);
        let (_, w) = parse("A=1\nB=$MISSING\n").unwrap();
        assert_eq!(w[0].line, 2);
        assert!(w[0].message.contains("MISSING"));
    }

    #[test]
    fn podman_reads_plain_lines_the_same() {
        let text = "A=1\n# c\nB=two words\nC=\"q\"\nD=$X\nE=v # c\nF\nexport G=1\nH= v\n";
        let lines: Vec<usize> = podman_differences(text, false)
            .iter()
            .map(|e| e.line)
            .collect();
        assert_eq!(lines, vec![4, 5, 6, 7, 8, 9]);
        let raw: Vec<usize> = podman_differences(text, true)
            .iter()
            .map(|e| e.line)
            .collect();
        assert_eq!(raw, vec![7]);
    }
}

//! `.env` files as Compose reads them (05-services.md, "Env_file format"; compose-go's parser),
//! for the project's `.env` and for `env_file:`.
//!
//! The project's `.env` is the only source of interpolation variables: the generator runs in
//! systemd's environment and `doctor`/`lint` in a shell's, so reading the process environment
//! would make the same file give different units depending on who looks.

use super::interpolate::{self, Found, Vars};

/// The end of a message about a line that does not parse.
const NOT_SHOWN: &str = "the line is not shown: it could hold a secret";

/// One problem in an env file, at its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

/// Parse a `.env` file as Docker Compose reads one (compose-go's dotenv parser, which also
/// reads `env_file:`): `VAR=VAL` lines (also `VAR: VAL`; optionally `export VAR=VAL`), `#`
/// comments, values unquoted (trimmed, ` #` starts a comment, interpolated), double-quoted
/// (escapes `\n`, `\r`, `\t`, `\a`, `\b`, `\f`, `\v`, `\\`, `\"`, `\$` (a literal `$`), `\0NNN`
/// (octal); interpolated; may span lines) or single-quoted (literal; `\'` is a quote; may span
/// lines). `VAR=` is empty; a line `VAR` alone defines nothing. Earlier variables are seen by
/// later ones. Unset variables that values refer to are returned as warnings, with their line.
pub fn parse(text: &str) -> Result<(Vars, Vec<LineError>), LineError> {
    parse_with(text, &Vars::new())
}

/// [`parse`] with variables from outside the file: interpolation sees the file's earlier
/// variables first, then `inherited`; a line `VAR` alone takes its value from `inherited`
/// (an `env_file:` read with the project's variables). Only the file's own are returned.
pub fn parse_with(text: &str, inherited: &Vars) -> Result<(Vars, Vec<LineError>), LineError> {
    let mut vars = Vars::new();
    let mut scope = inherited.clone();
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
        let line = match line.strip_prefix("export") {
            Some(rest) if rest.starts_with([' ', '\t']) => rest.trim_start(),
            _ => line,
        };
        let err = |m: String| LineError {
            line: lineno,
            message: m,
        };
        // A line that does not parse is never quoted, not even the part before '=': .env
        // holds secrets, and the message goes into a stub every user can read and the logs.
        let Some((key, rest)) = line
            .find(['=', ':'])
            .map(|at| (&line[..at], &line[at + 1..]))
        else {
            let key = line.trim_end();
            if !valid_key(key) {
                return Err(err(format!("not a VAR=VALUE line; {NOT_SHOWN}")));
            }
            if let Some(v) = inherited.get(key) {
                vars.insert(key.to_string(), v.clone());
            }
            continue;
        };
        let key = key.trim_end();
        if !valid_key(key) {
            return Err(err(format!(
                "not a variable name before the '=' (letters, digits, '_', '.', '-', '[', ']'); {NOT_SHOWN}"
            )));
        }
        let rest = rest.trim_start();
        let mut found = Found::default();
        let value = match rest.chars().next() {
            Some(q @ ('\'' | '"')) => {
                // A quoted value may go on over the next lines.
                let mut body = rest[1..].to_string();
                let (raw, tail) = loop {
                    if let Some(end) = closing_quote(&body, q) {
                        let tail = body[end + 1..].to_string();
                        body.truncate(end);
                        break (body, tail);
                    }
                    let Some(next) = lines.get(i) else {
                        let what = if q == '"' { "double" } else { "single" };
                        return Err(err(format!("{key}: the {what} quote is never closed")));
                    };
                    body.push('\n');
                    body.push_str(next);
                    i += 1;
                };
                check_tail(&tail).map_err(|m| err(format!("{key}: {m}")))?;
                if q == '\'' {
                    raw.replace("\\'", "'")
                } else {
                    let unescaped = unescape_double(&raw);
                    interpolate::interpolate(&unescaped, &scope, &mut found)
                        .map_err(|m| err(format!("{key}: {m}")))?
                }
            }
            _ => {
                let v = match rest.find(" #") {
                    Some(c) => &rest[..c],
                    None => rest,
                };
                interpolate::interpolate(v.trim_end(), &scope, &mut found)
                    .map_err(|m| err(format!("{key}: {m}")))?
            }
        };
        for name in found.unset {
            warnings.push(LineError {
                line: lineno,
                message: format!("{key}: variable {name} is not set; replaced by \"\""),
            });
        }
        scope.insert(key.to_string(), value.clone());
        vars.insert(key.to_string(), value);
    }
    Ok((vars, warnings))
}

/// A variable name as compose-go accepts one: letters, digits, `_ . - [ ]`.
fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '[' | ']'))
}

/// After a closing quote only whitespace and a comment may follow.
fn check_tail(tail: &str) -> Result<(), String> {
    let t = tail.trim_start();
    if t.is_empty() || t.starts_with('#') {
        Ok(())
    } else {
        Err("text after the closing quote (not shown)".to_string())
    }
}

/// The byte index of the quote `q` that closes a quoted value (not one escaped by `\`).
fn closing_quote(s: &str, q: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            c if c == q => return Some(i),
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
            Some('a') => out.push('\x07'),
            Some('b') => out.push('\x08'),
            Some('f') => out.push('\x0c'),
            Some('v') => out.push('\x0b'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            // Literal: interpolation reads `$$` as a `$`.
            Some('$') => out.push_str("$$"),
            Some('0') => {
                // `\0NNN`: the character of octal NNN (exactly three digits; else as written).
                let digits: String = it.clone().skip(1).take(3).collect();
                match u32::from_str_radix(&digits, 8)
                    .ok()
                    .filter(|_| digits.len() == 3)
                {
                    Some(n) => {
                        out.push(char::from_u32(n).unwrap_or(char::REPLACEMENT_CHARACTER));
                        for _ in 0..4 {
                            it.next();
                        }
                        continue;
                    }
                    None => {
                        out.push('\\');
                        continue;
                    }
                }
            }
            _ => {
                out.push('\\');
                continue;
            }
        }
        it.next();
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

    /// The escapes of double-quoted values, each on its own (a lost one changes the value).
    #[test]
    fn double_quoted_escapes() {
        let v = vars(concat!(
            "N=\"a\\nb\"\nR=\"a\\rb\"\nB=\"a\\\\b\"\nT=\"a\\tb\"\nQ=\"a\\\"b\"\n",
            "D=\"\\$HOME\"\nO=\"\\0101\"\nU=\"a\\qb\"\nC=\"\\a\\b\\f\\v\"\nS0=\"\\01\"\n"
        ));
        let get = |k: &str| v.get(k).map(String::as_str);
        assert_eq!(get("N"), Some("a\nb"));
        assert_eq!(get("R"), Some("a\rb"));
        assert_eq!(get("B"), Some("a\\b"));
        assert_eq!(get("T"), Some("a\tb"));
        assert_eq!(get("Q"), Some("a\"b"));
        assert_eq!(
            get("D"),
            Some("$HOME"),
            "\\$ is a literal $, never interpolated"
        );
        assert_eq!(get("O"), Some("A"), "\\0NNN is octal");
        assert_eq!(
            get("U"),
            Some("a\\qb"),
            "an unknown escape stays as written"
        );
        assert_eq!(get("C"), Some("\x07\x08\x0c\x0b"));
        assert_eq!(get("S0"), Some("\\01"), "octal takes exactly three digits");
    }

    /// What compose-go's parser accepts beyond the specification's examples.
    #[test]
    fn as_docker_compose_reads_them() {
        let v =
            vars("A: yaml style\nS='two\nlines'\nexport\tX=1\nexporter=2\nTAB=v\t#kept\nK[0]=k\n");
        let get = |k: &str| v.get(k).map(String::as_str);
        assert_eq!(get("A"), Some("yaml style"));
        assert_eq!(get("S"), Some("two\nlines"));
        assert_eq!(get("X"), Some("1"));
        assert_eq!(get("exporter"), Some("2"));
        assert_eq!(get("TAB"), Some("v\t#kept"), "only ' #' starts a comment");
        assert_eq!(get("K[0]"), Some("k"));
        assert_eq!(parse("S='open\n").unwrap_err().line, 1);
    }

    /// An env_file sees the project's variables after its own, and takes a name alone from them.
    #[test]
    fn inherited_variables() {
        let outer: Vars = [("P", "project"), ("A", "outer")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (v, w) = parse_with("A=own\nB=$A-$P\nP\nZ\nC=${NOPE}\n", &outer).unwrap();
        let get = |k: &str| v.get(k).map(String::as_str);
        assert_eq!(get("B"), Some("own-project"));
        assert_eq!(get("P"), Some("project"));
        assert_eq!(get("Z"), None);
        assert_eq!(v.len(), 4, "only the file's own variables: {v:?}");
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].line, 5);
    }

    /// Issue 20: a malformed line of root's 0600 .env was quoted whole into a stub every user
    /// can read, the kernel log and the journal. An error names the line and, where the line
    /// has one, the key; never the value. (`POSTGRES_PASSWORD: s3cret`, the example, is
    /// a valid line to docker compose, and so here.)
    #[test]
    fn errors_never_quote_a_value() {
        let secret = "s3cret";
        for (text, key) in [
            (format!("{secret} {secret}\n"), None),
            (format!("PASS WORD={secret}\n"), None),
            (format!("{secret} x:y=1\n"), None),
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
        let v = vars(&format!("POSTGRES_PASSWORD: {secret}\n"));
        assert_eq!(v.get("POSTGRES_PASSWORD").map(String::as_str), Some(secret));
    }

    /// The message of a quote never closed names which quote it is.
    #[test]
    fn an_unclosed_quote_is_named() {
        let e = parse("A=1\nB=\"open\n").unwrap_err();
        assert_eq!(
            (e.line, e.message.as_str()),
            (2, "B: the double quote is never closed")
        );
        let e = parse("C='open\n").unwrap_err();
        assert_eq!(e.message, "C: the single quote is never closed");
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
}

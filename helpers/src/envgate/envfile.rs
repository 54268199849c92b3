//! Env files: reading the file that arrived and Exec's stdout, writing what consumers read, and
//! the first-line markers that tell our stub from real content.
//!
//! Reading accepts what both systemd's `EnvironmentFile=` and `sh` read the same way:
//! `KEY=VALUE`, an optional `export ` prefix, `"double"` quotes (with `\"`, `\\`, `\$`, `` \` ``
//! escapes) and `'single'` quotes (both may span lines), backslash escapes outside quotes,
//! blank lines, `#`/`;` comment lines and ` # comments` after a value. What the two read
//! differently (an unquoted value with a space in it) is an error, as is anything else that is
//! not an assignment: each error names file and line and never quotes a value (values are
//! secrets).
//!
//! Writing double-quotes every value that needs it, escaping exactly the four characters both
//! readers unescape, so the consumer sees the bytes that arrived.

use std::fmt;
use unitsmith_generator::envgate::decl::OutputFormat;

/// First line of a stub.
pub const STUB_MARKER: &str = "# unitsmith env gate stub";
/// First line of real content.
pub const REAL_MARKER: &str = "# unitsmith env gate real";

/// Variables in order of first assignment; a later assignment replaces the value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    vars: Vec<(String, String)>,
}

impl Env {
    pub fn new() -> Env {
        Env::default()
    }

    pub fn set(&mut self, key: &str, value: &str) {
        match self.vars.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value.to_string(),
            None => self.vars.push((key.to_string(), value.to_string())),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn keys(&self) -> Vec<&str> {
        self.vars.iter().map(|(k, _)| k.as_str()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }

    /// Add every variable of `other`, its values winning.
    pub fn extend(&mut self, other: &Env) {
        for (k, v) in other.iter() {
            self.set(k, v);
        }
    }
}

/// Where and why an env file does not parse. Never holds a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub source: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.source, self.line, self.message)
    }
}

/// Parse `data` (read from `source`, named in errors).
pub fn parse(data: &[u8], source: &str) -> Result<Env, ParseError> {
    let text = std::str::from_utf8(data).map_err(|e| {
        let line = data[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        ParseError {
            source: source.to_string(),
            line,
            message: "not valid UTF-8".into(),
        }
    })?;
    Parser {
        chars: text.chars().collect(),
        pos: 0,
        line: 1,
        source,
    }
    .run()
}

struct Parser<'a> {
    chars: Vec<char>,
    pos: usize,
    line: usize,
    source: &'a str,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn err(&self, line: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            source: self.source.to_string(),
            line,
            message: message.into(),
        }
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\r')) {
            self.pos += 1;
        }
    }

    fn skip_to_eol(&mut self) {
        while let Some(c) = self.peek() {
            if c == '\n' {
                break;
            }
            self.pos += 1;
        }
    }

    fn rest_of_line(&self) -> String {
        self.chars[self.pos..]
            .iter()
            .take_while(|&&c| c != '\n')
            .collect()
    }

    fn run(mut self) -> Result<Env, ParseError> {
        let mut env = Env::new();
        loop {
            self.skip_blanks();
            match self.peek() {
                None => break,
                Some('\n') => {
                    self.next();
                    continue;
                }
                Some('#' | ';') => {
                    self.skip_to_eol();
                    continue;
                }
                _ => {}
            }
            let line = self.line;
            let (key, value) = self.assignment(line)?;
            if value.contains('\0') {
                return Err(self.err(line, format!("{key}: the value contains a NUL byte")));
            }
            env.set(&key, &value);
        }
        Ok(env)
    }

    fn assignment(&mut self, line: usize) -> Result<(String, String), ParseError> {
        // `export KEY=...`
        let rest = self.rest_of_line();
        if let Some(after) = rest.strip_prefix("export") {
            if after.starts_with([' ', '\t']) {
                self.pos += "export".len();
                self.skip_blanks();
            }
        }
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c == '_' || c.is_ascii_alphanumeric()) {
            self.pos += 1;
        }
        let key: String = self.chars[start..self.pos].iter().collect();
        self.skip_blanks();
        if self.peek() != Some('=') {
            let rest = self.rest_of_line();
            let has_eq = self.chars[start..]
                .iter()
                .take_while(|&&c| c != '\n')
                .any(|&c| c == '=');
            // A line that does not parse is never quoted, not even the part before '=': it
            // may be a secret that is not meant as a name (issue 20).
            return Err(if has_eq {
                self.err(
                    line,
                    "the name before '=' is not a variable name (letters, digits and '_'; the line is not shown: it could hold a secret)",
                )
            } else if key.is_empty() && rest.trim().is_empty() {
                self.err(line, "expected KEY=VALUE")
            } else {
                self.err(line, "not a KEY=VALUE assignment (no '='; the line is not shown: it could hold a secret)")
            });
        }
        if key.is_empty() || key.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(self.err(line, "the name before '=' is not a variable name (letters, digits and '_', not starting with a digit; the line is not shown: it could hold a secret)"));
        }
        self.pos += 1; // '='
        self.skip_blanks();
        let value = self.value(&key, line)?;
        Ok((key, value))
    }

    fn value(&mut self, key: &str, line: usize) -> Result<String, ParseError> {
        let mut v = String::new();
        let mut quoted_any = false;
        loop {
            match self.peek() {
                None | Some('\n') => break,
                Some(' ' | '\t' | '\r') => {
                    self.skip_blanks();
                    match self.peek() {
                        None | Some('\n') => break,
                        Some('#') => {
                            self.skip_to_eol();
                            break;
                        }
                        Some(_) => {
                            let what = if quoted_any {
                                "text after the quoted value"
                            } else {
                                "an unquoted value with a space in it"
                            };
                            return Err(self.err(
                                self.line,
                                format!("{key}: {what} (sh and systemd read it differently: quote the whole value)"),
                            ));
                        }
                    }
                }
                Some('"') => {
                    quoted_any = true;
                    self.next();
                    loop {
                        match self.next() {
                            None => {
                                return Err(
                                    self.err(line, format!("{key}: unterminated double quote"))
                                )
                            }
                            Some('"') => break,
                            Some('\\') => match self.next() {
                                None => {
                                    return Err(
                                        self.err(line, format!("{key}: unterminated double quote"))
                                    )
                                }
                                Some('\n') => {} // line continuation
                                Some(c @ ('"' | '\\' | '$' | '`')) => v.push(c),
                                Some(c) => {
                                    v.push('\\');
                                    v.push(c);
                                }
                            },
                            Some(c) => v.push(c),
                        }
                    }
                }
                Some('\'') => {
                    quoted_any = true;
                    self.next();
                    loop {
                        match self.next() {
                            None => {
                                return Err(
                                    self.err(line, format!("{key}: unterminated single quote"))
                                )
                            }
                            Some('\'') => break,
                            Some(c) => v.push(c),
                        }
                    }
                }
                Some('\\') => {
                    self.next();
                    match self.next() {
                        None => break,
                        Some('\n') => {} // continuation
                        Some(c) => v.push(c),
                    }
                }
                Some('`') => {
                    return Err(self.err(
                        self.line,
                        format!("{key}: a backquote outside quotes (sh would run a command)"),
                    ));
                }
                Some(c) => {
                    self.next();
                    v.push(c);
                }
            }
        }
        Ok(v)
    }
}

/// `KEY=VALUE` lines that `format`'s reader reads back as exactly `env`: systemd's
/// EnvironmentFile= and sh (values quoted where needed), or Podman's --env-file (values as they
/// are: Podman keeps quotes; it cannot hold a newline, which `podman_unwritable` finds first).
pub fn render_as(env: &Env, format: OutputFormat) -> String {
    match format {
        OutputFormat::Systemd => render(env),
        OutputFormat::Podman => {
            let mut out = String::new();
            for (k, v) in env.iter() {
                out.push_str(k);
                out.push('=');
                out.push_str(v);
                out.push('\n');
            }
            out
        }
    }
}

/// The keys whose values Podman's --env-file cannot hold (a newline ends its line).
pub fn podman_unwritable(env: &Env) -> Vec<&str> {
    env.iter()
        .filter(|(_, v)| v.contains(['\n', '\r']))
        .map(|(k, _)| k)
        .collect()
}

/// `KEY=VALUE` lines that systemd's EnvironmentFile= and sh read back as exactly `env`.
pub fn render(env: &Env) -> String {
    let mut out = String::new();
    for (k, v) in env.iter() {
        out.push_str(k);
        out.push('=');
        out.push_str(&quote(v));
        out.push('\n');
    }
    out
}

fn quote(v: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./:@+,=%".contains(c);
    if v.chars().all(plain) {
        return v.to_string();
    }
    let mut q = String::with_capacity(v.len() + 2);
    q.push('"');
    for c in v.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// Real content: the marker naming the gate and where it came from, then the variables.
pub fn real(gate: &str, from: &str, env: &Env, format: OutputFormat) -> String {
    format!(
        "{REAL_MARKER}: written by {gate} from {from}; it is rewritten when the gate opens again, do not edit\n{}",
        render_as(env, format)
    )
}

/// The stub: the marker, then every key empty.
pub fn stub(gate: &str, waiting_for: &str, keys: &[String]) -> String {
    let mut s = format!(
        "{STUB_MARKER}: {gate} is waiting for {waiting_for}; the consumers are restarted when it opens\n"
    );
    for k in keys {
        s.push_str(k);
        s.push_str("=\n");
    }
    s
}

/// What an existing output holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    Missing,
    /// Empty or only whitespace.
    Empty,
    Stub,
    /// Real content we wrote (at this boot or an earlier one).
    Real,
    /// Content someone else wrote: treated as real (kept, consumers not held).
    Foreign,
}

impl Existing {
    pub fn of(data: Option<&[u8]>) -> Existing {
        let Some(data) = data else {
            return Existing::Missing;
        };
        if data.iter().all(|b| b.is_ascii_whitespace()) {
            Existing::Empty
        } else if data.starts_with(STUB_MARKER.as_bytes()) {
            Existing::Stub
        } else if data.starts_with(REAL_MARKER.as_bytes()) {
            Existing::Real
        } else {
            Existing::Foreign
        }
    }

    /// Whether consumers may run on it.
    pub fn is_real(self) -> bool {
        matches!(self, Existing::Real | Existing::Foreign)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Vec<(String, String)> {
        parse(text.as_bytes(), "f")
            .unwrap()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn err(text: &str) -> ParseError {
        parse(text.as_bytes(), "/etc/app/worker.env").unwrap_err()
    }

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_what_sh_and_systemd_agree_on() {
        let text = "# comment\n; also a comment\n\nA=1\nexport B=two\n  C = spaced \nD=\"x y \\\"q\\\" \\$HOME \\\\ \\n\"\nE='it''s \"raw\" $X'\nF=a\\ b\nG=\nH=\"multi\nline\"\nI=val # trailing comment\nJ=\"q\"  # comment\nK=a#b\r\nexport=1\nA=last\n";
        assert_eq!(
            ok(text),
            kv(&[
                ("A", "last"),
                ("B", "two"),
                ("C", "spaced"),
                ("D", "x y \"q\" $HOME \\ \\n"),
                ("E", "its \"raw\" $X"),
                ("F", "a b"),
                ("G", ""),
                ("H", "multi\nline"),
                ("I", "val"),
                ("J", "q"),
                ("K", "a#b"),
                ("export", "1"),
            ])
        );
        assert!(parse(b"", "f").unwrap().is_empty());
        assert_eq!(ok("A=1"), kv(&[("A", "1")]), "no final newline");
    }

    #[test]
    fn errors_name_the_line_and_never_a_value() {
        let secret = "s3cr3t-value";
        let cases = [
            (format!("A=1\n{secret}\n"), 2, "no '='"),
            (format!("A=1\nB-C={secret}\n"), 2, "is not a variable name"),
            (
                format!("A=1\n{secret}-x={secret}\n"),
                2,
                "not a variable name",
            ),
            (format!("{secret}: x\n"), 1, "no '='"),
            (format!("1A={secret}\n"), 1, "not a variable name"),
            (
                format!("A={secret} more\n"),
                1,
                "unquoted value with a space",
            ),
            (
                format!("A=\"{secret}\" more\n"),
                1,
                "text after the quoted value",
            ),
            (
                format!("\n\nA=\"{secret}\n"),
                3,
                "unterminated double quote",
            ),
            (format!("A='{secret}\n"), 1, "unterminated single quote"),
            (format!("A=`{secret}`\n"), 1, "backquote"),
            ("=x\n".to_string(), 1, "is not a variable name"),
        ];
        for (text, line, want) in cases {
            let e = err(&text);
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.message.contains(want), "{text:?}: {e}");
            assert!(!e.to_string().contains(secret), "{e}");
            assert!(e.to_string().starts_with("/etc/app/worker.env:"), "{e}");
        }
        let e = parse(b"A=1\nB=\xff\n", "f").unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (2, "not valid UTF-8"));
    }

    #[test]
    fn podman_format_writes_values_as_they_are() {
        let mut env = Env::new();
        env.set("GREETING", "hello from \"here\" $x");
        env.set("ROLE", "front");
        // Podman's --env-file keeps everything after '=': no quoting may be added.
        assert_eq!(
            render_as(&env, OutputFormat::Podman),
            "GREETING=hello from \"here\" $x\nROLE=front\n"
        );
        assert_eq!(render_as(&env, OutputFormat::Systemd), render(&env));
        assert!(podman_unwritable(&env).is_empty());
        env.set("PEM", "a\nb");
        assert_eq!(podman_unwritable(&env), ["PEM"]);
    }

    #[test]
    fn render_round_trips() {
        let mut env = Env::new();
        for (k, v) in [
            ("PLAIN", "abc-1.2_3/x:y@z+w,v=u%"),
            ("EMPTY", ""),
            ("SPACE", "a b"),
            (
                "SPECIAL",
                "q\"uote \\back $dollar `tick` 'single' #hash ~tilde",
            ),
            ("NEWLINE", "one\ntwo"),
            ("UNICODE", "ünï"),
        ] {
            env.set(k, v);
        }
        let text = render(&env);
        assert!(text.contains("PLAIN=abc-1.2_3/x:y@z+w,v=u%\n"), "{text}");
        assert!(text.contains("EMPTY=\n"));
        assert!(text.contains("SPACE=\"a b\"\n"));
        assert_eq!(parse(text.as_bytes(), "r").unwrap(), env);
        let real_text = real("g", "/x", &env, OutputFormat::Systemd);
        assert_eq!(
            parse(real_text.as_bytes(), "r").unwrap(),
            env,
            "the marker is a comment"
        );
    }

    #[test]
    fn stubs_and_markers() {
        let s = stub(
            "creds",
            "/etc/app/worker.env",
            &["AXIOM_TOKEN".into(), "AXIOM_DATASET".into()],
        );
        assert!(s.starts_with("# unitsmith env gate stub"));
        assert!(s.ends_with("\nAXIOM_TOKEN=\nAXIOM_DATASET=\n"), "{s}");
        let env = parse(s.as_bytes(), "stub").unwrap();
        assert_eq!(env.get("AXIOM_TOKEN"), Some(""));
        assert_eq!(Existing::of(Some(s.as_bytes())), Existing::Stub);
        assert_eq!(
            Existing::of(Some(
                real("g", "/x", &env, OutputFormat::Systemd).as_bytes()
            )),
            Existing::Real
        );
        assert_eq!(Existing::of(Some(b"A=1\n")), Existing::Foreign);
        assert_eq!(Existing::of(Some(b" \n")), Existing::Empty);
        assert_eq!(Existing::of(None), Existing::Missing);
        assert!(Existing::Real.is_real() && Existing::Foreign.is_real());
        assert!(
            !Existing::Stub.is_real() && !Existing::Missing.is_real() && !Existing::Empty.is_real()
        );
    }
}

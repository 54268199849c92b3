//! Compose value syntaxes (ports, durations, byte sizes, shell-like command strings) and the
//! escaping that carries a literal value through a Quadlet key into `ExecStart=` unchanged.

/// A published port, short syntax `[[IP:][HOST]:]CONTAINER[/PROTOCOL]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    pub ip: String,
    pub published: String,
    pub target: String,
    pub protocol: String,
}

fn is_port_or_range(s: &str) -> bool {
    let mut parts = s.splitn(2, '-');
    let ok = |p: Option<&str>| {
        p.is_some_and(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
    };
    let first = parts.next();
    match parts.next() {
        None => ok(first),
        Some(second) => ok(first) && ok(Some(second)),
    }
}

/// Parse the short syntax; the error says what is wrong.
pub fn parse_port(spec: &str) -> Result<Port, String> {
    let (body, protocol) = match spec.rsplit_once('/') {
        Some((b, p)) => (b, p.to_string()),
        None => (spec, "tcp".to_string()),
    };
    if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!(
            "unknown protocol \"{protocol}\" (tcp, udp or sctp)"
        ));
    }
    // An IPv6 address is written in brackets: [::1]:8080:80.
    let (ip, rest) = match body.strip_prefix('[') {
        Some(b) => match b.split_once("]:") {
            Some((ip, rest)) => (ip.to_string(), rest),
            None => return Err("an IPv6 address must be followed by ]:".into()),
        },
        None => (String::new(), body),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip, published, target) = match (ip.is_empty(), parts.as_slice()) {
        (true, [t]) => (String::new(), "", *t),
        (true, [h, t]) => (String::new(), *h, *t),
        (true, [i, h, t]) => (i.to_string(), *h, *t),
        (false, [h, t]) => (ip, *h, *t),
        _ => return Err("expected [[IP:][HOST_PORT]:]CONTAINER_PORT[/PROTOCOL]".into()),
    };
    if !is_port_or_range(target) {
        return Err(format!(
            "container port \"{target}\" is not a port or a range"
        ));
    }
    if !published.is_empty() && !is_port_or_range(published) {
        return Err(format!(
            "host port \"{published}\" is not a port or a range"
        ));
    }
    Ok(Port {
        ip,
        published: published.to_string(),
        target: target.to_string(),
        protocol,
    })
}

impl Port {
    /// `podman --publish` syntax (the same as Compose's short syntax).
    pub fn to_publish(&self) -> String {
        let mut s = String::new();
        if !self.ip.is_empty() {
            if self.ip.contains(':') {
                s.push_str(&format!("[{}]:", self.ip));
            } else {
                s.push_str(&self.ip);
                s.push(':');
            }
        }
        if !self.published.is_empty() || !self.ip.is_empty() {
            s.push_str(&self.published);
            s.push(':');
        }
        s.push_str(&self.target);
        if self.protocol != "tcp" {
            s.push('/');
            s.push_str(&self.protocol);
        }
        s
    }
}

/// A Compose duration (`1m30s`, `10s`, `500ms`, `1h`; units us, ms, s, m, h) in whole seconds,
/// rounded up; Go's duration syntax, which Podman reads too.
pub fn duration_secs(s: &str) -> Result<u64, String> {
    let bad = || format!("\"{s}\" is not a duration (e.g. 30s, 1m30s, 500ms)");
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut micros: u128 = 0;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let num: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let factor: f64 = match &rest[..u] {
            "us" | "µs" => 1.0,
            "ms" => 1e3,
            "s" => 1e6,
            "m" => 60e6,
            "h" => 3600e6,
            _ => return Err(bad()),
        };
        micros = micros.saturating_add((num * factor) as u128);
        rest = &rest[u..];
    }
    Ok(u64::try_from(micros.div_ceil(1_000_000)).unwrap_or(u64::MAX))
}

/// Check a Compose duration and return it as written (Podman reads the same syntax).
pub fn duration(s: &str) -> Result<String, String> {
    duration_secs(s).map(|_| s.trim().to_string())
}

/// A Compose byte value (`2048`, `512m`, `1gb`, `64M`) as Podman writes sizes (`512m`).
pub fn bytes(s: &str) -> Result<String, String> {
    let t = s.trim().to_ascii_lowercase();
    let digits = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    if num.is_empty() || num.parse::<f64>().is_err() {
        return Err(format!("\"{s}\" is not a size (e.g. 512m, 1gb, 2048)"));
    }
    let unit = match unit {
        "" | "b" => "",
        "k" | "kb" => "k",
        "m" | "mb" => "m",
        "g" | "gb" => "g",
        _ => return Err(format!("\"{s}\": unknown unit (b, k, kb, m, mb, g, gb)")),
    };
    Ok(format!("{num}{unit}"))
}

/// A command string split into words as Compose does (shell-like: blanks separate words,
/// single quotes are literal, double quotes keep blanks and take `\"`, `\\`, `\$`, and a
/// backslash outside quotes escapes the next character). No expansion of any kind.
pub fn shell_words(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut it = s.chars();
    while let Some(c) = it.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match it.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match it.next() {
                        Some('"') => break,
                        Some('\\') => match it.next() {
                            Some(n @ ('"' | '\\' | '$' | '`')) => cur.push(n),
                            Some(n) => {
                                cur.push('\\');
                                cur.push(n);
                            }
                            None => return Err("unterminated double quote".into()),
                        },
                        Some(c) => cur.push(c),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match it.next() {
                    Some('\n') => {}
                    Some(n) => cur.push(n),
                    None => cur.push('\\'),
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// `s` as a JSON string literal.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Words as a JSON array (`["a","b"]`): how Podman takes an exec-form entrypoint or health
/// command in one argument.
pub fn json_array(words: &[String]) -> String {
    let items: Vec<String> = words.iter().map(|w| json_string(w)).collect();
    format!("[{}]", items.join(","))
}

/// A literal value on its way into `ExecStart=`: systemd expands `%` specifiers and `$`
/// variables there, so both are doubled (`%%`, `$$` are the literal characters).
pub fn literal(s: &str) -> String {
    s.replace('%', "%%").replace('$', "$$")
}

/// A literal value for a Quadlet key that Quadlet splits into words (`Exec=`,
/// `Environment=`, `Label=`, ...): [`literal`], then quoted and escaped as one word.
pub fn word(s: &str) -> String {
    crate::split::escape_word(&literal(s))
}

/// Several words for such a key.
pub fn words(ws: &[String]) -> String {
    let lit: Vec<String> = ws.iter().map(|w| literal(w)).collect();
    crate::split::escape_words(&lit)
}

/// A literal value for a Quadlet key that is taken as written (one line; Quadlet removes
/// one pair of surrounding double quotes, so a value that has them gets another pair). A
/// newline or a final backslash cannot be written in a unit file's line: refused.
pub fn single(s: &str) -> Result<String, String> {
    if s.contains(['\n', '\r']) {
        return Err("a value with a line break cannot be passed through a unit file".into());
    }
    if s.ends_with('\\') {
        return Err("a value ending in a backslash cannot be passed through a unit file".into());
    }
    let lit = literal(s.trim_end());
    if lit.len() >= 2 && lit.starts_with('"') && lit.ends_with('"') {
        return Ok(format!("\"{lit}\""));
    }
    Ok(lit)
}

/// A literal value for a key Quadlet splits as a list on blanks (`Sysctl=`, `AddDevice=`,
/// `AddCapability=`): quoted when it has blanks; quotes and backslashes cannot be carried.
pub fn list_item(s: &str) -> Result<String, String> {
    if s.contains(['"', '\'', '\\', '\n', '\r']) {
        return Err("quotes, backslashes and line breaks cannot be carried in this value".into());
    }
    let lit = literal(s);
    if lit.contains([' ', '\t']) {
        Ok(format!("\"{lit}\""))
    } else {
        Ok(lit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        let p = |s: &str| parse_port(s).map(|p| p.to_publish());
        assert_eq!(p("3000").unwrap(), "3000");
        assert_eq!(p("3000-3005").unwrap(), "3000-3005");
        assert_eq!(p("8000:8000").unwrap(), "8000:8000");
        assert_eq!(p("9090-9091:8080-8081").unwrap(), "9090-9091:8080-8081");
        assert_eq!(p("127.0.0.1:8001:8001").unwrap(), "127.0.0.1:8001:8001");
        assert_eq!(p("127.0.0.1::5000").unwrap(), "127.0.0.1::5000");
        assert_eq!(p("[::1]:6001:6001").unwrap(), "[::1]:6001:6001");
        assert_eq!(p("6060:6060/udp").unwrap(), "6060:6060/udp");
        assert!(p("http").is_err());
        assert!(p("80/icmp").is_err());
        assert!(p("1:2:3:4").is_err());
    }

    /// What is not a port: an empty part, more than 5 digits, a letter, half a range, a bad
    /// host port, an IPv6 address without `]:`.
    #[test]
    fn what_is_not_a_port() {
        for bad in [
            "", "123456", "8a", "80-", "80-x", "-80", "abc:80", "1:", "[::1]80", "[::1",
        ] {
            assert!(parse_port(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_port("65535").unwrap().target, "65535");
        assert_eq!(
            parse_port("abc:80").unwrap_err(),
            "host port \"abc\" is not a port or a range"
        );
        let p = parse_port("[fe80::1]:8080:80/sctp").unwrap();
        assert_eq!(
            (p.ip.as_str(), p.published.as_str(), p.target.as_str()),
            ("fe80::1", "8080", "80")
        );
        assert_eq!(p.to_publish(), "[fe80::1]:8080:80/sctp");
    }

    /// Each duration unit, rounding up to whole seconds, and the value kept as written.
    #[test]
    fn each_duration_unit() {
        assert_eq!(duration_secs("1500000us").unwrap(), 2);
        assert_eq!(duration_secs("1000000µs").unwrap(), 1);
        assert_eq!(duration_secs("1000ms").unwrap(), 1);
        assert_eq!(duration_secs("1001ms").unwrap(), 2);
        assert_eq!(duration_secs("2m").unwrap(), 120);
        assert_eq!(duration_secs("1h1m1s").unwrap(), 3661);
        assert!(duration_secs("").is_err());
        assert!(duration_secs("s").is_err());
        assert_eq!(duration(" 1m30s ").unwrap(), "1m30s");
        assert!(duration("30").is_err());
    }

    /// Each size unit, and what is not a number.
    #[test]
    fn each_size_unit() {
        assert_eq!(bytes("512b").unwrap(), "512");
        assert_eq!(bytes("512k").unwrap(), "512k");
        assert_eq!(bytes("512KB").unwrap(), "512k");
        assert_eq!(bytes("1mb").unwrap(), "1m");
        assert_eq!(bytes("2g").unwrap(), "2g");
        assert_eq!(bytes(" 1.5g ").unwrap(), "1.5g");
        for bad in ["1.2.3m", "m", "", "1 m", "-1m"] {
            assert!(bytes(bad).is_err(), "{bad:?}");
        }
    }

    /// Control characters in JSON as `\u00XX`; a blank and what follows it as written.
    #[test]
    fn json_control_characters() {
        assert_eq!(json_string("a b\u{1}\u{1f}!"), r#""a b\u0001\u001f!""#);
        assert_eq!(json_string("\t\r\n\\"), r#""\t\r\n\\""#);
    }

    /// Several words: each literal, then escaped as a word of its own.
    #[test]
    fn several_words() {
        let ws: Vec<String> = ["a b", "50%", "$X", "c"].map(String::from).to_vec();
        let escaped = words(&ws);
        assert!(
            escaped.contains("%%") && escaped.contains("$$X"),
            "{escaped}"
        );
        let split = crate::split::split_exec(&escaped).unwrap();
        assert_eq!(split, ["a b", "50%%", "$$X", "c"]);
    }

    /// One pair of quotes is added only around a value that starts and ends with one.
    #[test]
    fn single_values() {
        assert_eq!(single("x\"").unwrap(), "x\"");
        assert_eq!(single("\"x").unwrap(), "\"x");
        assert_eq!(single("\"").unwrap(), "\"");
        assert_eq!(single("\"\"").unwrap(), "\"\"\"\"");
        assert_eq!(single("a \t").unwrap(), "a");
        assert!(single("a\\").is_err());
        assert!(single("a\rb").is_err());
        assert_eq!(list_item("a").unwrap(), "a");
        assert_eq!(list_item("a\tb").unwrap(), "\"a\tb\"");
        assert!(list_item("a'b").is_err());
    }

    #[test]
    fn durations_and_sizes() {
        assert_eq!(duration_secs("1m30s").unwrap(), 90);
        assert_eq!(duration_secs("1.5s").unwrap(), 2);
        assert_eq!(duration_secs("500ms").unwrap(), 1);
        assert_eq!(duration_secs("2h").unwrap(), 7200);
        assert!(duration_secs("10").is_err());
        assert!(duration_secs("5 days").is_err());
        assert_eq!(bytes("1gb").unwrap(), "1g");
        assert_eq!(bytes("64M").unwrap(), "64m");
        assert_eq!(bytes("2048").unwrap(), "2048");
        assert!(bytes("1tb").is_err());
    }

    #[test]
    fn shell_like_words() {
        assert_eq!(
            shell_words(r#"sh -c 'echo "a b"' "x\"y" z\ w"#).unwrap(),
            ["sh", "-c", "echo \"a b\"", "x\"y", "z w"]
        );
        assert_eq!(shell_words("  ").unwrap(), Vec::<String>::new());
        assert!(shell_words("'open").is_err());
    }

    #[test]
    fn escaping_reaches_exec_start_literally() {
        assert_eq!(literal("100% $HOME"), "100%% $$HOME");
        assert_eq!(single("\"q\"").unwrap(), "\"\"q\"\"");
        assert!(single("a\nb").is_err());
        assert_eq!(list_item("a=b c").unwrap(), "\"a=b c\"");
        assert_eq!(json_array(&["a".into(), "b\"c".into()]), r#"["a","b\"c"]"#);
        // A word survives Quadlet's split: escape, then split back.
        let w = "it's \"x\" \\ y\nz";
        let split = crate::split::split_exec(&word(w)).unwrap();
        assert_eq!(split, [w]);
    }
}

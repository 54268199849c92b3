//! A tiny JSON writer for `--json` (hand-written on purpose: no serde for a few objects).

use std::fmt::Write;

/// A JSON value. Objects keep their keys in insertion order.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(i64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    pub fn str(s: impl Into<String>) -> Json {
        Json::Str(s.into())
    }

    /// `Str`, or `Null` for `None`.
    pub fn opt(s: Option<impl Into<String>>) -> Json {
        s.map_or(Json::Null, |s| Json::Str(s.into()))
    }

    pub fn obj(pairs: Vec<(&str, Json)>) -> Json {
        Json::Obj(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    /// Compact text, one line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Num(n) => {
                let _ = write!(out, "{n}");
            }
            Json::Str(s) => escape_into(s, out),
            Json::Arr(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write(out);
                }
                out.push(']');
            }
            Json::Obj(pairs) => {
                out.push('{');
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    escape_into(k, out);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// Append `s` as a JSON string literal, quotes included (RFC 8259: `"`, `\` and control
/// characters escaped, and U+2028/U+2029 for JavaScript readers; everything else as is).
fn escape_into(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escape(s: &str) -> String {
        Json::str(s).render()
    }

    #[test]
    fn escapes_quotes_backslashes_and_controls() {
        assert_eq!(escape("plain"), "\"plain\"");
        assert_eq!(escape("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(escape("l1\nl2\tx\r"), "\"l1\\nl2\\tx\\r\"");
        assert_eq!(escape("\u{1}\u{1f}\u{7f}"), "\"\\u0001\\u001f\\u007f\"");
        assert_eq!(escape("\u{8}\u{c}"), "\"\\b\\f\"");
        assert_eq!(escape("héllo ✓"), "\"héllo ✓\"");
        assert_eq!(escape("\u{2028}"), "\"\\u2028\"");
        assert_eq!(escape(""), "\"\"");
    }

    #[test]
    fn renders_nested_values_in_order() {
        let v = Json::obj(vec![
            ("b", Json::Num(-3)),
            (
                "a",
                Json::Arr(vec![Json::Null, Json::Bool(true), Json::str("x\"y")]),
            ),
            ("o", Json::obj(vec![])),
            ("n", Json::opt(None::<String>)),
        ]);
        assert_eq!(
            v.render(),
            r#"{"b":-3,"a":[null,true,"x\"y"],"o":{},"n":null}"#
        );
    }

    /// Every string we render must survive a strict parser: check with a minimal one.
    #[test]
    fn round_trips_every_char_class() {
        let mut s = String::new();
        for c in (0u32..0x250)
            .chain([0x2028, 0x2029, 0x1F600])
            .filter_map(char::from_u32)
        {
            s.push(c);
        }
        let lit = escape(&s);
        assert_eq!(unescape(&lit), s);
        assert!(
            !lit[1..lit.len() - 1].chars().any(|c| (c as u32) < 0x20),
            "raw control char left"
        );
    }

    fn unescape(lit: &str) -> String {
        let inner = &lit[1..lit.len() - 1];
        let mut out = String::new();
        let mut it = inner.chars();
        while let Some(c) = it.next() {
            if c != '\\' {
                assert_ne!(c, '"', "unescaped quote");
                out.push(c);
                continue;
            }
            match it.next().unwrap() {
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'u' => {
                    let hex: String = it.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
                }
                other => panic!("bad escape \\{other}"),
            }
        }
        out
    }
}

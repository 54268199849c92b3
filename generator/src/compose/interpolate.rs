//! `${VAR}` interpolation as the Compose specification defines it (12-interpolation.md):
//! `$VAR`, `${VAR}`, `${VAR:-default}` / `${VAR-default}`, `${VAR:?error}` / `${VAR?error}`,
//! `${VAR:+replacement}` / `${VAR+replacement}`, nested in the default, error and replacement
//! parts; `$$` is a literal `$`; a `$` that starts no variable is kept as it is. An unset
//! variable without a default becomes the empty string, and the caller warns.

use std::collections::HashMap;

/// The variables interpolation reads: name → value.
pub type Vars = HashMap<String, String>;

/// What interpolating one string found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Found {
    /// Variables that were unset and had no default: replaced by "".
    pub unset: Vec<String>,
}

/// Interpolate `s`. An error is a required variable that is missing (`${VAR:?msg}`) or a
/// malformed expression.
pub fn interpolate(s: &str, vars: &Vars, found: &mut Found) -> Result<String, String> {
    if !s.contains('$') {
        return Ok(s.to_string());
    }
    let chars: Vec<char> = s.chars().collect();
    let mut pos = 0;
    let out = expand(&chars, &mut pos, vars, found, false)?;
    Ok(out)
}

/// Expand from `pos` to the end, or (`nested`) to the `}` closing the enclosing expression.
fn expand(
    c: &[char],
    pos: &mut usize,
    vars: &Vars,
    found: &mut Found,
    nested: bool,
) -> Result<String, String> {
    let mut out = String::new();
    let mut depth = 0usize;
    while *pos < c.len() {
        let ch = c[*pos];
        if nested && ch == '}' {
            if depth == 0 {
                return Ok(out);
            }
            depth -= 1;
        } else if nested && ch == '{' {
            depth += 1;
        }
        if ch != '$' {
            out.push(ch);
            *pos += 1;
            continue;
        }
        match c.get(*pos + 1) {
            Some('$') => {
                out.push('$');
                *pos += 2;
            }
            Some('{') => {
                *pos += 2;
                out.push_str(&braced(c, pos, vars, found)?);
            }
            Some(&n) if n == '_' || n.is_ascii_alphabetic() => {
                let start = *pos + 1;
                let mut end = start;
                while end < c.len() && (c[end] == '_' || c[end].is_ascii_alphanumeric()) {
                    end += 1;
                }
                let name: String = c[start..end].iter().collect();
                out.push_str(&lookup(&name, vars, found));
                *pos = end;
            }
            _ => {
                out.push('$');
                *pos += 1;
            }
        }
    }
    if nested {
        return Err("missing closing brace '}'".into());
    }
    Ok(out)
}

fn lookup(name: &str, vars: &Vars, found: &mut Found) -> String {
    match vars.get(name) {
        Some(v) => v.clone(),
        None => {
            if !found.unset.iter().any(|u| u == name) {
                found.unset.push(name.to_string());
            }
            String::new()
        }
    }
}

/// After `${`: the name, an optional operator and its word, up to the closing `}`.
fn braced(c: &[char], pos: &mut usize, vars: &Vars, found: &mut Found) -> Result<String, String> {
    let start = *pos;
    while *pos < c.len() && (c[*pos] == '_' || c[*pos].is_ascii_alphanumeric()) {
        *pos += 1;
    }
    let name: String = c[start..*pos].iter().collect();
    let valid_name = name
        .chars()
        .next()
        .is_some_and(|f| f == '_' || f.is_ascii_alphabetic());
    if !valid_name {
        // Messages quote nothing of the text: it is a value, maybe a secret in .env.
        return Err(
            "invalid interpolation format: '${' is not followed by a variable name (write $$ for a literal $)".into(),
        );
    }
    let Some(&next) = c.get(*pos) else {
        return Err("missing closing brace '}' after '${'".into());
    };
    if next == '}' {
        *pos += 1;
        return Ok(lookup(&name, vars, found));
    }
    let (colon, op) = match (next, c.get(*pos + 1)) {
        (':', Some(&o)) if matches!(o, '-' | '?' | '+') => (true, o),
        ('-' | '?' | '+', _) => (false, next),
        _ => {
            return Err(
                "invalid interpolation format: only ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, ${VAR:+replacement} and ${VAR+replacement} are defined".into()
            )
        }
    };
    *pos += if colon { 2 } else { 1 };
    // The word is expanded lazily by shells; here it is expanded always (it has no side
    // effects other than unset-variable notes, which we then drop when it is not used).
    let mut word_found = Found::default();
    let word = expand(c, pos, vars, &mut word_found, true)?;
    *pos += 1; // the closing brace
    let value = vars.get(&name);
    let set = value.is_some();
    let non_empty = value.is_some_and(|v| !v.is_empty());
    let present = if colon { non_empty } else { set };
    let use_word = |found: &mut Found, word_found: Found| {
        for u in word_found.unset {
            if !found.unset.contains(&u) {
                found.unset.push(u);
            }
        }
    };
    match op {
        '-' => {
            if present {
                Ok(value.cloned().unwrap_or_default())
            } else {
                use_word(found, word_found);
                Ok(word)
            }
        }
        '?' => {
            if present {
                Ok(value.cloned().unwrap_or_default())
            } else {
                let why = if word.is_empty() {
                    String::new()
                } else {
                    format!(": {word}")
                };
                Err(format!(
                    "required variable {name} is {}{why}",
                    if set { "empty" } else { "missing a value" }
                ))
            }
        }
        _ => {
            if present {
                use_word(found, word_found);
                Ok(word)
            } else {
                Ok(String::new())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &str) -> Result<(String, Vec<String>), String> {
        let vars: Vars = [("A", "a"), ("EMPTY", ""), ("N", "5")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut f = Found::default();
        interpolate(s, &vars, &mut f).map(|o| (o, f.unset))
    }

    fn ok(s: &str) -> String {
        run(s).unwrap().0
    }

    #[test]
    fn the_forms_of_the_specification() {
        assert_eq!(ok("x${A}y$A-$N"), "xay a-5".replace(' ', ""));
        assert_eq!(ok("${EMPTY:-d}|${EMPTY-d}|${UNSET-d}"), "d||d");
        assert_eq!(ok("${A:+r}|${EMPTY:+r}|${EMPTY+r}|${UNSET+r}"), "r||r|");
        assert_eq!(ok("${UNSET:-${A:-x}}"), "a");
        assert_eq!(ok("${UNSET:-${NOPE:-deep}}"), "deep");
        assert_eq!(ok("$$A $${A} 100$ $1 $-"), "$A ${A} 100$ $1 $-");
        assert_eq!(ok("${A?}"), "a");
    }

    #[test]
    fn unset_variables_are_reported_once() {
        assert_eq!(
            run("$X ${X} ${Y:-d}").unwrap(),
            ("  d".into(), vec!["X".to_string()])
        );
        assert_eq!(run("${A:-$Z}").unwrap().1, Vec::<String>::new());
    }

    #[test]
    fn required_and_malformed() {
        assert_eq!(
            run("${UNSET:?set it in .env}").unwrap_err(),
            "required variable UNSET is missing a value: set it in .env"
        );
        assert!(run("${EMPTY:?}").unwrap_err().contains("is empty"));
        assert!(run("${EMPTY?}").is_ok());
        assert!(run("${A").is_err());
        assert!(run("${A/x/y}").is_err());
        assert!(run("${1}").is_err());
        assert!(run("${A:-x").is_err());
    }
}

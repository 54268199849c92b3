//! The one-record CSV reading and writing podman's `--mount` option uses (Go's encoding/csv).

/// Split one CSV record. Quoted fields may hold commas and doubled quotes; a bare quote inside
/// an unquoted field, an unterminated quote or a second record is an error, as in Go.
pub fn parse_record(input: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = input.chars().peekable();
    let mut field = String::new();
    let mut quoted_field = false;
    let mut at_start = true;
    loop {
        let Some(c) = chars.next() else {
            fields.push(std::mem::take(&mut field));
            break;
        };
        if at_start && c == '"' {
            quoted_field = true;
            at_start = false;
            loop {
                match chars.next() {
                    None => return Err("extraneous or missing \" in quoted-field".into()),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            match chars.peek() {
                None | Some(',') => {}
                Some('\n') | Some('\r') => {}
                Some(_) => return Err("extraneous or missing \" in quoted-field".into()),
            }
            continue;
        }
        at_start = false;
        match c {
            ',' => {
                fields.push(std::mem::take(&mut field));
                at_start = true;
                quoted_field = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                if chars.peek().is_some() {
                    return Err(
                        "incorrect mount format: should be --mount type=<bind|glob|tmpfs|volume>,[src=<host-dir|volume-name>,]target=<ctr-dir>[,options]"
                            .into(),
                    );
                }
                fields.push(std::mem::take(&mut field));
                return Ok(fields);
            }
            '"' if !quoted_field => return Err("bare \" in non-quoted-field".into()),
            c => field.push(c),
        }
    }
    Ok(fields)
}

/// Join fields into one CSV record, quoting where Go's csv.Writer would.
pub fn write_record<S: AsRef<str>>(fields: &[S]) -> String {
    let mut out = String::new();
    for (i, f) in fields.iter().enumerate() {
        let f = f.as_ref();
        if i > 0 {
            out.push(',');
        }
        if needs_quotes(f) {
            out.push('"');
            out.push_str(&f.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(f);
        }
    }
    out
}

fn needs_quotes(f: &str) -> bool {
    if f.is_empty() {
        return false;
    }
    f == "\\." || f.contains([',', '"', '\r', '\n']) || f.starts_with(|c: char| c.is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_quoted_fields() {
        assert_eq!(
            parse_record("type=bind,src=/a,dst=/b").unwrap(),
            ["type=bind", "src=/a", "dst=/b"]
        );
        assert_eq!(parse_record(r#""a,b",c"#).unwrap(), ["a,b", "c"]);
        assert_eq!(
            parse_record(r#""say ""hi""",x"#).unwrap(),
            [r#"say "hi""#, "x"]
        );
        assert!(parse_record(r#"a"b"#).is_err());
        assert!(parse_record(r#""abc"#).is_err());
    }

    #[test]
    fn writes_back_what_it_reads() {
        let f = ["type=bind", "source=/a,b", r#"x="y""#, " lead"];
        assert_eq!(parse_record(&write_record(&f)).unwrap(), f);
        assert_eq!(write_record(&["a", "b"]), "a,b");
    }
}

//! `continuation-line`: continuation lines in Quadlet inputs that Podman's Quadlet (whose
//! reading the generator follows) and systemd read differently. Podman drops the trailing
//! backslash and appends the next line with nothing between, after any trailing backslash,
//! skipping blank lines; systemd replaces an unescaped one with a space and stops at a blank
//! line. Written with a blank before a single backslash and no blank line inside, a value
//! reads the same under both.

use std::path::Path;

use super::{Finding, Severity};

const RULE: &str = "continuation-line";

/// The findings in `text`, a Quadlet input or drop-in at `path` (`unit`: the unit it makes).
pub fn check(path: &Path, text: &str, unit: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let finding = |line: usize, message: &str, fix: &str| Finding {
        rule: RULE,
        severity: Severity::Warning,
        file: path.to_path_buf(),
        line,
        unit: unit.to_string(),
        message: message.to_string(),
        fix: fix.to_string(),
    };
    let lines: Vec<&str> = text.lines().collect();
    // Inside a continuation: what Podman skips there (comments, blank lines) is not a line.
    let mut continued = false;
    for (i, raw) in lines.iter().enumerate() {
        let line = raw.trim();
        let comment = line.starts_with('#') || line.starts_with(';');
        if continued && (comment || line.is_empty()) {
            if line.is_empty() {
                out.push(finding(
                    i + 1,
                    "a blank line inside a continuation: Podman's Quadlet (and unitsmith) skip it and read the \
                     value on from the next line; systemd ends the value at the blank line",
                    "remove the blank line, or end the value on the line before it (no trailing backslash)",
                ));
            }
            continue;
        }
        if comment || !line.ends_with('\\') {
            continued = false;
            continue;
        }
        continued = true;
        let backslashes = line.len() - line.trim_end_matches('\\').len();
        let before = line[..line.len() - 1].chars().next_back();
        // On the last line there is nothing to join: only the escaped backslash differs.
        let last = i + 1 == lines.len();
        if backslashes % 2 == 0 {
            out.push(finding(
                i + 1,
                "the line ends in an escaped backslash (\\\\): systemd reads a literal backslash and ends the \
                 value here; Podman's Quadlet (and unitsmith) drop one backslash and append the next line to it",
                "write the value on one line, or end it with a blank and a single backslash to continue it",
            ));
        } else if !last && before.is_some_and(|c| !c.is_whitespace()) {
            out.push(finding(
                i + 1,
                "a continuation with no blank before its backslash: Podman's Quadlet (and unitsmith) append \
                 the next line with nothing between (Environment=A=1\\ then B=2 is one variable, A=1B=2), \
                 systemd with a space (two words)",
                "put a blank before the backslash (A=1 \\) so both read the same words, or write the value \
                 on one line if the words were meant to be joined",
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<usize> {
        check(Path::new("/q/x.container"), text, "x.service")
            .iter()
            .map(|f| f.line)
            .collect()
    }

    #[test]
    fn a_backslash_right_after_the_value_is_reported() {
        assert_eq!(lines("[Container]\nEnvironment=A=1\\\nB=2\n"), [2]);
        assert_eq!(lines("[Container]\nExec=a \\\n  b\\\n  c\n"), [3]);
        // Three backslashes: systemd continues too, but with a space after the escaped one.
        assert_eq!(lines("[Container]\nExec=a\\\\\\\nb\n"), [2]);
    }

    #[test]
    fn a_blank_before_the_backslash_reads_the_same_everywhere() {
        assert!(lines("[Container]\nExec=a \\\n\t# note\n  b \\\n  c\n").is_empty());
        assert!(lines("[Container]\nExec=a \t\\\nb\n").is_empty());
        // A lone backslash and the last line of a file join nothing differently.
        assert!(lines("[Container]\nExec=a \\\n\\\nb\n").is_empty());
        assert!(lines("[Container]\nExec=a\\").is_empty());
    }

    #[test]
    fn comments_never_continue() {
        assert!(lines("[Container]\n# see\\\nImage=x\n; also\\\n").is_empty());
    }

    #[test]
    fn an_escaped_backslash_and_a_blank_line_inside_are_reported() {
        assert_eq!(lines("[Container]\nExec=a\\\\\nb\n"), [2]);
        // (on the last line too: Podman drops one of the two backslashes there)
        assert_eq!(
            lines("[Container]\nExec=a \\\n\n  b\nImage=x\\\\\n"),
            [3, 5]
        );
        let f = check(Path::new("/q/x.container"), "[C]\nK=a\\\nb\n", "x.service");
        assert_eq!(f[0].rule, "continuation-line");
        assert_eq!(f[0].severity, Severity::Warning);
        assert!(
            f[0].fix.contains("put a blank before the backslash"),
            "{}",
            f[0].fix
        );
    }
}

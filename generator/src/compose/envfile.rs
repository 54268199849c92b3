//! `env_file:` read as Docker Compose reads it, handed to Podman without its values ever
//! going into a unit.
//!
//! Compose reads an env file with its dotenv parser (quotes, escapes, `export`, comments,
//! interpolation from the file's earlier variables and the project's `.env`); Podman's
//! `--env-file` takes each line `KEY=VALUE` as it is. So the generator checks each file (an
//! error names its line, never a value), and the unit's `unitsmith compose env-file` step
//! reads them again when the container starts and writes what Compose read, in the form
//! Podman reads, to a file only the unit's user can read (`0600`, in the manager's runtime
//! directory); `podman run --env-file` reads that.

use std::path::{Path, PathBuf};

use super::dotenv;
use super::interpolate::Vars;
use crate::budget::Budget;

/// One `env_file:` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvFile {
    pub path: PathBuf,
    /// `required: false`: a missing file is skipped.
    pub required: bool,
    /// `format: raw`: `KEY=VALUE` lines taken as written (docker run --env-file's format).
    pub raw: bool,
}

impl EnvFile {
    /// As the `env-file` step takes it: the path, after `optional:`, `raw:` or
    /// `optional,raw:` when those apply (a path is absolute, so what precedes its `/` is
    /// never part of it).
    pub fn arg(&self) -> String {
        let flags = match (self.required, self.raw) {
            (true, false) => "",
            (false, false) => "optional:",
            (true, true) => "raw:",
            (false, true) => "optional,raw:",
        };
        format!("{flags}{}", self.path.display())
    }

    /// The inverse of [`EnvFile::arg`].
    pub fn from_arg(arg: &str) -> Result<EnvFile, String> {
        let at = arg.find('/').unwrap_or(arg.len());
        let (flags, path) = arg.split_at(at);
        if path.is_empty() {
            return Err(format!("{arg}: not an absolute path"));
        }
        let mut f = EnvFile {
            path: PathBuf::from(path),
            required: true,
            raw: false,
        };
        for flag in flags.strip_suffix(':').unwrap_or(flags).split(',') {
            match flag {
                "" => {}
                "optional" => f.required = false,
                "raw" => f.raw = true,
                other => return Err(format!("{arg}: unknown flag \"{other}\" (optional, raw)")),
            }
        }
        Ok(f)
    }
}

/// Podman's `--env-file` reads lines of at most 64 KiB (Go's `bufio.Scanner`).
const PODMAN_LINE_MAX: usize = 64 * 1024 - 1;

/// The variables of `env_file:` files in order, and the warnings.
pub type ReadAll = (Vec<(String, String)>, Vec<String>);

/// The variables the files give, in order (a later file's value wins), as Compose reads
/// them with the project's variables `project`; warnings (unset variables) with their
/// `file:line`. An error names the file, the line and the variable, never a value.
pub fn read_all(files: &[EnvFile], project: &Vars, budget: &Budget) -> Result<ReadAll, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut warnings = Vec::new();
    // What the next file's interpolation sees: the project's variables, then the earlier files'.
    let mut scope = project.clone();
    for f in files {
        if std::fs::symlink_metadata(&f.path).is_err() && !f.required {
            continue;
        }
        let text = super::read(&f.path, false, budget)?;
        let parsed = if f.raw {
            raw(&text).map(|v| (v, Vec::new()))
        } else {
            dotenv::parse_with(&text, &scope)
        };
        let (vars, w) = parsed.map_err(|e| {
            format!(
                "{}:{}: {}\n  hint: an env_file holds VAR=VALUE lines, read as docker compose reads them",
                f.path.display(),
                e.line,
                e.message
            )
        })?;
        for e in w {
            warnings.push(format!("{}:{}: {}", f.path.display(), e.line, e.message));
        }
        let lines = defining_lines(&text);
        // In the file's order: the output is stable, and a reader can follow it.
        let mut ordered: Vec<(String, String)> = vars.into_iter().collect();
        ordered.sort_by_key(|(k, _)| lines.iter().position(|l| l == k).unwrap_or(usize::MAX));
        for (k, v) in ordered {
            if let Some(why) = unwritable(&k, &v) {
                let line = line_of(&text, &k);
                return Err(format!(
                    "{}:{line}: {k}: {why}\n  hint: podman run --env-file reads one line per variable; pass such a value in a secret (secrets:) or a mounted file",
                    f.path.display()
                ));
            }
            scope.insert(k.clone(), v.clone());
            out.retain(|(ok, _)| *ok != k);
            out.push((k, v));
        }
    }
    Ok((out, warnings))
}

/// `format: raw` (docker's own env-file format): `KEY=VALUE`, the value as written.
fn raw(text: &str) -> Result<Vars, dotenv::LineError> {
    let mut vars = Vars::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim_start();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let err = |m: &str| dotenv::LineError {
            line: i + 1,
            message: m.to_string(),
        };
        let Some((k, v)) = l.split_once('=') else {
            return Err(err("a name without '=': Docker takes its value from its own environment, which a unit does not have; write NAME=VALUE"));
        };
        if k.is_empty() || k.contains(char::is_whitespace) {
            return Err(err("not a variable name before '='"));
        }
        vars.insert(k.to_string(), v.to_string());
    }
    Ok(vars)
}

/// Why Podman's `--env-file` could not carry this variable, if it cannot.
fn unwritable(key: &str, value: &str) -> Option<&'static str> {
    if key.contains('=') || key.ends_with('*') {
        Some("a name Podman's --env-file reads differently")
    } else if value.contains('\n') {
        Some("the value has a line break, which Podman's --env-file cannot carry")
    } else if value.ends_with('\r') {
        Some("the value ends in a carriage return, which Podman's --env-file drops")
    } else if value.contains('\0') {
        Some("the value has a NUL byte, which no environment can carry")
    } else if key.len() + 1 + value.len() > PODMAN_LINE_MAX {
        Some("the value is longer than the 64 KiB line Podman's --env-file reads")
    } else {
        None
    }
}

/// The variables a file defines, by the line they start on (for the order and for errors).
fn defining_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            let l = l.trim_start();
            let l = match l.strip_prefix("export") {
                Some(rest) if rest.starts_with([' ', '\t']) => rest.trim_start(),
                _ => l,
            };
            l.split(['=', ':'])
                .next()
                .unwrap_or_default()
                .trim_end()
                .to_string()
        })
        .collect()
}

/// The line defining `key` (its last), 0 when it is not found.
fn line_of(text: &str, key: &str) -> usize {
    defining_lines(text)
        .iter()
        .rposition(|k| k == key)
        .map_or(0, |i| i + 1)
}

/// The variables as Podman's `--env-file` reads them: `KEY=VALUE` lines.
pub fn podman_format(vars: &[(String, String)]) -> String {
    let mut s = String::new();
    for (k, v) in vars {
        s.push_str(k);
        s.push('=');
        s.push_str(v);
        s.push('\n');
    }
    s
}

/// The project's variables, from its `.env` (none when there is no such file).
pub fn project_vars(dotenv: Option<&Path>, budget: &Budget) -> Result<Vars, String> {
    let Some(path) = dotenv else {
        return Ok(Vars::new());
    };
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(Vars::new());
    }
    let text = super::read(path, false, budget)?;
    dotenv::parse(&text)
        .map(|(v, _)| v)
        .map_err(|e| format!("{}:{}: {}", path.display(), e.line, e.message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(test: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("unitsmith-envfile-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn file(d: &Path, name: &str, text: &str) -> EnvFile {
        std::fs::write(d.join(name), text).unwrap();
        EnvFile {
            path: d.join(name),
            required: true,
            raw: false,
        }
    }

    #[test]
    fn read_as_compose_written_as_podman_reads() {
        let d = dir("read");
        let a = file(
            &d,
            "a.env",
            "# c\nexport A=\"quoted # not a comment\"\nB='$A'\nC=${P}-$A\nD=x # comment\n",
        );
        let b = file(&d, "b.env", "A=override\nE=$C\n");
        let missing = EnvFile {
            path: d.join("none.env"),
            required: false,
            raw: false,
        };
        let project: Vars = [("P".to_string(), "proj".to_string())]
            .into_iter()
            .collect();
        let (vars, w) = read_all(&[a, missing, b], &project, &Budget::default()).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(
            podman_format(&vars),
            "B=$A\nC=proj-quoted # not a comment\nD=x\nA=override\nE=proj-quoted # not a comment\n"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn raw_files_and_step_arguments() {
        let d = dir("raw");
        let mut f = file(&d, "r.env", "# c\nA=\"q\" $X # kept\n  B==x\n");
        f.raw = true;
        let (vars, _) =
            read_all(std::slice::from_ref(&f), &Vars::new(), &Budget::default()).unwrap();
        assert_eq!(podman_format(&vars), "A=\"q\" $X # kept\nB==x\n");
        let alone = file(&d, "n.env", "NAME\n");
        let e = read_all(
            &[EnvFile { raw: true, ..alone }],
            &Vars::new(),
            &Budget::default(),
        )
        .unwrap_err();
        assert!(e.contains("n.env:1: a name without '='"), "{e}");
        for (required, raw, arg) in [
            (true, false, "/x/a.env"),
            (false, false, "optional:/x/a.env"),
            (true, true, "raw:/x/a.env"),
            (false, true, "optional,raw:/x/a.env"),
        ] {
            let f = EnvFile {
                path: PathBuf::from("/x/a.env"),
                required,
                raw,
            };
            assert_eq!(f.arg(), arg);
            assert_eq!(EnvFile::from_arg(arg).unwrap(), f);
        }
        assert!(EnvFile::from_arg("bogus:/x").is_err());
        assert!(EnvFile::from_arg("relative").is_err());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn what_podman_cannot_carry_is_refused_by_line_without_the_value() {
        let d = dir("refuse");
        let f = file(&d, "a.env", "OK=1\nPEM=\"-----BEGIN\\nS3kr1t\"\n");
        let e = read_all(&[f], &Vars::new(), &Budget::default()).unwrap_err();
        assert!(
            e.contains("a.env:2: PEM: the value has a line break"),
            "{e}"
        );
        assert!(!e.contains("S3kr1t") && !e.contains("BEGIN"), "{e}");
        let f = file(&d, "b.env", "CR=\"x\\r\"\n");
        let e = read_all(&[f], &Vars::new(), &Budget::default()).unwrap_err();
        assert!(
            e.contains("b.env:1: CR: the value ends in a carriage return"),
            "{e}"
        );
        let f = file(&d, "c.env", "OPEN=\"never closed\n");
        let e = read_all(&[f], &Vars::new(), &Budget::default()).unwrap_err();
        assert!(e.contains("c.env:1:"), "{e}");
        let gone = EnvFile {
            path: d.join("gone.env"),
            required: true,
            raw: false,
        };
        assert!(read_all(&[gone], &Vars::new(), &Budget::default()).is_err());
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// Each value Podman's `--env-file` cannot carry is refused, at the line of its name, and
    /// a line at the limit is not.
    #[test]
    fn each_value_podman_cannot_carry() {
        let d = dir("carry");
        let refused = |name: &str, text: &str, raw: bool| {
            let f = EnvFile {
                raw,
                ..file(&d, name, text)
            };
            read_all(&[f], &Vars::new(), &Budget::default()).unwrap_err()
        };
        let e = refused("star.env", "# c\nA*=1\n", true);
        assert!(e.contains("star.env:2: A*: a name Podman's"), "{e}");
        let e = refused("nul.env", "OK=1\nNUL=\"a\\0000b\"\n", false);
        assert!(
            e.contains("nul.env:2: NUL: the value has a NUL byte"),
            "{e}"
        );
        // Podman reads lines of at most 64 KiB - 1 bytes (65535): `K=` and the value.
        let at_limit = format!("K={}\n", "v".repeat(65533));
        let over = format!("K={}\n", "v".repeat(65534));
        let f = file(&d, "limit.env", &at_limit);
        let (vars, _) = read_all(&[f], &Vars::new(), &Budget::default()).unwrap();
        assert_eq!(podman_format(&vars), at_limit);
        let e = refused("long.env", &over, false);
        assert!(e.contains("long.env:1: K: the value is longer than"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// An exported variable's error names its line too.
    #[test]
    fn an_exported_variable_is_found_by_its_line() {
        assert_eq!(line_of("A=1\nexport\tB=2\nC=3\n", "B"), 2);
        assert_eq!(line_of("exporter=1\n", "exporter"), 1);
        assert_eq!(line_of("A=1\n", "B"), 0);
        let d = dir("export");
        let f = file(&d, "a.env", "A=1\nexport PEM=\"a\\nb\"\n");
        let e = read_all(&[f], &Vars::new(), &Budget::default()).unwrap_err();
        assert!(
            e.contains("a.env:2: PEM: the value has a line break"),
            "{e}"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// `format: raw` refuses a line without a name before its `=`.
    #[test]
    fn raw_names() {
        for (text, line) in [("=x\n", 1), ("A=1\nA B=2\n", 2), ("A\tB=1\n", 1)] {
            let e = raw(text).unwrap_err();
            assert_eq!(
                (e.line, e.message.as_str()),
                (line, "not a variable name before '='"),
                "{text:?}"
            );
        }
        assert_eq!(raw("  A= x \n").unwrap()["A"], " x ");
    }

    /// The project's `.env`: none is no variables; an error names the file and the line.
    #[test]
    fn the_projects_variables() {
        let d = dir("project");
        let budget = Budget::default();
        assert!(project_vars(None, &budget).unwrap().is_empty());
        assert!(project_vars(Some(&d.join("none")), &budget)
            .unwrap()
            .is_empty());
        std::fs::write(d.join(".env"), "A=1\nB=${A}2\n").unwrap();
        let v = project_vars(Some(&d.join(".env")), &budget).unwrap();
        assert_eq!((v["A"].as_str(), v["B"].as_str()), ("1", "12"));
        std::fs::write(d.join("bad.env"), "A=1\nB='open\n").unwrap();
        let e = project_vars(Some(&d.join("bad.env")), &budget).unwrap_err();
        assert!(
            e.ends_with("bad.env:2: B: the single quote is never closed"),
            "{e}"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}

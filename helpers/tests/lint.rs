//! `unitsmith lint` over the fixture trees in tests/lint/: one directory per rule, with
//! `bad/` (must give exactly the findings listed in `expected`: FILE:LINE SEVERITY RULE) and
//! its clean twin `clean/` (must give no finding at all). The binary is run as a user would,
//! from the rule's directory, so paths in the output are `bad/...`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/lint")
}

fn rules() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(fixtures())
        .expect("tests/lint")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    assert!(v.len() >= 13, "fixture directories missing: {v:?}");
    v
}

fn lint(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_unitsmith"))
        .arg("lint")
        .args(args)
        .current_dir(dir)
        .env_remove("UNITSMITH_UNIT_DIRS")
        .env_remove("QUADLET_UNIT_DIRS")
        .output()
        .expect("run unitsmith")
}

/// `FILE:LINE SEVERITY RULE` of each finding in the text output (`LOC: SEVERITY: UNIT: MESSAGE [RULE]`).
fn findings(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with("lint:") && !l.is_empty())
        .map(|l| {
            let (loc, sev) = [": error: ", ": warning: "]
                .iter()
                .find_map(|s| l.find(s).map(|i| (&l[..i], s.trim_matches([':', ' ']))))
                .unwrap_or_else(|| panic!("not a finding line: {l}"));
            let rule = l
                .rsplit_once('[')
                .map(|(_, r)| r.trim_end_matches(']'))
                .unwrap_or("?");
            format!("{loc} {sev} {rule}")
        })
        .collect()
}

fn expected(rule_dir: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(rule_dir.join("expected"))
        .expect("expected file")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .collect()
}

#[test]
fn each_rule_finds_its_bad_tree_and_nothing_in_its_clean_twin() {
    let mut failures = Vec::new();
    for rule in rules() {
        let dir = fixtures().join(&rule);
        let want = expected(&dir);
        assert!(!want.is_empty(), "{rule}: expected lists no finding");
        for w in &want {
            assert!(
                w.ends_with(&format!(" {rule}")),
                "{rule}/expected: {w} is another rule's finding"
            );
        }
        let out = lint(&dir, &["bad"]);
        let got = findings(&String::from_utf8_lossy(&out.stdout));
        if got != want {
            failures.push(format!(
                "{rule}/bad:\n  missing: {:?}\n  unexpected: {:?}\n  output:\n{}",
                want.difference(&got).collect::<Vec<_>>(),
                got.difference(&want).collect::<Vec<_>>(),
                String::from_utf8_lossy(&out.stdout)
            ));
        }
        let has_error = want.iter().any(|w| w.contains(" error "));
        if out.status.code() != Some(if has_error { 1 } else { 0 }) {
            failures.push(format!(
                "{rule}/bad: exit status {:?}, errors expected: {has_error}",
                out.status.code()
            ));
        }
        let out = lint(&dir, &["clean"]);
        let got = findings(&String::from_utf8_lossy(&out.stdout));
        if !got.is_empty() || out.status.code() != Some(0) {
            failures.push(format!(
                "{rule}/clean: expected no finding, got {got:?} (exit {:?})\n{}{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_finding_says_why_and_how_to_fix() {
    for rule in rules() {
        let out = lint(&fixtures().join(&rule), &["bad"]);
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines().peekable();
        while let Some(l) = lines.next() {
            if l.starts_with("lint:") || l.starts_with(' ') {
                continue;
            }
            let msg = l.split(": ").skip(3).collect::<Vec<_>>().join(": ");
            assert!(msg.len() > 30, "{rule}: explanation too short: {l}");
            let fix = lines.next().unwrap_or("");
            assert!(
                fix.starts_with("    fix: ") && fix.len() > 15,
                "{rule}: no fix after {l}: {fix:?}"
            );
        }
    }
}

/// The JSON output has the same findings, with file and line as fields.
#[test]
fn json_output() {
    for rule in rules() {
        let dir = fixtures().join(&rule);
        let out = lint(&dir, &["--json", "bad"]);
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(
            text.starts_with("{\"units\":") && text.ends_with('}') && !text.contains('\n'),
            "{rule}: {text}"
        );
        let mut got = BTreeSet::new();
        for obj in text.split("{\"rule\":").skip(1) {
            let field = |name: &str| -> String {
                let key = format!("\"{name}\":");
                let at = obj
                    .find(&key)
                    .unwrap_or_else(|| panic!("{rule}: no {name} in {obj}"))
                    + key.len();
                let rest = &obj[at..];
                if let Some(s) = rest.strip_prefix('"') {
                    s[..s.find('"').unwrap()].to_string()
                } else {
                    rest[..rest.find([',', '}']).unwrap()].to_string()
                }
            };
            let rule_name = obj[1..obj[1..].find('"').unwrap() + 1].to_string();
            for f in ["message", "fix", "unit"] {
                assert!(!field(f).is_empty(), "{rule}: empty {f}");
            }
            got.insert(format!(
                "{}:{} {} {rule_name}",
                field("file"),
                field("line"),
                field("severity")
            ));
        }
        assert_eq!(got, expected(&dir), "{rule}: JSON findings");
    }
}

/// `--help` documents every rule there is a fixture for.
#[test]
fn help_lists_every_rule() {
    let out = Command::new(env!("CARGO_BIN_EXE_unitsmith"))
        .args(["lint", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for rule in rules() {
        assert!(help.contains(&rule), "lint --help does not mention {rule}");
    }
}

#[test]
fn a_missing_path_is_a_usage_error() {
    let out = lint(&fixtures(), &["no-such-dir"]);
    assert_eq!(out.status.code(), Some(2));
}

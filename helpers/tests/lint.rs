//! `unitsmith lint` over the fixture trees in tests/lint/: one directory per rule, with
//! `bad/` (must give exactly the findings listed in `expected`: FILE:LINE SEVERITY RULE) and
//! its clean twin `clean/` (must give no finding at all). Where systemd releases differ, a
//! rule also has `by-release/`, linted with `--systemd-version N` for each release listed in
//! `by-release.expected`. The binary is run as a user would, from the rule's directory, so
//! paths in the output are `bad/...`.

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
            text.starts_with("{\"schema\":1,\"units\":")
                && text.ends_with('}')
                && !text.contains('\n'),
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
            // Line 0 (the file or directory as a whole) is written without it, as in the text.
            let line = field("line");
            got.insert(format!(
                "{}{} {} {rule_name}",
                field("file"),
                if line == "0" {
                    String::new()
                } else {
                    format!(":{line}")
                },
                field("severity")
            ));
        }
        assert_eq!(got, expected(&dir), "{rule}: JSON findings");
    }
}

/// `by-release.expected`: the releases of its `releases:` line, and each
/// `N FILE:LINE SEVERITY RULE` line as (N, finding).
struct ByRelease {
    releases: Vec<u32>,
    lines: Vec<(u32, String)>,
}

fn expected_by_release(rule_dir: &Path) -> Option<ByRelease> {
    let text = std::fs::read_to_string(rule_dir.join("by-release.expected")).ok()?;
    let mut releases = Vec::new();
    let mut lines = Vec::new();
    for l in text.lines().map(str::trim) {
        if l.starts_with('#') || l.is_empty() {
            continue;
        }
        if let Some(list) = l.strip_prefix("releases:") {
            releases = list
                .split_whitespace()
                .map(|v| v.parse().expect("a release number"))
                .collect();
            continue;
        }
        let (v, finding) = l.split_once(' ').expect("N FILE:LINE SEVERITY RULE");
        lines.push((v.parse().expect("a release number"), finding.to_string()));
    }
    assert!(
        !releases.is_empty(),
        "{}: no releases: line",
        rule_dir.display()
    );
    Some(ByRelease { releases, lines })
}

/// Where systemd releases differ (a key added, a value a newer parser takes, a refusal
/// dropped), each rule's `by-release/` tree gives exactly the findings of that rule listed
/// for each release, and none where no line is listed.
#[test]
fn each_rule_follows_the_release_judged_by() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for rule in rules() {
        let dir = fixtures().join(&rule);
        let Some(ByRelease { releases, lines }) = expected_by_release(&dir) else {
            continue;
        };
        for v in releases {
            let want: BTreeSet<String> = (lines.iter())
                .filter(|(at, _)| *at == v)
                .map(|(_, f)| f.clone())
                .collect();
            let out = lint(&dir, &["--systemd-version", &v.to_string(), "by-release"]);
            let text = String::from_utf8_lossy(&out.stdout);
            let got: BTreeSet<String> = findings(&text)
                .into_iter()
                .filter(|f| f.ends_with(&format!(" {rule}")))
                .collect();
            if got != want {
                failures.push(format!(
                    "{rule}/by-release at systemd {v}:\n  missing: {:?}\n  unexpected: {:?}\n{text}",
                    want.difference(&got).collect::<Vec<_>>(),
                    got.difference(&want).collect::<Vec<_>>()
                ));
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 10,
        "only {checked} rule/release runs: fixtures missing"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
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

/// The releases lint has keys for (the `versions` line of its data).
fn releases() -> Vec<u32> {
    let data =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lint/keys.txt"))
            .expect("keys.txt");
    let line = data
        .lines()
        .find_map(|l| l.strip_prefix("versions "))
        .expect("a versions line");
    let (oldest, newest) = line.split_once(' ').expect("OLDEST NEWEST");
    let (oldest, newest): (u32, u32) = (oldest.parse().unwrap(), newest.parse().unwrap());
    assert!(oldest <= 252 && newest >= 262, "{oldest}..{newest}");
    (oldest..=newest).collect()
}

/// A typo is a typo for every release: `Restrat=` is caught, with its did-you-mean.
#[test]
fn a_typo_is_caught_by_every_release() {
    let dir = fixtures().join("unknown-key");
    for v in releases() {
        let out = lint(&dir, &["--systemd-version", &v.to_string(), "bad"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("bad/typo.service:7: warning: typo.service: unknown key Restrat= in [Service]: systemd ignores it [unknown-key]\n    fix: did you mean Restart=?"),
            "systemd {v}:\n{text}"
        );
    }
}

/// A key a newer systemd added is named as such, not as a mistake: "added in systemd 262;
/// systemd 252 here ignores it".
#[test]
fn a_key_a_newer_release_added_says_which() {
    let dir = fixtures().join("unknown-key");
    let out = lint(&dir, &["--systemd-version", "252", "by-release"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for (line, key, section, added) in [
        ("varlink.socket:3", "XAttrEntryPoint", "Socket", 262),
        ("app.service:3", "ConditionKernelModuleLoaded", "Unit", 258),
        ("app.service:7", "RestartMode", "Service", 254),
    ] {
        let want = format!(
            "by-release/{line}: warning: {}: unknown key {key}= in [{section}]: added in systemd {added}; systemd 252 here ignores it [unknown-key]",
            line.split(':').next().unwrap()
        );
        assert!(text.contains(&want), "no {want:?} in:\n{text}");
    }
    assert!(!text.contains("did you mean XAttr"), "{text}");
}

/// The report says which release it judged by, and where that came from: text and JSON.
#[test]
fn the_report_names_the_release_judged_by() {
    let dir = fixtures().join("unknown-key");
    let out = lint(&dir, &["--systemd-version", "257", "clean"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("lint: judged by systemd 257 (--systemd-version)\n"),
        "{text}"
    );
    let out = lint(&dir, &["--json", "--systemd-version", "257", "clean"]);
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(
        json.contains(r#""systemd":{"judged_by":257,"found":257,"from":"--systemd-version"}"#),
        "{json}"
    );
    // A release newer than the data: judged by the newest table, and said so.
    let newest = *releases().last().unwrap();
    let out = lint(&dir, &["--systemd-version", "999", "clean"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("lint: judged by systemd {newest} tables: systemd 999 (--systemd-version) is newer than the newest")),
        "{text}"
    );
}

//! Golden tests: each `tests/golden/NAME/` holds `input/` (the search path), and the
//! expected result of running the generator binary on it: `expected/` (the output tree,
//! unit files and symlinks, compared exactly), `exit-status`, and `messages` (what it logged,
//! PIDs and the input path normalised).
//!
//! `UPDATE_GOLDEN=1 cargo test --test golden` (or `make golden-update`) rewrites the expected
//! files; review the diff before committing.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn golden_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/golden")
}

/// Every file and symlink under `dir`: relative path → contents, or `-> target` for links.
fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            let ft = e.file_type().unwrap();
            if ft.is_symlink() {
                out.insert(rel, format!("-> {}", fs::read_link(&p).unwrap().display()));
            } else if ft.is_dir() {
                walk(base, &p, out);
            } else {
                out.insert(
                    rel,
                    fs::read_to_string(&p).unwrap_or_else(|_| "<binary>".into()),
                );
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

fn write_snapshot(dir: &Path, snap: &BTreeMap<String, String>) {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir).unwrap();
    for (rel, content) in snap {
        let p = dir.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        match content.strip_prefix("-> ") {
            Some(target) => std::os::unix::fs::symlink(target, &p).unwrap(),
            None => fs::write(&p, content).unwrap(),
        }
    }
}

fn normalise(text: &str, input: &Path) -> String {
    let input = input.to_string_lossy();
    let mut out = String::new();
    for line in text.lines() {
        let line = line.replace(input.as_ref(), "$INPUT");
        // `unitsmith-generator[1234]: msg` → `msg`
        let line = match line.split_once("]: ") {
            Some((head, rest)) if head.starts_with("unitsmith-generator[") => rest.to_string(),
            _ => line,
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn run_case(case: &Path, update: bool) -> Result<(), String> {
    let input =
        fs::canonicalize(case.join("input")).map_err(|e| format!("{}: {e}", case.display()))?;
    let out = tempdir(case);
    let bin = env!("CARGO_BIN_EXE_unitsmith-generator");
    let res = Command::new(bin)
        .arg("--no-kmsg-log")
        .arg(&out)
        .env_clear()
        .env("QUADLET_UNIT_DIRS", &input)
        .env("PODMAN", "/usr/bin/podman")
        .env("SYSTEMD_LOG_LEVEL", "info")
        .output()
        .map_err(|e| e.to_string())?;
    let status = res
        .status
        .code()
        .map_or("signal".to_string(), |c| c.to_string());
    let messages = normalise(&String::from_utf8_lossy(&res.stderr), &input);
    let mut snap = snapshot(&out);
    for v in snap.values_mut() {
        *v = normalise(v, &input);
    }
    let _ = fs::remove_dir_all(&out);
    if update {
        write_snapshot(&case.join("expected"), &snap);
        fs::write(case.join("exit-status"), format!("{status}\n")).unwrap();
        fs::write(case.join("messages"), &messages).unwrap();
        return Ok(());
    }
    let mut problems = Vec::new();
    let want_status = fs::read_to_string(case.join("exit-status")).unwrap_or_default();
    if want_status.trim() != status {
        problems.push(format!(
            "exit status {status}, expected {}",
            want_status.trim()
        ));
    }
    let want_messages = fs::read_to_string(case.join("messages")).unwrap_or_default();
    if want_messages != messages {
        problems.push(format!(
            "messages differ:\n--- expected\n{want_messages}--- got\n{messages}"
        ));
    }
    let want = snapshot(&case.join("expected"));
    for (k, v) in &want {
        match snap.get(k) {
            None => problems.push(format!("missing {k}")),
            Some(g) if g != v => {
                problems.push(format!("{k} differs:\n--- expected\n{v}--- got\n{g}"))
            }
            _ => {}
        }
    }
    for k in snap.keys().filter(|k| !want.contains_key(*k)) {
        problems.push(format!("unexpected {k}"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

fn tempdir(case: &Path) -> PathBuf {
    let name = case.file_name().unwrap().to_string_lossy();
    let d = std::env::temp_dir().join(format!("unitsmith-golden-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn golden() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut cases: Vec<PathBuf> = fs::read_dir(golden_root())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no golden cases found");
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(e) = run_case(case, update) {
            failures.push(format!(
                "== {}\n{e}",
                case.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

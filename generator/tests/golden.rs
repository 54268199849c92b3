//! Golden tests: each `tests/golden/NAME/` holds `input/` (the search path), and the
//! expected result of running the generator binary on it: `expected/` (the output tree,
//! unit files and symlinks, compared exactly), `exit-status`, and `messages` (what it logged,
//! PIDs and the input path normalised).
//!
//! `UPDATE_GOLDEN=1 cargo test --test golden` (or `make golden-update`) rewrites the expected
//! files; review the diff before committing.
//!
//! Files git cannot hold (FIFOs, sockets, names that are not UTF-8, files over the size
//! limit, dangling symlinks) are described in the case's `make-special`, one per line:
//!
//! ```text
//! fifo PATH            a FIFO (named pipe)
//! socket PATH          a listening-socket file
//! dir PATH             a directory
//! symlink PATH TARGET  a symlink (TARGET as written)
//! file PATH TEXT       a regular file holding TEXT (`\n` for line breaks)
//! big PATH BYTES       a regular file of BYTES bytes (a [Container] and blank lines)
//! ```
//!
//! PATH is relative to `input/`; `\xNN` in PATH or TARGET is the byte NN (`bad\xffname`).
//!
//! A case's `podman-version` (e.g. `4.3.1`) is the Podman release it generates for
//! (`UNITSMITH_PODMAN_VERSION`); without one, no release is known and the generator assumes the
//! one it matches, as on a host without a record. Two cases may share one input (`input` a
//! link to the other's) to show what a release changes.
//! Such a case runs on a copy of `input/` in a temporary directory, with the special files
//! made there (so the source tree never holds them); `$INPUT` in `messages` and `expected/`
//! stands for that copy.

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
    let special = case.join("make-special");
    let input = match special.exists() {
        false => {
            fs::canonicalize(case.join("input")).map_err(|e| format!("{}: {e}", case.display()))?
        }
        true => {
            let copy = tempdir(case).with_extension("input");
            let _ = fs::remove_dir_all(&copy);
            copy_tree(&case.join("input"), &copy)?;
            make_special(&special, &copy)?;
            copy
        }
    };
    let result = run_on(case, &input, update);
    if special.exists() {
        let _ = fs::remove_dir_all(&input);
    }
    result
}

/// Copy a tree of files, directories and symlinks (`input/` may be missing: git holds no
/// empty directory, and a case may consist of special files only).
fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    let Ok(rd) = fs::read_dir(from) else {
        return Ok(());
    };
    for e in rd.flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let ft = e.file_type().map_err(|e| e.to_string())?;
        let made = if ft.is_symlink() {
            fs::read_link(&src).and_then(|t| std::os::unix::fs::symlink(t, &dst))
        } else if ft.is_dir() {
            copy_tree(&src, &dst)?;
            Ok(())
        } else {
            fs::copy(&src, &dst).map(|_| ())
        };
        made.map_err(|e| format!("{}: {e}", dst.display()))?;
    }
    Ok(())
}

/// `\xNN` as the byte NN; everything else as it is.
fn unescape(s: &str) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStringExt;
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 2..i + 4)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (
            b[i],
            b.get(i + 1),
            hex.and_then(|h| u8::from_str_radix(h, 16).ok()),
        ) {
            (b'\\', Some(b'x'), Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    std::ffi::OsString::from_vec(out)
}

/// Make the files `make-special` describes under `root` (see the module comment).
fn make_special(spec: &Path, root: &Path) -> Result<(), String> {
    let text = fs::read_to_string(spec).map_err(|e| format!("{}: {e}", spec.display()))?;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.splitn(3, ' ');
        let (what, rel, arg) = (words.next(), words.next(), words.next());
        let bad = || format!("{}:{}: cannot make {line:?}", spec.display(), n + 1);
        let path = root.join(unescape(rel.ok_or_else(bad)?));
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        let made = match (what, arg) {
            (Some("fifo"), None) => Command::new("mkfifo")
                .arg(&path)
                .status()
                .map_err(|e| e.to_string())
                .and_then(|s| s.success().then_some(()).ok_or_else(bad)),
            (Some("socket"), None) => std::os::unix::net::UnixListener::bind(&path)
                .map(drop)
                .map_err(|e| e.to_string()),
            (Some("dir"), None) => fs::create_dir_all(&path).map_err(|e| e.to_string()),
            (Some("symlink"), Some(target)) => {
                std::os::unix::fs::symlink(unescape(target), &path).map_err(|e| e.to_string())
            }
            (Some("file"), Some(body)) => {
                fs::write(&path, body.replace("\\n", "\n")).map_err(|e| e.to_string())
            }
            (Some("big"), Some(bytes)) => {
                // Blank lines: a file that is read makes a small unit (the expected tree
                // stays small in git).
                let n: usize = bytes.parse().map_err(|_| bad())?;
                let mut body = "[Container]\nImage=quay.io/x/y:1\n"
                    .to_string()
                    .into_bytes();
                body.resize(n.max(body.len()), b'\n');
                fs::write(&path, body).map_err(|e| e.to_string())
            }
            _ => Err(bad()),
        };
        made.map_err(|e| format!("{}:{}: {}: {e}", spec.display(), n + 1, path.display()))?;
    }
    Ok(())
}

fn run_on(case: &Path, input: &Path, update: bool) -> Result<(), String> {
    let input = input.to_path_buf();
    let out = tempdir(case);
    let bin = env!("CARGO_BIN_EXE_unitsmith-generator");
    // stderr to a file, and a time limit: a generator that blocks (on a FIFO, say) fails
    // the case instead of hanging the test.
    let log_path = out.with_extension("stderr");
    let log = fs::File::create(&log_path).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(bin);
    // No record of this machine's podman counts: only the case's own release, if it has one.
    cmd.env_clear()
        .env("UNITSMITH_PODMAN_RECORD", case.join("no-such-record"));
    if let Ok(v) = fs::read_to_string(case.join("podman-version")) {
        cmd.env("UNITSMITH_PODMAN_VERSION", v.trim());
    }
    let mut child = cmd
        .arg("--no-kmsg-log")
        .arg(&out)
        .env("QUADLET_UNIT_DIRS", &input)
        .env("PODMAN", "/usr/bin/podman")
        .env("SYSTEMD_LOG_LEVEL", "info")
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| e.to_string())?;
    let started = std::time::Instant::now();
    let exit = loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(exit) => break exit,
            None if started.elapsed() > std::time::Duration::from_secs(30) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("the generator did not finish within 30 s (killed)".into());
            }
            None => std::thread::sleep(std::time::Duration::from_millis(5)),
        }
    };
    let status = exit.code().map_or("signal".to_string(), |c| c.to_string());
    let stderr = fs::read(&log_path).unwrap_or_default();
    let _ = fs::remove_file(&log_path);
    let messages = normalise(&String::from_utf8_lossy(&stderr), &input);
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

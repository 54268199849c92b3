//! Nothing a file says can add a line to a unit (issue 20, item 2). systemd ends a unit-file
//! line at `\n`, `\r` and NUL (`read_line_full()`); the attack is a dangling link named
//! `cron.container` whose target holds `\r[Service]\rExecStartPre=...`, which became a stub
//! that ran that line at boot. Here every control character (and U+2028/U+2029, which systemd
//! does not treat as line ends) is put where a file can put text into a unit: a link's target
//! (quoted in the stub's error), a file's name (the stub's `SourcePath=`) and a file's text
//! (`Description=`, copied into the unit). Each unit must hold no control character but tab
//! and its line ends, and the real `systemd-analyze verify` must see no injected line.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_unitsmith-generator");

/// What the injected lines would be, for character number `n`: a section, a command that
/// `verify` checks exists, and a key it does not know.
fn injection(c: char, n: u32) -> String {
    format!("x{c}[Service]{c}ExecStartPre=/nonexistent/unitsmith-injected-{n}{c}Injected{n}=1")
}

fn characters() -> Vec<char> {
    (1u32..0x20)
        .chain([0x7f, 0x85, 0x9b, 0x2028, 0x2029])
        .map(|n| char::from_u32(n).unwrap())
        .collect()
}

struct Tmp(PathBuf);

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Inputs for every character, generated into `out`; returns the temporary tree.
fn generate(test: &str) -> (Tmp, PathBuf) {
    let t = Tmp(std::env::temp_dir().join(format!("unitsmith-ctl-{}-{test}", std::process::id())));
    let _ = fs::remove_dir_all(&t.0);
    let input = t.0.join("in");
    let out = t.0.join("out");
    fs::create_dir_all(&input).unwrap();
    fs::create_dir_all(&out).unwrap();
    for c in characters() {
        let n = u32::from(c);
        // A dangling link: its target is quoted in the stub's Description=, Environment=, Error=.
        std::os::unix::fs::symlink(injection(c, n), input.join(format!("link{n}.container")))
            .unwrap();
        // A file name holding the character: a stub under the escaped name, SourcePath= raw.
        let name = format!("name{n}{}.container", injection(c, n).replace('/', "-"));
        fs::write(
            input.join(std::ffi::OsStr::from_bytes(name.as_bytes())),
            "[Container]\nImage=quay.io/a/b:1\n",
        )
        .unwrap();
        // A file's own text: Description= is copied into the unit as it is. (A `\n` there
        // is a line of the input itself, which the author wrote.)
        if c != '\n' {
            fs::write(
                input.join(format!("text{n}.container")),
                format!(
                    "[Unit]\nDescription={}\n# {}\n[Container]\nImage=quay.io/a/b:1\n",
                    injection(c, n),
                    injection(c, n)
                ),
            )
            .unwrap();
        }
    }
    let o = Command::new(BIN)
        .args(["--no-kmsg-log"])
        .args([&out, &out, &out])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("QUADLET_UNIT_DIRS", &input)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        !log.chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t'),
        "the log holds control characters: {log:?}"
    );
    (t, out)
}

fn units(out: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "service"))
        .collect();
    v.sort();
    v
}

#[test]
fn no_character_a_file_holds_adds_a_line_to_a_unit() {
    let (_t, out) = generate("lines");
    let units = units(&out);
    // link + name for each character, text for all but `\n`.
    assert_eq!(units.len(), 3 * characters().len() - 1, "{units:?}");
    for u in &units {
        let text = fs::read_to_string(u).unwrap();
        assert!(
            !text
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t'),
            "{}: {text:?}",
            u.display()
        );
        // Split the way systemd does: no line is a section or key the input injected.
        for line in text.split(['\n', '\r', '\0']) {
            assert!(
                line != "[Service]" || text.matches("\n[Service]\n").count() == 1,
                "{}: {text}",
                u.display()
            );
            assert!(
                !line.starts_with("ExecStartPre=") && !line.starts_with("Injected"),
                "{}: injected line {line:?}\n{text}",
                u.display()
            );
        }
    }
}

/// The real systemd reads every unit and sees nothing injected.
#[test]
fn systemd_analyze_verify_sees_no_injected_line() {
    let found = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED systemd_analyze_verify_sees_no_injected_line: needs systemd-analyze"
        );
        return;
    }
    let (_t, out) = generate("verify");
    let mut unit_path = out.as_os_str().to_owned();
    unit_path.push(":");
    for u in units(&out) {
        let o = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&u)
            .env("SYSTEMD_UNIT_PATH", &unit_path)
            .output()
            .unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        // (The name case's unit is named after the injection, with '-' for '/': a sign
        // must be one only an injected line makes systemd print.)
        for sign in [
            "/nonexistent/unitsmith-injected",
            "'Injected",
            "Missing '='",
        ] {
            assert!(
                !said.contains(sign),
                "{}: systemd read an injected line ({sign}):\n{said}\n{}",
                u.display(),
                fs::read_to_string(&u).unwrap()
            );
        }
    }
}

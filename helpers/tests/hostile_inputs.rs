//! `doctor` and `lint` see the inputs the generator refuses: special files (a FIFO, a socket),
//! names systemd refuses (with and without a failure stub), a file name that is not UTF-8.
//! They use the generator's library, so they must neither block on a FIFO nor skip a name.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_unitsmith");
const IMAGE: &str = "[Container]\nImage=quay.io/x/y:1\n";

/// A tree of hostile inputs, removed on drop.
struct Tree(PathBuf);

impl Tree {
    fn new(name: &str) -> Tree {
        let d =
            std::env::temp_dir().join(format!("unitsmith-hostile-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        for name in ["ok.container", "sp ace.container", "@.container"] {
            fs::write(d.join(name), IMAGE).unwrap();
        }
        fs::write(d.join(OsStr::from_bytes(b"bad\xffname.container")), IMAGE).unwrap();
        fs::write(d.join(format!("{}.volume", "c".repeat(241))), "[Volume]\n").unwrap();
        for fifo in ["fifo.container", "other.service"] {
            let ok = Command::new("mkfifo").arg(d.join(fifo)).status().unwrap();
            assert!(ok.success());
        }
        std::os::unix::net::UnixListener::bind(d.join("socket.container")).unwrap();
        Tree(d)
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Run the helper with a time limit (a FIFO must never block it); (exit code, stdout).
fn run(args: &[&OsStr], dirs: &Path) -> (Option<i32>, String) {
    let out = dirs.with_extension("out");
    let mut child = Command::new(BIN)
        .args(args)
        .env("UNITSMITH_UNIT_DIRS", dirs)
        .env("SYSTEMD_LOG_LEVEL", "warning")
        .stdout(fs::File::create(&out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("{args:?} did not finish within 30 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let text = fs::read_to_string(&out).unwrap_or_default();
    let _ = fs::remove_file(&out);
    (status.code(), text)
}

#[test]
fn doctor_lists_special_files_and_bad_names() {
    let t = Tree::new("doctor");
    let (code, text) = run(&[OsStr::new("doctor")], &t.0);
    assert_eq!(code, Some(1), "{text}");
    for want in [
        // Stubs, examined as units.
        "fifo.service",
        "a FIFO (named pipe), not a regular file",
        "socket.service",
        "sp\\x20ace.service",
        "\"sp ace.service\" is not a valid unit name",
        "bad\\xffname.service",
        "not valid UTF-8",
        // No unit at all: listed as files.
        "error (bad-name)",
        "\"@.service\" is not a valid unit name",
        "-volume.service\" is not a valid unit name: it is 256 bytes long",
    ] {
        assert!(text.contains(want), "doctor does not say {want:?}:\n{text}");
    }
    // A file named on the command line that has no unit is reported as such.
    let at = t.0.join("@.container");
    let (code, text) = run(&[OsStr::new("doctor"), at.as_os_str()], &t.0);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("error (bad-name)"), "{text}");
}

#[test]
fn lint_reports_special_files_and_bad_names() {
    let t = Tree::new("lint");
    let (code, text) = run(&[OsStr::new("lint"), t.0.as_os_str()], &t.0);
    assert_eq!(code, Some(1), "{text}");
    for want in [
        "other.service: not read: a FIFO (named pipe)",
        "fifo.service becomes a failure stub",
        "socket.service becomes a failure stub",
        "sp\\x20ace.service becomes a failure stub",
        "bad\\xffname.service becomes a failure stub",
        "@.service: the generator makes no unit of this input",
        "-volume.service: the generator makes no unit of this input",
    ] {
        assert!(text.contains(want), "lint does not say {want:?}:\n{text}");
    }
}

//! `unitsmith compose STEP`, the steps of Compose projects' units, against STAND-INS for
//! systemctl and podman (scripts that log their arguments and answer as told): what each step
//! asks them and decides from their answers. The real programs run them in the e2e scenario
//! 84-compose-real.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let d =
            std::env::temp_dir().join(format!("unitsmith-compose-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        Scratch(d)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// A stand-in program: logs `NAME ARGS...` to `calls`, then runs `body` (sh).
    fn program(&self, name: &str, body: &str) -> PathBuf {
        let p = self.path(name);
        let log = self.path("calls");
        std::fs::write(
            &p,
            format!(
                "#!/bin/sh\necho \"{name} $*\" >> '{}'\n{body}\n",
                log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    fn calls(&self) -> String {
        std::fs::read_to_string(self.path("calls")).unwrap_or_default()
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_unitsmith"))
            .arg("compose")
            .args(args)
            .env("UNITSMITH_SYSTEMCTL", self.path("systemctl"))
            .env("UNITSMITH_PODMAN", self.path("podman"))
            .output()
            .expect("run unitsmith")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// on-failure:N: systemd's count of automatic restarts decides; N of them are allowed.
#[test]
fn restart_limit_counts_automatic_restarts() {
    let s = Scratch::new("limit");
    for (n, code) in [("0", 0), ("2", 0), ("3", 1), ("40", 1)] {
        s.program("systemctl", &format!("echo NRestarts={n}"));
        let o = s.run(&["restart-limit", "2", "app.service"]);
        assert_eq!(o.status.code(), Some(code), "NRestarts={n}: {}", stderr(&o));
        if code == 1 {
            assert!(
                stderr(&o).contains("not restarted again: restart: on-failure:2"),
                "{}",
                stderr(&o)
            );
        }
    }
    assert!(
        s.calls()
            .contains("systemctl show -p NRestarts -- app.service"),
        "{}",
        s.calls()
    );
    // A manager that does not answer never costs the start.
    s.program("systemctl", "exit 1");
    assert_eq!(
        s.run(&["restart-limit", "2", "app.service"]).status.code(),
        Some(0)
    );
    // --user asks the user's manager.
    s.program("systemctl", "echo NRestarts=0");
    s.run(&["restart-limit", "--user", "1", "app.service"]);
    assert!(s.calls().contains("systemctl --user show"), "{}", s.calls());
}

/// await skips the start while a dependency is down, and leaves a marker; release starts the
/// units whose marker is there, and only those.
#[test]
fn late_dependencies() {
    let s = Scratch::new("late");
    let waiting = s.path("run/waiting");
    let w = waiting.to_str().unwrap();
    s.program("systemctl", "printf 'active\\nfailed\\n'; exit 3");
    let o = s.run(&[
        "await",
        "--waiting",
        w,
        "app.service",
        "db.service",
        "cache.service",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cache.service (failed)"),
        "{}",
        stderr(&o)
    );
    let marker = waiting.join("app.service");
    assert!(std::fs::read_to_string(&marker)
        .unwrap()
        .contains("cache.service"));
    assert_eq!(mode(&waiting), 0o700);
    // Everything up: the start goes on, the marker goes.
    s.program("systemctl", "printf 'active\\nactive\\n'");
    let o = s.run(&[
        "await",
        "--waiting",
        w,
        "app.service",
        "db.service",
        "cache.service",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!marker.exists());
    // A dependency's release starts the waiting unit, not the other.
    std::fs::write(waiting.join("app.service"), "").unwrap();
    s.program("systemctl", "exit 0");
    let o = s.run(&["release", "--waiting", w, "app.service", "other.service"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let calls = s.calls();
    assert!(
        calls.contains("systemctl --no-block start -- app.service"),
        "{calls}"
    );
    assert!(!calls.contains("other.service"), "{calls}");
    assert!(!waiting.join("app.service").exists());
}

/// The image's VOLUMEs that nothing else is mounted on are named, created with their labels,
/// and passed on; the file's anonymous volumes are created too.
#[test]
fn volumes_are_named_created_and_passed_on() {
    let s = Scratch::new("volumes");
    s.program(
        "podman",
        r#"case "$1 $2" in
"image inspect") echo '{"/data":{},"/mnt/x/":{}}' ;;
"volume exists") exit 1 ;;
"volume create") exit 0 ;;
esac"#,
    );
    let out = s.path("run/p/p-s-1.volumes");
    let o = s.run(&[
        "volumes",
        "--image",
        "docker.io/library/x:1",
        "--prefix",
        "p-s-1",
        "--project",
        "p",
        "--service",
        "s",
        "--mounted",
        "/mnt/x",
        "--create",
        "p-s-1_anon",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "UNITSMITH_VOLUMES=-v p-s-1_data:/data\n"
    );
    assert_eq!(mode(&out), 0o600);
    let calls = s.calls();
    for name in ["p-s-1_anon", "p-s-1_data"] {
        assert!(
            calls.contains(&format!(
                "podman volume create --label io.unitsmith.compose.project=p --label io.unitsmith.compose.service=s {name}"
            )),
            "{calls}"
        );
    }
    assert!(!calls.contains("mnt"), "{calls}");
    // An image without VOLUMEs: nothing to pass on.
    s.program(
        "podman",
        r#"[ "$1 $2" = "image inspect" ] && echo null; exit 0"#,
    );
    let o = s.run(&[
        "volumes",
        "--image",
        "x",
        "--prefix",
        "p-s-1",
        "--project",
        "p",
        "--service",
        "s",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "UNITSMITH_VOLUMES=\n"
    );
    // A missing image fails the step, saying so.
    s.program("podman", "echo 'Error: x: image not known' >&2; exit 125");
    let o = s.run(&[
        "volumes",
        "--image",
        "x",
        "--prefix",
        "p-s-1",
        "--project",
        "p",
        "--service",
        "s",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("image not known"), "{}", stderr(&o));
    // A VOLUME path that cannot go through the unit's variable is refused, not dropped.
    s.program(
        "podman",
        r#"[ "$1 $2" = "image inspect" ] && echo '{"/a b":{}}'; exit 0"#,
    );
    let o = s.run(&[
        "volumes",
        "--image",
        "x",
        "--prefix",
        "p-s-1",
        "--project",
        "p",
        "--service",
        "s",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("\"/a b\""), "{}", stderr(&o));
}

/// Env files as docker compose reads them, for podman: 0600, never a value in a message.
#[test]
fn env_files_for_podman() {
    let s = Scratch::new("env");
    std::fs::write(s.path(".env"), "TAG=7\n").unwrap();
    std::fs::write(s.path("a.env"), "export A=\"x # y\"\nB='$TAG'\nC=$TAG-$A\n").unwrap();
    std::fs::write(s.path("r.env"), "R=\"as is\" # kept\n").unwrap();
    let out = s.path("run/p/s-1.env");
    let a = s.path("a.env").display().to_string();
    let r = format!("raw:{}", s.path("r.env").display());
    let missing = format!("optional:{}", s.path("none.env").display());
    let dotenv = s.path(".env").display().to_string();
    let o = s.run(&[
        "env-file",
        "--dotenv",
        &dotenv,
        "--out",
        out.to_str().unwrap(),
        &a,
        &missing,
        &r,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "A=x # y\nB=$TAG\nC=7-x # y\nR=\"as is\" # kept\n"
    );
    assert_eq!(mode(&out), 0o600);
    assert_eq!(mode(out.parent().unwrap()), 0o700);
    std::fs::write(s.path("a.env"), "K=\"Top\\nS3cr3t\"\n").unwrap();
    let o = s.run(&["env-file", "--out", out.to_str().unwrap(), &a]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("a.env:1: K: the value has a line break"), "{e}");
    assert!(!e.contains("S3cr3t"), "{e}");
}

/// config: the content as given, 0444, replaced whole when it changes (a second start).
#[test]
fn config_content_for_the_container() {
    let s = Scratch::new("config");
    let out = s.path("run/p/app.json.config");
    let o = s.run(&[
        "config",
        "--out",
        out.to_str().unwrap(),
        "{\n  \"a\": 1\n}\n",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "{\n  \"a\": 1\n}\n");
    assert_eq!(mode(&out), 0o444);
    let o = s.run(&["config", "--out", out.to_str().unwrap(), "b"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "b");
    assert_eq!(mode(&out), 0o444);
}

/// pull: as the policy says, bounded by its own limit.
#[test]
fn pulls() {
    let s = Scratch::new("pull");
    s.program(
        "podman",
        r#"[ "$1 $2" = "image exists" ] && exit 0; exit 0"#,
    );
    assert_eq!(
        s.run(&["pull", "--policy", "missing", "img"]).status.code(),
        Some(0)
    );
    assert!(!s.calls().contains("podman pull"), "{}", s.calls());
    assert_eq!(
        s.run(&["pull", "--policy", "always", "img"]).status.code(),
        Some(0)
    );
    assert!(s.calls().contains("podman pull img"), "{}", s.calls());
    // refresh: pulled when the stamp is missing, not again while it is fresh.
    let stamp = s.path("state/img.pulled");
    let st = stamp.to_str().unwrap();
    let args = [
        "pull", "--policy", "refresh", "--every", "3600", "--stamp", st, "img2",
    ];
    assert_eq!(s.run(&args).status.code(), Some(0));
    assert!(stamp.exists());
    assert!(s.calls().contains("podman pull img2"));
    std::fs::remove_file(s.path("calls")).unwrap();
    assert_eq!(s.run(&args).status.code(), Some(0));
    assert!(!s.calls().contains("podman pull"), "{}", s.calls());
    // A pull that does not end is killed at its limit, and fails the step.
    s.program(
        "podman",
        r#"[ "$1 $2" = "image exists" ] && exit 1; [ "$1" = pull ] && exec sleep 30; exit 0"#,
    );
    let t = Instant::now();
    let o = s.run(&["pull", "--policy", "missing", "--timeout", "1", "img3"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert!(
        stderr(&o).contains("not finished within 1 s"),
        "{}",
        stderr(&o)
    );
    // A failed pull fails the step.
    s.program(
        "podman",
        r#"[ "$1 $2" = "image exists" ] && exit 1; exit 125"#,
    );
    assert_eq!(
        s.run(&["pull", "--policy", "missing", "img4"])
            .status
            .code(),
        Some(1)
    );
}

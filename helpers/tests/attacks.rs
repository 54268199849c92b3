//! The attacks of issue 15, run for real: root runs the helper, a real unprivileged user
//! (`nobody`, through `setpriv`) plants links, FIFOs and files where it can, and each test
//! checks that the victim is untouched and the error names the path and its owner.
//!
//! Needs root (CI runs as root) and util-linux's `setpriv`, `unshare` and `flock`. Without
//! them every test says SKIPPED on the terminal, not silently passing.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const VICTIM_TEXT: &str = "precious root-owned data\n";

/// Why these tests cannot run here, if they cannot.
fn cannot_run() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { geteuid() } != 0 {
        return Some("needs root (it plays an unprivileged user against root's helpers)".into());
    }
    for tool in ["setpriv", "unshare", "flock"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return Some(format!("needs {tool} (util-linux)"));
        }
    }
    if Command::new("id")
        .arg("nobody")
        .output()
        .map_or(true, |o| !o.status.success())
    {
        return Some("needs the user nobody".into());
    }
    None
}

extern "C" {
    fn geteuid() -> u32;
}

/// Skip loudly: written straight to stderr, which the test harness does not capture.
macro_rules! require_root {
    ($name:expr) => {
        if let Some(why) = cannot_run() {
            let _ = writeln!(std::io::stderr(), "SKIPPED {}: {why}", $name);
            return;
        }
    };
}

/// A scratch tree under /tmp, removed at the end.
struct Scene {
    base: PathBuf,
}

impl Scene {
    fn new(name: &str) -> Scene {
        let base =
            std::env::temp_dir().join(format!("unitsmith-attack-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755)).unwrap();
        let s = Scene { base };
        // What the attacker wants to overwrite: a root-owned file outside its reach.
        std::fs::write(s.victim(), VICTIM_TEXT).unwrap();
        s
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.base.join(rel)
    }

    fn victim(&self) -> PathBuf {
        self.path("victim")
    }

    /// A directory made by root and given to nobody (a service's StateDirectory=).
    fn nobody_dir(&self, rel: &str) -> PathBuf {
        let d = self.path(rel);
        std::fs::create_dir_all(&d).unwrap();
        as_nobody(&["true"]); // nobody exists and setpriv works
        let (uid, gid) = nobody_ids();
        std::os::unix::fs::chown(&d, Some(uid), Some(gid)).unwrap();
        d
    }

    /// A world-writable sticky directory, as /tmp or Debian's /run/lock.
    fn sticky_dir(&self, rel: &str) -> PathBuf {
        let d = self.path(rel);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o1777)).unwrap();
        d
    }

    fn assert_victim_untouched(&self) {
        let text = std::fs::read_to_string(self.victim()).unwrap();
        assert_eq!(text, VICTIM_TEXT, "the victim file was overwritten");
        let m = std::fs::metadata(self.victim()).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o644, "the victim's mode was changed");
    }

    /// A systemctl stand-in: records its calls; `show` says the consumer runs as
    /// $CONSUMER_USER (empty: root).
    fn systemctl(&self) -> PathBuf {
        let p = self.path("bin/systemctl");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(
            &p,
            format!(
                "#!/bin/sh\necho \"$*\" >>{calls}\ncase \"$*\" in *show*) echo \"User=$CONSUMER_USER\" ;; esac\nexit 0\n",
                calls = self.path("systemctl.calls").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    /// An env gate declaration in a root-owned directory.
    fn declaration(&self, body: &str) -> PathBuf {
        let d = self.path("unitsmith");
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("g.envgate");
        std::fs::write(&p, format!("[EnvGate]\nConsumer=c.service\n{body}")).unwrap();
        p
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

fn nobody_ids() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let o = Command::new("id").args([flag, "nobody"]).output().unwrap();
        String::from_utf8_lossy(&o.stdout).trim().parse().unwrap()
    };
    (id("-u"), id("-g"))
}

/// Run a command as nobody (no supplementary groups); it must succeed.
fn as_nobody(argv: &[&str]) {
    let o = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .args(argv)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "as nobody: {argv:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn unitsmith() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_unitsmith"));
    c.env_remove("UNITSMITH_LOCK_DIR")
        .env_remove("UNITSMITH_STATE_DIR")
        .env_remove("JOURNAL_STREAM")
        .env_remove("MANAGERPID")
        .env_remove("QUADLET_UNIT_DIRS");
    c
}

/// Run with a deadline: a helper that hangs is a failed test, not a hung CI job.
fn run_bounded(mut cmd: Command, limit: Duration) -> (Output, Duration) {
    let t = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = t.elapsed();
    (child.wait_with_output().unwrap(), took)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

// ---------------------------------------------------------------------------------- lock

/// Attack 1a: the lock directory is in a world-writable directory (Debian's /run/lock is
/// 1777) and nobody made it first, with `victim.lock` → a path of its choice. Root's
/// `unitsmith lock --name victim` must not create or open anything through that link.
#[test]
fn lock_refuses_a_lock_directory_another_user_made() {
    require_root!("lock_refuses_a_lock_directory_another_user_made");
    let s = Scene::new("lockdir");
    let runlock = s.sticky_dir("run-lock");
    let dir = runlock.join("unitsmith");
    let target = s.path("created-by-root");
    as_nobody(&["mkdir", dir.to_str().unwrap()]);
    as_nobody(&[
        "ln",
        "-s",
        target.to_str().unwrap(),
        dir.join("victim.lock").to_str().unwrap(),
    ]);
    as_nobody(&[
        "ln",
        "-s",
        s.victim().to_str().unwrap(),
        dir.join("other.lock").to_str().unwrap(),
    ]);
    for name in ["victim", "other"] {
        let mut c = unitsmith();
        c.env("UNITSMITH_LOCK_DIR", &dir)
            .args(["lock", "--name", name, "--", "/bin/true"]);
        let (o, _) = run_bounded(c, Duration::from_secs(10));
        let out = text(&o);
        assert!(!o.status.success(), "root's lock went ahead:\n{out}");
        assert!(
            out.contains(&dir.display().to_string()) && out.contains("nobody"),
            "the error names the directory and its owner:\n{out}"
        );
    }
    assert!(
        std::fs::symlink_metadata(&target).is_err(),
        "root created a file through the planted link"
    );
    s.assert_victim_untouched();
}

/// Attack 1b: any user who can open a root lock file can flock it (flock needs no write
/// access) and block the singleton forever. Root's lock files must be unreadable to others.
#[test]
fn lock_files_cannot_be_held_by_another_user() {
    require_root!("lock_files_cannot_be_held_by_another_user");
    let s = Scene::new("lockhold");
    let dir = s.path("locks"); // made by root's helper, like /run/unitsmith/lock
    let mut c = unitsmith();
    c.env("UNITSMITH_LOCK_DIR", &dir)
        .args(["lock", "--name", "single", "--", "/bin/true"]);
    let (o, _) = run_bounded(c, Duration::from_secs(10));
    assert!(o.status.success(), "first lock: {}", text(&o));
    let file = dir.join("single.lock");
    let pub_dir = s.sticky_dir("pub");
    let held = pub_dir.join("held");
    // nobody tries to take the lock and keep it for 5 s.
    let mut holder = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .args(["flock", "-n", file.to_str().unwrap(), "sh", "-c"])
        .arg(format!("touch {}; sleep 5", held.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while !held.exists() && t.elapsed() < Duration::from_secs(3) {
        if holder.try_wait().unwrap().is_some() {
            break; // it could not open the file: good
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut c = unitsmith();
    c.env("UNITSMITH_LOCK_DIR", &dir)
        .args(["lock", "--name", "single", "--", "/bin/true"]);
    let (o, _) = run_bounded(c, Duration::from_secs(10));
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(!held.exists(), "nobody took root's lock {}", file.display());
    assert!(
        o.status.success(),
        "root's singleton was blocked by another user:\n{}",
        text(&o)
    );
}

/// Attack 1c: `--file` in a world-writable directory, where nobody planted a link.
#[test]
fn lock_file_option_does_not_follow_links() {
    require_root!("lock_file_option_does_not_follow_links");
    let s = Scene::new("lockfile");
    let tmp = s.sticky_dir("tmp");
    let link = tmp.join("app.lock");
    as_nobody(&[
        "ln",
        "-s",
        s.victim().to_str().unwrap(),
        link.to_str().unwrap(),
    ]);
    let mut c = unitsmith();
    c.args(["lock", "--file", link.to_str().unwrap(), "--", "/bin/true"]);
    let (o, _) = run_bounded(c, Duration::from_secs(10));
    let out = text(&o);
    assert!(
        !o.status.success(),
        "root locked through a planted link:\n{out}"
    );
    assert!(
        out.contains(&link.display().to_string()) && out.contains("nobody"),
        "the error names the link and its owner:\n{out}"
    );
    s.assert_victim_untouched();
}

// ------------------------------------------------------------------------------ env gate

/// Attack 2: Output= in a directory of the service user (a StateDirectory=): nobody plants
/// links at the temporary names root's helper uses. The helper runs as PID 1 of a new PID
/// namespace, so a name built from the PID is known to the attacker in advance.
#[test]
fn output_temp_file_is_not_steered_by_planted_links() {
    require_root!("output_temp_file_is_not_steered_by_planted_links");
    let s = Scene::new("output");
    let state = s.nobody_dir("var-lib-vector");
    let out = state.join("vector.env");
    for pid in 1..=8 {
        let tmp = state.join(format!(".vector.env.unitsmith-{pid}.tmp"));
        as_nobody(&[
            "ln",
            "-s",
            s.victim().to_str().unwrap(),
            tmp.to_str().unwrap(),
        ]);
    }
    let decl = s.declaration(&format!(
        "WaitFor={}\nOutput={}\nImport=A\nStubKeys=A\n",
        s.path("never.env").display(),
        out.display()
    ));
    let mut c = Command::new("unshare");
    c.args(["--pid", "--fork", "--"])
        .arg(env!("CARGO_BIN_EXE_unitsmith"))
        .args(["envgate", "populate", "--system"])
        .arg(&decl)
        .env("UNITSMITH_SYSTEMCTL", s.systemctl())
        .env("CONSUMER_USER", "nobody") // the directory is its consumer's
        .env("UNITSMITH_UNIT_DIRS", s.path("unitsmith"))
        .env_remove("JOURNAL_STREAM");
    let (o, _) = run_bounded(c, Duration::from_secs(20));
    let log = text(&o);
    s.assert_victim_untouched();
    let m = std::fs::symlink_metadata(&out).unwrap_or_else(|e| panic!("{e}: {log}"));
    assert!(
        m.file_type().is_file(),
        "the output is a regular file:\n{log}"
    );
    assert_eq!(m.uid(), 0);
    assert!(std::fs::read_to_string(&out)
        .unwrap()
        .starts_with("# unitsmith env gate stub"));
}

/// Attack 2b: Output= in a directory that belongs to a user who is not the consumer's: refused
/// with a message naming the directory and its owner; nothing written, nothing followed.
#[test]
fn output_in_another_users_directory_is_refused() {
    require_root!("output_in_another_users_directory_is_refused");
    let s = Scene::new("output-other");
    let state = s.nobody_dir("var-lib-other");
    let out = state.join("vector.env");
    as_nobody(&[
        "ln",
        "-s",
        s.victim().to_str().unwrap(),
        out.to_str().unwrap(),
    ]);
    let decl = s.declaration(&format!(
        "WaitFor={}\nOutput={}\nImport=A\nStubKeys=A\n",
        s.path("never.env").display(),
        out.display()
    ));
    let mut c = unitsmith();
    c.args(["envgate", "populate", "--system"])
        .arg(&decl)
        .env("UNITSMITH_SYSTEMCTL", s.systemctl())
        .env("CONSUMER_USER", "root")
        .env("UNITSMITH_UNIT_DIRS", s.path("unitsmith"));
    let (o, _) = run_bounded(c, Duration::from_secs(20));
    let log = text(&o);
    assert!(o.status.success(), "populate always exits 0:\n{log}");
    s.assert_victim_untouched();
    assert!(
        std::fs::symlink_metadata(&out)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the planted link was neither followed nor replaced"
    );
    assert!(
        log.contains(&state.display().to_string()) && log.contains("nobody"),
        "the error names the directory and its owner:\n{log}"
    );
}

/// Attack 2c: a FIFO planted at Output= must not hang the boot path (populate reads the
/// output to see whether it holds real content).
#[test]
fn a_fifo_at_the_output_does_not_hang_populate() {
    require_root!("a_fifo_at_the_output_does_not_hang_populate");
    let s = Scene::new("output-fifo");
    let state = s.nobody_dir("var-lib-vector");
    let out = state.join("vector.env");
    as_nobody(&["mkfifo", out.to_str().unwrap()]);
    let decl = s.declaration(&format!(
        "WaitFor={}\nOutput={}\nImport=A\nStubKeys=A\n",
        s.path("never.env").display(),
        out.display()
    ));
    let mut c = unitsmith();
    c.args(["envgate", "populate", "--system"])
        .arg(&decl)
        .env("UNITSMITH_SYSTEMCTL", s.systemctl())
        .env("CONSUMER_USER", "nobody")
        .env("UNITSMITH_UNIT_DIRS", s.path("unitsmith"));
    let (o, took) = run_bounded(c, Duration::from_secs(10));
    assert!(
        took < Duration::from_secs(5),
        "populate hung on a FIFO at the output ({took:?}): {}",
        text(&o)
    );
    let m = std::fs::symlink_metadata(&out).unwrap();
    assert!(m.file_type().is_file(), "the FIFO was replaced by the stub");
}

/// Attack 3: the service user writes the WaitFor= file (it is the consumer's user, so the
/// file is trusted for its keys) with loader and shell startup variables in it. Exec= runs as
/// root and must see only the Import= keys, UNITSMITH_* and a fixed PATH.
#[test]
fn exec_does_not_get_loader_variables_from_the_file() {
    require_root!("exec_does_not_get_loader_variables_from_the_file");
    let s = Scene::new("exec-env");
    let state = s.nobody_dir("var-lib-vector");
    let input = state.join("role.env");
    let content = "ROLE=worker\nLD_PRELOAD=/var/lib/vector/evil.so\nBASH_ENV=/var/lib/vector/evil.sh\nOTHER=not-imported\n";
    as_nobody(&[
        "sh",
        "-c",
        &format!(
            "printf '{}' >{f} && touch -d '1 hour ago' {f}",
            content.replace('\n', "\\n"),
            f = input.display()
        ),
    ]);
    let out = s.path("etc-vector/vector.env");
    let decl = s.declaration(&format!(
        "WaitFor={}\nOutput={}\nImport=ROLE LD_PRELOAD\nExec=/bin/sh -c 'echo SEEN_PRELOAD=${{LD_PRELOAD-unset}}; echo SEEN_BASH_ENV=${{BASH_ENV-unset}}; echo SEEN_OTHER=${{OTHER-unset}}; echo SEEN_ROLE=${{ROLE-unset}}'\n",
        input.display(),
        out.display()
    ));
    let mut c = unitsmith();
    c.args(["envgate", "populate", "--system"])
        .arg(&decl)
        .env("UNITSMITH_SYSTEMCTL", s.systemctl())
        .env("CONSUMER_USER", "nobody")
        .env("UNITSMITH_UNIT_DIRS", s.path("unitsmith"));
    let (o, _) = run_bounded(c, Duration::from_secs(20));
    let log = text(&o);
    let written = std::fs::read_to_string(&out).unwrap_or_else(|e| panic!("{e}: {log}"));
    assert!(
        written.contains("SEEN_PRELOAD=unset"),
        "Exec= saw LD_PRELOAD from the file:\n{written}\n{log}"
    );
    assert!(written.contains("SEEN_BASH_ENV=unset"), "{written}");
    assert!(written.contains("SEEN_OTHER=unset"), "{written}");
    assert!(written.contains("SEEN_ROLE=worker"), "{written}");
    assert!(
        log.contains("LD_PRELOAD"),
        "the key withheld from Exec= is named in the log:\n{log}"
    );
}

/// Attack 3b: a WaitFor= file another user could have written (not root, not the consumer's
/// user) is refused, naming the file and its owner, unless the declaration opts in.
#[test]
fn waitfor_written_by_another_user_is_refused_unless_allowed() {
    require_root!("waitfor_written_by_another_user_is_refused_unless_allowed");
    let s = Scene::new("waitfor");
    let state = s.nobody_dir("home-nobody");
    let input = state.join("role.env");
    as_nobody(&[
        "sh",
        "-c",
        &format!(
            "echo ROLE=worker >{f} && touch -d '1 hour ago' {f}",
            f = input.display()
        ),
    ]);
    let out = s.path("etc-vector/vector.env");
    let body = format!(
        "WaitFor={}\nOutput={}\nImport=ROLE\nStubKeys=ROLE\n",
        input.display(),
        out.display()
    );
    let run = |body: &str| {
        let decl = s.declaration(body);
        let mut c = unitsmith();
        c.args(["envgate", "populate", "--system"])
            .arg(&decl)
            .env("UNITSMITH_SYSTEMCTL", s.systemctl())
            .env("CONSUMER_USER", "root")
            .env("UNITSMITH_UNIT_DIRS", s.path("unitsmith"));
        let (o, _) = run_bounded(c, Duration::from_secs(20));
        (text(&o), std::fs::read_to_string(&out).unwrap_or_default())
    };
    let (log, written) = run(&body);
    assert!(
        written.starts_with("# unitsmith env gate stub"),
        "a file nobody wrote opened root's gate:\n{written}\n{log}"
    );
    assert!(
        log.contains(&state.display().to_string()) && log.contains("nobody"),
        "the message names the path and its owner:\n{log}"
    );
    assert!(
        log.contains("AllowUntrustedWaitFor=yes"),
        "the message says how to opt in:\n{log}"
    );
    let (log, written) = run(&format!("{body}AllowUntrustedWaitFor=yes\n"));
    assert!(
        written.contains("ROLE=worker"),
        "with AllowUntrustedWaitFor=yes the gate opens:\n{written}\n{log}"
    );
}

// ---- issue 20: paths (sec-generator)

/// A directory delegated to nobody in the search paths, holding nobody's link to a Quadlet
/// file root owns elsewhere: the generator refuses it (its stub names the directory and its
/// owner, generator/tests/attacks.rs); `doctor`, which reads the inputs with the generator's
/// library, reports the very same refusal rather than a unit that looks fine, and `lint` does
/// not follow the link (its walk as root), and says so.
#[test]
fn doctor_and_lint_report_path_refusals() {
    require_root!("doctor_and_lint_report_path_refusals");
    let s = Scene::new("paths");
    let real = s.path("elsewhere/real.container");
    std::fs::create_dir_all(real.parent().unwrap()).unwrap();
    std::fs::write(
        &real,
        "[Container]\nImage=docker.io/library/busybox:latest\n",
    )
    .unwrap();
    std::fs::create_dir_all(s.path("in")).unwrap();
    let team = s.nobody_dir("in/team");
    as_nobody(&[
        "ln",
        "-s",
        real.to_str().unwrap(),
        team.join("linked.container").to_str().unwrap(),
    ]);
    let refusal = format!(
        "not used: {} is owned by uid {}, mode 0755",
        team.display(),
        nobody_ids().0
    );
    let mut doctor = unitsmith();
    doctor
        .arg("doctor")
        .env("QUADLET_UNIT_DIRS", s.path("in"))
        .env("UNITSMITH_GENERATOR_DIRS", s.path("no-generators"));
    let (o, _) = run_bounded(doctor, Duration::from_secs(30));
    let out = text(&o);
    assert!(out.contains("linked.service"), "{out}");
    assert!(out.contains(&refusal), "doctor does not say why:\n{out}");
    let mut lint = unitsmith();
    lint.arg("lint").arg(s.path("in"));
    // lint's own bounded walk does not follow the link at all as root (sec-text): it says
    // so, naming the directory and its owner, and never reports the unit as fine.
    let (o, _) = run_bounded(lint, Duration::from_secs(30));
    let out = text(&o);
    assert!(
        out.contains("team: not walked: 1 symbolic link not followed")
            && out.contains("owned by nobody (uid 65534)"),
        "lint does not say why:\n{out}"
    );
    assert!(
        !out.contains("linked.service"),
        "lint read nobody's link:\n{out}"
    );
}

// ---- issue 20: text, secrets, env gates, walks (sec-text)

/// The two consumers of a gate shared by a user's service and root's.
const USER_CONSUMER: &str = "user-consumer.service";
const ROOT_CONSUMER: &str = "root-consumer.service";

/// A systemctl stand-in that says whom each consumer runs as: nobody for USER_CONSUMER, root
/// (no User=) for ROOT_CONSUMER.
fn systemctl_two_users(s: &Scene) -> PathBuf {
    let p = s.path("bin/systemctl-two");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\necho \"$*\" >>{calls}\ncase \"$*\" in\n  *show*{USER_CONSUMER}*) echo User=nobody ;;\n  *show*{ROOT_CONSUMER}*) echo User= ;;\nesac\nexit 0\n",
            calls = s.path("systemctl.calls").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// An env gate declaration with exactly these consumers, in a root-owned directory.
fn gate_for(s: &Scene, consumers: &[&str], body: &str) -> PathBuf {
    let d = s.path("unitsmith");
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join("g.envgate");
    std::fs::write(
        &p,
        format!("[EnvGate]\nConsumer={}\n{body}", consumers.join(" ")),
    )
    .unwrap();
    p
}

/// `unitsmith envgate populate` as root, with the two-user systemctl.
fn populate(s: &Scene, decl: &Path) -> String {
    let mut c = unitsmith();
    c.args(["envgate", "populate", "--system"])
        .arg(decl)
        .env("UNITSMITH_SYSTEMCTL", systemctl_two_users(s))
        .env("UNITSMITH_UNIT_DIRS", s.path("unitsmith"));
    let (o, _) = run_bounded(c, Duration::from_secs(20));
    assert!(o.status.success(), "populate always exits 0: {}", text(&o));
    text(&o)
}

/// nobody writes `content` (a printf format: `\\n` for a newline, no `%`) to `file`, an hour
/// old so that it counts as complete at once.
fn nobody_writes(file: &Path, content: &str) {
    as_nobody(&[
        "sh",
        "-c",
        &format!(
            "printf '{content}' >{f} && touch -d '1 hour ago' {f}",
            f = file.display()
        ),
    ]);
}

/// Issue 20, item 6: a gate shared by nobody's consumer and root's. nobody owns the Output=
/// directory (its StateDirectory=). With the union of the consumers' users trusted, root
/// wrote there and nobody could swap the file root's consumer reads: only root is trusted now.
#[test]
fn shared_gate_does_not_write_into_a_directory_of_one_consumers_user() {
    require_root!("shared_gate_does_not_write_into_a_directory_of_one_consumers_user");
    let s = Scene::new("shared-output");
    let state = s.nobody_dir("var-lib-app");
    let out = state.join("app.env");
    let decl = gate_for(
        &s,
        &[USER_CONSUMER, ROOT_CONSUMER],
        &format!(
            "WaitFor={}\nOutput={}\nImport=A\nStubKeys=A\n",
            s.path("never.env").display(),
            out.display()
        ),
    );
    let log = populate(&s, &decl);
    assert!(
        std::fs::symlink_metadata(&out).is_err(),
        "root wrote the output of a gate root's consumer reads into nobody's directory:\n{log}"
    );
    assert!(
        log.contains(&state.display().to_string()) && log.contains("nobody"),
        "the error names the directory and its owner:\n{log}"
    );
    assert!(
        log.contains(ROOT_CONSUMER),
        "the warning names the consumer that does not run as nobody:\n{log}"
    );
    // The same gate with nobody's consumer alone: its directory is trusted (not over-strict).
    let decl = gate_for(
        &s,
        &[USER_CONSUMER],
        &format!(
            "WaitFor={}\nOutput={}\nImport=A\nStubKeys=A\n",
            s.path("never.env").display(),
            out.display()
        ),
    );
    let log = populate(&s, &decl);
    assert!(
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .starts_with("# unitsmith env gate stub"),
        "nobody's own consumer gets its stub in nobody's directory:\n{log}"
    );
    s.assert_victim_untouched();
}

/// Issue 20, item 6: root's consumer's `ExecCondition=` check reads the output as root. nobody
/// controls the output's directory and writes "real" content with its LD_PRELOAD: root's
/// consumer must be held, not started with it; nobody's own consumer may read it.
#[test]
fn check_holds_a_root_consumer_on_an_output_another_user_controls() {
    require_root!("check_holds_a_root_consumer_on_an_output_another_user_controls");
    let s = Scene::new("shared-check");
    let state = s.nobody_dir("var-lib-app");
    let out = state.join("app.env");
    nobody_writes(
        &out,
        "# unitsmith env gate real\\nLD_PRELOAD=/var/lib/app/evil.so\\n",
    );
    let check = |consumer: Option<&str>| {
        let mut c = unitsmith();
        c.args(["envgate", "check", "--gate", "g"]);
        if let Some(u) = consumer {
            c.args(["--consumer", u]);
        }
        c.arg(&out)
            .env("UNITSMITH_SYSTEMCTL", systemctl_two_users(&s));
        let (o, _) = run_bounded(c, Duration::from_secs(20));
        (o.status.code(), text(&o))
    };
    for consumer in [Some(ROOT_CONSUMER), None] {
        let (code, log) = check(consumer);
        assert_eq!(
            code,
            Some(1),
            "{consumer:?}: root's consumer started with an env file nobody wrote:\n{log}"
        );
        assert!(
            log.contains(&state.display().to_string()) && log.contains("nobody"),
            "{consumer:?}: the message names the directory and its owner:\n{log}"
        );
    }
    let (code, log) = check(Some(USER_CONSUMER));
    assert_eq!(
        code,
        Some(0),
        "nobody's own consumer reads nobody's file:\n{log}"
    );
}

/// Issue 20, item 6: a WaitFor= file nobody writes decides what the consumers get. It is
/// trusted when every consumer runs as nobody, not when root's consumer shares the gate.
#[test]
fn shared_gate_does_not_take_a_waitfor_file_of_one_consumers_user() {
    require_root!("shared_gate_does_not_take_a_waitfor_file_of_one_consumers_user");
    let s = Scene::new("shared-waitfor");
    let state = s.nobody_dir("var-lib-app");
    let input = state.join("role.env");
    nobody_writes(&input, "ROLE=worker\\nLD_PRELOAD=/var/lib/app/evil.so\\n");
    let out = s.path("etc-app/app.env");
    let body = format!(
        "WaitFor={}\nOutput={}\nImport=ROLE LD_PRELOAD\nStubKeys=ROLE\n",
        input.display(),
        out.display()
    );
    let log = populate(&s, &gate_for(&s, &[USER_CONSUMER, ROOT_CONSUMER], &body));
    let written = std::fs::read_to_string(&out).unwrap_or_else(|e| panic!("{e}:\n{log}"));
    assert!(
        written.starts_with("# unitsmith env gate stub") && !written.contains("evil"),
        "root's consumer would get nobody's LD_PRELOAD:\n{written}\n{log}"
    );
    assert!(
        log.contains(&input.display().to_string()) || log.contains(&state.display().to_string()),
        "the message names the path:\n{log}"
    );
    let log = populate(&s, &gate_for(&s, &[USER_CONSUMER], &body));
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(
        written.contains("ROLE=worker"),
        "with nobody's consumer alone the file is trusted:\n{written}\n{log}"
    );
}

/// Issue 20, item 6: Exec= runs as root with an allowlist (PATH, the Import= keys, UNITSMITH_*),
/// and imported names that make a program read a configuration, trust certificates or use a
/// proxy of the writer's choosing are withheld (on main, OPENSSL_CONF made openssl in Exec=
/// load nobody's module as root). The consumer still gets them in the output.
#[test]
fn exec_does_not_get_configuration_or_proxy_variables_from_the_file() {
    require_root!("exec_does_not_get_configuration_or_proxy_variables_from_the_file");
    let s = Scene::new("exec-conf");
    let state = s.nobody_dir("var-lib-app");
    let input = state.join("role.env");
    let keys = [
        "OPENSSL_CONF",
        "https_proxy",
        "GIT_CONFIG_GLOBAL",
        "SSL_CERT_FILE",
        "CLASSPATH",
        "ZDOTDIR",
        "PHPRC",
        "GEM_PATH",
    ];
    let mut content = String::from("ROLE=worker\\n");
    for k in keys {
        content.push_str(&format!("{k}=/var/lib/app/evil\\n"));
    }
    nobody_writes(&input, &content);
    let out = s.path("etc-app/app.env");
    let probe: String = keys
        .iter()
        .map(|k| format!("echo SEEN_{}=${{{k}-unset}}; ", k.to_uppercase()))
        .collect();
    let body = format!(
        "WaitFor={}\nOutput={}\nImport=ROLE {}\nExec=/bin/sh -c '{probe}echo SEEN_ROLE=$ROLE'\n",
        input.display(),
        out.display(),
        keys.join(" ")
    );
    let log = populate(&s, &gate_for(&s, &[USER_CONSUMER], &body));
    let written = std::fs::read_to_string(&out).unwrap_or_else(|e| panic!("{e}:\n{log}"));
    for k in keys {
        assert!(
            written.contains(&format!("SEEN_{}=unset", k.to_uppercase())),
            "Exec= saw {k} from nobody's file:\n{written}\n{log}"
        );
        assert!(
            written.contains(&format!("{k}=/var/lib/app/evil")),
            "the consumer still gets {k}:\n{written}"
        );
        assert!(log.contains(k), "the withheld key {k} is named:\n{log}");
    }
    assert!(written.contains("SEEN_ROLE=worker"), "{written}");
    assert!(
        !log.contains("/var/lib/app/evil"),
        "values never reach the log:\n{log}"
    );
}

/// A systemctl stand-in for doctor: knows no unit.
fn systemctl_empty(s: &Scene) -> PathBuf {
    let p = s.path("bin/systemctl-empty");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// Issue 20, item 7: `doctor` as root walks the per-user Quadlet directories (here the one in
/// $HOME, walked the same way as /etc/containers/systemd/users/UID) looking for stray files.
/// nobody owns the directory and fills it with 40 links to `.`: on main the walk never ended.
/// It must end at once, say which links it did not follow, and still list the stray file.
#[test]
fn doctor_as_root_does_not_follow_links_in_a_users_directory() {
    require_root!("doctor_as_root_does_not_follow_links_in_a_users_directory");
    let s = Scene::new("doctor-walk");
    let home = s.path("home");
    std::fs::create_dir_all(home.join(".config/containers")).unwrap();
    let dir = s.nobody_dir("home/.config/containers/systemd");
    let mut script = String::new();
    for i in 0..40 {
        script.push_str(&format!("ln -s . {}/l{i}; ", dir.display()));
    }
    script.push_str(&format!(
        "ln -s {v} {d}/to-victim-dir.d; printf '[Container]\\nImage=a\\n' >{d}/web.container",
        v = s.base.display(),
        d = dir.display()
    ));
    as_nobody(&["sh", "-c", &script]);
    let mut c = unitsmith();
    c.args(["doctor"])
        .env("HOME", &home)
        .env("UNITSMITH_SYSTEMCTL", systemctl_empty(&s));
    let (o, took) = run_bounded(c, Duration::from_secs(60));
    let out = text(&o);
    assert!(
        took < Duration::from_secs(20),
        "doctor did not finish in {took:?} (killed at 60 s):\n{}",
        &out[..out.len().min(3000)]
    );
    assert!(
        out.contains(&dir.join("web.container").display().to_string()),
        "the stray file is still listed:\n{out}"
    );
    assert!(
        out.contains(&dir.display().to_string()) && out.contains("not followed"),
        "doctor says which links it did not follow, and where:\n{out}"
    );
    assert!(out.contains("nobody"), "and whose directory it is:\n{out}");
}

/// Issue 20, item 7: the same for `lint DIR` as root.
#[test]
fn lint_as_root_does_not_follow_links_in_a_users_directory() {
    require_root!("lint_as_root_does_not_follow_links_in_a_users_directory");
    let s = Scene::new("lint-walk");
    let dir = s.nobody_dir("units");
    let mut script = String::new();
    for i in 0..40 {
        script.push_str(&format!("ln -s . {}/l{i}; ", dir.display()));
    }
    script.push_str(&format!(
        "ln -s /etc/shadow {d}/shadow.service; printf '[Service]\\nExecStart=/bin/true\\n' >{d}/ok.service",
        d = dir.display()
    ));
    as_nobody(&["sh", "-c", &script]);
    let mut c = unitsmith();
    c.args(["lint", "--systemd-version", "252"]).arg(&dir);
    let (o, took) = run_bounded(c, Duration::from_secs(60));
    let out = text(&o);
    assert!(took < Duration::from_secs(20), "lint took {took:?}:\n{out}");
    assert!(
        out.contains("not followed") && out.contains("nobody"),
        "lint says which links it did not follow, and whose directory it is:\n{out}"
    );
    assert!(
        !out.contains("root:"),
        "a line of /etc/shadow reached the report:\n{out}"
    );
}

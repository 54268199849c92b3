//! Issue 20's attacks on the paths root reads, run for real: root runs the generator (system
//! mode), a real unprivileged user (`nobody`, through `setpriv`) plants what it can where it
//! can write, and each test checks that no unit carries nobody's bytes and that the failure
//! stub names the path, its owner and the fix.
//!
//! Needs root (CI runs as root), util-linux's `setpriv` and python3 (to make a process whose
//! `/proc/PID/cmdline` holds chosen bytes); without them each test says SKIPPED on the
//! terminal. `UNITSMITH_TEST_GENERATOR=PATH` runs them against another build (e.g. main's,
//! to see them fail there).

use std::fs;
use std::io::{BufRead, Write};
use std::os::unix::fs::{chown, symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

fn generator() -> String {
    std::env::var("UNITSMITH_TEST_GENERATOR")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_unitsmith-generator").to_string())
}

/// Why these tests cannot run here, if they cannot.
fn cannot_run() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { nix::libc::geteuid() } != 0 {
        return Some("needs root (it plays an unprivileged user against root's generator)".into());
    }
    for tool in ["/usr/bin/setpriv", PYTHON] {
        if !Path::new(tool).exists() {
            return Some(format!("needs {tool}"));
        }
    }
    None
}

macro_rules! require_root {
    ($name:expr) => {
        if let Some(why) = cannot_run() {
            let _ = writeln!(std::io::stderr(), "SKIPPED {}: {why}", $name);
            return;
        }
    };
}

const NOBODY: u32 = 65534;

/// The system's python3 (nobody may not be able to run another one, e.g. under /root).
const PYTHON: &str = "/usr/bin/python3";

/// A scratch tree under /tmp (root's, 0755), removed at the end.
struct Scene {
    base: PathBuf,
    /// nobody's processes, killed at the end.
    children: Vec<Child>,
}

impl Scene {
    fn new(name: &str) -> Scene {
        let base = std::env::temp_dir().join(format!(
            "unitsmith-gen-attack-{}-{name}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(base.join("out")).unwrap();
        fs::set_permissions(&base, fs::Permissions::from_mode(0o755)).unwrap();
        Scene {
            base,
            children: Vec::new(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.base.join(rel)
    }

    /// A directory root made and handed to nobody (a delegated directory).
    fn nobody_dir(&self, rel: &str) -> PathBuf {
        let d = self.path(rel);
        fs::create_dir_all(&d).unwrap();
        chown(&d, Some(NOBODY), Some(NOBODY)).unwrap();
        d
    }

    fn root_file(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
        p
    }

    /// A process of nobody's whose `/proc/PID/cmdline` is exactly `payload` (its argument
    /// area overwritten, no NUL in it) and which is not dumpable, so the kernel shows its
    /// `/proc/PID/` files as root's, mode 0444. Returns its cmdline's path.
    fn cmdline_of_nobody(&mut self, payload: &str) -> PathBuf {
        const PLANT: &str = r##"
import ctypes, sys, time
payload = sys.argv[1].encode()
f = open("/proc/self/stat").read().rsplit(")", 1)[1].split()
start, end = int(f[45]), int(f[46])
assert len(payload) < end - start
ctypes.memmove(start, payload + b"#" * (end - start - len(payload)), end - start)
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0
print("ready", flush=True)
time.sleep(120)
"##;
        let pad = " ".repeat(payload.len() + 64);
        let mut child = Command::new("setpriv")
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
            .args(["env", "-i", PYTHON, "-c", PLANT, payload, &pad])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready");
        // setpriv execs env, which execs python3: the same process.
        let cmdline = PathBuf::from(format!("/proc/{}/cmdline", child.id()));
        let m = fs::metadata(&cmdline).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(m.uid(), 0, "a process that is not dumpable shows as root's");
        assert_eq!(
            fs::read_to_string(&cmdline).unwrap().trim_end_matches('#'),
            payload
        );
        self.children.push(child);
        cmdline
    }

    /// Run the generator as root, system mode, on `dirs` (in search order), with the three
    /// output directories systemd gives: `out`, `out.early`, `out.late`.
    fn generate(&self, dirs: &[PathBuf]) -> Output {
        let dirs: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        let out = |d: &str| self.path(d).display().to_string();
        Command::new(generator())
            .args([
                "--no-kmsg-log",
                &out("out"),
                &out("out.early"),
                &out("out.late"),
            ])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("QUADLET_UNIT_DIRS", dirs.join(":"))
            .output()
            .unwrap()
    }

    /// The unit `name` in the normal output directory, where the units of root's own inputs
    /// go.
    fn unit(&self, name: &str) -> String {
        self.unit_in("out", name)
    }

    /// The unit `name` in the late output directory, where the stubs of inputs root does not
    /// trust go; never in the normal one.
    fn late(&self, name: &str) -> String {
        let normal = self.path("out").join(name);
        assert!(
            fs::symlink_metadata(&normal).is_err(),
            "{name} is in the normal output directory, above the vendor's units:\n{}",
            fs::read_to_string(&normal).unwrap_or_default()
        );
        self.unit_in("out.late", name)
    }

    fn unit_in(&self, dir: &str, name: &str) -> String {
        fs::read_to_string(self.path(dir).join(name)).unwrap_or_else(|e| {
            let w = self.written_in(dir);
            panic!(
                "{name}: {e}; {dir}/ holds {} units: {:?}",
                w.len(),
                &w[..w.len().min(10)]
            )
        })
    }

    /// The unit files written in the normal directory (not the `.wants/` directories).
    fn written(&self) -> Vec<String> {
        self.written_in("out")
    }

    /// The unit files written in `dir` (`out`, `out.early`, `out.late`).
    fn written_in(&self, dir: &str) -> Vec<String> {
        let Ok(rd) = fs::read_dir(self.path(dir)) else {
            return Vec::new();
        };
        let mut v: Vec<String> = rd
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().unwrap().is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// Every unit written, in any output directory: (directory, name, text).
    fn all_units(&self) -> Vec<(&'static str, String, String)> {
        let mut v = Vec::new();
        for dir in ["out", "out.early", "out.late"] {
            for u in self.written_in(dir) {
                let text = self.unit_in(dir, &u);
                v.push((dir, u, text));
            }
        }
        v
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = fs::remove_dir_all(&self.base);
    }
}

fn as_nobody(argv: &[&str]) {
    let o = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .args(argv)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "as nobody: {argv:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn nobody_symlink(target: &Path, link: &Path) {
    as_nobody(&["ln", "-s", target.to_str().unwrap(), link.to_str().unwrap()]);
}

/// The stub's `Error=` lines, or a panic showing the unit.
fn stub_error(unit: &str) -> String {
    let errors: Vec<&str> = unit
        .lines()
        .filter_map(|l| l.strip_prefix("Error="))
        .collect();
    assert!(!errors.is_empty(), "not a failure stub:\n{unit}");
    errors.join("\n")
}

/// What a unit made of nobody's bytes would run as root.
const MARK: &str = "/tmp/unitsmith-gen-attack-pwned";

fn unit_payload() -> String {
    format!("\n[Container]\nImage=docker.io/library/busybox:latest\n[Service]\nExecStartPre=/bin/touch {MARK}\n[Install]\nWantedBy=multi-user.target\n")
}

/// A link to `/proc/PID/cmdline` of nobody's own process, planted in a directory delegated to
/// nobody, in a sticky world-writable search directory, and made by root itself: the first
/// two are refused for where they are, all three for what they lead to.
#[test]
fn a_link_to_proc_cmdline_is_never_an_input() {
    require_root!("a_link_to_proc_cmdline_is_never_an_input");
    let mut s = Scene::new("proc");
    let cmdline = s.cmdline_of_nobody(&unit_payload());
    let team = s.nobody_dir("in/team");
    nobody_symlink(&cmdline, &team.join("evil.container"));
    let shared = s.path("in/shared");
    fs::create_dir_all(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).unwrap();
    nobody_symlink(&cmdline, &shared.join("evil2.container"));
    symlink(&cmdline, s.path("in/rootmade.container")).unwrap();
    let o = s.generate(&[s.path("in")]);
    assert_eq!(o.status.code(), Some(1));
    for (dir, u, text) in s.all_units() {
        assert!(
            !text.contains(MARK),
            "{dir}/{u} runs nobody's command:\n{text}"
        );
    }
    let e = stub_error(&s.late("evil.service"));
    assert!(
        e.contains(&format!(
            "not used: {} is owned by uid 65534, mode 0755",
            team.display()
        )),
        "{e}"
    );
    assert!(
        e.contains(&format!("fix: chown root:root {}", team.display())),
        "{e}"
    );
    let e = stub_error(&s.late("evil2.service"));
    assert!(
        e.contains("is a symbolic link owned by uid 65534") && e.contains("every user can write"),
        "{e}"
    );
    let e = stub_error(&s.unit("rootmade.service"));
    assert!(e.contains("/proc is on proc, a kernel file system"), "{e}");
}

/// A Compose project directory delegated to nobody: `compose.yaml` as a link to nobody's
/// `/proc/PID/cmdline` (a privileged container with `/` mounted), or to a Compose file root
/// owns elsewhere. Each project is a stub naming the directory and its owner.
#[test]
fn a_compose_project_directory_another_user_owns_is_not_used() {
    require_root!("a_compose_project_directory_another_user_owns_is_not_used");
    let mut s = Scene::new("compose");
    let yaml = "services:\n  web:\n    image: docker.io/library/busybox:latest\n    privileged: true\n    volumes:\n      - /:/host\n";
    let cmdline = s.cmdline_of_nobody(yaml);
    fs::create_dir_all(s.path("in/compose")).unwrap();
    let app = s.nobody_dir("in/compose/app");
    nobody_symlink(&cmdline, &app.join("compose.yaml"));
    let rootfile = s.root_file("elsewhere/compose.yaml", yaml);
    let other = s.nobody_dir("in/compose/other");
    nobody_symlink(&rootfile, &other.join("compose.yaml"));
    let o = s.generate(&[s.path("in")]);
    assert_eq!(o.status.code(), Some(1));
    for (dir, u, text) in s.all_units() {
        assert!(
            !text.contains("--privileged"),
            "{dir}/{u} is privileged:\n{text}"
        );
    }
    for (project, dir) in [("app", &app), ("other", &other)] {
        let e = stub_error(&s.late(&format!("{project}.service")));
        assert!(
            e.contains(&format!("{} is owned by uid 65534", dir.display())),
            "{project}: {e}"
        );
        // Its target says why it fails, but is not pulled in at boot.
        let target = s.late(&format!("{project}.target"));
        assert!(target.contains(&format!("Requires={project}.service")));
        assert!(!target.contains("[Install]"), "{target}");
    }
    assert_eq!(links_in(&s.path("out.late")), Vec::<PathBuf>::new());
    assert_eq!(links_in(&s.path("out")), Vec::<PathBuf>::new());
}

/// Files that look root's in a directory delegated to nobody: a link to a Quadlet file root
/// owns elsewhere, and a directory root made there once (its owner can rename, replace or
/// swap it at any time). Neither is used; both are stubs naming the delegated directory.
#[test]
fn root_owned_files_in_a_delegated_directory_are_not_used() {
    require_root!("root_owned_files_in_a_delegated_directory_are_not_used");
    let s = Scene::new("delegated");
    let real = s.root_file(
        "elsewhere/real.container",
        &format!("[Container]\nImage=docker.io/library/busybox:latest\n[Service]\nExecStartPre=/bin/touch {MARK}\n"),
    );
    let team = s.nobody_dir("in/team");
    nobody_symlink(&real, &team.join("linked.container"));
    // Made by root before the directory was handed over (or renamed in by nobody).
    s.root_file(
        "in/team/sub/inner.container",
        "[Container]\nImage=docker.io/library/busybox:latest\n",
    );
    let o = s.generate(&[s.path("in")]);
    assert_eq!(o.status.code(), Some(1));
    for u in ["linked.service", "inner.service"] {
        let e = stub_error(&s.late(u));
        assert!(
            e.contains(&format!("{} is owned by uid 65534", team.display())),
            "{u}: {e}"
        );
    }
}

/// A drop-in directory `web.container.d/` that nobody owns, next to root's own
/// `web.container`: its drop-in (a link to nobody's cmdline) would add `ExecStartPre=` to a
/// root unit. The unit fails instead, naming the directory.
#[test]
fn a_dropin_directory_another_user_owns_fails_its_unit() {
    require_root!("a_dropin_directory_another_user_owns_fails_its_unit");
    let mut s = Scene::new("dropin");
    s.root_file(
        "in/web.container",
        "[Container]\nImage=docker.io/library/busybox:latest\n",
    );
    let cmdline = s.cmdline_of_nobody(&format!("\n[Service]\nExecStartPre=/bin/touch {MARK}\n"));
    let d = s.nobody_dir("in/web.container.d");
    nobody_symlink(&cmdline, &d.join("10-evil.conf"));
    let o = s.generate(&[s.path("in")]);
    assert_eq!(o.status.code(), Some(1));
    let web = s.unit("web.service");
    assert!(!web.contains(MARK), "{web}");
    let e = stub_error(&web);
    assert!(
        e.contains(&format!("{} is owned by uid 65534", d.display())),
        "{e}"
    );
}

/// 20,001 inputs nobody made in a directory of theirs, searched before root's own: root's
/// input still gets its unit. The refused ones get stubs up to their own limit and the rest
/// is counted, so the run stays small.
#[test]
fn refused_inputs_never_starve_roots_own() {
    require_root!("refused_inputs_never_starve_roots_own");
    let s = Scene::new("starve");
    let team = s.nobody_dir("team");
    as_nobody(&[
        PYTHON,
        "-c",
        "import sys\nfor i in range(20001): open(f'{sys.argv[1]}/x{i:05}.container', 'w').write('[Container]\\nImage=docker.io/library/busybox:latest\\n')",
        team.to_str().unwrap(),
    ]);
    s.root_file(
        "etc-unitsmith/good.container",
        "[Container]\nImage=docker.io/library/busybox:latest\n",
    );
    let o = s.generate(&[team.clone(), s.path("etc-unitsmith")]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    let good = s.unit("good.service");
    assert!(
        !good.contains("[X-Unitsmith]"),
        "root's input is a stub:\n{good}"
    );
    assert!(good.contains("podman run"), "{good}");
    assert_eq!(s.written(), ["good.service"]);
    let stubs = s.written_in("out.late").len();
    assert!(stubs <= 1_000, "{stubs} stubs for refused inputs");
    assert!(stubs > 0, "no stub says why nobody's inputs are not used");
    let e = stub_error(&s.late("x00000.service"));
    assert!(
        e.contains(&format!("{} is owned by uid 65534", team.display())),
        "{e}"
    );
    assert!(
        stderr.contains("that root does not trust") && stderr.contains("not listed"),
        "the inputs left are not reported:\n{stderr}"
    );
}

/// `COMPOSE_PROJECT_NAME=../x` in a project's `.env`: the project name becomes file names
/// root writes (`NAME.target`, its `.wants/` directory and links). Nothing is written
/// outside the output directory; the project fails, naming `.env`, its line and the key.
#[test]
fn compose_project_name_cannot_leave_the_output_directory() {
    require_root!("compose_project_name_cannot_leave_the_output_directory");
    let s = Scene::new("projname");
    s.root_file(
        "in/compose/app/compose.yaml",
        "services:\n  web:\n    image: docker.io/library/busybox:latest\n",
    );
    s.root_file("in/compose/app/.env", "A=1\nCOMPOSE_PROJECT_NAME=../x\n");
    let o = s.generate(&[s.path("in")]);
    assert_eq!(o.status.code(), Some(1));
    let mut top: Vec<String> = fs::read_dir(&s.base)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    // (The generator makes the output directories it is given when they are missing.)
    assert_eq!(
        top,
        ["in", "out", "out.late"],
        "written outside the output directories"
    );
    let e = stub_error(&s.unit("app.service"));
    assert!(
        e.contains("compose/app/.env:2: COMPOSE_PROJECT_NAME is not a project name"),
        "{e}"
    );
    assert!(!e.contains("../x"), "the value is quoted: {e}");
}

/// Every symbolic link under `dir` (`.wants/` links, aliases), relative to it.
fn links_in(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.map(|e| e.unwrap()) {
            let t = e.file_type().unwrap();
            if t.is_symlink() {
                v.push(e.path().strip_prefix(dir).unwrap().to_path_buf());
            } else if t.is_dir() {
                todo.push(e.path());
            }
        }
    }
    v.sort();
    v
}

/// Names nobody gives files in a directory delegated to them (searched first) and in a
/// sticky one every user can write: `ssh.container` and `cron.container` (with `[Install]`
/// and `Alias=`, which a vendor unit has: systemd takes the generator's normal directory over
/// `/usr/lib/systemd/system`, so a stub there would replace the vendor's `ssh.service` at the
/// next boot), and the names of root's own inputs and of the units they give (a Quadlet file
/// searched later, `ServiceName=`, an env gate, a Compose service). Each of nobody's files
/// gets a failure stub in the late directory, below every unit directory, with no link and no
/// `[Install]`; every unit of root's is generated in the normal directory.
#[test]
fn a_refused_input_never_takes_a_units_place() {
    require_root!("a_refused_input_never_takes_a_units_place");
    let s = Scene::new("place");
    let team = s.nobody_dir("in/team");
    let shared = s.path("in/shared");
    fs::create_dir_all(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).unwrap();
    let planted = format!(
        "[Container]\nImage=docker.io/library/busybox:latest\nExec=/bin/touch {MARK}\n[Install]\nWantedBy=multi-user.target\nRequiredBy=sockets.target\nAlias=sshd.service\n"
    );
    as_nobody(&[
        "sh",
        "-c",
        "for n in ssh web www app-web gate lonely; do printf %s \"$1\" >\"$2/$n.container\"; done; printf %s \"$1\" >\"$3/cron.container\"",
        "sh",
        &planted,
        team.to_str().unwrap(),
        shared.to_str().unwrap(),
    ]);
    let image = "[Container]\nImage=docker.io/library/busybox:latest\n";
    s.root_file("root/web.container", image);
    s.root_file("root/site.container", &format!("{image}ServiceName=www\n"));
    s.root_file(
        "root/gate.envgate",
        "[EnvGate]\nWaitFor=/etc/app/role.env\nOutput=/etc/app/app.env\nImport=ROLE\nConsumer=web.service\n",
    );
    s.root_file(
        "root/compose/app/compose.yaml",
        "services:\n  web:\n    image: docker.io/library/busybox:latest\n",
    );
    let o = s.generate(&[s.path("in"), s.path("root")]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");

    for name in ["ssh.service", "cron.service", "lonely.service"] {
        let stub = s.late(name);
        let e = stub_error(&stub);
        assert!(e.contains("uid 65534"), "{name}: {e}");
        assert!(
            !stub.contains("[Install]") && !stub.contains(MARK),
            "{name}:\n{stub}"
        );
    }
    assert!(stub_error(&s.late("ssh.service"))
        .contains(&format!("{} is owned by uid 65534", team.display())));
    // Root's own units, each from root's file.
    for (name, from) in [
        ("web.service", "root/web.container"),
        ("www.service", "root/site.container"),
        ("gate.service", "root/gate.envgate"),
        ("app-web.service", "root/compose/app/compose.yaml"),
    ] {
        let unit = s.unit(name);
        assert!(!unit.contains("[X-Unitsmith]"), "{name} is a stub:\n{unit}");
        let source = format!("SourcePath={}", s.path(from).display());
        assert!(unit.contains(&source), "{name} is not from {from}:\n{unit}");
        assert!(
            fs::symlink_metadata(s.path("out.late").join(name)).is_err(),
            "a stub of {name} in the late directory too"
        );
    }
    // No link of nobody's anywhere: only root's project target is wanted at boot.
    assert_eq!(links_in(&s.path("out.late")), Vec::<PathBuf>::new());
    let links = links_in(&s.path("out"));
    assert!(
        links
            .iter()
            .all(|l| !l.to_string_lossy().contains("ssh") && !l.to_string_lossy().contains("cron")),
        "{links:?}"
    );
    for nobodys in ["web", "www", "app-web", "gate"] {
        let hidden = team.join(format!("{nobodys}.container"));
        assert!(
            stderr.contains(&hidden.display().to_string()),
            "{} is not reported:\n{stderr}",
            hidden.display()
        );
    }
    assert_eq!(
        s.written_in("out.late"),
        ["cron.service", "lonely.service", "ssh.service"]
    );
}

/// The checks are root's, for what root acts on: a user manager's generator runs as that user
/// and uses that user's own files, in that user's own directories, whatever their mode.
#[test]
fn a_users_generator_uses_that_users_own_files() {
    require_root!("a_users_generator_uses_that_users_own_files");
    let s = Scene::new("user-mode");
    let q = s.nobody_dir("home/q");
    let file = q.join("mine.container");
    fs::write(
        &file,
        "[Container]\nImage=docker.io/library/busybox:latest\n",
    )
    .unwrap();
    chown(&file, Some(NOBODY), Some(NOBODY)).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o664)).unwrap();
    let out = s.nobody_dir("user-out");
    // A copy nobody can run (the build's own may be in a directory only root can enter).
    let bin = s.path("unitsmith-generator");
    fs::copy(generator(), &bin).unwrap();
    let o = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .arg(&bin)
        .args(["--user", "--no-kmsg-log"])
        .arg(&out)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("QUADLET_UNIT_DIRS", &q)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let unit = fs::read_to_string(out.join("mine.service")).unwrap();
    assert!(!unit.contains("[X-Unitsmith]"), "a stub:\n{unit}\n{stderr}");
    assert!(unit.contains("busybox"), "{unit}");
}

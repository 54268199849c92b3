//! Faults in the helpers, for real (issue 12, item 4): SIGTERM at every wait of every helper
//! ends it within a second, a systemctl that hangs is bounded by `reload --timeout`, and two
//! reloads at once take turns. systemd is played by a stand-in `systemctl` (the helpers call
//! `$UNITSMITH_SYSTEMCTL`) that records its calls and hangs where a test asks it to, so each
//! wait is reached on purpose and every time; the faults that need a real systemd (kill -9 of
//! a wait unit mid-write, a full file system, a read-only state directory, real units) are e2e
//! scenarios 55, 56, 64 and 65.
//!
//! Each SIGTERM test prints what it measured (`cargo test --test faults -- --nocapture`).

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// How long a helper may take to end after SIGTERM.
const STOP_LIMIT: Duration = Duration::from_secs(1);

/// A scratch tree under /tmp, removed at the end.
struct Scene {
    base: PathBuf,
}

impl Scene {
    fn new(name: &str) -> Scene {
        let base =
            std::env::temp_dir().join(format!("unitsmith-faults-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        for d in ["inputs", "state", "lock", "bin"] {
            std::fs::create_dir_all(base.join(d)).unwrap();
        }
        // Checked directories must be writable by their owner only.
        for d in ["", "inputs", "state", "lock", "bin"] {
            std::fs::set_permissions(base.join(d), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let s = Scene { base };
        s.write_exec("bin/systemctl", SYSTEMCTL);
        s.write_exec("bin/journalctl", "#!/bin/sh\nexit 0\n");
        s
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.base.join(rel)
    }

    fn write_exec(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// `unitsmith ARGS` against the stand-in systemd; `hang`: the systemctl verbs that never
    /// return (daemon-reload, show, start, restart, stop).
    fn unitsmith(&self, args: &[&str], hang: &str) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_unitsmith"));
        c.args(args)
            .env("UNITSMITH_SYSTEMCTL", self.path("bin/systemctl"))
            .env("UNITSMITH_JOURNALCTL", self.path("bin/journalctl"))
            .env("UNITSMITH_STATE_DIR", self.path("state"))
            .env("UNITSMITH_LOCK_DIR", self.path("lock"))
            .env("UNITSMITH_UNIT_DIRS", self.path("inputs"))
            .env("FAKE_LOG", self.path("systemctl.log"))
            .env("FAKE_HANG", hang)
            .env_remove("QUADLET_UNIT_DIRS")
            .env_remove("JOURNAL_STREAM")
            .env_remove("MANAGERPID");
        c
    }

    /// The stand-in's calls so far, one a line.
    fn calls(&self) -> String {
        std::fs::read_to_string(self.path("systemctl.log")).unwrap_or_default()
    }

    /// The processes the stand-in left hanging (`sleep`s it started), still alive.
    fn hanging_left(&self) -> Vec<String> {
        let pids = std::fs::read_to_string(self.path("systemctl.log.pids")).unwrap_or_default();
        pids.lines()
            .filter(|p| {
                std::fs::read_to_string(format!("/proc/{p}/stat"))
                    .is_ok_and(|s| !s.contains(") Z "))
            })
            .map(String::from)
            .collect()
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// systemd's stand-in: answers `show` and `list-units` with loaded units ($FAKE_LOAD,
/// $FAKE_ACTIVE), records
/// every call in $FAKE_LOG (with the time, and the end of each daemon-reload), and hangs on the
/// verbs listed in $FAKE_HANG (a child `sleep`, so only killing its process group ends it).
const SYSTEMCTL: &str = r#"#!/bin/sh
now() { date +%s.%N; }
echo "$(now) $*" >>"$FAKE_LOG"
verb=
for a in "$@"; do case $a in -*) ;; *) verb=$a; break ;; esac; done
case " $FAKE_HANG " in *" $verb "*)
	sleep 1000 &
	echo $! >>"$FAKE_LOG.pids"
	wait
	exit 0 ;;
esac
case $verb in
daemon-reload)
	[ -z "$FAKE_RELOAD_SLEEP" ] || sleep "$FAKE_RELOAD_SLEEP"
	echo "$(now) daemon-reload done" >>"$FAKE_LOG" ;;
show)
	seen=
	for a in "$@"; do
		if [ -n "$seen" ]; then
			printf 'Id=%s\nLoadState=%s\nActiveState=%s\nSubState=x\nResult=success\n\n' \
				"$a" "${FAKE_LOAD:-loaded}" "${FAKE_ACTIVE:-active}"
		fi
		[ "$a" = -- ] && seen=1
	done ;;
list-units)
	seen=
	for a in "$@"; do
		[ -z "$seen" ] || printf '%s %s %s x %s\n' "$a" "${FAKE_LOAD:-loaded}" "${FAKE_ACTIVE:-active}" "$a"
		[ "$a" = -- ] && seen=1
	done ;;
esac
exit 0
"#;

/// A running helper whose output (stdout and stderr, as lines come) is collected.
struct Running {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Running {
    fn start(mut cmd: Command) -> Running {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let collect = |pipe: Box<dyn std::io::Read + Send>| {
            let sink = stderr.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut s = sink.lock().unwrap();
                    s.push_str(&line);
                    s.push('\n');
                }
            });
        };
        collect(Box::new(child.stdout.take().unwrap()));
        collect(Box::new(child.stderr.take().unwrap()));
        Running { child, stderr }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Wait (at most 20 s) until `ready` holds: the helper is in the wait to interrupt.
    fn until(&mut self, what: &str, ready: impl Fn(&Running) -> bool) {
        let t = Instant::now();
        while !ready(self) {
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("ended ({st}) before {what}; stderr:\n{}", self.stderr());
            }
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "never reached: {what}; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // Well inside the wait, not at its first instant.
        std::thread::sleep(Duration::from_millis(300));
    }

    /// SIGTERM; how long until it ended, and how it ended (killed after 10 s if it did not).
    fn terminate(mut self) -> (Duration, ExitStatus, String) {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM).unwrap();
        let t = Instant::now();
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if t.elapsed() > Duration::from_secs(10) {
                let _ = self.child.kill();
                break self.child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let took = t.elapsed();
        std::thread::sleep(Duration::from_millis(50)); // the last stderr lines
        (took, status, self.stderr())
    }

    /// Wait for the end (at most `limit`); how long it took from now.
    fn finish(mut self, limit: Duration) -> (Duration, ExitStatus, String) {
        let t = Instant::now();
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if t.elapsed() > limit {
                let _ = self.child.kill();
                let st = self.child.wait().unwrap();
                panic!(
                    "still running after {limit:?} ({st}); stderr:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let took = t.elapsed();
        std::thread::sleep(Duration::from_millis(50));
        (took, status, self.stderr())
    }
}

/// The check every SIGTERM test makes: ended within the limit, the way `how` says.
fn assert_stopped(what: &str, took: Duration, status: ExitStatus, how: Ended, stderr: &str) {
    println!(
        "SIGTERM {what}: ended after {} ms ({status})",
        took.as_millis()
    );
    assert!(
        took <= STOP_LIMIT,
        "{what}: SIGTERM took {took:?} (limit {STOP_LIMIT:?}); stderr:\n{stderr}"
    );
    match how {
        Ended::BySigterm => assert_eq!(
            status.signal(),
            Some(15),
            "{what}: should die of SIGTERM (a clean stop to systemd), got {status}; stderr:\n{stderr}"
        ),
        Ended::Success => assert!(
            status.success(),
            "{what}: should exit 0, got {status}; stderr:\n{stderr}"
        ),
    }
}

#[derive(Clone, Copy)]
enum Ended {
    BySigterm,
    Success,
}

#[test]
fn sigterm_ends_reload_in_a_hung_daemon_reload() {
    let s = Scene::new("reload-hung");
    let mut r = Running::start(s.unitsmith(&["reload", "--timeout", "60s"], "daemon-reload"));
    r.until("the daemon-reload call", |_| {
        s.calls().contains("daemon-reload")
    });
    let (took, st, err) = r.terminate();
    assert_stopped("reload, in daemon-reload", took, st, Ended::BySigterm, &err);
    assert!(
        err.contains("stopped (SIGTERM) during the daemon-reload; nothing restarted"),
        "{err}"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        s.hanging_left(),
        Vec::<String>::new(),
        "systemctl's children outlived it"
    );
}

#[test]
fn sigterm_ends_reload_waiting_for_units_to_load() {
    let s = Scene::new("reload-load-wait");
    let mut c = s.unitsmith(&["reload", "--timeout", "60s", "never.service"], "");
    c.env("FAKE_LOAD", "not-found");
    let mut r = Running::start(c);
    // A look is a list-units (or, for what it does not list, a show) naming the unit.
    r.until("a few looks at never.service", |_| {
        s.calls()
            .lines()
            .filter(|l| {
                (l.contains(" list-units ") || l.contains(" show ")) && l.contains("never.service")
            })
            .count()
            >= 3
    });
    let (took, st, err) = r.terminate();
    assert_stopped(
        "reload, waiting for never.service to load",
        took,
        st,
        Ended::BySigterm,
        &err,
    );
    assert!(
        err.contains("while waiting for the units to be loaded"),
        "{err}"
    );
    assert!(
        !s.calls().contains("restart"),
        "nothing restarted:\n{}",
        s.calls()
    );
    assert!(
        !s.path("state/reload.state").exists(),
        "the state is written only by a run that finished"
    );
}

#[test]
fn sigterm_ends_reload_waiting_for_another_reload() {
    let s = Scene::new("reload-lock-wait");
    // The other reload: it holds the lock.
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(s.path("state/reload.lock"))
        .unwrap();
    std::fs::set_permissions(
        s.path("state/reload.lock"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let held = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive).unwrap();
    let mut r = Running::start(s.unitsmith(&["reload"], ""));
    r.until("the wait for the lock", |r| {
        r.stderr().contains("waiting for another unitsmith reload")
    });
    let (took, st, err) = r.terminate();
    assert_stopped(
        "reload, waiting for another reload",
        took,
        st,
        Ended::BySigterm,
        &err,
    );
    assert!(err.contains("nothing done"), "{err}");
    assert_eq!(s.calls(), "", "no systemctl call while waiting");
    drop(held);
}

#[test]
fn sigterm_ends_reload_in_a_hung_restart() {
    let s = Scene::new("reload-restart");
    let mut r = Running::start(s.unitsmith(&["reload", "--restart", "web.service"], "restart"));
    r.until("the restart call", |_| s.calls().contains(" restart "));
    let (took, st, err) = r.terminate();
    assert_stopped("reload, in restart", took, st, Ended::BySigterm, &err);
    assert!(
        err.contains("while restarting; the state is unchanged"),
        "{err}"
    );
}

#[test]
fn sigterm_ends_lock_wait() {
    let s = Scene::new("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(s.path("lock/single.lock"))
        .unwrap();
    std::fs::set_permissions(
        s.path("lock/single.lock"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let held = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive).unwrap();
    let mut r = Running::start(s.unitsmith(
        &["lock", "--name", "single", "--wait", "60s", "--", "true"],
        "",
    ));
    r.until("the wait for the lock", |r| {
        r.stderr().contains("waiting up to")
    });
    let (took, st, err) = r.terminate();
    assert_stopped("lock --wait 60s", took, st, Ended::BySigterm, &err);
    drop(held);
}

/// An env gate declaration whose output goes to the scene; `body` adds keys.
fn gate(s: &Scene, body: &str) -> PathBuf {
    let p = s.path("inputs/g.envgate");
    std::fs::write(
        &p,
        format!(
            "[EnvGate]\nOutput={}\nConsumer=c.service\nTimeout=10min\n{body}",
            s.path("out/o.env").display()
        ),
    )
    .unwrap();
    p
}

#[test]
fn sigterm_ends_envgate_wait_for_a_file() {
    let s = Scene::new("gate-file");
    let decl = gate(
        &s,
        &format!("WaitFor={}\nImport=A\n", s.path("never.env").display()),
    );
    let mut r =
        Running::start(s.unitsmith(&["envgate", "wait", "--system", decl.to_str().unwrap()], ""));
    r.until("the wait for the file", |r| {
        r.stderr().contains("waiting up to")
    });
    let (took, st, err) = r.terminate();
    assert_stopped("envgate wait, for a file", took, st, Ended::Success, &err);
    assert!(err.contains("stopped before"), "{err}");
}

#[test]
fn sigterm_ends_envgate_wait_in_exec_and_in_its_backoff() {
    let s = Scene::new("gate-exec");
    std::fs::write(s.path("role.env"), "A=1\n").unwrap();
    s.write_exec(
        "bin/fetch",
        &format!(
            "#!/bin/sh\necho call >>{}\n[ -e {} ] && exec sleep 1000\nexit 1\n",
            s.path("fetch.calls").display(),
            s.path("hang").display()
        ),
    );
    let decl = gate(
        &s,
        &format!(
            "WaitFor={}\nImport=A\nExec={}\nSettleTime=100ms\n",
            s.path("role.env").display(),
            s.path("bin/fetch").display()
        ),
    );
    let args = ["envgate", "wait", "--system", decl.to_str().unwrap()];
    // Exec= fails: the wait unit retries after 1 s, 2 s, 4 s ... SIGTERM in that backoff.
    let mut r = Running::start(s.unitsmith(&args, ""));
    r.until("the backoff after a failed Exec=", |r| {
        r.stderr().contains("trying again (backoff)")
    });
    let (took, st, err) = r.terminate();
    assert_stopped(
        "envgate wait, in the Exec= backoff",
        took,
        st,
        Ended::Success,
        &err,
    );
    // Exec= runs and does not end: SIGTERM while it runs.
    std::fs::write(s.path("hang"), "").unwrap();
    let mut r = Running::start(s.unitsmith(&args, ""));
    r.until("Exec= running", |_| s.path("fetch.calls").exists());
    let (took, st, err) = r.terminate();
    assert_stopped("envgate wait, in Exec=", took, st, Ended::Success, &err);
    assert!(err.contains("unchanged"), "{err}");
}

#[test]
fn sigterm_ends_envgate_wait_restarting_its_consumer() {
    let s = Scene::new("gate-restart");
    std::fs::write(s.path("role.env"), "A=1\n").unwrap();
    let decl = gate(
        &s,
        &format!(
            "WaitFor={}\nImport=A\nSettleTime=100ms\n",
            s.path("role.env").display()
        ),
    );
    let mut r = Running::start(s.unitsmith(
        &["envgate", "wait", "--system", decl.to_str().unwrap()],
        "restart",
    ));
    r.until("the consumer's restart", |_| {
        s.calls().contains(" restart ")
    });
    let (took, st, err) = r.terminate();
    assert_stopped(
        "envgate wait, restarting its consumer",
        took,
        st,
        Ended::Success,
        &err,
    );
    assert!(
        std::fs::read_to_string(s.path("out/o.env"))
            .unwrap()
            .contains("A=1"),
        "the env was written before"
    );
}

#[test]
fn sigterm_ends_reconcile_in_a_slow_start() {
    let s = Scene::new("reconcile");
    std::fs::write(s.path("reconcile.conf"), "crashed.service\n").unwrap();
    let mut c = s.unitsmith(
        &[
            "reconcile",
            "--config",
            s.path("reconcile.conf").to_str().unwrap(),
        ],
        "start",
    );
    c.env("FAKE_ACTIVE", "failed");
    let mut r = Running::start(c);
    r.until("the start of crashed.service", |_| {
        s.calls().contains("start -- crashed.service")
    });
    let (took, st, err) = r.terminate();
    assert_stopped(
        "reconcile, starting a unit",
        took,
        st,
        Ended::BySigterm,
        &err,
    );
    assert!(err.contains("while starting crashed.service"), "{err}");
}

#[test]
fn reload_is_bounded_by_its_timeout_when_systemctl_hangs() {
    let s = Scene::new("reload-timeout");
    // The daemon-reload; the look at the units (list-units, or show for --json's full state).
    for (verb, json) in [
        ("daemon-reload", false),
        ("list-units", false),
        ("show", true),
    ] {
        let _ = std::fs::remove_file(s.path("systemctl.log"));
        let mut args = vec!["reload", "--timeout", "2s", "web.service"];
        if json {
            args.push("--json");
        }
        let r = Running::start(s.unitsmith(&args, verb));
        let (took, st, err) = r.finish(Duration::from_secs(10));
        println!(
            "systemctl {verb} hanging: reload --timeout 2s ended after {} ms ({st})",
            took.as_millis()
        );
        assert_eq!(st.code(), Some(1), "{verb}: {err}");
        assert!(
            took >= Duration::from_secs(2) && took < Duration::from_secs(5),
            "{verb}: took {took:?}"
        );
        assert!(
            err.contains(&format!("systemctl {verb}")) && err.contains("no answer within 2s"),
            "{verb}: the error names the call and the bound:\n{err}"
        );
        assert!(
            !s.calls().contains(" restart "),
            "{verb}: nothing restarted:\n{}",
            s.calls()
        );
        // A look that got no answer says so, rather than what a later look might say.
        assert!(
            verb == "daemon-reload" || err.contains("cannot ask systemd about web.service"),
            "{verb}: {err}"
        );
    }
}

/// Read the stand-in's log: the starts and the ends of the daemon-reloads, in seconds.
fn reload_times(log: &str) -> (Vec<f64>, Vec<f64>) {
    let (mut starts, mut ends) = (Vec::new(), Vec::new());
    for l in log.lines() {
        let (t, what) = l.split_once(' ').unwrap();
        let t: f64 = t.parse().unwrap();
        match what {
            "daemon-reload" => starts.push(t),
            "daemon-reload done" => ends.push(t),
            _ => {}
        }
    }
    (starts, ends)
}

#[test]
fn two_reloads_at_once_take_turns() {
    let s = Scene::new("two");
    let start = |json: bool| {
        let mut c = s.unitsmith(
            &if json {
                vec!["reload", "--restart-changed", "--json"]
            } else {
                vec!["reload", "--restart-changed"]
            },
            "",
        );
        c.env("FAKE_RELOAD_SLEEP", "0.5");
        Running::start(c)
    };
    let (a, b) = (start(false), start(true));
    let (_, sa, ea) = a.finish(Duration::from_secs(20));
    let (_, sb, eb) = b.finish(Duration::from_secs(20));
    assert!(sa.success(), "{ea}");
    assert!(sb.success(), "{eb}");
    let (starts, ends) = reload_times(&s.calls());
    assert_eq!((starts.len(), ends.len()), (2, 2), "{}", s.calls());
    println!(
        "two reloads: daemon-reloads at {:.3}-{:.3} and {:.3}-{:.3}",
        starts[0], ends[0], starts[1], ends[1]
    );
    assert!(
        starts[1] >= ends[0],
        "the daemon-reloads overlapped: the second began at {:.3}, before the first ended at {:.3}",
        starts[1],
        ends[0]
    );
    assert!(
        format!("{ea}{eb}").contains("waiting for another unitsmith reload"),
        "the second one said it waited:\n{ea}\n{eb}"
    );
    assert!(Path::new(&s.path("state/reload.state")).exists());
}

//! `unitsmith lock`: run a command while holding an exclusive kernel lock that dies with it.
//!
//! The lock is a `flock(2)` on `/run/unitsmith/lock/NAME.lock`. Once it is taken, the command
//! is `exec`ed in our place with the lock's file descriptor inherited, so the lock belongs to
//! the command (and to any child it passes the descriptor on to): when the last of them
//! exits, however it exits (`kill -9` included), the kernel releases the lock. There is no
//! pid file, and nothing is ever stale.
//!
//! Waiting polls with short, growing sleeps (10 ms up to 100 ms), so SIGTERM ends the wait at
//! once; a run stopped while waiting dies of SIGTERM, as systemd expects of a clean stop.
//!
//! Root's locks live in a directory only root can write or read (mode 0700), checked on every
//! use, and lock files are mode 0600: flock needs no write access, so a lock file another user
//! could open is a lock that user could hold forever. A world-writable place such as
//! `/run/lock` would let any user make the directory first and plant links in it. Lock files
//! are never opened through a link (see `safepath`).

use std::ffi::{CString, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, IntoRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::libc;

use crate::safepath::{self, Missing, Trust};

/// Exit status when the lock is still held at the end of the wait (EX_TEMPFAIL).
pub const EXIT_TIMEOUT: u8 = 75;
/// Where named locks live (root): a directory only root can write. Unprivileged users get
/// `$XDG_RUNTIME_DIR/unitsmith/lock`.
pub const LOCK_DIR: &str = "/run/unitsmith/lock";
/// Lock files are readable by their owner only: anyone who can open one can hold it.
const LOCK_FILE_MODE: u32 = 0o600;

const AFTER_HELP: &str = "\
The lock is a flock(2) on /run/unitsmith/lock/NAME.lock ($XDG_RUNTIME_DIR/unitsmith/lock for
unprivileged users), a directory only its owner can write; lock files are made mode 0600. COMMAND is exec'ed in place of unitsmith with the lock descriptor
inherited (its number is in $UNITSMITH_LOCK_FD), so the lock is released exactly when COMMAND,
and every child that kept the descriptor, has exited, even after kill -9. No pid files.

Default NAME: the systemd unit this runs in (the innermost *.service in /proc/self/cgroup), so
`ExecStart=unitsmith lock --wait 10s -- daemon` in foo.service locks foo.service.lock and a
restart waits for the old process. Outside a service (a shell): COMMAND's file name. A manual
run and a unit exclude each other when both give the same --name.

Examples:
  ExecStart=/usr/local/bin/unitsmith lock --wait 30s -- /usr/bin/scheduler --foreground
  unitsmith lock --name scheduler --wait 5s -- /usr/bin/scheduler --once

Exit status: COMMAND's, once it runs; 75 when the lock is still held after --wait (the message
names the holder's PID and command line); 127/126 when COMMAND cannot be found/run; 2 usage;
1 other errors. SIGTERM while waiting ends the wait at once (the process dies of SIGTERM).
See unitsmith-lock(1).";

#[derive(clap::Args, Debug)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// Wait up to DURATION for the holder to exit (systemd time span: 500ms, 10s, 2min).
    /// Default 0: fail at once when the lock is held.
    ///
    /// SIGTERM or SIGINT ends the wait at once.
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = crate::duration::parse)]
    pub wait: Duration,
    /// Lock /run/unitsmith/lock/NAME.lock. Default: the systemd unit we run in, else
    /// COMMAND's file name.
    ///
    /// An unprivileged user's locks are in $XDG_RUNTIME_DIR/unitsmith/lock/.
    #[arg(long, value_name = "NAME", conflicts_with = "file")]
    pub name: Option<String>,
    /// Lock this file instead (created mode 0600 when missing; never opened through a link).
    ///
    /// Its directories must be root's or yours: see LOCK FILES in unitsmith-lock(1).
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// The command to run with the lock held, and its arguments (after `--`).
    #[arg(
        value_name = "COMMAND",
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<OsString>,
}

pub fn run(args: Args) -> ExitCode {
    let (file, path) = match open(&args) {
        Ok(f) => f,
        Err(Refused::Usage(e)) => {
            log::error!("{e}");
            return ExitCode::from(2);
        }
        Err(Refused::Open(e)) => {
            log::error!("cannot open the lock file: {e}");
            return ExitCode::from(1);
        }
    };
    let command = display_command(&args.command);
    let mut announced = false;
    let outcome = acquire(&file, args.wait, crate::signals::stop_requested, || {
        if !announced {
            announced = true;
            log::info!(
                "{} is held by {}; waiting up to {} before running {command}",
                path.display(),
                describe_holders(&holders(&file)),
                show_duration(args.wait)
            );
        }
    });
    match outcome {
        Ok(Acquired::Locked) => {}
        Ok(Acquired::TimedOut) => {
            log::error!(
                "{} is still held after {} by {}; not running {command}",
                path.display(),
                show_duration(args.wait),
                describe_holders(&holders(&file))
            );
            return ExitCode::from(EXIT_TIMEOUT);
        }
        Ok(Acquired::Stopped) => {
            log::info!(
                "stopped while waiting for {}; not running {command}",
                path.display()
            );
            crate::signals::die_of_sigterm();
        }
        Err(e) => {
            log::error!("{}: cannot lock: {e}", path.display());
            return ExitCode::from(1);
        }
    }
    if announced {
        log::info!("took {} after waiting; running {command}", path.display());
    } else {
        log::debug!("took {}; running {command}", path.display());
    }
    exec_with_lock(file, &path, &args.command)
}

// ------------------------------------------------------------------------------- naming

enum Refused {
    /// Bad arguments (exit 2).
    Usage(String),
    /// The file or its directory cannot be used (exit 1).
    Open(String),
}

/// The lock file for these arguments, open, and its path.
fn open(args: &Args) -> Result<(File, PathBuf), Refused> {
    if let Some(f) = &args.file {
        if f.as_os_str().is_empty() {
            return Err(Refused::Usage("--file: empty path".into()));
        }
        let path = std::env::current_dir()
            .map(|d| d.join(f))
            .unwrap_or_else(|_| f.clone());
        // The operator chose the place: it is used when no other user could have planted or
        // can replace what is there (root, or the user we run as, owns it all).
        let (dir, name) = safepath::split(&path).map_err(|e| Refused::Usage(e.to_string()))?;
        let trust = Trust::ours();
        let file = safepath::open_dir(dir, &trust, Missing::Fail)
            .and_then(|d| d.open_lock_file(name, LOCK_FILE_MODE, &trust))
            .map_err(|e| Refused::Open(e.to_string()))?;
        return Ok((file, path));
    }
    let name = match &args.name {
        Some(n) => n.clone(),
        None => default_name(&args.command).map_err(Refused::Usage)?,
    };
    check_name(&name).map_err(Refused::Usage)?;
    open_named(&format!("{name}.lock")).map_err(Refused::Open)
}

/// Open (creating it, and the lock directory) `NAME` in the lock directory.
pub fn open_named(file_name: &str) -> Result<(File, PathBuf), String> {
    let dir = lock_dir()?;
    // Root's lock directory is root's alone, whoever else runs as root's helpers; a user's
    // is in their runtime directory.
    let trust = if nix::unistd::geteuid().is_root() {
        Trust::root_only()
    } else {
        Trust::ours()
    };
    let dir = safepath::open_dir(&dir, &trust, Missing::Create(0o700))?;
    let file = dir.open_lock_file(std::ffi::OsStr::new(file_name), LOCK_FILE_MODE, &trust)?;
    Ok((file, dir.path().join(file_name)))
}

/// `/run/unitsmith/lock`, or for an unprivileged user `$XDG_RUNTIME_DIR/unitsmith/lock` (a
/// shared directory would let any user hold any daemon's lock). `UNITSMITH_LOCK_DIR`
/// overrides both (tests).
pub fn lock_dir() -> Result<PathBuf, String> {
    if let Some(d) = std::env::var_os("UNITSMITH_LOCK_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    if nix::unistd::geteuid().is_root() {
        return Ok(PathBuf::from(LOCK_DIR));
    }
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(rt) => Ok(PathBuf::from(rt).join("unitsmith/lock")),
        None => Err(format!(
            "{LOCK_DIR} is root's and XDG_RUNTIME_DIR is not set: as user {}, give the lock file with --file (e.g. in the unit's RuntimeDirectory=: --file /run/NAME/NAME.lock)",
            safepath::user_name(nix::unistd::geteuid().as_raw())
        )),
    }
}

/// The unit we run in, else the command's file name.
fn default_name(command: &[OsString]) -> Result<String, String> {
    if let Some(unit) = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|t| unit_from_cgroup(&t))
    {
        return Ok(unit);
    }
    let first = command.first().ok_or("no COMMAND given")?;
    Path::new(first)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            format!(
                "cannot make a lock name from {}; use --name",
                first.to_string_lossy()
            )
        })
}

/// The innermost `*.service` of our cgroup path (cgroup v2, else v1's name=systemd line).
/// Sub-cgroups of a delegated unit still name the unit; a login session's scope names none.
pub fn unit_from_cgroup(text: &str) -> Option<String> {
    let path = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .or_else(|| {
            text.lines()
                .find_map(|l| l.split_once(":name=systemd:").map(|(_, p)| p))
        })?;
    path.trim()
        .rsplit('/')
        .find(|c| c.len() > ".service".len() && c.ends_with(".service"))
        .map(str::to_string)
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.starts_with('.')
        || name.contains('/')
        || name.len() > 200
        || name.chars().any(char::is_control)
    {
        return Err(format!(
            "invalid lock name \"{name}\": use a plain file name (no '/', not starting with '.', at most 200 bytes)"
        ));
    }
    Ok(())
}

// ------------------------------------------------------------------------------- locking

#[derive(Debug, PartialEq, Eq)]
pub enum Acquired {
    Locked,
    TimedOut,
    Stopped,
}

/// Take an exclusive flock on `file`, trying until `wait` has passed or `stop()` is true.
/// `waiting` is called before each sleep (to announce the wait).
pub fn acquire(
    file: &File,
    wait: Duration,
    stop: impl Fn() -> bool,
    mut waiting: impl FnMut(),
) -> io::Result<Acquired> {
    let deadline = Instant::now() + wait;
    let mut delay = Duration::from_millis(10);
    loop {
        // SAFETY: flock on a descriptor we own.
        match Errno::result(unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) })
        {
            Ok(_) => return Ok(Acquired::Locked),
            Err(Errno::EWOULDBLOCK) | Err(Errno::EINTR) => {}
            Err(e) => return Err(io::Error::from(e)),
        }
        if stop() {
            return Ok(Acquired::Stopped);
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(Acquired::TimedOut);
        }
        waiting();
        std::thread::sleep(delay.min(deadline - now));
        delay = (delay * 2).min(Duration::from_millis(100));
    }
}

// ------------------------------------------------------------------------------- holders

/// A process holding the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: i32,
    pub cmdline: String,
}

/// Who holds a lock on `file`: every process with a descriptor on it that carries a lock
/// (`lock:` in /proc/PID/fdinfo; waiters have the file open but no lock). When that finds
/// nobody (another user's processes are not readable), the PID /proc/locks records.
pub fn holders(file: &File) -> Vec<Holder> {
    let Ok(meta) = file.metadata() else {
        return Vec::new();
    };
    let (dev, ino) = (meta.dev(), meta.ino());
    let mut found = Vec::new();
    if let Ok(procs) = std::fs::read_dir("/proc") {
        for p in procs.filter_map(|e| e.ok()) {
            let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            if holds_lock(pid, dev, ino) {
                found.push(Holder {
                    pid,
                    cmdline: cmdline(pid),
                });
            }
        }
    }
    if found.is_empty() {
        if let Ok(locks) = std::fs::read_to_string("/proc/locks") {
            for pid in pids_in_proc_locks(&locks, dev, ino) {
                found.push(Holder {
                    pid,
                    cmdline: cmdline(pid),
                });
            }
        }
    }
    found.sort_by_key(|h| h.pid);
    found
}

fn holds_lock(pid: i32, dev: u64, ino: u64) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    for fd in fds.filter_map(|e| e.ok()) {
        let Ok(m) = std::fs::metadata(fd.path()) else {
            continue;
        };
        if m.dev() != dev || m.ino() != ino {
            continue;
        }
        let info = std::fs::read_to_string(format!(
            "/proc/{pid}/fdinfo/{}",
            fd.file_name().to_string_lossy()
        ))
        .unwrap_or_default();
        if info.lines().any(|l| l.starts_with("lock:")) {
            return true;
        }
    }
    false
}

/// PIDs of the FLOCK/POSIX/OFD lines of /proc/locks on (dev, ino); `-1` (OFD) is skipped.
/// Line format: `1: FLOCK  ADVISORY  WRITE 1234 fe:00:10010717 0 EOF` (device in hex).
pub fn pids_in_proc_locks(text: &str, dev: u64, ino: u64) -> Vec<i32> {
    let want = format!("{:02x}:{:02x}:{ino}", libc::major(dev), libc::minor(dev));
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.contains("->")) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() >= 6 && f[5] == want {
            if let Ok(pid) = f[4].parse::<i32>() {
                if pid > 0 && !out.contains(&pid) {
                    out.push(pid);
                }
            }
        }
    }
    out
}

fn cmdline(pid: i32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let words: Vec<String> = raw
        .split(|&b| b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    if words.is_empty() {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        return format!("[{}]", comm.trim());
    }
    words.join(" ")
}

/// "PID 48 (/bin/bash /opt/daemon)", children that inherited the descriptor after it:
/// "PID 48 (/bin/bash /opt/daemon) [its children hold it too: 50 sleep 0.2, 66 sleep 3]".
pub fn describe_holders(h: &[Holder]) -> String {
    if h.is_empty() {
        return "a process this user cannot see (look for the file's inode in /proc/locks)".into();
    }
    let pids: Vec<i32> = h.iter().map(|x| x.pid).collect();
    let parent = |pid: i32| ppid(pid).filter(|p| pids.contains(p));
    let mut out = Vec::new();
    for top in h.iter().filter(|x| parent(x.pid).is_none()) {
        let mut s = format!("PID {} ({})", top.pid, top.cmdline);
        // Descendants of this holder (parent chain within the holders).
        let kids: Vec<String> = h
            .iter()
            .filter(|x| {
                let mut p = parent(x.pid);
                let mut hops = 0;
                while let Some(q) = p {
                    if q == top.pid {
                        return true;
                    }
                    hops += 1;
                    if hops > 64 {
                        break;
                    }
                    p = parent(q);
                }
                false
            })
            .map(|x| format!("{} {}", x.pid, x.cmdline))
            .collect();
        if !kids.is_empty() {
            s.push_str(&format!(" [its children hold it too: {}]", kids.join(", ")));
        }
        out.push(s);
    }
    if out.is_empty() {
        // a cycle cannot happen, but never print nothing
        return h
            .iter()
            .map(|x| format!("PID {} ({})", x.pid, x.cmdline))
            .collect::<Vec<_>>()
            .join(", ");
    }
    out.join(", ")
}

/// The parent PID (field 4 of /proc/PID/stat, after the parenthesised command name).
fn ppid(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn display_command(cmd: &[OsString]) -> String {
    cmd.iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

fn show_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.3}s", d.as_secs_f64())
    }
}

// ------------------------------------------------------------------------------- exec

/// Signals as a freshly started command expects them: default dispositions for what main()
/// and the Rust runtime changed (SIGTERM/SIGINT handlers, SIGPIPE ignored: ignored signals
/// survive exec), and an empty mask. A stop that arrived meanwhile is honoured, not lost.
fn restore_signals() {
    use nix::sys::signal::{
        sigaction, sigprocmask, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal,
    };
    let mut term = SigSet::empty();
    term.add(Signal::SIGTERM);
    term.add(Signal::SIGINT);
    let _ = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&term), None);
    let dfl = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for sig in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGPIPE] {
        // SAFETY: installing the default disposition.
        unsafe {
            let _ = sigaction(sig, &dfl);
        }
    }
    if crate::signals::stop_requested() {
        crate::signals::die_of_sigterm();
    }
    // Anything that arrived since the handlers were reset is delivered now, with the default
    // action: the process ends, as the command would have.
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}

fn exec_with_lock(file: File, path: &Path, command: &[OsString]) -> ExitCode {
    let fd = file.into_raw_fd(); // never closed by us: it passes to the command
                                 // SAFETY: fcntl on our own descriptor; clears FD_CLOEXEC so exec keeps it open.
    if let Err(e) = Errno::result(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) }) {
        log::error!("{}: cannot pass the lock on: {e}", path.display());
        return ExitCode::from(1);
    }
    std::env::set_var("UNITSMITH_LOCK_FD", fd.to_string());
    std::env::set_var("UNITSMITH_LOCK_FILE", path);
    let argv: Result<Vec<CString>, _> =
        command.iter().map(|a| CString::new(a.as_bytes())).collect();
    let Ok(argv) = argv else {
        log::error!("COMMAND contains a NUL byte");
        return ExitCode::from(2);
    };
    restore_signals();
    let err = nix::unistd::execvp(&argv[0], &argv).unwrap_err();
    log::error!("cannot run {}: {err}", command[0].to_string_lossy());
    ExitCode::from(if err == Errno::ENOENT { 127 } else { 126 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    fn open_test(p: &Path) -> File {
        let (dir, name) = safepath::split(p).unwrap();
        safepath::open_dir(dir, &Trust::ours(), Missing::Create(0o700))
            .unwrap()
            .open_lock_file(name, LOCK_FILE_MODE, &Trust::ours())
            .unwrap()
    }

    #[test]
    fn roots_locks_are_in_a_root_only_directory_and_private() {
        assert_eq!(LOCK_DIR, "/run/unitsmith/lock");
        let p = tmp("private");
        let _f = open_test(&p);
        assert_eq!(std::fs::metadata(&p).unwrap().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(p.parent().unwrap()).unwrap().mode() & 0o777,
            0o700
        );
        // Never through a link: a link at the lock file's name is refused, not followed.
        let victim = p.with_file_name("victim");
        std::fs::write(&victim, "keep").unwrap();
        let link = p.with_file_name("link.lock");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let (dir, name) = safepath::split(&link).unwrap();
        let e = safepath::open_dir(dir, &Trust::ours(), Missing::Fail)
            .unwrap()
            .open_lock_file(name, LOCK_FILE_MODE, &Trust::ours())
            .unwrap_err()
            .to_string();
        assert!(e.contains("link.lock: is a symbolic link"), "{e}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    }

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("unitsmith-lock-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d.join("x.lock")
    }

    #[test]
    fn unit_name_from_cgroup() {
        assert_eq!(
            unit_from_cgroup("0::/system.slice/sched.service\n").as_deref(),
            Some("sched.service")
        );
        assert_eq!(
            unit_from_cgroup("0::/system.slice/app@one.service/payload\n").as_deref(),
            Some("app@one.service")
        );
        assert_eq!(
            unit_from_cgroup(
                "0::/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service\n"
            )
            .as_deref(),
            Some("foo.service")
        );
        assert_eq!(
            unit_from_cgroup("0::/user.slice/user-1000.slice/session-3.scope\n"),
            None
        );
        assert_eq!(unit_from_cgroup("0::/\n"), None);
        // cgroup v1 / hybrid
        assert_eq!(
            unit_from_cgroup(
                "12:cpu:/system.slice/x.service\n1:name=systemd:/system.slice/y.service\n"
            )
            .as_deref(),
            Some("y.service")
        );
    }

    #[test]
    fn names() {
        assert!(check_name("sched").is_ok());
        assert!(check_name("app@one.service").is_ok());
        for bad in ["", "a/b", "..", ".hidden", "x\ny"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn proc_locks_lines() {
        let dev = libc::makedev(254, 0);
        let text = "1: FLOCK  ADVISORY  WRITE 19105 fe:00:10010717 0 EOF\n\
                    2: FLOCK  ADVISORY  WRITE 18593 fe:00:10035767 0 EOF\n\
                    3: OFDLCK ADVISORY  WRITE -1 fe:00:10010717 0 EOF\n\
                    3: -> FLOCK  ADVISORY  WRITE 777 fe:00:10010717 0 EOF\n";
        assert_eq!(pids_in_proc_locks(text, dev, 10010717), vec![19105]);
        assert!(pids_in_proc_locks(text, dev, 1).is_empty());
    }

    #[test]
    fn exclusive_wait_and_release() {
        let p = tmp("excl");
        let a = open_test(&p);
        let b = open_test(&p);
        assert_eq!(
            acquire(&a, Duration::ZERO, || false, || {}).unwrap(),
            Acquired::Locked
        );
        // The holder is named: this process, found through its descriptor's lock.
        let h = holders(&b);
        assert!(
            h.iter().any(|h| h.pid == std::process::id() as i32),
            "{h:?}"
        );
        let t = Instant::now();
        let mut waited = false;
        assert_eq!(
            acquire(&b, Duration::from_millis(300), || false, || waited = true).unwrap(),
            Acquired::TimedOut
        );
        assert!(waited);
        assert!(t.elapsed() >= Duration::from_millis(300) && t.elapsed() < Duration::from_secs(2));
        drop(a); // closing the holder's descriptor releases the lock
        assert_eq!(
            acquire(&b, Duration::from_secs(1), || false, || {}).unwrap(),
            Acquired::Locked
        );
    }

    #[test]
    fn a_stop_ends_the_wait_quickly() {
        let p = tmp("stop");
        let a = open_test(&p);
        let b = open_test(&p);
        acquire(&a, Duration::ZERO, || false, || {}).unwrap();
        let flag = Arc::new(AtomicBool::new(false));
        let f2 = flag.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            f2.store(true, Ordering::SeqCst);
        });
        let t = Instant::now();
        let r = acquire(
            &b,
            Duration::from_secs(30),
            || flag.load(Ordering::SeqCst),
            || {},
        )
        .unwrap();
        assert_eq!(r, Acquired::Stopped);
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    }

    #[test]
    fn waits_for_a_holder_that_leaves() {
        let p = tmp("leave");
        let a = open_test(&p);
        let b = open_test(&p);
        acquire(&a, Duration::ZERO, || false, || {}).unwrap();
        let t = Instant::now();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(a);
        });
        assert_eq!(
            acquire(&b, Duration::from_secs(5), || false, || {}).unwrap(),
            Acquired::Locked
        );
        let e = t.elapsed();
        assert!(
            e >= Duration::from_millis(250) && e < Duration::from_secs(2),
            "{e:?}"
        );
    }
}

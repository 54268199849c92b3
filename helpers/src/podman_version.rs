//! `unitsmith podman-version [--record] [--json]`: the Podman release the generator generates
//! for, and how it knows (see generator/src/podman_version.rs). `--record` asks the podman
//! binary itself (`podman --version`, bounded) and writes what it says, with the binary's size
//! and modification time, to the record the generator reads at boot: the one place podman is
//! run, never at boot. The package runs it when it is installed and whenever a package changes
//! /usr/bin/podman (a dpkg trigger); `unitsmith reload` runs it when the record is missing or
//! stale.

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde::Serialize;
use unitsmith_generator::podman_version::{
    self as pv, Fingerprint, HostPodman, PodmanVersion, Source,
};

use crate::safepath::{self, Missing, Trust};

/// How long `podman --version` may take (it takes ~50 ms; a podman that hangs must not hang
/// an installation or a reload).
const ASK_TIMEOUT: Duration = Duration::from_secs(10);

macro_rules! podman_version_examples {
    () => {
        "\
Examples:
  unitsmith podman-version            which Podman the generator generates for, and why
  unitsmith podman-version --record   ask podman, and record its release for the generator

Exit status: 0 the generator generates for the podman installed (or none is installed);
1 it does not (the record is missing or stale: --record), or --record could not ask podman
or write the record; 2 the command could not run. See unitsmith-podman-version(1)."
    };
}

#[derive(clap::Args, Debug)]
#[command(after_help = podman_version_examples!())]
#[command(after_long_help = concat!("\
The generator writes units for the Podman installed, whose release it never learns by running \
podman (that could hang the boot): it reads the record that --record writes, which holds the \
release `podman --version` printed with the binary's size and modification time, and counts \
only while the binary still has both. UNITSMITH_PODMAN_VERSION overrides it; without either, the \
generator assumes the release whose Quadlet it matches. A key the Podman here cannot do \
becomes a failure stub naming the release it needs.

", podman_version_examples!()))]
pub struct Args {
    /// Run `podman --version` (at most 10 s) and record its answer for the generator.
    #[arg(long)]
    pub record: bool,
    /// Print one JSON object instead of text (fields: unitsmith-podman-version(1)).
    #[arg(long)]
    pub json: bool,
}

/// What the command found, as `--json` prints it.
#[derive(Debug, Serialize)]
pub struct Report {
    pub schema: u32,
    /// The podman units call (`PODMAN`, else /usr/bin/podman).
    pub binary: String,
    /// The release the generator generates for.
    pub version: String,
    /// How it is known: `env`, `record` or `assumed`.
    pub source: &'static str,
    /// What the generator says about it (why it assumes, where the record is).
    pub detail: String,
    /// What `podman --version` says now (`null`: not asked, not installed, or no answer).
    pub installed: Option<String>,
    /// The release this generator's output matches (`5.8.2`).
    pub matched: String,
    /// Whether --record wrote the record.
    pub recorded: bool,
    /// What went wrong, if anything.
    pub error: Option<String>,
}

pub fn run(args: Args) -> ExitCode {
    let binary = pv::binary();
    let record = pv::record_path();
    let mut error = None;
    let mut recorded = false;
    let installed = match Path::new(&binary).exists() {
        false => None,
        true => match ask(&binary) {
            Ok(v) => Some(v),
            Err(e) => {
                error = Some(e);
                None
            }
        },
    };
    if args.record {
        match (&installed, &error) {
            (Some(v), _) => match write_record(&binary, *v, Path::new(&record)) {
                Ok(()) => recorded = true,
                Err(e) => error = Some(e),
            },
            (None, None) => log::info!("no podman at {binary}: nothing to record"),
            (None, Some(_)) => {}
        }
    }
    let env = std::env::var(pv::ENV).ok();
    let host = pv::detect(&binary, env.as_deref(), Path::new(&record));
    if error.is_none() {
        if let Some(v) = installed.filter(|v| *v != host.version && host.source != Source::Env) {
            error = Some(format!(
                "the generator generates for Podman {} but {binary} is {v}: run `unitsmith podman-version --record`",
                host.version
            ));
        }
    }
    let report = Report {
        schema: crate::json::SCHEMA,
        binary,
        version: host.version.to_string(),
        source: match host.source {
            Source::Env => "env",
            Source::Record(_) => "record",
            Source::Assumed(_) => "assumed",
        },
        detail: host.describe(),
        installed: installed.map(|v| v.to_string()),
        matched: pv::MATCHED.to_string(),
        recorded,
        error,
    };
    if args.json {
        if let Err(e) = crate::json::print(&report) {
            log::error!("{e}");
            return ExitCode::from(2);
        }
    } else {
        print_text(&report, &host, &record);
    }
    if report.error.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn print_text(r: &Report, host: &HostPodman, record: &str) {
    if let Some(e) = &r.error {
        log::error!("{e}");
    }
    if crate::term::quiet() && r.error.is_none() {
        return;
    }
    println!("generating for: {}", host.describe());
    match &r.installed {
        Some(v) => println!("{}: podman version {v}", r.binary),
        None => println!("{}: no answer (not installed, or it failed)", r.binary),
    }
    if r.recorded {
        println!("recorded in {record}");
    }
}

/// When the record says nothing (true) of the podman installed: missing, stale, or for
/// another binary. The environment's override does not count (it is for tests).
pub fn record_is_stale() -> bool {
    let binary = pv::binary();
    Path::new(&binary).exists() && !pv::detect(&binary, None, Path::new(&pv::record_path())).known()
}

/// `--record`, as another command runs it (reload): logs what it did, never fails the caller.
pub fn record_quietly() {
    let binary = pv::binary();
    match ask(&binary).and_then(|v| {
        write_record(&binary, v, Path::new(&pv::record_path()))?;
        Ok(v)
    }) {
        Ok(v) => log::info!(
            "recorded Podman {v} ({binary}) for the generator in {}",
            pv::record_path()
        ),
        Err(e) => log::warn!("{e}; the generator assumes Podman {}", pv::MATCHED),
    }
}

/// `podman --version`, bounded by [`ASK_TIMEOUT`].
fn ask(binary: &str) -> Result<PodmanVersion, String> {
    ask_within(binary, ASK_TIMEOUT)
}

/// `BINARY --version` within `timeout`, in its own process group, which is killed whole when
/// the time is up or the binary has exited (so nothing it left behind holds the pipe open);
/// the output is waited for within the same time.
fn ask_within(binary: &str, timeout: Duration) -> Result<PodmanVersion, String> {
    let mut child = Command::new(binary)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run {binary} --version: {e}"))?;
    let (tx, rx) = std::sync::mpsc::channel();
    let mut out = child.stdout.take();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(o) = out.as_mut() {
            let _ = o.take(4096).read_to_end(&mut buf);
        }
        let _ = tx.send(buf);
    });
    let group = Pid::from_raw(child.id() as i32);
    let exit = crate::child_exit::ChildExit::watch(&child);
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if start.elapsed() < timeout => {
                exit.wait(timeout.saturating_sub(start.elapsed()))
            }
            _ => break None,
        }
    };
    let _ = killpg(group, Signal::SIGKILL);
    let Some(status) = status else {
        let _ = child.wait();
        return Err(format!(
            "{binary} --version gave no answer within {} s (killed)",
            timeout.as_secs_f64()
        ));
    };
    let left = timeout
        .saturating_sub(start.elapsed())
        .max(Duration::from_millis(100));
    let text = rx.recv_timeout(left).unwrap_or_default();
    let text = String::from_utf8_lossy(&text).into_owned();
    if !status.success() {
        return Err(format!("{binary} --version failed ({status})"));
    }
    // "podman version 4.3.1" (a chroot without /proc adds warnings on stderr, not here).
    text.lines()
        .find_map(PodmanVersion::parse)
        .ok_or_else(|| format!("{binary} --version printed no version: {:?}", text.trim()))
}

/// Set `binary`'s line of the record to `version`, atomically, through a root-only directory
/// (the record decides what root's units run).
fn write_record(binary: &str, version: PodmanVersion, record: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(binary).map_err(|e| format!("{binary}: {e}"))?;
    let line = pv::record_line(version, Fingerprint::of(&meta), binary);
    let (dir_path, name) = safepath::split(record).map_err(String::from)?;
    let dir = safepath::open_dir(dir_path, &Trust::ours(), Missing::Create(0o755))
        .map_err(String::from)?;
    let old = match dir.open_file(name) {
        Ok(Some(f)) => f.read_all(record, 1 << 20).unwrap_or_default(),
        _ => Vec::new(),
    };
    let text = pv::updated_record(&String::from_utf8_lossy(&old), binary, &line);
    crate::atomic::write_in(&dir, OsStr::new(name), text.as_bytes(), 0o644)
        .map_err(|e| format!("cannot write {}: {e}", record.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn script(name: &str, body: &str) -> String {
        let d = std::env::temp_dir().join(format!("unitsmith-pvask-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p.display().to_string()
    }

    #[test]
    fn reads_what_podman_prints() {
        let p = script("ok", "echo 'podman version 4.3.1'");
        assert_eq!(ask_within(&p, ASK_TIMEOUT), Ok(PodmanVersion::new(4, 3, 1)));
        let p = script("garbage", "echo 'hello'");
        assert!(ask_within(&p, ASK_TIMEOUT)
            .unwrap_err()
            .contains("printed no version"));
        let p = script("fails", "echo 'podman version 4.3.1'; exit 3");
        assert!(ask_within(&p, ASK_TIMEOUT).unwrap_err().contains("failed"));
        assert!(ask_within("/nonexistent/podman", ASK_TIMEOUT).is_err());
    }

    /// A podman that hangs, or that exits leaving a child holding its output open, costs the
    /// caller the time limit at most.
    #[test]
    fn a_hanging_podman_is_killed_at_the_limit() {
        let limit = Duration::from_millis(300);
        for (name, body) in [
            ("hangs", "sleep 30"),
            ("leaves-a-child", "sleep 30 & echo 'podman version 4.3.1'"),
        ] {
            let p = script(name, body);
            let t = Instant::now();
            let r = ask_within(&p, limit);
            assert!(
                t.elapsed() < Duration::from_secs(2),
                "{name}: {:?}",
                t.elapsed()
            );
            if name == "hangs" {
                assert!(r.unwrap_err().contains("no answer"), "{name}");
            } else {
                assert_eq!(r, Ok(PodmanVersion::new(4, 3, 1)), "{name}");
            }
        }
    }
}

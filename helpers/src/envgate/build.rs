//! Building the real env file: Import= keys from the file that arrived, then Exec='s stdout,
//! everything validated before anything is written.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use unitsmith_generator::envgate::decl::OutputFormat;
use unitsmith_generator::envgate::Decl;

use super::envfile::{self, Env};
use super::execenv;
use crate::safepath::{self, Trust};

/// Exec's stdout is an env file, not a data stream: more than this is a mistake.
const MAX_STDOUT: u64 = 1 << 20;
/// The same for the file that arrived.
const MAX_INPUT: u64 = 16 << 20;

/// The real content, ready to write.
#[derive(Debug)]
pub struct Built {
    pub text: String,
    /// Key names (never values) for the logs.
    pub keys: Vec<String>,
}

/// Build the output from `arrived` (the WaitFor file that opened the gate, if any), read only
/// when `trust` accepts it and the directories on its way, running Exec= for at most
/// `exec_timeout`. Errors are complete sentences without values.
pub fn build(
    d: &Decl,
    arrived: Option<&Path>,
    exec_timeout: Duration,
    trust: &Trust,
) -> Result<Built, String> {
    let file_env = match arrived {
        None => Env::new(),
        Some(p) => {
            let data = read_arrived(p, trust)?;
            envfile::parse(&data, &p.to_string_lossy()).map_err(|e| e.to_string())?
        }
    };
    let mut out = Env::new();
    let mut missing = Vec::new();
    for k in &d.import {
        match file_env.get(k) {
            Some(v) => out.set(k, v),
            None => missing.push(k.as_str()),
        }
    }
    if !missing.is_empty() {
        let from = arrived.map_or("(no file)".into(), |p| p.display().to_string());
        return Err(format!("Import=: {from} has no {}", missing.join(", ")));
    }
    if let Some(argv) = &d.exec {
        let stdout = run_exec(argv, &file_env, d, arrived, exec_timeout)?;
        let env = envfile::parse(&stdout, &format!("stdout of {}", argv[0]))
            .map_err(|e| format!("Exec=: {e}"))?;
        if env.is_empty() {
            return Err(format!("Exec=: {} printed no KEY=VALUE line", argv[0]));
        }
        out.extend(&env);
    }
    let missing_stub: Vec<&str> = d
        .stub_keys
        .iter()
        .map(String::as_str)
        .filter(|k| out.get(k).is_none())
        .collect();
    if !missing_stub.is_empty() {
        log::warn!(
            "{}: the real env has no {} (StubKeys=); the consumers will not see them",
            d.name,
            missing_stub.join(", ")
        );
    }
    if d.output_format == OutputFormat::Podman {
        let bad = envfile::podman_unwritable(&out);
        if !bad.is_empty() {
            return Err(format!(
                "OutputFormat=podman: Podman's --env-file cannot hold a value with a newline ({}); \
                 use OutputFormat=systemd with a service's EnvironmentFile=",
                bad.join(", ")
            ));
        }
    }
    let from = match (arrived, &d.exec) {
        (Some(p), Some(argv)) => format!("{} and {}", p.display(), argv[0]),
        (Some(p), None) => p.display().to_string(),
        (None, Some(argv)) => argv[0].clone(),
        (None, None) => "nothing".into(),
    };
    Ok(Built {
        text: envfile::real(&d.name, &from, &out, d.output_format),
        keys: out.keys().into_iter().map(String::from).collect(),
    })
}

/// The WaitFor= file's bytes, when it passes `trust` (StrictModes, unless the declaration
/// relaxed it with AllowUntrustedWaitFor=yes).
fn read_arrived(p: &Path, trust: &Trust) -> Result<Vec<u8>, String> {
    let opened = safepath::open_trusted_file(p, trust).map_err(|e| match e {
        safepath::Error::Untrusted { .. } => format!(
            "WaitFor= file not used: {e}; or, if every user who can write it may decide what the consumers get, set AllowUntrustedWaitFor=yes"
        ),
        e => format!("cannot read {e}"),
    })?;
    opened
        .read_all(p, MAX_INPUT)
        .map_err(|e| format!("cannot read {e}"))
}

/// Run Exec=: a minimal environment (see `execenv`), stdin /dev/null, stderr to ours (the
/// journal), stdout captured. Killed (its whole process group) at `timeout` or on SIGTERM.
fn run_exec(
    argv: &[String],
    file_env: &Env,
    d: &Decl,
    arrived: Option<&Path>,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let bin = &argv[0];
    let (env, withheld) = execenv::build(&d.name, &d.import, file_env, arrived);
    if !withheld.is_empty() {
        log::warn!(
            "{}: not passing {} to Exec= (Import= names them, but such variables make a program load code, read a configuration, trust a certificate, open a file or use a proxy that the file's writer chooses, and Exec= runs as root); the output still gets them",
            d.name,
            withheld.join(", ")
        );
    }
    let mut cmd = Command::new(bin);
    cmd.args(&argv[1..])
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("Exec=: cannot run {bin}: {e}"))?;
    let mut pipe = child.stdout.take().expect("stdout is piped");
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let r = (&mut pipe).take(MAX_STDOUT + 1).read_to_end(&mut buf);
        // Drain the rest so the child never blocks on a full pipe; it is refused anyway.
        let _ = std::io::copy(&mut pipe, &mut std::io::sink());
        r.map(|_| buf)
    });
    let start = Instant::now();
    let kill = |child: &mut std::process::Child| {
        let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
        let _ = child.wait();
    };
    let exit = crate::child_exit::ChildExit::watch(&child);
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) => {}
            Err(e) => {
                kill(&mut child);
                return Err(format!("Exec=: waiting for {bin}: {e}"));
            }
        }
        if crate::signals::stop_requested() {
            kill(&mut child);
            return Err(format!("Exec=: {bin} stopped: the helper is being stopped"));
        }
        if start.elapsed() >= timeout {
            kill(&mut child);
            return Err(format!(
                "Exec=: {bin} did not finish within {}",
                fmt_duration(timeout)
            ));
        }
        exit.wait(timeout.saturating_sub(start.elapsed()));
    };
    // Children it left behind in its process group would hold the pipe open.
    let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
    let out = reader
        .join()
        .map_err(|_| format!("Exec=: reading the stdout of {bin} failed"))?
        .map_err(|e| format!("Exec=: reading the stdout of {bin}: {e}"))?;
    if !status.success() {
        return Err(format!("Exec=: {bin} failed ({status})"));
    }
    if out.len() as u64 > MAX_STDOUT {
        return Err(format!("Exec=: {bin} printed more than 1 MiB"));
    }
    Ok(out)
}

/// `1.5s`, `30s`, `2min 5s` for messages.
pub fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    if d.subsec_millis() != 0 && ms < 60_000 {
        return format!("{:.1}s", d.as_secs_f64());
    }
    let s = d.as_secs();
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}min"),
        (0, m, s) => format!("{m}min {s}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, _) => format!("{h}h {m}min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use unitsmith_generator::unitfile::UnitFile;

    pub fn decl(extra: &str) -> Decl {
        let text = format!("[EnvGate]\nWaitFor=/nonexistent/w.env\nOutput=/nonexistent/o.env\nConsumer=c.service\n{extra}");
        let u = UnitFile::parse(text.as_bytes(), Path::new("/etc/unitsmith/g.envgate")).unwrap();
        unitsmith_generator::envgate::parse(&u).unwrap()
    }

    fn tmp(name: &str, content: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("unitsmith-build-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    #[test]
    fn imports_keys() {
        let f = tmp("a.env", "VAULT_NAME=v1\nREGION='eu west'\nOTHER=x\n");
        let b = build(
            &decl("Import=VAULT_NAME REGION\n"),
            Some(&f),
            Duration::from_secs(5),
            &Trust::ours(),
        )
        .unwrap();
        assert_eq!(b.keys, ["VAULT_NAME", "REGION"]);
        assert!(b.text.starts_with(envfile::REAL_MARKER));
        assert!(
            b.text.ends_with("VAULT_NAME=v1\nREGION=\"eu west\"\n"),
            "{}",
            b.text
        );
        let e = build(
            &decl("Import=VAULT_NAME MISSING NOPE\n"),
            Some(&f),
            Duration::from_secs(5),
            &Trust::ours(),
        )
        .unwrap_err();
        assert!(e.contains("has no MISSING, NOPE"), "{e}");
        let bad = tmp("bad.env", "A=1\nnot an assignment\n");
        let e = build(
            &decl("Import=A\n"),
            Some(&bad),
            Duration::from_secs(5),
            &Trust::ours(),
        )
        .unwrap_err();
        assert!(
            e.contains("bad.env:2: not a KEY=VALUE assignment (no '='"),
            "{e}"
        );
    }

    #[test]
    fn exec_sees_the_file_and_its_stdout_is_validated() {
        let f = tmp("b.env", "ROLE=worker\n");
        let d = decl("Import=ROLE\nExec=/bin/sh -c 'echo \"TOKEN=tok-$ROLE-$UNITSMITH_ENVGATE\"; echo to-stderr >&2'\n");
        let b = build(&d, Some(&f), Duration::from_secs(5), &Trust::ours()).unwrap();
        assert_eq!(b.keys, ["ROLE", "TOKEN"]);
        assert!(
            b.text.ends_with("ROLE=worker\nTOKEN=tok-worker-g\n"),
            "{}",
            b.text
        );

        let d = decl("Exec=/bin/sh -c 'echo garbage line'\n");
        let e = build(&d, Some(&f), Duration::from_secs(5), &Trust::ours()).unwrap_err();
        assert!(e.starts_with("Exec=: stdout of /bin/sh:1:"), "{e}");
        let d = decl("Exec=/bin/sh -c 'echo A=1; exit 3'\n");
        let e = build(&d, Some(&f), Duration::from_secs(5), &Trust::ours()).unwrap_err();
        assert!(e.contains("failed (exit status: 3)"), "{e}");
        let d = decl("Exec=/bin/true\n");
        assert!(build(&d, Some(&f), Duration::from_secs(5), &Trust::ours())
            .unwrap_err()
            .contains("printed no KEY=VALUE"));
        let d = decl("Exec=/nonexistent/bin\n");
        assert!(build(&d, Some(&f), Duration::from_secs(5), &Trust::ours())
            .unwrap_err()
            .contains("cannot run /nonexistent/bin"));
    }

    #[test]
    fn exec_gets_a_minimal_environment() {
        let f = tmp(
            "c.env",
            "ROLE=worker\nLD_PRELOAD=/tmp/evil.so\nOTHER=not-imported\n",
        );
        std::env::set_var("UNITSMITH_TEST_INHERITED", "leak");
        let d = decl("Import=ROLE LD_PRELOAD\nExec=/usr/bin/env\n");
        let b = build(&d, Some(&f), Duration::from_secs(5), &Trust::ours()).unwrap();
        // Exactly: the imported key Exec= may see, a fixed PATH, ours. Not LD_PRELOAD (though
        // imported), not OTHER (not imported), nothing of the helper's own environment.
        assert_eq!(
            b.keys,
            [
                "ROLE",
                "LD_PRELOAD",
                "PATH",
                "UNITSMITH_ENVGATE",
                "UNITSMITH_ENVGATE_FILE"
            ],
            "{}",
            b.text
        );
        assert!(
            b.text.contains(&format!("PATH={}\n", execenv::PATH)),
            "{}",
            b.text
        );
    }

    #[test]
    fn exec_is_bounded_even_with_children() {
        let d = decl("Exec=/bin/sh -c 'sleep 30 & sleep 30'\n");
        let t = Instant::now();
        let e = build(&d, None, Duration::from_millis(300), &Trust::ours()).unwrap_err();
        assert!(e.contains("did not finish within 300ms"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
        // a background child holding stdout after a successful exit must not hang us either
        let d = decl("Exec=/bin/sh -c 'echo A=1; sleep 30 &'\n");
        let t = Instant::now();
        let b = build(&d, None, Duration::from_secs(5), &Trust::ours()).unwrap();
        assert_eq!(b.keys, ["A"]);
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    }

    #[test]
    fn durations_for_humans() {
        assert_eq!(fmt_duration(Duration::from_millis(300)), "300ms");
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(fmt_duration(Duration::from_secs(60)), "1min");
        assert_eq!(fmt_duration(Duration::from_secs(1800)), "30min");
        assert_eq!(fmt_duration(Duration::from_secs(3630)), "1h 0min");
        assert_eq!(fmt_duration(Duration::from_secs(95)), "1min 35s");
    }
}

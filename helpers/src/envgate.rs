//! `unitsmith envgate populate|wait|check`: the run-time half of env gates (see
//! `unitsmith_generator::envgate` for the units and man/unitsmith.envgate.5 for the keys).
//!
//! - `populate DECLARATION` (NAME.service, on the boot path): the real env file when the awaited
//!   file is already there and complete, else the stub (unless the output holds real content
//!   from an earlier boot), then `systemctl --no-block start NAME-wait.service`. Never waits
//!   for anything, always exits 0: a gate must not fail or hold up the boot.
//! - `wait DECLARATION` (NAME-wait.service): wait for the file (inotify, polling as a backstop),
//!   build and write the env file (retried with backoff while Exec= or the file are not right),
//!   then `reset-failed` + `restart` every consumer. Exit 1 at Timeout=, 0 on SIGTERM.
//! - `check --gate NAME OUTPUT` (the consumers' `ExecCondition=`): exit 1, which makes systemd
//!   skip the consumer without failing it, while OUTPUT is the stub.
//!
//! Values are secrets: only key names are ever logged.

mod build;
mod envfile;
mod execenv;
mod output;
mod trust;
mod watch;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Subcommand;
use unitsmith_generator::envgate::{self as gate, decl, Decl};
use unitsmith_generator::sources::{self, Input, InputKind};

use crate::safepath::{self, Trust};
use crate::systemctl::{self, Scope};
use crate::{retry, signals};
use build::fmt_duration;
use envfile::Existing;
use output::Output;
use trust::Consumers;

/// How refusals name the consumers' users.
const CONSUMER_USERS: &str = "the user every consumer runs as (User=)";

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Boot path (NAME.service): write the env file now, real or stub, and start the wait unit.
    /// Takes milliseconds and always exits 0.
    Populate(GateArgs),
    /// NAME-wait.service: wait for the file, write the env file, restart the consumers.
    /// Exits 1 when Timeout= passes first.
    Wait(GateArgs),
    /// A consumer's ExecCondition=: exit 1 (skip the consumer) while OUTPUT is the stub.
    Check {
        /// The gate's name, for the message.
        #[arg(long)]
        gate: String,
        /// The unit being started (`%n` in its drop-in): the output is read only from
        /// directories that root or the user this unit runs as alone can write.
        #[arg(long)]
        consumer: Option<String>,
        /// The gate's Output= file.
        output: PathBuf,
    },
}

#[derive(clap::Args, Debug)]
struct GateArgs {
    /// The NAME.envgate declaration (its drop-ins are read from the search paths).
    declaration: PathBuf,
    /// Talk to the user manager (default: the manager that runs us, from $MANAGERPID).
    #[arg(long, conflicts_with = "system")]
    user: bool,
    /// Talk to the system manager.
    #[arg(long)]
    system: bool,
}

impl GateArgs {
    fn scope(&self) -> Scope {
        if self.user {
            Scope::User
        } else if self.system {
            Scope::System
        } else {
            manager_scope()
        }
    }
}

/// The manager that runs us: systemd sets $MANAGERPID only for services of a user manager.
fn manager_scope() -> Scope {
    if std::env::var_os("MANAGERPID").is_some() {
        Scope::User
    } else {
        Scope::System
    }
}

pub fn run(args: Args) -> ExitCode {
    match args.command {
        Cmd::Populate(a) => populate(&a),
        Cmd::Wait(a) => wait(&a),
        Cmd::Check {
            gate,
            consumer,
            output,
        } => check(&gate, consumer.as_deref(), &output),
    }
}

/// Re-read the declaration with its drop-ins, with the generator's own parser.
fn load(a: &GateArgs) -> Result<Decl, String> {
    let path = &a.declaration;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".envgate"))
        .ok_or_else(|| format!("{}: not a NAME.envgate file", path.display()))?;
    let mut dirs = unitsmith_generator::dirs::search_paths(a.scope() == Scope::User).dirs;
    if let Some(parent) = path.parent() {
        if !dirs.iter().any(|d| d == parent) {
            dirs.push(parent.to_path_buf());
        }
    }
    let input = Input {
        name,
        ..Input::at(path.clone(), InputKind::EnvGate)
    };
    let unit = sources::load(&input, &dirs).map_err(|e| e.to_string())?;
    gate::parse(&unit).map_err(|e| gate::describe_error(&unit, &e))
}

/// Open the output's directory, logging why it cannot be used.
fn open_output(d: &Decl, trust: &Trust) -> Option<Output> {
    match Output::open(&d.output, trust) {
        Ok(o) => Some(o),
        Err(e) => {
            log::error!(
                "{}: Output= cannot be written: {e}; nothing is written until it is fixed",
                d.name
            );
            None
        }
    }
}

/// Who may own the WaitFor= files and their directories: as for the output, or (with
/// AllowUntrustedWaitFor=yes) anyone, links still followed only where no one else made them.
fn wait_for_trust<'a>(d: &Decl, also: &'a dyn Fn(u32) -> bool) -> Trust<'a> {
    let t = Trust::ours().with(also, CONSUMER_USERS);
    if d.allow_untrusted_wait_for {
        t.links_only()
    } else {
        t
    }
}

/// "/a or /b", "cloud-init", "/a and cloud-init".
fn waiting_for(d: &Decl) -> String {
    let files: Vec<String> = d.wait_for.iter().map(|p| p.display().to_string()).collect();
    let files = files.join(" or ");
    match (d.wait_for.is_empty(), d.wait_for_cloud_init) {
        (_, false) => files,
        (true, true) => format!("cloud-init ({})", decl::CLOUD_INIT_RESULT),
        (false, true) => format!("{files} and cloud-init ({})", decl::CLOUD_INIT_RESULT),
    }
}

/// The gate's files as they are now: `Some(arrived)` when it can open (`arrived` = the first
/// complete WaitFor= file, `None` for a cloud-init-only gate).
fn ready_now(d: &Decl) -> Option<Option<PathBuf>> {
    for f in d.required_files() {
        if !watch::complete_now(&f, d.settle_time) {
            return None;
        }
    }
    if d.wait_for.is_empty() {
        return Some(None);
    }
    d.wait_for
        .iter()
        .find(|p| watch::complete_now(p, d.settle_time))
        .map(|p| Some(p.clone()))
}

// ------------------------------------------------------------------------------- populate

fn populate(a: &GateArgs) -> ExitCode {
    let t0 = Instant::now();
    let d = match load(a) {
        Ok(d) => d,
        Err(e) => {
            // The generator made a failure stub if it was bad at boot; it changed since.
            log::error!(
                "{}: cannot read the env gate declaration, nothing done: {e}",
                a.declaration.display()
            );
            return ExitCode::SUCCESS;
        }
    };
    let consumers = Consumers::new(a.scope(), &d.consumers);
    let also = |uid: u32| consumers.all_run_as(uid);
    let in_trust = wait_for_trust(&d, &also);
    let output = open_output(&d, &Trust::ours().with(&also, CONSUMER_USERS));
    let (existing, data) = output
        .as_ref()
        .map_or((Existing::Missing, None), Output::read);

    let ready = ready_now(&d);
    if let (Some(arrived), Some(out)) = (&ready, &output) {
        let exec_timeout = d.exec_timeout.min(decl::POPULATE_EXEC_TIMEOUT);
        let result = build::build(&d, arrived.as_deref(), exec_timeout, &in_trust).and_then(|b| {
            out.write(&b.text, data.as_deref(), d.output_mode)
                .map(|w| (b, w))
        });
        match result {
            Ok((b, written)) => {
                log::info!(
                    "{}: gate open at boot: {} {} ({}) in {} ms; {} not started",
                    d.name,
                    if written {
                        "wrote"
                    } else {
                        "kept the identical"
                    },
                    d.output.display(),
                    key_list(&b.keys),
                    t0.elapsed().as_millis(),
                    d.wait_service()
                );
                return ExitCode::SUCCESS;
            }
            Err(e) => log::warn!("{}: {e}; {} retries", d.name, d.wait_service()),
        }
    } else if ready.is_none() && d.wait_for.iter().any(|p| p.exists()) {
        log::info!(
            "{}: {} is still being written; {} takes it",
            d.name,
            waiting_for(&d),
            d.wait_service()
        );
    }

    let kept = match existing {
        Existing::Real | Existing::Foreign => {
            log::info!(
                "{}: {} keeps its real content from an earlier boot until the gate opens",
                d.name,
                d.output.display()
            );
            true
        }
        Existing::Missing | Existing::Empty | Existing::Stub => {
            let text = envfile::stub(&d.name, &waiting_for(&d), &d.stub_keys);
            let written = match &output {
                Some(out) => out.write(&text, data.as_deref(), d.output_mode).map(|_| ()),
                None => Ok(()), // said already
            };
            if let Err(e) = written {
                log::error!(
                    "{}: {e}; the consumers cannot start until the gate opens",
                    d.name
                );
            }
            false
        }
    };
    let out = systemctl::start_no_block(a.scope(), &d.wait_service());
    if !out.success {
        log::error!(
            "{}: cannot start {}: {}",
            d.name,
            d.wait_service(),
            out.stderr.trim()
        );
    }
    log::info!(
        "{}: waiting for {} in {} (Timeout={}); {} {} ({} ms)",
        d.name,
        waiting_for(&d),
        d.wait_service(),
        fmt_duration(d.timeout),
        d.output.display(),
        if kept {
            "keeps real content"
        } else {
            "is the stub"
        },
        t0.elapsed().as_millis()
    );
    ExitCode::SUCCESS
}

fn key_list(keys: &[String]) -> String {
    if keys.is_empty() {
        "no keys".into()
    } else {
        format!("keys {}", keys.join(" "))
    }
}

// ----------------------------------------------------------------------------------- wait

/// Exit status at the deadline.
const TIMED_OUT: u8 = 1;

fn wait(a: &GateArgs) -> ExitCode {
    let started = Instant::now();
    let d = match load(a) {
        Ok(d) => d,
        Err(e) => {
            log::error!(
                "{}: cannot read the env gate declaration: {e}",
                a.declaration.display()
            );
            return ExitCode::from(2);
        }
    };
    let deadline = started + d.timeout;
    let consumers = Consumers::new(a.scope(), &d.consumers);
    let also = |uid: u32| consumers.all_run_as(uid);
    let in_trust = wait_for_trust(&d, &also);
    log::info!(
        "{}: waiting up to {} for {}",
        d.name,
        fmt_duration(d.timeout),
        waiting_for(&d)
    );

    let first = match wait_for_files(&d, deadline) {
        Waited::Ready(arrived) => arrived,
        Waited::Stopped => {
            log::info!(
                "{}: stopped before {} arrived; {} unchanged",
                d.name,
                waiting_for(&d),
                d.output.display()
            );
            return ExitCode::SUCCESS;
        }
        Waited::TimedOut => {
            let existing = open_output(&d, &Trust::ours().with(&also, CONSUMER_USERS))
                .map_or(Existing::Missing, |o| o.read().0);
            log::error!(
                "{}: gave up after {} (Timeout=): {} did not arrive; {} {}, the consumers ({}) stay as they are. Once the file is there: systemctl start {}",
                d.name,
                fmt_duration(d.timeout),
                waiting_for(&d),
                d.output.display(),
                if existing.is_real() { "keeps its real content from an earlier boot" } else { "stays the stub" },
                if d.consumers.is_empty() { "none".to_string() } else { d.consumers.join(" ") },
                d.wait_service()
            );
            return ExitCode::from(TIMED_OUT);
        }
    };
    if let Some(f) = &first {
        log::info!(
            "{}: {} arrived after {}",
            d.name,
            f.display(),
            fmt_duration(round_ms(started.elapsed()))
        );
    }

    // Build and write, retrying with backoff while Exec= fails or the file is not right.
    let mut attempt = 0u32;
    let mut last_error = String::new();
    let remaining = deadline.saturating_duration_since(Instant::now());
    let built = retry::with_backoff(
        remaining,
        Duration::from_secs(1),
        Duration::from_secs(30),
        || {
            attempt += 1;
            let arrived = match &first {
                None => None,
                // The file that arrived, or another WaitFor= file if it went away since.
                Some(f) if f.exists() => Some(f.clone()),
                Some(_) => match d.wait_for.iter().find(|p| p.exists()) {
                    Some(p) => Some(p.clone()),
                    None => {
                        last_error = format!("{} went away", waiting_for(&d));
                        log::warn!("{}: attempt {attempt}: {last_error}", d.name);
                        return None;
                    }
                },
            };
            let left = deadline.saturating_duration_since(Instant::now());
            // Opened at every attempt: an operator may fix its directory meanwhile.
            let out = Output::open(&d.output, &Trust::ours().with(&also, CONSUMER_USERS))
                .map_err(|e| format!("Output= cannot be written: {e}"));
            match out.and_then(|out| {
                let (_, data) = out.read();
                build::build(&d, arrived.as_deref(), d.exec_timeout.min(left), &in_trust).and_then(
                    |b| {
                        out.write(&b.text, data.as_deref(), d.output_mode)
                            .map(|_| b)
                    },
                )
            }) {
                Ok(b) => Some(b),
                Err(_) if signals::stop_requested() => None,
                Err(e) => {
                    log::warn!(
                        "{}: attempt {attempt}: {e}; trying again (backoff) until the deadline",
                        d.name
                    );
                    last_error = e;
                    None
                }
            }
        },
    );
    let Some(b) = built else {
        if signals::stop_requested() {
            log::info!(
                "{}: stopped while building {}; unchanged",
                d.name,
                d.output.display()
            );
            return ExitCode::SUCCESS;
        }
        log::error!(
            "{}: gave up after {} (Timeout=): {} arrived but {} could not be built in {attempt} attempts; last error: {last_error}",
            d.name,
            fmt_duration(d.timeout),
            first.as_ref().map_or_else(|| waiting_for(&d), |f| f.display().to_string()),
            d.output.display()
        );
        return ExitCode::from(TIMED_OUT);
    };
    log::info!(
        "{}: wrote {} ({}){}",
        d.name,
        d.output.display(),
        key_list(&b.keys),
        if attempt > 1 {
            format!(" at attempt {attempt}")
        } else {
            String::new()
        }
    );

    let scope = a.scope();
    let mut restarted = Vec::new();
    for c in &d.consumers {
        if signals::stop_requested() {
            log::info!("{}: stopped before restarting {c}", d.name);
            return ExitCode::SUCCESS;
        }
        let r = systemctl::reset_failed(scope, c);
        if !r.success {
            log::warn!("{}: reset-failed {c}: {}", d.name, r.stderr.trim());
        }
        let r = systemctl::restart(scope, c);
        if r.success {
            restarted.push(c.as_str());
        } else {
            log::error!("{}: could not restart {c}: {}", d.name, r.stderr.trim());
        }
    }
    log::info!(
        "{}: gate open after {}; restarted {}",
        d.name,
        fmt_duration(round_ms(started.elapsed())),
        if restarted.is_empty() {
            "nothing".to_string()
        } else {
            restarted.join(" ")
        }
    );
    ExitCode::SUCCESS
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64 / 100 * 100)
}

enum Waited {
    Ready(Option<PathBuf>),
    TimedOut,
    Stopped,
}

fn wait_for_files(d: &Decl, deadline: Instant) -> Waited {
    let any: Vec<PathBuf> = d.wait_for.clone();
    let all: Vec<PathBuf> = d.required_files();
    let paths: Vec<PathBuf> = any.iter().chain(all.iter()).cloned().collect();
    let mut targets: Vec<watch::Target> = paths
        .iter()
        .map(|p| watch::Target::new(p.clone(), d.settle_time))
        .collect();
    let mut watcher = watch::Watcher::new(&d.name);
    watcher.arm(&paths);
    let mut next_poll = Instant::now();
    loop {
        if signals::stop_requested() {
            return Waited::Stopped;
        }
        let now = Instant::now();
        // Look at the files: every poll interval, and often while one is settling.
        let poll_all = now >= next_poll;
        if poll_all {
            next_poll = now + d.poll_interval;
        }
        for t in targets.iter_mut() {
            if (poll_all || t.exists()) && t.observe(now) {
                log::info!(
                    "{}: {} appeared; taking it once it has not changed for {}",
                    d.name,
                    t.path.display(),
                    fmt_duration(d.settle_time)
                );
            }
        }
        let (any_t, all_t) = targets.split_at(any.len());
        let all_ok = all_t.iter().all(|t| t.complete(now));
        let arrived = any_t
            .iter()
            .find(|t| t.complete(now))
            .map(|t| t.path.clone());
        if all_ok && (any.is_empty() || arrived.is_some()) {
            return Waited::Ready(arrived);
        }
        if now >= deadline {
            return Waited::TimedOut;
        }
        let mut wake = deadline.min(next_poll);
        for t in &targets {
            if let Some(due) = t.due() {
                wake = wake.min(due.max(now));
            }
        }
        let seen = watcher.wait(&paths, wake.saturating_duration_since(now));
        let now = Instant::now();
        if seen.rearm {
            watcher.arm(&paths);
            next_poll = now; // look at everything
        }
        for (path, mask) in seen.touched {
            for t in targets.iter_mut().filter(|t| t.path == path) {
                let existed = t.exists();
                t.touched(now, mask);
                if !existed && t.exists() {
                    log::info!(
                        "{}: {} appeared; taking it once it has not changed for {}",
                        d.name,
                        t.path.display(),
                        fmt_duration(d.settle_time)
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------- check

fn check(gate: &str, consumer: Option<&str>, output: &Path) -> ExitCode {
    // Root reads it (ExecCondition=+): never through a link another user could have made,
    // never waiting on a FIFO, and only out of directories that root or the user this unit
    // runs as alone can write. Anyone else could make the stub look real and the unit start
    // with their env file (issue 20: a gate shared by a user's consumer and root's).
    let units: Vec<String> = consumer.map(str::to_string).into_iter().collect();
    let consumers = Consumers::new(manager_scope(), &units);
    let also = |uid: u32| consumers.all_run_as(uid);
    let trust = Trust::ours().with(&also, "the user this unit runs as (User=)");
    let data =
        safepath::open_trusted_file(output, &trust).and_then(|o| o.read_all(output, 16 << 20));
    match data {
        Ok(data) if Existing::of(Some(&data)).is_real() => ExitCode::SUCCESS,
        Ok(_) => {
            log::info!(
                "held by env gate {gate}: {} is still the stub; {gate}-wait.service starts this unit when the env arrives",
                output.display()
            );
            ExitCode::from(1)
        }
        Err(e) if e.is_not_found() => {
            log::info!(
                "held by env gate {gate}: {} does not exist yet ({gate}.service writes it)",
                output.display()
            );
            ExitCode::from(1)
        }
        Err(e @ safepath::Error::Untrusted { .. }) => {
            log::error!(
                "held by env gate {gate}: {e}; this unit is not started with an env file another user could have written"
            );
            ExitCode::from(1)
        }
        Err(e) => {
            // Not ours to decide: let the unit try, and fail on its own terms.
            log::warn!("env gate {gate}: {e}; not holding this unit");
            ExitCode::SUCCESS
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn setup(name: &str, decl_extra: &str) -> (PathBuf, PathBuf, PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("unitsmith-envgate-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let out = dir.join("out/o.env");
        let waitfor = dir.join("w.env");
        let decl = dir.join("g.envgate");
        fs::write(
            &decl,
            format!(
                "[EnvGate]\nWaitFor={}\nOutput={}\nImport=A\nStubKeys=A B\nConsumer=c.service\n{decl_extra}",
                waitfor.display(),
                out.display()
            ),
        )
        .unwrap();
        (decl, waitfor, out)
    }

    fn args(decl: &Path) -> GateArgs {
        GateArgs {
            declaration: decl.to_path_buf(),
            user: false,
            system: true,
        }
    }

    #[test]
    fn loads_with_drop_ins_next_to_the_declaration() {
        let (decl, _, _) = setup("load", "");
        fs::create_dir_all(decl.with_extension("envgate.d")).unwrap();
        fs::write(
            decl.parent().unwrap().join("g.envgate.d/10-t.conf"),
            "[EnvGate]\nTimeout=5s\n",
        )
        .unwrap();
        let d = load(&args(&decl)).unwrap();
        assert_eq!(d.timeout, Duration::from_secs(5));
        fs::write(
            decl.parent().unwrap().join("g.envgate.d/20-bad.conf"),
            "[EnvGate]\nTimeot=5s\n",
        )
        .unwrap();
        let e = load(&args(&decl)).unwrap_err();
        assert!(e.contains("20-bad.conf:2: [EnvGate] Timeot:"), "{e}");
        assert!(e.contains("did you mean 'Timeout'?"), "{e}");
    }

    #[test]
    fn ready_needs_a_complete_file() {
        let (decl, waitfor, _) = setup("ready", "SettleTime=200ms\n");
        let d = load(&args(&decl)).unwrap();
        assert_eq!(ready_now(&d), None);
        fs::write(&waitfor, "A=1\n").unwrap();
        assert_eq!(
            ready_now(&d),
            None,
            "just written: maybe still being written"
        );
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(ready_now(&d), Some(Some(waitfor.clone())));
    }

    #[test]
    fn waits_for_a_file_written_later() {
        let (decl, waitfor, _) = setup("wait", "SettleTime=100ms\nPollInterval=30s\n");
        let d = load(&args(&decl)).unwrap();
        let w = waitfor.clone();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            fs::write(&w, "A=1\n").unwrap();
        });
        let t0 = Instant::now();
        // PollInterval=30s: only inotify can see it in time
        match wait_for_files(&d, Instant::now() + Duration::from_secs(10)) {
            Waited::Ready(Some(p)) => assert_eq!(p, waitfor),
            _ => panic!("not ready"),
        }
        let took = t0.elapsed();
        writer.join().unwrap();
        assert!(
            took >= Duration::from_millis(400) && took < Duration::from_secs(2),
            "{took:?}"
        );
        // and a deadline is a deadline
        let (decl, _, _) = setup("wait-timeout", "");
        let d = load(&args(&decl)).unwrap();
        let t0 = Instant::now();
        assert!(matches!(
            wait_for_files(&d, Instant::now() + Duration::from_millis(300)),
            Waited::TimedOut
        ));
        assert!(t0.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn check_holds_only_the_stub() {
        let (decl, _, out) = setup("check", "");
        let d = load(&args(&decl)).unwrap();
        assert_eq!(check("g", None, &out), ExitCode::from(1), "missing");
        fs::create_dir_all(out.parent().unwrap()).unwrap();
        fs::write(&out, envfile::stub("g", "x", &d.stub_keys)).unwrap();
        assert_eq!(check("g", None, &out), ExitCode::from(1), "stub");
        let mut env = envfile::Env::new();
        env.set("A", "1");
        fs::write(&out, envfile::real("g", "x", &env, Default::default())).unwrap();
        assert_eq!(check("g", None, &out), ExitCode::SUCCESS, "real");
        fs::write(&out, "A=1\n").unwrap();
        assert_eq!(check("g", None, &out), ExitCode::SUCCESS, "foreign");
    }
}

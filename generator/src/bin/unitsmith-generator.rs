//! unitsmith-generator — a systemd generator (systemd.generator(7)) for Quadlet files and
//! unitsmith env gates. Command line only; the work is in the library.
//!
//! `unitsmith-generator [--user] [--no-kmsg-log] [--dry-run] [-v] NORMAL_DIR [EARLY_DIR LATE_DIR]`
//! Quadlet's spellings (`-user`, `-no-kmsg-log`, `-dryrun`, `-v`, `-version`) work too.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use unitsmith_generator::generate::{self, Options};
use unitsmith_generator::log::{self, Level};
use unitsmith_generator::sources::Scan;
use unitsmith_generator::{
    budget, dirs, log_debug, log_error, log_warn, output, podman_version, watchdog,
};

struct Args {
    user: bool,
    no_kmsg: bool,
    dry_run: bool,
    verbose: bool,
    version: bool,
    help: bool,
    dirs: Vec<PathBuf>,
}

const USAGE: &str = "usage: unitsmith-generator [--user] [--no-kmsg-log] [--dry-run] [-v] NORMAL_DIR [EARLY_DIR LATE_DIR]";

/// `--help`: one option a line, as unitsmith-generator(8) lists them (generator/tests/cli.rs
/// holds the two, and the parser below, together).
const HELP: &str = "\
The systemd generator for Podman Quadlet files and unitsmith env gates: systemd runs it at boot
and at every daemon-reload; it writes the units into NORMAL_DIR.

Options:
  --user          make the user manager's units (also: SYSTEMD_SCOPE=user, or a program name
                  containing \"user\")
  --no-kmsg-log   log to stderr instead of /dev/kmsg
  --dry-run       print the units on stdout, write nothing, log to stderr at debug level
  -v, --verbose   log debug messages too
  --version       print the version and the Podman release whose Quadlet it matches
  -h, --help      print this help

Podman Quadlet's spellings work too: -user, -no-kmsg-log, -dryrun, -v, -version.
See unitsmith-generator(8).";

fn parse_args() -> Result<Args, String> {
    let argv0 = std::env::args().next().unwrap_or_default();
    let prog = std::path::Path::new(&argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut a = Args {
        user: prog.contains("user") || std::env::var("SYSTEMD_SCOPE").is_ok_and(|s| s == "user"),
        no_kmsg: false,
        dry_run: false,
        verbose: false,
        version: false,
        help: false,
        dirs: Vec::new(),
    };
    let mut only_positional = false;
    for arg in std::env::args_os().skip(1) {
        let s = arg.to_string_lossy().into_owned();
        if only_positional || !s.starts_with('-') || s == "-" {
            a.dirs.push(PathBuf::from(arg));
            continue;
        }
        if s == "--" {
            only_positional = true;
            continue;
        }
        // Go's flag package takes -name, --name and -name=BOOL alike.
        let body = s.trim_start_matches('-');
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let on = match value {
            None => true,
            Some(v) => unitsmith_generator::unitfile::parse_bool_lenient(v),
        };
        match name {
            "user" => a.user = on,
            "no-kmsg-log" => a.no_kmsg = on,
            "dry-run" | "dryrun" => a.dry_run = on,
            "v" | "verbose" => a.verbose = on,
            "version" => a.version = on,
            "h" | "help" => a.help = true,
            _ => return Err(format!("unknown option {s}\n{USAGE}")),
        }
    }
    Ok(a)
}

fn main() -> ExitCode {
    // A generator must never take the boot down: a panic becomes exit 1 with a message.
    std::panic::set_hook(Box::new(|info| {
        log::log(
            Level::Error,
            &format!("internal error (please report): {info}"),
        );
    }));
    match std::panic::catch_unwind(real_main) {
        Ok(code) => code,
        Err(_) => ExitCode::from(1),
    }
}

fn real_main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("unitsmith-generator: {e}");
            return ExitCode::from(2);
        }
    };
    if args.help {
        println!("{USAGE}\n\n{HELP}");
        return ExitCode::SUCCESS;
    }
    if args.version {
        println!("unitsmith-generator {}", unitsmith_generator::VERSION);
        return ExitCode::SUCCESS;
    }
    let mut level = log::level_from_env().unwrap_or(Level::Info);
    if args.verbose || args.dry_run {
        level = Level::Debug;
    }
    log::init(
        "unitsmith-generator",
        !(args.no_kmsg || args.dry_run),
        level,
    );

    let output_dir = args.dirs.first().cloned();
    // Where the failure stubs of inputs root does not trust go (see output.rs); with one
    // directory, as in tests, that one stands for all three (systemd.generator(7)).
    let late_dir = args.dirs.get(2).cloned();
    if !args.dry_run && output_dir.is_none() {
        log_error!("missing output directory argument\n{USAGE}");
        return ExitCode::from(1);
    }
    // Whatever the inputs, the run ends: reading stops at the time limit, and the watchdog
    // ends a run that a read stuck in the kernel still holds after it (see budget.rs).
    let limit = budget::timeout_from_env();
    let deadline = Instant::now() + limit;
    let published: Arc<OnceLock<Arc<Scan>>> = Arc::default();
    let dog = {
        let (published, dir) = (Arc::clone(&published), output_dir.clone());
        let dir = dir.filter(|_| !args.dry_run);
        let late = late_dir.clone();
        watchdog::arm(deadline + budget::WATCHDOG_GRACE, move || {
            last_resort(&published, dir.as_deref(), late.as_deref(), limit)
        })
    };
    let (search, scan) = dirs::search_and_scan_until(args.user, Some(deadline));
    let mut failed = false;
    for p in search.problems.iter().chain(&scan.problems) {
        log_error!("{p}");
        failed = true;
    }
    let scan = Arc::new(scan);
    let _ = published.set(Arc::clone(&scan));
    log_debug!(
        "search paths: {}",
        search
            .dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    );
    // Found from a record beside the binary, never by running it (see podman_version.rs).
    let host = podman_version::host();
    log_debug!("generating for {}", host.describe());
    let opts = Options {
        user: args.user,
        podman: host.binary.clone(),
        podman_version: host.version,
        dirs: search.dirs,
        helper: unitsmith_generator::helper_path(),
        deadline: Some((deadline, limit)),
    };
    // Units and their links are written as they become final (writing overlaps
    // converting); the output directory must exist first.
    let write_to = if args.dry_run { None } else { output_dir };
    let out = match (write_to.as_deref())
        .map(|d| open_output(d, late_dir.as_deref()))
        .transpose()
    {
        Ok(out) => out,
        Err(e) => {
            log_error!("{e}");
            return ExitCode::from(1);
        }
    };
    let write = |u: &generate::Generated| match &out {
        Some(out) => output::write_unit(out, u),
        None => Ok(()),
    };
    // A dry run keeps every unit to print; otherwise each is written and let go.
    let sink: Option<generate::Sink> = out.as_ref().map(|_| &write as generate::Sink);
    let outcome = generate::run(&scan, &opts, sink);
    for w in &outcome.warnings {
        log_warn!("{w}");
    }
    for e in &outcome.errors {
        log_error!("{e}");
    }
    failed |= !outcome.errors.is_empty();

    if args.dry_run {
        let mut out = String::new();
        for u in &outcome.units {
            out.push_str(&format!("---{}---\n{}\n", u.name, u.text()));
        }
        print!("{out}");
    } else if let Some(out) = &out {
        let link_errors = output::settle_links(out, &outcome.units);
        for e in outcome.sink_errors.iter().chain(&link_errors) {
            log_error!("{e}");
            failed = true;
        }
    }
    dog.disarm();
    // Freeing thousands of small allocations one by one is pure waste at exit.
    std::mem::forget(outcome);
    std::mem::forget(scan);
    if failed {
        log_error!("processing encountered some errors");
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The output directories systemd gave, normal and late (made when missing, as for a dry
/// run's tests), held open: every unit and link is written relative to them (see `output.rs`).
fn open_output(dir: &Path, late: Option<&Path>) -> Result<output::Outputs, String> {
    let open = |d: &Path| {
        std::fs::create_dir_all(d)
            .and_then(|()| output::OutputDir::open(d))
            .map_err(|e| format!("{}: cannot create output directory: {e}", d.display()))
    };
    Ok(output::Outputs::new(
        open(dir)?,
        late.map(open).transpose()?,
    ))
}

/// The watchdog's action: the run is still going well past its time limit, so a read or a
/// listing is stuck in the kernel. Write a failure stub for every input without a unit (they
/// are named from their file names), say so, and exit before systemd kills the generator.
fn last_resort(
    published: &OnceLock<Arc<Scan>>,
    dir: Option<&Path>,
    late_dir: Option<&Path>,
    limit: Duration,
) {
    let late = limit + budget::WATCHDOG_GRACE;
    let why = format!(
        "not generated: the generator was still running {} s after it started (its time limit is {} s, {} sets it): a read or a directory listing hangs (a hung network file system?)",
        late.as_secs_f64(),
        limit.as_secs_f64(),
        budget::TIMEOUT_ENV
    );
    match published.get() {
        None => {
            let at = dirs::LISTING.lock().ok().and_then(|d| d.clone());
            log_error!(
                "{why}; it was still listing the input directories{}: no unit of this run is written",
                at.map(|d| format!(" (at {})", d.display())).unwrap_or_default()
            );
        }
        Some(scan) => {
            log_error!("{why}; writing a failure stub for every input without a unit, and exiting");
            if let Some(dir) = dir {
                let out = match open_output(dir, late_dir) {
                    Ok(out) => out,
                    Err(e) => {
                        log_error!("{e}");
                        std::process::exit(1);
                    }
                };
                let (written, left) = output::write_missing_stubs(&out, &scan.inputs, &why);
                log_error!("{written} failure stubs written");
                for path in left {
                    log_error!("{path}: no unit written for it");
                }
            }
        }
    }
    std::process::exit(1);
}

//! `unitsmith lint [--json] [--systemd-version N] [--root DIR] [PATH...]`: offline checks for
//! the boot and reload hazards of the field reports, over unit files (with drop-ins and
//! `.wants/` links) and Quadlet inputs (as the units the generator makes of them, located in
//! the input). Each finding has file:line, an explanation and a fix. Exit status 1 when any
//! finding is an error. Units are judged by the systemd they will run under (`version.rs`):
//! its keys, values and refusals (`keys.rs`, data from systemd's sources at each release).
//!
//! Rules (details and exact conditions in `rules.rs`, `verify.rs`, and unitsmith-lint(1)):
//! cloud-init-cycle (error), start-limit-burn, boot-blocking-wait, prestart-kill,
//! watchdog-stop-timeout, killmode-stop-timeout (warnings); what `systemd-analyze verify`
//! rejects: service-refused, exec-not-found (errors), unknown-section, unknown-key, bad-value
//! (warnings); parse-error and generator-error (errors); continuation-line (warning: Quadlet
//! continuation lines Podman and systemd read differently, `continuation.rs`); not-walked
//! (warning: the parts of a tree the bounded walk did not look at, see `walk.rs`).
//!
//! Modules: `load` reads the trees (`quadlet` the inputs, through the generator), `search`
//! knows the default directories, `root` resolves paths inside `--root`, `version` finds the
//! systemd to judge by, `keys` holds what each release knows (data: `keys.txt`, regenerated
//! by tests/lint-keys/regenerate.py), `verify` and `rules` find the problems.

mod continuation;
mod keys;
mod load;
mod quadlet;
mod root;
mod rules;
mod search;
mod shell;
mod verify;
mod version;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;

use keys::Release;
use root::Root;
use version::Target;

const AFTER_HELP: &str = "\
Without PATH: systemd's unit directories (/etc/systemd/system, /run/systemd/system,
/usr/local/lib/systemd/system, the generator directories, ...) and the Quadlet directories the
generator reads; the distribution's units (/usr/lib/systemd/system) are read, for what pulls
what in, but only reported on when given as a PATH. A PATH may be a unit file, a drop-in, a Quadlet
input or a directory (searched recursively; NAME.d/ are drop-ins, NAME.wants/ and
NAME.requires/ hold links). Quadlet inputs are checked as the unit the generator makes of
them, with findings at the line of the input.

Rules:
  cloud-init-cycle       error    WantedBy=multi-user.target + After=cloud-final.service or
                                  After=cloud-init.target (cloud-final runs after multi-user)
  start-limit-burn       warning  Restart=on-failure oneshot pulled in by a Restart=always
                                  service; oneshot without RemainAfterExit=yes pulled in by
                                  two or more units (targets not counted)
  boot-blocking-wait     warning  oneshot on a boot target that sleeps/polls, or whose
                                  TimeoutStartSec= is infinity, 0 or over 90 s
  prestart-kill          warning  ExecStartPre= running pkill/killall or deleting lock files
  watchdog-stop-timeout  warning  Type=notify + WatchdogSec= without TimeoutStopSec=
  killmode-stop-timeout  warning  KillMode=mixed/process without TimeoutStopSec=
  service-refused        error    services systemd refuses to load (no ExecStart=, several
                                  ExecStart= outside oneshot, oneshot with Restart=always, ...)
  exec-not-found         error    Exec*= command missing on this machine (in DIR with --root)
  unknown-section, unknown-key, bad-value   warning   lines systemd ignores
  parse-error, generator-error              error     unreadable files, failed inputs
  continuation-line      warning  a Quadlet input's continuation line that Podman and systemd
                                  read differently: no blank before the backslash (Podman
                                  joins with nothing between), an escaped backslash, a blank
                                  line inside
  not-walked             warning  a directory deeper than 16 levels, entries past 100000, links
                                  in a directory another user controls (as root): not looked at

Keys, values and refusals are those of the systemd the units will run under: --systemd-version
N; with --root DIR, the one installed in DIR (its libsystemd-shared-N.so); otherwise the running
manager, or the systemd installed here. Keys a newer systemd added are reported as such (\"added
in systemd N\"). The report names the version judged by.

With --root DIR, everything is looked up inside DIR as the booted image will see it (links
resolved inside DIR, never on this machine): the default directories, each PATH (a path in the
image), .wants/ links and Exec*= commands.

Exit status: 0 no errors (warnings allowed); 1 at least one error; 2 usage (a PATH or the
--root directory missing). See unitsmith-lint(1).";

#[derive(clap::Args, Debug)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// Print one JSON object instead of text (fields: unitsmith-lint(1)).
    #[arg(long)]
    pub json: bool,
    /// Judge by this systemd release's keys (default: the systemd the units run under).
    ///
    /// Whatever is installed or running: e.g. to lint on a build host units that will run on
    /// another release.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..1000))]
    pub systemd_version: Option<u32>,
    /// Lint the image tree in DIR as it will boot: paths, links and commands inside DIR.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Unit files, drop-ins, Quadlet inputs or directories (default: the system's).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(into = "&'static str")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

impl From<Severity> for &'static str {
    fn from(s: Severity) -> &'static str {
        s.as_str()
    }
}

/// One finding: where, what, why, and the fix (as `--json` prints it, fields in this order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    #[serde(serialize_with = "crate::json::serialize_path")]
    pub file: PathBuf,
    /// 1-based; 0 when no line can be named (the file as a whole).
    pub line: usize,
    pub unit: String,
    pub message: String,
    pub fix: String,
}

impl Finding {
    fn location(&self) -> String {
        if self.line > 0 {
            format!("{}:{}", self.file.display(), self.line)
        } else {
            self.file.display().to_string()
        }
    }
}

/// `lint --json`: the fields unitsmith-lint(1) documents under JSON OUTPUT, in order.
#[derive(Serialize)]
struct ReportJson<'a> {
    schema: u32,
    units: usize,
    files: usize,
    errors: usize,
    warnings: usize,
    systemd: SystemdJson<'a>,
    findings: &'a [Finding],
}

/// The systemd release the units were judged by (see `version`).
#[derive(Serialize)]
struct SystemdJson<'a> {
    judged_by: u32,
    found: Option<u32>,
    from: &'a str,
}

/// Everything lint found in `tree`, judged by systemd `release`, sorted by file and line,
/// each once. Commands are looked up in `root`.
pub fn check(tree: &load::Tree, release: &Release, root: &Root) -> Vec<Finding> {
    let mut out = tree.findings.clone();
    for s in &tree.sources {
        out.extend(verify::check_source(s, release, root));
    }
    for u in tree.units.values() {
        out.extend(verify::check_unit(u, release));
    }
    out.extend(rules::cloud_init_cycle(tree));
    out.extend(rules::start_limit_burn(tree));
    out.extend(rules::boot_blocking_wait(tree));
    out.extend(rules::prestart_kill(tree));
    out.extend(rules::watchdog_stop_timeout(tree));
    out.extend(rules::killmode_stop_timeout(tree));
    out.sort_by(|a, b| {
        (&a.file, a.line, a.rule, &a.message).cmp(&(&b.file, b.line, b.rule, &b.message))
    });
    out.dedup_by(|a, b| {
        a.file == b.file && a.line == b.line && a.rule == b.rule && a.message == b.message
    });
    out
}

pub fn run(args: Args) -> ExitCode {
    let root = match &args.root {
        Some(dir) => match Root::image(dir) {
            Ok(r) => r,
            Err(e) => {
                log::error!("{e}: give the directory the image tree is in");
                return ExitCode::from(2);
            }
        },
        None => Root::host(),
    };
    let target = match (args.systemd_version, root.dir()) {
        (Some(v), _) => version::given(v),
        (None, Some(_)) => version::installed_in(&root),
        (None, None) => version::this_machine(),
    };
    let release = keys::table().release(target.judged);

    // With --root, a PATH is a path in the image.
    let paths: Vec<PathBuf> = args.paths.iter().map(|p| in_root(&root, p)).collect();
    let tree = if paths.is_empty() {
        let quadlet_dirs = search::quadlet_dirs(&root);
        load::load(&search::unit_dirs(&root), false, &quadlet_dirs, &root)
    } else {
        if let Some((given, _)) = args.paths.iter().zip(&paths).find(|(_, p)| !root.exists(p)) {
            match root.dir() {
                Some(d) => log::error!(
                    "{}: no such file or directory in {}",
                    given.display(),
                    d.display()
                ),
                None => log::error!("{}: no such file or directory", given.display()),
            }
            return ExitCode::from(2);
        }
        load::load(&paths, true, &[], &root)
    };
    let mut findings = check(&tree, &release, &root);
    if paths.is_empty() {
        // The distribution's units are context (what pulls what in), not the admin's to fix:
        // pass their directory as a PATH to check them too.
        let vendor = search::vendor_dirs(&root);
        findings.retain(|f| !vendor.iter().any(|d| f.file.starts_with(d)));
    }
    report(&args, &tree, &findings, &target);
    if findings.iter().any(|f| f.severity == Severity::Error) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// A PATH of the command line: inside the image with `--root` (a relative one from the
/// image's `/`), as given without.
fn in_root(root: &Root, p: &Path) -> PathBuf {
    match root.dir() {
        Some(_) => root.join(p),
        None => p.to_path_buf(),
    }
}

fn report(args: &Args, tree: &load::Tree, findings: &[Finding], target: &Target) {
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = findings.len() - errors;
    if args.json {
        let doc = ReportJson {
            schema: crate::json::SCHEMA,
            units: tree.units.len(),
            files: tree.sources.len(),
            errors,
            warnings,
            systemd: SystemdJson {
                judged_by: target.judged,
                found: target.found,
                from: &target.from,
            },
            findings,
        };
        if let Err(e) = crate::json::print(&doc) {
            log::error!("{e}");
        }
        return;
    }
    let mut text = String::new();
    for f in findings {
        text.push_str(&format!(
            "{}: {}: {}: {} [{}]\n",
            f.location(),
            f.severity.as_str(),
            f.unit,
            f.message,
            f.rule
        ));
        text.push_str(&format!("    fix: {}\n", f.fix));
    }
    text.push_str(&format!("lint: judged by {}\n", target.describe()));
    text.push_str(&format!(
        "lint: {} units in {} files: {} error{}, {} warning{}\n",
        tree.units.len(),
        tree.sources.len(),
        errors,
        if errors == 1 { "" } else { "s" },
        warnings,
        if warnings == 1 { "" } else { "s" }
    ));
    crate::term::print_report(&text, errors == 0);
}

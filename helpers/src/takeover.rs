//! `unitsmith takeover [--user] [--undo] [--root DIR] [--json]`: make unitsmith the Quadlet
//! generator on a host where Podman's own is installed, the way systemd.generator(7) documents
//! disabling a generator (a link to /dev/null of the same name in /etc/systemd/*-generators/),
//! reload, and show that every Quadlet input's unit is now unitsmith's. `--undo` removes the
//! link and hands the directories back. Idempotent; exit status 1 with the reason when
//! something is in the way. Nothing installs it on its own: an operator (or cloud-init, or an
//! image build with `--root`) decides. Each link it makes is recorded (state.rs), so that
//! removing the package (`--undo --recorded`, from its prerm) undoes exactly those.

mod check;
mod link;
mod state;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::doctor::sd;
use crate::doctor::table::{self, Row};
use crate::systemctl::{self, Scope};
use check::{UnitRow, Writer};
use link::{Entry, Mask};

macro_rules! takeover_examples {
    () => {
        "\
Examples:
  unitsmith takeover                  unitsmith generates the Quadlet files from now on
  unitsmith takeover --undo           hand them back to Podman's generator
  unitsmith takeover --user           the same for every user's manager (as root)
  unitsmith takeover --root /srv/img  in an image tree: the link only (no reload)
  unitsmith takeover --undo --recorded   only what takeover made (the package's removal)

Exit status: 0 done (or already so); 1 something is in the way, the reload failed, or an
input's unit is not unitsmith's afterwards (each listed); 2 takeover could not run.
See unitsmith-takeover(1)."
    };
}

#[derive(clap::Args, Debug)]
#[command(after_help = takeover_examples!())]
#[command(after_long_help = concat!("\
1. check that unitsmith-generator is installed (else nothing would generate the files);
2. link /etc/systemd/system-generators/podman-system-generator (user-generators/\
podman-user-generator with --user) to /dev/null, which masks Podman's generator; refuse when \
a file or another link of that name is there, or when /run/systemd/... would override it;
3. systemctl daemon-reload (with --user: every running user manager, as its user);
4. list each Quadlet input, its unit and which generator wrote it: every one must be \
unitsmith's (a failure stub counts: `unitsmith doctor UNIT` says what is wrong with its file).

Each link takeover makes is recorded in /var/lib/unitsmith/takeover (under DIR with --root). \
--undo removes the link (only a link to /dev/null: anything else is an administrator's) and \
reloads; Podman's generator handles the containers directories again. With --recorded it does so \
only when the record lists the link: removing the package runs that, so a mask an administrator \
made stays. The package never takes over on its own.

", takeover_examples!()))]
pub struct Args {
    /// Podman's user generator, for every user manager (needs root: the link is in /etc).
    #[arg(long)]
    pub user: bool,
    /// Hand the Quadlet files back to Podman's generator.
    #[arg(long)]
    pub undo: bool,
    /// With --undo: only a link takeover made (recorded in /var/lib/unitsmith/takeover); any
    /// other stays. What removing the package runs.
    #[arg(long, requires = "undo")]
    pub recorded: bool,
    /// Change the image tree DIR instead of this host: the link only, no reload, no check.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Print one JSON object instead of text (fields: unitsmith-takeover(1)).
    #[arg(long)]
    pub json: bool,
    /// Internal: reload this user's manager and check it, leaving the links alone (what root
    /// runs as each user for --user).
    #[arg(long, hide = true, requires = "user")]
    pub manager_only: bool,
}

/// Everything takeover did, as `--json` prints it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Report {
    pub schema: u32,
    /// `takeover` or `undo`.
    pub action: String,
    pub scope: String,
    #[serde(serialize_with = "crate::json::serialize_opt_path")]
    pub root: Option<PathBuf>,
    /// The mask link and what was at its path before and after.
    pub link: Option<LinkReport>,
    /// Podman's generator, where it is installed (null: not installed).
    #[serde(serialize_with = "crate::json::serialize_opt_path")]
    pub podman_generator: Option<PathBuf>,
    pub managers: Vec<ManagerReport>,
    pub errors: Vec<String>,
    pub ok: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct LinkReport {
    #[serde(serialize_with = "crate::json::serialize_path")]
    pub path: PathBuf,
    /// `absent`, `masked` (a link to /dev/null), `masked-other`, `other`.
    pub before: String,
    pub after: String,
    pub changed: bool,
    /// Listed in /var/lib/unitsmith/takeover afterwards: takeover made it, and removing the
    /// package removes it.
    pub recorded: bool,
}

/// One service manager, reloaded and checked.
#[derive(Debug, Serialize, Deserialize)]
pub struct ManagerReport {
    /// The user of a user manager; null for the system manager.
    pub user: Option<String>,
    pub reloaded: bool,
    /// Which generator handles the containers directories now: `unitsmith` or `podman`.
    pub containers_generator: String,
    pub units: Vec<UnitRow>,
    pub errors: Vec<String>,
}

pub fn run(args: Args) -> ExitCode {
    crate::doctor::init_library_log();
    if args.manager_only {
        return finish(&args, manager_only(&args));
    }
    let report = match (&args.root, nix::unistd::geteuid().is_root()) {
        (None, false) => {
            let what = if args.user {
                "/etc/systemd/user-generators"
            } else {
                "/etc/systemd/system-generators"
            };
            log::error!("takeover changes {what} and reloads systemd: run it as root");
            return ExitCode::from(2);
        }
        _ => apply(&args),
    };
    finish(&args, report)
}

fn finish(args: &Args, report: Report) -> ExitCode {
    if args.json {
        if let Err(e) = crate::json::print(&report) {
            log::error!("{e}");
            return ExitCode::from(2);
        }
    } else {
        crate::term::print_report(&render_text(&report), report.ok);
    }
    if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn new_report(args: &Args) -> Report {
    Report {
        schema: crate::json::SCHEMA,
        action: if args.undo { "undo" } else { "takeover" }.into(),
        scope: if args.user { "user" } else { "system" }.into(),
        root: args.root.clone(),
        link: None,
        podman_generator: None,
        managers: Vec::new(),
        errors: Vec::new(),
        ok: false,
    }
}

/// The whole takeover (or undo): link, reload, check.
fn apply(args: &Args) -> Report {
    let mut r = new_report(args);
    let root = args.root.clone().unwrap_or_else(|| PathBuf::from("/"));
    r.podman_generator = podman_generator_in(&root, args.user);
    if !args.undo {
        if let Err(e) = generator_present(&root, args.user) {
            r.errors.push(e);
            return r;
        }
    }
    let mask = Mask::etc(&root, args.user);
    let before = match link::inspect(&mask).and_then(|e| Ok((e, state::is_recorded(&mask)?))) {
        Ok(b) => b,
        Err(e) => {
            r.errors.push(e);
            return r;
        }
    };
    let (before, recorded) = before;
    if args.recorded && !recorded {
        // Takeover did not make what is there (or it is undone already): not ours to remove.
        r.link = Some(LinkReport {
            path: mask.path(),
            before: before.code().into(),
            after: before.code().into(),
            changed: false,
            recorded: false,
        });
        r.ok = true;
        return r;
    }
    let changed = if args.undo {
        undo_link(&mask, args.recorded, &mut r.errors)
    } else {
        make_link(&mask, &mut r.errors)
    };
    let after = link::inspect(&mask).unwrap_or_else(Entry::Other);
    r.link = Some(LinkReport {
        path: mask.path(),
        before: before.code().into(),
        after: after.code().into(),
        changed,
        recorded: state::is_recorded(&mask).unwrap_or(false),
    });
    if let Some(ok) = done_after_link(args, changed, !r.errors.is_empty()) {
        r.ok = ok;
        return r;
    }
    // /run overrides /etc for generators: a mask or a generator there decides.
    match link::inspect(&Mask::run(args.user)) {
        Ok(Entry::Absent) => {}
        Ok(e) if e.masks() != args.undo => {}
        Ok(e) => r.errors.push(format!(
            "{} is {} and overrides {} until the next boot\n  hint: remove it, then run this again",
            Mask::run(args.user).path().display(),
            e.describe(),
            mask.path().display()
        )),
        Err(e) => r.errors.push(e),
    }
    r.managers = if args.user {
        reload_user_managers(&mut r.errors)
    } else {
        vec![reload_and_check(Scope::System, None)]
    };
    let expected = expected_writer(args.undo, r.podman_generator.is_some());
    r.ok = r.errors.is_empty()
        && r.managers
            .iter()
            .all(|m| m.errors.is_empty() && m.containers_generator == expected);
    r
}

/// Whether the link step ends the action, and how: `Some(ok)` to stop there, `None` to go on
/// and reload and check the managers.
fn done_after_link(args: &Args, changed: bool, failed: bool) -> Option<bool> {
    if failed {
        return Some(false);
    }
    if args.root.is_some() {
        return Some(true); // an image tree: its systemd reads the link at its first boot
    }
    if args.recorded && !changed {
        return Some(true); // the recorded link was someone else's by now: nothing to reload
    }
    None
}

/// Make the mask link and record it. A link that cannot be recorded is removed again (the
/// package's removal could not undo it): nothing changes, the error says why.
fn make_link(mask: &Mask, errors: &mut Vec<String>) -> bool {
    match link::create(mask) {
        Ok(true) => match state::record(mask) {
            Ok(()) => true,
            Err(e) => {
                let _ = link::remove(mask);
                errors.push(format!(
                    "cannot record the link in {} ({e}), so removing the package could not \
                     undo it: removed it again, nothing changed",
                    state::path(&mask.root).display()
                ));
                false
            }
        },
        Ok(false) => false,
        Err(e) => {
            errors.push(e);
            false
        }
    }
}

/// Remove the mask link and its record. With `only_recorded` (the package's removal) a
/// recorded link that is no longer a link to /dev/null is someone else's now: its record is
/// dropped, the entry left as it is, and that is no error.
fn undo_link(mask: &Mask, only_recorded: bool, errors: &mut Vec<String>) -> bool {
    let changed = match link::remove(mask) {
        Ok(c) => c,
        Err(e) if only_recorded => {
            log::info!("{e}");
            false
        }
        Err(e) => {
            errors.push(e);
            return false;
        }
    };
    if let Err(e) = state::forget(mask) {
        errors.push(format!(
            "removed the link, but cannot update {}: {e}",
            state::path(&mask.root).display()
        ));
    }
    changed
}

/// Who should generate the containers directories once the action is done.
fn expected_writer(undo: bool, podman_installed: bool) -> &'static str {
    if undo && podman_installed {
        "podman"
    } else {
        "unitsmith"
    }
}

/// Reload one manager (this process's: system, or the user's own) and check its units.
fn reload_and_check(scope: Scope, user: Option<String>) -> ManagerReport {
    let mut m = ManagerReport {
        user,
        reloaded: false,
        containers_generator: String::new(),
        units: Vec::new(),
        errors: Vec::new(),
    };
    let t0 = Instant::now();
    let out = systemctl::daemon_reload(scope);
    m.reloaded = out.success;
    if !out.success {
        m.errors.push(format!(
            "systemctl daemon-reload failed: {}",
            out.stderr.trim()
        ));
        return m;
    }
    log::debug!("daemon-reload took {:.2}s", t0.elapsed().as_secs_f64());
    let user = scope == Scope::User;
    m.containers_generator = match unitsmith_generator::dirs::podman_generator_installed(user) {
        Some(_) => "podman",
        None => "unitsmith",
    }
    .into();
    m.units = check::quadlet_units(scope);
    let own = unitsmith_generator::dirs::own_dirs(user);
    for u in &m.units {
        let expected = expected_for(&u.source, &own, &m.containers_generator);
        if wrong_writer(u.generated_by, expected) {
            m.errors.push(format!(
                "{}: {} is generated by {}, not {}",
                u.source.display(),
                u.unit,
                u.generated_by.label(),
                expected
            ));
        }
    }
    m
}

/// Who should generate an input: unitsmith's own directories (`/etc/unitsmith` & co.) are
/// unitsmith's whoever generates the containers directories, before and after `--undo`.
fn expected_for<'a>(source: &Path, own_dirs: &[PathBuf], containers_generator: &'a str) -> &'a str {
    if own_dirs.iter().any(|d| source.starts_with(d)) {
        "unitsmith"
    } else {
        containers_generator
    }
}

fn wrong_writer(writer: Writer, expected: &str) -> bool {
    match expected {
        "unitsmith" => !writer.is_unitsmith(),
        // Podman writes nothing for a file it cannot translate: that is its way, not ours to
        // fail on; the table shows it.
        _ => writer.is_unitsmith(),
    }
}

/// As each user, for `--user` run by root: reload that user's manager and check it.
fn manager_only(args: &Args) -> Report {
    let mut r = new_report(args);
    if let Err(e) = sd::runtime_dir() {
        r.errors.push(e);
        return r;
    }
    r.podman_generator = podman_generator_in(Path::new("/"), true);
    let me = nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name);
    let m = reload_and_check(Scope::User, me);
    r.ok = m.errors.is_empty()
        && m.containers_generator == expected_writer(args.undo, r.podman_generator.is_some());
    r.managers.push(m);
    r
}

/// Every running user manager (`user@UID.service`), reloaded and checked as its user by this
/// same program, so that the user's own environment decides (its directories, its manager).
fn reload_user_managers(errors: &mut Vec<String>) -> Vec<ManagerReport> {
    let out = systemctl::run(
        Scope::System,
        &[
            "list-units",
            "--type=service",
            "--state=running",
            "--plain",
            "--no-legend",
            "user@*.service",
        ],
    );
    if !out.success {
        errors.push(format!(
            "cannot list the user managers: {}",
            out.stderr.trim()
        ));
        return Vec::new();
    }
    let uids: Vec<u32> = out
        .stdout
        .lines()
        .filter_map(|l| {
            l.split_whitespace()
                .next()?
                .strip_prefix("user@")?
                .strip_suffix(".service")?
                .parse()
                .ok()
        })
        .collect();
    if uids.is_empty() {
        log::info!("no user manager is running: each picks the change up when it starts");
    }
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            errors.push(format!(
                "cannot find this program to run it as each user: {e}"
            ));
            return Vec::new();
        }
    };
    uids.into_iter()
        .filter_map(|uid| as_user(&exe, uid, errors))
        .collect()
}

fn as_user(exe: &Path, uid: u32, errors: &mut Vec<String>) -> Option<ManagerReport> {
    use std::os::unix::process::CommandExt;
    let user = match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(u)) => u,
        _ => {
            errors.push(format!(
                "user@{uid}.service runs, but uid {uid} has no passwd entry"
            ));
            return None;
        }
    };
    let out = Command::new(exe)
        .args(["takeover", "--user", "--manager-only", "--json"])
        .env_clear()
        .env("HOME", &user.dir)
        .env("USER", &user.name)
        .env("LOGNAME", &user.name)
        .env("XDG_RUNTIME_DIR", format!("/run/user/{uid}"))
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .uid(uid)
        .gid(user.gid.as_raw())
        .stdin(Stdio::null())
        .output();
    let report: Option<Report> = out
        .as_ref()
        .ok()
        .and_then(|o| serde_json::from_slice(&o.stdout).ok());
    match report {
        Some(mut rep) if !rep.managers.is_empty() => {
            let mut m = rep.managers.remove(0);
            m.errors.extend(rep.errors);
            m.user = Some(user.name);
            Some(m)
        }
        _ => {
            let why = match out {
                Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
                Err(e) => e.to_string(),
            };
            errors.push(format!(
                "cannot reload the manager of {} (uid {uid}): {why}",
                user.name
            ));
            None
        }
    }
}

/// Our generator must be installed, else masking Podman's would leave the files to nobody.
fn generator_present(root: &Path, user: bool) -> Result<(), String> {
    let dirs: Vec<PathBuf> = sd::generator_dirs(user)
        .iter()
        .map(|d| under(root, d))
        .collect();
    sd::generator_installed(&dirs, sd::generator_names(user)).map(|_| ()).map_err(|e| {
        format!("{e}\n  hint: install unitsmith first (the Quadlet files would be generated by nothing)")
    })
}

/// Podman's generator where it is installed (masked or not), in `root`'s generator directories.
fn podman_generator_in(root: &Path, user: bool) -> Option<PathBuf> {
    let name = link::podman_generator_name(user);
    sd::generator_dirs(user)
        .iter()
        .map(|d| under(root, d).join(name))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.len() > 0))
}

fn under(root: &Path, abs: &Path) -> PathBuf {
    root.join(abs.strip_prefix("/").unwrap_or(abs))
}

fn render_text(r: &Report) -> String {
    let mut out = String::new();
    let verb = if r.action == "undo" {
        "undo"
    } else {
        "takeover"
    };
    if let Some(l) = &r.link {
        let what = match (l.changed, r.action.as_str()) {
            (true, "undo") => "removed".to_string(),
            (true, _) => format!("created -> {}", link::DEV_NULL),
            (false, "takeover") if l.after.starts_with("masked") && !l.recorded => format!(
                "unchanged ({}; not made by takeover: removing the package leaves it)",
                l.after
            ),
            (false, "undo") if l.after != "absent" && !l.recorded => {
                format!("left as it is ({}; not made by takeover)", l.after)
            }
            (false, _) => format!("unchanged ({})", l.after),
        };
        out.push_str(&format!("{verb}: {}: {what}\n", l.path.display()));
    }
    match &r.podman_generator {
        Some(p) => out.push_str(&format!(
            "{verb}: Podman's Quadlet generator: {}\n",
            p.display()
        )),
        None => out.push_str(&format!(
            "{verb}: Podman's Quadlet generator is not installed\n"
        )),
    }
    for m in &r.managers {
        let who = m
            .user
            .as_ref()
            .map(|u| format!("user manager of {u}"))
            .unwrap_or_else(|| "system manager".into());
        out.push_str(&format!(
            "{verb}: {who}: {}; the containers directories are generated by {}\n",
            if m.reloaded {
                "reloaded"
            } else {
                "NOT reloaded"
            },
            if m.containers_generator.is_empty() {
                "?"
            } else {
                &m.containers_generator
            }
        ));
        if !m.units.is_empty() {
            let rows: Vec<Row> = m
                .units
                .iter()
                .map(|u| {
                    let mut row = Row::new(vec![
                        u.unit.clone(),
                        if u.load_state.is_empty() {
                            "?".into()
                        } else {
                            u.load_state.clone()
                        },
                        u.generated_by.label().into(),
                        u.source.display().to_string(),
                    ]);
                    if let Some(e) = &u.stub_error {
                        row.details.push(format!(
                            "{e}\n  see: unitsmith doctor{} {}",
                            if r.scope == "user" { " --user" } else { "" },
                            u.unit
                        ));
                    }
                    row
                })
                .collect();
            out.push_str(&table::render(
                &["UNIT", "LOAD", "GENERATED BY", "SOURCE"],
                &rows,
            ));
        }
        for e in &m.errors {
            out.push_str(&format!("{verb}: error: {e}\n"));
        }
    }
    for e in &r.errors {
        out.push_str(&format!("{verb}: error: {e}\n"));
    }
    let units: usize = r.managers.iter().map(|m| m.units.len()).sum();
    let stubs: usize = r
        .managers
        .iter()
        .flat_map(|m| &m.units)
        .filter(|u| u.generated_by == Writer::UnitsmithStub)
        .count();
    let summary = match (r.ok, r.root.is_some(), r.action.as_str()) {
        (false, _, _) => "FAILED (see the errors above)".to_string(),
        (true, _, "undo")
            if r.managers.is_empty() && r.link.as_ref().is_some_and(|l| !l.changed) =>
        {
            match r.link.as_ref().map(|l| l.after.as_str()) {
                Some("absent") => "nothing to undo".to_string(),
                _ => "nothing takeover made to undo".to_string(),
            }
        }
        (true, true, "undo") => "the image's Podman generator runs at its next boot".to_string(),
        (true, true, _) => {
            "the image's Quadlet files are unitsmith's from its first boot".to_string()
        }
        (true, false, _) => format!(
            "{units} Quadlet input{}, {}{}",
            if units == 1 { "" } else { "s" },
            match r.managers.first().map(|m| m.containers_generator.as_str()) {
                Some("podman") => "generated by Podman's generator again",
                _ => "all generated by unitsmith",
            },
            if stubs > 0 {
                format!(
                    " ({stubs} failure stub{}: see unitsmith doctor)",
                    if stubs == 1 { "" } else { "s" }
                )
            } else {
                String::new()
            }
        ),
    };
    out.push_str(&format!("{verb}: {summary}\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unitsmiths_own_directories_stay_unitsmiths_after_undo() {
        let own = [
            PathBuf::from("/etc/unitsmith"),
            PathBuf::from("/run/unitsmith"),
        ];
        let mine = Path::new("/etc/unitsmith/probe.container");
        let podmans = Path::new("/etc/containers/systemd/web.container");
        assert_eq!(expected_for(mine, &own, "podman"), "unitsmith");
        assert_eq!(expected_for(podmans, &own, "podman"), "podman");
        assert_eq!(expected_for(podmans, &own, "unitsmith"), "unitsmith");
        // A prefix of a name is not the directory.
        let near = Path::new("/etc/unitsmith-old/x.container");
        assert_eq!(expected_for(near, &own, "podman"), "podman");
        assert!(!wrong_writer(Writer::UnitsmithStub, "unitsmith"));
        assert!(wrong_writer(Writer::Podman, "unitsmith"));
        assert!(wrong_writer(Writer::Nobody, "unitsmith"));
        assert!(wrong_writer(Writer::Unitsmith, "podman"));
        assert!(!wrong_writer(Writer::Podman, "podman"));
        // Podman writes nothing for a file it cannot translate: not an error of ours.
        assert!(!wrong_writer(Writer::Nobody, "podman"));
    }

    #[test]
    fn only_a_changed_link_of_this_host_is_followed_by_a_reload() {
        let args = |undo, recorded, root: Option<&str>| Args {
            user: false,
            undo,
            recorded,
            root: root.map(PathBuf::from),
            json: false,
            manager_only: false,
        };
        // Errors end it, failed; an image tree ends with the link; so does `--recorded` when
        // it changed nothing (the record's link was someone else's by then).
        assert_eq!(
            done_after_link(&args(false, false, None), true, true),
            Some(false)
        );
        assert_eq!(
            done_after_link(&args(true, true, None), false, true),
            Some(false)
        );
        assert_eq!(
            done_after_link(&args(false, false, Some("/img")), true, false),
            Some(true)
        );
        assert_eq!(
            done_after_link(&args(true, true, None), false, false),
            Some(true)
        );
        // On this host: a takeover or an undo reloads, changed or not (idempotent, and the
        // check shows who generates what); `--recorded` reloads when it removed the link.
        assert_eq!(
            done_after_link(&args(false, false, None), false, false),
            None
        );
        assert_eq!(
            done_after_link(&args(true, false, None), false, false),
            None
        );
        assert_eq!(done_after_link(&args(true, true, None), true, false), None);
    }

    #[test]
    fn undo_expects_podman_only_where_it_is_installed() {
        assert_eq!(expected_writer(false, true), "unitsmith");
        assert_eq!(expected_writer(true, true), "podman");
        assert_eq!(expected_writer(true, false), "unitsmith");
    }

    #[test]
    fn an_image_tree_gets_the_link_and_nothing_else() {
        let root =
            std::env::temp_dir().join(format!("unitsmith-takeover-img-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let gen = root.join("usr/lib/systemd/system-generators");
        std::fs::create_dir_all(&gen).unwrap();
        let args = |undo| Args {
            user: false,
            undo,
            recorded: false,
            root: Some(root.clone()),
            json: true,
            manager_only: false,
        };
        // No unitsmith-generator in the image: refused, nothing written.
        let r = apply(&args(false));
        assert!(!r.ok);
        assert!(
            r.errors[0].contains("install unitsmith first"),
            "{:?}",
            r.errors
        );
        assert!(!root.join("etc").exists());

        std::fs::write(gen.join("unitsmith-generator"), "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            gen.join("unitsmith-generator"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        let r = apply(&args(false));
        assert!(r.ok, "{:?}", r.errors);
        let link = root.join("etc/systemd/system-generators/podman-system-generator");
        assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("/dev/null"));
        assert!(
            r.link.as_ref().unwrap().recorded,
            "the link takeover made is recorded"
        );
        assert!(
            std::fs::read_to_string(root.join("var/lib/unitsmith/takeover"))
                .unwrap()
                .contains("\n/etc/systemd/system-generators/podman-system-generator\n")
        );
        assert!(render_text(&r).contains("from its first boot"));
        let r = apply(&args(false));
        assert!(r.ok && !r.link.as_ref().unwrap().changed, "idempotent");
        assert!(r.link.as_ref().unwrap().recorded, "still recorded");
        let r = apply(&args(true));
        assert!(r.ok && r.link.as_ref().unwrap().changed);
        assert!(!r.link.as_ref().unwrap().recorded);
        assert!(std::fs::symlink_metadata(&link).is_err());
        assert!(
            !root.join("var/lib/unitsmith/takeover").exists(),
            "nothing recorded, no file"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// What removing the package runs (`--undo --recorded`) removes the link takeover made,
    /// never a mask an administrator made, nor what replaced takeover's link.
    #[test]
    fn undo_recorded_removes_only_what_takeover_made() {
        use std::os::unix::fs::{symlink, PermissionsExt};
        let root = std::env::temp_dir().join(format!(
            "unitsmith-takeover-recorded-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        let gen = root.join("usr/lib/systemd/system-generators");
        std::fs::create_dir_all(&gen).unwrap();
        std::fs::write(gen.join("unitsmith-generator"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(
            gen.join("unitsmith-generator"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        let args = |undo, recorded| Args {
            user: false,
            undo,
            recorded,
            root: Some(root.clone()),
            json: true,
            manager_only: false,
        };
        let link = root.join("etc/systemd/system-generators/podman-system-generator");
        let state = root.join("var/lib/unitsmith/takeover");

        // An administrator's own mask, there before takeover: takeover keeps it unrecorded,
        // and the package's removal leaves it.
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        symlink("/dev/null", &link).unwrap();
        let r = apply(&args(false, false));
        assert!(r.ok && !r.link.as_ref().unwrap().changed, "{:?}", r.errors);
        assert!(!r.link.as_ref().unwrap().recorded);
        assert!(!state.exists());
        assert!(render_text(&r).contains("not made by takeover: removing the package leaves it"));
        let r = apply(&args(true, true));
        assert!(r.ok, "{:?}", r.errors);
        assert!(!r.link.as_ref().unwrap().changed);
        assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("/dev/null"));
        let text = render_text(&r);
        assert!(
            text.contains("left as it is (masked; not made by takeover)"),
            "{text}"
        );
        assert!(text.contains("nothing takeover made to undo"), "{text}");
        std::fs::remove_file(&link).unwrap();

        // Takeover's own link: removed by the package's removal, and its record with it.
        assert!(apply(&args(false, false)).ok);
        assert!(state.exists());
        let r = apply(&args(true, true));
        assert!(r.ok && r.link.as_ref().unwrap().changed, "{:?}", r.errors);
        assert!(std::fs::symlink_metadata(&link).is_err());
        assert!(!state.exists());
        let r = apply(&args(true, true));
        assert!(
            r.ok && !r.link.as_ref().unwrap().changed,
            "again: nothing to do"
        );

        // A plain --undo refuses what is not a mask (and says so); --recorded does not judge
        // what it did not make.
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::fs::write(&link, "#!/bin/sh\n").unwrap();
        let r = apply(&args(true, false));
        assert!(!r.ok);
        assert!(r.errors[0].contains("not ours to remove"), "{:?}", r.errors);
        std::fs::remove_file(&link).unwrap();

        // Takeover's link replaced by an administrator's generator of that name: left as it
        // is, the record dropped, no error (the removal must go on).
        assert!(apply(&args(false, false)).ok);
        std::fs::remove_file(&link).unwrap();
        std::fs::write(&link, "#!/bin/sh\n").unwrap();
        let r = apply(&args(true, true));
        assert!(r.ok, "{:?}", r.errors);
        assert!(!r.link.as_ref().unwrap().changed);
        assert_eq!(std::fs::read_to_string(&link).unwrap(), "#!/bin/sh\n");
        assert!(
            !state.exists(),
            "the record of a link that is gone is dropped"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// `--json` parses, starts with the schema and has exactly the fields
    /// unitsmith-takeover(1) documents (every list filled, so every field shows).
    #[test]
    fn json_carries_the_documented_fields() {
        let mut r = new_report(&Args {
            user: true,
            undo: false,
            recorded: false,
            root: None,
            json: true,
            manager_only: false,
        });
        r.link = Some(LinkReport {
            path: "/etc/systemd/user-generators/podman-user-generator".into(),
            before: "absent".into(),
            after: "masked".into(),
            changed: true,
            recorded: true,
        });
        r.podman_generator = Some("/usr/lib/systemd/user-generators/podman-user-generator".into());
        r.managers.push(ManagerReport {
            user: Some("alice".into()),
            reloaded: true,
            containers_generator: "unitsmith".into(),
            units: vec![UnitRow {
                unit: "web.service".into(),
                source: "/home/alice/.config/containers/systemd/web.container".into(),
                generated_by: Writer::UnitsmithStub,
                load_state: "loaded".into(),
                stub_error: Some("web.container:2: unsupported key 'Imag'".into()),
            }],
            errors: vec!["user@1000.service: reload failed".into()],
        });
        r.errors.push("uid 1001 has no passwd entry".into());
        let mut out = Vec::new();
        serde_json::to_writer(&mut out, &r).unwrap();
        let json = String::from_utf8(out).unwrap();
        assert!(
            json.contains(r#""generated_by":"unitsmith-stub""#),
            "{json}"
        );
        crate::json::fields::check_against_page(&json, "unitsmith-takeover.1", true);
    }
}

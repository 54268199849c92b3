//! Man pages that cannot drift from the command line (tests only; `make man` rewrites them).
//!
//! Each command's page in man/ is hand-written except its SYNOPSIS and OPTIONS sections,
//! which sit between `BEGIN GENERATED`/`END GENERATED` comments and are rendered here from
//! the clap definitions: OPTIONS by clap_mangen (each option's text is its doc comment, the
//! very text `--help` prints), SYNOPSIS by `synopsis` below (clap_mangen's leaves out option
//! values and repetition). The test renders them again and fails when a page differs;
//! `UPDATE_MAN=1` (`make man`) writes them instead.

use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction, Command, CommandFactory};
use clap_mangen::Man;
use roff::{bold, italic, roman, Inline, Roff};

/// Each command's page, and the path of subcommand names to it.
pub const PAGES: &[(&str, &[&str])] = &[
    ("unitsmith.1", &[]),
    ("unitsmith-envgate.1", &["envgate"]),
    ("unitsmith-reload.1", &["reload"]),
    ("unitsmith-doctor.1", &["doctor"]),
    ("unitsmith-lock.1", &["lock"]),
    ("unitsmith-reconcile.1", &["reconcile"]),
    ("unitsmith-lint.1", &["lint"]),
    ("unitsmith-takeover.1", &["takeover"]),
    ("unitsmith-podman-version.1", &["podman-version"]),
];

pub fn man_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../man")
}

/// The command at `path`, built (global options propagated, bin names set).
fn command(path: &[&str]) -> Command {
    let mut cmd = crate::Cli::command();
    cmd.build();
    for name in path {
        cmd = cmd
            .find_subcommand(name)
            .unwrap_or_else(|| panic!("no subcommand {name}"))
            .clone();
    }
    cmd
}

fn visible_subcommands(cmd: &Command) -> Vec<&Command> {
    cmd.get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .collect()
}

fn is_help_or_version(a: &Arg) -> bool {
    matches!(
        a.get_action(),
        ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version
    )
}

/// One synopsis line: the name, then each option (`[--timeout TIME]`, `[--restart UNIT]...`)
/// and operand (`[UNIT...]`, `COMMAND...`). Options every command takes (`-v`, `-q`, help)
/// are left to the OPTIONS section, except on the top-level page.
fn synopsis_line(cmd: &Command, top: bool) -> Vec<Inline> {
    let name = cmd.get_bin_name().unwrap_or(cmd.get_name()).to_string();
    let mut line = vec![bold(name)];
    let shown =
        |a: &&Arg| !a.is_hide_set() && !is_help_or_version(a) && (top || !a.is_global_set());
    for a in cmd
        .get_arguments()
        .filter(|a| !a.is_positional())
        .filter(shown)
    {
        let flag = match (a.get_long(), a.get_short()) {
            (Some(l), _) if !top || a.get_short().is_none() => format!("--{l}"),
            (_, Some(s)) => format!("-{s}"),
            (Some(l), None) => format!("--{l}"),
            (None, None) => continue,
        };
        let required = a.is_required_set();
        line.push(roman(if required { " " } else { " [" }));
        line.push(bold(flag));
        if a.get_num_args().is_some_and(|n| n.takes_values()) {
            line.push(roman(" "));
            line.push(italic(value_name(a)));
        }
        if !required {
            line.push(roman("]"));
        }
        if matches!(a.get_action(), ArgAction::Append | ArgAction::Count) {
            line.push(roman("..."));
        }
    }
    for a in cmd.get_positionals().filter(shown) {
        let many = a.get_num_args().is_some_and(|n| n.max_values() > 1);
        let required = a.is_required_set();
        line.push(roman(if required { " " } else { " [" }));
        line.push(italic(value_name(a)));
        if many {
            line.push(roman("..."));
        }
        if !required {
            line.push(roman("]"));
        }
    }
    if top && cmd.has_subcommands() {
        line.push(roman(" "));
        line.push(italic("COMMAND"));
        line.push(roman(" ["));
        line.push(italic("ARGS"));
        line.push(roman("...]"));
    }
    line
}

fn value_name(a: &Arg) -> String {
    a.get_value_names()
        .map(|v| v.join(" "))
        .unwrap_or_else(|| a.get_id().as_str().to_uppercase())
}

/// The SYNOPSIS section of the page for `path`: one line per form.
pub fn synopsis(path: &[&str]) -> String {
    let cmd = command(path);
    let mut r = Roff::new();
    r.control("SH", ["SYNOPSIS"]);
    let subs = visible_subcommands(&cmd);
    if path.is_empty() || subs.is_empty() {
        r.text(synopsis_line(&cmd, path.is_empty()));
    } else {
        for (i, s) in subs.iter().enumerate() {
            if i > 0 {
                r.control("br", []);
            }
            r.text(synopsis_line(s, false));
        }
    }
    r.to_roff()
}

/// clap_mangen's definition of the apostrophe string, which it repeats in every rendering.
const PREAMBLE: &str = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";

fn render_options(cmd: Command) -> String {
    let mut out = Vec::new();
    Man::new(cmd)
        .render_options_section(&mut out)
        .expect("render to memory");
    let text = String::from_utf8(out).expect("roff is text");
    text.replace(PREAMBLE, "")
}

/// The OPTIONS section of the page for `path`. A command with subcommands gets one
/// subsection each, then one for the options they all take.
pub fn options(path: &[&str]) -> String {
    let cmd = command(path);
    let subs = visible_subcommands(&cmd);
    if path.is_empty() || subs.is_empty() {
        return format!("{PREAMBLE}{}", render_options(cmd));
    }
    let mut out = String::from(PREAMBLE);
    out.push_str(".SH OPTIONS\n");
    let common: Vec<String> = subs[0]
        .get_arguments()
        .filter(|a| a.is_global_set() || is_help_or_version(a))
        .map(|a| a.get_id().to_string())
        .collect();
    for s in &subs {
        let mut own = (*s).clone();
        for id in &common {
            own = own.mut_arg(id, |a| a.hide(true));
        }
        let name = s.get_bin_name().unwrap_or(s.get_name()).to_string();
        out.push_str(&format!(".SS \"{name}\"\n"));
        out.push_str(render_options(own).trim_start_matches(".SH OPTIONS\n"));
    }
    // The options every subcommand takes, once.
    let mut every = subs[0].clone();
    let own: Vec<String> = every
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .filter(|id| !common.contains(id))
        .collect();
    for id in &own {
        every = every.mut_arg(id, |a| a.hide(true));
    }
    out.push_str(".SS \"Every command\"\n");
    out.push_str(render_options(every).trim_start_matches(".SH OPTIONS\n"));
    out
}

/// Replace the lines between `.\" BEGIN GENERATED NAME` and `.\" END GENERATED NAME` with
/// `body`. Err: the markers are missing.
pub fn splice(page: &str, name: &str, body: &str) -> Result<String, String> {
    let begin = format!(".\\\" BEGIN GENERATED {name}");
    let end = format!(".\\\" END GENERATED {name}\n");
    let b = page.find(&begin).ok_or(format!("no `{begin}` line"))?;
    let body_start = b + page[b..].find('\n').ok_or("unterminated marker")? + 1;
    let e = page[body_start..]
        .find(&end)
        .ok_or(format!("no `{}` line", end.trim_end()))?
        + body_start;
    Ok(format!("{}{body}{}", &page[..body_start], &page[e..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every page's SYNOPSIS and OPTIONS are what the clap definitions give now.
    #[test]
    fn man_pages_follow_the_clap_definitions() {
        let update = std::env::var_os("UPDATE_MAN").is_some();
        let mut stale = Vec::new();
        for (page, path) in PAGES {
            let file = man_dir().join(page);
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let new = splice(&text, "SYNOPSIS", &synopsis(path))
                .and_then(|t| splice(&t, "OPTIONS", &options(path)))
                .unwrap_or_else(|e| panic!("{page}: {e}"));
            if new != text {
                if update {
                    std::fs::write(&file, &new).unwrap();
                    eprintln!("rewrote {}", file.display());
                } else {
                    stale.push(*page);
                }
            }
        }
        assert!(
            stale.is_empty(),
            "man pages whose SYNOPSIS or OPTIONS no longer match the clap definitions: {stale:?}; \
             run `make man` and review the diff"
        );
    }

    /// One page per command, each in the overview's COMMANDS and SEE ALSO.
    #[test]
    fn every_command_has_its_page_in_the_overview() {
        let cli = command(&[]);
        let commands: Vec<&str> = visible_subcommands(&cli)
            .iter()
            .map(|c| c.get_name())
            .collect();
        let paged: Vec<&str> = PAGES
            .iter()
            .filter_map(|(_, p)| p.first().copied())
            .collect();
        assert_eq!(
            commands, paged,
            "PAGES lists every command, in --help's order"
        );
        let overview = std::fs::read_to_string(man_dir().join("unitsmith.1")).unwrap();
        for c in commands {
            assert!(
                overview.contains(&format!(".TP\n.B {c}\n")),
                "unitsmith(1) COMMANDS lacks {c}"
            );
            assert!(
                overview.contains(&format!(".BR unitsmith\\-{c} (1)")),
                "unitsmith(1) SEE ALSO lacks unitsmith-{c}(1)"
            );
        }
    }

    /// What `man -l` would warn about: groff with every warning on (and mandoc's checker too,
    /// where it is installed), for every page in man/.
    #[test]
    fn pages_render_without_warnings() {
        let mut pages: Vec<PathBuf> = std::fs::read_dir(man_dir())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x.len() == 1))
            .collect();
        pages.sort();
        assert!(pages.len() >= 10, "{pages:?}");
        let mut complaints = Vec::new();
        for page in &pages {
            let groff = std::process::Command::new("groff")
                .args(["-ww", "-man", "-Tutf8", "-z"])
                .arg(page)
                .output()
                .expect("groff (Debian: groff-base) renders man pages: install it");
            let said = String::from_utf8_lossy(&groff.stderr).into_owned();
            if !groff.status.success() || !said.is_empty() {
                complaints.push(format!("groff {}: {said}", page.display()));
            }
            match std::process::Command::new("mandoc")
                .args(["-T", "lint", "-W", "warning"])
                .arg(page)
                .output()
            {
                Ok(o) if !o.status.success() || !o.stdout.is_empty() => complaints.push(format!(
                    "mandoc {}: {}{}",
                    page.display(),
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                )),
                Ok(_) => {}
                Err(_) => {
                    eprintln!("SKIPPED: mandoc -T lint (mandoc not installed); groff checked")
                }
            }
        }
        assert!(complaints.is_empty(), "{}", complaints.join("\n"));
    }

    #[test]
    fn splices_between_markers_only() {
        let page = "a\n.\\\" BEGIN GENERATED X: note\nold\n.\\\" END GENERATED X\nb\n";
        assert_eq!(
            splice(page, "X", "new\n").unwrap(),
            "a\n.\\\" BEGIN GENERATED X: note\nnew\n.\\\" END GENERATED X\nb\n"
        );
        assert!(splice(page, "Y", "").is_err());
    }

    #[test]
    fn synopsis_shows_values_repetition_and_operands() {
        let s = synopsis(&["reload"]);
        assert!(
            s.starts_with(".SH SYNOPSIS\n\\fBunitsmith reload\\fR [\\fB\\-\\-user\\fR]"),
            "{s}"
        );
        assert!(s.contains("[\\fB\\-\\-restart\\fR \\fIUNIT\\fR]..."), "{s}");
        assert!(s.contains("[\\fIUNIT\\fR...]"), "{s}");
        assert!(!s.contains("verbose") && !s.contains("help"), "{s}");
        let s = synopsis(&["lock"]);
        assert!(
            s.contains(" \\fICOMMAND\\fR..."),
            "required operand, no brackets: {s}"
        );
    }
}

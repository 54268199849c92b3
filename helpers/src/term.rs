//! Terminal manners, decided once at start-up: colour only where a person reads it (stdout a
//! terminal, `NO_COLOR` unset; anstream decides, with the rules clap's own `--help` follows:
//! `TERM=dumb` and `CLICOLOR=0` turn it off, `CLICOLOR_FORCE=1` on), and `--quiet`, for
//! scripts: no report when all went well, errors only in the log, no progress line.

use std::sync::atomic::{AtomicBool, Ordering};

use anstyle::{AnsiColor, Style};

static QUIET: AtomicBool = AtomicBool::new(false);
static COLOR: AtomicBool = AtomicBool::new(false);

/// Called once by `main`. Until then (unit tests): no colour, not quiet.
pub fn init(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
    let choice = anstream::AutoStream::choice(&std::io::stdout());
    COLOR.store(choice != anstream::ColorChoice::Never, Ordering::Relaxed);
}

pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Colour on stdout.
pub fn color() -> bool {
    COLOR.load(Ordering::Relaxed)
}

/// Print a command's text report on stdout; with `--quiet`, only when something is wrong
/// (`ok` false): then the report is what says what.
pub fn print_report(text: &str, ok: bool) {
    if !(quiet() && ok) {
        print!("{text}");
    }
}

/// Status words, as they start a STATUS or RESULT cell, and their colour.
const STATUS_WORDS: &[(&str, AnsiColor, bool)] = &[
    ("NOT REPAIRED", AnsiColor::Red, true),
    ("error", AnsiColor::Red, true),
    ("warning", AnsiColor::Yellow, false),
    ("would repair", AnsiColor::Yellow, false),
    ("repaired", AnsiColor::Green, false),
    ("ok", AnsiColor::Green, false),
];

/// `cell` with its leading status word coloured, when stdout takes colour.
pub fn paint_status(cell: &str) -> String {
    paint_status_if(color(), cell)
}

fn paint_status_if(on: bool, cell: &str) -> String {
    if !on {
        return cell.to_string();
    }
    for (word, colour, bold) in STATUS_WORDS {
        let Some(rest) = cell.strip_prefix(word) else {
            continue;
        };
        // The whole word only: `ok (active/running)`, `error: ...`, not `okay`.
        if !(rest.is_empty() || rest.starts_with([' ', ':'])) {
            continue;
        }
        let mut style = Style::new().fg_color(Some((*colour).into()));
        if *bold {
            style = style.bold();
        }
        return format!("{}{word}{}{rest}", style.render(), style.render_reset());
    }
    cell.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paints_the_leading_status_word_only() {
        assert_eq!(
            paint_status_if(false, "error: failure stub"),
            "error: failure stub"
        );
        assert_eq!(
            paint_status_if(true, "error: failure stub"),
            "\x1b[1m\x1b[31merror\x1b[0m: failure stub"
        );
        assert_eq!(
            paint_status_if(true, "ok (active/running)"),
            "\x1b[32mok\x1b[0m (active/running)"
        );
        assert_eq!(paint_status_if(true, "okay"), "okay");
        assert_eq!(paint_status_if(true, "-"), "-");
        assert!(paint_status_if(true, "NOT REPAIRED: x").starts_with("\x1b[1m\x1b[31mNOT REPAIRED"));
    }

    #[test]
    fn off_until_main_decides() {
        assert!(!color());
        assert_eq!(paint_status("error"), "error");
    }
}

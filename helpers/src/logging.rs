//! The helpers' one logger: `log` records, filtered and written by `env_logger`, in our own
//! format: stderr lines with sd-daemon `<N>` priority prefixes when stderr goes to the journal
//! (so journald records the level), plain `unitsmith: level: msg` on a terminal. Secrets never
//! reach it: callers log key names, never values.
//!
//! How much is logged: `--quiet` (errors only) or `-v` (debug) when given; else `RUST_LOG`
//! (env_logger's syntax, `debug` or `unitsmith::reload=debug`) over the level
//! `SYSTEMD_LOG_LEVEL` names (as the generator reads it); else info.

use std::io::Write;

use env_logger::{Builder, Target};
use log::{Level, LevelFilter};

/// What the command line asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verbosity {
    /// `--quiet`: errors only.
    Quiet,
    Normal,
    /// `-v`: debug messages too.
    Verbose,
}

/// Install the logger (once, before any command runs).
pub fn init(verbosity: Verbosity) {
    let rust_log = std::env::var("RUST_LOG").ok();
    let mut b = builder(
        stderr_is_journal(),
        verbosity,
        rust_log.as_deref(),
        systemd_level(),
    );
    let _ = b.try_init();
}

/// The logger for these settings (separate from `init` so tests can look at its filter).
fn builder(
    journal: bool,
    verbosity: Verbosity,
    rust_log: Option<&str>,
    systemd: Option<LevelFilter>,
) -> Builder {
    let mut b = Builder::new();
    b.target(Target::Stderr);
    b.format(move |buf, r| {
        buf.write_all(render(journal, r.level(), &r.args().to_string()).as_bytes())
    });
    match verbosity {
        Verbosity::Quiet => {
            b.filter_level(LevelFilter::Error);
        }
        Verbosity::Verbose => {
            b.filter_level(LevelFilter::Debug);
        }
        Verbosity::Normal => {
            // RUST_LOG's directives go over the default: `unitsmith::reload=debug` adds
            // debug for one module and keeps info for the rest.
            b.filter_level(systemd.unwrap_or(LevelFilter::Info));
            if let Some(spec) = rust_log.filter(|s| !s.trim().is_empty()) {
                b.parse_filters(spec);
            }
        }
    }
    b
}

/// `SYSTEMD_LOG_LEVEL` (a name or a number), read as the generator reads it.
fn systemd_level() -> Option<LevelFilter> {
    use unitsmith_generator::log::{level_from_env, Level as Sd};
    Some(match level_from_env()? {
        Sd::Error => LevelFilter::Error,
        Sd::Warning => LevelFilter::Warn,
        Sd::Notice | Sd::Info => LevelFilter::Info,
        Sd::Debug => LevelFilter::Debug,
    })
}

/// One record as text: every line of the message gets its own prefix, so a multi-line
/// message keeps its level in the journal.
fn render(journal: bool, level: Level, msg: &str) -> String {
    let mut out = String::with_capacity(msg.len() + 24);
    for line in msg.lines() {
        if journal {
            out.push_str(&format!("<{}>{line}\n", priority(level)));
        } else {
            out.push_str(&format!(
                "unitsmith: {}: {line}\n",
                level.as_str().to_lowercase()
            ));
        }
    }
    out
}

/// syslog priorities, as sd-daemon(3) prefixes.
fn priority(l: Level) -> u8 {
    match l {
        Level::Error => 3,
        Level::Warn => 4,
        Level::Info => 6,
        Level::Debug | Level::Trace => 7,
    }
}

/// systemd sets `JOURNAL_STREAM=DEV:INODE` for a service whose stderr is the journal. A child
/// that redirected stderr (to a file, a pipe) inherits the variable, so compare it with what
/// stderr really is, as sd_journal_stream_fd(3) advises.
fn stderr_is_journal() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Some(v) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = v.to_str().and_then(|s| s.split_once(':')) else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    match std::fs::metadata("/proc/self/fd/2") {
        Ok(m) => m.dev() == dev && m.ino() == ino,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use log::Log;

    #[test]
    fn formats_as_before_on_a_terminal_and_in_the_journal() {
        assert_eq!(
            render(false, Level::Warn, "a\nb"),
            "unitsmith: warn: a\nunitsmith: warn: b\n"
        );
        assert_eq!(render(true, Level::Error, "x"), "<3>x\n");
        assert_eq!(render(true, Level::Info, "one\ntwo"), "<6>one\n<6>two\n");
        assert_eq!(render(true, Level::Debug, "d"), "<7>d\n");
    }

    /// Would the logger built from these settings write `level` for `target`?
    fn on(
        v: Verbosity,
        rust_log: Option<&str>,
        sd: Option<LevelFilter>,
        target: &str,
        level: Level,
    ) -> bool {
        let logger = builder(false, v, rust_log, sd).build();
        logger.enabled(&log::Metadata::builder().level(level).target(target).build())
    }

    #[test]
    fn flags_then_rust_log_then_systemd_log_level() {
        use Verbosity::*;
        let r = "unitsmith::reload";
        let d = "unitsmith::doctor";
        assert!(on(Normal, None, None, r, Level::Info));
        assert!(!on(Normal, None, None, r, Level::Debug));
        assert!(on(Normal, Some("debug"), None, r, Level::Debug));
        // A module directive adds to the default, it does not silence the rest.
        let only_reload = Some("unitsmith::reload=debug");
        assert!(on(Normal, only_reload, None, r, Level::Debug));
        assert!(on(Normal, only_reload, None, d, Level::Info));
        assert!(!on(Normal, only_reload, None, d, Level::Debug));
        assert!(on(Normal, None, Some(LevelFilter::Debug), r, Level::Debug));
        assert!(!on(Normal, None, Some(LevelFilter::Error), r, Level::Warn));
        assert!(on(
            Normal,
            Some("info"),
            Some(LevelFilter::Error),
            r,
            Level::Info
        ));
        // The command line wins.
        let all = Some(LevelFilter::Debug);
        assert!(!on(Quiet, Some("debug"), all, r, Level::Warn));
        assert!(on(Quiet, None, None, r, Level::Error));
        assert!(on(Verbose, Some("error"), None, r, Level::Debug));
    }
}

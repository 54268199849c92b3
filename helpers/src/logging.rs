//! The helpers' one logger: stderr lines with sd-daemon `<N>` priority prefixes when stderr
//! goes to the journal (so journald records the level), plain `unitsmith: level: msg` on a
//! terminal. Secrets never reach it: callers log key names, never values.

use log::{Level, LevelFilter, Log, Metadata, Record};
use std::io::Write;

struct Logger {
    journal: bool,
}

impl Log for Logger {
    fn enabled(&self, m: &Metadata) -> bool {
        m.level() <= log::max_level()
    }

    fn log(&self, r: &Record) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let msg = r.args().to_string();
        let mut err = std::io::stderr().lock();
        for line in msg.lines() {
            let _ = if self.journal {
                writeln!(err, "<{}>{line}", priority(r.level()))
            } else {
                writeln!(
                    err,
                    "unitsmith: {}: {line}",
                    r.level().as_str().to_lowercase()
                )
            };
        }
    }

    fn flush(&self) {}
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

/// Install the logger. `verbose` adds debug messages; `SYSTEMD_LOG_LEVEL=debug` too.
pub fn init(verbose: bool) {
    let journal = stderr_is_journal();
    let debug =
        verbose || std::env::var("SYSTEMD_LOG_LEVEL").is_ok_and(|v| v == "debug" || v == "7");
    let _ = log::set_boxed_logger(Box::new(Logger { journal }));
    log::set_max_level(if debug {
        LevelFilter::Debug
    } else {
        LevelFilter::Info
    });
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

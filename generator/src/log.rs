//! The generator's logger: `/dev/kmsg` at boot (the only log a generator has), stderr otherwise.
//!
//! Lines read `unitsmith-generator[PID]: message`, with a kernel priority prefix on kmsg so the
//! journal records the level. `SYSTEMD_LOG_LEVEL` (name or number) and `-v` set the threshold.

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::Mutex;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error = 3,
    Warning = 4,
    Notice = 5,
    Info = 6,
    Debug = 7,
}

struct Sink {
    kmsg: Option<std::fs::File>,
    max: Level,
    ident: String,
}

static SINK: Mutex<Option<Sink>> = Mutex::new(None);

/// Set up logging. `use_kmsg` false sends everything to stderr.
pub fn init(ident: &str, use_kmsg: bool, max: Level) {
    let kmsg = if use_kmsg {
        OpenOptions::new().write(true).open("/dev/kmsg").ok()
    } else {
        None
    };
    let sink = Sink {
        kmsg,
        max,
        ident: format!("{ident}[{}]", std::process::id()),
    };
    if let Ok(mut s) = SINK.lock() {
        *s = Some(sink);
    }
}

/// The level named by `SYSTEMD_LOG_LEVEL`, if it names one.
pub fn level_from_env() -> Option<Level> {
    let v = std::env::var("SYSTEMD_LOG_LEVEL").ok()?;
    Some(match v.trim().to_ascii_lowercase().as_str() {
        "emerg" | "alert" | "crit" | "err" | "error" | "0" | "1" | "2" | "3" => Level::Error,
        "warning" | "warn" | "4" => Level::Warning,
        "notice" | "5" => Level::Notice,
        "info" | "6" => Level::Info,
        "debug" | "7" => Level::Debug,
        _ => return None,
    })
}

pub fn enabled(level: Level) -> bool {
    match SINK.lock() {
        Ok(s) => s
            .as_ref()
            .map_or(level <= Level::Notice, |s| level <= s.max),
        Err(_) => false,
    }
}

pub fn log(level: Level, msg: &str) {
    let Ok(mut guard) = SINK.lock() else { return };
    let Some(sink) = guard.as_mut() else {
        eprintln!("unitsmith-generator: {msg}");
        return;
    };
    if level > sink.max {
        return;
    }
    for line in msg.lines() {
        // A `\r` or an escape sequence from a file name must not rewrite what a terminal or
        // `dmesg` shows: control characters are written escaped, as in units.
        let line = crate::unitfile::line_safe::escape(line);
        let mut sent = false;
        if let Some(k) = sink.kmsg.as_mut() {
            // One write is one kernel record; the priority prefix sets its level.
            let rec = format!("<{}>{}: {}\n", level as u8, sink.ident, line);
            sent = k.write_all(rec.as_bytes()).is_ok();
            if !sent {
                sink.kmsg = None;
            }
        }
        if !sent {
            let _ = writeln!(std::io::stderr(), "{}: {}", sink.ident, line);
        }
    }
}

#[macro_export]
macro_rules! log_error { ($($t:tt)*) => { $crate::log::log($crate::log::Level::Error, &format!($($t)*)) } }
#[macro_export]
macro_rules! log_warn { ($($t:tt)*) => { $crate::log::log($crate::log::Level::Warning, &format!($($t)*)) } }
#[macro_export]
macro_rules! log_info { ($($t:tt)*) => { $crate::log::log($crate::log::Level::Info, &format!($($t)*)) } }
#[macro_export]
macro_rules! log_debug { ($($t:tt)*) => { if $crate::log::enabled($crate::log::Level::Debug) { $crate::log::log($crate::log::Level::Debug, &format!($($t)*)) } } }

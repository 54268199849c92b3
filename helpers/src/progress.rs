//! A progress line on stderr while a command waits, so that a person at a terminal knows what
//! it waits for: `reload: waiting for systemctl daemon-reload (3s)`. Only on a terminal (never
//! in the journal, a pipe or a file), never with `--quiet`, and only once a wait has lasted a
//! second: a fast step shows nothing. The line is wiped when the wait ends, before anything
//! else is printed. It is drawn by a thread of its own, so a wait needs no change to show it.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a wait lasts before the line appears.
pub const DELAY: Duration = Duration::from_secs(1);

type Out = Box<dyn Write + Send>;

struct State {
    /// What we wait for, and since when.
    what: Option<(String, Instant)>,
    /// Characters on screen (0: nothing drawn).
    drawn: usize,
    stop: bool,
    out: Out,
}

impl State {
    /// Wipe the line (spaces, not escape codes: every terminal understands them).
    fn clear(&mut self) {
        if self.drawn > 0 {
            let _ = write!(self.out, "\r{}\r", " ".repeat(self.drawn));
            let _ = self.out.flush();
            self.drawn = 0;
        }
    }
}

pub struct Progress {
    shared: Option<Arc<(Mutex<State>, Condvar)>>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// The line for command `name`, on stderr when stderr is a terminal and neither `--quiet`
    /// nor debug logging (whose lines say what happens, and would run into the line) is on;
    /// otherwise a `Progress` that does nothing.
    pub fn stderr(name: &'static str) -> Progress {
        let debug = log::max_level() >= log::LevelFilter::Debug;
        if crate::term::quiet() || debug || !std::io::stderr().is_terminal() {
            return Progress::off();
        }
        Progress::to(name, Box::new(std::io::stderr()), DELAY)
    }

    pub fn off() -> Progress {
        Progress {
            shared: None,
            thread: None,
        }
    }

    /// The line on `out`, shown once a wait has lasted `delay`.
    pub fn to(name: &'static str, out: Out, delay: Duration) -> Progress {
        let shared = Arc::new((
            Mutex::new(State {
                what: None,
                drawn: 0,
                stop: false,
                out,
            }),
            Condvar::new(),
        ));
        let s = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || draw_loop(name, &s, delay))
            .ok();
        Progress {
            shared: Some(shared),
            thread,
        }
    }

    /// A wait for `what` starts now (ending any other).
    pub fn waiting(&self, what: impl Into<String>) {
        self.with(|s| {
            s.clear();
            s.what = Some((what.into(), Instant::now()));
        });
    }

    /// The same wait goes on, described anew (`3 units to be loaded` → `1 unit ...`).
    pub fn still_waiting(&self, what: impl Into<String>) {
        self.with(|s| {
            let since = s.what.as_ref().map_or_else(Instant::now, |w| w.1);
            s.what = Some((what.into(), since));
        });
    }

    /// The wait is over: the line goes.
    pub fn done(&self) {
        self.with(|s| {
            s.what = None;
            s.clear();
        });
    }

    fn with(&self, f: impl FnOnce(&mut State)) {
        if let Some(shared) = &self.shared {
            if let Ok(mut s) = shared.0.lock() {
                f(&mut s);
            }
            shared.1.notify_all();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.with(|s| {
            s.stop = true;
            s.what = None;
            s.clear();
        });
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn draw_loop(name: &str, shared: &(Mutex<State>, Condvar), delay: Duration) {
    let Ok(mut s) = shared.0.lock() else { return };
    let mut last = String::new();
    loop {
        if s.stop {
            return;
        }
        if let Some((what, since)) = &s.what {
            let waited = since.elapsed();
            if waited >= delay {
                let line = format!("{name}: waiting for {what} ({}s)", waited.as_secs());
                if line != last || s.drawn == 0 {
                    // Pad over a longer line drawn before.
                    let width = line.chars().count();
                    let pad = s.drawn.saturating_sub(width);
                    let _ = write!(s.out, "\r{line}{}", " ".repeat(pad));
                    let _ = s.out.flush();
                    s.drawn = width + pad;
                    last = line;
                }
            }
        }
        s = match shared.1.wait_timeout(s, Duration::from_millis(100)) {
            Ok((g, _)) => g,
            Err(_) => return,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer tests can read back.
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Buf {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    #[test]
    fn shows_a_long_wait_names_it_and_wipes_it() {
        let buf = Buf::default();
        let p = Progress::to("reload", Box::new(buf.clone()), Duration::from_millis(150));
        p.waiting("systemctl daemon-reload");
        std::thread::sleep(Duration::from_millis(450));
        let shown = buf.text();
        assert!(
            shown.starts_with("\rreload: waiting for systemctl daemon-reload (0s)"),
            "{shown:?}"
        );
        p.done();
        let after = buf.text();
        let n = "reload: waiting for systemctl daemon-reload (0s)".len();
        assert!(
            after.ends_with(&format!("\r{}\r", " ".repeat(n))),
            "{after:?}"
        );
        drop(p);
        assert_eq!(buf.text(), after, "nothing more once done");
    }

    #[test]
    fn a_short_wait_shows_nothing() {
        let buf = Buf::default();
        let p = Progress::to("reload", Box::new(buf.clone()), Duration::from_millis(300));
        p.waiting("systemctl daemon-reload");
        std::thread::sleep(Duration::from_millis(50));
        p.done();
        p.waiting("2 units to be loaded");
        std::thread::sleep(Duration::from_millis(50));
        drop(p);
        assert_eq!(buf.text(), "");
    }
}

//! Reading a file that could be anything, as every input, drop-in and unit file is: the
//! generator runs at boot and a read that blocks (a FIFO, a socket, a terminal) or never ends
//! (a huge file, `/dev/zero`) would take the boot down with it.
//!
//! - Only regular files are read. An entry the directory listing does not show as one (a
//!   symlink, a FIFO, a device ...) is looked at with `stat` first, so a device is never even
//!   opened: opening some has effects (opening a watchdog device arms it).
//! - Every open is `O_NONBLOCK | O_NOCTTY`, then `fstat` of what was opened: a FIFO swapped in
//!   after the listing cannot block the open or the read, and is refused.
//! - A file over [`MAX_BYTES`] is refused from its size before a byte of it is read, and no
//!   read goes past the limit whatever the size said (files in `/proc` say 0).

use std::fs::{Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The largest input, drop-in or unit file read, in bytes: Quadlet files are a few
/// kilobytes; a file hundreds of times larger is a mistake, and reading it whole at boot
/// could push a small machine into the OOM killer.
pub const MAX_BYTES: u64 = 1 << 20;

use nix::libc::{O_NOCTTY, O_NOFOLLOW, O_NONBLOCK};

/// Why a file was not read.
#[derive(Debug)]
pub enum Refused {
    /// Not a regular file: what it is (`a FIFO (named pipe)`, `a directory` ...).
    NotRegular(&'static str),
    /// Larger than [`MAX_BYTES`]: its size (or the limit plus one, when it grew while read).
    TooLarge(u64),
    /// Over the run's limits (see `budget.rs`): why.
    OverBudget(String),
    /// Someone it must not be from could have written it (see `trust.rs`): why, and the fix.
    Untrusted(String),
    Io(io::Error),
}

impl Refused {
    /// The message for `path` (one line, no path) and a hint, if one helps.
    pub fn describe(&self, path: &Path) -> (String, Option<String>) {
        match self {
            Refused::NotRegular(what) => {
                let through = std::fs::read_link(path)
                    .map(|t| format!(" (through the symlink to {})", t.display()))
                    .unwrap_or_default();
                let hint = match *what {
                    "a directory" => "rename it: a directory named like an input is not one (inputs in it are still read, as in any subdirectory)",
                    _ => "replace it with a regular file (a symlink to one is fine), or remove it",
                };
                (
                    format!("not read: {what}{through}, not a regular file; unitsmith reads only regular files (reading anything else could block the boot)"),
                    Some(hint.into()),
                )
            }
            Refused::TooLarge(size) => (
                format!("not read: {size} bytes, over the limit of {MAX_BYTES} bytes (1 MiB) for one input, drop-in or unit file"),
                Some("Quadlet files are a few kilobytes: check that this is the intended file; keep large content in files it refers to (e.g. EnvironmentFile=)".into()),
            ),
            Refused::Untrusted(why) => (why.clone(), None),
            Refused::OverBudget(why) => (
                why.clone(),
                Some("look for unusually large or many files among the inputs; `unitsmith doctor` lists them".into()),
            ),
            Refused::Io(e) if e.kind() == io::ErrorKind::NotFound => {
                match std::fs::read_link(path) {
                    Ok(t) => (
                        format!("not read: a symlink to {}, which does not exist", t.display()),
                        Some("fix or remove the symlink".into()),
                    ),
                    Err(_) => (format!("cannot read: {e}"), None),
                }
            }
            Refused::Io(e) if e.kind() == io::ErrorKind::PermissionDenied => (
                format!("cannot read: {e}"),
                Some("make it readable by the generator (root for the system manager, the user for --user)".into()),
            ),
            Refused::Io(e) => (format!("cannot read: {e}"), None),
        }
    }
}

impl From<io::Error> for Refused {
    fn from(e: io::Error) -> Refused {
        Refused::Io(e)
    }
}

/// What `meta` shows when it is not a regular file (`None` for one).
pub(crate) fn kind_of(meta: &Metadata) -> Option<&'static str> {
    let t = meta.file_type();
    Some(if t.is_file() {
        return None;
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "a special file"
    })
}

/// Read `path` and give its bytes to `f`. `listed_regular`: the directory listing showed a
/// regular file (no `stat` is needed before opening it). Files up to 2 KiB, most Quadlet
/// files, are read into a stack buffer: no heap allocation.
pub fn with_contents<R>(
    path: &Path,
    listed_regular: bool,
    f: impl FnOnce(&[u8]) -> R,
) -> Result<R, Refused> {
    with_contents_admitted(path, listed_regular, |_| Ok(()), f)
}

/// [`with_contents`], reading only when `admit(size)` agrees (the run's byte allowance).
pub fn with_contents_admitted<R>(
    path: &Path,
    listed_regular: bool,
    admit: impl FnOnce(&Metadata) -> Result<(), Refused>,
    f: impl FnOnce(&[u8]) -> R,
) -> Result<R, Refused> {
    read_opened(path, listed_regular, 0, admit, f)
}

/// [`with_contents_admitted`], opening with `extra` flags too (`O_NOFOLLOW`).
fn read_opened<R>(
    path: &Path,
    listed_regular: bool,
    extra: i32,
    admit: impl FnOnce(&Metadata) -> Result<(), Refused>,
    f: impl FnOnce(&[u8]) -> R,
) -> Result<R, Refused> {
    if !listed_regular {
        // Look before opening: a device is never opened.
        if let Some(what) = kind_of(&std::fs::metadata(path)?) {
            return Err(Refused::NotRegular(what));
        }
    }
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(O_NONBLOCK | O_NOCTTY | extra)
        .open(path)?;
    let meta = file.metadata()?;
    if let Some(what) = kind_of(&meta) {
        return Err(Refused::NotRegular(what));
    }
    let size = meta.len();
    if size > MAX_BYTES {
        return Err(Refused::TooLarge(size));
    }
    admit(&meta)?;
    let mut head = [0u8; 2048];
    if size > 0 && size < head.len() as u64 {
        // The size is known: read exactly that (no extra read to find the end).
        let want = size as usize;
        let got = read_up_to(&mut file, &mut head[..want])?;
        return Ok(f(&head[..got]));
    }
    // Larger, or a size of 0 that may not be true (`/proc`): read up to the limit plus one.
    let mut data = Vec::with_capacity((size as usize).max(head.len()) + 1);
    (&mut file).take(MAX_BYTES + 1).read_to_end(&mut data)?;
    if data.len() as u64 > MAX_BYTES {
        return Err(Refused::TooLarge(data.len() as u64));
    }
    Ok(f(&data))
}

/// [`with_contents`] of an input the generator acts on: only while the run has time left,
/// and only a file that `owner` allows and the run's byte allowance holds, both judged on
/// the opened file before a byte of it is read. Every input goes through here (Quadlet
/// files, drop-ins, env gates, Compose files and what they name), so none escapes a limit.
/// For root ([`Owner::Root`](crate::trust::Owner)), the path is walked first (see `walk.rs`:
/// every directory and link on the way root's, no kernel file system) and the file is then
/// opened with `O_NOFOLLOW`.
pub fn input_contents<R>(
    path: &Path,
    listed_regular: bool,
    budget: &crate::budget::Budget,
    owner: crate::trust::Owner,
    f: impl FnOnce(&[u8]) -> R,
) -> Result<R, Refused> {
    budget.check_time("read").map_err(Refused::OverBudget)?;
    let walked;
    let (path, listed_regular, extra) = match owner {
        crate::trust::Owner::Anyone => (path, listed_regular, 0),
        crate::trust::Owner::Root => {
            walked = budget.paths().file(path, listed_regular)?;
            // What is not a regular file was refused by the walk, before it was opened.
            (walked.as_path(), true, O_NOFOLLOW)
        }
    };
    read_opened(
        path,
        listed_regular,
        extra,
        |meta| {
            owner.check(meta).map_err(Refused::Untrusted)?;
            budget.take_bytes(meta.len()).map_err(Refused::OverBudget)
        },
        f,
    )
}

/// Read until `buf` is full or the file ends.
fn read_up_to(file: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while let Some(free) = buf.get_mut(filled..).filter(|f| !f.is_empty()) {
        match file.read(free) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// [`with_contents`] into a vector (for callers that keep the bytes).
pub fn read(path: &Path) -> Result<Vec<u8>, Refused> {
    with_contents(path, false, |b| b.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn tmp(name: &str) -> std::path::PathBuf {
        let d =
            std::env::temp_dir().join(format!("unitsmith-safe-read-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn mkfifo(path: &Path) {
        let ok = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mkfifo {}", path.display());
    }

    /// `f` on another thread; panics when it has not returned within 5 s (it blocked).
    fn within_5s<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(f()));
        rx.recv_timeout(Duration::from_secs(5))
            .expect("blocked: no answer within 5 s")
    }

    /// A FIFO, directly or through a symlink, and even when the caller was told it is a
    /// regular file (swapped in after the listing), is refused at once.
    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let d = tmp("fifo");
        let fifo = d.join("x.container");
        mkfifo(&fifo);
        let link = d.join("link.container");
        std::os::unix::fs::symlink(&fifo, &link).unwrap();
        for (p, listed) in [(&fifo, false), (&fifo, true), (&link, false), (&link, true)] {
            let path = p.clone();
            match within_5s(move || with_contents(&path, listed, |_| ()).err()) {
                Some(Refused::NotRegular(what)) => assert!(what.contains("FIFO"), "{what}"),
                other => panic!("{} (listed {listed}): {other:?}", p.display()),
            }
        }
        let (msg, _) = Refused::NotRegular("a FIFO (named pipe)").describe(&link);
        assert!(msg.contains("through the symlink to"), "{msg}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// What the listing does not show as a regular file is never opened: a writer waiting
    /// on a FIFO (which an open for reading would release) stays blocked.
    #[test]
    fn a_special_file_is_not_even_opened() {
        let d = tmp("not-opened");
        let fifo = d.join("x.container");
        mkfifo(&fifo);
        let (tx, rx) = std::sync::mpsc::channel();
        let writer_path = fifo.clone();
        std::thread::spawn(move || {
            let opened = std::fs::OpenOptions::new().write(true).open(&writer_path);
            let _ = tx.send(opened.is_ok());
        });
        std::thread::sleep(Duration::from_millis(50));
        assert!(matches!(read(&fifo), Err(Refused::NotRegular(_))));
        assert!(
            rx.recv_timeout(Duration::from_millis(300)).is_err(),
            "the FIFO was opened (its writer was released)"
        );
        // Release the writer (and prove the check above could see it).
        let _reader = std::fs::File::open(&fifo).unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(true));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn devices_and_directories_are_refused() {
        assert!(matches!(
            read(Path::new("/dev/null")),
            Err(Refused::NotRegular("a character device"))
        ));
        assert!(matches!(
            read(Path::new("/")),
            Err(Refused::NotRegular("a directory"))
        ));
        // /dev/zero would never end: it is not even opened.
        assert!(matches!(
            read(Path::new("/dev/zero")),
            Err(Refused::NotRegular(_))
        ));
    }

    #[test]
    fn sizes_at_and_over_the_limit() {
        let d = tmp("size");
        let at = d.join("at.container");
        std::fs::write(&at, vec![b'#'; MAX_BYTES as usize]).unwrap();
        assert_eq!(read(&at).unwrap().len() as u64, MAX_BYTES);
        let over = d.join("over.container");
        std::fs::write(&over, vec![b'#'; MAX_BYTES as usize + 1]).unwrap();
        assert!(matches!(read(&over), Err(Refused::TooLarge(n)) if n == MAX_BYTES + 1));
        for n in [0usize, 1, 2047, 2048, 2049, 5000] {
            let p = d.join(format!("{n}.container"));
            let data: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
            std::fs::write(&p, &data).unwrap();
            assert_eq!(
                with_contents(&p, true, |b| b.to_vec()).unwrap(),
                data,
                "{n} bytes"
            );
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// A link swapped in after the walk resolved the path (root's reads pass `O_NOFOLLOW`) is
    /// not followed, even when the listing showed a regular file.
    #[test]
    fn a_link_is_not_followed_where_none_may_be() {
        let d = tmp("nofollow");
        let real = d.join("real.container");
        std::fs::write(&real, "[Container]\n").unwrap();
        let link = d.join("link.container");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let r = read_opened(&link, true, O_NOFOLLOW, |_| Ok(()), |b| b.to_vec());
        assert!(
            matches!(&r, Err(Refused::Io(e)) if e.raw_os_error() == Some(nix::libc::ELOOP)),
            "{r:?}"
        );
        // Without the flag (a user manager's reads), the link is followed.
        let r = read_opened(&link, true, 0, |_| Ok(()), |b| b.to_vec());
        assert_eq!(r.unwrap(), b"[Container]\n");
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// A small input is read in one go into a buffer of its size: an interrupted read is
    /// retried, a short one read on, and an error is the error, not what was read so far.
    #[test]
    fn small_reads_retry_and_fail_as_they_should() {
        struct Script(Vec<io::Result<&'static [u8]>>);
        impl Read for Script {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                match self.0.remove(0) {
                    Ok(b) => {
                        buf[..b.len()].copy_from_slice(b);
                        Ok(b.len())
                    }
                    Err(e) => Err(e),
                }
            }
        }
        let mut buf = [0u8; 6];
        let interrupted = || Err(io::Error::from(io::ErrorKind::Interrupted));
        let mut r = Script(vec![Ok(b"ab"), interrupted(), Ok(b"cd"), Ok(b"")]);
        assert_eq!(read_up_to(&mut r, &mut buf).unwrap(), 4);
        assert_eq!(&buf[..4], b"abcd");
        let mut r = Script(vec![Ok(b"abc"), Ok(b"def")]);
        assert_eq!(read_up_to(&mut r, &mut buf).unwrap(), 6);
        let mut r = Script(vec![Ok(b"ab"), Err(io::Error::other("EIO"))]);
        assert_eq!(read_up_to(&mut r, &mut buf).unwrap_err().to_string(), "EIO");
    }

    /// Each refusal says what it was, with the hint that fits it.
    #[test]
    fn refusals_say_what_and_how_to_fix() {
        let d = tmp("describe");
        let link = d.join("dangling.container");
        std::os::unix::fs::symlink("missing.container", &link).unwrap();
        let nf = || Refused::Io(io::Error::from(io::ErrorKind::NotFound));
        let (msg, hint) = nf().describe(&link);
        assert_eq!(
            msg,
            "not read: a symlink to missing.container, which does not exist"
        );
        assert_eq!(hint.as_deref(), Some("fix or remove the symlink"));
        let (msg, hint) = nf().describe(&d.join("gone.container"));
        assert!(msg.starts_with("cannot read: "), "{msg}");
        assert_eq!(hint, None);
        let denied = Refused::Io(io::Error::from(io::ErrorKind::PermissionDenied));
        let (msg, hint) = denied.describe(&link);
        assert!(
            msg.starts_with("cannot read: ") && !msg.contains("symlink"),
            "{msg}"
        );
        assert!(hint.unwrap().contains("make it readable by the generator"));
        let other = Refused::Io(io::Error::other("boom"));
        assert_eq!(
            other.describe(&link),
            ("cannot read: boom".to_string(), None)
        );
        let (_, hint) = Refused::NotRegular("a directory").describe(&d);
        assert!(hint.unwrap().starts_with("rename it"));
        let (_, hint) = Refused::NotRegular("a socket").describe(&d);
        assert!(hint.unwrap().starts_with("replace it with a regular file"));
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// `/proc` files say they are empty: they are still read, up to the limit.
    #[test]
    fn files_that_lie_about_their_size_are_read_to_the_end() {
        let data = read(Path::new("/proc/self/status")).unwrap();
        assert!(String::from_utf8_lossy(&data).contains("Pid:"));
    }
}

//! Writing generated units into the directory systemd hands the generator.
//!
//! The directory is opened once ([`OutputDir`]); every file, `.wants/` (`.requires/`, ...)
//! directory and link is made relative to it (`openat`, `mkdirat`, `symlinkat`, `unlinkat`),
//! one component at a time, never following a link, and a name with an empty, `.` or `..`
//! component is refused: whatever a name says (an input's, a Compose project's), nothing is
//! written, made or removed outside the directory. Files are created with `O_EXCL`: another
//! generator's unit of the same name is a collision to report, never something to overwrite.
//! No fsync: the output is on tmpfs (/run) and is rebuilt at every boot and reload.
//!
//! systemd hands a generator three directories (systemd.generator(7)): the normal one, below
//! `/etc/systemd/system` and `/run/systemd/system` but above the vendor's
//! `/usr/lib/systemd/system` (and `/usr/local/lib`, `/lib`), an early one above `/etc`, and a
//! late one below every unit directory (`systemd-analyze unit-paths` lists them in order).
//! Units go to the normal one, as Quadlet's do. The failure stub of an input another user may
//! have put there (`Generated::untrusted`) goes to the late one, without any link: a user
//! who names a file `ssh.container` in a directory of theirs gets a failing `ssh.service`
//! only where no unit file of that name exists, never in place of the vendor's ([`Outputs`]).

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use crate::generate::Generated;

/// The directories units go to, held open: see the module comment.
pub struct Outputs {
    normal: OutputDir,
    /// `None`: called with one directory, for tests, which systemd.generator(7) says stands
    /// for all three; the normal one is used.
    late: Option<OutputDir>,
}

impl Outputs {
    /// The normal directory and, when given, the late one.
    pub fn new(normal: OutputDir, late: Option<OutputDir>) -> Outputs {
        Outputs { normal, late }
    }

    /// Where the units of root's own inputs go.
    pub fn normal(&self) -> &OutputDir {
        &self.normal
    }

    /// Where a unit goes: the late directory for one of an input root does not trust.
    pub fn for_unit(&self, untrusted: bool) -> &OutputDir {
        match (untrusted, &self.late) {
            (true, Some(late)) => late,
            _ => &self.normal,
        }
    }
}

/// A directory units go to, held open.
pub struct OutputDir {
    fd: OwnedFd,
    path: PathBuf,
    /// Its subdirectories made or opened so far (`multi-user.target.wants` ...): most units'
    /// links go to the same few.
    subdirs: Mutex<HashMap<String, Arc<OwnedFd>>>,
}

/// The directory a relative output path goes to.
enum Parent {
    Top,
    Sub(Arc<OwnedFd>),
    /// Deeper than one level (an `Alias=` with a directory in it): opened for this use only.
    Deep(OwnedFd),
}

impl OutputDir {
    /// Open `path` (the directory systemd gave, which exists).
    pub fn open(path: &Path) -> io::Result<OutputDir> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        Ok(OutputDir {
            // SAFETY: open returned a new descriptor that nothing else owns.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            path: path.to_path_buf(),
            subdirs: Mutex::default(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn raw(&self, parent: &Parent) -> i32 {
        match parent {
            Parent::Top => self.fd.as_raw_fd(),
            Parent::Sub(fd) => fd.as_raw_fd(),
            Parent::Deep(fd) => fd.as_raw_fd(),
        }
    }

    /// The directory of `rel` and its last component, the directories on the way made when
    /// missing (`create`). Refused: an absolute name, or one with an empty, `.` or `..`
    /// component.
    fn parent<'r>(&self, rel: &'r str, create: bool) -> io::Result<(Parent, &'r str)> {
        let mut parts: Vec<&str> = rel.split('/').collect();
        if parts
            .iter()
            .any(|p| p.is_empty() || *p == "." || *p == "..")
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a name inside the output directory (an empty, '.' or '..' component)",
            ));
        }
        let name = parts.pop().unwrap_or_default();
        match parts.as_slice() {
            [] => Ok((Parent::Top, name)),
            [dir] => {
                if let Some(fd) = self.subdirs.lock().ok().and_then(|m| m.get(*dir).cloned()) {
                    return Ok((Parent::Sub(fd), name));
                }
                let fd = Arc::new(subdir(&self.fd, dir, create)?);
                if let Ok(mut m) = self.subdirs.lock() {
                    m.insert(dir.to_string(), Arc::clone(&fd));
                }
                Ok((Parent::Sub(fd), name))
            }
            [first, rest @ ..] => {
                let mut fd = subdir(&self.fd, first, create)?;
                for d in rest {
                    fd = subdir(&fd, d, create)?;
                }
                Ok((Parent::Deep(fd), name))
            }
        }
    }

    /// Create the file `rel` holding `text` (never overwriting: see the module comment).
    fn create(&self, rel: &str, text: &str) -> io::Result<()> {
        let (parent, name) = self.parent(rel, true)?;
        let fd = nix::fcntl::openat(
            Some(self.raw(&parent)),
            name,
            OFlag::O_WRONLY
                | OFlag::O_CREAT
                | OFlag::O_EXCL
                | OFlag::O_NOFOLLOW
                | OFlag::O_CLOEXEC
                | OFlag::O_NOCTTY,
            // As a plain create: what the umask leaves of rw-rw-rw-.
            Mode::from_bits_truncate(0o666),
        )?;
        // SAFETY: openat returned a new descriptor that nothing else owns.
        unsafe { File::from_raw_fd(fd) }.write_all(text.as_bytes())
    }

    /// Make the link `rel` → `target`, replacing a link or file of that name (Quadlet
    /// replaces an existing link: several inputs may share a target's .wants/); never a
    /// directory.
    fn symlink_replacing(&self, target: &str, rel: &str) -> io::Result<()> {
        let (parent, name) = self.parent(rel, true)?;
        let at = Some(self.raw(&parent));
        match nix::unistd::symlinkat(target, at, name) {
            Err(Errno::EEXIST) => {
                let _ = nix::unistd::unlinkat(at, name, nix::unistd::UnlinkatFlags::NoRemoveDir);
                nix::unistd::symlinkat(target, at, name).map_err(io::Error::from)
            }
            r => r.map_err(io::Error::from),
        }
    }

    /// Whether `rel` exists (as anything), not following a link.
    fn exists(&self, rel: &str) -> bool {
        self.parent(rel, false).is_ok_and(|(parent, name)| {
            nix::sys::stat::fstatat(
                Some(self.raw(&parent)),
                name,
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .is_ok()
        })
    }
}

/// The directory `name` in `at`, opened without following a link; made (0777 less the
/// umask, as `mkdir` does) when missing and `create`.
fn subdir(at: &OwnedFd, name: &str, create: bool) -> io::Result<OwnedFd> {
    let open = || {
        nix::fcntl::openat(
            Some(at.as_raw_fd()),
            name,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
    };
    let fd = match open() {
        Err(Errno::ENOENT) if create => {
            match nix::sys::stat::mkdirat(
                Some(at.as_raw_fd()),
                name,
                Mode::from_bits_truncate(0o777),
            ) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(e.into()),
            }
            open()?
        }
        r => r?,
    };
    // SAFETY: openat returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Write one unit and its `TARGET.wants/` (`.requires/`, `.upholds/`) links (the generator's
/// sink: called from worker threads as units become final), in the directory that `out` has
/// for it. Missing subdirectories are made on the way. One message per failure. Other links
/// (`Alias=`) wait for [`settle_links`]: they may name another unit's file. A unit of an
/// input root does not trust gets no link at all, whatever it asks for.
pub fn write_unit(out: &Outputs, u: &Generated) -> Result<(), String> {
    let dir = out.for_unit(u.untrusted);
    let mut errors: Vec<String> = Vec::new();
    if let Err(e) = write_text(dir, u) {
        errors.push(e);
    }
    let links = u.symlinks.iter().filter(|_| !u.untrusted);
    for (link, target) in links.filter(|(l, _)| is_dependency_link(l)) {
        if let Err(e) = symlink_replacing(dir, target, link) {
            errors.push(e);
        }
    }
    match errors.is_empty() {
        true => Ok(()),
        false => Err(errors.join("\n")),
    }
}

fn write_text(dir: &OutputDir, u: &Generated) -> Result<(), String> {
    TEXT.with_borrow_mut(|text| {
        text.clear();
        u.write_text(text);
        dir.create(&u.name, text).map_err(|e| {
            let path = dir.path.join(&u.name);
            match e.kind() {
                io::ErrorKind::AlreadyExists => format!(
                    "{}: already exists (written by another generator?); not overwritten",
                    path.display()
                ),
                _ => format!("{}: cannot write: {e}", path.display()),
            }
        })
    })
}

thread_local! {
    /// The text of the unit being written: one buffer per thread, reused for every unit.
    static TEXT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// A link in a target's `.wants/`, `.requires/` or `.upholds/` directory: never the name of
/// a unit file or of a drop-in directory, so it can be made while other units are written.
fn is_dependency_link(link: &str) -> bool {
    link.rsplit_once('/').is_some_and(|(dir, _)| {
        !dir.contains('/')
            && [".wants", ".requires", ".upholds"]
                .iter()
                .any(|s| dir.ends_with(s))
    })
}

/// Make the links [`write_unit`] left, once every unit file is written: aliases, and links
/// that several units claim (made by their threads in whatever order they ran). The last
/// claim in unit order wins, as in Quadlet, and an alias replaces a unit file of its name.
/// One message per failure. (In the normal directory: units of untrusted inputs have none.)
pub fn settle_links(out: &Outputs, units: &[Generated]) -> Vec<String> {
    let dir = out.normal();
    let units = || units.iter().filter(|u| !u.untrusted);
    let n = units().map(|u| u.symlinks.len()).sum();
    let mut claims: HashMap<&str, (&str, usize)> = HashMap::with_capacity(n);
    let mut order: Vec<&str> = Vec::with_capacity(n);
    for u in units() {
        for (link, target) in &u.symlinks {
            let claim = claims.entry(link).or_insert_with(|| {
                order.push(link);
                (target, 0)
            });
            *claim = (target, claim.1 + 1);
        }
    }
    let mut errors = Vec::new();
    for link in order {
        let Some(&(target, n)) = claims.get(link) else {
            continue;
        };
        if n > 1 || !is_dependency_link(link) {
            if let Err(e) = symlink_replacing(dir, target, link) {
                errors.push(e);
            }
        }
    }
    errors
}

/// [`OutputDir::symlink_replacing`], its failure as a message.
fn symlink_replacing(dir: &OutputDir, target: &str, link: &str) -> Result<(), String> {
    dir.symlink_replacing(target, link).map_err(|e| {
        format!(
            "{}: cannot create symlink: {e}",
            dir.path.join(link).display()
        )
    })
}

/// The unit `input` is meant to give, from its name alone (for stubs made without reading
/// it); `None` when no valid unit name can be made of it.
pub fn unit_name_of(input: &crate::sources::Input) -> Option<String> {
    let name = match input.kind {
        crate::sources::InputKind::EnvGate => crate::envgate::service_name(&input.name),
        crate::sources::InputKind::Quadlet(_) => {
            crate::quadlet::service_name_from_filename(&input.name)? + ".service"
        }
        // The stub of a project that could not be read (its services are not known).
        crate::sources::InputKind::Compose => crate::compose::unread_name(input) + ".service",
    };
    match crate::unitname::check(&name) {
        Ok(()) => Some(name),
        Err(_) => Some(crate::unitname::mangle(name.as_bytes()))
            .filter(|m| crate::unitname::check(m).is_ok()),
    }
}

/// A failure stub, failing with `why`, for every input of `inputs` that has no unit in its
/// directory yet (the watchdog's last act: see `watchdog.rs`). Returns how many were written
/// and the inputs left without a unit (no valid name, or the stub could not be written).
pub fn write_missing_stubs(
    out: &Outputs,
    inputs: &[crate::sources::Input],
    why: &str,
) -> (usize, Vec<String>) {
    let (mut written, mut left) = (0, Vec::new());
    for input in inputs {
        let dir = out.for_unit(input.untrusted);
        let path = crate::badname::shown_path(&input.path);
        if input.kind == crate::sources::InputKind::Compose && has_unit_from(&dir.path, &input.path)
        {
            continue;
        }
        let Some(name) = unit_name_of(input) else {
            left.push(path);
            continue;
        };
        let error = format!("{path}: {why}");
        let stub = Generated {
            unit: crate::stub::failure_stub(&name, &input.path, &error, None),
            name,
            source: input.path.clone(),
            error: Some(error),
            symlinks: Vec::new(),
            untrusted: input.untrusted,
        };
        match write_text(dir, &stub) {
            Ok(()) => written += 1,
            // Written already (O_EXCL): the unit is there, real or stub.
            Err(_) if dir.exists(&stub.name) => {}
            Err(_) => left.push(path),
        }
    }
    (written, left)
}

/// Whether `dir` holds a unit made from `source` already. A Compose project's units are
/// named after its services and its `name:`, which are not known without reading it again
/// (the very read that may hang): they are found by their `SourcePath=` instead.
fn has_unit_from(dir: &Path, source: &Path) -> bool {
    let line = format!("SourcePath={}", source.to_string_lossy());
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .any(|e| {
            // Our own output (regular files just written), so a plain read is safe.
            fs::read_to_string(e.path()).is_ok_and(|text| text.lines().any(|l| l == line))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unitfile::UnitFile;

    fn unit(name: &str, links: &[(&str, &str)]) -> Generated {
        Generated {
            name: name.to_string(),
            unit: UnitFile::new(name),
            source: name.into(),
            error: None,
            symlinks: (links.iter())
                .map(|(l, t)| (l.to_string(), t.to_string()))
                .collect(),
            untrusted: false,
        }
    }

    /// `dir` for every unit, as when the generator is given one directory.
    fn one_dir(dir: &Path) -> Outputs {
        Outputs::new(OutputDir::open(dir).unwrap(), None)
    }

    /// The watchdog's stubs go exactly where no unit is yet, under each input's unit name.
    #[test]
    fn missing_stubs_fill_only_the_gaps() {
        use crate::sources::{Input, InputKind};
        let dir = std::env::temp_dir().join(format!("unitsmith-stubs-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("done.service"), "# the real unit\n").unwrap();
        let kind = InputKind::Quadlet(crate::quadlet::Kind::Container);
        let inputs: Vec<Input> = [
            "done.container",
            "hung.container",
            "sp ace.container",
            "@.container",
        ]
        .iter()
        .map(|n| Input::at(Path::new("/in").join(n), kind))
        .chain([Input::at(
            "/in/db.volume".into(),
            InputKind::Quadlet(crate::quadlet::Kind::Volume),
        )])
        .collect();
        let out = one_dir(&dir);
        let (written, left) = write_missing_stubs(&out, &inputs, "not generated: timed out");
        assert_eq!(written, 3, "hung, sp ace, db");
        assert_eq!(left, vec!["/in/@.container".to_string()]);
        assert_eq!(
            fs::read_to_string(dir.join("done.service")).unwrap(),
            "# the real unit\n"
        );
        for stub in ["hung.service", "sp\\x20ace.service", "db-volume.service"] {
            let text = fs::read_to_string(dir.join(stub)).unwrap();
            assert!(text.contains("not generated: timed out"), "{stub}: {text}");
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A Compose project with units written already gets no stub; one without gets the stub
    /// of a project that could not be read (`NAME.service`).
    #[test]
    fn missing_stubs_of_compose_projects() {
        use crate::sources::InputKind;
        let dir = std::env::temp_dir().join(format!("unitsmith-cstubs-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let done = Path::new("/in/compose/done/compose.yaml");
        // Named after its name: key, not its directory.
        fs::write(
            dir.join("other-web.service"),
            format!("[Unit]\nSourcePath={}\n", done.display()),
        )
        .unwrap();
        let inputs = [
            crate::compose::input(done.to_path_buf()).unwrap(),
            crate::compose::input("/in/compose/Hung/compose.yaml".into()).unwrap(),
        ];
        assert!(inputs.iter().all(|i| i.kind == InputKind::Compose));
        let out = one_dir(&dir);
        let (written, left) = write_missing_stubs(&out, &inputs, "not generated: timed out");
        assert_eq!((written, left), (1, Vec::<String>::new()));
        assert!(!dir.join("done.service").exists());
        let stub = fs::read_to_string(dir.join("hung.service")).unwrap();
        assert!(
            stub.contains("compose/Hung/compose.yaml: not generated: timed out"),
            "{stub}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Threads may write two claimants of a link in either order; settling gives it to the
    /// later unit, and makes the aliases that writing left out.
    #[test]
    fn settling_gives_contested_links_to_the_later_unit() {
        let dir = std::env::temp_dir().join(format!("unitsmith-out-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let link = "multi-user.target.wants/t@x.service";
        let first = unit("t@.service", &[(link, "../t@.service")]);
        let later = unit(
            "t@x.service",
            &[(link, "../t@x.service"), ("alias.service", "t@x.service")],
        );
        // The later unit written first: its link is then replaced by the earlier unit's.
        let out = one_dir(&dir);
        write_unit(&out, &later).unwrap();
        write_unit(&out, &first).unwrap();
        assert_eq!(
            fs::read_link(dir.join(link)).unwrap(),
            Path::new("../t@.service")
        );
        assert!(fs::symlink_metadata(dir.join("alias.service")).is_err());
        let errors = settle_links(&out, &[first, later]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            fs::read_link(dir.join(link)).unwrap(),
            Path::new("../t@x.service")
        );
        assert_eq!(
            fs::read_link(dir.join("alias.service")).unwrap(),
            Path::new("t@x.service")
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Whatever a name says, nothing is written, made or removed outside the directory: a
    /// unit, a `.wants/` directory and links named with `..` are refused (a Compose project
    /// named `../x` once made root write all three next to the output directory), and a
    /// link planted where a `.wants/` directory goes is not followed.
    #[test]
    fn names_cannot_leave_the_output_directory() {
        let base = std::env::temp_dir().join(format!("unitsmith-out-esc-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let dir = base.join("out");
        fs::create_dir_all(&dir).unwrap();
        fs::create_dir_all(base.join("elsewhere")).unwrap();
        fs::write(base.join("victim.target"), "precious\n").unwrap();
        let out = one_dir(&dir);
        for name in [
            "../x.target",
            "a/../../x.service",
            "/abs.service",
            "a//b.service",
            ".",
        ] {
            let u = unit(name, &[]);
            let e = write_unit(&out, &u).unwrap_err();
            assert!(
                e.contains("not a name inside the output directory"),
                "{name}: {e}"
            );
        }
        let escaping = unit(
            "ok.target",
            &[
                ("../victim.target", "ok.target"),
                ("../x.target.wants/a.service", "../a.service"),
                ("multi-user.target.wants/../../victim.target", "x"),
            ],
        );
        let errors = settle_links(&out, std::slice::from_ref(&escaping));
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert_eq!(
            fs::read_to_string(base.join("victim.target")).unwrap(),
            "precious\n"
        );
        assert!(!base.join("x.target").exists() && !base.join("x.target.wants").exists());
        // A link where a .wants/ directory goes (only root could plant one here; still, the
        // writer never goes through it).
        std::os::unix::fs::symlink(base.join("elsewhere"), dir.join("evil.target.wants")).unwrap();
        let u = unit(
            "a.service",
            &[("evil.target.wants/a.service", "../a.service")],
        );
        assert!(write_unit(&out, &u).is_err());
        assert_eq!(fs::read_dir(base.join("elsewhere")).unwrap().count(), 0);
        assert!(dir.join("a.service").is_file());
        fs::remove_dir_all(&base).unwrap();
    }
}

//! The Podman release the generator generates for.
//!
//! Units call podman with flags; a flag the installed podman lacks fails the unit at start
//! ("unknown flag"). So the generator needs the release of the podman the units will run
//! (`/usr/bin/podman`, or `PODMAN`), found without ever running it: the generator runs at every
//! boot and daemon-reload, and a program it starts could hang the boot. It is, in this order:
//!
//! 1. `UNITSMITH_PODMAN_VERSION` (e.g. `4.3.1`): set by tests, or by hand.
//! 2. The record ([`RECORD`]) that `unitsmith podman-version --record` writes (run by the
//!    package when it is installed and whenever a package changes `/usr/bin/podman`, and by
//!    `unitsmith reload` and `takeover` when the record is missing or stale): the release
//!    `podman --version` printed, with the binary's size and modification time. It counts only
//!    while the binary still has both: a new podman is unknown until it is recorded again.
//!    (Not the device and inode: an image copied to a disk, or an overlay, changes them.)
//! 3. Otherwise unknown: the release whose Quadlet the generator matches ([`MATCHED`]) is
//!    assumed, and a debug message says so.
//!
//! Reading the version out of the binary without running it was tried and is not possible:
//! Debian's Podman 4.3.1 holds "4.3.1" only among Go's unterminated string constants and no
//! version in its build information (built in GOPATH mode); the package databases are not
//! generic (dpkg's, rpm's) and cost a read of megabytes at boot.
//!
//! Cost: one `stat` of the binary and one read of a one-line file per run.

use std::fmt;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::OnceLock;

/// `UNITSMITH_PODMAN_VERSION`: the release to generate for, whatever is installed.
pub const ENV: &str = "UNITSMITH_PODMAN_VERSION";
/// `UNITSMITH_PODMAN_RECORD`: another record file (tests).
pub const RECORD_ENV: &str = "UNITSMITH_PODMAN_RECORD";
/// Where `unitsmith podman-version --record` keeps what it found.
pub const RECORD: &str = "/var/lib/unitsmith/podman-version";
/// The podman generated units call when `PODMAN` does not name one.
pub const DEFAULT_BINARY: &str = "/usr/bin/podman";

/// The release whose Quadlet this generator matches: the output for it is that Quadlet's.
pub const MATCHED: PodmanVersion = match PodmanVersion::parse_const(crate::quadlet_of_podman!()) {
    Some(v) => v,
    None => panic!("quadlet_of_podman! is not a version"),
};

/// A Podman release, `MAJOR.MINOR.PATCH`. A suffix (`6.0.0-dev`, `5.0.0-rc1`) is not part of
/// the comparison: a development build of 6.0 has what 6.0.0 has, as far as the generator is
/// concerned (the Quadlet of Podman's main branch calls itself 6.0.0-dev).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PodmanVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl PodmanVersion {
    pub const fn new(major: u32, minor: u32, patch: u32) -> PodmanVersion {
        PodmanVersion {
            major,
            minor,
            patch,
        }
    }

    /// `4.3.1`, `v4.3.1`, `4.3` (patch 0), `6.0.0-dev`, `4.3.1+ds1-8+deb12u1` (a Debian
    /// version), or podman's own `podman version 4.3.1`. `None` for anything else.
    pub fn parse(text: &str) -> Option<PodmanVersion> {
        let text = text.trim();
        let text = text.strip_prefix("podman version ").unwrap_or(text);
        let text = text.strip_prefix('v').unwrap_or(text);
        // The version is the leading digits-and-dots; what follows must not be more digits.
        let end = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let (numbers, rest) = text.split_at(end);
        if !(rest.is_empty() || rest.starts_with(['-', '+', '~'])) {
            return None;
        }
        let mut parts = numbers.split('.');
        let mut next = |required: bool| match parts.next() {
            Some(p) if !p.is_empty() && p.len() <= 9 => p.parse::<u32>().ok(),
            None if !required => Some(0),
            _ => None,
        };
        let v = PodmanVersion::new(next(true)?, next(true)?, next(false)?);
        match parts.next() {
            None => Some(v),
            Some(_) => None,
        }
    }

    /// [`parse`](Self::parse) of a plain `X.Y.Z`, usable in a constant (and quicker: tables
    /// of releases use it first).
    pub(crate) const fn parse_const(text: &str) -> Option<PodmanVersion> {
        let b = text.as_bytes();
        let mut n = [0u32; 3];
        let (mut i, mut part) = (0, 0);
        while i < b.len() {
            match b[i] {
                b'.' if part < 2 => part += 1,
                d @ b'0'..=b'9' => n[part] = n[part] * 10 + (d - b'0') as u32,
                _ => return None,
            }
            i += 1;
        }
        if part == 2 {
            Some(PodmanVersion::new(n[0], n[1], n[2]))
        } else {
            None
        }
    }

    /// `4.3` (what a table that knows releases by minor version shows).
    pub fn minor_text(self) -> String {
        format!("{}.{}", self.major, self.minor)
    }
}

impl fmt::Display for PodmanVersion {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl std::str::FromStr for PodmanVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<PodmanVersion, String> {
        PodmanVersion::parse(s).ok_or_else(|| format!("not a Podman version: {s:?} (e.g. 4.3.1)"))
    }
}

/// How the release was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `UNITSMITH_PODMAN_VERSION`.
    Env,
    /// The record file, for this binary as it is now.
    Record(String),
    /// Not known: [`MATCHED`] is assumed; why.
    Assumed(String),
}

/// The podman the units call, and its release.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPodman {
    /// The binary (`PODMAN`, else `/usr/bin/podman`).
    pub binary: String,
    pub version: PodmanVersion,
    pub source: Source,
}

impl HostPodman {
    /// Whether the release is known (not assumed).
    pub fn known(&self) -> bool {
        !matches!(self.source, Source::Assumed(_))
    }

    /// One line for logs and reports: `Podman 4.3.1 (/usr/bin/podman, recorded in ...)`.
    pub fn describe(&self) -> String {
        let how = match &self.source {
            Source::Env => ENV.to_string(),
            Source::Record(path) => format!("{}, recorded in {path}", self.binary),
            Source::Assumed(why) => format!("assumed: {why}"),
        };
        format!("Podman {} ({how})", self.version)
    }
}

/// The podman generated units call: `PODMAN`, else `/usr/bin/podman`.
pub fn binary() -> String {
    std::env::var("PODMAN")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| DEFAULT_BINARY.to_string())
}

/// The record file: `UNITSMITH_PODMAN_RECORD`, else [`RECORD`].
pub fn record_path() -> String {
    std::env::var(RECORD_ENV)
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| RECORD.to_string())
}

/// The podman of this run, found once (see the module's documentation).
pub fn host() -> &'static HostPodman {
    static HOST: OnceLock<HostPodman> = OnceLock::new();
    HOST.get_or_init(|| {
        let env = std::env::var(ENV).ok();
        detect(&binary(), env.as_deref(), Path::new(&record_path()))
    })
}

/// [`host`] with its inputs given: the binary, the environment's value, the record file.
pub fn detect(binary: &str, env: Option<&str>, record: &Path) -> HostPodman {
    let found = |version, source| HostPodman {
        binary: binary.to_string(),
        version,
        source,
    };
    let mut why_not = Vec::new();
    if let Some(text) = env.map(str::trim).filter(|v| !v.is_empty()) {
        match PodmanVersion::parse(text) {
            Some(v) => return found(v, Source::Env),
            None => why_not.push(format!("{ENV}={text:?} is not a version (e.g. 4.3.1)")),
        }
    }
    match from_record(binary, record) {
        Ok(v) => return found(v, Source::Record(record.display().to_string())),
        Err(why) => why_not.push(why),
    }
    why_not.push(format!(
        "generating for Podman {MATCHED}, the release whose Quadlet this generator matches"
    ));
    found(MATCHED, Source::Assumed(why_not.join("; ")))
}

/// What a record says of `binary` as it is now, or why nothing.
fn from_record(binary: &str, record: &Path) -> Result<PodmanVersion, String> {
    let meta = std::fs::metadata(binary).map_err(|e| format!("{binary}: {e}"))?;
    let now = Fingerprint::of(&meta);
    let text = crate::safe_read::with_contents_admitted(
        record,
        false,
        |m| trusted_record(m).map_err(crate::safe_read::Refused::Untrusted),
        |bytes| String::from_utf8_lossy(bytes).into_owned(),
    )
    .map_err(|e| format!("{}: {}", record.display(), e.describe(record).0))?;
    match lookup(&text, binary) {
        None => Err(format!(
            "{} has no line for {binary} (`unitsmith podman-version --record` writes it)",
            record.display()
        )),
        Some((_, fp)) if fp != now => Err(format!(
            "{binary} changed since {} was written (`unitsmith podman-version --record` updates it)",
            record.display()
        )),
        Some((v, _)) => Ok(v),
    }
}

/// The record decides what root's units run: only root (or whoever runs this, for tests as a
/// user) may have written it.
fn trusted_record(m: &Metadata) -> Result<(), String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { nix::libc::geteuid() };
    if m.uid() != 0 && m.uid() != me {
        return Err(format!("not used: owned by uid {}, not root", m.uid()));
    }
    if m.mode() & 0o022 != 0 {
        return Err(format!(
            "not used: others can write it (mode {:04o})",
            m.mode() & 0o7777
        ));
    }
    Ok(())
}

/// What identifies a binary in the record: its size and modification time (nanoseconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    pub size: u64,
    pub mtime_sec: i64,
    pub mtime_nsec: i64,
}

impl Fingerprint {
    pub fn of(m: &Metadata) -> Fingerprint {
        Fingerprint {
            size: m.size(),
            mtime_sec: m.mtime(),
            mtime_nsec: m.mtime_nsec(),
        }
    }
}

/// The record's first line.
pub const RECORD_HEADER: &str =
    "# unitsmith podman-version --record: VERSION SIZE MTIME BINARY, a line per podman binary; \
a line counts while its binary keeps that size and modification time";

/// One record line: `4.3.1 32969312 1712345678.123456789 /usr/bin/podman`.
pub fn record_line(version: PodmanVersion, fp: Fingerprint, binary: &str) -> String {
    format!(
        "{version} {} {}.{:09} {binary}",
        fp.size, fp.mtime_sec, fp.mtime_nsec
    )
}

/// The line of `binary` in a record's text: its version and fingerprint.
pub fn lookup(text: &str, binary: &str) -> Option<(PodmanVersion, Fingerprint)> {
    text.lines().find_map(|line| {
        let mut f = line.splitn(4, ' ');
        let (v, size, mtime, path) = (f.next()?, f.next()?, f.next()?, f.next()?);
        if path != binary {
            return None;
        }
        let (sec, nsec) = mtime.split_once('.')?;
        let fp = Fingerprint {
            size: size.parse().ok()?,
            mtime_sec: sec.parse().ok()?,
            mtime_nsec: nsec.parse().ok()?,
        };
        Some((PodmanVersion::parse(v)?, fp))
    })
}

/// `text` (a record, or nothing) with `binary`'s line set to `line`, the other lines kept.
pub fn updated_record(text: &str, binary: &str, line: &str) -> String {
    let mut out = String::from(RECORD_HEADER);
    out.push('\n');
    for l in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let path = l.splitn(4, ' ').nth(3);
        if path != Some(binary) {
            out.push_str(l);
            out.push('\n');
        }
    }
    out.push_str(line);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Option<PodmanVersion> {
        PodmanVersion::parse(text)
    }

    #[test]
    fn parses_the_forms_podman_and_packages_write() {
        let v431 = Some(PodmanVersion::new(4, 3, 1));
        assert_eq!(v("4.3.1"), v431);
        assert_eq!(v("v4.3.1"), v431);
        assert_eq!(v(" podman version 4.3.1\n"), v431);
        assert_eq!(v("4.3.1+ds1-8+deb12u1+b3"), v431);
        assert_eq!(v("4.3"), Some(PodmanVersion::new(4, 3, 0)));
        assert_eq!(v("6.0.0-dev"), Some(PodmanVersion::new(6, 0, 0)));
        assert_eq!(v("5.0.0~rc1"), Some(PodmanVersion::new(5, 0, 0)));
        assert_eq!(v("10.20.30"), Some(PodmanVersion::new(10, 20, 30)));
    }

    #[test]
    fn refuses_what_is_not_a_version() {
        for bad in [
            "",
            "4",
            "4.",
            "4..1",
            "4.3.1.2",
            "x4.3.1",
            "4.3.1x",
            "4.3.1 ",
            "4.3a",
            "-4.3.1",
            "1234567890.1.1",
            "4.3.1.",
        ] {
            // (a trailing blank is trimmed: " 4.3.1 " is fine, "4.3.1 " too)
            if bad.trim() == "4.3.1" {
                continue;
            }
            assert_eq!(v(bad), None, "{bad:?}");
        }
        assert_eq!(v("4.3.1 "), Some(PodmanVersion::new(4, 3, 1)));
        assert!("4.x".parse::<PodmanVersion>().is_err());
    }

    #[test]
    fn orders_by_major_then_minor_then_patch() {
        let p = |s: &str| v(s).unwrap();
        assert!(p("4.3.1") < p("4.4.0"));
        assert!(p("4.9.5") < p("5.0.0"));
        assert!(p("5.8.2") < p("5.10.0"));
        assert!(p("5.8.1") < p("5.8.2"));
        assert!(p("6.0.0-dev") >= p("6.0.0"));
        assert_eq!(p("4.3.1").to_string(), "4.3.1");
        assert_eq!(p("4.3.1").minor_text(), "4.3");
        assert_eq!(MATCHED, p(crate::quadlet_of_podman!()));
        assert_eq!(PodmanVersion::parse_const("5.8"), None);
        assert_eq!(PodmanVersion::parse_const("5.8.2.1"), None);
        assert_eq!(PodmanVersion::parse_const("5.x.2"), None);
    }

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("unitsmith-pv-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn write_mode(path: &Path, text: &str, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn the_environment_wins_then_the_record_then_the_matched_release() {
        let d = tmp("order");
        let bin = d.join("podman");
        write_mode(&bin, "binary", 0o755);
        let binary = bin.to_str().unwrap();
        let fp = Fingerprint::of(&std::fs::metadata(&bin).unwrap());
        let record = d.join("record");
        let line = record_line(PodmanVersion::new(4, 3, 1), fp, binary);
        write_mode(&record, &updated_record("", binary, &line), 0o644);

        let env = detect(binary, Some("4.9.0"), &record);
        assert_eq!(
            (env.version, &env.source),
            (v("4.9.0").unwrap(), &Source::Env)
        );
        let rec = detect(binary, None, &record);
        assert_eq!(rec.version, v("4.3.1").unwrap());
        assert!(
            rec.known() && rec.describe().contains("recorded in"),
            "{rec:?}"
        );
        // A bad value is said, then the record counts.
        let bad = detect(binary, Some("four"), &record);
        assert_eq!(bad.source, Source::Record(record.display().to_string()));
        // An empty value is no value.
        assert_eq!(
            detect(binary, Some(" "), &record).version,
            v("4.3.1").unwrap()
        );

        // Another binary: not in the record.
        let other = detect("/nonexistent/podman", None, &record);
        assert_eq!(other.version, MATCHED);
        assert!(!other.known());
        assert!(other.describe().contains("assumed"), "{other:?}");
    }

    #[test]
    fn a_changed_binary_makes_the_record_stale() {
        let d = tmp("stale");
        let bin = d.join("podman");
        write_mode(&bin, "binary", 0o755);
        let binary = bin.to_str().unwrap();
        let fp = Fingerprint::of(&std::fs::metadata(&bin).unwrap());
        let record = d.join("record");
        let line = record_line(PodmanVersion::new(4, 3, 1), fp, binary);
        write_mode(&record, &updated_record("", binary, &line), 0o644);
        assert!(detect(binary, None, &record).known());

        // Same size, another modification time (an upgrade of the same size).
        let later = Fingerprint {
            mtime_sec: fp.mtime_sec + 1,
            ..fp
        };
        let line = record_line(PodmanVersion::new(4, 3, 1), later, binary);
        write_mode(&record, &updated_record("", binary, &line), 0o644);
        let h = detect(binary, None, &record);
        assert_eq!(h.version, MATCHED);
        assert!(matches!(&h.source, Source::Assumed(w) if w.contains("changed since")));

        // Another size.
        let bigger = Fingerprint {
            size: fp.size + 1,
            ..fp
        };
        let line = record_line(PodmanVersion::new(4, 3, 1), bigger, binary);
        write_mode(&record, &updated_record("", binary, &line), 0o644);
        assert!(!detect(binary, None, &record).known());
    }

    #[test]
    fn a_record_others_can_write_is_not_used() {
        let d = tmp("trust");
        let bin = d.join("podman");
        write_mode(&bin, "binary", 0o755);
        let binary = bin.to_str().unwrap();
        let fp = Fingerprint::of(&std::fs::metadata(&bin).unwrap());
        let record = d.join("record");
        let line = record_line(PodmanVersion::new(4, 3, 1), fp, binary);
        for mode in [0o666, 0o664, 0o646] {
            write_mode(&record, &updated_record("", binary, &line), mode);
            let h = detect(binary, None, &record);
            assert!(
                matches!(&h.source, Source::Assumed(w) if w.contains("others can write")),
                "{mode:o}: {h:?}"
            );
        }
        write_mode(&record, &updated_record("", binary, &line), 0o600);
        assert!(detect(binary, None, &record).known());
        // A FIFO in its place never blocks.
        std::fs::remove_file(&record).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(&record)
            .status()
            .unwrap();
        assert!(made.success());
        assert!(!detect(binary, None, &record).known());
    }

    #[test]
    fn updating_a_record_keeps_the_other_binaries() {
        let fp = Fingerprint {
            size: 10,
            mtime_sec: 1700000000,
            mtime_nsec: 5,
        };
        let a = record_line(PodmanVersion::new(4, 3, 1), fp, "/usr/bin/podman");
        assert_eq!(a, "4.3.1 10 1700000000.000000005 /usr/bin/podman");
        let b = record_line(PodmanVersion::new(5, 8, 2), fp, "/opt/my podman/bin/podman");
        let text = updated_record(
            &updated_record("", "/usr/bin/podman", &a),
            "/opt/my podman/bin/podman",
            &b,
        );
        assert_eq!(
            lookup(&text, "/opt/my podman/bin/podman"),
            Some((PodmanVersion::new(5, 8, 2), fp))
        );
        assert_eq!(
            lookup(&text, "/usr/bin/podman"),
            Some((PodmanVersion::new(4, 3, 1), fp))
        );
        let c = record_line(PodmanVersion::new(4, 4, 0), fp, "/usr/bin/podman");
        let text = updated_record(&text, "/usr/bin/podman", &c);
        assert_eq!(text.lines().count(), 3, "{text}");
        assert_eq!(lookup(&text, "/usr/bin/podman").map(|x| x.0), v("4.4.0"));
        assert!(text.starts_with(RECORD_HEADER));
        assert_eq!(lookup("garbage\n1 2 3\n4.3.1 x 1.2 /p\n", "/p"), None);
    }
}

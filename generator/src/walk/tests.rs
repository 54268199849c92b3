//! The walk's rules, on real trees (as root: the owners are real users; other callers skip
//! these tests, saying so).

use super::*;
use std::fs;
use std::os::unix::fs::{chown, lchown, symlink, PermissionsExt};

const NOBODY: u32 = 65534;

fn is_root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { nix::libc::geteuid() } == 0 {
        return true;
    }
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: needs root (chown)");
    false
}

/// A fresh root-owned 0755 directory under /tmp (sticky and world-writable: the walk must
/// accept it because root owns what is in it).
fn base(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("unitsmith-walk-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
    d
}

fn mkdir(p: &Path, mode: u32) {
    fs::create_dir_all(p).unwrap();
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

fn refusal(d: &Dir) -> String {
    d.refusal()
        .unwrap_or_else(|| panic!("{} was trusted", d.path.display()))
        .to_string()
}

fn untrusted(r: Result<PathBuf, Refused>) -> String {
    match r {
        Err(Refused::Untrusted(why)) => why,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_tree_root_owns_is_trusted_through_sticky_tmp() {
    if !is_root("a_tree_root_owns_is_trusted_through_sticky_tmp") {
        return;
    }
    let b = base("trusted");
    mkdir(&b.join("a/b"), 0o755);
    let paths = Paths::default();
    let d = paths.dir(&b.join("a/b")).unwrap();
    assert_eq!(d.path, b.join("a/b"));
    assert!(matches!(d.verdict, Verdict::Trusted { open: false, .. }));
    // /tmp itself: open (sticky, every user writes it), so its entries must be root's.
    let tmp = paths.dir(&std::env::temp_dir()).unwrap();
    assert!(
        matches!(tmp.verdict, Verdict::Trusted { open: true, .. }),
        "{tmp:?}"
    );
    // Group-writable by root's group: still root's alone.
    mkdir(&b.join("g"), 0o775);
    assert!(paths.dir(&b.join("g")).unwrap().refusal().is_none());
    // `.` and `..` are walked, not taken as names.
    let d = paths.dir(&b.join("a/./b/../b")).unwrap();
    assert_eq!(d.path, b.join("a/b"));
    fs::remove_dir_all(&b).unwrap();
}

#[test]
fn a_directory_another_user_owns_or_can_write_is_refused_with_everything_below() {
    if !is_root("a_directory_another_user_owns_or_can_write_is_refused_with_everything_below") {
        return;
    }
    let b = base("owners");
    mkdir(&b.join("team/sub"), 0o755);
    chown(b.join("team"), Some(NOBODY), None).unwrap();
    let paths = Paths::default();
    let d = paths.dir(&b.join("team")).unwrap();
    let why = refusal(&d);
    let team = b.join("team");
    assert!(
        why.contains(&format!(
            "{} is owned by uid 65534, mode 0755",
            team.display()
        )),
        "{why}"
    );
    assert!(
        why.contains(&format!("chown root:root {}", team.display())),
        "{why}"
    );
    assert!(
        matches!(&d.verdict, Verdict::Refused { list_from: Some(f), at, .. } if *f == b && *at == team)
    );
    // Below it: the same refusal, and nothing looked at (the path is only named).
    let sub = paths.dir(&b.join("team/sub/x/../y")).unwrap();
    assert_eq!(refusal(&sub), why);
    assert_eq!(sub.path, b.join("team/sub/x/../y"));
    // A file in it is not even looked at.
    fs::write(b.join("team/sub/a.container"), "[Container]\n").unwrap();
    assert_eq!(
        untrusted(paths.file(&b.join("team/sub/a.container"), false)),
        why
    );

    // Writable by a group other than root's, or by every user: refused, saying which.
    mkdir(&b.join("grp"), 0o775);
    chown(b.join("grp"), None, Some(1000)).unwrap();
    let why = refusal(&paths.dir(&b.join("grp")).unwrap());
    assert!(
        why.contains("can be written by group 1000") && why.contains("mode 0775"),
        "{why}"
    );
    assert!(why.contains("chmod go-w"), "{why}");
    // Another group that cannot write it: root's alone still (root:1000 0755, 2755).
    for mode in [0o755, 0o2755] {
        mkdir(&b.join("grp-ro"), mode);
        chown(b.join("grp-ro"), None, Some(1000)).unwrap();
        assert!(
            Paths::default()
                .dir(&b.join("grp-ro"))
                .unwrap()
                .refusal()
                .is_none(),
            "{mode:o}"
        );
    }
    mkdir(&b.join("all"), 0o777);
    let why = refusal(&paths.dir(&b.join("all")).unwrap());
    assert!(why.contains("can be written by every user"), "{why}");
    // Sticky: usable, but then only what root owns in it counts.
    mkdir(&b.join("sticky/mine"), 0o755);
    fs::set_permissions(b.join("sticky"), fs::Permissions::from_mode(0o1777)).unwrap();
    assert!(paths
        .dir(&b.join("sticky/mine"))
        .unwrap()
        .refusal()
        .is_none());
    mkdir(&b.join("sticky/theirs"), 0o755);
    chown(b.join("sticky/theirs"), Some(NOBODY), None).unwrap();
    assert!(refusal(&paths.dir(&b.join("sticky/theirs")).unwrap()).contains("uid 65534"));
    fs::remove_dir_all(&b).unwrap();
}

#[test]
fn links_are_followed_only_where_no_other_user_could_have_made_them() {
    if !is_root("links_are_followed_only_where_no_other_user_could_have_made_them") {
        return;
    }
    let b = base("links");
    mkdir(&b.join("real/inner"), 0o755);
    mkdir(&b.join("theirs"), 0o755);
    chown(b.join("theirs"), Some(NOBODY), None).unwrap();
    symlink("real", b.join("up")).unwrap();
    symlink(b.join("theirs"), b.join("to-theirs")).unwrap();
    let paths = Paths::default();
    // A link root made, to a trusted place: followed.
    let d = paths.dir(&b.join("up/inner")).unwrap();
    assert_eq!(d.path, b.join("real/inner"));
    assert!(d.refusal().is_none());
    // To an untrusted place: the target's refusal.
    let why = refusal(&paths.dir(&b.join("to-theirs")).unwrap());
    assert!(
        why.contains(&b.join("theirs").display().to_string()),
        "{why}"
    );
    // A link in a directory its owner controls is never followed, even to a trusted place.
    symlink(b.join("real"), b.join("theirs/back")).unwrap();
    let d = paths.dir(&b.join("theirs/back/inner")).unwrap();
    assert_eq!(d.path, b.join("theirs/back/inner"), "not resolved");
    assert!(d.refusal().is_some());
    // In a sticky directory: a link another user owns is not followed, and cannot be listed.
    mkdir(&b.join("sticky"), 0o1777);
    symlink(b.join("real"), b.join("sticky/link")).unwrap();
    lchown(b.join("sticky/link"), Some(NOBODY), None).unwrap();
    let d = paths.dir(&b.join("sticky/link/inner")).unwrap();
    let why = refusal(&d);
    assert!(
        why.contains("is a symbolic link owned by uid 65534")
            && why.contains("every user can write"),
        "{why}"
    );
    assert!(matches!(
        d.verdict,
        Verdict::Refused {
            list_from: None,
            ..
        }
    ));
    // ... the same link made by root is root's: followed (a new run: verdicts are kept).
    lchown(b.join("sticky/link"), Some(0), None).unwrap();
    assert_eq!(
        Paths::default()
            .dir(&b.join("sticky/link/inner"))
            .unwrap()
            .path,
        b.join("real/inner")
    );
    // A loop of links ends.
    symlink("loop2", b.join("loop1")).unwrap();
    symlink("loop1", b.join("loop2")).unwrap();
    let e = paths.dir(&b.join("loop1")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(nix::libc::ELOOP));
    // Missing and not a directory: errors, as the kernel's.
    assert_eq!(
        paths.dir(&b.join("nope")).unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
    fs::write(b.join("file"), "").unwrap();
    assert_eq!(
        paths.dir(&b.join("file")).unwrap_err().raw_os_error(),
        Some(nix::libc::ENOTDIR)
    );
    // A relative path is the working directory's (walked from `/` too).
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(paths.dir(Path::new(".")).unwrap().path, cwd);
    fs::remove_dir_all(&b).unwrap();
}

/// `/proc/PID/cmdline` of a process that is not dumpable is shown as root's, mode 0444,
/// whoever wrote its bytes: nothing on a kernel file system is used.
#[test]
fn kernel_file_systems_are_refused() {
    let paths = Paths::default();
    let why = refusal(&paths.dir(Path::new("/proc/self")).unwrap());
    assert!(
        why.contains("/proc is on proc, a kernel file system"),
        "{why}"
    );
    let why = untrusted(paths.file(Path::new("/proc/self/cmdline"), false));
    assert!(why.contains("/proc is on proc"), "{why}");
    if Path::new("/sys/kernel").is_dir() {
        let why = refusal(&paths.dir(Path::new("/sys/kernel")).unwrap());
        assert!(why.contains("/sys is on sysfs"), "{why}");
    }
    assert_eq!(
        pseudo_fs(nix::libc::TMPFS_MAGIC as u32),
        None,
        "/run is tmpfs"
    );
    assert_eq!(pseudo_fs(nix::libc::EXT4_SUPER_MAGIC as u32), None);
    assert_eq!(pseudo_fs(0x6265_6570), Some("configfs"));
    assert_eq!(
        pseudo_fs(nix::libc::CGROUP2_SUPER_MAGIC as u32),
        Some("cgroup2")
    );
}

#[test]
fn files_are_walked_to_a_regular_file_in_a_trusted_directory() {
    if !is_root("files_are_walked_to_a_regular_file_in_a_trusted_directory") {
        return;
    }
    let b = base("files");
    mkdir(&b.join("in"), 0o755);
    fs::write(b.join("in/a.container"), "[Container]\n").unwrap();
    symlink("a.container", b.join("in/link.container")).unwrap();
    symlink("/proc/self/cmdline", b.join("in/proc.container")).unwrap();
    symlink("missing.container", b.join("in/dangling.container")).unwrap();
    nix::unistd::mkfifo(
        &b.join("in/fifo.container"),
        Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let paths = Paths::default();
    let f = |name: &str, listed| paths.file(&b.join("in").join(name), listed);
    assert_eq!(f("a.container", true).unwrap(), b.join("in/a.container"));
    assert_eq!(f("a.container", false).unwrap(), b.join("in/a.container"));
    assert_eq!(
        f("link.container", false).unwrap(),
        b.join("in/a.container")
    );
    assert!(untrusted(f("proc.container", false)).contains("is on proc"));
    assert!(
        matches!(f("dangling.container", false), Err(Refused::Io(e)) if e.kind() == io::ErrorKind::NotFound)
    );
    assert!(matches!(
        f("fifo.container", false),
        Err(Refused::NotRegular("a FIFO (named pipe)"))
    ));
    // A link another user owns in a sticky directory is not followed to the file.
    mkdir(&b.join("sticky"), 0o1777);
    symlink(b.join("in/a.container"), b.join("sticky/x.container")).unwrap();
    lchown(b.join("sticky/x.container"), Some(NOBODY), None).unwrap();
    let why = untrusted(paths.file(&b.join("sticky/x.container"), false));
    assert!(why.contains("symbolic link owned by uid 65534"), "{why}");
    // Links to links: up to the kernel's limit, then a loop.
    let mut prev = "a.container".to_string();
    for i in 0..MAX_LINKS {
        let name = format!("l{i}");
        symlink(&prev, b.join("in").join(&name)).unwrap();
        prev = name;
    }
    assert_eq!(
        f(&format!("l{}", MAX_LINKS - 1), false).unwrap(),
        b.join("in/a.container")
    );
    symlink(&prev, b.join("in/one-too-many")).unwrap();
    assert!(
        matches!(f("one-too-many", false), Err(Refused::Io(e)) if e.raw_os_error() == Some(nix::libc::ELOOP))
    );
    fs::remove_dir_all(&b).unwrap();
}

/// Each directory is walked once per run: what a run decided holds for the rest of it (a new
/// run looks again).
#[test]
fn verdicts_are_kept_for_the_run() {
    if !is_root("verdicts_are_kept_for_the_run") {
        return;
    }
    let b = base("cache");
    mkdir(&b.join("d/e"), 0o755);
    let paths = Paths::default();
    assert!(paths.dir(&b.join("d/e")).unwrap().refusal().is_none());
    chown(b.join("d"), Some(NOBODY), None).unwrap();
    // The same path, and another through the same directory: from what was walked.
    assert!(paths.dir(&b.join("d/e")).unwrap().refusal().is_none());
    mkdir(&b.join("d/f"), 0o755);
    assert!(paths.dir(&b.join("d/f")).unwrap().refusal().is_none());
    assert!(Paths::default()
        .dir(&b.join("d/e"))
        .unwrap()
        .refusal()
        .is_some());
    fs::remove_dir_all(&b).unwrap();
}

#[test]
fn untrusted_directories_are_listed_without_following_links() {
    if !is_root("untrusted_directories_are_listed_without_following_links") {
        return;
    }
    let b = base("list");
    mkdir(&b.join("team/sub"), 0o755);
    mkdir(&b.join("secret"), 0o700);
    fs::write(b.join("secret/hidden.container"), "").unwrap();
    fs::write(b.join("team/sub/a.container"), "").unwrap();
    fs::create_dir(b.join("team/sub/d")).unwrap();
    symlink(b.join("secret"), b.join("team/sub/l")).unwrap();
    chown(b.join("team"), Some(NOBODY), None).unwrap();
    let (mut entries, more) = list_untrusted(&b.join("team/sub"), &b, 10).unwrap();
    assert!(!more);
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let seen: Vec<(String, bool, bool)> = entries
        .iter()
        .map(|e| (e.name.to_string_lossy().into_owned(), e.plain_file, e.dir))
        .collect();
    assert_eq!(
        seen,
        [
            ("a.container".to_string(), true, false),
            ("d".into(), false, true),
            ("l".into(), false, false)
        ]
    );
    // A link on the way is not followed: the secret directory's names are never read
    // (O_DIRECTORY|O_NOFOLLOW on a link: ENOTDIR).
    assert_eq!(
        list_untrusted(&b.join("team/sub/l"), &b, 10)
            .unwrap_err()
            .raw_os_error(),
        Some(nix::libc::ENOTDIR)
    );
    assert!(list_untrusted(&b.join("team/sub/../../secret"), &b, 10).is_err());
    // At most `max` entries.
    let (entries, more) = list_untrusted(&b.join("team/sub"), &b, 2).unwrap();
    assert_eq!((entries.len(), more), (2, true));
    fs::remove_dir_all(&b).unwrap();
}

#[test]
fn untrusted_listings_stop_at_their_limits_and_say_so() {
    if !is_root("untrusted_listings_stop_at_their_limits_and_say_so") {
        return;
    }
    use crate::budget::{MAX_UNTRUSTED_DIRS, MAX_UNTRUSTED_ENTRIES};
    let b = base("limits");
    mkdir(&b.join("team"), 0o755);
    chown(b.join("team"), Some(NOBODY), None).unwrap();
    let mut l = UntrustedListing::default();
    assert_eq!(l.report(), None);
    for _ in 0..MAX_UNTRUSTED_DIRS {
        assert!(l.list(&b.join("team"), &b).unwrap().unwrap().is_empty());
    }
    assert!(l.list(&b.join("team"), &b).is_none());
    let r = l.report().unwrap();
    assert!(
        r.starts_with("1 directory that root does not trust was not listed"),
        "{r}"
    );
    assert!(r.contains(&b.join("team").display().to_string()), "{r}");
    // Entries: a directory with more than are left is read up to the limit, and reported.
    for i in 0..12 {
        fs::write(b.join("team").join(format!("f{i}")), "").unwrap();
    }
    let mut l = UntrustedListing {
        entries: MAX_UNTRUSTED_ENTRIES - 10,
        ..Default::default()
    };
    assert_eq!(l.list(&b.join("team"), &b).unwrap().unwrap().len(), 10);
    assert!(l.report().unwrap().contains("or not to the end"));
    assert!(l.list(&b.join("team"), &b).is_none());
    let r = l.report().unwrap();
    assert!(r.starts_with("2 directories"), "{r}");
    fs::remove_dir_all(&b).unwrap();
}

/// `..` at the root stays there (as the kernel's), and `..` right below a refused directory is
/// only named, as everything below it is: it never leads out of the refusal.
#[test]
fn dot_dot_stays_at_the_root_and_never_leaves_a_refused_directory() {
    let paths = Paths::default();
    assert_eq!(paths.dir(Path::new("/../..")).unwrap().path, Path::new("/"));
    assert_eq!(
        paths.dir(Path::new("/../tmp")).unwrap().path,
        Path::new("/tmp")
    );
    if !is_root("dot_dot_stays_at_the_root_and_never_leaves_a_refused_directory") {
        return;
    }
    let b = base("dotdot");
    mkdir(&b.join("team"), 0o755);
    mkdir(&b.join("x"), 0o755);
    chown(b.join("team"), Some(NOBODY), None).unwrap();
    let d = paths.dir(&b.join("team/../x")).unwrap();
    assert_eq!(d.path, b.join("team/../x"));
    assert!(refusal(&d).contains("uid 65534"), "{d:?}");
    fs::remove_dir_all(&b).unwrap();
}

/// Links to directories: up to the kernel's limit of 40 on one path, then a loop.
#[test]
fn forty_links_to_a_directory_are_followed_and_no_more() {
    if !is_root("forty_links_to_a_directory_are_followed_and_no_more") {
        return;
    }
    let b = base("dirlinks");
    mkdir(&b.join("real"), 0o755);
    let mut prev = "real".to_string();
    for i in 0..MAX_LINKS {
        let name = format!("l{i}");
        symlink(&prev, b.join(&name)).unwrap();
        prev = name;
    }
    let paths = Paths::default();
    assert_eq!(paths.dir(&b.join(&prev)).unwrap().path, b.join("real"));
    symlink(&prev, b.join("one-too-many")).unwrap();
    let e = paths.dir(&b.join("one-too-many")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(nix::libc::ELOOP));
    fs::remove_dir_all(&b).unwrap();
}

/// Who owns a link matters only in a sticky directory every user can write: in a directory
/// only root can write, any link is root's doing; in a sticky one, root's own link is followed.
#[test]
fn a_links_owner_matters_only_where_every_user_can_write() {
    if !is_root("a_links_owner_matters_only_where_every_user_can_write") {
        return;
    }
    let b = base("linkowners");
    mkdir(&b.join("in"), 0o755);
    fs::write(b.join("in/a.container"), "[Container]\n").unwrap();
    symlink("a.container", b.join("in/chowned.container")).unwrap();
    lchown(b.join("in/chowned.container"), Some(NOBODY), None).unwrap();
    mkdir(&b.join("sticky"), 0o1777);
    symlink(b.join("in/a.container"), b.join("sticky/roots.container")).unwrap();
    let paths = Paths::default();
    let real = b.join("in/a.container");
    assert_eq!(
        paths.file(&b.join("in/chowned.container"), false).unwrap(),
        real
    );
    assert_eq!(
        paths
            .file(&b.join("sticky/roots.container"), false)
            .unwrap(),
        real
    );
    fs::remove_dir_all(&b).unwrap();
}

/// In a sticky directory every user can write, an entry root does not own is another user's
/// (its name is theirs), and so is one gone since the listing.
#[test]
fn entries_of_a_sticky_directory_are_marked_by_their_owner() {
    if !is_root("entries_of_a_sticky_directory_are_marked_by_their_owner") {
        return;
    }
    let b = base("mark");
    mkdir(&b.join("s"), 0o1777);
    fs::write(b.join("s/root.container"), "").unwrap();
    fs::write(b.join("s/theirs.container"), "").unwrap();
    chown(b.join("s/theirs.container"), Some(NOBODY), None).unwrap();
    let entry = |name: &str, untrusted| Entry {
        name: name.into(),
        plain_file: true,
        dir: false,
        untrusted,
    };
    let mut entries = [
        entry("root.container", true),
        entry("theirs.container", false),
        entry("gone.container", false),
    ];
    mark_others_entries(&b.join("s"), &mut entries);
    let marks: Vec<bool> = entries.iter().map(|e| e.untrusted).collect();
    assert_eq!(marks, [false, true, true]);
    fs::remove_dir_all(&b).unwrap();
}

/// Entries read from untrusted directories add up to their limit across listings.
#[test]
fn untrusted_entries_add_up_across_listings() {
    if !is_root("untrusted_entries_add_up_across_listings") {
        return;
    }
    use crate::budget::MAX_UNTRUSTED_ENTRIES;
    let b = base("add-up");
    mkdir(&b.join("team"), 0o755);
    for i in 0..3 {
        fs::write(b.join("team").join(format!("f{i}")), "").unwrap();
    }
    chown(b.join("team"), Some(NOBODY), None).unwrap();
    let mut l = UntrustedListing {
        entries: MAX_UNTRUSTED_ENTRIES - 5,
        ..Default::default()
    };
    assert_eq!(l.list(&b.join("team"), &b).unwrap().unwrap().len(), 3);
    assert_eq!(l.report(), None);
    assert_eq!(l.list(&b.join("team"), &b).unwrap().unwrap().len(), 2);
    assert!(l.report().unwrap().contains("or not to the end"));
    fs::remove_dir_all(&b).unwrap();
}

/// Where a listing shows no types, each entry is looked at: only a regular file is read and
/// only a directory descended into; anything else is taken as a link.
#[test]
fn an_entry_without_a_listed_type_is_taken_for_what_it_is() {
    use nix::dir::Type;
    use nix::libc as c;
    assert_eq!(type_of_mode(c::S_IFREG | 0o644), Type::File);
    assert_eq!(type_of_mode(c::S_IFDIR | 0o1777), Type::Directory);
    for mode in [
        c::S_IFLNK | 0o777,
        c::S_IFIFO | 0o644,
        c::S_IFSOCK,
        c::S_IFCHR,
        c::S_IFBLK,
    ] {
        assert_eq!(type_of_mode(mode), Type::Symlink, "{mode:o}");
    }
}

/// Past the limits, untrusted directories are counted and the first five named.
#[test]
fn directories_over_the_limits_are_counted_and_the_first_five_named() {
    let mut l = UntrustedListing {
        dirs: crate::budget::MAX_UNTRUSTED_DIRS,
        ..Default::default()
    };
    for i in 0..7 {
        let d = PathBuf::from(format!("/home/u{i}"));
        assert!(l.list(&d, Path::new("/home")).is_none());
    }
    let r = l.report().unwrap();
    assert!(
        r.starts_with("7 directories that root does not trust were not listed, or not to the end (over the limit of 100 directories and 10000 entries for such directories in one run): /home/u0, /home/u1, /home/u2, /home/u3, /home/u4, ...; inputs in them get no failure stub\n"),
        "{r}"
    );
}

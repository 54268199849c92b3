//! `unitsmith lint --root DIR`: an image tree is linted as it will boot. Its units, links and
//! commands are the image's, every link resolved inside DIR; a file of this machine that a
//! link in the image names (an absolute path) is never read in the image's place.
//!
//! The image is built in a temporary directory by each test, with absolute links to files
//! that exist on this machine but not in the image.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("unitsmith-lint-root-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::canonicalize(&d).unwrap()
}

fn write(base: &Path, rel: &str, text: &str) {
    let p = base.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn link(base: &Path, rel: &str, target: impl AsRef<Path>) {
    let p = base.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    symlink(target, p).unwrap();
}

fn lint(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_unitsmith"))
        .arg("lint")
        .args(args)
        .env_remove("UNITSMITH_UNIT_DIRS")
        .env_remove("QUADLET_UNIT_DIRS")
        .env_remove("UNITSMITH_GENERATOR_DIRS")
        .output()
        .expect("run unitsmith")
}

/// An image with systemd 255, a service whose command exists only in the image, one whose
/// command exists only on this machine, a unit file and a drop-in that are absolute links,
/// and a Quadlet input that is an absolute link.
fn image(host: &Path, img: &Path) {
    write(
        img,
        "usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-255.so",
        "",
    );
    link(img, "lib", "usr/lib");
    write(
        img,
        "etc/systemd/system/app.service",
        "[Unit]\nConditionKernelModuleLoaded=loop\n\n[Service]\nExecStart=/opt/app/daemon\n\n[Install]\nWantedBy=multi-user.target\n",
    );
    write(img, "opt/app/daemon", "");
    link(
        img,
        "etc/systemd/system/multi-user.target.wants/app.service",
        "/etc/systemd/system/app.service",
    );
    // A command this machine has (the test wrote it) and the image does not.
    write(host, "host-only-command", "");
    write(
        img,
        "etc/systemd/system/hostcmd.service",
        &format!(
            "[Service]\nExecStart={}\n",
            host.join("host-only-command").display()
        ),
    );
    // Enabled the usual way: an absolute link into the image's /usr/lib, which this
    // machine does not have.
    write(
        img,
        "usr/lib/systemd/system/vendor.service",
        "[Service]\nExecStart=/opt/app/daemon\nRestrat=always\n",
    );
    link(
        img,
        "etc/systemd/system/vendor.service",
        "/usr/lib/systemd/system/vendor.service",
    );
    // A drop-in linked to a file of this machine: the image has no such file.
    write(host, "host-dropin.conf", "[Service]\nHostOnlyKey=1\n");
    link(
        img,
        "etc/systemd/system/app.service.d/10-host.conf",
        host.join("host-dropin.conf"),
    );
    // A Quadlet input linked absolutely inside the image.
    write(
        img,
        "srv/quadlets/web.container",
        "[Container]\nImag=docker.io/library/nginx\n",
    );
    link(
        img,
        "etc/containers/systemd/web.container",
        "/srv/quadlets/web.container",
    );
}

/// `FILE:LINE SEVERITY RULE` of each finding, paths relative to the image.
fn findings(text: &str, img: &Path) -> Vec<String> {
    let prefix = format!("{}/", img.display());
    let mut v: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with("lint:") && !l.is_empty())
        .map(|l| {
            let rule = l
                .rsplit_once('[')
                .map(|(_, r)| r.trim_end_matches(']'))
                .unwrap_or("?");
            let (loc, rest) = l.split_once(": ").unwrap_or((l, ""));
            let sev = rest.split(':').next().unwrap_or("?");
            format!("{} {sev} {rule}", loc.trim_start_matches(&prefix))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn an_image_is_linted_as_it_will_boot() {
    let base = scratch("boot");
    let (host, img) = (base.join("host"), base.join("img"));
    image(&host, &img);
    let out = lint(&[
        "--root",
        img.to_str().unwrap(),
        "/etc/systemd/system",
        "/etc/containers/systemd",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        findings(&text, &img),
        vec![
            // Added in 258: the image has 255 (its library says so).
            "etc/systemd/system/app.service:2 warning unknown-key".to_string(),
            // The command is this machine's, not the image's.
            "etc/systemd/system/hostcmd.service:2 error exec-not-found".to_string(),
            // The image's own file behind an absolute link, read.
            "etc/systemd/system/vendor.service:3 warning unknown-key".to_string(),
            // Through an absolute link inside the image.
            "srv/quadlets/web.container:2 error generator-error".to_string(),
        ],
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!(
            "lint: judged by systemd 255 (installed in {}: /usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-255.so)",
            img.display()
        )),
        "{text}"
    );
    assert!(
        text.contains("added in systemd 258; systemd 255 here ignores it"),
        "{text}"
    );
    assert!(
        !text.contains("HostOnlyKey"),
        "a file of this machine was read:\n{text}"
    );
    assert_eq!(out.status.code(), Some(1));
    let _ = std::fs::remove_dir_all(&base);
}

/// Without a PATH: the image's own default directories, as its systemd and generator read
/// them at boot; the vendor directory is context, not reported on.
#[test]
fn without_a_path_the_images_directories_are_read() {
    let base = scratch("default");
    let (host, img) = (base.join("host"), base.join("img"));
    image(&host, &img);
    let out = lint(&["--json", "--root", img.to_str().unwrap()]);
    let json = String::from_utf8_lossy(&out.stdout);
    for want in [
        "etc/systemd/system/app.service\",\"line\":2",
        "etc/systemd/system/hostcmd.service\",\"line\":2",
        "srv/quadlets/web.container\",\"line\":2",
        r#""systemd":{"judged_by":255,"found":255,"#,
    ] {
        assert!(json.contains(want), "no {want} in {json}");
    }
    assert!(
        !json.contains("usr/lib/systemd/system/vendor.service"),
        "{json}"
    );
    assert!(!json.contains("HostOnlyKey"), "{json}");
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn a_missing_root_or_path_in_it_is_a_usage_error() {
    let base = scratch("usage");
    assert_eq!(
        lint(&["--root", base.join("nope").to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );
    std::fs::create_dir_all(base.join("img")).unwrap();
    // A path that exists on this machine but not in the image.
    let out = lint(&["--root", base.join("img").to_str().unwrap(), "/etc"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&base);
}

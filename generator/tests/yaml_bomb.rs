//! A YAML bomb by bytes (issue 20): a 0.7 MB `compose.yaml` whose long scalar is aliased
//! 66,000 times asks for 33 GB once expanded. Counted by nodes alone, it passed the limit and
//! the generator was killed, losing every unit of the run. Now it is refused at the alias that
//! passes the limit of text, as a stub of its own, and the run's other inputs are generated.
//!
//! The generator runs here with its address space limited (`ulimit -v`, 1 GiB): a run that
//! tried to expand the bomb would fail to allocate and abort instead of taking the machine.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_unitsmith-generator");

/// The bomb: a 500 kB scalar, then a list of 66,000 aliases to it (line 3).
fn bomb() -> String {
    let long = "x".repeat(500_000);
    let aliases = vec!["*a"; 66_000].join(",");
    format!("x-a: &a \"{long}\"\nx-b:\n  - [{aliases}]\nservices:\n  web:\n    image: docker.io/library/nginx\n")
}

fn project(root: &Path, name: &str, text: &str) -> PathBuf {
    let dir = root.join("compose").join(name);
    fs::create_dir_all(&dir).unwrap();
    let file = dir.join("compose.yaml");
    fs::write(&file, text).unwrap();
    file
}

#[test]
fn a_bomb_by_bytes_is_its_own_stub_and_the_run_goes_on() {
    let root = std::env::temp_dir().join(format!("unitsmith-yaml-bomb-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    let text = bomb();
    assert!(text.len() < 700_000, "{} bytes", text.len());
    let bomb_file = project(&root, "bomb", &text);
    project(
        &root,
        "good",
        "services:\n  web:\n    image: docker.io/library/nginx:1.27\n",
    );
    fs::write(
        root.join("plain.container"),
        "[Container]\nImage=quay.io/a/b:1\n",
    )
    .unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v 1048576 && exec {BIN} --dry-run \"$0\"/out"
        ))
        .arg(&root)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("UNITSMITH_UNIT_DIRS", &root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code().is_some(),
        "the generator was killed: {:?}\n{stderr}",
        out.status
    );
    let expected = format!(
        "Error={}:3: more than 4 MiB of text once aliases are expanded",
        bomb_file.display()
    );
    assert!(stdout.contains(&expected), "{stdout}\n{stderr}");
    assert!(stdout.contains("---bomb.service---"), "{stdout}");
    for unit in ["good-web.service", "plain.service"] {
        let at = stdout
            .find(&format!("---{unit}---"))
            .unwrap_or_else(|| panic!("no {unit}:\n{stdout}"));
        let body = stdout[at..].split("\n---").next().unwrap();
        assert!(body.contains("podman run"), "{body}");
    }
    fs::remove_dir_all(&root).unwrap();
}

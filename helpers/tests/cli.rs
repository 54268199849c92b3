//! The helper's command line as users and scripts meet it: `--version`.

use std::process::Command;

fn unitsmith(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_unitsmith"))
        .args(args)
        .output()
        .expect("run unitsmith")
}

#[test]
fn version_names_the_podman_quadlet_it_matches() {
    for v in ["--version", "-V"] {
        let o = unitsmith(&[v]);
        assert!(o.status.success());
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            format!(
                "unitsmith {} (Quadlet of Podman {})\n",
                env!("CARGO_PKG_VERSION"),
                unitsmith_generator::quadlet_of_podman!()
            )
        );
    }
}

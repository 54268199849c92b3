//! The helper's command line as users and scripts meet it: `--version` and the shell completions.

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

fn completion_script(shell: &str) -> String {
    let o = unitsmith(&["completions", shell]);
    assert!(o.status.success(), "completions {shell}");
    String::from_utf8(o.stdout).unwrap()
}

/// What bash offers for the words of `line` (its last word is the one being completed), with
/// the completion script loaded as bash-completion would load it.
fn bash_completes(script: &std::path::Path, line: &[&str]) -> Vec<String> {
    let words: Vec<String> = line.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        r#"source '{}'
f=$(complete -p unitsmith | sed -n 's/.*-F \([^ ]*\).*/\1/p')
COMP_WORDS=({})
COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))
COMP_LINE="${{COMP_WORDS[*]}}"
COMP_POINT=${{#COMP_LINE}}
"$f" unitsmith "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
        script.display(),
        words.join(" ")
    );
    let o = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .expect("bash");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut got: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    got.sort();
    got
}

#[test]
fn bash_completes_commands_and_options() {
    let dir = std::env::temp_dir().join(format!("unitsmith-compl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("unitsmith");
    std::fs::write(&script, completion_script("bash")).unwrap();
    assert_eq!(
        bash_completes(&script, &["unitsmith", "re"]),
        ["reconcile", "reload"]
    );
    assert_eq!(
        bash_completes(&script, &["unitsmith", "reload", "--restart-"]),
        ["--restart-changed"]
    );
    assert_eq!(
        bash_completes(&script, &["unitsmith", "envgate", "p"]),
        ["populate"]
    );
    // Plumbing is not offered.
    assert_eq!(
        bash_completes(&script, &["unitsmith", "comp"]),
        Vec::<String>::new()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// zsh and fish scripts: generated, name the commands, and (where the shell is installed)
/// parse. A shell that is missing is said, not silently passed.
#[test]
fn zsh_and_fish_scripts_parse() {
    for (shell, check) in [("zsh", &["-n"][..]), ("fish", &["--no-execute"][..])] {
        let script = completion_script(shell);
        assert!(
            script.contains("reconcile") && script.contains("populate"),
            "{shell}"
        );
        let path =
            std::env::temp_dir().join(format!("unitsmith-compl-{}.{shell}", std::process::id()));
        std::fs::write(&path, &script).unwrap();
        match Command::new(shell).args(check).arg(&path).output() {
            Ok(o) => assert!(
                o.status.success(),
                "{shell}: {}",
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => eprintln!("SKIPPED: {shell} syntax check: {shell} not runnable here ({e})"),
        }
        let _ = std::fs::remove_file(&path);
    }
}

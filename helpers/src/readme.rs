//! The README's command examples, held to the real command line (tests only): every
//! `unitsmith ...` line of a code block parses with the clap definitions, every synopsis and
//! inline mention names a command that exists and only options it takes, every option the
//! README names on its own exists (in the helper, or in the generator's page, which
//! generator/tests/cli.rs holds to the generator's `--help`), and the Podman release it names
//! is the one `--version` prints.

use std::collections::BTreeSet;

use clap::{Command, CommandFactory, Parser};

fn readme() -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The README split into code-block lines and the rest (prose, where inline code lives).
/// Console blocks count only their `$ ` lines: the rest is output.
fn code_lines_and_prose(text: &str) -> (Vec<String>, String) {
    let mut code = Vec::new();
    let mut prose = String::new();
    let mut fence: Option<String> = None;
    let mut prev_blank = true;
    let mut in_indented = false;
    for line in text.lines() {
        if let Some(lang) = &fence {
            if line.starts_with("```") {
                fence = None;
            } else if lang == "console" {
                if let Some(cmd) = line.strip_prefix("$ ") {
                    code.push(cmd.to_string());
                }
            } else {
                code.push(line.to_string());
            }
            continue;
        }
        if let Some(lang) = line.strip_prefix("```") {
            fence = Some(lang.trim().to_string());
            continue;
        }
        // An indented code block starts after a blank line and goes on while indented.
        in_indented = line.starts_with("    ") && (prev_blank || in_indented);
        if in_indented {
            code.push(line.trim_start().to_string());
        } else {
            prose.push_str(line);
            prose.push('\n');
        }
        prev_blank = line.trim().is_empty();
    }
    (code, prose)
}

/// The inline code spans of `prose` (a span may go over a line break).
fn spans(prose: &str) -> Vec<String> {
    prose
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// From the first `unitsmith` command word in `text` to the end (comments cut): `None` when
/// there is no such word (`unitsmith-generator`, `unitsmith(1)` are other things, and so are
/// a comment, `# unitsmith env gate stub`, and `--version`'s `unitsmith 0.1.0 (...)`).
fn command_in(text: &str) -> Option<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let start = words.iter().position(|w| {
        let bare = w.rsplit(['/', '=', '+']).next().unwrap_or(w);
        bare == "unitsmith"
    })?;
    if words[..start].iter().any(|w| w.starts_with('#'))
        || words
            .get(start + 1)
            .is_some_and(|w| w.starts_with(|c: char| c.is_ascii_digit()))
    {
        return None;
    }
    let mut out: Vec<&str> = vec!["unitsmith"];
    for w in &words[start + 1..] {
        if w.starts_with('#') || *w == "&&" || *w == ";" {
            break;
        }
        out.push(w);
    }
    (out.len() > 1).then(|| out.join(" "))
}

/// A synopsis (`[--user] [UNIT...]`) rather than an invocation.
fn is_synopsis(cmd: &str) -> bool {
    cmd.contains('[') || cmd.contains("...")
}

/// Descend through the subcommand names that start `words`; the command reached and the rest.
fn walk<'a>(root: &'a Command, words: &[&'a str]) -> (&'a Command, Vec<String>) {
    let mut cmd = root;
    let mut path = Vec::new();
    let mut i = 0;
    while i < words.len() {
        match cmd.find_subcommand(words[i]) {
            Some(sub) => {
                cmd = sub;
                path.push(words[i].to_string());
                i += 1;
            }
            None => break,
        }
    }
    (cmd, path)
}

/// The option spellings `cmd` takes (its own and the global ones), `--long` and `-s`.
fn options_of(cmd: &Command) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for a in cmd.get_arguments() {
        if let Some(l) = a.get_long() {
            out.insert(format!("--{l}"));
        }
        if let Some(s) = a.get_short() {
            out.insert(format!("-{s}"));
        }
    }
    out
}

/// The option words of a synopsis or a mention: `[--restart` → `--restart`, `--json]` →
/// `--json`, `-q|--quiet` → both.
fn option_words(words: &[&str]) -> Vec<String> {
    words
        .iter()
        .flat_map(|w| w.split('|'))
        .map(|w| w.trim_matches(|c| c == '[' || c == ']' || c == '.' || c == ','))
        .map(|w| w.split('=').next().unwrap_or(w))
        .filter(|w| w.starts_with('-') && w.len() > 1 && *w != "--")
        .map(str::to_string)
        .collect()
}

/// The option spellings of unitsmith-generator(8), its OPTIONS section with Quadlet's.
fn generator_options() -> BTreeSet<String> {
    let p = crate::manpages::man_dir().join("unitsmith-generator.8");
    let page = std::fs::read_to_string(p).unwrap();
    let start = page.find(".SH OPTIONS\n").unwrap();
    let section = &page[start..];
    let section = &section[..section[1..].find("\n.SH ").unwrap_or(section.len())];
    section
        .replace("\\-", "-")
        .split(|c: char| c.is_whitespace() || c == '"' || c == ',')
        .filter(|w| {
            w.starts_with('-')
                && w.len() > 1
                && w[1..]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> Command {
        let mut c = crate::Cli::command();
        c.build();
        c
    }

    #[test]
    fn code_block_command_lines_parse() {
        let (code, _) = code_lines_and_prose(&readme());
        let mut parsed = 0;
        let mut bad = Vec::new();
        for line in &code {
            let Some(cmd) = command_in(line) else {
                continue;
            };
            if is_synopsis(&cmd) {
                continue; // checked with the mentions
            }
            parsed += 1;
            if let Err(e) = crate::Cli::try_parse_from(cmd.split_whitespace()) {
                use clap::error::ErrorKind::{DisplayHelp, DisplayVersion};
                if !matches!(e.kind(), DisplayHelp | DisplayVersion) {
                    bad.push(format!(
                        "{cmd}\n    {}",
                        e.to_string().lines().next().unwrap_or("")
                    ));
                }
            }
        }
        assert!(
            parsed >= 5,
            "found only {parsed} command lines: is the extraction broken?"
        );
        assert!(
            bad.is_empty(),
            "README command lines the CLI rejects:\n{}",
            bad.join("\n")
        );
    }

    #[test]
    fn synopses_and_mentions_name_real_commands_and_options() {
        let root = root();
        let (code, prose) = code_lines_and_prose(&readme());
        let mentions: Vec<String> = code
            .iter()
            .filter_map(|l| command_in(l))
            .filter(|c| is_synopsis(c))
            .chain(spans(&prose).iter().filter_map(|s| command_in(s)))
            .collect();
        assert!(mentions.len() >= 10, "{mentions:?}");
        let mut bad = Vec::new();
        for m in &mentions {
            let words: Vec<&str> = m.split_whitespace().skip(1).collect();
            let (cmd, path) = walk(&root, &words);
            if path.is_empty() && !words.first().is_some_and(|w| w.starts_with('-')) {
                bad.push(format!("{m}: no such command"));
                continue;
            }
            let known = options_of(cmd);
            for o in option_words(&words[path.len()..]) {
                if !known.contains(&o) {
                    bad.push(format!("{m}: {} takes no {o}", cmd.get_name()));
                }
            }
        }
        assert!(
            bad.is_empty(),
            "README mentions that do not match the CLI:\n{}",
            bad.join("\n")
        );
    }

    #[test]
    fn every_option_the_readme_names_exists() {
        let root = root();
        let mut known = generator_options();
        let mut stack = vec![&root];
        while let Some(c) = stack.pop() {
            known.extend(options_of(c));
            stack.extend(c.get_subcommands());
        }
        let (_, prose) = code_lines_and_prose(&readme());
        let mut bad = Vec::new();
        let mut seen = 0;
        for s in spans(&prose) {
            if !s.starts_with('-') {
                continue;
            }
            seen += 1;
            let first: Vec<&str> = s.split_whitespace().take(1).collect();
            for o in option_words(&first) {
                if !known.contains(&o) {
                    bad.push(o);
                }
            }
        }
        assert!(seen >= 10, "found only {seen} option mentions");
        assert!(
            bad.is_empty(),
            "options the README names that nothing takes: {bad:?}"
        );
    }

    #[test]
    fn the_podman_release_is_the_one_version_prints() {
        let text = readme();
        let ours = unitsmith_generator::quadlet_of_podman!();
        let named: Vec<&str> = text
            .match_indices("Podman ")
            .map(|(i, _)| {
                let rest = &text[i + 7..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                    .unwrap_or(rest.len());
                rest[..end].trim_end_matches('.')
            })
            .filter(|v| v.matches('.').count() == 2)
            .collect();
        assert!(
            !named.is_empty(),
            "the README names the Podman release it matches"
        );
        assert!(
            named.iter().all(|v| *v == ours),
            "README: {named:?}, --version: {ours}"
        );
    }

    #[test]
    fn extraction() {
        let text = "a `unitsmith reload --json` b `--user`\nand `unitsmith-generator` x\n\n    unitsmith lock -- /bin/true\n\n```console\n$ unitsmith doctor\nunitsmith reload is output\n```\n";
        let (code, prose) = code_lines_and_prose(text);
        assert_eq!(code, ["unitsmith lock -- /bin/true", "unitsmith doctor"]);
        assert_eq!(
            spans(&prose),
            ["unitsmith reload --json", "--user", "unitsmith-generator"]
        );
        assert_eq!(
            command_in("ExecStart=/usr/bin/unitsmith lock -- x # y").as_deref(),
            Some("unitsmith lock -- x")
        );
        assert_eq!(
            command_in("ExecCondition=+unitsmith envgate check").as_deref(),
            Some("unitsmith envgate check")
        );
        assert_eq!(command_in("unitsmith-generator --dry-run"), None);
        assert_eq!(command_in("# unitsmith env gate stub"), None);
        assert_eq!(
            command_in("unitsmith 0.1.0 (Quadlet of Podman 5.8.2)"),
            None
        );
        assert_eq!(
            option_words(&["[-q|--quiet]", "[--timeout", "5s]", "--", "--user,"]),
            ["-q", "--quiet", "--timeout", "--user"]
        );
    }
}

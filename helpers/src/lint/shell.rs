//! What an `Exec*=` line runs: the command words, looking through the usual wrappers
//! (`env`, `timeout 5`, `nice`, ...) and into `sh -c 'SCRIPT'` scripts, to find the commands
//! the rules care about (`sleep`, `pkill`, `rm` of a lock file).

use unitsmith_generator::split;

/// An `Exec*=` value: its prefixes (`-@:+!|`) and its words (systemd's splitting).
pub struct ExecLine {
    pub prefixes: String,
    pub argv: Vec<String>,
}

pub fn parse_exec(value: &str) -> Option<ExecLine> {
    let v = value.trim_start();
    let cut = v.find(|c: char| !"-@:+!|".contains(c)).unwrap_or(v.len());
    let (prefixes, rest) = v.split_at(cut);
    let argv = split::split_exec(rest).ok()?;
    if argv.is_empty() {
        return None;
    }
    Some(ExecLine {
        prefixes: prefixes.to_string(),
        argv,
    })
}

const SHELLS: &[&str] = &["sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "busybox"];
/// Wrappers that run the rest of their arguments as a command, and how many of their
/// non-option arguments come before it.
const WRAPPERS: &[(&str, usize)] = &[
    ("env", 0),
    ("nice", 0),
    ("ionice", 0),
    ("nohup", 0),
    ("setsid", 0),
    ("stdbuf", 0),
    ("systemd-cat", 0),
    ("chronic", 0),
    ("timeout", 1),
    ("chrt", 1),
    ("taskset", 1),
    ("flock", 1),
];

pub fn basename(w: &str) -> &str {
    w.rsplit('/').next().unwrap_or(w)
}

/// The simple commands a command line runs: the line itself (through wrappers) and, for a
/// shell with `-c`, each command of its script. Each is a list of words; shell syntax is
/// understood only as far as separators (`;`, `&&`, `||`, `|`, `&`, newlines, `(`/`)`,
/// `{`/`}`, backquotes and `$(`) and keywords (`do`, `then`, `while`, ...).
pub fn commands(argv: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    collect(argv, &mut out, 0);
    out
}

fn collect(argv: &[String], out: &mut Vec<Vec<String>>, depth: usize) {
    if argv.is_empty() || depth > 4 {
        return;
    }
    let cmd = basename(&argv[0]);
    if SHELLS.contains(&cmd) {
        let args = if cmd == "busybox" && argv.get(1).is_some_and(|a| SHELLS.contains(&a.as_str()))
        {
            &argv[1..]
        } else {
            argv
        };
        if let Some(i) = args.iter().position(|a| {
            a == "-c" || (a.starts_with('-') && !a.starts_with("--") && a.contains('c'))
        }) {
            if let Some(script) = args.get(i + 1) {
                out.push(argv.to_vec());
                for c in script_commands(script) {
                    collect(&c, out, depth + 1);
                }
                return;
            }
        }
    }
    if let Some(&(_, skip)) = WRAPPERS.iter().find(|(w, _)| *w == cmd) {
        out.push(argv.to_vec());
        let mut rest = &argv[1..];
        let mut positional = 0;
        while let Some(a) = rest.first() {
            if a.starts_with('-') || (cmd == "env" && a.contains('=')) {
                rest = &rest[1..];
            } else if positional < skip {
                positional += 1;
                rest = &rest[1..];
            } else {
                break;
            }
        }
        collect(rest, out, depth + 1);
        return;
    }
    out.push(argv.to_vec());
}

const KEYWORDS: &[&str] = &[
    "do", "then", "else", "elif", "!", "exec", "time", "command", "if", "while", "until",
];

/// The simple commands of a shell script, roughly: split at separators, keywords dropped
/// from the front (`while`/`until` are kept as a command of their own so loops are seen).
pub fn script_commands(script: &str) -> Vec<Vec<String>> {
    let mut cmds: Vec<Vec<String>> = Vec::new();
    let mut cur: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let flush_word = |word: &mut String, cur: &mut Vec<String>| {
        if !word.is_empty() {
            cur.push(std::mem::take(word));
        }
    };
    let flush_cmd = |cur: &mut Vec<String>, cmds: &mut Vec<Vec<String>>| {
        while let Some(first) = cur.first() {
            if KEYWORDS.contains(&first.as_str()) {
                let kw = cur.remove(0);
                if kw == "while" || kw == "until" {
                    cmds.push(vec![kw]);
                }
            } else {
                break;
            }
        }
        if !cur.is_empty() {
            cmds.push(std::mem::take(cur));
        }
    };
    let mut chars = script.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some('"') if c == '\\' => {
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            }
            Some(_) => word.push(c),
            None => match c {
                '\'' | '"' => quote = Some(c),
                '\\' => {
                    if let Some(n) = chars.next() {
                        word.push(n);
                    }
                }
                ' ' | '\t' => flush_word(&mut word, &mut cur),
                ';' | '&' | '|' | '\n' | '(' | ')' | '`' | '{' | '}' => {
                    flush_word(&mut word, &mut cur);
                    flush_cmd(&mut cur, &mut cmds);
                }
                '$' if chars.peek() == Some(&'(') => {
                    chars.next();
                    flush_word(&mut word, &mut cur);
                    flush_cmd(&mut cur, &mut cmds);
                }
                '#' if word.is_empty() => {
                    // a comment, to the end of the line
                    for n in chars.by_ref() {
                        if n == '\n' {
                            break;
                        }
                    }
                    flush_cmd(&mut cur, &mut cmds);
                }
                c => word.push(c),
            },
        }
    }
    flush_word(&mut word, &mut cur);
    flush_cmd(&mut cur, &mut cmds);
    cmds
}

/// Does this command line run one of `names` (as a command, anywhere in it)?
pub fn runs(argv: &[String], names: &[&str]) -> Option<String> {
    commands(argv).into_iter().find_map(|c| {
        names
            .iter()
            .find(|n| basename(&c[0]) == **n)
            .map(|n| n.to_string())
    })
}

/// The lock or pid files an `rm` in this command line deletes.
pub fn removed_lock_files(argv: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for c in commands(argv) {
        if basename(&c[0]) != "rm" {
            continue;
        }
        for a in c.iter().skip(1).filter(|a| !a.starts_with('-')) {
            if is_lock_file(a) {
                out.push(a.clone());
            }
        }
    }
    out
}

/// `*.lock`, `*.lck`, `*.pid`, `LCK..*`, a file name with a word starting with "lock"
/// (`.X0-lock`, `lockfile`), or anything under /run/lock or /var/lock.
pub fn is_lock_file(path: &str) -> bool {
    let base = basename(path).to_ascii_lowercase();
    base.ends_with(".pid")
        || base.ends_with(".lck")
        || base.starts_with("lck..")
        || base
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| w.starts_with("lock"))
        || path.starts_with("/run/lock/")
        || path.starts_with("/var/lock/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(v: &str) -> Vec<String> {
        parse_exec(v).unwrap().argv
    }

    #[test]
    fn prefixes_and_words() {
        let e = parse_exec("-@/usr/bin/pkill pkill -f sched").unwrap();
        assert_eq!(e.prefixes, "-@");
        assert_eq!(e.argv, ["/usr/bin/pkill", "pkill", "-f", "sched"]);
    }

    #[test]
    fn finds_commands_through_wrappers_and_scripts() {
        assert_eq!(
            runs(&argv("/usr/bin/pkill -f sched"), &["pkill", "killall"]).as_deref(),
            Some("pkill")
        );
        assert_eq!(
            runs(
                &argv("/usr/bin/env FOO=1 killall -q x"),
                &["pkill", "killall"]
            )
            .as_deref(),
            Some("killall")
        );
        assert_eq!(
            runs(&argv("timeout 5 /bin/sleep 10"), &["sleep"]).as_deref(),
            Some("sleep")
        );
        assert_eq!(
            runs(
                &argv("/bin/sh -c 'until test -e /run/ready; do sleep 1; done'"),
                &["sleep"]
            )
            .as_deref(),
            Some("sleep")
        );
        assert_eq!(
            runs(
                &argv("/bin/bash -euc \"while ! ping -c1 x; do :; done\""),
                &["while", "until"]
            )
            .as_deref(),
            Some("while")
        );
        assert_eq!(
            runs(
                &argv("/bin/sh -c 'x=$(pgrep sched) && kill $x'"),
                &["pgrep"]
            )
            .as_deref(),
            Some("pgrep")
        );
        assert!(runs(&argv("/bin/echo sleep"), &["sleep"]).is_none());
        assert!(runs(&argv("/bin/sh -c 'echo \"sleep 1\"'"), &["sleep"]).is_none());
        assert!(runs(&argv("/bin/sh -c 'true # sleep 5'"), &["sleep"]).is_none());
    }

    #[test]
    fn lock_files() {
        assert_eq!(
            removed_lock_files(&argv("/bin/rm -f /var/run/sched/sched.lock")),
            ["/var/run/sched/sched.lock"]
        );
        assert_eq!(
            removed_lock_files(&argv("/bin/sh -c 'rm -f /run/app.pid; exec app'")),
            ["/run/app.pid"]
        );
        assert!(removed_lock_files(&argv("/bin/rm -rf /var/cache/app/tmp")).is_empty());
        assert!(removed_lock_files(&argv("/bin/sh -c 'echo /x.lock'")).is_empty());
        assert!(is_lock_file("/tmp/.X0-lock"));
        assert!(is_lock_file("/var/lock/LCK..ttyS0"));
        assert!(is_lock_file("/run/app/lockfile"));
        assert!(!is_lock_file("/var/lib/app/blocks.db"));
        assert!(!is_lock_file("/var/lib/app/clock.conf"));
    }
}

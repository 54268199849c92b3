//! Unit-file model tests: systemd.syntax(7) behaviour, Podman's lookups, serialisation.

use super::*;

fn parse(text: &str) -> UnitFile {
    UnitFile::parse(
        text.as_bytes(),
        Path::new("/etc/containers/systemd/t.container"),
    )
    .unwrap()
}

fn parse_err(data: &[u8]) -> ParseError {
    UnitFile::parse(data, Path::new("/x/bad.container")).unwrap_err()
}

#[test]
fn sections_keys_and_comments() {
    let u = parse("# lead\n[Unit]\nDescription=A thing\n; semicolon comment\n\n[Service]\nExecStart=/bin/true\n");
    assert_eq!(u.list_groups(), ["Unit", "Service"]);
    assert_eq!(u.lookup("Unit", "Description").as_deref(), Some("A thing"));
    assert_eq!(u.lookup_last("Service", "ExecStart"), Some("/bin/true"));
    assert_eq!(u.location("Service", "ExecStart").map(|(_, l)| l), Some(7));
}

#[test]
fn whitespace_around_keys_and_values_is_trimmed() {
    let u = parse("[A]\n  Key  =   value with  spaces   \n");
    assert_eq!(u.lookup_last("A", "Key"), Some("value with  spaces"));
}

#[test]
fn continuation_lines_join_with_a_space_and_skip_comments() {
    // systemd.syntax(7): the backslash is replaced by a space; comment lines inside are ignored.
    let u = parse("[Section A]\nKeyOne=value 1\\\n# a comment\nvalue 1 continued\nKeyTwo=x\n");
    assert_eq!(
        u.lookup_last("Section A", "KeyOne"),
        Some("value 1 value 1 continued")
    );
    assert_eq!(u.lookup_last("Section A", "KeyTwo"), Some("x"));
    assert_eq!(u.location("Section A", "KeyOne").map(|(_, l)| l), Some(2));
}

#[test]
fn an_escaped_backslash_is_not_a_continuation() {
    let u = parse("[A]\nK=ends in \\\\\nL=next\n");
    assert_eq!(u.lookup_last("A", "K"), Some("ends in \\\\"));
    assert_eq!(u.lookup_last("A", "L"), Some("next"));
}

#[test]
fn continuation_at_end_of_file_keeps_what_it_has() {
    let u = parse("[A]\nK=one \\");
    assert_eq!(u.lookup_last("A", "K"), Some("one"));
}

fn parse_quadlet(text: &str) -> UnitFile {
    UnitFile::parse_quadlet(
        text.as_bytes(),
        Path::new("/etc/containers/systemd/t.container"),
    )
    .unwrap()
}

/// The same text read by both rules: (systemd's value, Podman's value) of `[A] K`.
fn both_rules(text: &str) -> (Option<String>, Option<String>) {
    let value = |u: UnitFile| u.lookup_last("A", "K").map(str::to_string);
    (value(parse(text)), value(parse_quadlet(text)))
}

#[test]
fn podman_joins_continuation_lines_with_nothing_between() {
    // Podman's Quadlet: `Environment=A=1\` + `B=2` is one variable, `A=1B=2`.
    let (systemd, podman) = both_rules("[A]\nK=A=1\\\nB=2\n");
    assert_eq!(systemd.as_deref(), Some("A=1 B=2"));
    assert_eq!(podman.as_deref(), Some("A=1B=2"));
    // A blank before the backslash is kept; the next line's indentation is not.
    let (systemd, podman) = both_rules("[A]\nK=--a \\\n    --b\n");
    assert_eq!(systemd.as_deref(), Some("--a  --b"));
    assert_eq!(podman.as_deref(), Some("--a --b"));
    let u = parse_quadlet("[A]\nJ=x\nK=a\\\nb\\\nc\nL=y\n");
    assert_eq!(u.lookup_last("A", "K"), Some("abc"));
    assert_eq!(u.location("A", "K").map(|(_, l)| l), Some(3));
    assert_eq!(u.location("A", "L").map(|(_, l)| l), Some(6));
}

#[test]
fn podman_skips_blank_lines_inside_a_continuation() {
    // systemd ends the continuation at the blank line; Podman reads on past it (and past
    // comments, as both do).
    let (systemd, podman) = both_rules("[A]\nK=a\\\n\n# c\nL=x\n");
    assert_eq!(systemd.as_deref(), Some("a"));
    assert_eq!(podman.as_deref(), Some("aL=x"));
    // Outside a continuation a blank line is a blank line, under either rule.
    let u = parse_quadlet("[A]\nK=a\n\nL=b\n");
    assert_eq!(u.lookup_last("A", "L"), Some("b"));
}

#[test]
fn podman_continues_after_an_escaped_backslash_too() {
    // Podman drops the last backslash of `\\` and joins; systemd reads an escaped backslash.
    let text = "[A]\nK=x\\\\\nL=y\n";
    let (systemd, podman) = both_rules(text);
    assert_eq!(systemd.as_deref(), Some("x\\\\"));
    assert_eq!(podman.as_deref(), Some("x\\L=y"));
    assert_eq!(parse(text).lookup_last("A", "L"), Some("y"));
    // At the end of the file the backslash is dropped and what was read is kept.
    assert_eq!(both_rules("[A]\nK=one\\").1.as_deref(), Some("one"));
}

#[test]
fn a_comment_ending_in_a_backslash_continues_nothing() {
    for u in [
        parse("[A]\n# c \\\nK=v\n"),
        parse_quadlet("[A]\n# c \\\nK=v\n"),
    ] {
        assert_eq!(u.lookup_last("A", "K"), Some("v"));
    }
}

#[test]
fn repeated_keys_are_kept_in_order_and_empty_resets() {
    let u = parse("[C]\nEnv=a\nEnv=b\nEnv=\nEnv=c\nEnv=d\n");
    assert_eq!(u.lookup_all("C", "Env"), ["c", "d"]);
    assert_eq!(u.lookup_last("C", "Env"), Some("d"));
    assert_eq!(u.list_keys("C"), ["Env"]);
}

#[test]
fn repeated_sections_continue_the_first() {
    let u = parse("[A]\nX=1\n[B]\nY=2\n[A]\nX=3\n");
    assert_eq!(u.list_groups(), ["A", "B"]);
    assert_eq!(u.lookup_all("A", "X"), ["1", "3"]);
}

#[test]
fn lookup_strips_one_pair_of_double_quotes_only() {
    let u = parse("[A]\nQ=\"quoted\"\nU=\"unbalanced\nI=a \"b\" c\n");
    assert_eq!(u.lookup("A", "Q").as_deref(), Some("quoted"));
    assert_eq!(u.lookup("A", "U").as_deref(), Some("\"unbalanced"));
    assert_eq!(u.lookup("A", "I").as_deref(), Some("a \"b\" c"));
}

#[test]
fn specifiers_are_left_alone() {
    let u = parse("[A]\nName=systemd-%N\nPct=100%%\n");
    assert_eq!(u.lookup_last("A", "Name"), Some("systemd-%N"));
    assert_eq!(u.lookup_last("A", "Pct"), Some("100%%"));
}

#[test]
fn booleans_and_integers() {
    let u = parse("[A]\nB1=Yes\nB2=on\nB3=0\nB4=maybe\nN1=0x10\nN2=010\nN3=-5\nN4=x\n");
    assert_eq!(u.lookup_bool("A", "B1"), Some(true));
    assert_eq!(u.lookup_bool("A", "B2"), Some(true));
    assert_eq!(u.lookup_bool("A", "B3"), Some(false));
    assert_eq!(u.lookup_bool("A", "B4"), Some(false));
    assert!(u.lookup_bool_or("A", "Missing", true));
    assert_eq!(u.lookup_int("A", "N1", 0), 16);
    assert_eq!(u.lookup_int("A", "N2", 0), 8);
    assert_eq!(u.lookup_int("A", "N3", 0), -5);
    assert_eq!(u.lookup_int("A", "N4", 7), 7);
    assert_eq!(u.lookup_u32("A", "N3", 9), 9);
}

#[test]
fn word_splitting_lookups() {
    let u = parse("[A]\nArgs=one \"two words\" 'three' \\x41\nStrv=a \"b c\" d\\e\nKV=A=1 \"B=two words\" C\nKV=A=3\n");
    assert_eq!(
        u.lookup_all_args("A", "Args"),
        ["one", "two words", "three", "A"]
    );
    assert_eq!(u.lookup_all_strv("A", "Strv"), ["a", "b c", "d\\e"]);
    let (kv, errs) = u.lookup_all_key_val("A", "KV");
    assert!(errs.is_empty());
    assert_eq!(kv, ["A=3", "B=two words", "C"]);
    // The last word of a key wins, with or without a value; keys sort bytewise.
    let u = parse("[A]\nKV=b=1 a A=x\nKV=a=2 b =e\n");
    assert_eq!(u.lookup_all_key_val("A", "KV").0, ["=e", "A=x", "a=2", "b"]);
}

#[test]
fn bad_escapes_are_reported_not_fatal() {
    let u = parse("[A]\nExec=foo \\q\nKV=A=\\q B=1\n");
    assert!(u.lookup_last_args("A", "Exec").is_err());
    let (kv, errs) = u.lookup_all_key_val("A", "KV");
    assert_eq!(errs.len(), 1);
    assert!(kv.is_empty());
}

#[test]
fn errors_name_file_and_line() {
    let e = parse_err(b"[A]\nok=1\nthis is not valid\n");
    assert_eq!(e.line, 3);
    assert!(e.to_string().starts_with("/x/bad.container:3: "), "{e}");
    assert!(parse_err(b"Key=before any section\n")
        .message
        .contains("before any [section]"));
    assert!(parse_err(b"[Unterminated\n")
        .message
        .contains("without its closing ']'"));
    assert!(parse_err(b"[A] trailing\n")
        .message
        .contains("text after the ']'"));
    assert!(parse_err(b"[A]\n=novalue\n")
        .message
        .contains("not a KEY=VALUE assignment"));
    assert_eq!(parse_err(b"[A]\nK=\xff\xfe\n").line, 2);
    assert!(parse_err(b"\x00\x01garbage").message.contains("NUL"));
}

/// A line that does not parse is never quoted, not even in part (issue 20: a link to
/// /etc/shadow or to a 0600 `KEY=secret` file had its first line quoted into a stub every
/// user can read and into the kernel log).
#[test]
fn errors_never_quote_the_line() {
    let secret = "s3cr3t";
    for text in [
        format!("root:$y$j9T${secret}:19000:0:99999:7:::\n"),
        format!("PASSWORD={secret}\n"),
        format!("[{secret}\n"),
        format!("[A] {secret}\n"),
        format!("[A\u{1}{secret}]\n"),
        format!("[A]\n{secret}\n"),
        format!("[A]\n={secret}\n"),
        format!("# fine\n[A]\nK=1\nPOSTGRES_PASSWORD: {secret}\n"),
    ] {
        let e = parse_err(text.as_bytes());
        assert!(!e.to_string().contains(secret), "{text:?}: {e}");
        assert!(e.line > 0, "{text:?}: {e}");
    }
}

#[test]
fn empty_and_comment_only_files_parse() {
    let u = parse("");
    assert!(u.lookup_last("Container", "Image").is_none());
    let u = parse("# only a comment\n");
    assert_eq!(u.to_text(), "# only a comment\n");
}

#[test]
fn huge_lines_are_fine() {
    let long = "x".repeat(200_000);
    let u = parse(&format!("[A]\nK={long}\n"));
    assert_eq!(u.lookup_last("A", "K").map(str::len), Some(200_000));
    let e = parse_err(format!("[A]\n{long}\n").as_bytes());
    assert_eq!(e.line, 2);
    assert!(e.message.len() < 300, "message is clipped");
}

#[test]
fn a_bom_is_skipped() {
    let u = UnitFile::parse(b"\xef\xbb\xbf[A]\nK=v\n", Path::new("/b")).unwrap();
    assert_eq!(u.lookup_last("A", "K"), Some("v"));
}

#[test]
fn serialise_then_parse_is_stable() {
    let text = "# head\n\n[Unit]\nDescription=x\n# mid\nAfter=a.service b.service\n\n[Service]\nExecStart=/bin/echo \"a b\" \\\n  c\nEnvironment=A=1\nEnvironment=\n";
    let u = parse(text);
    let again = parse(&u.to_text());
    for g in u.list_groups() {
        for k in u.list_keys(g) {
            assert_eq!(u.lookup_all(g, k), again.lookup_all(g, k), "{g}/{k}");
        }
    }
    assert_eq!(u.to_text(), again.to_text());
}

#[test]
fn values_that_would_read_back_differently_are_protected() {
    let mut u = UnitFile::new("x.service");
    u.add("A", "Odd", "ends in backslash\\");
    u.add("A", "Next", "1");
    let again = parse(&u.to_text());
    assert_eq!(again.lookup_last("A", "Next"), Some("1"));
}

#[test]
fn editing() {
    let mut u = parse("[Unit]\nA=1\nA=2\n");
    u.set("Unit", "A", "3");
    assert_eq!(u.lookup_all("Unit", "A"), ["1", "3"]);
    u.unset("Unit", "A");
    assert!(!u.has_key("Unit", "A"));
    u.prepend("Unit", "First", "x");
    u.add("Unit", "Second", "y");
    assert_eq!(u.list_keys("Unit"), ["First", "Second"]);
    u.add_cmdline("Service", "ExecStart", &["/bin/echo", "a b", "c\"d"]);
    assert_eq!(
        u.lookup_last("Service", "ExecStart"),
        Some("/bin/echo \"a\\x20b\" \"c\\\"d\"")
    );
    u.rename_group("Service", "X-Service");
    assert!(u.has_group("X-Service") && !u.has_group("Service"));
    u.rename_group("X-Service", "Unit");
    assert_eq!(u.list_groups(), ["Unit"]);
}

#[test]
fn merge_keeps_locations_of_drop_ins() {
    let mut u = parse("[Container]\nImage=a\n");
    let d = UnitFile::parse(b"\n[Container]\nImage=b\n", Path::new("/d/10-x.conf")).unwrap();
    u.merge(&d);
    assert_eq!(u.lookup_last("Container", "Image"), Some("b"));
    let (p, l) = u.location("Container", "Image").unwrap();
    assert_eq!((p, l), (Path::new("/d/10-x.conf"), 3));
}

#[test]
fn drop_in_directories_most_specific_first() {
    let u = UnitFile::new("foo-bar-baz@inst.container");
    assert_eq!(
        u.dropin_dirs(),
        [
            "foo-bar-baz@inst.container.d",
            "foo-bar-baz@.container.d",
            "foo-bar-@.container.d",
            "foo-bar-.container.d",
            "foo-@.container.d",
            "foo-.container.d",
            "container.d"
        ]
    );
    assert_eq!(
        UnitFile::new("web.container").dropin_dirs(),
        ["web.container.d", "container.d"]
    );
}

#[test]
fn template_parts() {
    assert_eq!(
        UnitFile::new("a@b.container").template_parts(),
        ("a", "b", true)
    );
    assert_eq!(
        UnitFile::new("a@.container").template_parts(),
        ("a", "", true)
    );
    assert_eq!(
        UnitFile::new("a.container").template_parts(),
        ("a", "", false)
    );
}

/// `count` byte strings of up to `max_len - 1` bytes drawn from `alphabet`, the same every run
/// (xorshift from `seed`).
fn random_inputs(seed: u64, alphabet: &[u8], max_len: u64, count: usize) -> Vec<Vec<u8>> {
    let mut state = seed;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..count)
        .map(|_| {
            let len = next() % max_len;
            (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect()
        })
        .collect()
}

/// Arbitrary bytes never panic under either rule, and whatever parses serialises to text
/// that systemd parses the same.
#[test]
fn random_bytes_never_panic_and_round_trip() {
    let alphabet: &[u8] = b"[]=#;\\\n \t\"'%abcAB01\xff\x00\r";
    let rules = [Continuation::Systemd, Continuation::Podman];
    for (i, data) in random_inputs(0x9e3779b97f4a7c15, alphabet, 64, 20_000)
        .into_iter()
        .enumerate()
    {
        if let Ok(u) = UnitFile::parse_as(&data, Path::new("/r"), rules[i % 2]) {
            let text = u.to_text();
            let again = UnitFile::parse(text.as_bytes(), Path::new("/r"))
                .unwrap_or_else(|e| panic!("re-parse of {text:?} (from {data:?}) failed: {e}"));
            assert_eq!(again.to_text(), text, "from {data:?}");
        }
    }
}

#[test]
fn fuzz_regression_lone_backslash_line() {
    let data = b"\t\t\t\t\t\n\n[x]\n\t\t\t\t\t\\\n\n[x]\n\t\t\n";
    let u = UnitFile::parse(data, Path::new("/r")).unwrap();
    let text = u.to_text();
    let again = UnitFile::parse(text.as_bytes(), Path::new("/r")).unwrap();
    assert_eq!(again.to_text(), text, "{text:?}");
}

#[test]
fn find_newline_agrees_with_a_byte_scan() {
    // Bytes near '\n' (and with the high bit set) are where a word-at-a-time test could err.
    let alphabet: &[u8] = b"\n\x0b\x09\x8a\x80\xff\x00a=";
    for data in random_inputs(0x2545_f491_4f6c_dd1d, alphabet, 40, 20_000) {
        let expected = data.iter().position(|&b| b == b'\n');
        assert_eq!(super::find_newline(&data), expected, "{data:?}");
    }
}

#[test]
fn load_reads_files_of_any_size() {
    let dir = std::env::temp_dir().join(format!("unitsmith-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Around the size of the stack buffer, and well beyond it.
    for size in [0, 1, 2047, 2048, 2049, 4096, 10_000] {
        let mut text = String::from("[Unit]\n");
        while text.len() < size {
            text.push_str("Description=some words to fill the file\n");
        }
        text.truncate(size.max(7));
        if size >= 2048 {
            text.push_str("\nDescription=end\n");
        }
        let path = dir.join(format!("f{size}.container"));
        std::fs::write(&path, &text).unwrap();
        // A cut line is a parse error: the same error either way.
        let loaded = UnitFile::load(&path);
        let parsed = UnitFile::parse(text.as_bytes(), &path);
        assert_eq!(loaded, parsed, "size {size}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Whatever a key, value or comment holds, each is one line of the text, and the text holds
/// no control character but tab and the newlines that end lines (systemd also ends a line at
/// `\r` and NUL: see `line_safe`).
#[test]
fn no_text_adds_a_line() {
    let evil = "x\r[Service]\rExecStartPre=/bin/evil\n[Install]\nWantedBy=multi-user.target\u{0}\u{b}\u{c}\u{1b}\u{7f}\u{85}";
    let mut u = UnitFile::new("x.service");
    u.add("Unit", "Description", evil);
    u.add("Unit", &format!("X-Key{evil}"), "1");
    u.add("Service", "Type", "oneshot");
    // The parser splits at `\n` only, as Podman's does: `\r` stays in comments and values.
    let mut from_file = parse(
        "[Unit]\n# comment\r[Service]\rExecStartPre=/bin/evil\u{b}\nA=b\r[Service]\rExecStartPre=/bin/e2\n",
    );
    from_file.merge(&u);
    for unit in [&u, &from_file] {
        let text = unit.to_text();
        assert!(
            !text
                .chars()
                .any(|c| c.is_control() && c != '\t' && c != '\n'),
            "{text:?}"
        );
        let again = parse(&text);
        assert_eq!(again.list_groups(), unit.list_groups(), "{text}");
        assert_eq!(again.list_keys("Service"), ["Type"], "{text}");
        assert!(!again.has_group("Install"), "{text}");
        assert_eq!(again.to_text(), text, "stable once escaped");
    }
    let text = u.to_text();
    assert!(
        text.contains("Description=x\\x0d[Service]\\x0dExecStartPre=/bin/evil\\x0a[Install]"),
        "{text}"
    );
}

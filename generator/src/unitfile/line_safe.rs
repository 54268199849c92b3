//! Text written into a unit file never starts a line of its own.
//!
//! systemd's unit-file reader (`read_line_full()` in src/basic/fileio.c, used by
//! `config_parse()`) ends a line at `\n`, at `\r` and at NUL. A value, key or comment holding
//! one of them would add a line to the unit: a `[Service]` header, an `ExecStartPre=` that
//! runs at boot. A file name, a link's target or a file's text can carry any of them, so the
//! serialiser writes every control character (C0 but tab, DEL, C1) as a C escape instead:
//! `\xNN` (`\u00NN` for C1). Where systemd unescapes a value (`ExecStart=` words, quoted
//! `Environment=`) it reads back the same character; elsewhere (`Description=`) the escape
//! is shown as text. Ordinary text (no control character) is written as it is, so the output
//! stays Podman's byte for byte. U+2028/U+2029 are no line end to systemd, which reads bytes,
//! nor control characters: they are left alone.

use std::borrow::Cow;
use std::fmt::Write;

/// Whether `bytes` may hold a character [`escape`] changes: a byte below 0x20 (tab included,
/// rechecked by [`escape`]), DEL, or 0xC2 (the first byte of every C1 control). Eight bytes
/// at a time: every byte of every unit written goes through it.
pub fn may_need_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Any byte of `x` below `n` (n <= 0x80), or equal to `v`: the usual word-at-a-time tests.
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGHS != 0;
    let equal = |x: u64, v: u8| below(x ^ (ONES * u64::from(v)), 1);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        if below(x, 0x20) || equal(x, 0x7f) || equal(x, 0xc2) {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == 0x7f || b == 0xc2)
}

/// Is `c` written escaped? Control characters but tab, which is whitespace inside a line.
pub fn is_escaped(c: char) -> bool {
    c.is_control() && c != '\t'
}

/// `s` with every control character but tab written as a C escape.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !may_need_escape(s.as_bytes()) || !s.chars().any(is_escaped) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !is_escaped(c) {
            out.push(c);
        } else if u32::from(c) < 0x80 {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        } else {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_control_character_but_tab_is_escaped() {
        for b in (0u32..0x20).chain([0x7f]).chain(0x80..0xa0) {
            let c = char::from_u32(b).unwrap();
            let s = format!("a{c}b");
            let escaped = escape(&s);
            if c == '\t' {
                assert_eq!(escaped, s);
                continue;
            }
            assert!(
                !escaped.chars().any(char::is_control),
                "{b:#x}: {escaped:?}"
            );
            let want = if b < 0x80 {
                format!("a\\x{b:02x}b")
            } else {
                format!("a\\u{b:04x}b")
            };
            assert_eq!(escaped, want);
        }
    }

    #[test]
    fn ordinary_text_is_borrowed() {
        for s in [
            "",
            "plain",
            "Description with spaces, tabs\tand unicode: é ° £ \u{2028}",
            "%h/path\\x20escaped already",
        ] {
            assert!(matches!(escape(s), Cow::Borrowed(_)), "{s:?}");
        }
    }

    /// The word-at-a-time test agrees with a byte scan, at every position of a chunk.
    #[test]
    fn may_need_escape_agrees_with_a_byte_scan() {
        for len in 0..20 {
            for pos in 0..len {
                for b in [
                    0x00u8, 0x09, 0x0a, 0x0d, 0x1f, 0x20, 0x7e, 0x7f, 0xc2, 0xc3, 0xff,
                ] {
                    let mut data = vec![b'x'; len];
                    data[pos] = b;
                    let want = data.iter().any(|&b| b < 0x20 || b == 0x7f || b == 0xc2);
                    assert_eq!(may_need_escape(&data), want, "{data:?}");
                }
            }
        }
    }
}

//! Positions in a file's text: saphyr gives lines and columns in characters; the text is
//! looked at in bytes.

/// Byte offsets of the start of each line (line 1 first), with YAML's line breaks (`\n`,
/// `\r\n`, `\r`).
pub(super) fn line_starts(text: &str) -> Vec<usize> {
    let b = text.as_bytes();
    let mut starts = vec![0];
    for (i, &c) in b.iter().enumerate() {
        if c == b'\n' || (c == b'\r' && b.get(i + 1) != Some(&b'\n')) {
            starts.push(i + 1);
        }
    }
    starts
}

/// The 1-based line holding byte `at`.
pub(super) fn line_of(starts: &[usize], at: usize) -> usize {
    starts.partition_point(|&s| s <= at)
}

/// The byte offset of `line` (1-based), `col` characters in.
pub(super) fn byte_at(text: &str, starts: &[usize], line: usize, col: usize) -> Option<usize> {
    let start = *starts.get(line.checked_sub(1)?)?;
    let rest = text.get(start..)?;
    match rest.char_indices().nth(col) {
        Some((i, _)) => Some(start + i),
        None => (col == rest.chars().count()).then_some(text.len()),
    }
}

pub(super) fn is_blank(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// Where the node whose event is at `at` really starts: past its properties (`&anchor`,
/// `!tag`), blanks and comments; with `indicators`, past block indicators too (`- `, `? `,
/// `: `), for `at` where the event before it ends. `None` at the end of the text.
pub(super) fn node_start(b: &[u8], mut at: usize, indicators: bool) -> Option<usize> {
    loop {
        match *b.get(at)? {
            b'&' | b'!' => {
                while at < b.len() && !is_blank(b[at]) {
                    at += 1;
                }
            }
            b'#' => {
                while at < b.len() && b[at] != b'\n' && b[at] != b'\r' {
                    at += 1;
                }
            }
            b'-' | b'?' | b':' if indicators && b.get(at + 1).is_none_or(|&c| is_blank(c)) => {
                at += 1
            }
            c if is_blank(c) => at += 1,
            _ => return Some(at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_map_to_bytes() {
        let t = "ab\r\ncé\rx\n";
        let s = line_starts(t);
        assert_eq!(s, vec![0, 4, 8, 10]);
        assert_eq!(line_of(&s, 0), 1);
        assert_eq!(line_of(&s, 3), 1);
        assert_eq!(line_of(&s, 4), 2);
        assert_eq!(line_of(&s, 9), 3);
        assert_eq!(byte_at(t, &s, 2, 1), Some(5));
        assert_eq!(byte_at(t, &s, 3, 0), Some(8));
        assert_eq!(byte_at(t, &s, 4, 0), Some(10));
        assert_eq!(byte_at(t, &s, 4, 1), None);
        assert_eq!(byte_at(t, &s, 5, 0), None);
        assert_eq!(byte_at(t, &s, 0, 0), None);
    }

    #[test]
    fn nodes_start_past_properties_comments_and_indicators() {
        let b = b"&a !t # c\n  [1]";
        assert_eq!(node_start(b, 0, false), Some(12));
        assert_eq!(node_start(b"- [1]", 0, false), Some(0));
        assert_eq!(node_start(b"- [1]", 0, true), Some(2));
        assert_eq!(node_start(b"] # c\n- - ? !t {", 1, true), Some(15));
        assert_eq!(node_start(b"-[1]", 0, true), Some(0));
        assert_eq!(node_start(b": x", 0, true), Some(2));
        assert_eq!(node_start(b"a: &x", 1, true), None);
        // A comment or a property may end the text.
        assert_eq!(node_start(b"a: # c", 2, true), None);
        assert_eq!(node_start(b"# c\r[", 0, false), Some(4));
    }
}

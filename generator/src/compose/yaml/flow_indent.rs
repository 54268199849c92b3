//! Flow collections indented as docker compose reads them.
//!
//! docker compose reads Compose files with go-yaml (v3 until compose-go 2.9, v4 since), a port
//! of libyaml, whose scanner ignores indentation inside a flow collection (`[...]`, `{...}`):
//! it neither opens nor closes blocks there (`yaml_parser_roll_indent`/`unroll_indent`: "In
//! the flow context, do nothing"). So real projects write
//!
//! ```yaml
//!     command: [
//!       "start",
//!     ]
//! ```
//!
//! with the `]` at its key's column (sentry self-hosted, the OpenTelemetry demo, wger). YAML 1.2
//! wants every line of such a collection indented past the key, and saphyr-parser holds to
//! that ("invalid indentation").
//!
//! The spaces that start a line inside a flow collection are never content: they separate
//! tokens, and a flow scalar continued on that line drops them. So such a line can be indented
//! further without changing what the file says. When saphyr refuses a file inside a flow
//! collection, [`indent_flow`] moves that collection's lines right of its opening bracket and
//! the file is read again (line numbers do not change); once the file is read, [`all_inside`]
//! checks, on that reading, that every line moved is inside a flow collection, which proves
//! that moving it changed nothing. Anything else keeps the first error.
//!
//! Why not another way: saphyr-parser 0.3.4 is the newest release and has no lenient mode;
//! its scanner is private, so its indentation cannot be told apart from the outside; a patched
//! copy of it would be a fork to keep; a pre-pass over the text would have to find flow
//! collections without a YAML scanner (a `[` in `image: a[1]` or in a block scalar is not
//! one). Here saphyr's own events say where a flow collection starts, and a small reader of
//! flow context (quotes, comments, brackets) where it ends.

use super::lines::{byte_at, is_blank, line_of, line_starts, node_start};

fn is_flow_indicator(c: u8) -> bool {
    matches!(c, b',' | b'[' | b']' | b'{' | b'}')
}

/// The bracket opening the collection whose event starts at `at` (see [`node_start`]).
fn opening_bracket(b: &[u8], at: usize, indicators: bool) -> Option<usize> {
    node_start(b, at, indicators).filter(|&i| matches!(b[i], b'[' | b'{'))
}

/// The closing quote of the quoted scalar opened at `open` (`''` is a quote in a
/// single-quoted scalar, `\` escapes in a double-quoted one); it may span lines.
fn closing_quote(b: &[u8], open: usize) -> Option<usize> {
    let quote = b[open];
    let mut i = open + 1;
    while i < b.len() {
        match b[i] {
            b'\\' if quote == b'"' => i += 1,
            b'\'' if quote == b'\'' && b.get(i + 1) == Some(&b'\'') => i += 1,
            c if c == quote => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The bracket closing the flow collection opened at `open`, read as libyaml reads flow
/// context: brackets nest; quoted scalars (which may hold brackets and span lines) start
/// where a node starts; in a plain scalar quotes are characters, and `#` starts a comment
/// only after a blank. `None` when the file ends first.
fn closing_bracket(b: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_plain = false;
    let mut after_blank = false;
    let mut i = open;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied().unwrap_or(b' ');
        match c {
            b'[' | b'{' => {
                depth += 1;
                in_plain = false;
            }
            b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
                in_plain = false;
            }
            b',' => in_plain = false,
            b'#' if !in_plain || after_blank => {
                while i + 1 < b.len() && b[i + 1] != b'\n' && b[i + 1] != b'\r' {
                    i += 1;
                }
                in_plain = false;
            }
            b'\'' | b'"' if !in_plain => i = closing_quote(b, i)?,
            b':' if is_blank(next) || is_flow_indicator(next) => in_plain = false,
            b'?' if !in_plain && is_blank(next) => {}
            b'&' | b'!' | b'*' if !in_plain => {
                while i + 1 < b.len() && !is_blank(b[i + 1]) && !is_flow_indicator(b[i + 1]) {
                    i += 1;
                }
            }
            c if is_blank(c) => {}
            _ => in_plain = true,
        }
        after_blank = is_blank(c);
        i += 1;
    }
    None
}

/// Whether the line starting at byte `start` holds only blanks.
fn is_blank_line(b: &[u8], start: usize) -> bool {
    b[start..]
        .iter()
        .take_while(|&&c| c != b'\n' && c != b'\r')
        .all(|&c| c == b' ' || c == b'\t')
}

/// A document marker (`---`, `...`) at the start of a line ends the document, even inside a
/// flow collection (where it is an error): such a line is never moved.
fn is_document_marker(b: &[u8], start: usize) -> bool {
    let three = &b[start..(start + 3).min(b.len())];
    (three == b"---" || three == b"...") && b.get(start + 3).is_none_or(|&c| is_blank(c))
}

/// Where a flow collection may start, from a reading that failed: an open collection's event
/// (line, column in characters), or where the last event read ends (`indicator`: block
/// indicators may come first).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Candidate {
    pub line: usize,
    pub col: usize,
    pub indicator: bool,
}

/// The file with the lines of a flow collection among `candidates` (the outermost that holds
/// `error_line` after its opening line) indented past its opening bracket, and the lines
/// moved; `None` when none holds it or no line needs moving (then the error stands).
pub(super) fn indent_flow(
    text: &str,
    candidates: &[Candidate],
    error_line: usize,
) -> Option<(String, Vec<usize>)> {
    let starts = line_starts(text);
    candidates
        .iter()
        .find_map(|c| indent_one(text, &starts, c, error_line))
}

fn indent_one(
    text: &str,
    starts: &[usize],
    candidate: &Candidate,
    error_line: usize,
) -> Option<(String, Vec<usize>)> {
    let b = text.as_bytes();
    let at = byte_at(text, starts, candidate.line, candidate.col)?;
    let open = opening_bracket(b, at, candidate.indicator)?;
    let open_line = line_of(starts, open);
    // Should the reader of flow context fail, the lines up to the error are moved: the check
    // after reading (all_inside) decides whether that was right.
    // (saphyr may place an error at the end of the text on a line past its last one: no line
    // there to move.)
    let last = closing_bracket(b, open)
        .map_or(error_line, |c| line_of(starts, c))
        .min(starts.len());
    if !(open_line < error_line && error_line <= last) {
        return None;
    }
    let target = text[starts[open_line - 1]..open].chars().count() + 1;
    let mut moved = Vec::new();
    let mut out = String::with_capacity(text.len() + 64);
    let mut copied = 0;
    for l in open_line + 1..=last {
        let start = starts[l - 1];
        if is_blank_line(b, start) || is_document_marker(b, start) {
            continue;
        }
        let indent = text[start..]
            .chars()
            .take_while(|&c| c == ' ' || c == '\t')
            .count();
        if indent < target {
            out.push_str(&text[copied..start]);
            out.extend(std::iter::repeat_n(' ', target - indent));
            copied = start;
            moved.push(l);
        }
    }
    if moved.is_empty() {
        return None;
    }
    out.push_str(&text[copied..]);
    Some((out, moved))
}

/// A collection read from the file: where its start and end events are (line, column in
/// characters).
#[derive(Debug, Clone, Copy)]
pub(super) struct Span {
    pub start: (usize, usize),
    pub end: (usize, usize),
}

/// The closing bracket of a flow collection whose end event is at `at`: saphyr puts the end
/// of a flow mapping with a trailing comma (`{a: 1, }`) at the comma, the bracket comes after
/// it, past blanks and comments. `None`: not a flow collection's end.
fn closing_at(b: &[u8], at: usize) -> Option<usize> {
    let mut i = at;
    if b.get(i) == Some(&b',') {
        i += 1;
        loop {
            match *b.get(i)? {
                b'#' => {
                    while i < b.len() && b[i] != b'\n' && b[i] != b'\r' {
                        i += 1;
                    }
                }
                c if is_blank(c) => i += 1,
                _ => break,
            }
        }
    }
    matches!(b.get(i), Some(b']' | b'}')).then_some(i)
}

/// Whether every moved line lies inside a flow collection of the reading (after the line of
/// its opening bracket, up to the line of its closing one): then moving it changed nothing.
/// A flow collection's events are at its brackets, or its trailing comma (see [`closing_at`]);
/// a block collection never ends at one.
pub(super) fn all_inside(text: &str, moved: &[usize], spans: &[Span]) -> bool {
    if moved.is_empty() {
        return true;
    }
    let b = text.as_bytes();
    let starts = line_starts(text);
    let flows: Vec<(usize, usize)> = spans
        .iter()
        .filter_map(|s| {
            let open = opening_bracket(b, byte_at(text, &starts, s.start.0, s.start.1)?, false)?;
            let close = closing_at(b, byte_at(text, &starts, s.end.0, s.end.1)?)?;
            Some((line_of(&starts, open), line_of(&starts, close)))
        })
        .collect();
    moved
        .iter()
        .all(|&l| flows.iter().any(|&(open, end)| open < l && l <= end))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Candidates at events (no block indicator to skip).
    fn at(events: &[(usize, usize)]) -> Vec<Candidate> {
        events
            .iter()
            .map(|&(line, col)| Candidate {
                line,
                col,
                indicator: false,
            })
            .collect()
    }

    fn close(s: &str) -> Option<&str> {
        closing_bracket(s.as_bytes(), 0).map(|i| &s[i..])
    }

    #[test]
    fn the_closing_bracket_is_found_past_quotes_comments_and_plain_text() {
        assert_eq!(close("[a, b] x"), Some("] x"));
        assert_eq!(close("[\"]\", ']''', [x]] y"), Some("] y"));
        assert_eq!(close("[a # ]\n , b] z"), Some("] z"));
        assert_eq!(close("[it's, a] z"), Some("] z"));
        assert_eq!(close("[a 'b] z"), Some("] z"));
        assert_eq!(close("[a#b] z"), Some("] z"));
        assert_eq!(close("[\"a\\\"]\"] z"), Some("] z"));
        assert_eq!(close("{a: [1, {b: ']'}]} z"), Some("} z"));
        assert_eq!(close("[&x 'a', !t \"b]\", *y] z"), Some("] z"));
        assert_eq!(close("[a:b', c] z"), Some("] z"));
        assert_eq!(close("[\"never closed]"), None);
        assert_eq!(close("[a, [b]"), None);
    }

    /// Where a quoted scalar starts and where it does not: a backslash escapes only in
    /// double quotes; `:` ends a plain scalar only before a blank or a flow indicator; `?`
    /// is an indicator only before a blank; a property (`&`, `!`, `*`) only where a node
    /// starts.
    #[test]
    fn quotes_start_only_where_a_node_does() {
        assert_eq!(close("['a\\', b] z"), Some("] z"));
        assert_eq!(close("[a:'b, c] z"), Some("] z"));
        assert_eq!(close("[?'a] z"), Some("] z"));
        assert_eq!(close("[? 'a]' : b] z"), Some("] z"));
        assert_eq!(close("[a&b: 'x]'] z"), Some("] z"));
    }

    /// A comment ends at its line's end (`\n` or `\r`), a property at a blank or a flow
    /// indicator; either may end the text.
    #[test]
    fn comments_and_properties_end_where_they_should() {
        assert_eq!(close("[a # c\n] z"), Some("] z"));
        assert_eq!(close("[a # c\r] z"), Some("] z"));
        assert_eq!(close("[a #\n] z"), Some("] z"));
        assert_eq!(close("[&a] z"), Some("] z"));
        assert_eq!(close("[*a,b] z"), Some("] z"));
        assert_eq!(close("[a # c"), None);
        assert_eq!(close("[&x"), None);
        assert_eq!(close("[a, *x"), None);
    }

    /// saphyr ends a flow mapping with a trailing comma at the comma: its bracket is found
    /// past blanks and comments; anything else is not a flow collection's end.
    #[test]
    fn a_flow_mappings_end_at_its_trailing_comma() {
        let b = b"{a: 1, # c\n } ,x";
        assert_eq!(closing_at(b, 12), Some(12));
        assert_eq!(closing_at(b, 5), Some(12));
        assert_eq!(closing_at(b, 14), None);
        assert_eq!(closing_at(b, 1), None);
        assert_eq!(closing_at(b"{a: 1,", 5), None);
    }

    #[test]
    fn properties_blanks_and_comments_come_before_the_bracket() {
        let b = b"&a !t # c\n  [1]";
        assert_eq!(opening_bracket(b, 0, false), Some(12));
        assert_eq!(opening_bracket(b"- [1]", 0, false), None);
        assert_eq!(opening_bracket(b"- [1]", 0, true), Some(2));
        assert_eq!(opening_bracket(b"] # c\n- - ? !t {", 1, true), Some(15));
        assert_eq!(opening_bracket(b"-[1]", 0, true), None);
        assert_eq!(opening_bracket(b": x", 0, true), None);
        assert_eq!(opening_bracket(b"&a", 0, false), None);
    }

    #[test]
    fn the_collections_lines_move_right_of_its_bracket() {
        let t = "a:\n  c: [\n    x,\n\n  y,\n\t z\n  ]\n  d: 1\n";
        let (out, moved) = indent_flow(t, &at(&[(1, 0), (2, 2), (2, 5)]), 7).unwrap();
        assert_eq!(moved, vec![3, 5, 6, 7]);
        assert_eq!(
            out,
            "a:\n  c: [\n      x,\n\n      y,\n    \t z\n      ]\n  d: 1\n"
        );
        // Not a later line of this collection: nothing moves.
        assert_eq!(indent_flow(t, &at(&[(2, 5)]), 2), None);
        assert_eq!(indent_flow(t, &at(&[(2, 5)]), 8), None);
        // Nothing to move.
        assert_eq!(indent_flow(&out, &at(&[(2, 5)]), 7), None);
        // Not a collection.
        assert_eq!(indent_flow(t, &at(&[(1, 0), (2, 2)]), 7), None);
    }

    #[test]
    fn document_markers_are_never_moved() {
        let t = "a: [\n---\n]\n";
        let (out, moved) = indent_flow(t, &at(&[(1, 3)]), 3).unwrap();
        assert_eq!(moved, vec![3]);
        assert_eq!(out, "a: [\n---\n    ]\n");
        assert_eq!(indent_flow("a: [\n...\n", &at(&[(1, 3)]), 2), None);
        // Not a marker: three dashes and more.
        let (out, moved) = indent_flow("a: [\n---x,\n]\n", &at(&[(1, 3)]), 3).unwrap();
        assert_eq!(moved, vec![2, 3]);
        assert_eq!(out, "a: [\n    ---x,\n    ]\n");
    }

    /// A line of blanks inside the collection is left as it is.
    #[test]
    fn blank_lines_are_never_moved() {
        let (out, moved) = indent_flow("a: [\n  \t\n1,\n]\n", &at(&[(1, 3)]), 3).unwrap();
        assert_eq!(moved, vec![3, 4]);
        assert_eq!(out, "a: [\n  \t\n    1,\n    ]\n");
    }

    #[test]
    fn an_unclosed_collection_moves_the_lines_up_to_the_error() {
        let t = "a: [\nb,\n\"c\nd: 1\n";
        let (out, moved) = indent_flow(t, &at(&[(1, 0), (1, 3)]), 2).unwrap();
        assert_eq!(moved, vec![2]);
        assert_eq!(out, "a: [\n    b,\n\"c\nd: 1\n");
    }

    #[test]
    fn moved_lines_must_be_inside_a_flow_collection() {
        let t = "a: [\n  1,\n  ]\nb: 2\n";
        let flow = Span {
            start: (1, 3),
            end: (3, 2),
        };
        let block = Span {
            start: (1, 0),
            end: (5, 0),
        };
        // A block collection whose first key is a flow collection starts at its bracket, but
        // does not end at one.
        let keyed = Span {
            start: (1, 3),
            end: (4, 0),
        };
        assert!(!all_inside(t, &[4], &[keyed]));
        assert!(all_inside(t, &[], &[]));
        assert!(all_inside(t, &[2, 3], &[block, flow]));
        assert!(!all_inside(t, &[4], &[block, flow]));
        assert!(!all_inside(t, &[1], &[flow]));
        assert!(!all_inside(t, &[2], &[block]));
    }
}

//! Plain-text tables for the end of `reload` and `doctor`: left-aligned columns two spaces
//! apart, the last column unpadded, and free-form detail lines under a row. The status word
//! of a STATUS or RESULT column is coloured when stdout takes colour (`term`).

/// One row: its cells, then lines printed under it, indented (causes, hints).
#[derive(Debug, Clone, Default)]
pub struct Row {
    pub cells: Vec<String>,
    pub details: Vec<String>,
}

impl Row {
    pub fn new(cells: Vec<String>) -> Row {
        Row {
            cells,
            details: Vec::new(),
        }
    }
}

/// Render `rows` under `headers`. Widths count characters, not bytes; cells holding a newline
/// are cut at it (details are the place for more lines).
pub fn render(headers: &[&str], rows: &[Row]) -> String {
    render_with(headers, rows, crate::term::paint_status)
}

/// `render`, with `paint` applied to the cells of the STATUS and RESULT columns once they
/// are measured (colour codes take no room on the screen).
fn render_with(headers: &[&str], rows: &[Row], paint: impl Fn(&str) -> String) -> String {
    let ncols = headers.len();
    let cell = |r: &Row, i: usize| -> String {
        r.cells
            .get(i)
            .map(|c| c.lines().next().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, w) in widths.iter_mut().enumerate() {
            *w = (*w).max(cell(r, i).chars().count());
        }
    }
    let painted: Vec<bool> = headers
        .iter()
        .map(|h| matches!(*h, "STATUS" | "RESULT"))
        .collect();
    let line = |cells: Vec<String>, is_header: bool| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = if i + 1 == ncols {
                0
            } else {
                widths[i] - c.chars().count() + 2
            };
            // Trailing blanks go before any colour code is added.
            let c = if i + 1 == ncols { c.trim_end() } else { c };
            if painted[i] && !is_header {
                s.push_str(&paint(c));
            } else {
                s.push_str(c);
            }
            s.push_str(&" ".repeat(pad));
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(headers.iter().map(|h| h.to_string()).collect(), true);
    for r in rows {
        out.push_str(&line((0..ncols).map(|i| cell(r, i)).collect(), false));
        for d in &r.details {
            for l in d.lines() {
                out.push_str("    ");
                out.push_str(l.trim_end());
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns_and_indents_details() {
        let mut bad = Row::new(vec!["bad.service".into(), "loaded".into(), "error".into()]);
        bad.details
            .push("error: x.container:2: unsupported key\n  hint: did you mean 'Image'?".into());
        let rows = vec![
            Row::new(vec!["web.service".into(), "loaded".into(), "ok".into()]),
            bad,
        ];
        let t = render(&["UNIT", "LOAD", "RESULT"], &rows);
        assert_eq!(
            t,
            "UNIT         LOAD    RESULT\n\
             web.service  loaded  ok\n\
             bad.service  loaded  error\n\
             \x20   error: x.container:2: unsupported key\n\
             \x20     hint: did you mean 'Image'?\n"
        );
    }

    #[test]
    fn paints_status_cells_after_measuring_them() {
        let rows = vec![
            Row::new(vec!["a.service".into(), "ok".into(), "/x".into()]),
            Row::new(vec!["bb.service".into(), "error".into(), "/y".into()]),
        ];
        let t = render_with(&["UNIT", "STATUS", "SOURCE"], &rows, |c| format!("<{c}>"));
        assert_eq!(
            t,
            "UNIT        STATUS  SOURCE\n\
             a.service   <ok>      /x\n\
             bb.service  <error>   /y\n"
        );
        // Not a terminal (tests never call term::init): plain.
        assert!(!render(&["UNIT", "STATUS"], &rows).contains('\x1b'));
    }

    #[test]
    fn counts_chars_and_tolerates_short_rows() {
        let rows = vec![
            Row::new(vec!["é".into()]),
            Row::new(vec!["ab".into(), "x\ny".into(), "z".into()]),
        ];
        let t = render(&["A", "B", "C"], &rows);
        assert_eq!(t, "A   B  C\né\nab  x  z\n");
    }
}

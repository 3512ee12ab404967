//! An HTML table of plain-text cells (every cell and header escaped), and how numbers are
//! written in it.

use super::escape::escape_html;

/// A table: its element id, caption, column headers and rows of cell texts.
#[derive(Debug)]
pub struct Table<'a> {
    pub id: &'static str,
    pub caption: &'a str,
    pub headers: &'a [&'a str],
    pub rows: Vec<Vec<String>>,
}

impl Table<'_> {
    pub fn html(&self) -> String {
        let mut html = format!("<table id=\"{}\">\n<caption>{}</caption>\n<thead><tr>", self.id, escape_html(self.caption));
        for header in self.headers {
            html.push_str(&format!("<th>{}</th>", escape_html(header)));
        }
        html.push_str("</tr></thead>\n<tbody>\n");
        for row in &self.rows {
            html.push_str("<tr>");
            for cell in row {
                html.push_str(&format!("<td>{}</td>", escape_html(cell)));
            }
            html.push_str("</tr>\n");
        }
        html.push_str("</tbody>\n</table>\n");
        html
    }
}

/// `value` with `decimals` digits after the point; `–` when there is none.
pub fn fixed(value: Option<f64>, decimals: usize) -> String {
    match value {
        Some(value) if value.is_finite() => format!("{value:.decimals$}"),
        _ => "–".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_escaped_and_missing_numbers_are_a_dash() {
        let table = Table { id: "t", caption: "a & b", headers: &["<rung>"], rows: vec![vec!["<b>x</b>".to_owned()], vec![fixed(None, 2)], vec![fixed(Some(93.456), 2)]] };
        let html = table.html();
        assert!(html.contains("<caption>a &amp; b</caption>") && html.contains("<th>&lt;rung&gt;</th>") && html.contains("<td>&lt;b&gt;x&lt;/b&gt;</td>"), "{html}");
        assert!(html.contains("<td>–</td>") && html.contains("<td>93.46</td>"), "{html}");
        assert_eq!(html.matches("<tr>").count(), 4);
    }
}

//! HTML escaping for every string that comes from outside the page (rung names, node names,
//! warnings, the job's id): text content and quoted attribute values alike.

/// `text` with `& < > " '` replaced by their character references.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_quotes_become_references() {
        assert_eq!(escape_html(r#"<script>alert("x&y")</script>'"#), "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt;&#39;");
        assert_eq!(escape_html("h264_1080p"), "h264_1080p");
    }
}

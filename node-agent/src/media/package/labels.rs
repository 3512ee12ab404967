//! The names players list for renditions (HLS `NAME`, DASH `Label`): unique within their
//! kind, and free of what a playlist's quoted string cannot hold.

/// `label` with quotes and line breaks turned into spaces, or `label N` with the smallest
/// N ≥ 2 that `taken` does not report.
pub(super) fn unique_label(label: &str, taken: impl Fn(&str) -> bool) -> String {
    let label: String = label.chars().map(|character| if matches!(character, '"' | '\r' | '\n') { ' ' } else { character }).collect();
    if !taken(&label) {
        return label;
    }
    (2..).map(|number| format!("{label} {number}")).find(|candidate| !taken(candidate)).unwrap_or(label)
}

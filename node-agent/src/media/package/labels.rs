//! The names players list for renditions (HLS `NAME`, DASH `Label`): unique within their
//! kind, and free of what a playlist's quoted string cannot hold.

/// The longest label kept from a source's title (characters); a suffix such as ` (stereo)` or
/// ` 12` still fits the 256 packaging accepts (`tasks::spec_checks::check_audio_rendition`).
const LONGEST_LABEL: usize = 240;

/// `label` with quotes and control characters (line breaks, tabs…) turned into spaces and cut
/// to [`LONGEST_LABEL`] characters, or that with ` N` added, the smallest N ≥ 2 that `taken`
/// does not report.
pub(super) fn unique_label(label: &str, taken: impl Fn(&str) -> bool) -> String {
    let label: String = label.chars().take(LONGEST_LABEL).map(|character| if character == '"' || character.is_control() { ' ' } else { character }).collect();
    if !taken(&label) {
        return label;
    }
    (2..).map(|number| format!("{label} {number}")).find(|candidate| !taken(candidate)).unwrap_or(label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_lose_quotes_and_control_characters_are_cut_and_made_unique() {
        assert_eq!(unique_label("Director's \"cut\"\tfr\u{85}", |_| false), "Director's  cut  fr ");
        let long = "é".repeat(300);
        assert_eq!(unique_label(&long, |_| false).chars().count(), LONGEST_LABEL);
        assert_eq!(unique_label("eng", |candidate| candidate == "eng" || candidate == "eng 2"), "eng 3");
    }
}

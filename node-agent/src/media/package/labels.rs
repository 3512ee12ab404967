//! The names players list for renditions (HLS `NAME`, DASH `Label`): unique within their
//! kind, and free of what a playlist's quoted string cannot hold.

/// The most characters a label may have.
const LONGEST_LABEL: usize = 256;

/// The longest label kept from a source's title (characters): a suffix such as ` (stereo)` or
/// ` 12` still fits [`LONGEST_LABEL`].
const LONGEST_TITLE: usize = 240;

/// What a playlist's quoted string cannot hold: a quote, a line break or any other control
/// character.
fn unfit(character: char) -> bool {
    character == '"' || character.is_control()
}

/// Whether `label` is one packaging can write: 1 to [`LONGEST_LABEL`] characters, none
/// [`unfit`] (what [`unique_label`] makes; checked again where labels come from another agent).
pub(crate) fn is_playlist_label(label: &str) -> bool {
    (1..=LONGEST_LABEL).contains(&label.chars().count()) && !label.chars().any(unfit)
}

/// `label` with quotes and control characters (line breaks, tabs…) turned into spaces and cut
/// to [`LONGEST_TITLE`] characters, or that with ` N` added, the smallest N ≥ 2 that `taken`
/// does not report.
pub(super) fn unique_label(label: &str, taken: impl Fn(&str) -> bool) -> String {
    let label: String = label.chars().take(LONGEST_TITLE).map(|character| if unfit(character) { ' ' } else { character }).collect();
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
        assert_eq!(unique_label(&long, |_| false).chars().count(), LONGEST_TITLE);
        assert_eq!(unique_label("eng", |candidate| candidate == "eng" || candidate == "eng 2"), "eng 3");
    }
}

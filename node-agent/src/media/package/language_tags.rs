//! Language tags as players expect them: HLS `LANGUAGE` and DASH `@lang` are BCP 47 (RFC
//! 5646) tags, in which a language with an ISO 639-1 two-letter code has only that code.
//! Containers carry ISO 639-2 three-letter codes (`eng`, and bibliographic ones such as
//! `fre`, `ger`), so the common ones are mapped to their two-letter code; any other tag is
//! passed on as it is (a three-letter code without a two-letter one is valid BCP 47), with
//! `_` read as `-`, unless it is not 1 to 35 letters, digits and `-`: a tag no player could
//! use, which could also break the quoted attribute it goes into, is dropped.

/// ISO 639-2 (terminological and bibliographic) → ISO 639-1, for the languages most
/// often found in media files.
const TWO_LETTER_CODES: [(&str, &str); 46] = [
    ("ara", "ar"), ("bul", "bg"), ("cat", "ca"), ("ces", "cs"), ("cze", "cs"), ("chi", "zh"), ("zho", "zh"), ("dan", "da"),
    ("deu", "de"), ("ger", "de"), ("ell", "el"), ("gre", "el"), ("eng", "en"), ("spa", "es"), ("est", "et"), ("fin", "fi"),
    ("fra", "fr"), ("fre", "fr"), ("heb", "he"), ("hin", "hi"), ("hrv", "hr"), ("hun", "hu"), ("ind", "id"), ("ita", "it"),
    ("jpn", "ja"), ("kor", "ko"), ("lit", "lt"), ("lav", "lv"), ("msa", "ms"), ("may", "ms"), ("nld", "nl"), ("dut", "nl"),
    ("nor", "no"), ("pol", "pl"), ("por", "pt"), ("ron", "ro"), ("rum", "ro"), ("rus", "ru"), ("slk", "sk"), ("slo", "sk"),
    ("slv", "sl"), ("srp", "sr"), ("swe", "sv"), ("tha", "th"), ("tur", "tr"), ("ukr", "uk"),
];

/// The BCP 47 tag players should be given for a container's language tag; `None` for one
/// that is not a tag.
pub(super) fn bcp47(language: &str) -> Option<String> {
    let lower = language.to_ascii_lowercase();
    if let Some((_, two)) = TWO_LETTER_CODES.iter().find(|(three, _)| *three == lower) {
        return Some((*two).to_owned());
    }
    let tag = language.replace('_', "-");
    is_language_tag(&tag).then_some(tag)
}

/// Whether `tag` has the shape of a BCP 47 tag: 1 to 35 ASCII letters, digits and `-` (what
/// [`bcp47`] gives; checked again where tags come from another agent).
pub(crate) fn is_language_tag(tag: &str) -> bool {
    (1..=35).contains(&tag.len()) && tag.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_letter_codes_with_a_two_letter_code_are_shortened() {
        assert_eq!(bcp47("eng").as_deref(), Some("en"));
        assert_eq!(bcp47("ger").as_deref(), Some("de"));
        assert_eq!(bcp47("FRE").as_deref(), Some("fr"));
        assert_eq!(bcp47("en-US").as_deref(), Some("en-US"));
        assert_eq!(bcp47("yue").as_deref(), Some("yue"));
    }

    #[test]
    fn underscores_become_hyphens_and_what_is_not_a_tag_is_dropped() {
        assert_eq!(bcp47("en_US").as_deref(), Some("en-US"));
        for junk in ["", "en\"", "fr,x", "a b", &"x".repeat(36)] {
            assert_eq!(bcp47(junk), None, "{junk:?}");
        }
    }
}

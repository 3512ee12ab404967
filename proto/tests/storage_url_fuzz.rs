//! The URL normaliser fuzzed with proptest (a bounded number of cases, seconds in CI): URLs
//! built from the pieces attackers use (every spelling of `.` and `..`, backslashes, encoded
//! slashes, NUL, double encoding, repeated slashes) on top of a root, and arbitrary strings.

use std::path::Component;

use proptest::prelude::*;
use shotfarm_proto::storage::{RootSide, StorageRoots, StorageUrl};

const ROOT: &str = "file:///media/in";

/// One path segment as an attacker might spell it.
fn segment() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "..", ".", "", "%2e%2e", "%2E%2e", ".%2e", "%2e.", "%2e", "%2E", "%5c", "%5C..", "\\..", "..\\", "%2f", "%2F..", "%00", "%0a",
        "%252e%252e", "%25", "a", "clip.mp4", "b c", "%20", "..hidden", "a..", "...", "名前", "%e5%90%8d", "%zz", "%", "%ff",
    ]);
    prop::collection::vec(pieces, 1..4).prop_map(|parts| parts.concat())
}

fn attack_url() -> impl Strategy<Value = String> {
    (prop::collection::vec(segment(), 0..8), prop::sample::select(vec!["/", "//", "/./"]))
        .prop_map(|(segments, separator)| format!("{ROOT}{separator}{}", segments.join("/")))
}

/// The spellings of `..` that decode to it.
fn parent_spelling() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec![".", "%2e", "%2E"]), 2..=2).prop_map(|dots| dots.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn no_accepted_url_leaves_its_root(url in attack_url()) {
        let roots = StorageRoots::parse(RootSide::Input, ROOT).unwrap();
        if let Ok(accepted) = roots.check(&url) {
            let path = accepted.local_path().unwrap();
            prop_assert!(path.starts_with("/media/in"), "{url} became {}", path.display());
            prop_assert!(path.components().all(|component| matches!(component, Component::RootDir | Component::Normal(_))), "{}", path.display());
            for segment in accepted.segments() {
                prop_assert!(!segment.is_empty() && segment != "." && segment != "..");
                prop_assert!(!segment.contains(['/', '\\', '%', '\0']), "{segment:?}");
            }
        }
    }

    #[test]
    fn normalising_is_idempotent(url in attack_url()) {
        if let Ok(once) = StorageUrl::parse(&url) {
            let twice = StorageUrl::parse(once.as_str());
            prop_assert_eq!(twice.as_ref(), Ok(&once), "{}", url);
        }
    }

    #[test]
    fn every_parent_spelling_is_refused(before in prop::collection::vec(segment(), 0..3), parent in parent_spelling(), after in prop::collection::vec(segment(), 0..3)) {
        let mut segments = before;
        segments.push(parent);
        segments.extend(after);
        let url = format!("{ROOT}/{}", segments.join("/"));
        prop_assert!(StorageUrl::parse(&url).is_err(), "{url} was accepted");
    }

    #[test]
    fn arbitrary_text_never_panics_and_stays_idempotent(text in "\\PC{0,64}", prefix in prop::sample::select(vec!["file://", "file:///", "s3://b/", ""])) {
        let url = format!("{prefix}{text}");
        if let Ok(once) = StorageUrl::parse(&url) {
            let twice = StorageUrl::parse(once.as_str());
            prop_assert_eq!(twice.as_ref(), Ok(&once));
        }
    }
}

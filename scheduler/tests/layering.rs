//! The scheduler's floors: `src/lib.rs` lists them (its "Floors" block), and every `crate::`
//! path in `src/` — `use` lines, inline paths and tests alike — must point to the same
//! module or to one on a lower floor. A failure names the file and line of the import that
//! runs up (or sideways, between modules that share a floor).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// A module's floor: 0 is the bottom.
type Floors = BTreeMap<String, usize>;

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The floors of `lib.rs`'s `//!` block (the first ```` ```text ```` block after
/// `## Floors`), top floor first, modules of one floor separated by `|`.
fn floors_of(lib: &str) -> Floors {
    let docs: Vec<&str> = lib.lines().filter_map(|line| line.strip_prefix("//!")).map(str::trim).collect();
    let heading = docs.iter().position(|line| *line == "## Floors").expect("src/lib.rs has no `//! ## Floors` section: add one");
    let start = docs[heading..].iter().position(|line| *line == "```text").expect("the floors section of src/lib.rs has no ```text block") + heading + 1;
    let len = docs[start..].iter().position(|line| *line == "```").expect("the floors block of src/lib.rs is not closed");
    let rows = &docs[start..start + len];
    let mut floors = Floors::new();
    for (depth, row) in rows.iter().enumerate() {
        for module in row.split('|').map(str::trim) {
            let earlier = floors.insert(module.to_owned(), rows.len() - 1 - depth);
            assert!(earlier.is_none(), "module `{module}` is listed twice in the floors of src/lib.rs: keep one");
        }
    }
    floors
}

/// The modules `lib.rs` declares (`mod x;` / `pub mod x;`).
fn declared_modules(lib: &str) -> Vec<String> {
    lib.lines()
        .map(str::trim)
        .filter_map(|line| line.strip_prefix("pub mod ").or_else(|| line.strip_prefix("mod ")))
        .filter_map(|rest| rest.strip_suffix(';'))
        .map(str::to_owned)
        .collect()
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// The top-level module a file under `src/` belongs to (`planner/specs.rs` → `planner`,
/// `audit.rs` → `audit`); `None` for `lib.rs`, which declares them.
fn module_of(relative: &Path) -> Option<String> {
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib").then(|| name.to_owned())
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The text with comments and the insides of string and character literals blanked (line
/// breaks kept, so offsets keep their line), leaving only code to read paths from.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out: Vec<char> = chars.clone();
    let blank = |out: &mut Vec<char>, from: usize, to: usize| {
        for c in &mut out[from..to.min(chars.len())] {
            if *c != '\n' {
                *c = ' ';
            }
        }
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let prev_is_ident = i > 0 && is_ident(chars[i - 1]);
        if c == '/' && next == Some('/') {
            let end = chars[i..].iter().position(|&c| c == '\n').map_or(chars.len(), |n| i + n);
            blank(&mut out, i, end);
            i = end;
        } else if c == '/' && next == Some('*') {
            let (mut depth, mut j) = (1, i + 2);
            while j < chars.len() && depth > 0 {
                if chars[j] == '/' && chars.get(j + 1) == Some(&'*') {
                    depth += 1;
                    j += 1;
                } else if chars[j] == '*' && chars.get(j + 1) == Some(&'/') {
                    depth -= 1;
                    j += 1;
                }
                j += 1;
            }
            blank(&mut out, i, j);
            i = j;
        } else if c == 'r' && (!prev_is_ident || (i >= 1 && chars[i - 1] == 'b' && (i < 2 || !is_ident(chars[i - 2])))) && matches!(next, Some('"' | '#')) {
            let hashes = chars[i + 1..].iter().take_while(|&&c| c == '#').count();
            if chars.get(i + 1 + hashes) != Some(&'"') {
                i += 1;
                continue;
            }
            let closing: Vec<char> = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
            let body = i + 2 + hashes;
            let end = (body..chars.len()).find(|&j| chars[j..].starts_with(&closing)).map_or(chars.len(), |j| j + closing.len());
            blank(&mut out, body, end.saturating_sub(closing.len()));
            i = end;
        } else if c == '"' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '"' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            blank(&mut out, i + 1, j);
            i = j + 1;
        } else if c == '\'' && (next == Some('\\') || chars.get(i + 2) == Some(&'\'')) {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '\'' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            blank(&mut out, i + 1, j);
            i = j + 1;
        } else {
            i += 1;
        }
    }
    out.into_iter().collect()
}

/// Every module a `crate::` path names first, with the path's line (from 1): `crate::a::b`
/// gives `a`; `crate::{a::b, c}` gives `a` and `c`.
fn crate_paths(code: &str) -> Vec<(usize, String)> {
    let chars: Vec<char> = code.chars().collect();
    let line_at = |offset: usize| chars[..offset].iter().filter(|&&c| c == '\n').count() + 1;
    let skip_space = |mut j: usize| {
        while j < chars.len() && chars[j].is_whitespace() {
            j += 1;
        }
        j
    };
    let ident_at = |j: usize| chars[j..].iter().take_while(|&&c| is_ident(c)).collect::<String>();
    let keyword: Vec<char> = "crate".chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(offset) = chars[i..].windows(keyword.len()).position(|window| window == keyword.as_slice()) {
        let start = i + offset;
        i = start + keyword.len();
        if start > 0 && is_ident(chars[start - 1]) || chars.get(i).copied().is_some_and(is_ident) {
            continue;
        }
        let j = skip_space(i);
        if !(chars.get(j) == Some(&':') && chars.get(j + 1) == Some(&':')) {
            continue;
        }
        let j = skip_space(j + 2);
        if chars.get(j) != Some(&'{') {
            found.push((line_at(j), ident_at(j)));
            continue;
        }
        // A group: the first name of every item at its top level.
        let (mut depth, mut k, mut item_start) = (0usize, j, true);
        while k < chars.len() {
            match chars[k] {
                '{' => {
                    depth += 1;
                    item_start = depth == 1;
                }
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                ',' if depth == 1 => item_start = true,
                c if item_start && is_ident(c) => {
                    let name = ident_at(k);
                    if name != "self" {
                        found.push((line_at(k), name.clone()));
                    }
                    item_start = false;
                    k += name.chars().count();
                    continue;
                }
                _ => {}
            }
            k += 1;
        }
        i = k;
    }
    found
}

/// The imports of one file that do not point down: `file:line: message` for each.
fn violations(file: &str, module: &str, text: &str, floors: &Floors) -> Vec<String> {
    let Some(&own) = floors.get(module) else {
        return vec![format!("{file}: module `{module}` has no floor: add it to the floors block of src/lib.rs")];
    };
    let code = code_only(text);
    let mut found = Vec::new();
    for (line, target) in crate_paths(&code) {
        if target == module {
            continue;
        }
        match floors.get(&target) {
            None => found.push(format!("{file}:{line}: `crate::{target}` names a module with no floor: add it to the floors block of src/lib.rs")),
            Some(&floor) if floor >= own => {
                let way = if floor == own { "sideways" } else { "up" };
                found.push(format!(
                    "{file}:{line}: `crate::{target}` runs {way} from `{module}` (floor {own}) to `{target}` (floor {floor}): \
                     move the code it needs down a floor, or this code up"
                ));
            }
            Some(_) => {}
        }
    }
    for (index, line) in code.lines().enumerate() {
        if line.contains("super::super") {
            found.push(format!("{}:{}: `super::super` leaves the module unseen by this check: write the path as `crate::…`", file, index + 1));
        }
    }
    found
}

#[test]
fn every_module_of_lib_rs_has_a_floor() {
    let lib = fs::read_to_string(src_dir().join("lib.rs")).expect("src/lib.rs reads");
    let floors = floors_of(&lib);
    let mut declared = declared_modules(&lib);
    declared.sort();
    let listed: Vec<String> = floors.keys().cloned().collect();
    assert_eq!(declared, listed, "the modules src/lib.rs declares (left) and those its floors block lists (right) differ: list each module on one floor");
}

#[test]
fn no_import_runs_up_a_floor() {
    let src = src_dir();
    let floors = floors_of(&fs::read_to_string(src.join("lib.rs")).expect("src/lib.rs reads"));
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(files.len() > 20, "found only {} files under {}", files.len(), src.display());
    let mut found = Vec::new();
    for path in files {
        let relative = path.strip_prefix(&src).expect("a file under src");
        let Some(module) = module_of(relative) else { continue };
        let text = fs::read_to_string(&path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
        found.extend(violations(&format!("src/{}", relative.display()), &module, &text, &floors));
    }
    assert!(found.is_empty(), "imports that do not point down a floor (floors: src/lib.rs):\n{}", found.join("\n"));
}

#[test]
fn the_check_sees_upward_paths_in_every_form_and_ignores_comments_and_strings() {
    let floors = floors_of("//! ## Floors\n//!\n//! ```text\n//! machine\n//! planner | placement\n//! state\n//! ```\n");
    assert_eq!(floors, [("machine".to_owned(), 2), ("planner".to_owned(), 1), ("placement".to_owned(), 1), ("state".to_owned(), 0)].into());
    let text = r##"//! Mentions `crate::machine` in docs only.
use crate::state::State;
use crate::{
    state::model::Node,
    machine::{apply, Command},
};
/* crate::machine in a block comment */
fn f() -> &'static str {
    let _ = crate :: placement::fits;
    let _c = '"';
    let _ = "crate::machine in a string";
    let _ = r#"crate::machine in a raw string"#;
    crate::machine::apply
}
use super::super::machine;
"##;
    let found = violations("src/planner/x.rs", "planner", text, &floors);
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(found[0].starts_with("src/planner/x.rs:5: `crate::machine` runs up from `planner` (floor 1) to `machine` (floor 2)"), "{}", found[0]);
    assert!(found[1].starts_with("src/planner/x.rs:9: `crate::placement` runs sideways"), "{}", found[1]);
    assert!(found[2].starts_with("src/planner/x.rs:13: `crate::machine` runs up"), "{}", found[2]);
    assert!(found[3].starts_with("src/planner/x.rs:15: `super::super`"), "{}", found[3]);
    assert!(violations("src/machine/x.rs", "machine", text, &floors).iter().all(|line| line.contains("super::super")));
}

//! Saved recipes in the replicated state: each save of a name appends its next version, a
//! delete drops the versions and keeps the name's counter, so a name and version are never
//! reused. The leader checks the settings (the job checks) and the name before it proposes;
//! `apply` keeps the bounds, so the state stays small whatever is proposed.

use super::command::{Outcome, Refusal};
use crate::state::model::Millis;
use crate::state::saved_recipes::{RecipeVersion, SavedRecipe};
use crate::state::{RowKey, State};

/// Recipes not deleted at most.
pub const MAX_RECIPES: usize = 256;
/// Names ever saved at most (deleted ones keep a small row with their version counter).
pub const MAX_RECIPE_NAMES: usize = 4096;
/// Versions one name keeps at most.
pub const MAX_RECIPE_VERSIONS: usize = 100;
/// A version's encoded settings at most, bytes.
pub const MAX_RECIPE_BYTES: usize = 16 * 1024;
/// A name's length at most.
pub const MAX_RECIPE_NAME: usize = 64;

/// Why `name` is not a recipe name, if it is not: 1..=64 letters, digits, `-`, `_` and `.`,
/// starting with a letter or digit (so that it reads well in a path, a URL and `NAME@VERSION`).
pub fn recipe_name_problem(name: &str) -> Option<String> {
    let starts_well = name.chars().next().is_some_and(|first| first.is_ascii_alphanumeric());
    let allowed = name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    (!starts_well || !allowed || name.len() > MAX_RECIPE_NAME).then(|| {
        format!("{name:?} is not a recipe name; use 1..={MAX_RECIPE_NAME} letters, digits, '-', '_' and '.', starting with a letter or digit")
    })
}

pub(super) fn save_recipe(state: &mut State, name: &str, settings: &[u8], created_by: &str, now_ms: Millis) -> Outcome {
    if let Some(problem) = recipe_name_problem(name) {
        return Outcome::Refused(Refusal::Invalid(problem));
    }
    if settings.len() > MAX_RECIPE_BYTES {
        return Outcome::Refused(Refusal::RecipeLimit(format!("the settings take {} bytes; a recipe holds at most {MAX_RECIPE_BYTES}", settings.len())));
    }
    // Every bound is checked before anything changes: a refusal changes nothing.
    let known = state.meta.recipe_names.get(name).copied();
    let current = known.and_then(|id| state.recipes.get(&id));
    if current.is_none_or(|recipe| recipe.deleted) && state.live_recipes().count() >= MAX_RECIPES {
        return Outcome::Refused(Refusal::RecipeLimit(format!("{MAX_RECIPES} recipes exist; delete one (`shotfarm recipes delete NAME`) first")));
    }
    if current.is_some_and(|recipe| recipe.versions.len() >= MAX_RECIPE_VERSIONS) {
        return Outcome::Refused(Refusal::RecipeLimit(format!(
            "recipe {name:?} has {MAX_RECIPE_VERSIONS} versions; delete it (`shotfarm recipes delete {name}`) and save it again: its numbering continues"
        )));
    }
    let id = match known {
        Some(id) => id,
        None => {
            if state.meta.recipe_names.len() >= MAX_RECIPE_NAMES {
                return Outcome::Refused(Refusal::RecipeLimit(format!("{MAX_RECIPE_NAMES} recipe names were used; save a new version of an existing name")));
            }
            let id = state.meta.next_recipe_id;
            state.meta.next_recipe_id += 1;
            state.meta.recipe_names.insert(name.to_owned(), id);
            state.mark(RowKey::Meta);
            id
        }
    };
    let recipe = state.recipes.entry(id).or_insert_with(|| SavedRecipe { id, name: name.to_owned(), versions: Vec::new(), last_version: 0, deleted: true });
    let version = recipe.last_version + 1;
    recipe.versions.push(RecipeVersion { version, settings: settings.to_vec(), created_at_ms: now_ms, created_by: created_by.to_owned() });
    recipe.last_version = version;
    recipe.deleted = false;
    state.mark(RowKey::Recipe(id));
    Outcome::RecipeSaved { version }
}

pub(super) fn delete_recipe(state: &mut State, name: &str) -> Outcome {
    let Some(id) = state.recipe_named(name).map(|recipe| recipe.id) else {
        return Outcome::Refused(Refusal::UnknownRecipe(name.to_owned()));
    };
    let Some(recipe) = state.recipes.get_mut(&id) else {
        return Outcome::Refused(Refusal::UnknownRecipe(name.to_owned()));
    };
    recipe.versions.clear();
    recipe.deleted = true;
    let versions = recipe.last_version;
    state.mark(RowKey::Recipe(id));
    Outcome::RecipeDeleted { versions }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::{Command, apply};
    use crate::storage::disk_store::DiskStore;
    use crate::storage::{DurableStore, WriteBatch, decode_state, encode_row, encode_state, state_snapshot};
    use raft::prelude::ConfState;

    fn save(state: &mut State, name: &str, settings: &[u8]) -> Outcome {
        let command = Command::SaveRecipe { name: name.to_owned(), settings: settings.to_vec(), created_by: "operator/ann".to_owned(), now_ms: 7 };
        apply(state, &command).0
    }

    fn delete(state: &mut State, name: &str) -> Outcome {
        apply(state, &Command::DeleteRecipe { name: name.to_owned() }).0
    }

    #[test]
    fn each_save_is_the_next_version_and_versions_are_kept() {
        let mut state = State::default();
        assert_eq!(save(&mut state, "web", b"one"), Outcome::RecipeSaved { version: 1 });
        assert_eq!(save(&mut state, "web", b"two"), Outcome::RecipeSaved { version: 2 });
        assert_eq!(save(&mut state, "archive", b"a"), Outcome::RecipeSaved { version: 1 });
        let web = state.recipe_named("web").expect("saved");
        assert_eq!(web.version(0).map(|kept| kept.settings.as_slice()), Some(&b"two"[..]), "0 is the latest");
        assert_eq!(web.version(1).map(|kept| kept.settings.as_slice()), Some(&b"one"[..]));
        assert_eq!(web.version(1).map(|kept| (kept.created_at_ms, kept.created_by.as_str())), Some((7, "operator/ann")));
        assert_eq!(web.version(3), None);
        assert_eq!(state.live_recipes().map(|recipe| recipe.name.as_str()).collect::<Vec<_>>(), vec!["archive", "web"]);
    }

    #[test]
    fn a_deleted_name_is_gone_and_a_new_save_continues_its_numbering() {
        let mut state = State::default();
        save(&mut state, "web", b"one");
        save(&mut state, "web", b"two");
        assert_eq!(delete(&mut state, "web"), Outcome::RecipeDeleted { versions: 2 });
        assert!(state.recipe_named("web").is_none());
        assert_eq!(state.live_recipes().count(), 0);
        assert_eq!(delete(&mut state, "web"), Outcome::Refused(Refusal::UnknownRecipe("web".to_owned())));
        assert_eq!(delete(&mut state, "never"), Outcome::Refused(Refusal::UnknownRecipe("never".to_owned())));
        assert_eq!(save(&mut state, "web", b"three"), Outcome::RecipeSaved { version: 3 });
        let web = state.recipe_named("web").expect("saved again");
        assert_eq!((web.version(1), web.version(3).map(|kept| kept.settings.as_slice())), (None, Some(&b"three"[..])));
    }

    #[test]
    fn names_and_sizes_are_bounded() {
        let mut state = State::default();
        for bad in ["", "-web", "web/1", "web@2", "wéb", &"a".repeat(MAX_RECIPE_NAME + 1)] {
            assert!(matches!(save(&mut state, bad, b"x"), Outcome::Refused(Refusal::Invalid(_))), "{bad:?}");
        }
        assert!(recipe_name_problem(&"a".repeat(MAX_RECIPE_NAME)).is_none());
        assert!(recipe_name_problem("web-1080p_v2.hls").is_none());
        assert!(matches!(save(&mut state, "big", &vec![0; MAX_RECIPE_BYTES + 1]), Outcome::Refused(Refusal::RecipeLimit(_))));
        for _ in 0..MAX_RECIPE_VERSIONS {
            save(&mut state, "busy", b"x");
        }
        let refused = save(&mut state, "busy", b"x");
        assert!(matches!(&refused, Outcome::Refused(Refusal::RecipeLimit(why)) if why.contains("delete it")), "{refused:?}");
        for n in 1..MAX_RECIPES {
            assert_eq!(save(&mut state, &format!("r{n}"), b"x"), Outcome::RecipeSaved { version: 1 });
        }
        let refused = save(&mut state, "one-too-many", b"x");
        assert!(matches!(&refused, Outcome::Refused(Refusal::RecipeLimit(why)) if why.contains("delete one")), "{refused:?}");
        assert!(!state.meta.recipe_names.contains_key("one-too-many"), "a refused save leaves no trace");
        assert_eq!(save(&mut state, "r1", b"y"), Outcome::RecipeSaved { version: 2 }, "a live name still takes versions");
        delete(&mut state, "r1");
        assert_eq!(save(&mut state, "one-too-many", b"x"), Outcome::RecipeSaved { version: 1 });
    }

    #[test]
    fn recipes_survive_a_snapshot_and_the_row_writes() {
        let mut state = State::default();
        save(&mut state, "web", b"one");
        save(&mut state, "web", b"two");
        save(&mut state, "gone", b"x");
        delete(&mut state, "gone");
        let restored = decode_state(&encode_state(&state)).expect("decodes");
        assert_eq!(restored.recipes, state.recipes);
        assert_eq!(restored.meta.recipe_names, state.meta.recipe_names);
        assert_eq!(restored.hash(), state.hash());
        let dirty = state.take_dirty();
        assert!(dirty.contains(&RowKey::Recipe(0)) && dirty.contains(&RowKey::Recipe(1)) && dirty.contains(&RowKey::Meta), "{dirty:?}");
    }


    /// The rows `apply` marked, written as the driver writes them.
    fn write_applied(store: &mut DiskStore, state: &mut State, applied: u64) {
        let rows = state.take_dirty().into_iter().map(|row| encode_row(state, row)).collect();
        store.write(WriteBatch { rows, applied: Some(applied), ..WriteBatch::default() }).expect("written");
    }

    #[test]
    fn recipe_rows_are_written_and_loaded_back_and_a_snapshot_install_replaces_them() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut store = DiskStore::open(dir.path()).expect("opens");
        let mut state = State::default();
        for (name, settings) in [("web", b"one"), ("web", b"two"), ("gone", b"xyz")] {
            apply(&mut state, &Command::SaveRecipe { name: name.to_owned(), settings: settings.to_vec(), created_by: String::new(), now_ms: 1 });
        }
        apply(&mut state, &Command::DeleteRecipe { name: "gone".to_owned() });
        write_applied(&mut store, &mut state, 4);
        let loaded = store.load().expect("loads").state;
        assert_eq!((loaded.recipes.clone(), loaded.meta.recipe_names.clone()), (state.recipes.clone(), state.meta.recipe_names.clone()));
        assert_eq!(loaded.recipe_named("web").and_then(|web| web.version(0)).map(|kept| kept.settings.clone()), Some(b"two".to_vec()));

        let mut other = State::default();
        apply(&mut other, &Command::SaveRecipe { name: "archive".to_owned(), settings: b"a".to_vec(), created_by: String::new(), now_ms: 2 });
        let snapshot = state_snapshot(&other, ConfState::default(), 9, 1);
        store.write(WriteBatch { install_snapshot: Some((snapshot, other.clone())), ..WriteBatch::default() }).expect("installed");
        let loaded = store.load().expect("loads").state;
        assert_eq!(loaded.recipes, other.recipes, "the snapshot's recipes replace the old rows");
        assert!(loaded.recipe_named("web").is_none() && loaded.recipe_named("archive").is_some());
    }
}

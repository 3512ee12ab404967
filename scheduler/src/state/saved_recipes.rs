//! Named, versioned job recipes (`shotfarm recipes`): the settings of a job spec saved under
//! a name, each save its next version, versions never changed. A deleted name keeps only its
//! version counter (a tombstone), so a later save of it continues the numbering and a name and
//! version stay unique for good. One row per name.

use serde::{Deserialize, Serialize};

use super::State;
use super::model::Millis;

pub type RecipeId = u64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedRecipe {
    pub id: RecipeId,
    pub name: String,
    /// The versions kept, oldest first (none once deleted).
    pub versions: Vec<RecipeVersion>,
    /// The highest version ever saved under the name.
    pub last_version: u32,
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipeVersion {
    pub version: u32,
    /// The settings as the client sent them: a protobuf-encoded `v1::JobSpec` without
    /// locations, checked before it was proposed. Kept in wire form so that a submission's
    /// fields lay over it as they would over any spec (`shotfarm_proto::spec_overlay`).
    pub settings: Vec<u8>,
    pub created_at_ms: Millis,
    /// Who saved it (`operator/NAME`; empty on an `--insecure` farm).
    pub created_by: String,
}

/// The recipe and version a job was submitted with (`JobSpec::from_recipe`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipeRef {
    pub name: String,
    pub version: u32,
}

impl SavedRecipe {
    /// Version `version`, or the latest for 0.
    pub fn version(&self, version: u32) -> Option<&RecipeVersion> {
        match version {
            0 => self.versions.last(),
            wanted => self.versions.iter().find(|kept| kept.version == wanted),
        }
    }
}

impl State {
    /// The recipe saved under `name`, unless it was deleted.
    pub fn recipe_named(&self, name: &str) -> Option<&SavedRecipe> {
        let id = self.meta.recipe_names.get(name)?;
        self.recipes.get(id).filter(|recipe| !recipe.deleted)
    }

    /// Recipes not deleted, by name.
    pub fn live_recipes(&self) -> impl Iterator<Item = &SavedRecipe> {
        self.meta.recipe_names.values().filter_map(|id| self.recipes.get(id)).filter(|recipe| !recipe.deleted)
    }
}

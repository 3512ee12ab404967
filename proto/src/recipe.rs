//! A job's ladder recipe: how its ladder is made (the fixed table fitted to the source, or
//! the user's own rungs), its bounds (quality target, bitrate floor and ceiling, rung count
//! and spacing) and the encoder preset. [`LadderRecipe::from_wire`] is the one check of what
//! a client sends (`v1::LadderRecipe`: every zero value means its default); the checked
//! recipe is stored with the job and travels in the ladder and encode task specs.

use serde::{Deserialize, Serialize};

use crate::v1;

/// The recipe format this build understands.
pub const RECIPE_VERSION: u32 = 1;
/// The top rung's VMAF target when the client gives none.
pub const DEFAULT_TARGET_VMAF: f64 = 95.0;
/// The bitrate ratio between neighbouring rungs when the client gives none.
pub const DEFAULT_SPACING: f64 = 1.5;
/// Rungs per codec at most.
pub const MAX_RUNGS: u32 = 20;
/// The largest bitrate a rung may ask for, kb/s.
pub const MAX_BITRATE_KBPS: u32 = 500_000;
/// Encoder presets, fastest first (x264 and x265 names; SVT-AV1 maps them to its numbers).
pub const PRESETS: [&str; 9] = ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"];

/// How the ladder is made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LadderKind {
    /// The fixed table fitted to the source (`media::ladder` on the agent).
    #[default]
    Fixed,
    /// Exactly the recipe's rungs, for every codec.
    Custom,
    /// Rungs on the title's rate–quality hull, found by trial encodes (the analyze stage);
    /// every chunk of a rung at the rung's bitrate.
    PerTitle,
    /// The per-title rungs, every chunk (shot group) of a rung at its own constant-quality
    /// setting: the rung's quality at the least bits.
    PerShot,
}

impl LadderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LadderKind::Fixed => "fixed",
            LadderKind::Custom => "custom",
            LadderKind::PerTitle => "per-title",
            LadderKind::PerShot => "per-shot",
        }
    }

    /// Whether the ladder comes from trial encodes (the analyze stage).
    pub fn needs_analysis(self) -> bool {
        matches!(self, LadderKind::PerTitle | LadderKind::PerShot)
    }
}

/// A rung the user brings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipeRung {
    pub width: u32,
    pub height: u32,
    pub bitrate_kbps: u32,
    pub maxrate_kbps: u32,
    pub bufsize_kbps: u32,
}

/// A checked recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LadderRecipe {
    pub version: u32,
    pub ladder: LadderKind,
    pub target_vmaf: f64,
    /// 0: no floor.
    pub floor_kbps: u32,
    /// 0: no ceiling.
    pub ceiling_kbps: u32,
    /// 0: no limit.
    pub max_rungs: u32,
    pub spacing: f64,
    /// `None`: the encoder's default for the farm (`medium`).
    pub preset: Option<String>,
    /// `Custom` only.
    pub rungs: Vec<RecipeRung>,
}

impl Default for LadderRecipe {
    fn default() -> Self {
        LadderRecipe {
            version: RECIPE_VERSION,
            ladder: LadderKind::Fixed,
            target_vmaf: DEFAULT_TARGET_VMAF,
            floor_kbps: 0,
            ceiling_kbps: 0,
            max_rungs: 0,
            spacing: DEFAULT_SPACING,
            preset: None,
            rungs: Vec::new(),
        }
    }
}

/// What is wrong with a recipe: the field (as the wire names it) and what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("recipe.{field}: {message}")]
pub struct RecipeError {
    pub field: &'static str,
    pub message: String,
}

fn refuse(field: &'static str, message: impl Into<String>) -> RecipeError {
    RecipeError { field, message: message.into() }
}

impl LadderRecipe {
    /// Checks what a client sent; `None` is the default recipe.
    pub fn from_wire(wire: Option<&v1::LadderRecipe>) -> Result<LadderRecipe, RecipeError> {
        let Some(wire) = wire else { return Ok(LadderRecipe::default()) };
        if wire.version > RECIPE_VERSION {
            return Err(refuse("version", format!("{} is newer than this scheduler understands ({RECIPE_VERSION}); upgrade the scheduler or send version {RECIPE_VERSION}", wire.version)));
        }
        let ladder = match wire.ladder.as_str() {
            "" if !wire.rungs.is_empty() => LadderKind::Custom,
            "" | "fixed" => LadderKind::Fixed,
            "custom" => LadderKind::Custom,
            "per-title" => LadderKind::PerTitle,
            "per-shot" => LadderKind::PerShot,
            other => return Err(refuse("ladder", format!("{other:?} is not a ladder; use fixed, per-title, per-shot, or custom with --rung"))),
        };
        let target_vmaf = if wire.target_vmaf == 0.0 { DEFAULT_TARGET_VMAF } else { wire.target_vmaf };
        if !(20.0..=100.0).contains(&target_vmaf) {
            return Err(refuse("target_vmaf", format!("{} is outside 20..=100 (VMAF); 95 is the default", wire.target_vmaf)));
        }
        for (field, value) in [("floor_kbps", wire.floor_kbps), ("ceiling_kbps", wire.ceiling_kbps)] {
            if value > MAX_BITRATE_KBPS {
                return Err(refuse(field, format!("{value} kb/s is above {MAX_BITRATE_KBPS}")));
            }
        }
        if wire.floor_kbps > 0 && wire.ceiling_kbps > 0 && wire.floor_kbps > wire.ceiling_kbps {
            return Err(refuse("floor_kbps", format!("the floor ({} kb/s) is above the ceiling ({} kb/s)", wire.floor_kbps, wire.ceiling_kbps)));
        }
        if wire.max_rungs > MAX_RUNGS {
            return Err(refuse("max_rungs", format!("{} is above {MAX_RUNGS}", wire.max_rungs)));
        }
        let spacing = if wire.spacing == 0.0 { DEFAULT_SPACING } else { wire.spacing };
        if !(1.1..=4.0).contains(&spacing) {
            return Err(refuse("spacing", format!("{} is outside 1.1..=4 (the bitrate ratio between neighbouring rungs)", wire.spacing)));
        }
        let preset = match wire.preset.as_str() {
            "" => None,
            name if PRESETS.contains(&name) => Some(name.to_owned()),
            other => return Err(refuse("preset", format!("{other:?} is not a preset; use one of {}", PRESETS.join(", ")))),
        };
        let rungs = match ladder {
            LadderKind::Fixed if !wire.rungs.is_empty() => {
                return Err(refuse("rungs", "explicit rungs replace the fixed ladder: use ladder custom (or leave ladder empty)"));
            }
            LadderKind::PerTitle | LadderKind::PerShot if !wire.rungs.is_empty() => {
                return Err(refuse("rungs", format!("explicit rungs replace the {} ladder: use ladder custom (or leave ladder empty)", ladder.as_str())));
            }
            LadderKind::Fixed | LadderKind::PerTitle | LadderKind::PerShot => Vec::new(),
            LadderKind::Custom => custom_rungs(&wire.rungs)?,
        };
        Ok(LadderRecipe { version: RECIPE_VERSION, ladder, target_vmaf, floor_kbps: wire.floor_kbps, ceiling_kbps: wire.ceiling_kbps, max_rungs: wire.max_rungs, spacing, preset, rungs })
    }

    /// The recipe as a client sees it (every default spelled out); checking it again gives
    /// the same recipe.
    pub fn to_wire(&self) -> v1::LadderRecipe {
        v1::LadderRecipe {
            version: self.version,
            ladder: self.ladder.as_str().to_owned(),
            target_vmaf: self.target_vmaf,
            floor_kbps: self.floor_kbps,
            ceiling_kbps: self.ceiling_kbps,
            max_rungs: self.max_rungs,
            spacing: self.spacing,
            preset: self.preset.clone().unwrap_or_default(),
            rungs: self
                .rungs
                .iter()
                .map(|rung| v1::RecipeRung { width: rung.width, height: rung.height, bitrate_kbps: rung.bitrate_kbps, maxrate_kbps: rung.maxrate_kbps, bufsize_kbps: rung.bufsize_kbps })
                .collect(),
        }
    }
}

fn custom_rungs(wire: &[v1::RecipeRung]) -> Result<Vec<RecipeRung>, RecipeError> {
    if wire.is_empty() {
        return Err(refuse("rungs", "a custom ladder needs at least one rung (WIDTHxHEIGHT@KBPS)"));
    }
    if wire.len() > MAX_RUNGS as usize {
        return Err(refuse("rungs", format!("{} rungs; at most {MAX_RUNGS}", wire.len())));
    }
    let mut rungs: Vec<RecipeRung> = Vec::with_capacity(wire.len());
    for (index, rung) in wire.iter().enumerate() {
        let at = |message: String| refuse("rungs", format!("rung {} ({}x{}@{}): {message}", index + 1, rung.width, rung.height, rung.bitrate_kbps));
        for side in [rung.width, rung.height] {
            if !(2..=16384).contains(&side) || side % 2 == 1 {
                return Err(at("width and height must be even, 2..=16384 (4:2:0 halves them)".to_owned()));
            }
        }
        if !(1..=MAX_BITRATE_KBPS).contains(&rung.bitrate_kbps) {
            return Err(at(format!("the bitrate must be 1..={MAX_BITRATE_KBPS} kb/s")));
        }
        let maxrate_kbps = if rung.maxrate_kbps == 0 { rung.bitrate_kbps.saturating_mul(3) / 2 } else { rung.maxrate_kbps };
        let bufsize_kbps = if rung.bufsize_kbps == 0 { rung.bitrate_kbps.saturating_mul(2) } else { rung.bufsize_kbps };
        if maxrate_kbps < rung.bitrate_kbps || maxrate_kbps > MAX_BITRATE_KBPS * 2 || bufsize_kbps > MAX_BITRATE_KBPS * 4 {
            return Err(at("the peak (maxrate) must be at least the bitrate, and peak and buffer within 2x and 4x the largest bitrate".to_owned()));
        }
        let checked = RecipeRung { width: rung.width, height: rung.height, bitrate_kbps: rung.bitrate_kbps, maxrate_kbps, bufsize_kbps };
        if rungs.iter().any(|kept| (kept.width, kept.height, kept.bitrate_kbps) == (checked.width, checked.height, checked.bitrate_kbps)) {
            return Err(at("the same size and bitrate twice".to_owned()));
        }
        rungs.push(checked);
    }
    // Best first, as every ladder is listed.
    rungs.sort_by(|a, b| b.bitrate_kbps.cmp(&a.bitrate_kbps).then((b.width * b.height).cmp(&(a.width * a.height))));
    Ok(rungs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rung(width: u32, height: u32, bitrate_kbps: u32) -> v1::RecipeRung {
        v1::RecipeRung { width, height, bitrate_kbps, ..Default::default() }
    }

    #[test]
    fn zero_values_mean_the_defaults() {
        assert_eq!(LadderRecipe::from_wire(None).unwrap(), LadderRecipe::default());
        assert_eq!(LadderRecipe::from_wire(Some(&v1::LadderRecipe::default())).unwrap(), LadderRecipe::default());
    }

    #[test]
    fn per_title_and_per_shot_read_back_the_same() {
        for name in ["per-title", "per-shot"] {
            let wire = v1::LadderRecipe { ladder: name.into(), target_vmaf: 93.0, max_rungs: 4, ..Default::default() };
            let recipe = LadderRecipe::from_wire(Some(&wire)).unwrap();
            assert!(recipe.ladder.needs_analysis());
            assert_eq!(recipe.ladder.as_str(), name);
            assert_eq!(LadderRecipe::from_wire(Some(&recipe.to_wire())).unwrap(), recipe);
        }
        assert!(!LadderKind::Fixed.needs_analysis() && !LadderKind::Custom.needs_analysis());
    }

    #[test]
    fn custom_rungs_are_completed_and_listed_best_first() {
        let wire = v1::LadderRecipe { rungs: vec![rung(640, 360, 800), rung(1280, 720, 3000)], preset: "fast".into(), ..Default::default() };
        let recipe = LadderRecipe::from_wire(Some(&wire)).unwrap();
        assert_eq!(recipe.ladder, LadderKind::Custom);
        assert_eq!(recipe.preset.as_deref(), Some("fast"));
        assert_eq!(recipe.rungs[0], RecipeRung { width: 1280, height: 720, bitrate_kbps: 3000, maxrate_kbps: 4500, bufsize_kbps: 6000 });
        assert_eq!(recipe.rungs[1].width, 640);
        assert_eq!(LadderRecipe::from_wire(Some(&recipe.to_wire())).unwrap(), recipe, "a recipe read back checks the same");
        assert_eq!(LadderRecipe::from_wire(Some(&LadderRecipe::default().to_wire())).unwrap(), LadderRecipe::default());
    }

    #[test]
    fn bad_values_name_their_field_and_the_fix() {
        let cases: Vec<(v1::LadderRecipe, &str, &str)> = vec![
            (v1::LadderRecipe { version: 2, ..Default::default() }, "version", "upgrade"),
            (v1::LadderRecipe { ladder: "per-title".into(), rungs: vec![rung(640, 360, 800)], ..Default::default() }, "rungs", "ladder custom"),
            (v1::LadderRecipe { ladder: "best".into(), ..Default::default() }, "ladder", "per-title"),
            (v1::LadderRecipe { target_vmaf: 101.0, ..Default::default() }, "target_vmaf", "20..=100"),
            (v1::LadderRecipe { target_vmaf: f64::NAN, ..Default::default() }, "target_vmaf", "20..=100"),
            (v1::LadderRecipe { floor_kbps: 5000, ceiling_kbps: 1000, ..Default::default() }, "floor_kbps", "above the ceiling"),
            (v1::LadderRecipe { max_rungs: 21, ..Default::default() }, "max_rungs", "20"),
            (v1::LadderRecipe { spacing: 1.0, ..Default::default() }, "spacing", "1.1..=4"),
            (v1::LadderRecipe { preset: "placebo".into(), ..Default::default() }, "preset", "veryslow"),
            (v1::LadderRecipe { ladder: "custom".into(), ..Default::default() }, "rungs", "at least one rung"),
            (v1::LadderRecipe { ladder: "fixed".into(), rungs: vec![rung(640, 360, 800)], ..Default::default() }, "rungs", "ladder custom"),
            (v1::LadderRecipe { rungs: vec![rung(641, 360, 800)], ..Default::default() }, "rungs", "even"),
            (v1::LadderRecipe { rungs: vec![rung(640, 360, 0)], ..Default::default() }, "rungs", "bitrate"),
            (v1::LadderRecipe { rungs: vec![v1::RecipeRung { maxrate_kbps: 10, ..rung(640, 360, 800) }], ..Default::default() }, "rungs", "peak"),
            (v1::LadderRecipe { rungs: vec![rung(640, 360, 800), rung(640, 360, 800)], ..Default::default() }, "rungs", "twice"),
        ];
        for (wire, field, needle) in cases {
            let error = LadderRecipe::from_wire(Some(&wire)).expect_err(field);
            assert_eq!(error.field, field, "{error}");
            assert!(error.message.contains(needle), "{error} lacks {needle:?}");
        }
    }
}

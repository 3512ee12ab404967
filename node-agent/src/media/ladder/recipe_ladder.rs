//! A job's recipe turned into one codec's rungs: the fixed table fitted to the source, or the
//! user's own rungs (those larger than the source dropped, never upscaled); then the recipe's
//! bounds — every bitrate within the floor and ceiling (peak 1.5× and buffer 2× follow it),
//! at most `max_rungs`, the best kept.

use shotfarm_proto::pipeline::{Codec, Rung};
use shotfarm_proto::recipe::{LadderKind, LadderRecipe, RecipeRung};

use super::{LadderError, LadderSource, default_ladder};

/// One codec's rungs, and the user's rungs left out (with why).
#[derive(Debug, Clone, PartialEq)]
pub struct RecipeLadder {
    pub rungs: Vec<Rung>,
    pub dropped: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RecipeLadderError {
    #[error(transparent)]
    Ladder(#[from] LadderError),
    #[error("every rung of the custom ladder is larger than the source ({width}x{height} as displayed); add rungs at most that size")]
    NothingFits { width: u32, height: u32 },
    #[error("a {} ladder is made from the analyze stage's trials (`title_ladder`), not from a table", .0.as_str())]
    NeedsAnalysis(LadderKind),
}

/// The source's displayed size (sample aspect ratio applied to the width), which no rung
/// may exceed.
fn displayed_size(source: &LadderSource) -> (u32, u32) {
    ((f64::from(source.width) * source.sample_aspect()).round() as u32, source.height)
}

fn custom_rung(rung: &RecipeRung, codec: Codec, name: String) -> Rung {
    Rung { name, codec, width: rung.width, height: rung.height, bitrate_kbps: rung.bitrate_kbps, maxrate_kbps: rung.maxrate_kbps, bufsize_kbps: rung.bufsize_kbps }
}

/// The rungs `recipe` makes for `codec` from `source`; see the module docs. Names are the
/// short side (`720p`), with the bitrate added when two rungs share it (`720p_3000k`).
pub fn recipe_ladder(source: &LadderSource, codec: Codec, recipe: &LadderRecipe) -> Result<RecipeLadder, RecipeLadderError> {
    let mut dropped = Vec::new();
    let mut rungs = match recipe.ladder {
        LadderKind::Fixed => default_ladder(source, codec)?,
        kind @ (LadderKind::PerTitle | LadderKind::PerShot) => return Err(RecipeLadderError::NeedsAnalysis(kind)),
        LadderKind::Custom => {
            let (width, height) = displayed_size(source);
            let mut kept = Vec::new();
            for rung in &recipe.rungs {
                if rung.width > width || rung.height > height {
                    dropped.push(format!("{}x{}@{} kb/s is larger than the source ({width}x{height}): never upscaled", rung.width, rung.height, rung.bitrate_kbps));
                    continue;
                }
                let short_side = rung.width.min(rung.height);
                let shared = recipe.rungs.iter().filter(|other| other.width.min(other.height) == short_side).count() > 1;
                let name = if shared { format!("{short_side}p_{}k", rung.bitrate_kbps) } else { format!("{short_side}p") };
                kept.push(custom_rung(rung, codec, name));
            }
            if kept.is_empty() {
                return Err(RecipeLadderError::NothingFits { width, height });
            }
            kept
        }
    };
    for rung in &mut rungs {
        let mut bitrate = rung.bitrate_kbps;
        if recipe.ceiling_kbps > 0 {
            bitrate = bitrate.min(recipe.ceiling_kbps);
        }
        bitrate = bitrate.max(recipe.floor_kbps);
        if bitrate != rung.bitrate_kbps {
            (rung.bitrate_kbps, rung.maxrate_kbps, rung.bufsize_kbps) = (bitrate, bitrate.saturating_mul(3) / 2, bitrate.saturating_mul(2));
        }
    }
    if recipe.max_rungs > 0 {
        rungs.truncate(recipe.max_rungs as usize);
    }
    Ok(RecipeLadder { rungs, dropped })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_hd() -> LadderSource {
        LadderSource { frame_rate_num: 25, frame_rate_den: 1, ..LadderSource::square(1920, 1080) }
    }

    fn custom(rungs: &[(u32, u32, u32)]) -> LadderRecipe {
        LadderRecipe {
            ladder: LadderKind::Custom,
            rungs: rungs.iter().map(|&(width, height, bitrate_kbps)| RecipeRung { width, height, bitrate_kbps, maxrate_kbps: bitrate_kbps * 3 / 2, bufsize_kbps: bitrate_kbps * 2 }).collect(),
            ..LadderRecipe::default()
        }
    }

    #[test]
    fn the_default_recipe_is_the_fixed_ladder() {
        let made = recipe_ladder(&full_hd(), Codec::H264, &LadderRecipe::default()).unwrap();
        assert_eq!(made.rungs, default_ladder(&full_hd(), Codec::H264).unwrap());
        assert!(made.dropped.is_empty());
    }

    #[test]
    fn bounds_clamp_bitrates_and_keep_the_best_rungs() {
        let recipe = LadderRecipe { floor_kbps: 800, ceiling_kbps: 4000, max_rungs: 3, ..LadderRecipe::default() };
        let made = recipe_ladder(&full_hd(), Codec::H264, &recipe).unwrap();
        let rates: Vec<(u32, u32, u32, u32)> = made.rungs.iter().map(|rung| (rung.height, rung.bitrate_kbps, rung.maxrate_kbps, rung.bufsize_kbps)).collect();
        assert_eq!(rates, vec![(1080, 4000, 6000, 8000), (720, 3000, 4500, 6000), (540, 2000, 3000, 4000)]);
        let floored = recipe_ladder(&full_hd(), Codec::H264, &LadderRecipe { floor_kbps: 800, ..LadderRecipe::default() }).unwrap();
        assert!(floored.rungs.iter().all(|rung| rung.bitrate_kbps >= 800), "{floored:?}");
    }

    #[test]
    fn custom_rungs_larger_than_the_source_are_dropped_and_shared_heights_named_apart() {
        let source = LadderSource { frame_rate_num: 25, frame_rate_den: 1, ..LadderSource::square(1280, 720) };
        let made = recipe_ladder(&source, Codec::Hevc, &custom(&[(1920, 1080, 6000), (1280, 720, 3000), (1280, 720, 2000), (640, 360, 700)])).unwrap();
        let names: Vec<&str> = made.rungs.iter().map(|rung| rung.name.as_str()).collect();
        assert_eq!(names, vec!["720p_3000k", "720p_2000k", "360p"]);
        assert!(made.rungs.iter().all(|rung| rung.codec == Codec::Hevc));
        assert_eq!(made.dropped.len(), 1);
        assert!(made.dropped[0].contains("never upscaled"), "{:?}", made.dropped);
        let none = recipe_ladder(&source, Codec::H264, &custom(&[(1920, 1080, 6000)]));
        assert_eq!(none, Err(RecipeLadderError::NothingFits { width: 1280, height: 720 }));
    }

    #[test]
    fn an_anamorphic_source_is_measured_as_displayed() {
        // 720x576 at SAR 16:11 displays 1047 wide: a 1024x576 rung fits, a 1280x576 one does not.
        let source = LadderSource { sample_aspect_num: 16, sample_aspect_den: 11, frame_rate_num: 25, frame_rate_den: 1, ..LadderSource::square(720, 576) };
        let made = recipe_ladder(&source, Codec::H264, &custom(&[(1280, 576, 3000), (1024, 576, 2500)])).unwrap();
        assert_eq!(made.rungs.iter().map(|rung| rung.width).collect::<Vec<_>>(), vec![1024]);
    }
}

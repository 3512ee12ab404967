//! A job spec laid over another: how a job submitted with a saved recipe gets its spec (the
//! recipe's settings, then the submission's), and how `shotfarm recipes create` lays its
//! flags over a recipe file. Protobuf's merge: every non-zero scalar of the overlay replaces
//! the base's, nested messages merge field by field, map entries merge by key. A repeated
//! field the overlay gives (codecs, custom rungs) replaces the base's instead of adding to it.
//!
//! A zero value means "not given", so an overlay cannot set a field back to its zero value
//! (priority 0, full quality scoring, thumbnails on): save another recipe version for that.

use prost::Message;

use crate::v1;

/// `over` laid over `base`.
pub fn overlay(base: &v1::JobSpec, over: &v1::JobSpec) -> Result<v1::JobSpec, prost::DecodeError> {
    let mut merged = base.clone();
    if !over.codecs.is_empty() {
        merged.codecs.clear();
    }
    if let (Some(merged_recipe), Some(over_recipe)) = (merged.recipe.as_mut(), over.recipe.as_ref())
        && !over_recipe.rungs.is_empty()
    {
        merged_recipe.rungs.clear();
    }
    merged.merge(over.encode_to_vec().as_slice())?;
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved() -> v1::JobSpec {
        v1::JobSpec {
            priority: 5,
            codecs: vec!["hevc".into(), "av1".into()],
            chunk_max_ms: 6000,
            labels: [("team".to_owned(), "web".to_owned())].into(),
            quality_scoring: v1::QualityScoring::Off as i32,
            recipe: Some(v1::LadderRecipe {
                ladder: "custom".into(),
                preset: "slow".into(),
                rungs: vec![v1::RecipeRung { width: 640, height: 360, bitrate_kbps: 800, ..Default::default() }],
                ..Default::default()
            }),
            thumbnails: Some(v1::Thumbnails { interval_seconds: 4, tile_width: 240, ..Default::default() }),
            ..Default::default()
        }
    }

    #[test]
    fn the_overlays_non_zero_fields_win_and_the_rest_is_the_bases() {
        let over = v1::JobSpec {
            input_url: "file:///in/a.mp4".into(),
            output_url: "file:///out/a".into(),
            labels: [("title".to_owned(), "a".to_owned())].into(),
            recipe: Some(v1::LadderRecipe { preset: "veryfast".into(), ..Default::default() }),
            thumbnails: Some(v1::Thumbnails { tile_width: 320, poster_seconds: Some(1.5), ..Default::default() }),
            ..Default::default()
        };
        let merged = overlay(&saved(), &over).expect("merges");
        assert_eq!((merged.input_url.as_str(), merged.output_url.as_str()), ("file:///in/a.mp4", "file:///out/a"));
        assert_eq!((merged.priority, merged.chunk_max_ms, merged.quality_scoring), (5, 6000, v1::QualityScoring::Off as i32));
        assert_eq!(merged.codecs, vec!["hevc".to_owned(), "av1".to_owned()]);
        assert_eq!(merged.labels.len(), 2, "labels merge by key: {:?}", merged.labels);
        let recipe = merged.recipe.expect("recipe");
        assert_eq!((recipe.ladder.as_str(), recipe.preset.as_str(), recipe.rungs.len()), ("custom", "veryfast", 1));
        let thumbnails = merged.thumbnails.expect("thumbnails");
        assert_eq!((thumbnails.interval_seconds, thumbnails.tile_width, thumbnails.poster_seconds), (4, 320, Some(1.5)));
    }

    #[test]
    fn repeated_fields_given_replace_the_bases() {
        let over = v1::JobSpec {
            codecs: vec!["h264".into()],
            recipe: Some(v1::LadderRecipe { rungs: vec![v1::RecipeRung { width: 1280, height: 720, bitrate_kbps: 3000, ..Default::default() }], ..Default::default() }),
            ..Default::default()
        };
        let merged = overlay(&saved(), &over).expect("merges");
        assert_eq!(merged.codecs, vec!["h264".to_owned()]);
        let rungs = merged.recipe.expect("recipe").rungs;
        assert_eq!(rungs.iter().map(|rung| rung.width).collect::<Vec<_>>(), vec![1280]);
    }

    #[test]
    fn an_empty_overlay_changes_nothing() {
        assert_eq!(overlay(&saved(), &v1::JobSpec::default()).expect("merges"), saved());
        assert_eq!(overlay(&v1::JobSpec::default(), &saved()).expect("merges"), saved());
    }
}

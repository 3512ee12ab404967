//! The ladder task: the job's recipe for each requested codec — the fixed ladder fitted to the
//! source, or the user's own rungs, within the recipe's bounds; or, per-title and per-shot,
//! the rungs on the hull of the analyze stage's trials (`media::ladder::title_ladder`), with
//! the decision behind them — with names unique across codecs (`h264_720p`, `hevc_720p`). A
//! codec whose software encoder this agent's ffmpeg lacks is a final error naming the encoder
//! (the farm's agents are expected to share one ffmpeg build).

use shotfarm_proto::analysis::{ChunkTrials, LadderDecision};
use shotfarm_proto::pipeline::{Codec, Rung, SourceSummary, TaskOutput};
use shotfarm_proto::recipe::LadderRecipe;

use super::encode::encoder_settings;
use super::{TaskContext, TaskError};
use crate::media::ladder::LadderSource;
use crate::media::ladder::recipe_ladder::recipe_ladder;
use crate::media::ladder::title_ladder::title_ladder;

pub fn run(source: &SourceSummary, codecs: &[Codec], recipe: &LadderRecipe, analysis: &[ChunkTrials], ctx: &TaskContext) -> Result<TaskOutput, TaskError> {
    if codecs.is_empty() {
        return Err(TaskError::final_error("the job asks for no codec; give at least one of h264, hevc, av1"));
    }
    // Rungs have square pixels and the source's display aspect (an anamorphic source's stored
    // width is stretched by its sample aspect ratio); their bitrates follow the frame rate the
    // renditions are encoded at.
    let ladder_source = LadderSource {
        width: source.width,
        height: source.height,
        sample_aspect_num: source.sample_aspect_num,
        sample_aspect_den: source.sample_aspect_den,
        frame_rate_num: source.frame_rate_num,
        frame_rate_den: source.frame_rate_den,
    };
    let mut rungs: Vec<Rung> = Vec::new();
    let mut decision = recipe.ladder.needs_analysis().then(|| LadderDecision { ladder: recipe.ladder, codecs: Vec::new() });
    let keyframe_interval = encoder_settings(source, recipe.preset.as_deref()).keyframe_interval_frames;
    let mut seen = Vec::new();
    for &codec in codecs {
        if seen.contains(&codec) {
            continue;
        }
        seen.push(codec);
        let encoder = codec.software_encoder();
        if !ctx.capabilities.has_encoder(encoder) {
            return Err(TaskError::final_error(format!(
                "the job asks for {} but this ffmpeg ({}) has no {encoder} encoder; install an ffmpeg built with {encoder} or drop {} from the job's codecs",
                codec.as_str(),
                ctx.capabilities.ffmpeg_version,
                codec.as_str()
            )));
        }
        if let Some(decision) = decision.as_mut() {
            let made = title_ladder(&ladder_source, codec, recipe, analysis, keyframe_interval)
                .map_err(|error| TaskError::final_error(format!("no {} ladder for {}: {error}", recipe.ladder.as_str(), codec.as_str())))?;
            for (rung, why) in made.rungs.iter().zip(&made.decision.rungs) {
                tracing::info!(task_id = ctx.task_id, rung = %rung.name, width = rung.width, height = rung.height, bitrate_kbps = rung.bitrate_kbps, predicted_vmaf = why.predicted_vmaf, setting = why.title_setting, "rung chosen on the hull");
            }
            rungs.extend(made.rungs);
            decision.codecs.push(made.decision);
            continue;
        }
        let made = recipe_ladder(&ladder_source, codec, recipe)
            .map_err(|error| TaskError::final_error(format!("no {} ladder for {}: {error}", recipe.ladder.as_str(), codec.as_str())))?;
        for why in &made.dropped {
            tracing::warn!(task_id = ctx.task_id, codec = codec.as_str(), "a rung of the custom ladder is left out: {why}");
        }
        rungs.extend(made.rungs.into_iter().map(named_for_its_codec));
    }
    tracing::info!(task_id = ctx.task_id, attempt = ctx.attempt, rungs = ?rungs.iter().map(|rung| rung.name.as_str()).collect::<Vec<_>>(), "ladder chosen");
    Ok(TaskOutput::Ladder { rungs, decision })
}

/// A default-ladder rung renamed for the job (`720p` → `h264_720p`, unique across codecs).
fn named_for_its_codec(rung: Rung) -> Rung {
    Rung { name: format!("{}_{}", rung.codec.as_str(), rung.name), ..rung }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rungs_get_codec_prefixed_names() {
        let rung = Rung { name: "720p".into(), width: 1280, height: 720, codec: Codec::Hevc, bitrate_kbps: 2100, maxrate_kbps: 3150, bufsize_kbps: 4200 };
        let named = named_for_its_codec(rung.clone());
        assert_eq!((named.name.as_str(), named.codec, named.bufsize_kbps), ("hevc_720p", Codec::Hevc, 4200));
        assert_eq!(named, Rung { name: "hevc_720p".into(), ..rung });
    }
}

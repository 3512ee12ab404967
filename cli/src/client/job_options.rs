//! The job options `submit` and `dev` share: ladder codecs and recipe, how many rungs one
//! encode task produces, whether chunks are quality-scored, and whether the outputs may
//! replace files.

use shotfarm_proto::v1;

use super::recipe_flags::RecipeFlags;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct JobOptions {
    /// Ladder codecs (h264, hevc, av1); repeatable. Default h264.
    #[arg(long = "codec")]
    pub codecs: Vec<String>,
    /// Rungs of one chunk each encode task produces from a single decode of the chunk (1..=8;
    /// 0 or 1: one task per chunk and rung, the finest grain). Higher suits a few CPU nodes.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=8))]
    pub rungs_per_encode: u32,
    /// Skip per-chunk quality scoring (VMAF, PSNR, SSIM): the report has no quality figures.
    #[arg(long)]
    pub no_scoring: bool,
    /// Replace what the output location already holds: the new ladder goes into a folder of
    /// its own, the manifests are switched last, then the previous files are removed (a failed
    /// job leaves them whole). Without it a non-empty output location fails the job.
    #[arg(long)]
    pub overwrite: bool,
    #[command(flatten)]
    pub recipe: RecipeFlags,
}

impl JobOptions {
    /// The job spec these options describe, for `input_url` → `output_url`.
    pub fn spec(&self, input_url: String, output_url: String) -> v1::JobSpec {
        v1::JobSpec {
            input_url,
            output_url,
            codecs: self.codecs.clone(),
            rungs_per_encode: self.rungs_per_encode,
            quality_scoring: if self.no_scoring { v1::QualityScoring::Off } else { v1::QualityScoring::Full } as i32,
            overwrite: self.overwrite,
            recipe: self.recipe.to_wire(),
            ..Default::default()
        }
    }
}

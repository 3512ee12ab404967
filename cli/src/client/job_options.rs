//! The job options `submit` and `dev` share: ladder codecs and recipe, how many rungs one
//! encode task produces, whether chunks are quality-scored, whether the outputs may
//! replace files, the thumbnails and poster, and the content encryption.

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
    /// No thumbnail sprite sheets, thumbnail tracks (WebVTT, HLS image playlist, DASH image set) or poster.
    #[arg(long)]
    pub no_thumbnails: bool,
    /// Seconds between thumbnail tiles (1..=3600; default 10).
    #[arg(long)]
    pub thumbnail_interval: Option<u32>,
    /// A thumbnail tile's width in pixels (even, 32..=1280; default 160); the height keeps the aspect.
    #[arg(long)]
    pub thumbnail_width: Option<u32>,
    /// Thumbnail tiles per sprite sheet, COLUMNSxROWS (1..=20 each; default 5x5).
    #[arg(long, value_name = "CxR", value_parser = parse_grid)]
    pub thumbnail_grid: Option<(u32, u32)>,
    /// The poster's time in seconds; default: the middle frame of the longest shot.
    #[arg(long)]
    pub poster_seconds: Option<f64>,
    /// Encrypt every video and audio track with Common Encryption: cbcs (HLS SAMPLE-AES:
    /// FairPlay, Widevine, PlayReady) or cenc (AES-CTR, DASH). Needs --key-url.
    #[arg(long, value_name = "cbcs|cenc", requires = "key_url")]
    pub encryption: Option<String>,
    /// The key file (JSON: one key id and key for all tracks, or one for video and one for
    /// audio, plus optional video-sd, video-hd and video-uhd keys), under the farm's input
    /// roots; the job holds only this URL.
    #[arg(long, value_name = "URL", requires = "encryption")]
    pub key_url: Option<String>,
    /// Leave every segment that starts within the first S seconds unencrypted, so playback
    /// starts before a licence arrives (0 to 300; default none).
    #[arg(long, value_name = "S", requires = "encryption")]
    pub clear_lead_seconds: Option<f64>,
}

/// `COLUMNSxROWS`, e.g. `5x5`.
fn parse_grid(text: &str) -> Result<(u32, u32), String> {
    let parsed = text.split_once('x').and_then(|(columns, rows)| Some((columns.parse().ok()?, rows.parse().ok()?)));
    parsed.ok_or_else(|| format!("{text:?} is not a grid; write COLUMNSxROWS, e.g. 5x5"))
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
            thumbnails: Some(v1::Thumbnails {
                disabled: self.no_thumbnails,
                interval_seconds: self.thumbnail_interval.unwrap_or(0),
                tile_width: self.thumbnail_width.unwrap_or(0),
                columns: self.thumbnail_grid.map_or(0, |(columns, _)| columns),
                rows: self.thumbnail_grid.map_or(0, |(_, rows)| rows),
                poster_seconds: self.poster_seconds,
            }),
            encryption: self.encryption.as_ref().map(|scheme| v1::Encryption {
                scheme: scheme.clone(),
                key_url: self.key_url.clone().unwrap_or_default(),
                clear_lead_seconds: self.clear_lead_seconds.unwrap_or(0.0),
            }),
            ..Default::default()
        }
    }
}

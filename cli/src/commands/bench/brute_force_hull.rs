//! The brute-force hull `bench ladder` measures the analysis against: a corpus source encoded
//! whole at every resolution a ladder of it could use (the analysis's trial sizes and the
//! fixed ladder's) × a fine grid of constant-quality settings (CRF [`FIRST_SETTING`] to
//! [`LAST_SETTING`] in steps of [`SETTING_STEP`]), with the farm's x264 settings (preset,
//! profile, closed 2-second groups of pictures) and no bitrate cap, each scored with VMAF on
//! every frame against the source at the source's size. Its upper concave envelope in the
//! (bitrate, VMAF) plane is the best ladder any choice of sizes and settings could give; the
//! BD-rate of a recipe's measured renditions against it is what the recipe's cheaper analysis
//! (trials of a sample, scored on every n-th frame) leaves on the table.

use std::path::Path;

use shotfarm_agent::media::ladder::hull::{TrialPoint, upper_hull};
use shotfarm_agent::media::ladder::{LadderSource, default_ladder};
use shotfarm_agent::media::mp4_samples::video_bytes;
use shotfarm_agent::media::process::{Tool, ToolCommand, run_collecting_stdout};
use shotfarm_kernels::decode::ffmpeg_programs::FfmpegPrograms;
use shotfarm_kernels::{VmafOptions, vmaf_files};
use shotfarm_proto::analysis::trial_sizes;
use shotfarm_proto::pipeline::{Codec, SourceSummary};
use tokio_util::sync::CancellationToken;

use super::bd_rate::RatePoint;
use super::failure;
use crate::exit::CommandError;

/// The grid of settings: CRF 14, 16, … 46 (x264's useful range for streaming).
const FIRST_SETTING: u32 = 14;
const LAST_SETTING: u32 = 46;
const SETTING_STEP: usize = 2;
/// The corpus's frame rate and the farm's segment length: a keyframe every 48 frames.
const FRAMES_PER_SECOND: u32 = 24;
const KEYFRAME_INTERVAL: u32 = 2 * FRAMES_PER_SECOND;

/// Every size a ladder of a `width`×`height` square-pixel source could use: the trial sizes
/// and the fixed ladder's rung sizes, largest first, each once.
pub fn candidate_sizes(width: u32, height: u32) -> Result<Vec<(u32, u32)>, CommandError> {
    let summary = SourceSummary { width, height, frames: 0, frame_rate_num: FRAMES_PER_SECOND, frame_rate_den: 1, duration_ms: 0, has_audio: false, sample_aspect_num: 1, sample_aspect_den: 1 };
    let source = LadderSource { width, height, sample_aspect_num: 1, sample_aspect_den: 1, frame_rate_num: FRAMES_PER_SECOND, frame_rate_den: 1 };
    let mut sizes = trial_sizes(&summary);
    sizes.extend(default_ladder(&source, Codec::H264).map_err(failure)?.iter().map(|rung| (rung.width, rung.height)));
    sizes.sort_by(|a, b| (b.0 * b.1).cmp(&(a.0 * a.1)).then(b.cmp(a)));
    sizes.dedup();
    Ok(sizes)
}

/// The brute-force hull of `source` (`width`×`height`, the corpus's 24 fps) at `preset`:
/// every candidate size × every setting of the grid, encoded whole in `scratch` and scored;
/// the points of its upper concave envelope, by rising bitrate.
pub async fn brute_force_hull(source: &Path, (width, height): (u32, u32), preset: &str, scratch: &Path, verbose: bool) -> Result<Vec<RatePoint>, CommandError> {
    let seconds = probe_seconds(source).await?;
    let mut points = Vec::new();
    for (rung_width, rung_height) in candidate_sizes(width, height)? {
        for setting in (FIRST_SETTING..=LAST_SETTING).step_by(SETTING_STEP) {
            let encoded = scratch.join(format!("brute-{rung_width}x{rung_height}-crf{setting}.mp4"));
            encode(source, &encoded, (rung_width, rung_height), setting, preset).await?;
            let bits = video_bytes(&encoded).map_err(failure)? * 8;
            let vmaf = score(source, &encoded).await?;
            std::fs::remove_file(&encoded).map_err(failure)?;
            let point = TrialPoint { width: rung_width, height: rung_height, setting: f64::from(setting), bitrate_kbps: bits as f64 / seconds / 1000.0, vmaf };
            if verbose {
                eprintln!("    brute force {rung_width}x{rung_height} CRF {setting}: {:.0} kb/s, VMAF {:.2}", point.bitrate_kbps, point.vmaf);
            }
            points.push(point);
        }
    }
    Ok(upper_hull(&points).iter().map(|point| RatePoint { kbps: point.bitrate_kbps, vmaf: point.vmaf }).collect())
}

/// The source's duration in seconds (its frames at the corpus's rate).
async fn probe_seconds(source: &Path) -> Result<f64, CommandError> {
    let args = ["-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0"];
    let command = ToolCommand::new(Tool::Ffprobe).args(args.iter().map(|arg| (*arg).to_owned()).chain([source.display().to_string()]));
    let (text, _) = run_collecting_stdout(&command, &CancellationToken::new()).await.map_err(failure)?;
    let frames: f64 = String::from_utf8_lossy(&text).trim().parse().map_err(|_| failure(format!("{}: ffprobe counted no frames", source.display())))?;
    if frames < 1.0 {
        return Err(failure(format!("{} has no video frame", source.display())));
    }
    Ok(frames / f64::from(FRAMES_PER_SECOND))
}

/// One whole-source encode as the farm's x264 makes a chunk, at a constant quality, uncapped.
async fn encode(source: &Path, out: &Path, (width, height): (u32, u32), setting: u32, preset: &str) -> Result<(), CommandError> {
    let interval = KEYFRAME_INTERVAL.to_string();
    let mut args: Vec<String> = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i"].map(String::from).to_vec();
    args.push(source.display().to_string());
    args.extend(["-an".to_owned(), "-vf".to_owned(), format!("scale={width}:{height}:flags=bicubic,setsar=1")]);
    args.extend(["-c:v", "libx264", "-profile:v", "high", "-preset", preset, "-crf"].map(String::from));
    args.push(setting.to_string());
    args.extend(["-g", &interval, "-keyint_min", &interval, "-sc_threshold", "0", "-x264-params", "open-gop=0:scenecut=0"].map(String::from));
    args.push(out.display().to_string());
    run_collecting_stdout(&ToolCommand::new(Tool::Ffmpeg).args(args), &CancellationToken::new()).await.map(drop).map_err(|error| failure(format!("brute-force encode of {}: {error}", source.display())))
}

/// VMAF of `encoded` (upscaled bicubic) against `source`, every frame, pooled by the mean.
async fn score(source: &Path, encoded: &Path) -> Result<f64, CommandError> {
    let (source, distorted) = (source.to_owned(), encoded.to_owned());
    let report = tokio::task::spawn_blocking(move || vmaf_files(&FfmpegPrograms::from_env(), &source, &distorted, &VmafOptions::default())).await.map_err(failure)?.map_err(failure)?;
    let scores: Vec<f64> = report.frames.iter().map(|frame| frame.vmaf).collect();
    if scores.is_empty() {
        return Err(failure(format!("{} scored no frame", encoded.display())));
    }
    Ok(scores.iter().sum::<f64>() / scores.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidate_sizes_join_the_trial_sizes_and_the_fixed_ladder() {
        assert_eq!(candidate_sizes(1920, 1080).unwrap(), vec![(1920, 1080), (1280, 720), (960, 540), (854, 480), (640, 360), (568, 320), (426, 240)]);
        assert_eq!(candidate_sizes(640, 360).unwrap(), vec![(640, 360), (426, 240), (284, 160), (256, 144)]);
    }
}

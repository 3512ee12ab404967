//! The sources `bench ladder` compares ladders on: six kinds of content whose rate–quality
//! curves differ most, synthesised by ffmpeg's generators at the asked size and length, each
//! written once as a near-lossless H.264 file (CRF 6) and kept among the cached bench sources
//! ([`super::source_cache`]), named by kind, size, length and the graphs' version.
//!
//! | name | what it stands for | how |
//! | --- | --- | --- |
//! | `slides` | near-static slides | a test card that changes every two seconds |
//! | `talking_head` | low motion, smooth | slowly drifting colour gradients |
//! | `animation` | flat colour, hard edges | Conway's life at a quarter size, scaled up without smoothing |
//! | `camera_pan` | high motion | a wide textured card panned across in the clip's length |
//! | `grain` | heavy noise | a moving test card under strong temporal noise |
//! | `scene_cuts` | fast cuts | a different generator every half second |

use std::path::{Path, PathBuf};

use shotfarm_agent::media::process::{Tool, ToolCommand, run_collecting_stdout};
use tokio_util::sync::CancellationToken;

use super::source_cache::cached_file;
use crate::exit::CommandError;

/// Changes whenever [`generators`] makes different pictures, so old files are not reused.
const CORPUS_VERSION: u32 = 1;

/// One source of the corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct CorpusSource {
    pub name: String,
    pub path: PathBuf,
}

/// The generator graph of each synthesised source, at `width`×`height` for `seconds` s, 24 fps.
pub fn generators(width: u32, height: u32, seconds: u32) -> Vec<(&'static str, String)> {
    let size = format!("{width}x{height}");
    let (quarter_w, quarter_h) = ((width / 4).max(16), (height / 4).max(16));
    let cut = |index: u32| match index % 5 {
        0 => format!("testsrc2=s={size}:r=24:d=0.5"),
        1 => format!("mandelbrot=s={size}:r=24,trim=duration=0.5,setpts=PTS-STARTPTS"),
        2 => format!("smptehdbars=s={size}:r=24:d=0.5,noise=alls=20:allf=t"),
        3 => format!("life=s={quarter_w}x{quarter_h}:r=24:mold=10,trim=duration=0.5,setpts=PTS-STARTPTS,scale={size}:flags=neighbor"),
        _ => format!("testsrc2=s={size}:r=24:d=0.5,hue=h=120,negate"),
    };
    let cuts = seconds * 2;
    let mut scene_cuts: String = (0..cuts).map(|index| format!("{}[c{index}];", cut(index))).collect();
    scene_cuts.push_str(&(0..cuts).map(|index| format!("[c{index}]")).collect::<String>());
    scene_cuts.push_str(&format!("concat=n={cuts}:v=1:a=0"));
    vec![
        ("slides", format!("testsrc=s={size}:r=0.5:d={seconds},fps=24")),
        ("talking_head", format!("gradients=s={size}:r=24:d={seconds}:speed=0.003")),
        ("animation", format!("life=s={quarter_w}x{quarter_h}:r=24:mold=10:ratio=0.3:life_color=#f0c040:death_color=#1f3f7f,trim=duration={seconds},scale={size}:flags=neighbor")),
        ("camera_pan", format!("testsrc2=s={}x{height}:r=24:d={seconds},crop={width}:{height}:x='(iw-ow)*t/{seconds}':y=0", width * 3)),
        ("grain", format!("testsrc2=s={size}:r=24:d={seconds},noise=alls=35:allf=t+u")),
        ("scene_cuts", scene_cuts),
    ]
}

/// The sources of the corpus whose names `wanted` accepts, at `width`×`height`, `seconds`
/// long, synthesised into `cache` where missing.
pub async fn corpus(cache: &Path, width: u32, height: u32, seconds: u32, wanted: impl Fn(&str) -> bool) -> Result<Vec<CorpusSource>, CommandError> {
    let mut sources = Vec::new();
    for (name, graph) in generators(width, height, seconds).into_iter().filter(|(name, _)| wanted(name)) {
        let file = format!("ladder-{name}-{width}x{height}-{seconds}s-r{CORPUS_VERSION}.mp4");
        let path = cached_file(cache, &file, |partial| async move { synthesize(&graph, seconds, &partial).await }).await?;
        sources.push(CorpusSource { name: name.to_owned(), path });
    }
    Ok(sources)
}

/// Encodes `graph` near-losslessly to `path`.
async fn synthesize(graph: &str, seconds: u32, path: &Path) -> Result<(), CommandError> {
    let args: Vec<String> = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-filter_complex"]
        .iter()
        .map(|arg| (*arg).to_owned())
        .chain([format!("{graph},format=yuv420p[v]"), "-map".into(), "[v]".into(), "-t".into(), seconds.to_string()])
        .chain(["-c:v", "libx264", "-preset", "veryfast", "-crf", "6", "-g", "48"].map(String::from))
        .chain([path.display().to_string()])
        .collect();
    run_collecting_stdout(&ToolCommand::new(Tool::Ffmpeg).args(args), &CancellationToken::new())
        .await
        .map(drop)
        .map_err(|error| CommandError::from(anyhow::anyhow!("synthesising {}: {error}", path.display())))
}

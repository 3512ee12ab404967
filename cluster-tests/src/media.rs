//! Small real media for the multi-process tier, and checks of a finished job's outputs that do
//! not trust the pipeline.
//!
//! A [`SyntheticSource`] is a few seconds of video synthesized with ffmpeg: three shots with
//! hard cuts (so the planner makes several chunks) and a tone, where the top band of every
//! frame carries the frame's own index as eight black or white stripes (bit 0 on the left).
//! [`check_outputs`] then reads an output directory the way a player would: the manifests
//! exist and name every rendition (the media of one package attempt, in one folder), `ffprobe` counts exactly the source's frames in every
//! rendition, decoding every rendition yields the stripe codes `0, 1, 2, …` in order (no
//! frame dropped, repeated or reordered), `report.json` agrees (`report.html` beside it), and the directory holds
//! exactly the expected files (no work area, no temp file, no segment the playlist does not
//! name).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use shotfarm_proto::v1;
use tokio::process::Command;

/// Frames index themselves in this many bits.
const INDEX_BITS: u32 = 8;
/// The stripe code covers this fraction of the picture's height (1/4), of which the decoder
/// reads the upper part (1/5), away from the edge that encoders blur into the picture below.
const BAND_DIVISOR: u32 = 4;
const READ_DIVISOR: u32 = 5;

/// A synthesized source file and what it is known to contain.
#[derive(Debug, Clone)]
pub struct SyntheticSource {
    pub path: PathBuf,
    pub width: u32,
    pub height: u32,
    /// Video frames, as `ffprobe -count_frames` reads them back.
    pub frames: u64,
}

impl SyntheticSource {
    pub fn url(&self) -> String {
        format!("file://{}", self.path.display())
    }

    /// A job of this source into `out` with short chunks (0.5 to 1 s), so that a few seconds
    /// of source make several encode tasks.
    pub fn job_spec(&self, out: &Path) -> v1::JobSpec {
        v1::JobSpec {
            input_url: self.url(),
            output_url: format!("file://{}", out.display()),
            chunk_min_ms: 500,
            chunk_max_ms: 1000,
            ..Default::default()
        }
    }
}

/// Runs `program` (ffmpeg, ffprobe) with `args`; its stdout, or an error with its stderr.
pub async fn run_tool(program: &str, args: &[String]) -> anyhow::Result<Vec<u8>> {
    let output = Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .with_context(|| format!("cannot run {program} (install ffmpeg)"))?;
    if !output.status.success() {
        bail!("{program} {} failed ({}): {}", args.join(" "), output.status, String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(output.stdout)
}

/// Synthesizes `seconds` (at least 2) of `width`x`height` video at 24 fps (at most 255
/// frames: the stripe code has eight bits) into `dir/name`: a moving test pattern, colour
/// bars with film grain and a hue-shifted second pattern, cut hard, each frame stamped with
/// its index; plus a 440 Hz tone and English subtitles (one cue a second, as MP4 carries
/// text: `mov_text`).
pub async fn synthesize(dir: &Path, name: &str, (width, height): (u32, u32), seconds: f64) -> anyhow::Result<SyntheticSource> {
    ensure!(width % 16 == 0 && height % 4 == 0, "{width}x{height}: use a width divisible by 16 and a height by 4");
    ensure!((2.0..=10.0).contains(&seconds), "{seconds} s: use 2 to 10 s (the frame stamp counts to 255)");
    let path = dir.join(name);
    let size = format!("{width}x{height}");
    let first = seconds * 0.4;
    let second = seconds * 0.3;
    let third = seconds - first - second;
    // Luma of the top band: stripe k (of INDEX_BITS across the width) is white when bit k of
    // the frame number N is set. Chroma there is neutral.
    let band = format!("lt(Y,H/{BAND_DIVISOR})");
    let bit = format!("mod(floor(N/pow(2,floor(X*{INDEX_BITS}/W))),2)");
    let stamp = format!("geq=lum='if({band},if({bit},235,16),lum(X,Y))':cb='if({band},128,cb(X,Y))':cr='if({band},128,cr(X,Y))'");
    let graph = format!("[1:v]noise=alls=12:allf=t[grain];[0:v][grain][2:v]concat=n=3:v=1:a=0,format=yuv420p,{stamp}[v]");
    let cues = dir.join(format!("{name}.srt"));
    tokio::fs::write(&cues, subtitle_cues(seconds)).await.with_context(|| format!("writing {}", cues.display()))?;
    let args: Vec<String> = [
        "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
        "-f", "lavfi", "-i", &format!("testsrc2=size={size}:rate=24:duration={first:.3}"),
        "-f", "lavfi", "-i", &format!("smptehdbars=size={size}:rate=24:duration={second:.3}"),
        "-f", "lavfi", "-i", &format!("testsrc=size={size}:rate=24:duration={third:.3},hue=h=90"),
        "-f", "lavfi", "-i", &format!("sine=frequency=440:sample_rate=48000:duration={seconds:.3}"),
        "-i", &cues.display().to_string(),
        "-filter_complex", &graph, "-map", "[v]", "-map", "3:a", "-map", "4:s", "-t", &format!("{seconds:.3}"),
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "16", "-c:a", "aac", "-b:a", "96k", "-c:s", "mov_text", "-metadata:s:s:0", "language=eng",
        &path.display().to_string(),
    ]
    .map(str::to_owned)
    .to_vec();
    run_tool("ffmpeg", &args).await?;
    tokio::fs::remove_file(&cues).await.with_context(|| format!("removing {}", cues.display()))?;
    let frames = frame_count(&path).await?;
    ensure!(frames > 0 && frames < 1 << INDEX_BITS, "the synthesized source has {frames} frames");
    let indices = frame_indices(&path).await?;
    ensure!(in_order(&indices).is_ok(), "the synthesized source does not read back its own stamps: {indices:?}");
    Ok(SyntheticSource { path, width, height, frames })
}

/// SubRip cues for `seconds` of video: "Second N" from N + 0.25 s to N + 0.75 s.
fn subtitle_cues(seconds: f64) -> String {
    (0..seconds.floor() as u32).map(|second| format!("{}\n00:00:{second:02},250 --> 00:00:{second:02},750\nSecond {second}\n\n", second + 1)).collect()
}

/// Video frames in `path` (a file or a playlist), decoded and counted by `ffprobe`.
pub async fn frame_count(path: &Path) -> anyhow::Result<u64> {
    let args: Vec<String> = ["-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"]
        .map(str::to_owned)
        .into_iter()
        .chain([path.display().to_string()])
        .collect();
    let stdout = run_tool("ffprobe", &args).await?;
    // The HLS demuxer lists the stream once per program; every listing counts the same frames.
    let text = String::from_utf8_lossy(&stdout);
    let line = text.lines().map(str::trim).find(|line| !line.is_empty()).with_context(|| format!("ffprobe counted no frames in {}", path.display()))?;
    line.parse().with_context(|| format!("ffprobe answered {line:?} for {}", path.display()))
}

/// The stamp of every frame of `path`'s first video stream, in decoding order.
pub async fn frame_indices(path: &Path) -> anyhow::Result<Vec<u32>> {
    // Average each stripe of the band into one grey pixel: INDEX_BITS bytes per frame.
    let filter = format!("crop=iw:ih/{READ_DIVISOR}:0:0,scale={INDEX_BITS}:1:flags=area,format=gray");
    let args: Vec<String> = ["-hide_banner", "-loglevel", "error", "-nostdin", "-i", &path.display().to_string()]
        .map(str::to_owned)
        .into_iter()
        .chain(["-map", "0:v:0", "-vf", &filter, "-fps_mode", "passthrough", "-f", "rawvideo", "-"].map(str::to_owned))
        .collect();
    let stdout = run_tool("ffmpeg", &args).await?;
    Ok(stdout
        .chunks_exact(INDEX_BITS as usize)
        .map(|stripes| stripes.iter().enumerate().map(|(bit, &luma)| u32::from(luma >= 128) << bit).sum())
        .collect())
}

/// `Ok` when `indices` is exactly `0, 1, 2, …`; else the first frame that is not.
fn in_order(indices: &[u32]) -> Result<(), String> {
    match indices.iter().enumerate().find(|(position, index)| **index as usize != *position) {
        None => Ok(()),
        Some((position, index)) => {
            let around = &indices[position.saturating_sub(3)..(position + 4).min(indices.len())];
            Err(format!("frame {position} is source frame {index} (frames around it: {around:?})"))
        }
    }
}

/// One rendition as `report.json` and the playlists describe it.
#[derive(Debug, Clone)]
pub struct CheckedRendition {
    pub name: String,
    pub frames: u64,
    pub segments: usize,
}

/// What [`check_outputs`] found, for a scenario's further assertions.
#[derive(Debug, Clone)]
pub struct CheckedOutputs {
    pub renditions: Vec<CheckedRendition>,
    /// `report.json`, parsed.
    pub report: serde_json::Value,
    /// Every file under the output directory, relative to it.
    pub files: BTreeSet<String>,
}

impl CheckedOutputs {
    /// `(chunk, attempt, node, outcome)` of every encode attempt the report lists.
    pub fn encode_attempts(&self) -> Vec<(u64, u64, String, String)> {
        let mut attempts = Vec::new();
        for chunk in self.report["chunks"].as_array().into_iter().flatten() {
            for attempt in chunk["attempts"].as_array().into_iter().flatten() {
                attempts.push((
                    chunk["index"].as_u64().unwrap_or(u64::MAX),
                    attempt["attempt"].as_u64().unwrap_or(0),
                    attempt["node"].as_str().unwrap_or_default().to_owned(),
                    attempt["outcome"].as_str().unwrap_or_default().to_owned(),
                ));
            }
        }
        attempts
    }
}

/// Every file under `dir`, relative to it, with `/` separators.
pub fn list_files(dir: &Path) -> anyhow::Result<BTreeSet<String>> {
    let mut files = BTreeSet::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).with_context(|| format!("listing {}", current.display()))? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(dir).context("walked outside the directory")?;
                files.insert(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    Ok(files)
}

/// The URIs a media playlist names (its init section and segments), in order.
fn playlist_entries(playlist: &str) -> Vec<String> {
    let mut entries = Vec::new();
    for line in playlist.lines().map(str::trim) {
        if let Some(map) = line.strip_prefix("#EXT-X-MAP:") {
            if let Some(uri) = map.split("URI=\"").nth(1).and_then(|rest| rest.split('"').next()) {
                entries.push(uri.to_owned());
            }
        } else if !line.is_empty() && !line.starts_with('#') {
            entries.push(line.to_owned());
        }
    }
    entries
}

/// Checks a finished job's output directory against its source (see the module docs).
pub async fn check_outputs(out: &Path, source: &SyntheticSource) -> anyhow::Result<CheckedOutputs> {
    let files = list_files(out)?;
    let read = |name: &str| std::fs::read_to_string(out.join(name)).with_context(|| format!("{} has no {name}", out.display()));
    let master = read("master.m3u8")?;
    let mpd = read("manifest.mpd")?;
    let report: serde_json::Value = serde_json::from_str(&read("report.json")?).context("report.json is not JSON")?;
    let listed = report["renditions"].as_array().context("report.json lists no renditions")?;
    ensure!(!listed.is_empty(), "report.json lists no renditions");
    let mut expected: BTreeSet<String> = ["master.m3u8", "manifest.mpd", "report.json", "report.html"].map(str::to_owned).into();
    let mut renditions = Vec::new();
    for rendition in listed {
        let name = rendition["name"].as_str().context("a rendition without a name")?.to_owned();
        let reported = rendition["frames"].as_u64().context("a rendition without a frame count")?;
        ensure!(reported == source.frames, "report.json says {name} has {reported} frames; the source has {}", source.frames);
        // `<generation>/<name>/playlist.m3u8`: the media of one package attempt in a folder of their own.
        let playlist_path = rendition["playlist"].as_str().context("a rendition without a playlist")?.to_owned();
        ensure!(playlist_path.ends_with(&format!("/{name}/playlist.m3u8")), "report.json names {playlist_path} as the playlist of {name}");
        ensure!(master.lines().any(|line| line.trim() == playlist_path), "master.m3u8 does not name {playlist_path}:\n{master}");
        ensure!(mpd.contains(&format!("id=\"{name}\"")), "manifest.mpd has no representation {name}:\n{mpd}");
        let folder = playlist_path.trim_end_matches("/playlist.m3u8");
        ensure!(mpd.contains(&format!("initialization=\"{folder}/init.mp4\"")), "manifest.mpd does not take {name} from {folder}:\n{mpd}");
        let playlist = read(&playlist_path)?;
        let entries = playlist_entries(&playlist);
        let segments = entries.iter().filter(|entry| entry.ends_with(".m4s")).count();
        expected.insert(playlist_path.clone());
        expected.extend(entries.iter().map(|entry| format!("{folder}/{entry}")));
        let counted = frame_count(&out.join(&playlist_path)).await?;
        ensure!(counted == source.frames, "ffprobe counts {counted} frames in {playlist_path}; the source has {}", source.frames);
        let indices = frame_indices(&out.join(&playlist_path)).await?;
        ensure!(indices.len() as u64 == source.frames, "{playlist_path} decodes to {} frames; the source has {}", indices.len(), source.frames);
        in_order(&indices).map_err(|error| anyhow::anyhow!("{playlist_path}: {error}"))?;
        renditions.push(CheckedRendition { name, frames: counted, segments });
    }
    // Audio and subtitle renditions: every playlist an EXT-X-MEDIA line of the master names.
    for media in master.lines().filter_map(|line| line.trim().strip_prefix("#EXT-X-MEDIA:")) {
        let Some(uri) = media.split("URI=\"").nth(1).and_then(|rest| rest.split('"').next()) else { continue };
        let folder = uri.rsplit_once('/').map_or("", |(folder, _)| folder);
        let playlist = read(uri)?;
        expected.insert(uri.to_owned());
        expected.extend(playlist_entries(&playlist).into_iter().map(|entry| if folder.is_empty() { entry } else { format!("{folder}/{entry}") }));
    }
    // HLS trick play and thumbnails: each I-frame playlist (byte ranges of the segments above) and
    // the image playlist (sprite sheets), whose folder also holds the WebVTT thumbnail track
    // and the poster.
    for line in master.lines().map(str::trim) {
        let (Some(attributes), image) = (line.strip_prefix("#EXT-X-I-FRAME-STREAM-INF:").or_else(|| line.strip_prefix("#EXT-X-IMAGE-STREAM-INF:")), line.starts_with("#EXT-X-IMAGE-STREAM-INF:")) else { continue };
        let uri = attributes.split("URI=\"").nth(1).and_then(|rest| rest.split('"').next()).with_context(|| format!("no URI in {line}"))?;
        let folder = uri.rsplit_once('/').map_or("", |(folder, _)| folder);
        let entries = playlist_entries(&read(uri)?);
        ensure!(!entries.is_empty(), "{uri} names nothing");
        expected.insert(uri.to_owned());
        expected.extend(entries.into_iter().map(|entry| format!("{folder}/{entry}")));
        if image {
            expected.extend(["thumbnails.vtt", "poster.jpg"].map(|file| format!("{folder}/{file}")));
        }
    }
    // DASH trick-mode segments: one per media segment of the rendition whose folder they share.
    for template in mpd.split("media=\"").skip(1).filter_map(|rest| rest.split('"').next()).filter(|media| media.ends_with("/trick_$Number%05d$.m4s")) {
        let folder = template.trim_end_matches("/trick_$Number%05d$.m4s");
        let segments = playlist_entries(&read(&format!("{folder}/playlist.m3u8"))?).iter().filter(|entry| entry.ends_with(".m4s")).count();
        expected.extend((0..segments).map(|index| format!("{folder}/trick_{index:05}.m4s")));
    }
    ensure!(!report["audio"].is_object() || master.contains("TYPE=AUDIO"), "report.json lists audio but master.m3u8 names none:\n{master}");
    // The source's English subtitles, converted by the subtitles task: every cue in the WebVTT file.
    let subtitles = master.lines().find(|line| line.starts_with("#EXT-X-MEDIA:TYPE=SUBTITLES")).with_context(|| format!("master.m3u8 offers no subtitles:\n{master}"))?;
    ensure!(subtitles.contains("LANGUAGE=\"en\""), "the subtitles are not in English: {subtitles}");
    let vtt = expected.iter().find(|file| file.ends_with("/subtitles.vtt")).map(|file| read(file.as_str())).transpose()?.context("no manifest names a subtitles.vtt")?;
    let cues = vtt.matches(" --> ").count() as u64;
    let seconds = source.frames / 24;
    ensure!(cues == seconds && vtt.contains(&format!("Second {}", seconds - 1)), "subtitles.vtt holds {cues} cues; the source has {seconds}:\n{vtt}");
    let generations: BTreeSet<&str> = expected.iter().filter(|file| file.contains('/')).filter_map(|file| file.split('/').next()).collect();
    ensure!(generations.len() == 1, "the manifests name files of {} package folders, not one: {generations:?}", generations.len());
    let unexpected: Vec<&String> = files.difference(&expected).collect();
    ensure!(unexpected.is_empty(), "{} holds files no manifest names (leftovers of another attempt?): {unexpected:?}", out.display());
    let missing: Vec<&String> = expected.difference(&files).collect();
    ensure!(missing.is_empty(), "{} lacks files its playlists name: {missing:?}", out.display());
    Ok(CheckedOutputs { renditions, report, files })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playlists_name_their_init_section_and_segments() {
        let playlist = "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:1.0,\nseg_00000.m4s\n#EXTINF:1.0,\nseg_00001.m4s\n#EXT-X-ENDLIST\n";
        assert_eq!(playlist_entries(playlist), vec!["init.mp4", "seg_00000.m4s", "seg_00001.m4s"]);
    }

    #[test]
    fn frame_order_reports_the_first_frame_out_of_place() {
        assert!(in_order(&[0, 1, 2, 3]).is_ok());
        let error = in_order(&[0, 1, 3, 2]).expect_err("reordered");
        assert!(error.starts_with("frame 2 is source frame 3"), "{error}");
        assert!(in_order(&[0, 1, 1, 2]).is_err());
    }

    #[tokio::test]
    async fn a_synthesized_source_reads_back_its_frame_stamps() {
        let dir = tempfile::tempdir().expect("temp dir");
        let source = synthesize(dir.path(), "s.mp4", (320, 180), 2.0).await.expect("synthesized");
        assert_eq!(source.frames, 48);
        assert_eq!(frame_indices(&source.path).await.expect("decoded"), (0..48).collect::<Vec<u32>>());
    }
}

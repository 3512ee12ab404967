//! Thumbnails for scrubbing: one tile every `interval_seconds` of the video, at the tile
//! width the job asks (height by the largest rendition's aspect, even), scaled from the
//! smallest rendition at least twice that size, laid out `columns` x `rows` per JPEG sprite
//! sheet, and the tracks that name them:
//!
//! - `thumbnails.vtt`, a WebVTT track whose cue `k` covers `[k * interval, (k + 1) * interval)`
//!   (the last one ends with the video) and names its tile as `sheet_NNNNN.jpg#xywh=x,y,w,h`
//!   (the convention web players such as video.js, JW Player and Shaka Player read);
//! - `images.m3u8`, an HLS image media playlist (`EXT-X-IMAGES-ONLY`, `EXT-X-TILES`; the
//!   image-playlist convention Roku and Apple players read), which the master names with
//!   `EXT-X-IMAGE-STREAM-INF` (players without it ignore the tag);
//! - the DASH image AdaptationSet (see [`super::dash`]) over the same sheets.
//!
//! Cue `k`'s tile is the frame shown at its start: frame `floor(k * interval * fps)`. ffmpeg
//! picks exactly those frames with `select` (frame `n` is taken when it is that frame for the
//! first cue at or after it) and tiles them; the last sheet is padded black past its last tile.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use shotfarm_proto::thumbnails::ThumbnailOptions;
use tokio_util::sync::CancellationToken;

use super::hls::seconds_text;
use super::poster::PackagedPoster;
use super::{PackageError, run_ffmpeg};
use crate::media::probe::Rational;

/// The WebVTT thumbnail track.
pub const THUMBNAILS_VTT: &str = "thumbnails.vtt";
/// The HLS image media playlist.
pub const IMAGE_PLAYLIST: &str = "images.m3u8";

/// The thumbnails made, as the manifests and report name them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackagedThumbnails {
    /// Folder of the sheets and tracks, relative to the media folder.
    pub name: String,
    pub vtt: PathBuf,
    pub image_playlist: PathBuf,
    pub sheets: usize,
    pub cues: usize,
    pub interval_seconds: u32,
    pub tile_width: u32,
    pub tile_height: u32,
    pub columns: u32,
    pub rows: u32,
    /// All sheets' bytes over the video's duration, in bits per second.
    pub bandwidth_bps: u64,
    pub poster: PackagedPoster,
}

impl PackagedThumbnails {
    /// The name of sheet `index` (0-based), as `ffmpeg -start_number 0` writes them.
    pub fn sheet_file(index: usize) -> String {
        format!("sheet_{index:05}.jpg")
    }
}

/// Where each cue's tile comes from and goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TilePlan {
    pub interval_micros: u64,
    pub duration_micros: u64,
    pub tile_width: u32,
    pub tile_height: u32,
    pub columns: u32,
    pub rows: u32,
    /// Cue `k`'s frame index.
    pub cue_frames: Vec<u64>,
}

impl TilePlan {
    /// The plan for a video of `frames` at `frame_rate` lasting `duration_micros`, whose
    /// largest rendition is `width`x`height`.
    pub fn new(options: &ThumbnailOptions, frame_rate: Rational, frames: u64, duration_micros: u64, (width, height): (u32, u32)) -> Result<Self, PackageError> {
        let interval = u64::from(options.interval_seconds);
        // Frame `floor(k * interval * num / den)` for cue k; two cues on one frame cannot both be selected.
        if interval * u64::from(frame_rate.num) < u64::from(frame_rate.den) {
            return Err(PackageError::Thumbnails(format!("the interval of {interval} s is shorter than a frame at {frame_rate} fps; give a longer interval")));
        }
        let interval_micros = interval * 1_000_000;
        let cues = duration_micros.div_ceil(interval_micros).max(1);
        let cue_frames = (0..cues).map(|k| (k * interval * u64::from(frame_rate.num) / u64::from(frame_rate.den)).min(frames.saturating_sub(1))).collect();
        let tile_height = ((f64::from(options.tile_width) * f64::from(height) / f64::from(width.max(1)) / 2.0).round() as u32 * 2).max(2);
        Ok(Self { interval_micros, duration_micros, tile_width: options.tile_width, tile_height, columns: options.columns, rows: options.rows, cue_frames })
    }

    fn tiles_per_sheet(&self) -> usize {
        (self.columns * self.rows) as usize
    }

    pub fn sheets(&self) -> usize {
        self.cue_frames.len().div_ceil(self.tiles_per_sheet())
    }

    /// Cue `k`'s start and end in microseconds.
    fn cue_span(&self, k: usize) -> (u64, u64) {
        let start = k as u64 * self.interval_micros;
        (start, (start + self.interval_micros).min(self.duration_micros))
    }

    /// The WebVTT track: one cue per tile, `sheet#xywh=x,y,w,h`.
    pub fn vtt_text(&self) -> String {
        let mut text = String::from("WEBVTT\n");
        for k in 0..self.cue_frames.len() {
            let (start, end) = self.cue_span(k);
            let sheet = k / self.tiles_per_sheet();
            let place = (k % self.tiles_per_sheet()) as u32;
            let (x, y) = ((place % self.columns) * self.tile_width, (place / self.columns) * self.tile_height);
            let _ = write!(
                text,
                "\n{} --> {}\n{}#xywh={x},{y},{},{}\n",
                vtt_time(start),
                vtt_time(end),
                PackagedThumbnails::sheet_file(sheet),
                self.tile_width,
                self.tile_height
            );
        }
        text
    }

    /// The HLS image media playlist: one entry per sheet, as long as its cues.
    pub fn image_playlist_text(&self) -> String {
        let per_sheet = self.tiles_per_sheet();
        let spans: Vec<(u64, u64)> = (0..self.sheets())
            .map(|sheet| {
                let last = ((sheet + 1) * per_sheet).min(self.cue_frames.len()) - 1;
                (self.cue_span(sheet * per_sheet).0, self.cue_span(last).1)
            })
            .collect();
        let longest = spans.iter().map(|(start, end)| end - start).max().unwrap_or(0);
        let mut text = format!(
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{}\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-IMAGES-ONLY\n",
            longest.div_ceil(1_000_000).max(1)
        );
        for (sheet, (start, end)) in spans.into_iter().enumerate() {
            let _ = writeln!(
                text,
                "#EXTINF:{},\n#EXT-X-TILES:RESOLUTION={}x{},LAYOUT={}x{},DURATION={}\n{}",
                seconds_text(end - start),
                self.tile_width,
                self.tile_height,
                self.columns,
                self.rows,
                seconds_text(self.interval_micros),
                PackagedThumbnails::sheet_file(sheet)
            );
        }
        text.push_str("#EXT-X-ENDLIST\n");
        text
    }

    /// ffmpeg's filters: the cue frames (see the module docs), scaled and tiled.
    fn filters(&self, frame_rate: Rational) -> String {
        let per_cue = self.interval_micros / 1_000_000 * u64::from(frame_rate.num);
        let den = frame_rate.den;
        format!(
            "select='eq(n,floor(ceil(n*{den}/{per_cue})*{per_cue}/{den}))',scale={}:{}:flags=bicubic,tile={}x{}",
            self.tile_width, self.tile_height, self.columns, self.rows
        )
    }
}

/// `micros` as a WebVTT timestamp, `hh:mm:ss.mmm` (rounded to the millisecond).
fn vtt_time(micros: u64) -> String {
    let millis = (micros + 500) / 1000;
    format!("{:02}:{:02}:{:02}.{:03}", millis / 3_600_000, millis / 60_000 % 60, millis / 1000 % 60, millis % 1000)
}

/// Writes the sheets, the WebVTT track and the image playlist of `plan` from `rendition`
/// into `dir`; returns the number of bytes of sheets.
pub(super) async fn write_sprites(rendition: &Path, plan: &TilePlan, frame_rate: Rational, dir: &Path, cancel: &CancellationToken) -> Result<u64, PackageError> {
    let io = |operation: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| PackageError::Io { operation, path, source }
    };
    std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
    let args = vec![
        "-i".to_owned(),
        rendition.display().to_string(),
        "-map".to_owned(),
        "0:v:0".to_owned(),
        "-vf".to_owned(),
        plan.filters(frame_rate),
        "-fps_mode".to_owned(),
        "passthrough".to_owned(),
        "-q:v".to_owned(),
        "3".to_owned(),
        "-start_number".to_owned(),
        "0".to_owned(),
        dir.join("sheet_%05d.jpg").display().to_string(),
    ];
    run_ffmpeg(args, "thumbnail sprite sheets".to_owned(), cancel).await?;
    let mut bytes = 0;
    for sheet in 0..plan.sheets() {
        let path = dir.join(PackagedThumbnails::sheet_file(sheet));
        bytes += std::fs::metadata(&path).map_err(|_| PackageError::Thumbnails(format!("ffmpeg wrote no {}; {} sheets were due", path.display(), plan.sheets())))?.len();
    }
    let extra = dir.join(PackagedThumbnails::sheet_file(plan.sheets()));
    if extra.exists() {
        return Err(PackageError::Thumbnails(format!("ffmpeg wrote {} past the {} sheets due: it selected more frames than cues", extra.display(), plan.sheets())));
    }
    let vtt = dir.join(THUMBNAILS_VTT);
    std::fs::write(&vtt, plan.vtt_text()).map_err(io("writing", &vtt))?;
    let playlist = dir.join(IMAGE_PLAYLIST);
    std::fs::write(&playlist, plan.image_playlist_text()).map_err(io("writing", &playlist))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(duration_micros: u64, frames: u64) -> TilePlan {
        let options = ThumbnailOptions { interval_seconds: 2, tile_width: 160, columns: 2, rows: 2, poster_seconds: None };
        TilePlan::new(&options, Rational { num: 30000, den: 1001 }, frames, duration_micros, (1920, 1080)).unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn cues_cover_the_video_and_name_their_tiles() {
        // 9.009 s at 29.97 fps: cues at 0, 2, 4, 6, 8 s; the last one ends with the video.
        let plan = plan(9_009_000, 270);
        assert_eq!(plan.cue_frames, vec![0, 59, 119, 179, 239]);
        assert_eq!((plan.tile_height, plan.sheets()), (90, 2));
        let vtt = plan.vtt_text();
        assert!(vtt.starts_with("WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nsheet_00000.jpg#xywh=0,0,160,90\n"), "{vtt}");
        assert!(vtt.contains("00:00:06.000 --> 00:00:08.000\nsheet_00000.jpg#xywh=160,90,160,90\n"), "{vtt}");
        assert!(vtt.ends_with("00:00:08.000 --> 00:00:09.009\nsheet_00001.jpg#xywh=0,0,160,90\n"), "{vtt}");
        let playlist = plan.image_playlist_text();
        assert!(playlist.contains("#EXTINF:8.000000,\n#EXT-X-TILES:RESOLUTION=160x90,LAYOUT=2x2,DURATION=2.000000\nsheet_00000.jpg\n#EXTINF:1.009000,"), "{playlist}");
    }

    #[test]
    fn an_interval_shorter_than_a_frame_is_refused() {
        let options = ThumbnailOptions { interval_seconds: 1, ..ThumbnailOptions::default() };
        let error = TilePlan::new(&options, Rational { num: 1, den: 2 }, 10, 20_000_000, (640, 360)).err().map(|error| error.to_string());
        assert!(error.is_some_and(|error| error.contains("shorter than a frame")));
    }
}

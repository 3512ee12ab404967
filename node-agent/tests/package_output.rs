//! Packaged output as players see it, judged from the boxes, the manifests and ffmpeg's
//! decode of the segments: the first video frame at 0 with no edit list (a version-1 `trun`
//! with signed composition offsets), audio that starts with the video (encoder priming
//! accounted for, a late source stream padded) and ends within one AAC frame before it,
//! declared durations (MPD, EXTINF sums) equal to the media's, every audio track of the
//! source its own rendition with its language, name, channels and default, and a
//! variable-rate source's frames each at its own time, in step with its sound.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use shotfarm_agent::media::package::fragments::{TrackTiming, read_init};
use shotfarm_agent::media::package::{PackageParams, PackageResult, package_ladder};
use shotfarm_agent::media::probe::Rational;
use shotfarm_proto::pipeline::{Codec, Rung};
use tokio_util::sync::CancellationToken;

const RATE: Rational = Rational { num: 25, den: 1 };
const SECONDS: u64 = 4;
const FRAMES: u64 = SECONDS * 25;
/// The folder the media go under, as the package task names a generation.
const MEDIA: &str = "job-1-1-a1";

/// A 4 s 25 fps pattern with an audio click of 2 ms at `click` seconds of an audio stream of
/// `audio_seconds` that starts `audio_delay` seconds after the video.
fn source(dir: &Path, click: f64, audio_seconds: f64, audio_delay: f64) -> PathBuf {
    let path = dir.join("source.mp4");
    let clicks = format!("aevalsrc='if(between(t,{click},{}),0.9,0)':s=48000:d={audio_seconds}", click + 0.002);
    common::ffmpeg(&[
        "-f", "lavfi", "-i", &format!("testsrc2=s=320x180:r=25:d={SECONDS}"),
        "-itsoffset", &audio_delay.to_string(), "-f", "lavfi", "-i", &clicks,
        "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
        path.to_str().unwrap(),
    ]);
    path
}

async fn package(dir: &Path, source: &Path) -> (PathBuf, PackageResult) {
    package_frames(dir, source, FRAMES).await
}

async fn package_frames(dir: &Path, source: &Path, frames: u64) -> (PathBuf, PackageResult) {
    let out = dir.join("out");
    let params = PackageParams {
        output_dir: out.clone(),
        renditions: common::ladder::h264_renditions(dir, source),
        frame_rate: RATE,
        frames,
        audio: common::ladder::audio_packaging(source, (frames, RATE), 0.96, &dir.join("audio")).await,
        subtitles: common::ladder::subtitle_files(source, &dir.join("subtitles")).await,
        media_folder: MEDIA.to_owned(),
        thumbnails: None,
        shot_starts: Vec::new(),
        protection: None,
    };
    let result = package_ladder(&params, &CancellationToken::new()).await.unwrap();
    (out, result)
}

/// The segment files of a media playlist, its EXTINF durations and target duration.
fn playlist(path: &Path) -> (Vec<String>, Vec<f64>, u64) {
    let text = std::fs::read_to_string(path).unwrap();
    let files = text.lines().filter(|line| !line.is_empty() && !line.starts_with('#')).map(str::to_owned).collect();
    let durations = text.lines().filter_map(|line| line.strip_prefix("#EXTINF:")).map(|rest| rest.trim_end_matches(',').parse().unwrap()).collect();
    let target = text.lines().find_map(|line| line.strip_prefix("#EXT-X-TARGETDURATION:")).unwrap().parse().unwrap();
    (files, durations, target)
}

/// init.mp4 and every segment of a track, joined into one file ffmpeg can read as a player would.
fn joined(track: &Path) -> PathBuf {
    let (files, _, _) = playlist(&track.join("playlist.m3u8"));
    let mut bytes = std::fs::read(track.join("init.mp4")).unwrap();
    for file in files {
        bytes.extend(std::fs::read(track.join(file)).unwrap());
    }
    let path = track.join("joined.mp4");
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Mono 48 kHz samples of the first audio stream.
fn decoded_audio(path: &Path) -> Vec<i16> {
    let output = Command::new("ffmpeg").args(["-v", "error", "-i"]).arg(path).args(["-map", "0:a:0", "-ac", "1", "-ar", "48000", "-f", "s16le", "-"]).output().unwrap();
    assert!(output.status.success());
    output.stdout.chunks_exact(2).map(|pair| i16::from_le_bytes([pair[0], pair[1]])).collect()
}

fn loudest_second(samples: &[i16]) -> f64 {
    let (index, _) = samples.iter().enumerate().max_by_key(|(_, sample)| sample.unsigned_abs()).unwrap();
    index as f64 / 48000.0
}

#[tokio::test]
async fn video_starts_at_zero_without_an_edit_list_and_audio_is_in_sync_and_ends_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let source = source(dir.path(), 1.0, SECONDS as f64, 0.0);
    let (out, result) = package(dir.path(), &source).await;

    let mut video_ends = Vec::new();
    for rung in ["180p", "90p"] {
        let track = out.join(MEDIA).join(rung);
        let init = read_init(&track.join("init.mp4")).unwrap();
        assert!(!init.has_edit_list, "{rung}: init.mp4 has an edit list");
        let (files, extinf, target) = playlist(&track.join("playlist.m3u8"));
        let timing = TrackTiming::read(&track, &files).unwrap();
        assert!(timing.segments.iter().all(|segment| segment.signed_offsets), "{rung}: every trun must be version 1");
        assert_eq!(timing.segments[0].earliest_presentation, 0, "{rung}: first frame presented at {} ticks", timing.segments[0].earliest_presentation);
        assert_eq!(timing.samples(), FRAMES);
        // ffmpeg decodes every frame of the joined segments (its mov demuxer shows times
        // shifted by the largest negative offset, so the times are judged from the boxes above).
        assert_eq!(common::frame_count(&joined(&track)), FRAMES);
        let sum: f64 = extinf.iter().sum();
        assert!((sum - SECONDS as f64).abs() < 1e-6, "{rung}: EXTINF sum {sum}");
        assert!(extinf.iter().all(|duration| duration.round() as u64 <= target) && target >= 1, "{rung}: target {target} for {extinf:?}");
        video_ends.push(timing.seconds(timing.end()));
    }
    assert_eq!(video_ends, vec![SECONDS as f64; 2]);

    // Audio: starts at 0, the click where the source has it (not 1024 samples of priming
    // later), and ends within one AAC frame before the video.
    let audio = out.join(MEDIA).join("audio/a0");
    assert!(!read_init(&audio.join("init.mp4")).unwrap().has_edit_list);
    let samples = decoded_audio(&joined(&audio));
    let click = loudest_second(&samples);
    assert!((click - 1.0).abs() < 0.001, "the click is at {click}s, the source has it at 1.000s");
    let audio_end = samples.len() as f64 / 48000.0;
    let frame = 1024.0 / 48000.0;
    assert!(audio_end <= SECONDS as f64 && SECONDS as f64 - audio_end < frame, "audio ends at {audio_end}s, video at {SECONDS}s");
    let (_, extinf, _) = playlist(&audio.join("playlist.m3u8"));
    assert!((extinf.iter().sum::<f64>() - audio_end).abs() < 1e-6, "audio EXTINF sum {extinf:?} vs {audio_end}");
    assert!(result.audio_video_offset_seconds.unwrap() <= 0.0);

    // The MPD declares the video's length, and its audio timeline ends within it.
    let mpd = std::fs::read_to_string(out.join("manifest.mpd")).unwrap();
    assert!(mpd.contains("mediaPresentationDuration=\"PT4.000000S\""), "{mpd}");
    assert!(mpd.contains("timescale=\"48000\"") && mpd.contains(&format!("media=\"{MEDIA}/audio/a0/seg_$Number%05d$.m4s\"")), "{mpd}");
    let master = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
    assert!(master.contains("TYPE=AUDIO") && master.contains("CODECS=\"avc1.") && master.contains("mp4a.40.2"), "{master}");
}

#[tokio::test]
async fn audio_that_starts_late_and_ends_early_is_padded_onto_the_videos_timeline() {
    let dir = tempfile::tempdir().unwrap();
    // Two seconds of audio starting 0.5 s into the video, the click 1 s into the audio.
    let source = source(dir.path(), 1.0, 2.0, 0.5);
    let (out, _) = package(dir.path(), &source).await;
    let samples = decoded_audio(&joined(&out.join(MEDIA).join("audio/a0")));
    let click = loudest_second(&samples);
    assert!((click - 1.5).abs() < 0.001, "the click is at {click}s; the source shows it 1.5 s after the first frame");
    let audio_end = samples.len() as f64 / 48000.0;
    assert!(audio_end <= SECONDS as f64 && SECONDS as f64 - audio_end < 1024.0 / 48000.0, "audio ends at {audio_end}s");
}

/// Channels, layout, codec and duration of the first audio stream of `path`.
fn audio_stream(path: &Path) -> (u32, String, String, f64) {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "a:0", "-show_entries", "stream=channels,channel_layout,codec_name:format=duration", "-of", "json"])
        .arg(path)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let stream = &json["streams"][0];
    let duration = json["format"]["duration"].as_str().unwrap().parse().unwrap();
    let layout = stream["channel_layout"].as_str().unwrap_or("").to_owned();
    (stream["channels"].as_u64().unwrap() as u32, layout, stream["codec_name"].as_str().unwrap().to_owned(), duration)
}

#[tokio::test]
async fn every_audio_track_is_a_rendition_with_its_language_name_channels_and_default() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("tracks.mkv");
    // eng 5.1(side) (default), fra stereo, ger mono starting 0.5 s late and lasting 2 s with a click
    // 1 s in.
    common::ffmpeg(&[
        "-f", "lavfi", "-i", &format!("testsrc2=s=320x180:r=25:d={SECONDS}"),
        "-f", "lavfi", "-i", &format!("aevalsrc='0.1*sin(440*2*PI*t)|0.1*sin(550*2*PI*t)|0.1*sin(660*2*PI*t)|0.1*sin(110*2*PI*t)|0.1*sin(770*2*PI*t)|0.1*sin(880*2*PI*t)':c=5.1(side):s=48000:d={SECONDS}"),
        "-f", "lavfi", "-i", &format!("sine=frequency=660:sample_rate=44100:duration={SECONDS}"),
        "-itsoffset", "0.5", "-f", "lavfi", "-i", "aevalsrc='if(between(t,1.0,1.002),0.9,0)':s=48000:d=2",
        "-map", "0:v", "-map", "1:a", "-map", "2:a", "-map", "3:a",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac:a:1", "2",
        "-metadata:s:a:0", "language=eng", "-metadata:s:a:0", "title=English",
        "-metadata:s:a:1", "language=fra", "-metadata:s:a:1", "title=Français",
        "-metadata:s:a:2", "language=ger",
        "-disposition:a:0", "default", "-disposition:a:1", "0", "-disposition:a:2", "0",
        source.to_str().unwrap(),
    ]);

    // Inspection reports every track.
    let report = common::ladder::inspect(&source, dir.path()).await;
    let tracks: Vec<(Option<&str>, Option<u32>, bool)> = report.source.audio_tracks.iter().map(|track| (track.language.as_deref(), track.channels, track.default)).collect();
    assert_eq!(tracks, vec![(Some("eng"), Some(6), true), (Some("fra"), Some(2), false), (Some("ger"), Some(1), false)]);
    assert_eq!(report.source.audio.as_ref().unwrap().stream_index, report.source.audio_tracks[0].stream_index);

    let (out, result) = package_frames(dir.path(), &source, report.source.video.frames).await;
    // The 5.1(side) source track is carried as standard 5.1 (AAC channel configuration 6).
    let expected = [("audio/a0", 6, "5.1"), ("audio/a0-stereo", 2, "stereo"), ("audio/a1", 2, "stereo"), ("audio/a2", 1, "mono")];
    let renditions: Vec<(&str, u32)> = result.audio_renditions.iter().map(|audio| (audio.rendition.name.as_str(), audio.channels)).collect();
    assert_eq!(renditions, expected.iter().map(|(name, channels, _)| (*name, *channels)).collect::<Vec<_>>());
    for (name, channels, layout) in expected {
        let (found, found_layout, codec, duration) = audio_stream(&joined(&out.join(MEDIA).join(name)));
        assert_eq!((found, found_layout.as_str(), codec.as_str()), (channels, layout, "aac"), "{name}");
        assert!(duration <= SECONDS as f64 + 1e-6 && SECONDS as f64 - duration < 1024.0 / 44100.0, "{name} lasts {duration}s");
    }
    // The late, short track: padded onto the video's timeline, its click where the source has it.
    let click = loudest_second(&decoded_audio(&joined(&out.join(MEDIA).join("audio/a2"))));
    assert!((click - 1.5).abs() < 0.001, "the click is at {click}s, the source has it 1.5 s after the first frame");

    let master = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
    for line in [
        "NAME=\"English\",LANGUAGE=\"en\",CHANNELS=\"6\",DEFAULT=YES,AUTOSELECT=YES,URI=\"job-1-1-a1/audio/a0/playlist.m3u8\"",
        "NAME=\"English (stereo)\",LANGUAGE=\"en\",CHANNELS=\"2\",DEFAULT=NO,AUTOSELECT=YES,URI=\"job-1-1-a1/audio/a0-stereo/playlist.m3u8\"",
        "NAME=\"Français\",LANGUAGE=\"fr\",CHANNELS=\"2\",DEFAULT=NO",
        "NAME=\"ger\",LANGUAGE=\"de\",CHANNELS=\"1\",DEFAULT=NO",
    ] {
        assert!(master.contains(&format!("#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",{line}")), "master lacks {line}:\n{master}");
    }
    let mpd = std::fs::read_to_string(out.join("manifest.mpd")).unwrap();
    assert_eq!(mpd.matches("contentType=\"audio\"").count(), 4, "{mpd}");
    for needle in ["lang=\"en\"", "lang=\"fr\"", "lang=\"de\"", "<Label>Français</Label>", "value=\"main\"", "audio_channel_configuration:2011\" value=\"6\"", "audio_channel_configuration:2011\" value=\"1\""] {
        assert!(mpd.contains(needle), "the MPD lacks {needle}:\n{mpd}");
    }
    assert_eq!(mpd.matches("value=\"main\"").count(), 1, "{mpd}");
}

/// Start and end seconds of every cue of a WebVTT file.
fn cue_times(vtt: &str) -> Vec<(f64, f64)> {
    let seconds = |stamp: &str| stamp.trim().split(':').fold(0.0, |total, part| total * 60.0 + part.parse::<f64>().unwrap());
    vtt.lines().filter_map(|line| line.split_once("-->")).map(|(start, end)| (seconds(start), seconds(end.split_whitespace().next().unwrap()))).collect()
}

#[tokio::test]
async fn text_subtitle_tracks_become_webvtt_renditions_with_the_sources_cue_times() {
    let dir = tempfile::tempdir().unwrap();
    let srt = dir.path().join("cues.srt");
    std::fs::write(&srt, "1\n00:00:00,500 --> 00:00:01,500\nHello\n\n2\n00:00:02,000 --> 00:00:03,250\nWorld\n").unwrap();
    let expected = vec![(0.5, 1.5), (2.0, 3.25)];
    let video = format!("testsrc2=s=320x180:r=25:d={SECONDS}");
    // Matroska with SRT (eng, default) and ASS (fra); MP4 with mov_text.
    let mkv = dir.path().join("subtitled.mkv");
    common::ffmpeg(&[
        "-f", "lavfi", "-i", &video, "-i", srt.to_str().unwrap(), "-i", srt.to_str().unwrap(),
        "-map", "0:v", "-map", "1:s", "-map", "2:s", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:s:0", "srt", "-c:s:1", "ass",
        "-metadata:s:s:0", "language=eng", "-metadata:s:s:1", "language=fra", "-metadata:s:s:1", "title=Français",
        "-disposition:s:0", "default", "-disposition:s:1", "0",
        mkv.to_str().unwrap(),
    ]);
    let mp4 = dir.path().join("subtitled.mp4");
    common::ffmpeg(&["-f", "lavfi", "-i", &video, "-i", srt.to_str().unwrap(), "-map", "0:v", "-map", "1:s", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:s", "mov_text", mp4.to_str().unwrap()]);

    for (source, tracks) in [(&mkv, 2), (&mp4, 1)] {
        let work = dir.path().join(source.extension().unwrap());
        std::fs::create_dir_all(&work).unwrap();
        let (out, result) = package_frames(&work, source, FRAMES).await;
        assert_eq!(result.subtitles.len(), tracks, "{}", source.display());
        for subtitles in &result.subtitles {
            let vtt = std::fs::read_to_string(out.join(MEDIA).join(&subtitles.rendition.name).join("subtitles.vtt")).unwrap();
            assert!(vtt.starts_with("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n"), "{vtt}");
            let cues = cue_times(&vtt);
            assert_eq!(cues.len(), expected.len(), "{vtt}");
            for ((start, end), (expected_start, expected_end)) in cues.iter().zip(&expected) {
                assert!((start - expected_start).abs() < 0.001 && (end - expected_end).abs() < 0.001, "{} cue {start}–{end}, the source has {expected_start}–{expected_end}", subtitles.rendition.name);
            }
            let (files, extinf, target) = playlist(&out.join(MEDIA).join(&subtitles.rendition.name).join("playlist.m3u8"));
            assert_eq!((files, extinf, target), (vec!["subtitles.vtt".to_owned()], vec![SECONDS as f64], SECONDS));
        }
        let master = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
        let mpd = std::fs::read_to_string(out.join("manifest.mpd")).unwrap();
        assert_eq!(master.matches("TYPE=SUBTITLES").count(), tracks, "{master}");
        assert!(master.contains("SUBTITLES=\"subtitles\""), "{master}");
        assert_eq!(mpd.matches("contentType=\"text\" mimeType=\"text/vtt\"").count(), tracks, "{mpd}");
        assert!(mpd.contains(&format!("<BaseURL>{MEDIA}/subtitles/s0/subtitles.vtt</BaseURL>")), "{mpd}");
        if tracks == 2 {
            assert!(master.contains("TYPE=SUBTITLES,GROUP-ID=\"subtitles\",NAME=\"eng\",LANGUAGE=\"en\",DEFAULT=YES,AUTOSELECT=YES,URI=\"job-1-1-a1/subtitles/s0/playlist.m3u8\""), "{master}");
            assert!(master.contains("NAME=\"Français\",LANGUAGE=\"fr\",DEFAULT=NO"), "{master}");
            assert!(mpd.contains("lang=\"fr\"") && mpd.contains("<Label>Français</Label>"), "{mpd}");
        }
    }
}

#[tokio::test]
async fn a_text_track_without_a_cue_in_the_video_becomes_an_empty_webvtt_rendition() {
    let dir = tempfile::tempdir().unwrap();
    let srt = dir.path().join("late.srt");
    std::fs::write(&srt, "1\n00:00:09,000 --> 00:00:09,500\nAfter the end\n").unwrap();
    let source = dir.path().join("late.mp4");
    let video = format!("testsrc2=s=320x180:r=25:d={SECONDS}");
    common::ffmpeg(&[
        "-f", "lavfi", "-i", &video, "-i", srt.to_str().unwrap(), "-map", "0:v", "-map", "1:s",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:s", "mov_text", "-t", &SECONDS.to_string(), source.to_str().unwrap(),
    ]);
    let files = common::ladder::subtitle_files(&source, &dir.path().join("subtitles")).await;
    assert_eq!(files.len(), 1, "{files:?}");
    let vtt = std::fs::read_to_string(&files[0].path).unwrap();
    assert_eq!(cue_times(&vtt).len(), 0, "{vtt}");
    let (out, result) = package_frames(dir.path(), &source, FRAMES).await;
    assert_eq!(result.subtitles.len(), 1);
    let published = std::fs::read_to_string(out.join(MEDIA).join(&result.subtitles[0].rendition.name).join("subtitles.vtt")).unwrap();
    assert_eq!(published, "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n", "a track players can pick, with nothing to show");
}

#[tokio::test]
async fn a_variable_rate_source_keeps_each_frames_time_and_stays_in_step_with_its_sound() {
    let dir = tempfile::tempdir().unwrap();
    // A camera's AVI: 25 fps slots of which only some hold a frame (empty index entries
    // between), and PCM sound with a click at 1.8 s, the time of slot 45, which holds a frame.
    let source = dir.path().join("camera.avi");
    common::ffmpeg(&[
        "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=3",
        "-f", "lavfi", "-i", "aevalsrc='if(between(t,1.8,1.802),0.9,0)':s=48000:d=3",
        "-map", "0:v", "-map", "1:a",
        "-vf", "select='lt(mod(n\\,10)\\,3)+eq(mod(n\\,9)\\,0)'", "-fps_mode", "vfr", "-r", "25",
        "-c:v", "mpeg4", "-q:v", "4", "-c:a", "pcm_s16le", source.to_str().unwrap(),
    ]);
    let rungs = vec![
        Rung { name: "240p".into(), codec: Codec::H264, width: 320, height: 240, bitrate_kbps: 600, maxrate_kbps: 900, bufsize_kbps: 1200 },
        Rung { name: "144p".into(), codec: Codec::H264, width: 192, height: 144, bitrate_kbps: 200, maxrate_kbps: 300, bufsize_kbps: 400 },
    ];
    let (report, _) = common::ladder::package_source(&source, &rungs, dir.path()).await;
    let video = &report.source.video;
    assert!(video.keeps_frame_times && report.chunks.len() >= 2, "{video:?} {:?}", report.chunks);
    // 31 frames from 0 to 2.88 s (slot 72): the last shown for the average duration.
    let end = 2.88 * 31.0 / 30.0;
    assert!((video.duration_seconds - end).abs() < 1e-3, "the last frame ends at {end}s: {}", video.duration_seconds);
    let source_times = common::frame_times(&source);
    let out = dir.path().join("out").join("job-1-1-a1");
    for rung in &rungs {
        let track = out.join(&rung.name);
        let (files, extinf, _) = playlist(&track.join("playlist.m3u8"));
        let timing = TrackTiming::read(&track, &files).unwrap();
        assert_eq!(timing.segments[0].earliest_presentation, 0, "{}", rung.name);
        assert!((timing.seconds(timing.end()) - end).abs() < 1e-3, "{}: video ends at {}", rung.name, timing.seconds(timing.end()));
        assert!(timing.segments.iter().all(|segment| segment.earliest_presentation == segment.decode_start as i64), "{}: decode order is presentation order", rung.name);
        assert!((extinf.iter().sum::<f64>() - end).abs() < 1e-3, "{}: EXTINF {extinf:?}", rung.name);
        // Each frame shown at its source time (ffmpeg shifts the whole track by its largest
        // negative composition offset, so times count from the first frame).
        let times = common::frame_times(&joined(&track));
        assert_eq!(times.len(), source_times.len(), "{}", rung.name);
        for (index, (time, source_time)) in times.iter().zip(&source_times).enumerate() {
            let (shown, expected) = (time - times[0], source_time - source_times[0]);
            assert!((shown - expected).abs() < 1e-3, "{} frame {index}: shown at {shown}, the source shows it at {expected}", rung.name);
        }
    }
    // The click where the source has it, and the sound ends with the picture.
    let samples = decoded_audio(&joined(&out.join("audio/a0")));
    let click = loudest_second(&samples);
    assert!((click - 1.8).abs() < 0.001, "the click is at {click}s; the source has it at 1.800s, with the frame of slot 45");
    let audio_end = samples.len() as f64 / 48000.0;
    assert!(audio_end <= end + 1e-3 && end - audio_end < 1024.0 / 48000.0, "audio ends at {audio_end}s, the video at {end}s");
}

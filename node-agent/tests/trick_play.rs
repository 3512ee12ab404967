//! Trick play and thumbnails as players get them, judged by ffmpeg: every I-frame playlist
//! entry's byte range, cut out of its segment with the init segment prepended, decodes to
//! exactly one frame, an IDR picture identical to the rendition's frame at the entry's time;
//! the playlists parse and the master names one I-frame playlist per video rendition. Every
//! DASH trick-mode segment, after the init segment, decodes to that same one frame presented
//! at its segment's time, and the MPD's trick-mode set points at the video set, on the media's
//! own timeline. The
//! thumbnail track's cues tile the whole video, each sprite tile is the frame at its cue's
//! start, and the poster is the middle frame of the longest shot.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use shotfarm_agent::media::package::poster::PosterChoice;
use shotfarm_agent::media::package::{PackageParams, PackageResult, package_ladder};
use shotfarm_agent::media::probe::Rational;
use shotfarm_proto::thumbnails::ThumbnailOptions;
use tokio_util::sync::CancellationToken;

const RATE: u32 = 25;
/// 2.4 s: keyframes every 12 frames make five segments.
const FRAMES: u64 = 60;
const MEDIA: &str = "media";

/// Packages the h264 ladder of `source`; with thumbnails, the poster placed by the shots
/// starting at the frames given.
async fn package(dir: &Path, source: &Path, frames: u64, thumbnails: Option<(ThumbnailOptions, Vec<u64>)>) -> (PathBuf, PackageResult) {
    let (thumbnails, shot_starts) = thumbnails.unzip();
    let out = dir.join("out");
    let params = PackageParams {
        output_dir: out.clone(),
        renditions: common::ladder::h264_renditions(dir, source),
        frame_rate: Rational { num: RATE, den: 1 },
        frames,
        audio: None,
        subtitles: Vec::new(),
        media_folder: MEDIA.to_owned(),
        thumbnails,
        shot_starts: shot_starts.unwrap_or_default(),
        protection: None,
    };
    let result = package_ladder(&params, &CancellationToken::new()).await.unwrap();
    (out, result)
}

/// A tag's attributes (`KEY=value`, quotes dropped; no attribute here holds a comma).
fn attributes(list: &str) -> HashMap<String, String> {
    list.split(',').filter_map(|pair| pair.split_once('=')).map(|(key, value)| (key.to_owned(), value.trim_matches('"').to_owned())).collect()
}

/// One I-frame playlist entry.
#[derive(Debug)]
struct IFrameEntry {
    seconds: f64,
    length: usize,
    offset: usize,
    file: String,
}

/// Parses an I-frame playlist strictly: its header tags, then EXTINF, BYTERANGE, URI per entry.
fn iframe_entries(text: &str) -> Vec<IFrameEntry> {
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("#EXTM3U"));
    let mut entries = Vec::new();
    let mut pending: (Option<f64>, Option<(usize, usize)>) = (None, None);
    let mut tags = Vec::new();
    for line in lines {
        if let Some(duration) = line.strip_prefix("#EXTINF:") {
            pending.0 = Some(duration.trim_end_matches(',').parse().unwrap());
        } else if let Some(range) = line.strip_prefix("#EXT-X-BYTERANGE:") {
            let (length, offset) = range.split_once('@').expect("every I-frame range names its offset");
            pending.1 = Some((length.parse().unwrap(), offset.parse().unwrap()));
        } else if let Some(tag) = line.strip_prefix('#') {
            tags.push(tag.split(':').next().unwrap().to_owned());
        } else {
            let (Some(seconds), Some((length, offset))) = pending else { panic!("{line} has no EXTINF and BYTERANGE before it") };
            entries.push(IFrameEntry { seconds, length, offset, file: line.to_owned() });
            pending = (None, None);
        }
    }
    for tag in ["EXT-X-VERSION", "EXT-X-TARGETDURATION", "EXT-X-PLAYLIST-TYPE", "EXT-X-I-FRAMES-ONLY", "EXT-X-MAP", "EXT-X-ENDLIST"] {
        assert!(tags.iter().any(|found| found == tag), "{tag} missing from\n{text}");
    }
    entries
}

/// Every frame ffprobe finds in `path`: (key_frame, pict_type).
fn probed_frames(path: &Path) -> Vec<(String, String)> {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "frame=key_frame,pict_type", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    // csv lines may end with an empty field, and side data prints empty lines.
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let mut fields = line.split(',');
            (fields.next().unwrap_or_default().to_owned(), fields.next().unwrap_or_default().to_owned())
        })
        .collect()
}

/// Every decoded frame of `path` as raw YUV 4:2:0 pictures of `width`x`height`.
fn raw_frames(path: &Path, width: u32, height: u32) -> Vec<Vec<u8>> {
    let output = Command::new("ffmpeg").args(["-v", "error", "-i"]).arg(path).args(["-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    output.stdout.chunks((width * height * 3 / 2) as usize).map(<[u8]>::to_vec).collect()
}

/// The NAL unit types of a sample of 4-byte length-prefixed H.264 NAL units.
fn nal_types(mut sample: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    while sample.len() > 4 {
        let length = u32::from_be_bytes([sample[0], sample[1], sample[2], sample[3]]) as usize;
        assert!(sample.len() >= 4 + length && length > 0, "a NAL unit runs past its sample");
        types.push(sample[4] & 0x1f);
        sample = &sample[4 + length..];
    }
    types
}

#[tokio::test]
async fn every_iframe_range_and_trick_mode_segment_decodes_alone_to_the_renditions_idr_frame_at_its_time() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("pattern.mp4");
    common::ffmpeg(&["-f", "lavfi", "-i", &format!("testsrc2=s=320x180:r={RATE}"), "-frames:v", &FRAMES.to_string(), "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p", source.to_str().unwrap()]);
    let (out, result) = package(dir.path(), &source, FRAMES, None).await;
    let master = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
    let iframe_streams: Vec<HashMap<String, String>> = master.lines().filter_map(|line| line.strip_prefix("#EXT-X-I-FRAME-STREAM-INF:")).map(attributes).collect();
    assert_eq!(iframe_streams.len(), 2, "{master}");
    let mpd = std::fs::read_to_string(out.join("manifest.mpd")).unwrap();
    let sets = adaptation_sets(&mpd);
    let trick_sets: Vec<&str> = sets.iter().copied().filter(|set| set.contains("http://dashif.org/guidelines/trickmode")).collect();
    assert_eq!(trick_sets.len(), 1, "one trick-mode set for the one video set:\n{mpd}");
    let property = start_tag(trick_sets[0], "EssentialProperty").unwrap();
    let video_set = sets.iter().find(|set| start_tag(set, "AdaptationSet").unwrap()["id"] == property["value"]).expect("the trick-mode set names a set");
    assert!(video_set.contains("contentType=\"video\"") && !video_set.contains("trickmode"), "it names the video set:\n{mpd}");

    for rendition in &result.renditions {
        let rung = &rendition.name;
        let (width, height) = if rung == "180p" { (320, 180) } else { (160, 90) };
        let uri = format!("{MEDIA}/{rung}/iframes.m3u8");
        let stream = iframe_streams.iter().find(|stream| stream["URI"] == uri).unwrap_or_else(|| panic!("no I-frame stream for {uri} in\n{master}"));
        assert_eq!(stream["RESOLUTION"], format!("{width}x{height}"));
        assert!(stream["CODECS"].starts_with("avc1.") && stream["BANDWIDTH"].parse::<u64>().unwrap() > 0, "{stream:?}");

        let track = out.join(MEDIA).join(rung);
        let entries = iframe_entries(&std::fs::read_to_string(track.join("iframes.m3u8")).unwrap());
        assert_eq!(entries.len(), rendition.segments, "{rung}: one I-frame per segment");
        let total: f64 = entries.iter().map(|entry| entry.seconds).sum();
        assert!((total - FRAMES as f64 / f64::from(RATE)).abs() < 1e-6, "{rung}: I-frame durations add up to {total}");

        // The whole rendition, decoded as the media playlist plays it.
        let init = std::fs::read(track.join("init.mp4")).unwrap();
        let mut joined = init.clone();
        let mut files = Vec::new();
        for entry in &entries {
            if !files.contains(&entry.file) {
                files.push(entry.file.clone());
                joined.extend(std::fs::read(track.join(&entry.file)).unwrap());
            }
        }
        std::fs::write(track.join("joined.mp4"), &joined).unwrap();
        let rendition_frames = raw_frames(&track.join("joined.mp4"), width, height);
        assert_eq!(rendition_frames.len() as u64, FRAMES);

        let mut at = 0.0;
        for (index, entry) in entries.iter().enumerate() {
            let segment = std::fs::read(track.join(&entry.file)).unwrap();
            assert!(entry.offset + entry.length <= segment.len(), "{rung} entry {index}: range past its segment");
            let cut = &segment[entry.offset..entry.offset + entry.length];
            // moof, then the mdat header, then the keyframe's bytes: an IDR slice among its NAL units.
            assert_eq!(&cut[4..8], b"moof", "{rung} entry {index}: the range starts at a moof");
            let moof_len = u32::from_be_bytes([cut[0], cut[1], cut[2], cut[3]]) as usize;
            assert_eq!(&cut[moof_len + 4..moof_len + 8], b"mdat", "{rung} entry {index}");
            assert!(nal_types(&cut[moof_len + 8..]).contains(&5), "{rung} entry {index}: no IDR slice in {:?}", nal_types(&cut[moof_len + 8..]));

            let alone = track.join(format!("iframe_{index}.mp4"));
            std::fs::write(&alone, [init.as_slice(), cut].concat()).unwrap();
            assert_eq!(probed_frames(&alone), vec![("1".to_owned(), "I".to_owned())], "{rung} entry {index}: one key I-frame");
            let decoded = raw_frames(&alone, width, height);
            let frame_index = (at * f64::from(RATE)).round() as usize;
            assert_eq!(decoded.len(), 1);
            assert!(decoded[0] == rendition_frames[frame_index], "{rung} entry {index}: not the rendition's frame {frame_index}");
            // and not any other frame of it (the pattern moves every frame).
            assert_eq!(rendition_frames.iter().filter(|frame| **frame == decoded[0]).count(), 1);
            at += entry.seconds;
        }

        // DASH: the trick-mode Representation of this rendition, on the media's timeline.
        let trick = representation(trick_sets[0], &format!("{rung}-trick")).unwrap_or_else(|| panic!("no trick-mode Representation for {rung}:\n{mpd}"));
        let media = representation(video_set, rung).unwrap();
        let frames_per_segment = FRAMES / rendition.segments as u64;
        let expected = [("width", width.to_string()), ("height", height.to_string()), ("maxPlayoutRate", frames_per_segment.to_string()), ("codingDependency", "false".to_owned()), ("frameRate", format!("{RATE}/{frames_per_segment}"))];
        for (name, value) in expected {
            assert_eq!(start_tag(trick, "Representation").unwrap()[name], value, "{rung}: {name}");
        }
        let template = start_tag(trick, "SegmentTemplate").unwrap();
        assert_eq!((template["initialization"].as_str(), template["media"].as_str()), (format!("{MEDIA}/{rung}/init.mp4").as_str(), format!("{MEDIA}/{rung}/trick_$Number%05d$.m4s").as_str()));
        let timeline = |representation: &str| representation[representation.find("<SegmentTimeline>").unwrap()..representation.find("</SegmentTimeline>").unwrap()].to_owned();
        assert_eq!(timeline(trick), timeline(media), "{rung}: the trick-mode timeline is the media's");
        let mut at = 0.0;
        for (index, entry) in entries.iter().enumerate() {
            let segment = std::fs::read(track.join(format!("trick_{index:05}.m4s"))).unwrap();
            let alone = track.join(format!("trick_{index}.mp4"));
            std::fs::write(&alone, [init.as_slice(), &segment].concat()).unwrap();
            assert_eq!(probed_frames(&alone), vec![("1".to_owned(), "I".to_owned())], "{rung} trick segment {index}: one key I-frame");
            let decoded = raw_frames(&alone, width, height);
            let frame_index = (at * f64::from(RATE)).round() as usize;
            assert!(decoded.len() == 1 && decoded[0] == rendition_frames[frame_index], "{rung} trick segment {index}: not the rendition's frame {frame_index}");
            let shown_at = presentation_seconds(&alone);
            assert!((shown_at - at).abs() < 1e-3, "{rung} trick segment {index}: presented at {shown_at} s, its segment starts at {at} s");
            at += entry.seconds;
        }
    }
}

/// Each `<AdaptationSet …>…</AdaptationSet>` of an MPD.
fn adaptation_sets(mpd: &str) -> Vec<&str> {
    mpd.match_indices("<AdaptationSet ").map(|(start, _)| &mpd[start..start + mpd[start..].find("</AdaptationSet>").expect("every set is closed")]).collect()
}

/// The `<Representation …>…</Representation>` with `id` in `set`.
fn representation<'a>(set: &'a str, id: &str) -> Option<&'a str> {
    let start = set.find(&format!("<Representation id=\"{id}\""))?;
    Some(&set[start..start + set[start..].find("</Representation>")?])
}

/// The attributes of the first `<name …>` start tag in `xml` (values unescaped as written).
fn start_tag(xml: &str, name: &str) -> Option<HashMap<String, String>> {
    let start = xml.find(&format!("<{name} "))? + name.len() + 2;
    let tag = &xml[start..start + xml[start..].find('>')?];
    let mut attributes = HashMap::new();
    let mut rest = tag.trim_end_matches('/');
    while let Some((key, after)) = rest.split_once("=\"") {
        let (value, tail) = after.split_once('"')?;
        attributes.insert(key.trim().to_owned(), value.to_owned());
        rest = tail;
    }
    Some(attributes)
}

/// When the first video frame of `path` is presented, in seconds.
fn presentation_seconds(path: &Path) -> f64 {
    let output = Command::new("ffprobe").args(["-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pts_time", "-of", "csv=p=0"]).arg(path).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).lines().find(|line| !line.trim().is_empty()).unwrap().trim().trim_end_matches(',').parse().unwrap()
}

/// Peak signal-to-noise ratio of two gray pictures, in dB.
fn psnr(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let mse = a.iter().zip(b).map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2)).sum::<f64>() / a.len() as f64;
    10.0 * (255.0 * 255.0 / mse.max(1e-10)).log10()
}

/// `hh:mm:ss.mmm` in seconds.
fn vtt_seconds(text: &str) -> f64 {
    let parts: Vec<f64> = text.split(':').map(|part| part.parse().unwrap()).collect();
    parts[0] * 3600.0 + parts[1] * 60.0 + parts[2]
}

/// Frame `index` of `video` as a gray picture of `width`x`height`, scaled as the tiles are.
fn frame_at(video: &Path, index: u64, width: u32, height: u32) -> Vec<u8> {
    common::gray_frames(video, &[], &format!("select='eq(n,{index})'"), width, height, 1).remove(0)
}

#[tokio::test]
async fn thumbnail_cues_tile_the_video_each_tile_is_its_frame_and_the_poster_is_mid_longest_shot() {
    let dir = tempfile::tempdir().unwrap();
    // Shots of 30, 25 and 55 frames (4.4 s): the poster is frame 55 + 55 / 2 = 82.
    let source = common::three_shots(dir.path(), "shots.mp4", 320, 180, 2.2, false);
    let frames = 110;
    let options = ThumbnailOptions { interval_seconds: 1, tile_width: 64, columns: 2, rows: 2, poster_seconds: None };
    // The shots as the source's inspection finds them.
    let (out, result) = package(dir.path(), &source, frames, Some((options, vec![30, 55]))).await;
    let thumbnails = result.thumbnails.unwrap();
    let folder = out.join(MEDIA).join("thumbnails");
    let largest = dir.path().join("180p.mp4");
    let (width, height) = (64, 36);
    assert_eq!((thumbnails.tile_width, thumbnails.tile_height, thumbnails.cues, thumbnails.sheets), (width, height, 5, 2));

    // The cues follow each other from 0 to the video's end, and each tile is its cue's frame.
    let vtt = std::fs::read_to_string(folder.join("thumbnails.vtt")).unwrap();
    assert!(vtt.starts_with("WEBVTT\n"), "{vtt}");
    let cues: Vec<(f64, f64, String)> = vtt
        .split("\n\n")
        .skip(1)
        .map(|cue| {
            let (times, target) = cue.trim().split_once('\n').unwrap();
            let (start, end) = times.split_once(" --> ").unwrap();
            (vtt_seconds(start), vtt_seconds(end), target.to_owned())
        })
        .collect();
    assert_eq!(cues.len(), 5, "{vtt}");
    let mut expected_start = 0.0;
    let mut tiles = Vec::new();
    for (start, end, target) in &cues {
        assert!((start - expected_start).abs() < 1e-9 && end > start, "cue {start}..{end} after one ending at {expected_start}");
        expected_start = *end;
        let (sheet, xywh) = target.split_once("#xywh=").unwrap();
        let [x, y, w, h]: [u32; 4] = xywh.split(',').map(|value| value.parse().unwrap()).collect::<Vec<u32>>().try_into().unwrap();
        assert_eq!((w, h), (width, height));
        tiles.push(common::gray_frames(&folder.join(sheet), &[], &format!("crop={w}:{h}:{x}:{y}"), w, h, 1).remove(0));
    }
    assert!((expected_start - frames as f64 / f64::from(RATE)).abs() < 1e-9, "the last cue ends at {expected_start}");
    for (index, ((start, _, target), tile)) in cues.iter().zip(&tiles).enumerate() {
        let frame = (start * f64::from(RATE)).round() as u64;
        let own = psnr(tile, &frame_at(&largest, frame, width, height));
        assert!(own > 30.0, "cue {index} ({target}): the tile is {own:.1} dB from frame {frame}");
        // And it is that frame, not a neighbour: an off-by-one pick is closer to another.
        for neighbour in [frame.checked_sub(1), Some(frame + 1).filter(|next| *next < frames)].into_iter().flatten() {
            let other = psnr(tile, &frame_at(&largest, neighbour, width, height));
            assert!(own > other, "cue {index}: {own:.2} dB from its frame {frame}, {other:.2} dB from frame {neighbour}");
        }
    }

    // The players' references: the image playlist in the master, the image set in the MPD.
    let master = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
    let image_stream = master.lines().find_map(|line| line.strip_prefix("#EXT-X-IMAGE-STREAM-INF:")).map(attributes).unwrap();
    assert_eq!((image_stream["URI"].as_str(), image_stream["RESOLUTION"].as_str(), image_stream["CODECS"].as_str()), ("media/thumbnails/images.m3u8", "64x36", "jpeg"));
    let images = std::fs::read_to_string(folder.join("images.m3u8")).unwrap();
    let sheet_seconds: Vec<f64> = images.lines().filter_map(|line| line.strip_prefix("#EXTINF:")).map(|value| value.trim_end_matches(',').parse().unwrap()).collect();
    assert_eq!(sheet_seconds, vec![4.0, 0.4], "{images}");
    assert!(images.contains("#EXT-X-IMAGES-ONLY") && images.contains("#EXT-X-TILES:RESOLUTION=64x36,LAYOUT=2x2,DURATION=1.000000\nsheet_00001.jpg"), "{images}");
    let mpd = std::fs::read_to_string(out.join("manifest.mpd")).unwrap();
    assert!(
        mpd.contains("contentType=\"image\" mimeType=\"image/jpeg\"")
            && mpd.contains("media=\"media/thumbnails/sheet_$Number%05d$.jpg\" timescale=\"1\" duration=\"4\"")
            && mpd.contains("width=\"128\" height=\"72\"")
            && mpd.contains("<EssentialProperty schemeIdUri=\"http://dashif.org/thumbnail_tile\" value=\"2x2\"/>"),
        "{mpd}"
    );

    // The poster: the middle of the third, longest shot, at full size.
    assert_eq!(thumbnails.poster.choice, PosterChoice::MiddleOfLongestShot { shot_start: 55, shot_frames: 55 });
    assert_eq!(thumbnails.poster.frame, 82);
    // Decoded from the keyframe before it (frame 72), it is frame 82, not a neighbour.
    let poster = common::gray_frames(&folder.join("poster.jpg"), &[], "", 320, 180, 1).remove(0);
    let own = psnr(&poster, &frame_at(&largest, 82, 320, 180));
    assert!(own > 35.0, "the poster is {own:.1} dB from frame 82");
    for other_frame in [70, 72, 81, 83] {
        let other = psnr(&poster, &frame_at(&largest, other_frame, 320, 180));
        assert!(own > other + 1.0, "the poster is {own:.1} dB from frame 82, {other:.1} dB from frame {other_frame}");
    }
}

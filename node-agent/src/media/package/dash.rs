//! The DASH MPD over the very same CMAF segments as the HLS playlists: one video
//! AdaptationSet per codec and declared colour (a player switches only within one; an HDR set
//! carries its CICP descriptors), then one AdaptationSet per audio rendition (`lang`, `Label`, `Role` main for
//! the default one, `AudioChannelConfiguration`), then one text AdaptationSet per subtitle
//! rendition (`text/vtt`, the WebVTT file as its `BaseURL`), then the thumbnails' image
//! AdaptationSet (`image/jpeg`, `http://dashif.org/thumbnail_tile`), then one trick-mode
//! AdaptationSet per video set whose renditions have trick-mode tracks (an `EssentialProperty`
//! `http://dashif.org/guidelines/trickmode` naming the video set, so players that do not do
//! trick play skip it; `maxPlayoutRate`, `codingDependency="false"`); `SegmentTemplate` with a
//! `SegmentTimeline` in each track's own timescale, its times read from the boxes (`tfdt`
//! and summed sample durations), so the timeline is the media's to the tick.
//! A protected ladder's video and audio sets carry `ContentProtection` (the scheme with its
//! default key id, and each DRM system's `cenc:pssh`).
//! `mediaPresentationDuration` is the video's length rounded up to the microsecond: every
//! track ends at or before it (audio ends less than one AAC frame before it).

use std::fmt::Write as _;

use super::encryption::{ContentProtection, dash_content_protection};
use super::fragments::TrackTiming;
use super::hls::seconds_text;
use super::subtitles::{PackagedSubtitles, SUBTITLES_FILE};
use super::thumbnails::PackagedThumbnails;
use super::trick_mode::{PackagedTrickMode, TRICK_SEGMENT_TEMPLATE};
use super::{PackageRendition, PackagedAudio, PackagedRendition};
use crate::media::probe::Rational;

/// The DASH-IF trick-mode descriptor's scheme.
const TRICK_MODE_SCHEME: &str = "http://dashif.org/guidelines/trickmode";

/// A video rendition as the MPD needs it.
pub(super) struct DashVideo<'a> {
    pub packaged: &'a PackagedRendition,
    pub rendition: &'a PackageRendition,
    pub timing: &'a TrackTiming,
}

fn timeline_xml(track: &TrackTiming) -> String {
    let mut xml = String::from("<SegmentTimeline>");
    let segments = &track.segments;
    let mut index = 0;
    while index < segments.len() {
        let segment = segments[index];
        let mut repeat = 0;
        while index + repeat + 1 < segments.len() && segments[index + repeat + 1].duration == segment.duration {
            repeat += 1;
        }
        let _ = write!(xml, "<S t=\"{}\" d=\"{}\"", segment.decode_start, segment.duration);
        if repeat > 0 {
            let _ = write!(xml, " r=\"{repeat}\"");
        }
        xml.push_str("/>");
        index += repeat + 1;
    }
    xml.push_str("</SegmentTimeline>");
    xml
}

/// The segment files' template of a media track.
const MEDIA_SEGMENT_TEMPLATE: &str = "seg_$Number%05d$.m4s";

/// `folder`: the track's folder as the MPD names it (the media prefix and its name); `media`:
/// its segment files' template.
fn segment_template(folder: &str, media: &str, track: &TrackTiming) -> String {
    format!(
        "<SegmentTemplate timescale=\"{}\" initialization=\"{folder}/init.mp4\" media=\"{folder}/{media}\" startNumber=\"0\">{}</SegmentTemplate>",
        track.init.timescale,
        timeline_xml(track)
    )
}

/// `text` with XML's special characters escaped.
fn xml_text(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The MPD text; `duration_micros` is the presentation's length; every file is named
/// `media_prefix` (the media folder and a slash, or nothing) followed by its rendition's folder.
pub(super) fn dash_manifest_text(
    protection: Option<&ContentProtection>,
    frame_rate: Rational,
    videos: &[DashVideo<'_>],
    audio: &[(&PackagedAudio, &TrackTiming)],
    (subtitles, thumbnails): (&[PackagedSubtitles], Option<&PackagedThumbnails>),
    duration_micros: u64,
    media_prefix: &str,
) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" xmlns:cenc=\"urn:mpeg:cenc:2013\" profiles=\"urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019\" type=\"static\" mediaPresentationDuration=\"PT{}S\" minBufferTime=\"PT2S\">",
        seconds_text(duration_micros)
    );
    xml.push_str("  <Period id=\"0\" start=\"PT0S\">\n");
    let sets = video_sets(videos);
    for (id, set) in sets.iter().enumerate() {
        let _ = writeln!(
            xml,
            "    <AdaptationSet id=\"{id}\" contentType=\"video\" mimeType=\"video/mp4\" segmentAlignment=\"true\" startWithSAP=\"1\" frameRate=\"{}/{}\">",
            frame_rate.num, frame_rate.den
        );
        let keys = SetProtection::of(protection, set);
        xml.push_str(&keys.on_set);
        if let Some(colour) = set[0].packaged.colour {
            xml.push_str(&colour.dash_properties());
        }
        video_representations(&mut xml, set, media_prefix, &keys);
        xml.push_str("    </AdaptationSet>\n");
    }
    let first_audio_id = sets.len();
    audio_sets(&mut xml, audio, first_audio_id, media_prefix, protection);
    subtitle_sets(&mut xml, subtitles, first_audio_id + audio.len(), media_prefix);
    let mut next_id = first_audio_id + audio.len() + subtitles.len();
    if let Some(thumbnails) = thumbnails {
        image_set(&mut xml, thumbnails, next_id, media_prefix);
        next_id += 1;
    }
    for (video_set_id, set) in sets.iter().enumerate() {
        if trick_mode_set(&mut xml, next_id, video_set_id, set, media_prefix, protection) {
            next_id += 1;
        }
    }
    xml.push_str("  </Period>\n</MPD>\n");
    xml
}

/// The video renditions grouped into AdaptationSets a player may switch within: one per codec
/// (the codec string's sample entry, `avc1`, `hvc1`, `av01`) and declared colour, in the
/// ladder's order.
fn video_sets<'a, 'b>(videos: &'b [DashVideo<'a>]) -> Vec<Vec<&'b DashVideo<'a>>> {
    let mut sets: Vec<Vec<&DashVideo<'_>>> = Vec::new();
    let key = |video: &DashVideo<'_>| (video.packaged.codecs.split('.').next().unwrap_or_default().to_owned(), video.packaged.colour);
    for video in videos {
        match sets.iter_mut().find(|set| key(set[0]) == key(video)) {
            Some(set) => set.push(video),
            None => sets.push(vec![video]),
        }
    }
    sets
}

/// A video set's `ContentProtection`: on the set when one key covers all of its renditions,
/// else on each Representation (resolution classes with keys of their own).
struct SetProtection<'a> {
    on_set: String,
    per_rendition: Option<(&'a ContentProtection, Vec<[u8; 16]>)>,
}

impl<'a> SetProtection<'a> {
    fn of(protection: Option<&'a ContentProtection>, set: &[&DashVideo<'_>]) -> SetProtection<'a> {
        let Some(protection) = protection else { return SetProtection { on_set: String::new(), per_rendition: None } };
        let kids: Vec<[u8; 16]> = set.iter().map(|video| protection.keys.video_key(video.rendition.rung.height).kid).collect();
        if kids.windows(2).any(|pair| pair[0] != pair[1]) {
            SetProtection { on_set: String::new(), per_rendition: Some((protection, kids)) }
        } else {
            SetProtection { on_set: kids.first().map(|kid| dash_content_protection(protection, kid, "      ")).unwrap_or_default(), per_rendition: None }
        }
    }

    /// The `ContentProtection` of the set's `index`-th rendition, when renditions signal their own.
    fn of_rendition(&self, index: usize) -> String {
        self.per_rendition.as_ref().and_then(|(protection, kids)| kids.get(index).map(|kid| dash_content_protection(protection, kid, "        "))).unwrap_or_default()
    }
}

/// The set's Representations, each signalling its own key when `keys` say so.
fn video_representations(xml: &mut String, set: &[&DashVideo<'_>], media_prefix: &str, keys: &SetProtection<'_>) {
    for (index, video) in set.iter().enumerate() {
        let _ = writeln!(
            xml,
            "      <Representation id=\"{name}\" bandwidth=\"{bandwidth}\" width=\"{w}\" height=\"{h}\" codecs=\"{codecs}\">\n{key}        {template}\n      </Representation>",
            name = video.packaged.name,
            bandwidth = video.packaged.peak_bitrate_bps,
            w = video.rendition.rung.width,
            h = video.rendition.rung.height,
            codecs = video.packaged.codecs,
            key = keys.of_rendition(index),
            template = segment_template(&format!("{media_prefix}{}", video.packaged.name), MEDIA_SEGMENT_TEMPLATE, video.timing),
        );
    }
}

/// The trick-mode AdaptationSet `id` of the video set `video_set_id`: one Representation per
/// rendition with a trick-mode track, over the same timeline and init segment as its media.
/// Whether the set has any (else nothing is written).
fn trick_mode_set(xml: &mut String, id: usize, video_set_id: usize, set: &[&DashVideo<'_>], media_prefix: &str, protection: Option<&ContentProtection>) -> bool {
    let tricks: Vec<(&DashVideo<'_>, &PackagedTrickMode)> = set.iter().filter_map(|video| Some((*video, video.packaged.trick_mode.as_ref()?))).collect();
    if tricks.is_empty() {
        return false;
    }
    let videos: Vec<&DashVideo<'_>> = tricks.iter().map(|(video, _)| *video).collect();
    let keys = SetProtection::of(protection, &videos);
    let _ = write!(
        xml,
        "    <AdaptationSet id=\"{id}\" contentType=\"video\" mimeType=\"video/mp4\" segmentAlignment=\"true\" startWithSAP=\"1\">\n      <EssentialProperty schemeIdUri=\"{TRICK_MODE_SCHEME}\" value=\"{video_set_id}\"/>\n{}",
        keys.on_set
    );
    if let Some(colour) = set[0].packaged.colour {
        xml.push_str(&colour.dash_properties());
    }
    for (index, (video, trick)) in tricks.iter().enumerate() {
        let _ = writeln!(
            xml,
            "      <Representation id=\"{name}-trick\" bandwidth=\"{bandwidth}\" width=\"{w}\" height=\"{h}\" codecs=\"{codecs}\" frameRate=\"{rate_num}/{rate_den}\" maxPlayoutRate=\"{max_rate}\" codingDependency=\"false\">\n{key}        {template}\n      </Representation>",
            name = video.packaged.name,
            bandwidth = trick.peak_bitrate_bps.max(1),
            w = video.rendition.rung.width,
            h = video.rendition.rung.height,
            codecs = video.packaged.codecs,
            rate_num = trick.frame_rate.num,
            rate_den = trick.frame_rate.den,
            max_rate = trick.max_playout_rate,
            key = keys.of_rendition(index),
            template = segment_template(&format!("{media_prefix}{}", video.packaged.name), TRICK_SEGMENT_TEMPLATE, video.timing),
        );
    }
    xml.push_str("    </AdaptationSet>\n");
    true
}

fn audio_sets(xml: &mut String, audio: &[(&PackagedAudio, &TrackTiming)], first_id: usize, media_prefix: &str, protection: Option<&ContentProtection>) {
    for (index, (audio, timing)) in audio.iter().enumerate() {
        let language = audio.language.as_ref().map(|language| format!(" lang=\"{}\"", xml_text(language))).unwrap_or_default();
        let protection = protection.map(|protection| dash_content_protection(protection, &protection.keys.audio.kid, "      ")).unwrap_or_default();
        let _ = writeln!(
            xml,
            "    <AdaptationSet id=\"{id}\" contentType=\"audio\" mimeType=\"audio/mp4\"{language} segmentAlignment=\"true\" startWithSAP=\"1\">\n{protection}      <Label>{label}</Label>\n      <Role schemeIdUri=\"urn:mpeg:dash:role:2011\" value=\"{role}\"/>\n      <Representation id=\"{name}\" bandwidth=\"{bandwidth}\" codecs=\"{codecs}\" audioSamplingRate=\"{rate}\">\n        <AudioChannelConfiguration schemeIdUri=\"urn:mpeg:dash:23003:3:audio_channel_configuration:2011\" value=\"{channels}\"/>\n        {template}\n      </Representation>\n    </AdaptationSet>",
            id = first_id + index,
            label = xml_text(&audio.label),
            role = if audio.default { "main" } else { "alternate" },
            name = audio.rendition.name,
            bandwidth = audio.rendition.peak_bitrate_bps,
            codecs = audio.rendition.codecs,
            rate = timing.init.timescale,
            channels = audio.channels,
            template = segment_template(&format!("{media_prefix}{}", audio.rendition.name), MEDIA_SEGMENT_TEMPLATE, timing),
        );
    }
}

fn subtitle_sets(xml: &mut String, subtitles: &[PackagedSubtitles], first_id: usize, media_prefix: &str) {
    for (index, PackagedSubtitles { rendition: track, .. }) in subtitles.iter().enumerate() {
        let language = track.language.as_ref().map(|language| format!(" lang=\"{}\"", xml_text(language))).unwrap_or_default();
        let _ = writeln!(
            xml,
            "    <AdaptationSet id=\"{id}\" contentType=\"text\" mimeType=\"text/vtt\"{language}>\n      <Label>{label}</Label>\n      <Role schemeIdUri=\"urn:mpeg:dash:role:2011\" value=\"subtitle\"/>\n      <Representation id=\"{name}\" bandwidth=\"256\">\n        <BaseURL>{media_prefix}{name}/{SUBTITLES_FILE}</BaseURL>\n      </Representation>\n    </AdaptationSet>",
            id = first_id + index,
            label = xml_text(&track.label),
            name = track.name,
        );
    }
}

/// The thumbnails as a DASH-IF image AdaptationSet: one sprite sheet per segment, each as
/// long as its `columns x rows` tiles (the last one may hold fewer).
fn image_set(xml: &mut String, thumbnails: &PackagedThumbnails, id: usize, media_prefix: &str) {
    let _ = writeln!(
        xml,
        "    <AdaptationSet id=\"{id}\" contentType=\"image\" mimeType=\"image/jpeg\">\n      <SegmentTemplate media=\"{media_prefix}{name}/sheet_$Number%05d$.jpg\" timescale=\"1\" duration=\"{duration}\" startNumber=\"0\"/>\n      <Representation id=\"thumbnails\" bandwidth=\"{bandwidth}\" width=\"{width}\" height=\"{height}\">\n        <EssentialProperty schemeIdUri=\"http://dashif.org/thumbnail_tile\" value=\"{columns}x{rows}\"/>\n      </Representation>\n    </AdaptationSet>",
        name = thumbnails.name,
        duration = u64::from(thumbnails.interval_seconds) * u64::from(thumbnails.columns * thumbnails.rows),
        bandwidth = thumbnails.bandwidth_bps.max(1),
        width = thumbnails.tile_width * thumbnails.columns,
        height = thumbnails.tile_height * thumbnails.rows,
        columns = thumbnails.columns,
        rows = thumbnails.rows,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::package::fragments::{InitTiming, SegmentTiming};

    #[test]
    fn timelines_compress_repeats_and_keep_the_boxes_times() {
        let durations = [50u64, 50, 50, 20, 50];
        let mut start = 0;
        let segments = durations
            .iter()
            .map(|&duration| {
                let segment = SegmentTiming { decode_start: start, samples: 2, duration, earliest_presentation: start as i64, signed_offsets: true };
                start += duration;
                segment
            })
            .collect();
        let track = TrackTiming { init: InitTiming { timescale: 100, has_edit_list: false, sample_defaults: Default::default() }, segments };
        assert_eq!(timeline_xml(&track), "<SegmentTimeline><S t=\"0\" d=\"50\" r=\"2\"/><S t=\"150\" d=\"20\"/><S t=\"170\" d=\"50\"/></SegmentTimeline>");
    }
}

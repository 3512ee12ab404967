//! The media work of a node agent: every pipeline stage that touches video, as plain async
//! functions over local files with serde parameter and result types. The agent runtime moves
//! files to and from the object store ([`crate::storage`]) around these calls.
//!
//! | module | stage | what it does |
//! | --- | --- | --- |
//! | [`process`] | — | runs ffmpeg/ffprobe (the binaries `SHOTFARM_FFMPEG`/`SHOTFARM_FFPROBE` name): cancellable, progress, crash evidence |
//! | [`capabilities`] | — | ffmpeg/ffprobe versions, encoders, CPU cores, memory |
//! | [`probe`] | — | ffprobe JSON → typed facts |
//! | [`source_picture`] | — | the source's picture every decode uses: the stream, upright (display matrix), deinterlaced |
//! | [`source_colour`] | — | the source's bit depth, colour tags, HDR metadata; what each codec's rung keeps or tone-maps |
//! | [`frame_analysis`] | — | one decode to 128×72 gray: fingerprints, shots, SI/TI |
//! | [`video_pieces`] | 1 inspect | pieces of a video decoded apart, joined into exactly the one decode of the whole: boundary changes, shots decided over the whole |
//! | [`frame_timing`] | — | when renditions keep each frame's source time (a variable rate with usable timestamps), and the chunk spans that carry it through encode and assembly |
//! | [`keyframe_seek`] | — | how a decode opens a file at a keyframe and counts frames from it, losing none |
//! | [`source_range`] | — | exactly the source frames `[start, end)` of a chunk, decoded (score's reference) |
//! | [`tracks`] | — | the source's audio tracks: language, title, channels, default |
//! | [`quality`] | — | pooling per-frame VMAF (percentiles, per chunk, rendition and shot) |
//! | [`mp4_boxes`] | — | the ISO-BMFF box tree from bytes: headers, children, fields |
//! | [`mp4_samples`] | — | frame count, bytes, timeline (presentation times, sync samples) and sample locations of an MP4 video track, from its box tree |
//! | [`sample_digest`] | 4 encode, 7 validate | a run of an MP4's video samples as a SHA-256 digest: a verified chunk found byte for byte in its rendition |
//! | [`artifacts`] | — | `frames.json`: large per-frame data beside the results |
//! | [`frame_stream`] | — | a frame artifact's frames read one at a time (validation never holds them all) |
//! | [`inspect`] | 1 inspect | accept (facts, warnings, shots, chunk plan) or reject (code, where, fix) |
//! | [`chunking`] | 1 inspect | runs of whole shots within min/max length, frame-exact |
//! | [`ladder`] | 3 ladder | the `fixed` ladder recipe fitted to the source: its own size on top, ≥ 3 rungs from 240 lines, bitrates by pixels and frame rate (README beside it); the per-title/per-shot ladder on the hull of the analyze stage's trials |
//! | [`ladder_report`] | 9 report | the per-title/per-shot ladder in `report.json`: hull, rungs predicted beside measured, per-shot settings |
//! | [`encode`] | 4 encode | one chunk into one or more rungs behind [`encode::EncodeBackend`] |
//! | [`chunk_check`] | 4 encode | an encoded chunk decoded and compared frame by frame with the source's frames of its range |
//! | [`score`] | 2 analyze, 5 score | VMAF/PSNR/SSIM of one encoded chunk against its source frames, pooled |
//! | [`assemble`] | 6 assemble | a rung's chunks joined, without re-encoding |
//! | [`validate`] | 7 validate | the join check: chunks in order from the sample table, timestamps, each chunk's first frame decoded and matched and its other samples the bytes its encode verified, codec/size/bitrate |
//! | [`package`] | 8 package (and the audio task) | HLS (CMAF) + DASH over the same segments; the AAC audio fitted to the video, encoded whole by the audio task beside the video's stages; timing checked from the boxes |
//! | [`report`] | 9 report | `report.json` types and writer |
//! | [`report_html`] | 9 report | `report.html`: the report as a self-contained page with SVG plots |
//!
//! Speed: a chunk's decode starts at the keyframe inspect recorded for it (verified by
//! fingerprint, with a fall back to decoding from frame 0), and one encode call can produce
//! several rungs of a chunk from a single decode.

pub mod artifacts;
pub mod assemble;
pub mod capabilities;
pub mod chunk_check;
pub mod chunking;
pub mod encode;
pub mod frame_analysis;
pub mod frame_stream;
pub mod frame_timing;
pub mod inspect;
pub mod keyframe_seek;
pub mod ladder;
pub mod ladder_report;
pub mod mp4_boxes;
pub mod mp4_samples;
pub mod package;
pub mod probe;
pub mod process;
pub mod quality;
pub mod report;
pub mod report_html;
pub mod sample_digest;
pub mod score;
pub mod source_colour;
pub mod source_picture;
pub mod source_range;
pub mod tracks;
pub mod validate;
pub mod video_pieces;

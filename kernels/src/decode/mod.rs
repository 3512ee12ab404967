//! Turning files into frames, one at a time.
//!
//! | module | what it holds |
//! | --- | --- |
//! | [`frame_source`] | the `FrameSource` trait: frames one at a time; frames held in memory |
//! | [`frame_pool`] | frames given back by the consumer, decoded into again |
//! | [`y4m`] | `.y4m` reader |
//! | [`raw_frame_pipe`] | a child process writing raw frames to a pipe, read one frame at a time, with its evidence on failure |
//! | [`ffmpeg_decoder`] | any file ffmpeg decodes (ffprobe for its format), through a raw-frame pipe |
//! | [`input_pins`] | the protocols and demuxers ffmpeg may use on an input (`-protocol_whitelist`, `-format_whitelist`) |
//! | [`ffmpeg_programs`] | which ffmpeg and ffprobe binaries to run (an input of every decoder) |
//! | [`pixel_format`] | ffmpeg pixel-format names: raw 4:2:0 layout per bit depth, decode depth per format |
//! | [`process_evidence`] | a failed process's command line, exit status and stderr tail |
//! | [`decode_error`] | decoding errors |

pub mod decode_error;
pub mod ffmpeg_decoder;
pub mod ffmpeg_programs;
pub mod frame_pool;
pub mod frame_source;
pub mod input_pins;
pub mod pixel_format;
pub mod process_evidence;
pub mod raw_frame_pipe;
pub mod y4m;

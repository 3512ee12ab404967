//! Turning files into frames, one at a time.
//!
//! | module | what it holds |
//! | --- | --- |
//! | [`frame_source`] | the `FrameSource` trait: frames one at a time |
//! | [`frame_pool`] | frames given back by the consumer, decoded into again |
//! | [`y4m`] | `.y4m` reader |
//! | [`ffmpeg_decoder`] | any file ffmpeg decodes, streamed from an ffmpeg child process |
//! | [`decode_error`] | decoding errors, with a failed process's evidence |

pub mod decode_error;
pub mod ffmpeg_decoder;
pub mod frame_pool;
pub mod frame_source;
pub mod y4m;

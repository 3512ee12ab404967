//! `shotfarm-proto`: the wire contract between every Shotfarm process.
//!
//! | module | what |
//! | --- | --- |
//! | [`v1`] | the gRPC services and messages generated from `proto/shotfarm/v1/*.proto` |
//! | [`pipeline`] | the JSON payloads of each task kind (specs and outputs), carried as bytes in `v1` |
//! | [`analysis`] | the analyze stage's trial grid and outcomes, and the per-title/per-shot ladder decision |
//! | [`recipe`] | a job's ladder recipe, checked once from what a client sends |
//! | [`spec_overlay`] | a job spec laid over another: a saved recipe's settings under a submission's |
//! | [`encryption`] | a job's content encryption: the scheme and its key file's URL (never the keys) |
//! | [`thumbnails`] | a job's thumbnail options (interval, tile size and grid, poster time), checked once |
//! | [`leader_hint`] | how a follower tells a caller where the leader is |
//! | [`trace_context`] | W3C `traceparent` from a client's call through the leader to each task of its job |
//! | [`state_names`] | the words for job, task and node states |
//! | [`client`] | a client that finds and follows the leader across replicas |
//! | [`storage`] | storage URLs normalised one way, and the roots jobs may read and write (`--allow-input`, `--allow-output`) |
//! | [`FILE_DESCRIPTOR_SET`] | the compiled descriptors, for gRPC server reflection |

pub mod analysis;
pub mod client;
pub mod encryption;
pub mod leader_hint;
pub mod pipeline;
pub mod recipe;
pub mod spec_overlay;
pub mod state_names;
pub mod storage;
pub mod thumbnails;
pub mod trace_context;

/// Generated from `proto/shotfarm/v1`.
pub mod v1 {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("shotfarm.v1");
}

/// The encoded `FileDescriptorSet` of every Shotfarm service, for `tonic-reflection`.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/shotfarm_descriptor.bin"));

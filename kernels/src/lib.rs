//! Frame metrics: VMAF, PSNR, SSIM, fingerprints and scene-change features.
//!
//! The CPU implementation here is the reference: VMAF's integer features are bit-exact
//! with Netflix's libvmaf (HEAD, model vmaf_v0.6.1); see `shared/vmaf/ALGORITHM.md`.
//!
//! | module | what it holds |
//! | --- | --- |
//! | [`frame`], [`sample`] | planar YUV 4:2:0 frames, 8-bit and high bit depth |
//! | [`decode`] | frame sources: `.y4m` files, ffmpeg child processes, frames in memory; a pool of spare frames; decoding errors |
//! | [`vif`] | integer VIF (4 scales): the per-pixel statistic, the scalar row loops, their AVX2 twins; the reference's pyramid, prepared once per reference frame |
//! | [`adm`] | integer ADM2 and its 4 scales: DWT, decoupling, CSF, masking, the sums shared with CUDA; AVX2 twins of its hot loops; the reference's DWT, prepared once per reference frame |
//! | [`motion`] | integer motion / motion2 (blurred frame difference); AVX2 twins of its row loops |
//! | [`psnr`], [`ssim`] | libvmaf's `psnr` and `float_ssim` |
//! | [`model`] | the libvmaf JSON model (vmaf_v0.6.1 embedded) and the SVM prediction |
//! | [`pooling`] | mean, min, max, harmonic mean |
//! | [`frame_features`] | every feature of one frame pair; a reference frame's own work, done once for every distorted frame scored against it |
//! | [`vmaf`] | the entry point: two streams in, a [`report::VmafReport`] out, or several distorted streams against one reference in one pass, a report each; on N threads |
//! | [`report`] | per-frame and pooled results, libvmaf's JSON layout |
//! | [`backend`], [`simd`] | CPU/CUDA choice; SIMD level detected at run time, the AVX2 loads and stores the SIMD paths share |
//! | `cuda` (feature `cuda`) | VIF, ADM and motion kernels (`kernels/cuda/*.cu`) compiled with NVRTC at run time |
//! | [`cpu_account`] | the CPU a task used across its threads and child processes |
//! | [`fingerprint`], [`scene`] | per-frame fingerprints; shot boundaries and SI/TI (media pipeline) |
//! | [`frame_sequence`] | whether an output holds exactly the source's frames in order, streamed with a window of frames |

pub mod adm;
pub mod backend;
pub mod cpu_account;
#[cfg(feature = "cuda")]
pub mod cuda;
pub mod decode;
pub mod fingerprint;
pub mod frame;
pub mod frame_sequence;
pub mod frame_features;
pub mod model;
pub mod motion;
pub mod pooling;
pub mod psnr;
pub mod report;
pub mod sample;
pub mod scene;
pub mod simd;
pub mod ssim;
pub mod vif;
pub mod vmaf;

pub use backend::BackendRequest;
pub use frame::{Frame, FrameFormat, Plane, YuvFrame};
pub use frame_features::FeatureSelection;
pub use report::VmafReport;
pub use vmaf::{VmafError, VmafOptions, vmaf_files, vmaf_streams, vmaf_streams_against_one_reference};

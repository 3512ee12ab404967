//! The validate task: the join check of the assembled stream ([`crate::media::validate`]):
//! the rung's chunks, each as its encode task verified it frame by frame, found in order in
//! the stream's sample table, timestamps contiguous, the first frame of every chunk decoded
//! and matched and its samples the bytes its encode verified (no frame dropped, duplicated or
//! reordered at a boundary), its codec,
//! size and bitrate checked against the rung. A failure is final, with validation's precise
//! message. The full validation report goes to `validation/<rung>.a<attempt>.json` for
//! report.json.

use shotfarm_kernels::fingerprint::Fingerprint;
use shotfarm_proto::pipeline::{Artifact, EncodedChunk, JobLocations, Rung, SourceSummary, TaskOutput};
use tokio_util::sync::CancellationToken;

use super::spec_checks::{check_rung_name, frame_rate};
use super::work_area::WorkArea;
use super::{TaskContext, TaskError, inspection, task_errors};
use crate::media::chunking::FrameRange;
use crate::media::frame_stream::FramesWithin;
use crate::media::source_colour::RungColour;
use crate::media::validate::{JoinedChunk, ValidateParams, validate_rendition};

#[expect(clippy::too_many_arguments, reason = "the fields of one spec variant plus the task's context")]
pub async fn run(
    locations: &JobLocations,
    source: &SourceSummary,
    inspection: &Artifact,
    rung: &Rung,
    stream: &Artifact,
    chunks: &[EncodedChunk],
    ctx: &TaskContext,
    cancel: &CancellationToken,
) -> Result<TaskOutput, TaskError> {
    check_rung_name(&rung.name)?;
    let chunks = chunks.iter().map(|encoded| joined_chunk(&rung.name, encoded)).collect::<Result<Vec<_>, _>>()?;
    let work_area = WorkArea::open(&locations.work_url)?;
    // The report alone is parsed; validation streams the frames from the same file.
    let (report, source_frames) = inspection::committed_report(&work_area, inspection, source, ctx).await?;
    let rendition = ctx.scratch_dir.join("validate").join(format!("{}.mp4", rung.name));
    work_area.download(stream, &rendition).await?;
    let tone_mapped = report.source.video.picture.colour.for_codec(rung.codec) == RungColour::ToneMappedToSdr;
    let keeps_frame_times = report.source.video.keeps_frame_times;
    let params = ValidateParams {
        rung: rung.clone(),
        rendition: rendition.clone(),
        source_frames,
        source_frames_within: FramesWithin::Inspection,
        frame_rate: frame_rate(source)?,
        tolerance: None,
        tone_mapped,
        keeps_frame_times,
        chunks,
    };
    let outcome = validate_rendition(&params, cancel).await;
    let _ = tokio::fs::remove_file(&rendition).await;
    let report = outcome.map_err(task_errors::validate)?;
    if report.frames != source.frames {
        return Err(TaskError::final_error(format!("rendition {} has {} frames; the source has {}", rung.name, report.frames, source.frames)));
    }
    let key = WorkArea::validation_key(&rung.name, ctx.attempt)?;
    work_area.put_json(&report, &key, &ctx.scratch_dir).await?;
    tracing::info!(
        task_id = ctx.task_id,
        attempt = ctx.attempt,
        rung = %rung.name,
        frames = report.frames,
        bitrate_kbps = report.bitrate_kbps,
        max_fingerprint_distance = report.max_fingerprint_distance,
        "rendition validated"
    );
    Ok(TaskOutput::Validate { rung: rung.name.clone(), frames: report.frames, bitrate_kbps: report.bitrate_kbps })
}

/// A chunk of the spec as the join check takes it: its range and what its encode verified.
fn joined_chunk(rung: &str, encoded: &EncodedChunk) -> Result<JoinedChunk, TaskError> {
    let index = encoded.chunk.index;
    let Some(verified) = encoded.verified.as_ref().filter(|verified| !verified.samples_sha256.is_empty()) else {
        return Err(TaskError::final_error(format!(
            "chunk {index} of rung {rung} comes without what its encode verified, or without the digest of its samples (an older agent encoded it): resubmit the job on agents of one version"
        )));
    };
    let fingerprint = |hex: &str| {
        Fingerprint::from_hex(hex).map_err(|error| TaskError::final_error(format!("chunk {index} of rung {rung}: its encode recorded an unreadable fingerprint: {error}")))
    };
    Ok(JoinedChunk {
        index,
        frames: FrameRange { start: encoded.chunk.start_frame, end: encoded.chunk.end_frame },
        verified_frames: verified.frames,
        first_fingerprint: fingerprint(&verified.first_fingerprint)?,
        last_fingerprint: fingerprint(&verified.last_fingerprint)?,
        samples_sha256: verified.samples_sha256.clone(),
    })
}

#[cfg(test)]
mod tests {
    use shotfarm_proto::pipeline::{Chunk, ChunkVerification};

    use super::*;

    fn encoded(verified: Option<ChunkVerification>) -> EncodedChunk {
        EncodedChunk { chunk: Chunk { index: 3, start_frame: 48, end_frame: 96, span_us: None }, artifact: Artifact { key: "chunks/a.mp4".to_owned(), bytes: 1 }, verified }
    }

    fn verification(first: &str, samples_sha256: &str) -> ChunkVerification {
        let print = Fingerprint::from_hex(&"00".repeat(144)).expect("a fingerprint in hex").to_hex();
        ChunkVerification { frames: 48, first_fingerprint: if first.is_empty() { print.clone() } else { first.to_owned() }, last_fingerprint: print, samples_sha256: samples_sha256.to_owned() }
    }

    /// A spec's chunk from an older agent, or with a damaged record, is a final error that says so.
    #[test]
    fn chunks_without_a_verification_or_its_digest_or_with_a_bad_fingerprint_are_refused() {
        for (what, chunk, says) in [
            ("no verification", encoded(None), "an older agent encoded it"),
            ("no digest", encoded(Some(verification("", ""))), "an older agent encoded it"),
            ("a bad fingerprint", encoded(Some(verification("zz", "ab"))), "unreadable fingerprint"),
        ] {
            let error = joined_chunk("720p", &chunk).expect_err(what);
            assert!(matches!(&error, TaskError::Final(message) if message.contains("chunk 3 of rung 720p") && message.contains(says)), "{what}: {error}");
        }
        let joined = joined_chunk("720p", &encoded(Some(verification("", "ab")))).expect("a whole record is taken");
        assert_eq!((joined.frames, joined.samples_sha256.as_str()), (FrameRange { start: 48, end: 96 }, "ab"));
    }
}

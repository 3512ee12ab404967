//! The assemble task: a rung's encoded chunks, checked to tile the source exactly (indices
//! 0..n in order, frames contiguous from 0 to the source's last), joined without re-encoding,
//! uploaded as `renditions/<rung>.a<attempt>.mp4`.

use shotfarm_proto::pipeline::{EncodedChunk, JobLocations, Rung, SourceSummary, TaskOutput};
use tokio_util::sync::CancellationToken;

use super::spec_checks::check_rung_name;
use super::work_area::WorkArea;
use super::{ProgressFn, TaskContext, TaskError, task_errors};
use crate::media::assemble::{AssembleParams, assemble_rendition};

/// Checks that `chunks` cover frames `[0, frames)` in order, without gap or overlap.
pub fn check_tiling(rung: &str, chunks: &[EncodedChunk], frames: u64) -> Result<(), TaskError> {
    let mut next_frame = 0;
    for (position, encoded) in chunks.iter().enumerate() {
        let chunk = &encoded.chunk;
        if chunk.index as usize != position || chunk.start_frame != next_frame || chunk.end_frame <= chunk.start_frame {
            return Err(TaskError::final_error(format!(
                "rung {rung}: chunk {} (frames {}..{}) is at position {position}; expected chunk {position} starting at frame {next_frame}: the encoded chunks do not tile the source",
                chunk.index, chunk.start_frame, chunk.end_frame
            )));
        }
        next_frame = chunk.end_frame;
    }
    if next_frame != frames {
        return Err(TaskError::final_error(format!(
            "rung {rung}: the {} encoded chunks cover frames 0..{next_frame}; the source has {frames}",
            chunks.len()
        )));
    }
    Ok(())
}

/// The chunks' spans when they keep the source's frame times (every chunk has one), or none.
fn chunk_spans(rung: &str, chunks: &[EncodedChunk]) -> Result<Vec<u64>, TaskError> {
    let spans: Vec<u64> = chunks.iter().filter_map(|encoded| encoded.chunk.span_us).collect();
    if !spans.is_empty() && spans.len() != chunks.len() {
        return Err(TaskError::final_error(format!(
            "rung {rung}: {} of {} chunks keep the source's frame times; the plan is inconsistent (every chunk of a source keeps them, or none)",
            spans.len(),
            chunks.len()
        )));
    }
    Ok(spans)
}

pub async fn run(
    locations: &JobLocations,
    source: &SourceSummary,
    rung: &Rung,
    chunks: &[EncodedChunk],
    ctx: &TaskContext,
    progress: &ProgressFn,
    cancel: &CancellationToken,
) -> Result<TaskOutput, TaskError> {
    check_rung_name(&rung.name)?;
    check_tiling(&rung.name, chunks, source.frames)?;
    let work_area = WorkArea::open(&locations.work_url)?;
    let directory = ctx.scratch_dir.join("assemble");
    let mut local_chunks = Vec::with_capacity(chunks.len());
    for encoded in chunks {
        if cancel.is_cancelled() {
            return Err(TaskError::Cancelled);
        }
        let local = directory.join(format!("{:05}.mp4", encoded.chunk.index));
        work_area.download(&encoded.artifact, &local).await?;
        local_chunks.push(local);
        progress(encoded.chunk.end_frame, source.frames, 0.0);
    }
    let output = directory.join(format!("{}.mp4", rung.name));
    let params = AssembleParams { rung: rung.name.clone(), chunks: local_chunks.clone(), output: output.clone(), spans_us: chunk_spans(&rung.name, chunks)? };
    let assembled = assemble_rendition(&params, cancel).await.map_err(task_errors::assemble)?;
    for local in &local_chunks {
        let _ = tokio::fs::remove_file(local).await;
    }
    if assembled.frames != source.frames {
        return Err(TaskError::retryable(format!(
            "rung {}: the assembled stream has {} frames; the source has {} (chunks may have been damaged in transfer)",
            rung.name, assembled.frames, source.frames
        )));
    }
    let key = WorkArea::rendition_key(&rung.name, ctx.attempt)?;
    let stream = work_area.upload(&output, &key).await?;
    let _ = tokio::fs::remove_file(&output).await;
    tracing::info!(task_id = ctx.task_id, attempt = ctx.attempt, rung = %rung.name, key = %stream.key, frames = assembled.frames, "rendition assembled and uploaded");
    Ok(TaskOutput::Assemble { rung: rung.name.clone(), stream, frames: assembled.frames })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shotfarm_proto::pipeline::{Artifact, Chunk};

    fn encoded(index: u32, start_frame: u64, end_frame: u64) -> EncodedChunk {
        EncodedChunk { chunk: Chunk { index, start_frame, end_frame, span_us: None }, artifact: Artifact { key: format!("chunks/r/{index:05}.a1.mp4"), bytes: 1 }, verified: None }
    }

    #[test]
    fn chunks_must_tile_the_source() {
        check_tiling("r", &[encoded(0, 0, 10), encoded(1, 10, 25)], 25).unwrap();
        let gap = check_tiling("r", &[encoded(0, 0, 10), encoded(1, 11, 25)], 25).unwrap_err();
        assert!(gap.is_final() && gap.to_string().contains("starting at frame 10"), "{gap}");
        assert!(check_tiling("r", &[encoded(1, 10, 25), encoded(0, 0, 10)], 25).is_err());
        assert!(check_tiling("r", &[encoded(0, 0, 10)], 25).unwrap_err().to_string().contains("cover frames 0..10"));
        assert!(check_tiling("r", &[], 25).is_err());
    }
}

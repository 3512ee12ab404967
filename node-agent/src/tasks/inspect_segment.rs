//! The inspect_segment task: one segment of a source cut by the inspect task decoded and
//! analysed ([`crate::media::inspect::decode_segment`]), its decode uploaded
//! (`inspection/segments/<index:05>.a<attempt>.json`) for the inspect task that joins them. A
//! decode that fails is uploaded as such: the join then decodes the source whole, which says
//! what is wrong with it.

use shotfarm_proto::pipeline::{JobLocations, SourceSegment, TaskOutput};
use tokio_util::sync::CancellationToken;

use super::job_cache::local_source;
use super::job_locations::check_locations;
use super::work_area::WorkArea;
use super::{TaskContext, TaskError, task_errors};
use crate::media::inspect::decode_segment;

pub async fn run(locations: &JobLocations, segment: SourceSegment, ctx: &TaskContext, cancel: &CancellationToken) -> Result<TaskOutput, TaskError> {
    check_locations(locations, &ctx.roots)?;
    let work_area = WorkArea::open(&locations.work_url)?;
    let source = local_source(&locations.input_url, ctx).await?;
    let decode = decode_segment(&source, segment, Default::default(), cancel).await.map_err(task_errors::inspect)?;
    let key = WorkArea::segment_key(segment.index, ctx.attempt)?;
    let piece = work_area.put_json(&decode, &key, &ctx.scratch_dir).await?;
    tracing::info!(task_id = ctx.task_id, attempt = ctx.attempt, segment = segment.index, key = %piece.key, "segment decoded");
    Ok(TaskOutput::InspectSegment { segment, piece })
}

//! The one place a task's `v1::Assignment` is built: for a fresh dispatch and for the
//! leases a node holds when its session (re)starts.

use shotfarm_proto::v1::{self, scheduler_message};

use crate::state::State;
use crate::state::model::{Task, format_job_id};

/// The message that gives `attempt` of `task` to an agent, with the lease's backend and GPU
/// and its job's trace context.
pub fn assignment(state: &State, task: &Task, attempt: u32) -> v1::SchedulerMessage {
    let lease = task.lease.as_ref();
    let trace_parent = state.jobs.get(&task.job).and_then(|job| job.trace_parent.as_deref());
    v1::SchedulerMessage {
        body: Some(scheduler_message::Body::Assignment(v1::Assignment {
            task: Some(v1::TaskRef { task_id: task.id, attempt }),
            job_id: format_job_id(task.job),
            kind: task.kind.as_str().to_owned(),
            spec_json: task.spec_json.clone().unwrap_or_default().into_bytes(),
            backend: lease.map(|lease| lease.backend.clone()).unwrap_or_default(),
            gpu_index: lease.and_then(|lease| lease.gpu).unwrap_or(0),
            traceparent: trace_parent.unwrap_or_default().to_owned(),
            ready_at_ms: task.queued_at_ms.unwrap_or(0),
        })),
    }
}

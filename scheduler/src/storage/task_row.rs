//! A task as its row stores it: every field but its spec and output, which are stored in
//! rows of their own ([`RowKey::TaskSpec`](crate::state::RowKey::TaskSpec),
//! [`RowKey::TaskOutput`](crate::state::RowKey::TaskOutput)).
//!
//! Why: a task's row is rewritten at every change of its state (created, queued, leased,
//! finished, dropped: five writes a task under `bench scheduler`), while its spec is set once
//! and its output once, and those two are most of its bytes. Under `bench scheduler` the
//! spec was 85 % and the output 7 % of the encoded task rows (292 MB of 200,000 rows, about
//! 1.25 KB of spec each), so every state change rewrote the spec with it.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use shotfarm_proto::pipeline::TaskKind;

use crate::state::model::{AttemptRecord, BackendOption, JobId, Lease, Millis, Task, TaskId, TaskState};

/// [`Task`] without `spec_json` and `output_json`: borrowed to encode, owned once decoded.
#[derive(Debug, Serialize, Deserialize)]
pub struct TaskRow<'a> {
    id: TaskId,
    job: JobId,
    kind: TaskKind,
    label: Cow<'a, str>,
    state: TaskState,
    chunk: Option<u32>,
    rung: Option<u32>,
    rung_count: u32,
    deps: Cow<'a, [TaskId]>,
    options: Cow<'a, [BackendOption]>,
    attempt: u32,
    failures: u32,
    lease: Option<Cow<'a, Lease>>,
    error: Option<Cow<'a, str>>,
    history: Cow<'a, [AttemptRecord]>,
    queued_at_ms: Option<Millis>,
}

impl<'a> TaskRow<'a> {
    /// The row of `task`. Every field is named, so a field added to [`Task`] must be placed
    /// here or among the rows of its own before this compiles.
    pub fn of(task: &'a Task) -> TaskRow<'a> {
        let Task {
            id,
            job,
            kind,
            label,
            state,
            chunk,
            rung,
            rung_count,
            deps,
            spec_json: _,
            options,
            attempt,
            failures,
            lease,
            output_json: _,
            error,
            history,
            queued_at_ms,
        } = task;
        TaskRow {
            id: *id,
            job: *job,
            kind: *kind,
            label: Cow::Borrowed(label),
            state: *state,
            chunk: *chunk,
            rung: *rung,
            rung_count: *rung_count,
            deps: Cow::Borrowed(deps),
            options: Cow::Borrowed(options),
            attempt: *attempt,
            failures: *failures,
            lease: lease.as_ref().map(Cow::Borrowed),
            error: error.as_deref().map(Cow::Borrowed),
            history: Cow::Borrowed(history),
            queued_at_ms: *queued_at_ms,
        }
    }

    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The task this row and its spec and output rows store.
    pub fn into_task(self, spec_json: Option<String>, output_json: Option<String>) -> Task {
        Task {
            id: self.id,
            job: self.job,
            kind: self.kind,
            label: self.label.into_owned(),
            state: self.state,
            chunk: self.chunk,
            rung: self.rung,
            rung_count: self.rung_count,
            deps: self.deps.into_owned(),
            spec_json,
            options: self.options.into_owned(),
            attempt: self.attempt,
            failures: self.failures,
            lease: self.lease.map(Cow::into_owned),
            output_json,
            error: self.error.map(Cow::into_owned),
            history: self.history.into_owned(),
            queued_at_ms: self.queued_at_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::model::Demand;

    #[test]
    fn a_task_comes_back_from_its_row_spec_and_output_and_the_row_holds_neither() {
        let demand = Demand { cpu_milli: 2000, memory_mb: 1024, ..Demand::default() };
        let task = Task {
            id: 7,
            job: 3,
            kind: TaskKind::Encode,
            label: "encode chunk 2 1080p".to_owned(),
            state: TaskState::Succeeded,
            chunk: Some(2),
            rung: Some(1),
            rung_count: 2,
            deps: vec![4, 5],
            spec_json: Some("{\"kind\":\"encode\",\"padding\":\"SPEC-BYTES\"}".to_owned()),
            options: vec![BackendOption { backend: "cpu".to_owned(), encoder: Some("libx264".to_owned()), demand }],
            attempt: 2,
            failures: 1,
            lease: Some(Lease { node: 9, attempt: 2, backend: "cpu".to_owned(), gpu: None, demand, assigned_at_ms: 100 }),
            output_json: Some("{\"kind\":\"encode\",\"padding\":\"OUTPUT-BYTES\"}".to_owned()),
            error: Some("exit 1".to_owned()),
            history: vec![AttemptRecord { attempt: 1, node: 9, backend: "cpu".to_owned(), started_at_ms: 10, finished_at_ms: 20, outcome: "exit 1".to_owned(), cpu_micros: None }],
            queued_at_ms: Some(5),
        };
        let bytes = postcard::to_allocvec(&TaskRow::of(&task)).expect("encodes");
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("SPEC-BYTES") && !text.contains("OUTPUT-BYTES"), "the row holds neither spec nor output");
        let row: TaskRow = postcard::from_bytes(&bytes).expect("decodes");
        assert_eq!(row.id(), 7);
        assert_eq!(row.into_task(task.spec_json.clone(), task.output_json.clone()), task);
    }
}

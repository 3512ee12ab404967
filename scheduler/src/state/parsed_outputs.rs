//! Succeeded tasks' outputs, parsed: a memo of their `output_json`. A dependent's spec is
//! built from its dependencies' outputs inside `apply`, on every replica — an encode's output
//! is read by its score, its rung's assemble and validate, and the job's report — and parsing
//! the JSON each time was the largest cost of applying a result (42 % of a follower's apply
//! thread under `bench scheduler`). An output is parsed once, when its result applies; a
//! state loaded from rows or a snapshot starts with none and parses on a miss.
//!
//! Derived, never persisted, and not part of equality: two states with the same rows are equal
//! whatever their memos hold.

use std::collections::BTreeMap;
use std::sync::Arc;

use shotfarm_proto::pipeline::TaskOutput;

use super::model::{Task, TaskId};

#[derive(Debug, Clone, Default)]
pub struct ParsedOutputs {
    outputs: BTreeMap<TaskId, Arc<TaskOutput>>,
}

impl PartialEq for ParsedOutputs {
    fn eq(&self, _: &ParsedOutputs) -> bool {
        true
    }
}

impl ParsedOutputs {
    pub fn remember(&mut self, task: TaskId, output: Arc<TaskOutput>) {
        self.outputs.insert(task, output);
    }

    pub fn forget(&mut self, task: TaskId) {
        self.outputs.remove(&task);
    }

    /// `task`'s output: the memo, or its `output_json` parsed.
    pub fn of(&self, task: &Task) -> Result<Arc<TaskOutput>, String> {
        if let Some(output) = self.outputs.get(&task.id) {
            return Ok(output.clone());
        }
        let json = task.output_json.as_deref().ok_or_else(|| format!("task {} has no output", task.id))?;
        serde_json::from_str(json).map(Arc::new).map_err(|err| format!("output of task {} is unreadable: {err}", task.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shotfarm_proto::pipeline::SourceSegment;

    use crate::state::model::TaskState;

    fn succeeded(id: TaskId, output_json: Option<String>) -> Task {
        Task { output_json, ..Task::for_tests(id, TaskState::Succeeded) }
    }

    #[test]
    fn a_memo_answers_as_the_json_does_and_a_miss_parses_it() {
        let segment = |index| SourceSegment { index, start: None, end_pts: None, frames: 3 };
        let output = TaskOutput::InspectSegments { segments: vec![segment(0), segment(1)] };
        let json = serde_json::to_string(&output).expect("encodes");
        let mut memo = ParsedOutputs::default();
        assert_eq!(*memo.of(&succeeded(9, Some(json))).expect("parses on a miss"), output);
        memo.remember(9, Arc::new(output.clone()));
        assert_eq!(*memo.of(&succeeded(9, None)).expect("remembered"), output);
        memo.forget(9);
        assert!(memo.of(&succeeded(9, None)).unwrap_err().contains("has no output"));
        assert!(memo.of(&succeeded(9, Some("{".to_owned()))).unwrap_err().contains("unreadable"));
    }
}

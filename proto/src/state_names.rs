//! The words for the API's states, as the CLI prints them and the dashboard shows them:
//! `JOB_STATE_SUCCEEDED` is "succeeded"; a value this build does not know is "unknown".

use crate::v1;

pub fn job_state(state: i32) -> &'static str {
    match v1::JobState::try_from(state) {
        Ok(v1::JobState::Pending) => "pending",
        Ok(v1::JobState::Running) => "running",
        Ok(v1::JobState::Succeeded) => "succeeded",
        Ok(v1::JobState::Failed) => "failed",
        Ok(v1::JobState::Cancelled) => "cancelled",
        Ok(v1::JobState::Unspecified) | Err(_) => "unknown",
    }
}

pub fn task_state(state: i32) -> &'static str {
    match v1::TaskState::try_from(state) {
        Ok(v1::TaskState::Blocked) => "blocked",
        Ok(v1::TaskState::Queued) => "queued",
        Ok(v1::TaskState::Running) => "running",
        Ok(v1::TaskState::Succeeded) => "succeeded",
        Ok(v1::TaskState::Failed) => "failed",
        Ok(v1::TaskState::Cancelled) => "cancelled",
        Ok(v1::TaskState::Unspecified) | Err(_) => "unknown",
    }
}

pub fn node_state(state: i32) -> &'static str {
    match v1::NodeState::try_from(state) {
        Ok(v1::NodeState::Ready) => "ready",
        Ok(v1::NodeState::Cordoned) => "cordoned",
        Ok(v1::NodeState::Draining) => "draining",
        Ok(v1::NodeState::Down) => "down",
        Ok(v1::NodeState::Unspecified) | Err(_) => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_as_words_and_an_unknown_one_as_unknown() {
        assert_eq!(job_state(v1::JobState::Succeeded.into()), "succeeded");
        assert_eq!(node_state(v1::NodeState::Draining.into()), "draining");
        assert_eq!(task_state(v1::TaskState::Blocked.into()), "blocked");
        assert_eq!(task_state(99), "unknown");
    }
}

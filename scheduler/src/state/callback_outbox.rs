//! A job's callback outbox: the events made on its state changes, kept in the replicated
//! state until the receiver has taken them, so a new leader goes on delivering where the old
//! one stopped. An event's body is made once, when its state change is applied, and never
//! changes: a resend after a leader change carries the same id and the same bytes, which is
//! what lets a receiver deduplicate by id.
//!
//! The delivery (POST, signature, backoff) is the leader's (`crate::callbacks`); what it
//! learns comes back as commands (`machine::callbacks`), so every replica knows what is
//! still owed, to whom, and how the last attempt went.

use serde::{Deserialize, Serialize};

use super::State;
use super::model::{JobId, Millis};

/// Refused attempts after which an event is given up (the backoff between attempts doubles
/// from 1 s to at most 5 min: the last attempt is about an hour after the first).
pub const CALLBACK_ATTEMPTS: u32 = 20;
const FIRST_RETRY_MS: Millis = 1_000;
const LONGEST_RETRY_MS: Millis = 300_000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackOutbox {
    /// Events made so far; the next one is numbered `events + 1`.
    pub events: u32,
    /// Undelivered events, oldest first: only the first is ever in flight.
    pub pending: Vec<CallbackEvent>,
    pub delivered: u32,
    pub given_up: u32,
    /// Refused attempts of the first pending event.
    pub failed_attempts: u32,
    pub last_error: Option<String>,
    /// When the first pending event may be tried again (leader's clock); 0: now.
    pub next_attempt_at_ms: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackEvent {
    pub sequence: u32,
    /// The JSON document POSTed, byte for byte the same on every attempt.
    pub body: String,
}

impl CallbackOutbox {
    /// The wait before the next attempt after `failed_attempts` refused ones.
    pub fn backoff_ms(failed_attempts: u32) -> Millis {
        let doublings = failed_attempts.saturating_sub(1).min(20);
        (FIRST_RETRY_MS << doublings).min(LONGEST_RETRY_MS)
    }
}

/// An event's id: the job and the event's number, unique in the farm for good.
pub fn event_id(job: &str, sequence: u32) -> String {
    format!("{job}.{sequence}")
}

impl State {
    /// Jobs with an undelivered callback event, by id (the leader's delivery reads these).
    pub fn jobs_with_pending_callbacks(&self) -> impl Iterator<Item = JobId> + '_ {
        self.callbacks_pending.iter().copied()
    }

    /// Keeps the pending-callbacks index in step with `job`'s outbox.
    pub(crate) fn note_callbacks(&mut self, job: JobId) {
        let pending = self.jobs.get(&job).is_some_and(|job| !job.callbacks.pending.is_empty());
        if pending {
            self.callbacks_pending.insert(job);
        } else {
            self.callbacks_pending.remove(&job);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_from_a_second_to_five_minutes() {
        let waits: Vec<Millis> = (1..=CALLBACK_ATTEMPTS).map(CallbackOutbox::backoff_ms).collect();
        assert_eq!(&waits[..4], &[1_000, 2_000, 4_000, 8_000]);
        assert_eq!(waits[CALLBACK_ATTEMPTS as usize - 1], LONGEST_RETRY_MS);
        let total_s: Millis = waits[..CALLBACK_ATTEMPTS as usize - 1].iter().sum::<Millis>() / 1000;
        assert!((3000..=4500).contains(&total_s), "the last attempt comes {total_s} s after the first");
    }
}

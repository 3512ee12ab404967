//! The leader's clock: wall time in milliseconds, proposed as data so that `apply` stays
//! free of clocks.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::state::model::Millis;

/// Milliseconds since the epoch: the leader's clock, proposed as data.
pub fn now_ms() -> Millis {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as Millis)
}

//! Completion callbacks: the farm POSTs a signed JSON event to a job's callback URL on each
//! of its state changes. The events themselves are replicated state (`state::callback_outbox`,
//! made by `machine::callbacks`); this module is what happens outside the state machine.
//!
//! | module | what |
//! | --- | --- |
//! | [`endpoints`] | the operator's allowed URL prefixes and their signing secrets; checking a job's URL |
//! | [`signature`] | `Shotfarm-Signature`: HMAC-SHA256 over the send time and the body; `verify` for receivers |
//! | [`delivery`] | the leader's loop: POST what is due, record taken or refused, at least once |

pub mod delivery;
pub mod endpoints;
pub mod signature;

pub use endpoints::{CallbackEndpoints, CallbackSecret};

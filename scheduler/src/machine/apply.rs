//! `apply(state, command)`: the only way the replicated state changes.
//!
//! Deterministic: the same state and command give the same new state, outcome and effects
//! on every replica. No clock (time is `now_ms` in the command), no randomness, no I/O, and
//! iteration only over ordered maps.

use super::command::{Command, Effect, Outcome};
use super::{callbacks, certificates, jobs, leases, nodes, recipes, retention, tokens};
use crate::state::{RowKey, State};

/// Applies one command. Returns its outcome for the proposer and the effects the leader must
/// carry out (dispatching assignments, cancelling attempts).
pub fn apply(state: &mut State, command: &Command) -> (Outcome, Vec<Effect>) {
    let mut effects = Vec::new();
    let outcome = match command {
        Command::SubmitJob { request_id, owner, spec, now_ms, trace_parent } => jobs::submit_job(state, request_id, owner, spec, *now_ms, trace_parent.as_deref()),
        Command::CancelJob { job, now_ms } => jobs::cancel_job(state, *job, *now_ms, &mut effects),
        Command::RegisterNode { name, capabilities, labels, held, now_ms } => {
            nodes::register_node(state, name, capabilities, labels, held, *now_ms, &mut effects)
        }
        Command::SetNodeState { node, state: wanted, .. } => nodes::set_node_state(state, *node, *wanted),
        Command::MarkNodeDown { node, now_ms } => nodes::mark_node_down(state, *node, *now_ms, &mut effects),
        Command::Assign { task, attempt, node, backend, gpu, now_ms } => {
            leases::assign(state, *task, *attempt, *node, backend, *gpu, *now_ms, &mut effects)
        }
        Command::CompleteTask { task, attempt, backend, output_json, now_ms, cpu_micros } => {
            leases::complete_task(state, *task, *attempt, backend, output_json, *cpu_micros, *now_ms, &mut effects)
        }
        Command::FailTask { task, attempt, error, retryable, now_ms } => {
            leases::fail_task(state, *task, *attempt, error, *retryable, *now_ms, &mut effects)
        }
        Command::ExpireLease { task, attempt, now_ms } => leases::expire_lease(state, *task, *attempt, *now_ms, &mut effects),
        Command::SetMemberAddr { id, addr } => {
            state.meta.members.insert(*id, addr.clone());
            state.mark(RowKey::Meta);
            Outcome::Applied
        }
        Command::RemoveMember { id } => {
            state.meta.members.remove(id);
            state.mark(RowKey::Meta);
            Outcome::Applied
        }
        Command::CreateToken { name, role, fingerprint, now_ms } => tokens::create_token(state, name, *role, fingerprint, *now_ms),
        Command::RevokeToken { name } => tokens::revoke_token(state, name),
        Command::RevokeCertificate { fingerprint, identity, now_ms } => {
            certificates::revoke_certificate(state, fingerprint, identity, *now_ms, &mut effects)
        }
        Command::SaveRecipe { name, settings, created_by, now_ms } => recipes::save_recipe(state, name, settings, created_by, *now_ms),
        Command::DeleteRecipe { name } => recipes::delete_recipe(state, name),
        Command::CallbackDelivered { job, sequence, .. } => callbacks::callback_delivered(state, *job, *sequence),
        Command::CallbackRefused { job, sequence, error, now_ms } => callbacks::callback_refused(state, *job, *sequence, error, *now_ms),
        Command::SetClusterId { cluster_id } => {
            state.meta.cluster_id = *cluster_id;
            state.mark(RowKey::Meta);
            Outcome::Applied
        }
    };
    retention::compact_finished_jobs(state);
    (outcome, effects)
}

//! Revoked certificates in the replicated state: refused by every replica's gate from the
//! moment the revocation applies. Revoking an agent's certificate also declares its node
//! down, so the session it holds ends and its leases go back to the queue.

use super::command::{Effect, Outcome};
use super::nodes;
use crate::state::model::{Millis, NodeState, RevokedCertificate};
use crate::state::{RowKey, State};

pub(super) fn revoke_certificate(state: &mut State, fingerprint: &str, identity: &str, now_ms: Millis, effects: &mut Vec<Effect>) -> Outcome {
    if state.meta.revoked_certificates.contains_key(fingerprint) {
        // Revoking twice changes nothing; the first revocation's time stays.
        return Outcome::Applied;
    }
    state.meta.revoked_certificates.insert(fingerprint.to_owned(), RevokedCertificate { identity: identity.to_owned(), revoked_at_ms: now_ms });
    state.mark(RowKey::Meta);
    let node = identity.strip_prefix("agent/").and_then(|name| state.node_by_name(name));
    if let Some(node) = node
        && state.nodes.get(&node).is_some_and(|found| found.state != NodeState::Down)
    {
        nodes::mark_node_down(state, node, now_ms, effects);
    }
    Outcome::Applied
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::nodes::tests::register;
    use crate::machine::{Command, apply};

    #[test]
    fn revoking_an_agents_certificate_declares_its_node_down_once() {
        let mut state = State::default();
        let node = register(&mut state, Vec::new(), 1);
        let revoke = Command::RevokeCertificate { fingerprint: "ab".repeat(32), identity: "agent/agent".to_owned(), now_ms: 9 };
        let (outcome, effects) = apply(&mut state, &revoke);
        assert_eq!(outcome, Outcome::Applied);
        assert_eq!(state.nodes[&node].state, NodeState::Down);
        assert!(effects.contains(&Effect::NodeDown { node }), "{effects:?}");
        assert_eq!(state.meta.revoked_certificates[&"ab".repeat(32)].revoked_at_ms, 9);

        let again = Command::RevokeCertificate { fingerprint: "ab".repeat(32), identity: "agent/agent".to_owned(), now_ms: 20 };
        let (outcome, effects) = apply(&mut state, &again);
        assert_eq!((outcome, effects.len()), (Outcome::Applied, 0));
        assert_eq!(state.meta.revoked_certificates[&"ab".repeat(32)].revoked_at_ms, 9);

        let operator = Command::RevokeCertificate { fingerprint: "cd".repeat(32), identity: String::new(), now_ms: 30 };
        assert_eq!(apply(&mut state, &operator).0, Outcome::Applied);
        assert_eq!(state.meta.revoked_certificates.len(), 2);
    }
}

//! Bearer tokens in the replicated state: created with a name, a role and the token's
//! fingerprint (the leader hashes the token it hands out; the log never carries the token),
//! revoked by name.

use super::command::{Outcome, Refusal};
use crate::state::model::{AccessToken, Millis, TokenRole};
use crate::state::{RowKey, State};

pub(super) fn create_token(state: &mut State, name: &str, role: TokenRole, fingerprint: &str, now_ms: Millis) -> Outcome {
    if state.meta.tokens.contains_key(name) {
        return Outcome::Refused(Refusal::TokenExists(name.to_owned()));
    }
    state.meta.tokens.insert(name.to_owned(), AccessToken { role, fingerprint: fingerprint.to_owned(), created_at_ms: now_ms });
    state.mark(RowKey::Meta);
    Outcome::Applied
}

pub(super) fn revoke_token(state: &mut State, name: &str) -> Outcome {
    if state.meta.tokens.remove(name).is_none() {
        return Outcome::Refused(Refusal::UnknownToken(name.to_owned()));
    }
    state.mark(RowKey::Meta);
    Outcome::Applied
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::{Command, apply};

    #[test]
    fn a_token_is_created_once_and_revoked_once() {
        let mut state = State::default();
        let create = Command::CreateToken { name: "ci".to_owned(), role: TokenRole::Submitter, fingerprint: "ab".repeat(32), now_ms: 5 };
        assert_eq!(apply(&mut state, &create).0, Outcome::Applied);
        assert_eq!(state.meta.tokens["ci"].created_at_ms, 5);
        assert_eq!(apply(&mut state, &create).0, Outcome::Refused(Refusal::TokenExists("ci".to_owned())));
        let revoke = Command::RevokeToken { name: "ci".to_owned() };
        assert_eq!(apply(&mut state, &revoke).0, Outcome::Applied);
        assert!(state.meta.tokens.is_empty());
        assert_eq!(apply(&mut state, &revoke).0, Outcome::Refused(Refusal::UnknownToken("ci".to_owned())));
    }
}

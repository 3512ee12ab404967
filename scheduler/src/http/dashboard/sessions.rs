//! The dashboard's sign-in sessions on this replica: a random id (the cookie) for the
//! operator token it was opened with, for 12 hours or until signed out. The browser never
//! holds the token itself, so the cookie is worth nothing to gRPC or to another replica, and
//! signing out ends it here. Each request still presents the token to the API's checks, so
//! revoking the token ends every session opened with it. Sessions live in memory: a restart
//! signs everyone out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::RngCore;

/// How long a session lasts.
pub const LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// Sessions held at most; a sign-in past it is refused until some expire.
const MAX_SESSIONS: usize = 4096;

#[derive(Default)]
pub struct Sessions {
    open: Mutex<HashMap<String, Session>>,
}

struct Session {
    token: String,
    expires: Instant,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").finish_non_exhaustive()
    }
}

impl Sessions {
    /// A new session for `token`: its id, or `None` when [`MAX_SESSIONS`] are open.
    pub fn open(&self, token: &str, now: Instant) -> Option<String> {
        let mut open = self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        open.retain(|_, session| session.expires > now);
        if open.len() >= MAX_SESSIONS {
            return None;
        }
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let id = hex::encode(bytes);
        open.insert(id.clone(), Session { token: token.to_owned(), expires: now + LIFETIME });
        Some(id)
    }

    /// The token of the live session `id`.
    pub fn token(&self, id: &str, now: Instant) -> Option<String> {
        let open = self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        open.get(id).filter(|session| session.expires > now).map(|session| session.token.clone())
    }

    /// Ends session `id` (nothing if there is none).
    pub fn close(&self, id: &str) {
        self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(id);
    }
}

/// Whether `id` looks like a session id (64 hex digits), before it is looked up.
pub fn well_formed(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|byte| byte.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_gives_its_token_until_it_expires_or_is_closed() {
        let sessions = Sessions::default();
        let now = Instant::now();
        let id = sessions.open("sft_token", now).unwrap();
        assert!(well_formed(&id));
        assert_ne!(sessions.open("sft_token", now).unwrap(), id, "each sign-in gets its own id");
        assert_eq!(sessions.token(&id, now + Duration::from_secs(60)).as_deref(), Some("sft_token"));
        assert_eq!(sessions.token(&id, now + LIFETIME), None);
        assert_eq!(sessions.token("0".repeat(64).as_str(), now), None);
        sessions.close(&id);
        assert_eq!(sessions.token(&id, now), None);
    }

    #[test]
    fn sign_ins_past_the_cap_wait_for_expiries() {
        let sessions = Sessions::default();
        let now = Instant::now();
        for _ in 0..MAX_SESSIONS {
            sessions.open("t", now).unwrap();
        }
        assert_eq!(sessions.open("t", now), None);
        assert!(sessions.open("t", now + LIFETIME).is_some(), "the expired ones make room");
    }
}

//! How a receiver knows an event is the farm's and fresh: every POST carries
//!
//! ```text
//! Shotfarm-Event-Id: job-7.3
//! Shotfarm-Signature: t=1765000000,v1=<hex HMAC-SHA256(secret, "1765000000." + body)>
//! ```
//!
//! `t` is when this attempt was sent (seconds since the epoch): a receiver recomputes the
//! HMAC over `t`, a dot and the raw body, compares in constant time, and refuses a `t` older
//! than its tolerance (a replayed capture). The event id is in the body too; a receiver
//! that keeps the ids it has handled drops the resends that at-least-once delivery makes
//! (an attempt whose answer was lost, a leader change between sending and recording).
//! [`verify`] does all of that for Rust receivers.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const EVENT_ID_HEADER: &str = "shotfarm-event-id";
pub const SIGNATURE_HEADER: &str = "shotfarm-signature";

type HmacSha256 = Hmac<Sha256>;

/// The `Shotfarm-Signature` value for `body` sent at `sent_at_s`.
pub fn sign(secret: &[u8], sent_at_s: u64, body: &[u8]) -> String {
    let mut mac = keyed(secret);
    mac.update(sent_at_s.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={sent_at_s},v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is not t=SECONDS,v1=HEX")]
    Malformed,
    #[error("the signature does not match the body (another secret, or a changed body)")]
    Mismatch,
    #[error("sent at {sent_at_s}, more than {tolerance_s} s from now ({now_s}): a replay, or a skewed clock")]
    Stale { sent_at_s: u64, now_s: u64, tolerance_s: u64 },
}

/// Checks a `Shotfarm-Signature` header against the raw body, at `now_s`.
pub fn verify(secret: &[u8], header: &str, body: &[u8], now_s: u64, tolerance_s: u64) -> Result<(), SignatureError> {
    let mut sent_at = None;
    let mut signature = None;
    for part in header.split(',').map(str::trim) {
        match part.split_once('=') {
            Some(("t", value)) => sent_at = value.parse::<u64>().ok(),
            Some(("v1", value)) => signature = hex::decode(value).ok(),
            _ => {}
        }
    }
    let (Some(sent_at_s), Some(signature)) = (sent_at, signature) else { return Err(SignatureError::Malformed) };
    let mut mac = keyed(secret);
    mac.update(sent_at_s.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&signature).map_err(|_| SignatureError::Mismatch)?;
    if now_s.abs_diff(sent_at_s) > tolerance_s {
        return Err(SignatureError::Stale { sent_at_s, now_s, tolerance_s });
    }
    Ok(())
}

fn keyed(secret: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length; this cannot fail.
    HmacSha256::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC accepts every key length"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_the_time_a_dot_and_the_body_with_hmac_sha256() {
        // RFC 4231 test case 2: the MAC itself.
        let mut mac = keyed(b"Jefe");
        mac.update(b"what do ya want for nothing?");
        assert_eq!(hex::encode(mac.finalize().into_bytes()), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        // The header: the same MAC over "t.body".
        let mut mac = keyed(b"Jefe");
        mac.update(b"7.what do ya want for nothing?");
        assert_eq!(sign(b"Jefe", 7, b"what do ya want for nothing?"), format!("t=7,v1={}", hex::encode(mac.finalize().into_bytes())));
    }

    #[test]
    fn a_receiver_accepts_the_farms_signature_and_nothing_else() {
        let body = br#"{"event_id":"job-1.1"}"#;
        let header = sign(b"sixteen-bytes-ok", 1_000, body);
        assert_eq!(verify(b"sixteen-bytes-ok", &header, body, 1_100, 300), Ok(()));
        assert_eq!(verify(b"another-secret!!", &header, body, 1_100, 300), Err(SignatureError::Mismatch));
        assert_eq!(verify(b"sixteen-bytes-ok", &header, br#"{"event_id":"job-1.2"}"#, 1_100, 300), Err(SignatureError::Mismatch));
        assert!(matches!(verify(b"sixteen-bytes-ok", &header, body, 2_000, 300), Err(SignatureError::Stale { .. })));
        let moved = header.replace("t=1000", "t=1900");
        assert_eq!(verify(b"sixteen-bytes-ok", &moved, body, 2_000, 300), Err(SignatureError::Mismatch), "the time is signed too");
        for bad in ["", "t=1000", "v1=00", "t=x,v1=00", "t=1000,v1=zz"] {
            assert_eq!(verify(b"sixteen-bytes-ok", bad, body, 1_000, 300), Err(SignatureError::Malformed), "{bad:?}");
        }
    }
}

//! Bearer tokens for clients without a certificate (`shotfarm tokens create`). A token is
//! shown once, when it is made; the farm stores only its SHA-256 fingerprint, so a copy of
//! the scheduler's data gives no one a working token.

use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use tonic::metadata::MetadataMap;

/// Every token starts with this, so that a leaked one is easy to spot in logs and scanners.
pub const PREFIX: &str = "sft_";
const SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the authorization header is not `Bearer TOKEN`")]
    NotBearer,
    #[error("the bearer token is not a shotfarm token (sft_ and 64 hex digits); make one with `shotfarm tokens create`")]
    Malformed,
}

/// A new random token: `sft_` and 64 hex digits (256 bits).
pub fn generate() -> String {
    let mut secret = [0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut secret);
    format!("{PREFIX}{}", hex::encode(secret))
}

/// Whether `token` has a token's shape (checked before it is hashed or sent).
pub fn well_formed(token: &str) -> bool {
    token.strip_prefix(PREFIX).is_some_and(|hex| hex.len() == SECRET_BYTES * 2 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// What the farm stores in place of the token.
pub fn fingerprint(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The bearer token a request carries, if any.
pub fn from_metadata(metadata: &MetadataMap) -> Result<Option<&str>, TokenError> {
    let Some(value) = metadata.get("authorization") else { return Ok(None) };
    from_authorization(value.to_str().map_err(|_| TokenError::NotBearer)?).map(Some)
}

/// The bearer token of an `authorization` header's value (gRPC metadata or HTTP).
pub fn from_authorization(text: &str) -> Result<&str, TokenError> {
    let token = text.strip_prefix("Bearer ").ok_or(TokenError::NotBearer)?.trim();
    if !well_formed(token) {
        return Err(TokenError::Malformed);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_well_formed_and_stored_as_fingerprints() {
        let (a, b) = (generate(), generate());
        assert_ne!(a, b);
        assert!(well_formed(&a));
        assert_eq!(fingerprint(&a).len(), 64);
        assert_ne!(fingerprint(&a), a);
        for bad in ["", "sft_", "sft_xyz", &a[..a.len() - 1], &a.replace("sft_", "tok_")] {
            assert!(!well_formed(bad), "{bad}");
        }
    }

    #[test]
    fn the_header_is_read_strictly() {
        let token = generate();
        let mut metadata = MetadataMap::new();
        assert_eq!(from_metadata(&metadata), Ok(None));
        metadata.insert("authorization", format!("Bearer {token}").parse().expect("ascii"));
        assert_eq!(from_metadata(&metadata), Ok(Some(token.as_str())));
        metadata.insert("authorization", format!("Basic {token}").parse().expect("ascii"));
        assert_eq!(from_metadata(&metadata), Err(TokenError::NotBearer));
        metadata.insert("authorization", "Bearer hunter2".parse().expect("ascii"));
        assert_eq!(from_metadata(&metadata), Err(TokenError::Malformed));
    }
}

//! The metadata a relayed call carries, and the leader's rule for believing it.

use shotfarm_security::{Identity, Role};
use tonic::metadata::MetadataMap;

use crate::service::status::ServiceError;

/// Marks a call a replica relayed (the value: that replica's id). A replica that receives
/// it and is not the leader answers "not the leader" rather than relaying again.
pub const FORWARDED_BY: &str = "x-shotfarm-forwarded-by";
/// The identity (`shotfarm://ROLE/NAME`) of a certificate caller, as the relaying replica
/// verified it. Believed only from a member replica's certificate.
pub const FORWARDED_CALLER: &str = "x-shotfarm-forwarded-caller";

/// Whether a replica relayed this call.
pub fn is_forwarded(metadata: &MetadataMap) -> bool {
    metadata.contains_key(FORWARDED_BY)
}

/// Who is calling, when a replica relayed the call for a certificate caller: `Ok(None)`
/// when the call names no forwarded caller. `peer` is the certificate the connection
/// presented (already verified against the farm CA and not revoked), `is_member` whether a
/// replica id is in the membership. Anyone else naming a caller is refused: the header would
/// otherwise let a submitter claim to be an operator.
pub fn forwarded_caller(metadata: &MetadataMap, peer: Option<&Identity>, is_member: impl Fn(u64) -> bool) -> Result<Option<Identity>, ServiceError> {
    let Some(claimed) = metadata.get(FORWARDED_CALLER) else {
        return Ok(None);
    };
    let relaying_replica = peer.and_then(Identity::replica_id).filter(|id| is_member(*id));
    if relaying_replica.is_none() {
        let who = peer.map_or_else(|| "a caller without a certificate".to_owned(), |identity| format!("{identity}, which is not a member replica"));
        let message = format!("{FORWARDED_CALLER} is accepted only from a member replica relaying a call; it came from {who}: drop the header and present your own certificate or token");
        // A replica removed while it still runs relays like any other: its callers are sent
        // on to the leader (marked), anyone else is plainly refused.
        let removed_replica = peer.and_then(Identity::replica_id).is_some();
        return Err(if removed_replica { ServiceError::RelayFromNonMember(message) } else { ServiceError::Forbidden(message) });
    }
    let uri = claimed.to_str().map_err(|_| ServiceError::Unauthenticated(format!("{FORWARDED_CALLER} is not text")))?;
    match Identity::from_uri(uri) {
        Some(Ok(identity)) if identity.role != Role::Replica => Ok(Some(identity)),
        Some(Ok(identity)) => Err(ServiceError::Forbidden(format!("{FORWARDED_CALLER} names {identity}; a replica relays only client calls"))),
        Some(Err(err)) => Err(ServiceError::Unauthenticated(format!("{FORWARDED_CALLER} {uri:?}: {err}"))),
        None => Err(ServiceError::Unauthenticated(format!("{FORWARDED_CALLER} {uri:?} is not a shotfarm:// identity"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_claim(claim: &str) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        metadata.insert(FORWARDED_CALLER, claim.parse().unwrap());
        metadata
    }

    fn identity(role: Role, name: &str) -> Identity {
        Identity::new(role, name).unwrap()
    }

    #[test]
    fn a_member_replica_may_name_the_caller() {
        let claimed = forwarded_caller(&with_claim("shotfarm://submitter/ann"), Some(&identity(Role::Replica, "2")), |id| id == 2);
        assert_eq!(claimed.unwrap(), Some(identity(Role::Submitter, "ann")));
        assert_eq!(forwarded_caller(&MetadataMap::new(), Some(&identity(Role::Submitter, "ann")), |_| true).unwrap(), None);
    }

    #[test]
    fn no_one_else_may() {
        let operator = with_claim("shotfarm://operator/root");
        let cases = [
            (Some(identity(Role::Submitter, "ann")), "submitter/ann, which is not a member replica"),
            (Some(identity(Role::Operator, "root")), "operator/root, which is not a member replica"),
            (Some(identity(Role::Replica, "9")), "replica/9, which is not a member replica"),
            (None, "a caller without a certificate"),
        ];
        for (peer, expected) in cases {
            let refused = forwarded_caller(&operator, peer.as_ref(), |id| id == 2).unwrap_err();
            let removed_replica = peer.as_ref().is_some_and(|peer| peer.replica_id().is_some());
            match &refused {
                // A replica that is no longer a member: refused, marked so that it sends its
                // caller on to the leader.
                ServiceError::RelayFromNonMember(why) if removed_replica => {
                    assert!(why.contains(expected), "{why}");
                    let status = tonic::Status::from(forwarded_caller(&operator, peer.as_ref(), |id| id == 2).unwrap_err());
                    assert_eq!((status.code(), status.metadata().contains_key(crate::service::status::RELAY_REFUSED)), (tonic::Code::PermissionDenied, true));
                }
                ServiceError::Forbidden(why) if !removed_replica => assert!(why.contains(expected), "{peer:?}: {why}"),
                other => panic!("{peer:?}: {other}"),
            }
        }
    }

    #[test]
    fn a_replica_does_not_relay_for_a_replica_or_a_malformed_name() {
        let replica = identity(Role::Replica, "2");
        assert!(matches!(forwarded_caller(&with_claim("shotfarm://replica/3"), Some(&replica), |_| true), Err(ServiceError::Forbidden(_))));
        assert!(matches!(forwarded_caller(&with_claim("operator/root"), Some(&replica), |_| true), Err(ServiceError::Unauthenticated(_))));
    }
}

//! `AdminService`'s token calls: the leader makes the token, the log carries only its
//! fingerprint, and the answer is the only place the token ever appears.

use shotfarm_proto::v1;
use shotfarm_security::{identity, token};
use tonic::Status;

use super::status::{invalid, unwanted};
use crate::machine::{Command, Outcome};
use crate::replica_node::DriverHandle;
use crate::replica_node::clock::now_ms;
use crate::state::model::TokenRole;

pub async fn create(driver: &DriverHandle, request: v1::CreateTokenRequest) -> Result<v1::CreateTokenResponse, Status> {
    if !identity::valid_name(&request.name) {
        return Err(invalid("name", format!("{:?}: token names are 1..=128 characters of letters, digits and - _ . : @", request.name)));
    }
    let role = match request.role.as_str() {
        "submitter" => TokenRole::Submitter,
        "operator" => TokenRole::Operator,
        other => return Err(invalid("role", format!("{other:?}: tokens are for submitter or operator (replicas and agents use certificates)"))),
    };
    driver.leader_only()?;
    let secret = token::generate();
    let command = Command::CreateToken { name: request.name.clone(), role, fingerprint: token::fingerprint(&secret), now_ms: now_ms() };
    match driver.propose_one(command).await? {
        Outcome::Applied => Ok(v1::CreateTokenResponse { name: request.name, role: role.role().as_str().to_owned(), token: secret }),
        other => Err(unwanted(other)),
    }
}

pub async fn list(driver: &DriverHandle) -> Result<v1::ListTokensResponse, Status> {
    driver.leader_only()?;
    let tokens = driver
        .read(|state| {
            state
                .meta
                .tokens
                .iter()
                .map(|(name, kept)| v1::TokenInfo { name: name.clone(), role: kept.role.role().as_str().to_owned(), created_at_ms: kept.created_at_ms })
                .collect()
        })
        .await?;
    Ok(v1::ListTokensResponse { tokens })
}

pub async fn revoke(driver: &DriverHandle, request: v1::RevokeTokenRequest) -> Result<v1::RevokeTokenResponse, Status> {
    driver.leader_only()?;
    match driver.propose_one(Command::RevokeToken { name: request.name }).await? {
        Outcome::Applied => Ok(v1::RevokeTokenResponse {}),
        other => Err(unwanted(other)),
    }
}

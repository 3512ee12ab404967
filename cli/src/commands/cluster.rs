//! `shotfarm cluster`: the scheduler group's members, roles, leader, term and indexes, and
//! membership changes (`add`, `remove`).

use shotfarm_proto::client::channel;
use shotfarm_proto::v1::admin_service_client::AdminServiceClient;
use shotfarm_proto::v1::{self, ClusterStatusRequest};
use shotfarm_security::Credentials;

use crate::client::scheduler::{SchedulerFlag, status_error};
use crate::exit::{CommandError, CommandResult};
use crate::runtime::block_on;

#[derive(Debug, clap::Args)]
pub struct ClusterArgs {
    #[command(flatten)]
    pub scheduler: SchedulerFlag,
    /// Print one JSON object instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub action: Option<ClusterAction>,
}

#[derive(Debug, clap::Subcommand)]
pub enum ClusterAction {
    /// Add a replica (start it first with `shotfarm scheduler --join`).
    Add {
        #[arg(long)]
        id: u64,
        #[arg(long)]
        addr: String,
    },
    /// Remove a replica.
    Remove {
        #[arg(long)]
        id: u64,
    },
}

/// What one replica says about itself.
async fn ask(addr: &str, credentials: &Credentials) -> Result<v1::ClusterStatusResponse, tonic::Status> {
    let mut client = AdminServiceClient::new(channel(addr, credentials)?);
    let call = client.cluster_status(ClusterStatusRequest {});
    match tokio::time::timeout(std::time::Duration::from_secs(2), call).await {
        Ok(answer) => answer.map(tonic::Response::into_inner),
        Err(_) => Err(tonic::Status::deadline_exceeded(format!("{addr} did not answer within 2 s"))),
    }
}

pub fn run(args: ClusterArgs) -> CommandResult {
    block_on(async move {
        let client = args.scheduler.client()?;
        if let Some(action) = args.action {
            let members = client
                .call(|channel| {
                    let action = &action;
                    async move {
                        let mut admin = AdminServiceClient::new(channel);
                        let response = match action {
                            ClusterAction::Add { id, addr } => admin.add_replica(v1::AddReplicaRequest { id: *id, addr: addr.clone() }).await?,
                            ClusterAction::Remove { id } => admin.remove_replica(v1::RemoveReplicaRequest { id: *id }).await?,
                        };
                        Ok(response.into_inner())
                    }
                })
                .await
                .map_err(status_error)?;
            for member in members.members {
                println!("{} {}", member.id, member.addr);
            }
            return Ok(());
        }
        // Every given replica, and every member any of them knows, speaks for itself.
        let mut reports = Vec::new();
        let mut addrs: Vec<String> = client.addrs().to_vec();
        let mut asked = std::collections::BTreeSet::new();
        while let Some(addr) = addrs.pop() {
            if !asked.insert(addr.clone()) {
                continue;
            }
            let report = match ask(&addr, client.credentials()).await {
                Ok(report) => Some(report),
                // The caller's own mistake (no or wrong credentials) is said as it is.
                Err(status) if matches!(status.code(), tonic::Code::Unauthenticated | tonic::Code::PermissionDenied) => {
                    return Err(status_error(status));
                }
                Err(_) => None,
            };
            if let Some(report) = &report {
                addrs.extend(report.members.iter().map(|member| member.addr.clone()));
            }
            reports.push((addr, report));
        }
        let answered: Vec<&v1::ClusterStatusResponse> = reports.iter().filter_map(|(_, report)| report.as_ref()).collect();
        if answered.is_empty() {
            return Err(CommandError::from(anyhow::anyhow!("no scheduler replica answered at {}", client.addrs().join(","))));
        }
        let newest = answered.iter().max_by_key(|report| (report.term, report.leader_id != 0)).copied();
        let leader_id = newest.map_or(0, |report| report.leader_id);
        let term = newest.map_or(0, |report| report.term);
        let mut members: Vec<serde_json::Value> = Vec::new();
        let known: std::collections::BTreeMap<u64, String> = answered.iter().flat_map(|report| report.members.iter().map(|member| (member.id, member.addr.clone()))).collect();
        for (id, addr) in &known {
            let own = answered.iter().find(|report| report.id == *id);
            members.push(serde_json::json!({
                "id": id,
                "addr": addr,
                "role": own.map_or("unreachable", |report| report.role.as_str()),
                "term": own.map(|report| report.term),
                "commit_index": own.map(|report| report.commit_index),
                "applied_index": own.map(|report| report.applied_index),
                "snapshot_index": own.map(|report| report.snapshot_index),
            }));
        }
        if args.json {
            let summary = serde_json::json!({ "leader_id": leader_id, "term": term, "members": members });
            println!("{summary}");
        } else {
            println!("leader {leader_id}  term {term}");
            println!("{:<4} {:<22} {:<14} {:>8} {:>10} {:>10}", "ID", "ADDRESS", "ROLE", "TERM", "COMMIT", "APPLIED");
            for member in &members {
                let number = |key: &str| member[key].as_u64().map_or("-".to_owned(), |value| value.to_string());
                println!(
                    "{:<4} {:<22} {:<14} {:>8} {:>10} {:>10}",
                    member["id"], member["addr"].as_str().unwrap_or(""), member["role"].as_str().unwrap_or(""),
                    number("term"), number("commit_index"), number("applied_index")
                );
            }
        }
        Ok(())
    })
}

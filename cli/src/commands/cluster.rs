//! `shotfarm cluster`: the scheduler group's members (voters and learners), roles, leader,
//! term and indexes; membership changes (`add`, `remove`); and offline disaster recovery of a
//! stopped replica's data directory (`recover --force-new-cluster`).

use std::path::PathBuf;

use shotfarm_proto::client::channel;
use shotfarm_proto::v1::admin_service_client::AdminServiceClient;
use shotfarm_proto::v1::{self, ClusterStatusRequest};
use shotfarm_scheduler::recovery::RecoveryError;
use shotfarm_security::Credentials;

use crate::client::scheduler::{SchedulerFlag, status_error};
use crate::exit::{CommandError, CommandResult};
use crate::runtime::block_on;
use crate::stdout::outln;

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
    /// Add a replica (start it first with `shotfarm scheduler --join`): it joins as a
    /// learner, and the leader makes it a voter once it has caught up.
    Add {
        #[arg(long)]
        id: u64,
        #[arg(long)]
        addr: String,
    },
    /// Remove a replica (a voter, or a learner still catching up).
    Remove {
        #[arg(long)]
        id: u64,
    },
    /// After a quorum is lost for good: rewrite a stopped replica's data directory into a
    /// one-replica group (committed jobs and nodes kept), then start it and add the others
    /// back with `shotfarm cluster add`.
    Recover {
        /// The data directory of a surviving replica; the replica must be stopped.
        #[arg(long)]
        data_dir: PathBuf,
        /// Confirms that the other replicas are gone for good (etcd's flag of the same name).
        #[arg(long)]
        force_new_cluster: bool,
    },
}

/// `cluster recover`: offline, no scheduler asked.
fn recover(data_dir: &std::path::Path, force_new_cluster: bool) -> CommandResult {
    if !force_new_cluster {
        return Err(CommandError::usage(anyhow::anyhow!(
            "recover rewrites the membership of {}: pass --force-new-cluster once the other replicas are gone for good",
            data_dir.display()
        )));
    }
    let rebuilt = shotfarm_scheduler::recovery::force_new_cluster(data_dir).map_err(|err| match err {
        RecoveryError::Usage(_) => CommandError::usage(err),
        RecoveryError::Failed(_) => CommandError::from(anyhow::Error::from(err)),
    })?;
    outln!(
        "replica {} at {} is now the only voter of cluster {:016x} (was {:016x}); state kept up to index {} (term {}): {} jobs, {} nodes",
        rebuilt.id, rebuilt.addr, rebuilt.cluster_id, rebuilt.old_cluster_id, rebuilt.index, rebuilt.term, rebuilt.jobs, rebuilt.nodes
    );
    if !rebuilt.removed.is_empty() {
        outln!("removed from the membership: {:?}; add replicas back with `shotfarm cluster add` once it runs", rebuilt.removed);
    }
    outln!(
        "start it with itself as its only peer: `shotfarm scheduler --id {id} --data-dir {} --peers {id}={}` (and its usual --listen)",
        data_dir.display(),
        rebuilt.addr,
        id = rebuilt.id
    );
    Ok(())
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
    if let Some(ClusterAction::Recover { data_dir, force_new_cluster }) = &args.action {
        return recover(data_dir, *force_new_cluster);
    }
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
                            ClusterAction::Recover { .. } => return Err(tonic::Status::internal("recover runs offline")),
                        };
                        Ok(response.into_inner())
                    }
                })
                .await
                .map_err(status_error)?;
            for member in members.members {
                outln!("{} {} {}", member.id, member.addr, member.membership);
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
        let cluster_id = newest.map_or(0, |report| report.cluster_id);
        let mut members: Vec<serde_json::Value> = Vec::new();
        // The leader's report knows every member's progress; any report knows its membership.
        let leader_report = answered.iter().find(|report| report.role == "leader" && report.id == leader_id);
        let known: std::collections::BTreeMap<u64, &v1::Member> =
            answered.iter().chain(leader_report).flat_map(|report| report.members.iter().map(|member| (member.id, member))).collect();
        for (id, member) in &known {
            let own = answered.iter().find(|report| report.id == *id);
            members.push(serde_json::json!({
                "id": id,
                "addr": member.addr,
                "membership": member.membership,
                "matched_index": leader_report.map(|_| member.matched_index),
                "cluster_id": own.map(|report| format!("{:016x}", report.cluster_id)),
                "role": own.map_or("unreachable", |report| report.role.as_str()),
                "term": own.map(|report| report.term),
                "commit_index": own.map(|report| report.commit_index),
                "applied_index": own.map(|report| report.applied_index),
                "snapshot_index": own.map(|report| report.snapshot_index),
            }));
        }
        // Replicas of one group share one id; another id means disagreeing --peers.
        let other_clusters: Vec<u64> = answered.iter().filter(|report| report.cluster_id != 0 && report.cluster_id != cluster_id).map(|report| report.id).collect();
        let last_index = leader_report.map(|report| report.last_index);
        if args.json {
            let summary = serde_json::json!({
                "leader_id": leader_id, "term": term, "cluster_id": format!("{cluster_id:016x}"), "last_index": last_index,
                "members": members, "other_clusters": other_clusters,
            });
            outln!("{summary}");
        } else {
            outln!("leader {leader_id}  term {term}  cluster {cluster_id:016x}");
            outln!("{:<4} {:<22} {:<8} {:<14} {:>8} {:>10} {:>10} {:>10}", "ID", "ADDRESS", "MEMBER", "ROLE", "TERM", "COMMIT", "APPLIED", "MATCHED");
            for member in &members {
                let number = |key: &str| member[key].as_u64().map_or("-".to_owned(), |value| value.to_string());
                outln!(
                    "{:<4} {:<22} {:<8} {:<14} {:>8} {:>10} {:>10} {:>10}",
                    member["id"].as_u64().unwrap_or(0), member["addr"].as_str().unwrap_or(""), member["membership"].as_str().unwrap_or(""),
                    member["role"].as_str().unwrap_or(""), number("term"), number("commit_index"), number("applied_index"), number("matched_index")
                );
            }
            if !other_clusters.is_empty() {
                eprintln!("warning: replicas {other_clusters:?} belong to another cluster than {cluster_id:016x}: their --peers disagree");
            }
        }
        Ok(())
    })
}

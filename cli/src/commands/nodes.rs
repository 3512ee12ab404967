//! `shotfarm nodes`, and `cordon`, `drain`, `uncordon NODE`: the farm's agents and their
//! lifecycle.

use shotfarm_proto::v1::admin_service_client::AdminServiceClient;
use shotfarm_proto::state_names::node_state as state_name;
use shotfarm_proto::v1::{self, ListNodesRequest, NodeRequest};

use crate::client::scheduler::{SchedulerFlag, status_error};
use crate::exit::CommandResult;
use crate::runtime::block_on;
use crate::stdout::outln;

#[derive(Debug, clap::Args)]
pub struct NodesArgs {
    #[command(flatten)]
    pub scheduler: SchedulerFlag,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct NodeArgs {
    #[command(flatten)]
    pub scheduler: SchedulerFlag,
    /// Node id or name.
    pub node: String,
}

#[derive(Debug, Clone, Copy)]
pub enum Lifecycle {
    Cordon,
    Drain,
    Uncordon,
}


fn node_json(node: &v1::Node) -> serde_json::Value {
    let caps = node.capabilities.clone().unwrap_or_default();
    serde_json::json!({
        "node_id": node.node_id,
        "name": node.name,
        "state": state_name(node.state),
        "running_tasks": node.running_tasks,
        "cpu_used": node.cpu_used,
        "memory_used": node.memory_used,
        "cpu_cores": caps.cpu_cores,
        "memory_bytes": caps.memory_bytes,
        "backends": caps.backends,
        "encoders": caps.encoders,
        "gpus": caps.gpus.iter().map(|gpu| serde_json::json!({
            "index": gpu.index, "name": gpu.name, "memory_bytes": gpu.memory_bytes,
            "multiprocessors": gpu.multiprocessors, "nvenc_sessions": gpu.nvenc_sessions, "cuda": gpu.cuda,
        })).collect::<Vec<_>>(),
        "labels": node.labels,
        "last_heartbeat_ms": node.last_heartbeat_ms,
        "connected": node.connected,
    })
}

pub fn list(args: NodesArgs) -> CommandResult {
    block_on(async move {
        let client = args.scheduler.client()?;
        let nodes = client
            .call(|channel| async move { Ok(AdminServiceClient::new(channel).list_nodes(ListNodesRequest {}).await?.into_inner()) })
            .await
            .map_err(status_error)?;
        if args.json {
            outln!("{}", serde_json::Value::Array(nodes.nodes.iter().map(node_json).collect()));
            return Ok(());
        }
        outln!("{:<5} {:<24} {:<9} {:<5} {:>7} {:>5} {:>5} {:<16} GPUS", "ID", "NAME", "STATE", "AGENT", "RUNNING", "CPU", "MEM", "BACKENDS");
        for node in &nodes.nodes {
            let caps = node.capabilities.clone().unwrap_or_default();
            let gpus: Vec<String> = caps.gpus.iter().map(|gpu| format!("{} ({} MiB, nvenc {})", gpu.name, gpu.memory_bytes >> 20, gpu.nvenc_sessions)).collect();
            outln!(
                "{:<5} {:<24} {:<9} {:<5} {:>7} {:>4.0}% {:>4.0}% {:<16} {}",
                node.node_id,
                node.name,
                state_name(node.state),
                // Whether the agent holds its session with the leader: only then does it get work.
                if node.connected { "on" } else { "away" },
                node.running_tasks,
                node.cpu_used * 100.0,
                node.memory_used * 100.0,
                caps.backends.join(","),
                if gpus.is_empty() { "-".to_owned() } else { gpus.join("; ") }
            );
        }
        Ok(())
    })
}

pub fn change(args: NodeArgs, lifecycle: Lifecycle) -> CommandResult {
    block_on(async move {
        let client = args.scheduler.client()?;
        let node = client
            .call(|channel| {
                let request = NodeRequest { node: args.node.clone() };
                async move {
                    let mut admin = AdminServiceClient::new(channel);
                    let response = match lifecycle {
                        Lifecycle::Cordon => admin.cordon_node(request).await?,
                        Lifecycle::Drain => admin.drain_node(request).await?,
                        Lifecycle::Uncordon => admin.uncordon_node(request).await?,
                    };
                    Ok(response.into_inner())
                }
            })
            .await
            .map_err(status_error)?;
        outln!("node {} ({}) is {}", node.node_id, node.name, state_name(node.state));
        Ok(())
    })
}

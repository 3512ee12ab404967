//! The multi-process tier: real `shotfarm scheduler` processes (and a swarm of simulated
//! agents) on loopback. One test binary; scenario files numbered by area. Needs the
//! `shotfarm` binary built first (`cargo build -p shotfarm`), or `SHOTFARM_BIN`.

#[path = "../../node-agent/tests/common/browser.rs"]
mod browser;
#[path = "cluster/held_task.rs"]
mod held_task;
#[path = "cluster/support.rs"]
mod support;
#[path = "cluster/t10_bootstrap.rs"]
mod t10_bootstrap;
#[path = "cluster/t20_leader_failover.rs"]
mod t20_leader_failover;
#[path = "cluster/t25_any_replica.rs"]
mod t25_any_replica;
#[path = "cluster/t27_python_client.rs"]
mod t27_python_client;
#[path = "cluster/t30_agents.rs"]
mod t30_agents;
#[path = "cluster/t35_agent_faults.rs"]
mod t35_agent_faults;
#[path = "cluster/t38_content_ladders.rs"]
mod t38_content_ladders;
#[path = "cluster/t40_restart_all.rs"]
mod t40_restart_all;
#[path = "cluster/t50_command_line.rs"]
mod t50_command_line;
#[path = "cluster/t52_job_report.rs"]
mod t52_job_report;
#[path = "cluster/t55_bench_scheduler.rs"]
mod t55_bench_scheduler;
#[path = "cluster/t56_recipes.rs"]
mod t56_recipes;
#[path = "cluster/t57_vmaf_simd.rs"]
mod t57_vmaf_simd;
#[path = "cluster/t58_s3_storage.rs"]
mod t58_s3_storage;
#[path = "cluster/t59_callbacks.rs"]
mod t59_callbacks;
#[path = "cluster/t60_membership.rs"]
mod t60_membership;
#[path = "cluster/t65_operations_during_jobs.rs"]
mod t65_operations_during_jobs;
#[path = "cluster/t70_partitions.rs"]
mod t70_partitions;
#[path = "cluster/t80_failpoints.rs"]
mod t80_failpoints;
#[path = "cluster/t90_fault_schedules.rs"]
mod t90_fault_schedules;
#[path = "cluster/t95_authentication.rs"]
mod t95_authentication;
#[path = "cluster/t95_security.rs"]
mod t95_security;
#[path = "cluster/t97_metrics.rs"]
mod t97_metrics;
#[path = "cluster/t97_traces.rs"]
mod t97_traces;
#[path = "cluster/t98_dashboard.rs"]
mod t98_dashboard;
#[path = "cluster/t99_packaging.rs"]
mod t99_packaging;

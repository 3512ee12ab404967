//! Why this replica ends a stream it serves (an agent's session, a job watch): the service
//! turns each into its status through the one error → status table.

/// The end of a served stream, told to the other side so that it knows what to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StreamEnd {
    /// The node missed its heartbeats and was declared down: its agent registers again.
    #[error("this node was declared down (no heartbeat in time); register again")]
    NodeDown,
    /// Another replica leads now: the agent reconnects to it.
    #[error("this scheduler replica is no longer the leader; reconnect to the new one")]
    LeadershipLost,
    #[error("the scheduler replica is shutting down")]
    ShuttingDown,
}

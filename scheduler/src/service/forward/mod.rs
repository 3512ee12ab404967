//! Any replica answers any call: a follower relays leader-only `JobService`,
//! `AdminService` and `RecipeService` calls to the leader over the replicas' own channel (TLS with its replica
//! certificate) and returns the leader's answer unchanged. Raft peer calls and agent
//! sessions are never relayed (agents follow the `x-shotfarm-leader-addr` hint).
//!
//! The follower authenticates the caller first, as the leader would. A bearer token travels
//! as it came (the leader checks it against its own token table); a certificate caller is
//! named in [`headers::FORWARDED_CALLER`], which the leader believes only from a member
//! replica's certificate ([`headers::forwarded_caller`]). A relayed call carries
//! [`headers::FORWARDED_BY`]: a replica that gets one and is not the leader answers "not the
//! leader" with the hint instead of relaying again, so calls never loop.
//!
//! | module | what |
//! | --- | --- |
//! | [`headers`] | the forwarding metadata: marker, caller identity, and the leader's check of them |
//! | [`deadline`] | the caller's `grpc-timeout`, bounded, for the relayed call |
//! | [`front`] | a service's front door: answered here, or the caller admitted and the call relayed |
//! | [`leader_link`] | where a call goes (here or the leader) and the cached channel to the leader |
//! | [`relayed_request`] | the request as relayed: the caller's metadata, the marker, the identity, the deadline; the leader's answer back |
//! | [`watch_relay`] | `WatchJob` relayed as a stream, ended with a retryable status when the leader changes |
//! | [`jobs`] | `JobService` in front of the local one |
//! | [`admin`] | `AdminService` in front of the local one |
//! | [`recipes`] | `RecipeService` in front of the local one |

pub mod admin;
pub mod deadline;
pub mod front;
pub mod headers;
pub mod jobs;
pub mod leader_link;
pub mod recipes;
pub mod relayed_request;
pub mod watch_relay;

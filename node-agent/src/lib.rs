//! `shotfarm-agent`: the hands of the farm.
//!
//! | module | what |
//! | --- | --- |
//! | [`runtime`] | probe, register, session to the leader, slots, journal: the agent process |
//! | [`tasks`] | one handler per task kind: spec in → media stage → artifact out |
//! | [`media`] | every media stage on local files (ffmpeg, fingerprints, packaging) |
//! | [`metrics`] | the agent's Prometheus registry, process-wide counters, and its `/metrics` listener |
//! | [`storage`] | object-store access by URL, with keys that cannot escape their root |

pub mod media;
pub mod metrics;
pub mod runtime;
pub mod storage;
pub mod tasks;

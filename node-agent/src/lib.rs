//! `shotfarm-agent`: the hands of the farm.
//!
//! | module | what |
//! | --- | --- |
//! | [`runtime`] | probe, register, session to the leader, slots, journal: the agent process |
//! | [`tasks`] | one handler per task kind: spec in → media stage → artifact out |
//! | [`media`] | every media stage on local files (ffmpeg, fingerprints, packaging) |
//! | [`storage`] | object-store access by URL, with keys that cannot escape their root |

pub mod media;
pub mod runtime;
pub mod storage;
pub mod tasks;

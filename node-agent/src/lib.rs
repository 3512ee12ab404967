//! The node agent.

pub mod media;
pub mod storage;

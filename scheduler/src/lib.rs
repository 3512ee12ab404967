//! The replicated scheduler.

//! What the client subcommands (`submit`, `jobs`, `status`, `watch`, `cancel`, `nodes`,
//! `cluster`, and `dev`'s in-process farm) share.
//!
//! | module | what |
//! | --- | --- |
//! | [`scheduler`] | the `--scheduler` flag, a leader-following client, gRPC statuses → exit codes |
//! | [`job_options`] | the job options `submit` and `dev` share |
//! | [`recipe_flags`] | the ladder recipe's flags (part of the job options) |
//! | [`job_view`] | one job as a line or as JSON |
//! | [`recipe_file`] | a saved recipe's settings as a TOML or JSON file (`recipes create --from-file`, `recipes show`) |

pub mod job_options;
pub mod job_view;
pub mod recipe_file;
pub mod recipe_flags;
pub mod scheduler;

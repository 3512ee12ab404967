//! `shotfarm submit`: send a job to the farm (idempotently), optionally wait for it.

use std::path::Path;

use rand::Rng;
use shotfarm_proto::storage::StorageUrl;
use shotfarm_proto::v1::{self, SubmitJobRequest};

use crate::client::job_options::JobOptions;
use crate::client::job_view;
use crate::client::scheduler::SchedulerFlag;
use super::watch::follow;
use crate::exit::{CommandError, CommandResult};
use crate::runtime::block_on;
use crate::stdout::outln;

#[derive(Debug, clap::Args)]
pub struct SubmitArgs {
    #[command(flatten)]
    pub scheduler: SchedulerFlag,
    /// The source: file:///abs/path, s3://bucket/key, or a local path.
    pub input: String,
    /// Where outputs go: file:///abs/dir, s3://bucket/prefix, or a local directory.
    #[arg(long)]
    pub out: String,
    /// Higher runs first (-100..=100).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub priority: i32,
    #[command(flatten)]
    pub options: JobOptions,
    /// Start from a saved recipe (`shotfarm recipes list`), its latest version unless
    /// @VERSION is given; the other flags given here are laid over its settings.
    #[arg(long, value_name = "NAME[@VERSION]", value_parser = parse_recipe)]
    pub recipe: Option<(String, u32)>,
    /// POST a signed JSON event here on each of the job's state changes (pending, running,
    /// and its end, with outputs and quality). It must lie under one of the farm's callback
    /// endpoints; `shotfarm status JOB` shows the deliveries.
    #[arg(long, value_name = "URL")]
    pub callback_url: Option<String>,
    /// Reuse to make a retried submission idempotent; random by default.
    #[arg(long)]
    pub request_id: Option<String>,
    /// Wait until the job finishes; exit 1 unless it succeeded.
    #[arg(long)]
    pub wait: bool,
    #[arg(long)]
    pub json: bool,
}

/// `NAME` (version 0: the latest) or `NAME@VERSION`.
fn parse_recipe(text: &str) -> Result<(String, u32), String> {
    match text.rsplit_once('@') {
        None => Ok((text.to_owned(), 0)),
        Some((name, version)) => match version.parse::<u32>() {
            Ok(version) if version > 0 => Ok((name.to_owned(), version)),
            _ => Err(format!("{text:?}: the version after @ is a number from 1 (`shotfarm recipes show {name}` shows the latest)")),
        },
    }
}

/// A local path becomes an absolute file:// URL; URLs pass through for the server to check.
pub fn to_url(text: &str, what: &str) -> Result<String, CommandError> {
    if text.contains("://") {
        return Ok(text.to_owned());
    }
    let path = Path::new(text);
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map_err(|err| CommandError::usage(anyhow::anyhow!("{what}: cannot resolve {text:?}: {err}")))?.join(path)
    };
    StorageUrl::from_local_path(&absolute).map(|url| url.to_string()).map_err(|err| CommandError::usage(anyhow::anyhow!("{what}: {} {err}", absolute.display())))
}

pub fn run(args: SubmitArgs) -> CommandResult {
    let input_url = to_url(&args.input, "INPUT")?;
    let output_url = to_url(&args.out, "--out")?;
    let request_id = args.request_id.clone().unwrap_or_else(|| format!("cli-{:016x}", rand::rng().random::<u64>()));
    block_on(async move {
        let client = args.scheduler.client()?;
        let (recipe, recipe_version) = args.recipe.clone().unwrap_or_default();
        let request = SubmitJobRequest {
            request_id,
            spec: Some(v1::JobSpec {
                priority: args.priority,
                callback_url: args.callback_url.clone().unwrap_or_default(),
                ..args.options.spec(input_url, output_url)
            }),
            recipe,
            recipe_version,
        };
        let submitted = crate::client::scheduler::submit_job(&client, request).await?;
        if !args.wait {
            if args.json {
                outln!("{}", serde_json::json!({ "job_id": submitted.job_id, "created": submitted.created }));
            } else {
                outln!("{}", submitted.job_id);
            }
            return Ok(());
        }
        let job = follow(&client, &submitted.job_id, !args.json).await?;
        if args.json {
            outln!("{}", job_view::json(&job));
        } else {
            outln!("{}", job_view::line(&job));
        }
        match job_view::state_name(job.state) {
            "succeeded" => Ok(()),
            _ => Err(job_view::unsuccessful(&job)),
        }
    })
}

//! `shotfarm recipes create|list|show|delete`: named, versioned job recipes kept by the farm.
//! Operators create and delete; submitters and operators list and show them, and submit jobs
//! with `shotfarm submit --recipe NAME[@VERSION]`.

use std::path::PathBuf;

use shotfarm_proto::client::{FarmChannel, LeaderClient};
use shotfarm_proto::spec_overlay::overlay;
use shotfarm_proto::v1::recipe_service_client::RecipeServiceClient;
use shotfarm_proto::v1::{self, CreateRecipeRequest, DeleteRecipeRequest, GetRecipeRequest, ListRecipesRequest};

use crate::client::job_options::JobOptions;
use crate::client::recipe_file::RecipeFile;
use crate::client::scheduler::{SchedulerFlag, status_error};
use crate::exit::{CommandError, CommandResult};
use crate::runtime::block_on;
use crate::stdout::outln;

#[derive(Debug, clap::Args)]
pub struct RecipesArgs {
    #[command(flatten)]
    pub scheduler: SchedulerFlag,
    #[command(subcommand)]
    pub action: RecipesAction,
}

#[derive(Debug, clap::Subcommand)]
#[expect(clippy::large_enum_variant, reason = "parsed once per run: the job flags of `create` are not worth a box")]
pub enum RecipesAction {
    /// Save the next version of a recipe (version 1 for a new name): the settings of
    /// --from-file (TOML, or JSON for a .json file), with the job flags given laid over them.
    Create {
        name: String,
        #[arg(long, value_name = "FILE")]
        from_file: Option<PathBuf>,
        /// Higher runs first (-100..=100).
        #[arg(long, allow_negative_numbers = true)]
        priority: Option<i32>,
        #[command(flatten)]
        options: JobOptions,
    },
    /// Every recipe, with its latest version.
    List {
        #[arg(long)]
        json: bool,
    },
    /// A recipe's settings as a recipe file (the latest version unless --version).
    Show {
        name: String,
        #[arg(long)]
        version: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// Remove a recipe: jobs that used it keep their record; a later create of the name
    /// continues its version numbers.
    Delete { name: String },
}

fn settings(from_file: Option<PathBuf>, priority: Option<i32>, options: &JobOptions) -> Result<v1::JobSpec, CommandError> {
    let file = match from_file {
        Some(path) => RecipeFile::read(&path).and_then(|file| file.to_wire()).map_err(|error| CommandError::usage(anyhow::anyhow!("--from-file: {error}")))?,
        None => v1::JobSpec::default(),
    };
    let flags = v1::JobSpec { priority: priority.unwrap_or(0), ..options.spec(String::new(), String::new()) };
    overlay(&file, &flags).map_err(|error| CommandError::from(anyhow::anyhow!("laying the flags over the file: {error}")))
}

/// `rpc` with `request` on the leader's `RecipeService`, following the leader.
async fn on_leader<Request: Clone, Reply>(
    client: &LeaderClient,
    request: Request,
    rpc: impl AsyncFn(RecipeServiceClient<FarmChannel>, Request) -> Result<tonic::Response<Reply>, tonic::Status>,
) -> Result<Reply, CommandError> {
    let rpc = &rpc;
    client
        .call(|channel| {
            let request = request.clone();
            async move { Ok(rpc(RecipeServiceClient::new(channel), request).await?.into_inner()) }
        })
        .await
        .map_err(status_error)
}

fn recipe_json(recipe: &v1::Recipe) -> serde_json::Value {
    serde_json::json!({
        "name": recipe.name,
        "version": recipe.version,
        "created_at_ms": recipe.created_at_ms,
        "created_by": recipe.created_by,
        "settings": RecipeFile::from_wire(&recipe.settings.clone().unwrap_or_default()),
    })
}

pub fn run(args: RecipesArgs) -> CommandResult {
    block_on(async move {
        let client = args.scheduler.client()?;
        match args.action {
            RecipesAction::Create { name, from_file, priority, options } => {
                let request = CreateRecipeRequest { name, settings: Some(settings(from_file, priority, &options)?) };
                let saved = on_leader(&client, request, async |mut service, request| service.create_recipe(request).await).await?;
                outln!("{}@{}", saved.name, saved.version);
            }
            RecipesAction::List { json } => {
                let listed = on_leader(&client, ListRecipesRequest {}, async |mut service, request| service.list_recipes(request).await).await?;
                for recipe in listed.recipes {
                    if json {
                        outln!("{}", serde_json::json!({ "name": recipe.name, "latest_version": recipe.latest_version, "updated_at_ms": recipe.updated_at_ms }));
                    } else {
                        outln!("{:<32} v{:<5} {}", recipe.name, recipe.latest_version, recipe.updated_at_ms);
                    }
                }
            }
            RecipesAction::Show { name, version, json } => {
                let request = GetRecipeRequest { name, version: version.unwrap_or(0) };
                let recipe = on_leader(&client, request, async |mut service, request| service.get_recipe(request).await).await?;
                if json {
                    outln!("{}", recipe_json(&recipe));
                } else {
                    let file = RecipeFile::from_wire(&recipe.settings.clone().unwrap_or_default());
                    let text = toml::to_string(&file).map_err(|error| CommandError::from(anyhow::anyhow!("printing the recipe: {error}")))?;
                    outln!("# recipe {} version {}, saved by {:?} at {} ms", recipe.name, recipe.version, recipe.created_by, recipe.created_at_ms);
                    outln!("{}", text.trim_end());
                }
            }
            RecipesAction::Delete { name } => {
                let request = DeleteRecipeRequest { name };
                let deleted = on_leader(&client, request, async |mut service, request| service.delete_recipe(request).await).await?;
                eprintln!("deleted recipe {:?} ({} versions)", deleted.name, deleted.versions);
            }
        }
        Ok(())
    })
}

//! `RecipeService`: named, versioned job recipes in the replicated state. Operators create and
//! delete; submitters and operators list and show them and submit jobs that name one. A
//! recipe's settings pass the same checks as a job's ([`validate::job_settings`]) before they
//! are proposed; [`resolve`] turns a submission naming a recipe into the spec the job runs.

use prost::Message;
use shotfarm_proto::spec_overlay::overlay;
use shotfarm_proto::v1::{self, recipe_service_server::RecipeService};
use shotfarm_security::Role;
use tonic::{Request, Response, Status};

use super::access::{Caller, Gate};
use super::status::{invalid, unwanted};
use super::validate;
use crate::machine::recipes::recipe_name_problem;
use crate::machine::{Command, Outcome, Refusal};
use crate::replica_node::DriverHandle;
use crate::replica_node::clock::now_ms;
use crate::state::saved_recipes::{RecipeRef, RecipeVersion};

/// The roles `RecipeService` admits (a follower admits them before relaying; creating and
/// deleting is for operators alone).
pub const RECIPE_ROLES: &[Role] = &[Role::Submitter, Role::Operator];

pub struct Recipes {
    pub driver: DriverHandle,
    pub gate: Gate,
}

impl Recipes {
    async fn caller<T>(&self, request: &Request<T>, allowed: &[Role]) -> Result<Caller, Status> {
        self.gate.admit(request, "RecipeService", allowed).await
    }
}

fn checked_name(name: &str) -> Result<(), Status> {
    recipe_name_problem(name).map_or(Ok(()), |problem| Err(invalid("name", problem)))
}

/// The settings of a recipe to save, checked as a job's would be, encoded for the log.
fn checked_settings(settings: Option<&v1::JobSpec>) -> Result<Vec<u8>, Status> {
    let settings = settings.ok_or_else(|| invalid("settings", "is missing; give the job settings the recipe holds"))?;
    for (field, value) in [("settings.input_url", &settings.input_url), ("settings.output_url", &settings.output_url)] {
        if !value.is_empty() {
            return Err(invalid(field, "a recipe holds settings, not locations; leave it empty and give the input and output when you submit"));
        }
    }
    validate::job_settings(settings).map_err(|status| {
        Status::invalid_argument(format!("the recipe's settings would not make a valid job: {}; change that field and save again", status.message()))
    })?;
    Ok(settings.encode_to_vec())
}

fn stored_settings(name: &str, kept: &RecipeVersion) -> Result<v1::JobSpec, Status> {
    v1::JobSpec::decode(kept.settings.as_slice())
        .map_err(|error| Status::internal(format!("recipe {name:?} version {} does not decode: {error}", kept.version)))
}

fn recipe(name: &str, kept: &RecipeVersion) -> Result<v1::Recipe, Status> {
    Ok(v1::Recipe {
        name: name.to_owned(),
        version: kept.version,
        settings: Some(stored_settings(name, kept)?),
        created_at_ms: kept.created_at_ms,
        created_by: kept.created_by.clone(),
    })
}

/// Version `version` (0: the latest) of the recipe `name`, as the leader holds it now.
async fn version_of(driver: &DriverHandle, name: &str, version: u32) -> Result<RecipeVersion, Status> {
    let wanted = name.to_owned();
    let found = driver.read(move |state| state.recipe_named(&wanted).map(|saved| saved.version(version).cloned())).await?;
    match found {
        None => Err(Refusal::UnknownRecipe(name.to_owned()).into()),
        Some(None) => Err(Refusal::UnknownRecipeVersion { name: name.to_owned(), version }.into()),
        Some(Some(kept)) => Ok(kept),
    }
}

/// The spec a job submitted with recipe `name` at `version` (0: the latest) runs: the
/// recipe's settings with the submission's `spec` laid over them; the caller checks it as any
/// job spec. The answer names the version resolved.
pub async fn resolve(driver: &DriverHandle, name: &str, version: u32, spec: Option<&v1::JobSpec>) -> Result<(v1::JobSpec, RecipeRef), Status> {
    checked_name(name).map_err(|_| invalid("recipe", format!("{name:?} is not a recipe name; `shotfarm recipes list` shows them")))?;
    let kept = version_of(driver, name, version).await?;
    let settings = stored_settings(name, &kept)?;
    let resolved = overlay(&settings, spec.unwrap_or(&v1::JobSpec::default()))
        .map_err(|error| Status::internal(format!("laying the submission over recipe {name:?}: {error}")))?;
    Ok((resolved, RecipeRef { name: name.to_owned(), version: kept.version }))
}

#[tonic::async_trait]
impl RecipeService for Recipes {
    async fn create_recipe(&self, request: Request<v1::CreateRecipeRequest>) -> Result<Response<v1::Recipe>, Status> {
        let caller = self.caller(&request, &[Role::Operator]).await?;
        let request = request.into_inner();
        checked_name(&request.name)?;
        let settings = checked_settings(request.settings.as_ref())?;
        self.driver.leader_only()?;
        let created_at_ms = now_ms();
        let command = Command::SaveRecipe { name: request.name.clone(), settings: settings.clone(), created_by: caller.owner(), now_ms: created_at_ms };
        match self.driver.propose_one(command).await? {
            Outcome::RecipeSaved { version } => {
                Ok(Response::new(recipe(&request.name, &RecipeVersion { version, settings, created_at_ms, created_by: caller.owner() })?))
            }
            other => Err(unwanted(other)),
        }
    }

    async fn get_recipe(&self, request: Request<v1::GetRecipeRequest>) -> Result<Response<v1::Recipe>, Status> {
        self.caller(&request, &[Role::Submitter, Role::Operator]).await?;
        let request = request.into_inner();
        checked_name(&request.name)?;
        self.driver.leader_only()?;
        let kept = version_of(&self.driver, &request.name, request.version).await?;
        Ok(Response::new(recipe(&request.name, &kept)?))
    }

    async fn list_recipes(&self, request: Request<v1::ListRecipesRequest>) -> Result<Response<v1::ListRecipesResponse>, Status> {
        self.caller(&request, &[Role::Submitter, Role::Operator]).await?;
        self.driver.leader_only()?;
        let recipes = self
            .driver
            .read(|state| {
                state
                    .live_recipes()
                    .map(|saved| v1::RecipeSummary {
                        name: saved.name.clone(),
                        latest_version: saved.last_version,
                        updated_at_ms: saved.versions.last().map_or(0, |kept| kept.created_at_ms),
                    })
                    .collect()
            })
            .await?;
        Ok(Response::new(v1::ListRecipesResponse { recipes }))
    }

    async fn delete_recipe(&self, request: Request<v1::DeleteRecipeRequest>) -> Result<Response<v1::DeleteRecipeResponse>, Status> {
        self.caller(&request, &[Role::Operator]).await?;
        let request = request.into_inner();
        checked_name(&request.name)?;
        self.driver.leader_only()?;
        match self.driver.propose_one(Command::DeleteRecipe { name: request.name.clone() }).await? {
            Outcome::RecipeDeleted { versions } => Ok(Response::new(v1::DeleteRecipeResponse { name: request.name, versions })),
            other => Err(unwanted(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_as_a_jobs_and_locations_refused() {
        let good = v1::JobSpec { codecs: vec!["hevc".into()], ..Default::default() };
        let encoded = checked_settings(Some(&good)).expect("valid");
        assert_eq!(v1::JobSpec::decode(encoded.as_slice()).expect("decodes"), good);
        let bad = v1::JobSpec { recipe: Some(v1::LadderRecipe { preset: "placebo".into(), ..Default::default() }), ..Default::default() };
        let refused = checked_settings(Some(&bad)).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
        assert!(refused.message().contains("spec.recipe.preset") && refused.message().contains("change that field"), "{}", refused.message());
        let located = v1::JobSpec { input_url: "file:///in/a.mp4".into(), ..Default::default() };
        assert!(checked_settings(Some(&located)).unwrap_err().message().starts_with("settings.input_url"));
        assert!(checked_settings(None).is_err());
    }
}

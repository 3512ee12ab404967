//! `RecipeService` on every replica: the local service on the leader, relayed to the leader
//! elsewhere.

use shotfarm_proto::v1::{self, recipe_service_client::RecipeServiceClient, recipe_service_server::RecipeService};

use super::front::{Front, front_service};
use crate::service::recipes::Recipes;

pub struct RecipesFront {
    pub local: Recipes,
    pub front: Front,
}

front_service!(RecipeService, RecipesFront, RecipeServiceClient, [
    create_recipe(v1::CreateRecipeRequest) -> v1::Recipe,
    get_recipe(v1::GetRecipeRequest) -> v1::Recipe,
    list_recipes(v1::ListRecipesRequest) -> v1::ListRecipesResponse,
    delete_recipe(v1::DeleteRecipeRequest) -> v1::DeleteRecipeResponse,
]);

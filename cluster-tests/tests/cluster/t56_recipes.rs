//! Saved recipes on a real farm (a TLS scheduler and a real agent), through the command
//! line: an operator saves a recipe from a TOML file, a job names it with a flag laid over
//! it and its report records the exact recipe; a second save makes version 2 while version 1
//! stays as it was; a recipe that would not make a valid job, a submitter's save and an
//! unknown recipe are refused saying what to do; a deleted recipe is gone.

use std::process::{Command, Output};
use std::time::Duration;

use anyhow::{Context, ensure};
use shotfarm_cluster_tests::agents::Farm;
use shotfarm_cluster_tests::cluster::{HARNESS_OPERATOR, SchedulerCluster, shotfarm_binary};
use shotfarm_cluster_tests::media;
use shotfarm_proto::v1;
use shotfarm_security::Role;

use crate::support::{is_state, shotfarm_as_operator, step};

const RECIPE: &str = r#"
chunk_min_ms = 500
chunk_max_ms = 1000
quality_scoring = "off"
[labels]
team = "web"
[ladder]
kind = "custom"
preset = "ultrafast"
rungs = ["160x90@200"]
[thumbnails]
disabled = true
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_recipe_is_versioned_used_with_an_override_and_recorded_in_the_report() -> anyhow::Result<()> {
    let mut farm = Farm::start(1, &[], &["t56-1"])?;
    let outcome = recipes_on_a_farm(&farm).await;
    farm.keep_if_failed(&outcome);
    outcome
}

/// `shotfarm ARGS` as `role/name`: its output, whatever its exit status.
fn shotfarm_as(cluster: &SchedulerCluster, role: Role, name: &str, args: &[&str]) -> anyhow::Result<Output> {
    Ok(Command::new(shotfarm_binary()?).args(args).args(cluster.tls_args(role, name)?).output()?)
}

/// Refused, with every one of `words` on stderr and no panic.
fn ensure_refused(output: &Output, words: &[&str], what: &str) -> anyhow::Result<()> {
    let stderr = String::from_utf8_lossy(&output.stderr);
    ensure!(!output.status.success(), "{what} was not refused: {}", String::from_utf8_lossy(&output.stdout));
    ensure!(words.iter().all(|word| stderr.contains(word)) && !stderr.contains("panicked"), "{what}: {stderr}");
    Ok(())
}

async fn recipes_on_a_farm(farm: &Farm) -> anyhow::Result<()> {
    let (_, leader) = farm.cluster.wait_for_leader(Duration::from_secs(15)).await?;
    farm.wait_for_agents(Duration::from_secs(20)).await?;
    let source = media::synthesize(&farm.subdir("sources")?, "recipe.mp4", (320, 180), 2.0).await?;
    let file = farm.dir.join("small.toml");
    std::fs::write(&file, RECIPE)?;
    let file = file.to_str().context("a UTF-8 path")?;
    let cluster = &farm.cluster;
    let recipes = |args: &[&str]| -> Vec<String> { ["recipes", "--scheduler", leader.as_str()].iter().chain(args).map(|arg| (*arg).to_owned()).collect() };
    let operator = |args: &[&str]| -> anyhow::Result<String> { shotfarm_as_operator(cluster, &recipes(args).iter().map(String::as_str).collect::<Vec<_>>()) };

    step("an operator saves recipe small from a TOML file: version 1");
    ensure!(operator(&["create", "small", "--from-file", file])? == "small@1");

    step("a job names it, with --preset laid over the recipe's; its report records the recipe");
    let out = farm.subdir("out-recipe")?;
    let out_arg = out.to_str().context("a UTF-8 path")?;
    let submit = ["submit", "--scheduler", &leader, &source.url(), "--out", out_arg, "--recipe", "small", "--preset", "superfast", "--request-id", "t56-small", "--json"];
    let submitted: serde_json::Value = serde_json::from_str(&shotfarm_as_operator(cluster, &submit)?)?;
    let job_id = submitted["job_id"].as_str().context("submit --json names the job")?.to_owned();
    let job = farm.wait_for_job(&job_id, Duration::from_secs(120)).await?;
    ensure!(is_state(&job, v1::JobState::Succeeded), "job {job_id} ended {}: {}", job.state, job.error);
    ensure!((job.recipe.as_str(), job.recipe_version) == ("small", 1), "GetJob names recipe {:?} version {}", job.recipe, job.recipe_version);
    let spec = job.spec.clone().context("the job's spec")?;
    let ladder = spec.recipe.clone().context("the job's ladder recipe")?;
    ensure!(ladder.preset == "superfast" && ladder.ladder == "custom" && ladder.rungs.len() == 1, "the resolved ladder: {ladder:?}");
    ensure!(spec.quality_scoring == v1::QualityScoring::Off as i32 && spec.labels.get("team").map(String::as_str) == Some("web"), "the resolved spec: {spec:?}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("report.json"))?)?;
    let recorded = &report["recipe"];
    ensure!(recorded["name"] == "small" && recorded["version"] == 1, "report.json's recipe: {recorded}");
    ensure!(recorded["settings"]["recipe"]["preset"] == "superfast" && recorded["settings"]["recipe"]["ladder"] == "custom", "the recorded settings: {recorded}");
    ensure!(report["renditions"].as_array().is_some_and(|renditions| renditions.len() == 1 && renditions[0]["width"] == 160), "one 160-wide rendition: {}", report["renditions"]);
    ensure!(std::fs::read_to_string(out.join("report.html"))?.contains("small version 1"), "report.html names the recipe");

    step("a second save is version 2; version 1 is kept as it was");
    ensure!(operator(&["create", "small", "--from-file", file, "--preset", "veryfast"])? == "small@2");
    let first: serde_json::Value = serde_json::from_str(&operator(&["show", "small", "--version", "1", "--json"])?)?;
    let latest: serde_json::Value = serde_json::from_str(&operator(&["show", "small", "--json"])?)?;
    ensure!(first["version"] == 1 && first["settings"]["ladder"]["preset"] == "ultrafast", "{first}");
    ensure!(latest["version"] == 2 && latest["settings"]["ladder"]["preset"] == "veryfast" && latest["created_by"] == "operator/harness", "{latest}");
    let shown = operator(&["show", "small"])?;
    ensure!(shown.starts_with("# recipe small version 2") && shown.contains("preset = \"veryfast\""), "{shown}");
    let retried: serde_json::Value = serde_json::from_str(&shotfarm_as_operator(cluster, &submit)?)?;
    ensure!(retried["job_id"] == job_id.as_str() && retried["created"] == false, "a retry of its request id after version 2 answers its job: {retried}");

    step("a recipe that would not make a valid job is refused, naming the field");
    let bad = shotfarm_as(cluster, Role::Operator, HARNESS_OPERATOR, &recipes(&["create", "bad", "--preset", "placebo"]).iter().map(String::as_str).collect::<Vec<_>>())?;
    ensure_refused(&bad, &["spec.recipe.preset", "change that field"], "a recipe with preset placebo")?;
    let bad_name = shotfarm_as(cluster, Role::Operator, HARNESS_OPERATOR, &recipes(&["create", "no/slash", "--from-file", file]).iter().map(String::as_str).collect::<Vec<_>>())?;
    ensure_refused(&bad_name, &["not a recipe name"], "a recipe named no/slash")?;

    step("a submitter lists and shows recipes but may not save or delete one");
    let as_submitter = |args: &[&str]| shotfarm_as(cluster, Role::Submitter, "sam", &recipes(args).iter().map(String::as_str).collect::<Vec<_>>());
    let listed = as_submitter(&["list", "--json"])?;
    ensure!(listed.status.success() && String::from_utf8_lossy(&listed.stdout).contains("\"latest_version\":2"), "{listed:?}");
    ensure_refused(&as_submitter(&["create", "mine", "--from-file", file])?, &["RecipeService is for the role operator", "submitter/sam"], "a submitter's create")?;
    ensure_refused(&as_submitter(&["delete", "small"])?, &["role operator"], "a submitter's delete")?;

    step("an unknown recipe or version at submit is NOT_FOUND, saying what to run");
    let unknown = shotfarm_as(cluster, Role::Operator, HARNESS_OPERATOR, &["submit", "--scheduler", &leader, &source.url(), "--out", "/tmp/unused", "--recipe", "nope"])?;
    ensure_refused(&unknown, &["no recipe \"nope\"", "shotfarm recipes list"], "a job naming recipe nope")?;
    let unknown = shotfarm_as(cluster, Role::Operator, HARNESS_OPERATOR, &["submit", "--scheduler", &leader, &source.url(), "--out", "/tmp/unused", "--recipe", "small@7"])?;
    ensure_refused(&unknown, &["has no version 7"], "a job naming small@7")?;

    step("a deleted recipe is gone; the job that used it keeps its record");
    operator(&["delete", "small"])?;
    ensure!(operator(&["list"])?.is_empty(), "small is still listed");
    let gone = shotfarm_as(cluster, Role::Operator, HARNESS_OPERATOR, &recipes(&["show", "small"]).iter().map(String::as_str).collect::<Vec<_>>())?;
    ensure_refused(&gone, &["no recipe \"small\""], "showing a deleted recipe")?;
    let listed: serde_json::Value = serde_json::from_str(&shotfarm_as_operator(cluster, &["jobs", "--scheduler", &leader, "--json"])?)?;
    let kept = listed.as_array().and_then(|jobs| jobs.iter().find(|job| job["job_id"] == job_id.as_str())).context("shotfarm jobs lists the job")?;
    ensure!(kept["recipe"] == serde_json::json!({ "name": "small", "version": 1 }), "the job lost its recipe: {kept}");
    Ok(())
}

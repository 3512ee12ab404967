//! `shotfarm bench ladder`: how much bitrate the per-title and per-shot ladders save against
//! the fixed ladder, on a corpus of very different content ([`super::ladder_corpus`], plus any
//! files in `--sources`). Every source goes through the in-process farm once per recipe, with
//! every chunk scored; each job's renditions (measured bitrate, measured VMAF) make its
//! rate–quality curve, and the BD-rate ([`super::bd_rate`]) of each recipe's curve against
//! the fixed one is printed per source and on average, beside the top rung's VMAF, the rung
//! count, and the analysis CPU as a share of the final encodes' CPU (from the tasks in
//! `report.json`). On the sources `--brute-force` names it also prints each recipe's gap to
//! the brute-force hull ([`super::brute_force_hull`]): the BD-rate of its renditions against
//! the best that full encodes at every size and a fine setting grid reach.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use shotfarm_agent::runtime::Shutdown;

use super::bd_rate::{RatePoint, bd_rate};
use super::brute_force_hull::brute_force_hull;
use super::ladder_corpus::{CorpusSource, corpus};
use super::source_cache::cache_dir;
use crate::client::job_options::JobOptions;
use crate::client::job_view;
use crate::client::recipe_flags::RecipeFlags;
use crate::commands::dev::{FarmTransport, Observers, run_farm};
use super::failure;
use crate::exit::{CommandError, CommandResult};
use crate::runtime::block_on;
use crate::stdout::outln;

/// The recipes compared, the reference first.
const RECIPES: [&str; 3] = ["fixed", "per-title", "per-shot"];

#[derive(Debug, clap::Args)]
pub struct BenchLadderArgs {
    /// Also run every video file in this directory.
    #[arg(long)]
    pub sources: Option<PathBuf>,
    /// Size of the synthesised sources, WIDTHxHEIGHT.
    #[arg(long, default_value = "1920x1080")]
    pub size: String,
    /// Length of the synthesised sources.
    #[arg(long, default_value_t = 8)]
    pub seconds: u32,
    /// Only the synthesised sources whose names contain one of these (comma-separated).
    #[arg(long)]
    pub only: Option<String>,
    /// The encoder preset of every job.
    #[arg(long)]
    pub preset: Option<String>,
    /// The synthesised sources (comma-separated names, `none` for none) also measured against
    /// a brute-force hull: every size × CRF 14–46 in steps of 2, full encodes, every frame scored.
    #[arg(long, default_value = "camera_pan,talking_head")]
    pub brute_force: String,
    #[arg(long, default_value_t = 1)]
    pub agents: u32,
    #[arg(long)]
    pub json: bool,
    /// Run the farm without TLS and authentication.
    #[arg(long)]
    pub insecure: bool,
}

/// What one job of one recipe made.
#[derive(Debug, Clone, PartialEq)]
struct RecipeRun {
    recipe: &'static str,
    curve: Vec<RatePoint>,
    top_vmaf: f64,
    /// CPU seconds of every attempt, per task kind.
    cpu_by_kind: BTreeMap<String, f64>,
}

impl RecipeRun {
    /// The analysis CPU over the final encodes' CPU; `None` without analysis or CPU figures.
    fn analysis_share(&self) -> Option<f64> {
        let (analysis, encode) = (self.cpu_by_kind.get("analyze")?, self.cpu_by_kind.get("encode")?);
        (*encode > 0.0).then(|| analysis / encode)
    }
}

/// The renditions' (bitrate, VMAF) and the top VMAF, from a job's `report.json`.
fn read_run(recipe: &'static str, report: &serde_json::Value) -> Result<RecipeRun, CommandError> {
    let renditions = report["renditions"].as_array().ok_or_else(|| failure("report.json has no renditions"))?;
    let mut curve = Vec::new();
    for rendition in renditions {
        let kbps = rendition["bitrate_kbps"].as_f64().ok_or_else(|| failure("a rendition has no bitrate"))?;
        let vmaf = rendition["quality"]["vmaf_mean"].as_f64().ok_or_else(|| failure("a rendition has no VMAF: the job must score its chunks"))?;
        curve.push(RatePoint { kbps, vmaf });
    }
    let top_vmaf = curve.iter().map(|point| point.vmaf).fold(f64::NAN, f64::max);
    Ok(RecipeRun { recipe, curve, top_vmaf, cpu_by_kind: cpu_by_kind(report) })
}

/// CPU seconds per task kind over every measured attempt in `timings.tasks`.
fn cpu_by_kind(report: &serde_json::Value) -> BTreeMap<String, f64> {
    let mut by_kind = BTreeMap::new();
    for task in report["timings"]["tasks"].as_array().into_iter().flatten() {
        let cpu: f64 = task["attempts"].as_array().into_iter().flatten().filter_map(|attempt| attempt["cpu_seconds"].as_f64()).sum();
        *by_kind.entry(task["kind"].as_str().unwrap_or("?").to_owned()).or_insert(0.0) += cpu;
    }
    by_kind
}

fn parse_size(size: &str) -> Result<(u32, u32), CommandError> {
    let usage = || CommandError::usage(anyhow::anyhow!("--size {size:?} is not WIDTHxHEIGHT with even sides 64..=4096"));
    let (width, height) = size.split_once('x').ok_or_else(usage)?;
    let (width, height): (u32, u32) = (width.parse().map_err(|_| usage())?, height.parse().map_err(|_| usage())?);
    if [width, height].iter().any(|side| !(64..=4096).contains(side) || side % 2 == 1) {
        return Err(usage());
    }
    Ok((width, height))
}

/// The corpus, narrowed by `--only`, and the files of `--sources`.
async fn sources(args: &BenchLadderArgs) -> Result<Vec<CorpusSource>, CommandError> {
    let (width, height) = parse_size(&args.size)?;
    let cache = cache_dir().unwrap_or_else(|| std::env::temp_dir().join("shotfarm-bench-sources"));
    let only: Option<Vec<&str>> = args.only.as_deref().map(|only| only.split(',').map(str::trim).filter(|name| !name.is_empty()).collect());
    let wanted = |source: &str| only.as_ref().is_none_or(|only| only.iter().any(|name| source.contains(name)));
    let mut sources = corpus(&cache, width, height, args.seconds, wanted).await?;
    if let Some(directory) = &args.sources {
        let entries = std::fs::read_dir(directory).map_err(|error| CommandError::usage(anyhow::anyhow!("--sources {}: {error}", directory.display())))?;
        let mut files: Vec<PathBuf> = entries.filter_map(Result::ok).map(|entry| entry.path()).filter(|path| path.is_file()).collect();
        files.sort();
        for path in files {
            let name = path.file_name().map_or_else(String::new, |name| name.to_string_lossy().into_owned());
            sources.push(CorpusSource { name, path });
        }
    }
    if sources.is_empty() {
        return Err(CommandError::usage(anyhow::anyhow!("no source to run: --only matched none, and --sources gave no file")));
    }
    Ok(sources)
}

async fn run_recipe(source: &Path, recipe: &'static str, args: &BenchLadderArgs, scratch: &Path, signals: &Shutdown) -> Result<RecipeRun, CommandError> {
    let out = scratch.join(format!("{}-{recipe}", source.file_stem().map_or_else(String::new, |stem| stem.to_string_lossy().into_owned())));
    let options = JobOptions { recipe: RecipeFlags { ladder: Some(recipe.to_owned()), preset: args.preset.clone(), ..RecipeFlags::default() }, ..JobOptions::default() };
    let job = run_farm(source, &out, args.agents, &options, FarmTransport::from_insecure_flag(args.insecure), signals, Observers::QUIET).await?;
    if job_view::state_name(job.state) != "succeeded" {
        return Err(failure(format!("{} with the {recipe} ladder {}: {}", source.display(), job_view::state_name(job.state), job.error)));
    }
    let text = std::fs::read_to_string(out.join("report.json")).map_err(failure)?;
    let report: serde_json::Value = serde_json::from_str(&text).map_err(failure)?;
    let run = read_run(recipe, &report)?;
    std::fs::remove_dir_all(&out).map_err(failure)?;
    Ok(run)
}

/// The BD-rate as printed; where there is none because the two curves' VMAF ranges do not
/// overlap, both ranges, so a reader sees which way they miss.
fn saving_or_ranges(saving: Option<f64>, curve: &[RatePoint], fixed: &[RatePoint]) -> String {
    let range = |points: &[RatePoint]| {
        let (low, high) = points.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), point| (low.min(point.vmaf), high.max(point.vmaf)));
        format!("{low:.1}–{high:.1}")
    };
    match saving {
        Some(_) => percent(saving),
        None => format!("none: VMAF {} against fixed {}", range(curve), range(fixed)),
    }
}

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| format!("{:+.1} %", value * 100.0))
}

pub fn run(args: BenchLadderArgs) -> CommandResult {
    if args.agents == 0 || !(2..=600).contains(&args.seconds) {
        return Err(CommandError::usage(anyhow::anyhow!("--agents must be at least 1 and --seconds 2..=600")));
    }
    block_on(async move {
        let signals = Shutdown::on_signals();
        let sources = sources(&args).await?;
        let scratch = tempfile::Builder::new().prefix("shotfarm-bench-ladder-").tempdir().map_err(failure)?;
        let mut rows = Vec::new();
        let mut savings: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        let mut gaps: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        let brute_force: Vec<&str> = args.brute_force.split(',').map(str::trim).filter(|name| !name.is_empty() && *name != "none").collect();
        for source in &sources {
            if !args.json {
                eprintln!("{}: {} …", source.name, RECIPES.join(", "));
            }
            let mut runs = Vec::new();
            for recipe in RECIPES {
                runs.push(run_recipe(&source.path, recipe, &args, scratch.path(), &signals).await?);
            }
            let fixed = runs[0].curve.clone();
            let hull = if brute_force.contains(&source.name.as_str()) {
                if !args.json {
                    eprintln!("{}: the brute-force hull …", source.name);
                }
                Some(brute_force_hull(&source.path, parse_size(&args.size)?, args.preset.as_deref().unwrap_or("medium"), scratch.path(), false).await?)
            } else {
                None
            };
            let mut recipes = Vec::new();
            for run in &runs {
                let saving = (run.recipe != "fixed").then(|| bd_rate(&fixed, &run.curve)).flatten();
                if let Some(saving) = saving {
                    savings.entry(run.recipe).or_default().push(saving);
                }
                let gap = hull.as_ref().and_then(|hull| bd_rate(hull, &run.curve));
                if let Some(gap) = gap {
                    gaps.entry(run.recipe).or_default().push(gap);
                }
                if !args.json {
                    outln!(
                        "  {:<14} {:<10} {} rungs  top VMAF {:>6.2}  BD-rate vs fixed {:>9}  analysis CPU / encode CPU {:>5}  gap to brute force {:>9}",
                        source.name,
                        run.recipe,
                        run.curve.len(),
                        run.top_vmaf,
                        if run.recipe == "fixed" { "-".to_owned() } else { saving_or_ranges(saving, &run.curve, &fixed) },
                        run.analysis_share().map_or_else(|| "-".to_owned(), |share| format!("{share:.2}")),
                        if hull.is_some() { percent(gap) } else { "-".to_owned() },
                    );
                }
                recipes.push(serde_json::json!({
                    "recipe": run.recipe,
                    "rungs": run.curve.iter().map(|point| serde_json::json!({"kbps": point.kbps, "vmaf": point.vmaf})).collect::<Vec<_>>(),
                    "top_vmaf": run.top_vmaf,
                    "bd_rate_vs_fixed": saving,
                    "analysis_cpu_over_encode_cpu": run.analysis_share(),
                    "bd_rate_vs_brute_force_hull": gap,
                    "cpu_seconds_by_kind": run.cpu_by_kind,
                }));
            }
            let hull_points: Option<Vec<serde_json::Value>> = hull.map(|hull| hull.iter().map(|point| serde_json::json!({"kbps": point.kbps, "vmaf": point.vmaf})).collect());
            rows.push(serde_json::json!({"source": source.name, "recipes": recipes, "brute_force_hull": hull_points}));
        }
        let mean = |values: &Vec<f64>| values.iter().sum::<f64>() / values.len() as f64;
        let averages: BTreeMap<&str, f64> = savings.iter().map(|(recipe, values)| (*recipe, mean(values))).collect();
        let average_gaps: BTreeMap<&str, f64> = gaps.iter().map(|(recipe, values)| (*recipe, mean(values))).collect();
        if args.json {
            outln!(
                "{}",
                serde_json::json!({"size": args.size, "seconds": args.seconds, "preset": args.preset, "sources": rows, "average_bd_rate_vs_fixed": averages, "average_bd_rate_vs_brute_force_hull": average_gaps})
            );
        } else {
            for (recipe, average) in &averages {
                outln!("average BD-rate vs fixed, {recipe}: {} over {} sources", percent(Some(*average)), savings[recipe].len());
            }
            for (recipe, average) in &average_gaps {
                outln!("average gap to the brute-force hull, {recipe}: {} over {} sources", percent(Some(*average)), gaps[recipe].len());
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_gives_the_curve_the_top_vmaf_and_cpu_per_kind() {
        let report = serde_json::json!({
            "renditions": [
                {"bitrate_kbps": 3000, "quality": {"vmaf_mean": 95.5}},
                {"bitrate_kbps": 1200, "quality": {"vmaf_mean": 88.0}}
            ],
            "timings": {"tasks": [
                {"kind": "analyze", "attempts": [{"cpu_seconds": 2.0}, {"outcome": "lost"}]},
                {"kind": "analyze", "attempts": [{"cpu_seconds": 1.0}]},
                {"kind": "encode", "attempts": [{"cpu_seconds": 10.0}]}
            ]}
        });
        let run = read_run("per-title", &report).unwrap();
        assert_eq!(run.curve, vec![RatePoint { kbps: 3000.0, vmaf: 95.5 }, RatePoint { kbps: 1200.0, vmaf: 88.0 }]);
        assert_eq!(run.top_vmaf, 95.5);
        assert_eq!(run.analysis_share(), Some(0.3));
        let unscored = serde_json::json!({"renditions": [{"bitrate_kbps": 3000, "quality": null}]});
        assert!(read_run("fixed", &unscored).unwrap_err().to_string().contains("score"));
    }

    #[test]
    fn a_missing_bd_rate_shows_both_quality_ranges() {
        let point = |kbps, vmaf| RatePoint { kbps, vmaf };
        let fixed = [point(500.0, 96.9), point(250.0, 95.6)];
        assert_eq!(saving_or_ranges(None, &[point(90.0, 94.83), point(40.0, 88.0)], &fixed), "none: VMAF 88.0–94.8 against fixed 95.6–96.9");
        assert_eq!(saving_or_ranges(Some(-0.25), &[], &fixed), "-25.0 %");
    }

    #[test]
    fn sizes_are_checked() {
        assert_eq!(parse_size("1920x1080").unwrap(), (1920, 1080));
        for bad in ["1920", "1921x1080", "axb", "32x32", "8192x4320"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}

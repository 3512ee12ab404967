//! The per-title ladder from trial encodes: the rate–quality convex hull over every trial
//! resolution, and the rungs chosen on it.
//!
//! A trial is one resolution at one constant-quality setting, with the bitrate it took and
//! the VMAF it scored against the source at the source's size. For each resolution, its
//! trials' upper concave envelope in the (bitrate, VMAF) plane is its quality curve (linear
//! between trials: a dominated or below-the-chord trial is never chosen). The title's hull is
//! the envelope of all trials together. The top rung sits at the least bitrate at which one
//! resolution's curve reaches the target VMAF (or the hull's best point when none does),
//! capped by the ceiling; each next rung's bitrate is the previous one's divided by the spacing, down to the
//! floor, the cheapest trial, or the rung count. Every rung takes the resolution whose own curve
//! is highest at its bitrate — the resolution that wins there — with that curve's predicted
//! VMAF and the constant-quality setting interpolated on it. Rates are linear (kb/s), as in
//! rate–distortion optimisation: the hull's slopes are quality per kb/s.

use serde::{Deserialize, Serialize};

/// One trial encode's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrialPoint {
    pub width: u32,
    pub height: u32,
    /// The constant-quality setting (CRF) it was encoded at.
    pub setting: f64,
    pub bitrate_kbps: f64,
    pub vmaf: f64,
}

/// How rungs are chosen on the hull.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HullLadderParams {
    /// The top rung's VMAF.
    pub target_vmaf: f64,
    pub floor_kbps: f64,
    pub ceiling_kbps: f64,
    pub max_rungs: usize,
    /// Each rung's bitrate is the one above's divided by this (> 1).
    pub spacing: f64,
}

/// A rung chosen on the hull.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HullRung {
    pub width: u32,
    pub height: u32,
    pub bitrate_kbps: f64,
    /// What the winning resolution's curve predicts at this bitrate.
    pub predicted_vmaf: f64,
    /// The constant-quality setting the curve interpolates at this bitrate.
    pub setting: f64,
}

/// Why no ladder comes out of the trials.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HullError {
    #[error("no usable trial (every one lacks a positive, finite bitrate and a finite VMAF)")]
    NoTrials,
    #[error("{0}")]
    Params(String),
}

/// The upper concave envelope of `points` in the (bitrate, VMAF) plane, by rising bitrate:
/// every point scores better than every cheaper one, and the slopes fall.
pub fn upper_hull(points: &[TrialPoint]) -> Vec<TrialPoint> {
    let mut sorted: Vec<TrialPoint> =
        points.iter().copied().filter(|point| point.bitrate_kbps.is_finite() && point.bitrate_kbps > 0.0 && point.vmaf.is_finite()).collect();
    sorted.sort_by(|a, b| a.bitrate_kbps.total_cmp(&b.bitrate_kbps).then(b.vmaf.total_cmp(&a.vmaf)));
    let mut hull: Vec<TrialPoint> = Vec::with_capacity(sorted.len());
    for point in sorted {
        if hull.last().is_some_and(|last| point.vmaf <= last.vmaf) {
            continue; // no better than something cheaper
        }
        while hull.len() >= 2 && !above_chord(hull[hull.len() - 2], hull[hull.len() - 1], point) {
            hull.pop();
        }
        hull.push(point);
    }
    hull
}

/// Whether `middle` lies strictly above the chord from `low` to `high`.
fn above_chord(low: TrialPoint, middle: TrialPoint, high: TrialPoint) -> bool {
    let cross = (middle.bitrate_kbps - low.bitrate_kbps) * (high.vmaf - low.vmaf) - (middle.vmaf - low.vmaf) * (high.bitrate_kbps - low.bitrate_kbps);
    cross < 0.0
}

/// The curve's VMAF and setting at `bitrate_kbps`: linear between its points, its best point
/// beyond its top; `None` below its cheapest point (unmeasured).
fn on_curve(curve: &[TrialPoint], bitrate_kbps: f64) -> Option<(f64, f64)> {
    let first = curve.first()?;
    if bitrate_kbps < first.bitrate_kbps {
        return None;
    }
    let Some(upper) = curve.iter().position(|point| point.bitrate_kbps >= bitrate_kbps) else {
        let last = curve[curve.len() - 1];
        return Some((last.vmaf, last.setting));
    };
    if upper == 0 {
        return Some((first.vmaf, first.setting));
    }
    let (low, high) = (curve[upper - 1], curve[upper]);
    let share = (bitrate_kbps - low.bitrate_kbps) / (high.bitrate_kbps - low.bitrate_kbps);
    Some((low.vmaf + share * (high.vmaf - low.vmaf), low.setting + share * (high.setting - low.setting)))
}

/// The least bitrate at which the curve reaches `vmaf`, if it does.
fn bitrate_for(curve: &[TrialPoint], vmaf: f64) -> Option<f64> {
    let upper = curve.iter().position(|point| point.vmaf >= vmaf)?;
    if upper == 0 {
        return Some(curve[0].bitrate_kbps);
    }
    let (low, high) = (curve[upper - 1], curve[upper]);
    let share = (vmaf - low.vmaf) / (high.vmaf - low.vmaf);
    Some(low.bitrate_kbps + share * (high.bitrate_kbps - low.bitrate_kbps))
}

/// Each trial resolution's own curve.
fn curves_by_resolution(points: &[TrialPoint]) -> Vec<((u32, u32), Vec<TrialPoint>)> {
    let mut sizes: Vec<(u32, u32)> = points.iter().map(|point| (point.width, point.height)).collect();
    sizes.sort_by_key(|&(width, height)| (u64::from(width) * u64::from(height), width));
    sizes.dedup();
    sizes
        .into_iter()
        .map(|size| {
            let own: Vec<TrialPoint> = points.iter().copied().filter(|point| (point.width, point.height) == size).collect();
            (size, upper_hull(&own))
        })
        .filter(|(_, curve)| !curve.is_empty())
        .collect()
}

/// The rungs on the hull of `trials`, best first; see the module docs.
pub fn hull_ladder(trials: &[TrialPoint], params: &HullLadderParams) -> Result<Vec<HullRung>, HullError> {
    if !(params.spacing > 1.0 && params.spacing.is_finite()) {
        return Err(HullError::Params(format!("rung spacing {} must be a bitrate ratio above 1", params.spacing)));
    }
    if !(params.floor_kbps > 0.0 && params.floor_kbps <= params.ceiling_kbps) {
        return Err(HullError::Params(format!("the floor ({} kb/s) must be positive and at most the ceiling ({} kb/s)", params.floor_kbps, params.ceiling_kbps)));
    }
    if params.max_rungs == 0 {
        return Err(HullError::Params("a ladder needs at least one rung".to_owned()));
    }
    let hull = upper_hull(trials);
    let (Some(cheapest), Some(best)) = (hull.first().copied(), hull.last().copied()) else { return Err(HullError::NoTrials) };
    let curves = curves_by_resolution(trials);
    // The least bitrate at which one resolution's own curve reaches the target: the title
    // hull's chord between two resolutions is no encode anyone can make (measured: a slide
    // deck's hull "reached" VMAF 95 between its 160p and 360p trials, where 240p, the only
    // curve there, gave 81).
    let reaching = curves.iter().filter_map(|(_, curve)| bitrate_for(curve, params.target_vmaf)).fold(None, |least: Option<f64>, bitrate| Some(least.map_or(bitrate, |least| least.min(bitrate))));
    let top = reaching.unwrap_or(best.bitrate_kbps).min(params.ceiling_kbps);
    let lowest = params.floor_kbps.max(cheapest.bitrate_kbps);
    let mut rungs = Vec::new();
    let mut bitrate = top.max(lowest);
    while rungs.len() < params.max_rungs {
        let winner = curves
            .iter()
            .filter_map(|(size, curve)| on_curve(curve, bitrate).map(|(vmaf, setting)| (*size, vmaf, setting)))
            // The best VMAF; on a tie, the smaller picture (listed first).
            .fold(None, |best: Option<((u32, u32), f64, f64)>, candidate| match best {
                Some(kept) if kept.1 >= candidate.1 => Some(kept),
                _ => Some(candidate),
            });
        let Some(((width, height), predicted_vmaf, setting)) = winner else { break };
        rungs.push(HullRung { width, height, bitrate_kbps: bitrate, predicted_vmaf, setting });
        bitrate /= params.spacing;
        if bitrate < lowest {
            break;
        }
    }
    Ok(rungs)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn point(width: u32, height: u32, setting: f64, bitrate_kbps: f64, vmaf: f64) -> TrialPoint {
        TrialPoint { width, height, setting, bitrate_kbps, vmaf }
    }

    fn params() -> HullLadderParams {
        HullLadderParams { target_vmaf: 95.0, floor_kbps: 100.0, ceiling_kbps: 20_000.0, max_rungs: 8, spacing: 2.0 }
    }

    /// Two resolutions whose curves cross: 540p wins below about 1500 kb/s, 1080p above.
    fn crossing_trials() -> Vec<TrialPoint> {
        vec![
            point(960, 540, 34.0, 400.0, 70.0),
            point(960, 540, 28.0, 1000.0, 82.0),
            point(960, 540, 22.0, 2500.0, 88.0),
            point(1920, 1080, 34.0, 1000.0, 75.0),
            point(1920, 1080, 28.0, 2000.0, 90.0),
            point(1920, 1080, 22.0, 4000.0, 96.0),
            point(1920, 1080, 25.0, 3000.0, 91.0), // below the chord from 2000 to 4000
        ]
    }

    #[test]
    fn the_top_rung_is_where_one_resolution_reaches_the_target_not_the_chord_between_two() {
        // A static slide deck: 360p reaches VMAF 95 at its cheapest trial (14 kb/s); the hull's
        // chord from the 160p trial crosses 95 just before it, where only 240p (VMAF 81) is.
        let trials = vec![
            point(284, 160, 38.0, 8.9, 69.0),
            point(426, 240, 33.0, 11.0, 78.0),
            point(426, 240, 28.0, 15.0, 82.0),
            point(640, 360, 38.0, 14.14, 95.1),
            point(640, 360, 18.0, 27.0, 97.4),
        ];
        let rungs = hull_ladder(&trials, &HullLadderParams { floor_kbps: 1.0, ..params() }).unwrap();
        assert_eq!((rungs[0].width, rungs[0].bitrate_kbps), (640, 14.14), "{rungs:?}");
        assert!(rungs[0].predicted_vmaf >= 95.0);
    }

    #[test]
    fn the_hull_drops_dominated_and_below_chord_points() {
        let hull = upper_hull(&crossing_trials());
        let kept: Vec<(f64, f64)> = hull.iter().map(|point| (point.bitrate_kbps, point.vmaf)).collect();
        assert_eq!(kept, vec![(400.0, 70.0), (1000.0, 82.0), (2000.0, 90.0), (4000.0, 96.0)]);
    }

    #[test]
    fn rungs_descend_from_the_target_at_the_spacing_each_at_the_winning_resolution() {
        let rungs = hull_ladder(&crossing_trials(), &params()).unwrap();
        // 95 is reached between 2000 (90) and 4000 (96): 2000 + 5/6 * 2000.
        let top = 2000.0 + 2000.0 * 5.0 / 6.0;
        assert!((rungs[0].bitrate_kbps - top).abs() < 1e-9, "{rungs:?}");
        assert_eq!((rungs[0].width, rungs[0].height), (1920, 1080));
        assert!((rungs[0].predicted_vmaf - 95.0).abs() < 1e-9);
        assert!((rungs[0].setting - (28.0 - 6.0 * 5.0 / 6.0)).abs() < 1e-9);
        let sizes: Vec<(u32, u32)> = rungs.iter().map(|rung| (rung.width, rung.height)).collect();
        // 1833 kb/s: 1080p's curve (75 + 833/1000*15 = 87.5) beats 540p's (82 + 833/1500*6 = 85.3).
        // 917 and 458 kb/s: only 540p is measured there (1080p starts at 1000).
        assert_eq!(sizes, vec![(1920, 1080), (1920, 1080), (960, 540), (960, 540)]);
        assert_eq!(rungs.len(), 4, "the next rung (229 kb/s) is below the cheapest trial: {rungs:?}");
    }

    #[test]
    fn the_ceiling_floor_and_rung_count_bound_the_ladder() {
        let capped = hull_ladder(&crossing_trials(), &HullLadderParams { ceiling_kbps: 3000.0, floor_kbps: 900.0, ..params() }).unwrap();
        let bitrates: Vec<f64> = capped.iter().map(|rung| rung.bitrate_kbps).collect();
        assert_eq!(bitrates, vec![3000.0, 1500.0]);
        let one = hull_ladder(&crossing_trials(), &HullLadderParams { max_rungs: 1, ..params() }).unwrap();
        assert_eq!(one.len(), 1);
        // A target the trials never reach: the top rung is the best trial.
        let unreachable = hull_ladder(&crossing_trials(), &HullLadderParams { target_vmaf: 99.0, ..params() }).unwrap();
        assert_eq!((unreachable[0].bitrate_kbps, unreachable[0].predicted_vmaf), (4000.0, 96.0));
    }

    #[test]
    fn bad_parameters_and_empty_trials_are_refused() {
        assert!(matches!(hull_ladder(&[], &params()), Err(HullError::NoTrials)));
        let nan = [point(640, 360, 30.0, f64::NAN, 80.0)];
        assert!(matches!(hull_ladder(&nan, &params()), Err(HullError::NoTrials)));
        for bad in [HullLadderParams { spacing: 1.0, ..params() }, HullLadderParams { floor_kbps: 0.0, ..params() }, HullLadderParams { max_rungs: 0, ..params() }] {
            assert!(matches!(hull_ladder(&crossing_trials(), &bad), Err(HullError::Params(_))), "{bad:?}");
        }
    }

    fn trials() -> impl Strategy<Value = Vec<TrialPoint>> {
        let size = prop::sample::select(vec![(640u32, 360u32), (1280, 720), (1920, 1080)]);
        prop::collection::vec((size, 18.0..40.0f64, 50.0..8000.0f64, 20.0..100.0f64), 1..30)
            .prop_map(|raw| raw.into_iter().map(|((width, height), setting, bitrate, vmaf)| point(width, height, setting, bitrate, vmaf)).collect())
    }

    proptest! {
        #[test]
        fn rungs_fall_in_bitrate_keep_their_spacing_and_are_measured(trials in trials(), spacing in 1.2..3.0f64, target in 60.0..99.0f64) {
            let params = HullLadderParams { target_vmaf: target, floor_kbps: 50.0, ceiling_kbps: 10_000.0, max_rungs: 10, spacing };
            let rungs = hull_ladder(&trials, &params).unwrap();
            prop_assert!(!rungs.is_empty());
            let cheapest = trials.iter().map(|trial| trial.bitrate_kbps).fold(f64::INFINITY, f64::min);
            for pair in rungs.windows(2) {
                prop_assert!((pair[0].bitrate_kbps / pair[1].bitrate_kbps - spacing).abs() < 1e-9);
                prop_assert!(pair[0].predicted_vmaf >= pair[1].predicted_vmaf - 1e-9, "{rungs:?}");
            }
            for rung in &rungs {
                prop_assert!(rung.bitrate_kbps >= cheapest - 1e-9 && rung.bitrate_kbps <= params.ceiling_kbps + 1e-9);
                prop_assert!(trials.iter().any(|trial| (trial.width, trial.height) == (rung.width, rung.height)));
            }
            // No trial beats the hull: the envelope is above every point.
            let hull = upper_hull(&trials);
            for trial in &trials {
                let (on_hull, _) = on_curve(&hull, trial.bitrate_kbps).unwrap();
                prop_assert!(on_hull >= trial.vmaf - 1e-9);
            }
        }
    }
}

//! Per-shot settings for one rung (the Dynamic Optimizer's allocation): every shot has its
//! own trials at the rung's resolution — (setting, bits, VMAF) — and the rung must reach a
//! quality (the frame-weighted mean VMAF over all shots) at the least total bits.
//!
//! Equal slope: each shot keeps only its trials on its own rate–quality hull (weighted by its
//! frames), whose steps give less quality per bit the higher they climb. Every shot starts at
//! its cheapest hull trial; then the step with the most quality per bit among all shots is taken,
//! again and again, until the mean reaches the target. Each state on the way is a Lagrangian
//! optimum (every shot sits where its hull's slope crosses the same λ), so the result spends
//! the least bits of any combination that reaches at least its own mean, and at most one step
//! more than the least that reaches the target. The overshoot of that last step is then
//! trimmed: shots step back down, the largest saving first, while the target still holds.

use serde::{Deserialize, Serialize};

/// One trial of one shot at the rung's resolution.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ShotTrial {
    /// The constant-quality setting (CRF).
    pub setting: f64,
    /// Bits the shot took at this setting.
    pub bits: f64,
    /// The shot's mean VMAF at this setting.
    pub vmaf: f64,
}

/// A shot's trials and its weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShotTrials {
    pub frames: u64,
    pub trials: Vec<ShotTrial>,
}

/// The trial chosen for every shot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Allocation {
    /// Per shot, the index of its chosen trial in [`ShotTrials::trials`].
    pub chosen: Vec<usize>,
    /// The equal-slope state before the overshoot was trimmed (a Lagrangian optimum).
    pub lagrangian: Vec<usize>,
    pub total_bits: f64,
    /// Frame-weighted mean VMAF over every shot.
    pub mean_vmaf: f64,
    /// False when even every shot's best trial stays below the target (then every shot gets
    /// its best).
    pub reached: bool,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AllocationError {
    #[error("no shots to allocate")]
    NoShots,
    #[error("shot {0} has no usable trial (a finite, non-negative bit count and a finite VMAF)")]
    NoTrials(usize),
}

/// One shot's hull: indexes into its trials, by rising bits, quality rising, slopes falling.
fn shot_hull(trials: &[ShotTrial]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..trials.len()).filter(|&index| trials[index].bits.is_finite() && trials[index].bits >= 0.0 && trials[index].vmaf.is_finite()).collect();
    order.sort_by(|&a, &b| trials[a].bits.total_cmp(&trials[b].bits).then(trials[b].vmaf.total_cmp(&trials[a].vmaf)));
    let mut hull: Vec<usize> = Vec::with_capacity(order.len());
    for index in order {
        let point = trials[index];
        if hull.last().is_some_and(|&last| point.vmaf <= trials[last].vmaf) {
            continue;
        }
        while hull.len() >= 2 {
            let (low, middle) = (trials[hull[hull.len() - 2]], trials[hull[hull.len() - 1]]);
            let cross = (middle.bits - low.bits) * (point.vmaf - low.vmaf) - (middle.vmaf - low.vmaf) * (point.bits - low.bits);
            if cross < 0.0 {
                break; // the middle point is above the chord: it stays
            }
            hull.pop();
        }
        hull.push(index);
    }
    hull
}

/// The least-bits choice of one trial per shot whose frame-weighted mean VMAF reaches
/// `target_vmaf`; see the module docs.
pub fn allocate(shots: &[ShotTrials], target_vmaf: f64) -> Result<Allocation, AllocationError> {
    if shots.is_empty() {
        return Err(AllocationError::NoShots);
    }
    let hulls: Vec<Vec<usize>> = shots.iter().map(|shot| shot_hull(&shot.trials)).collect();
    if let Some(empty) = hulls.iter().position(Vec::is_empty) {
        return Err(AllocationError::NoTrials(empty));
    }
    let total_frames: f64 = shots.iter().map(|shot| shot.frames as f64).sum::<f64>().max(1.0);
    // Every step up a shot's hull: (quality gained per bit, shot, position it reaches).
    let mut steps: Vec<(f64, usize, usize)> = Vec::new();
    for (shot, hull) in hulls.iter().enumerate() {
        for position in 1..hull.len() {
            let (from, to) = (shots[shot].trials[hull[position - 1]], shots[shot].trials[hull[position]]);
            let gain = (to.vmaf - from.vmaf) * shots[shot].frames as f64;
            let slope = if to.bits > from.bits { gain / (to.bits - from.bits) } else { f64::INFINITY };
            steps.push((slope, shot, position));
        }
    }
    // Steepest first; a shot's own steps stay in order (its slopes fall, ties by position).
    steps.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut position = vec![0usize; shots.len()];
    let weighted = |position: &[usize]| -> f64 {
        position.iter().enumerate().map(|(shot, &at)| shots[shot].trials[hulls[shot][at]].vmaf * shots[shot].frames as f64).sum::<f64>() / total_frames
    };
    let mut mean = weighted(&position);
    for (_, shot, to) in steps {
        if mean >= target_vmaf {
            break;
        }
        position[shot] = to;
        mean = weighted(&position);
    }
    let lagrangian = position.clone();
    // The last step may overshoot: step shots back down while the target still holds, the
    // largest saving first.
    if mean >= target_vmaf {
        loop {
            let bits_at = |shot: usize, at: usize| shots[shot].trials[hulls[shot][at]].bits;
            let best_saving = (0..shots.len())
                .filter(|&shot| position[shot] > 0)
                .filter(|&shot| {
                    let mut lower = position.clone();
                    lower[shot] -= 1;
                    weighted(&lower) >= target_vmaf
                })
                .map(|shot| (bits_at(shot, position[shot]) - bits_at(shot, position[shot] - 1), shot))
                .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
            let Some((_, shot)) = best_saving else { break };
            position[shot] -= 1;
        }
        mean = weighted(&position);
    }
    let indexes = |position: &[usize]| -> Vec<usize> { position.iter().enumerate().map(|(shot, &at)| hulls[shot][at]).collect() };
    let chosen = indexes(&position);
    let total_bits = chosen.iter().enumerate().map(|(shot, &index)| shots[shot].trials[index].bits).sum();
    Ok(Allocation { chosen, lagrangian: indexes(&lagrangian), total_bits, mean_vmaf: mean, reached: mean >= target_vmaf })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn trial(setting: f64, bits: f64, vmaf: f64) -> ShotTrial {
        ShotTrial { setting, bits, vmaf }
    }

    /// Every combination: the least bits with a mean of at least `floor`.
    fn brute_force(shots: &[ShotTrials], floor: f64) -> Option<f64> {
        let total_frames: f64 = shots.iter().map(|shot| shot.frames as f64).sum::<f64>().max(1.0);
        let mut best: Option<f64> = None;
        let mut choice = vec![0usize; shots.len()];
        loop {
            let bits: f64 = choice.iter().enumerate().map(|(shot, &at)| shots[shot].trials[at].bits).sum();
            let mean = choice.iter().enumerate().map(|(shot, &at)| shots[shot].trials[at].vmaf * shots[shot].frames as f64).sum::<f64>() / total_frames;
            if mean >= floor - 1e-9 && best.is_none_or(|kept| bits < kept) {
                best = Some(bits);
            }
            let mut shot = 0;
            loop {
                if shot == shots.len() {
                    return best;
                }
                choice[shot] += 1;
                if choice[shot] < shots[shot].trials.len() {
                    break;
                }
                choice[shot] = 0;
                shot += 1;
            }
        }
    }

    #[test]
    fn bits_go_where_they_buy_the_most_quality() {
        // A static shot reaches 95 cheaply; a busy one needs many bits for each point.
        let shots = vec![
            ShotTrials { frames: 100, trials: vec![trial(40.0, 10.0, 90.0), trial(32.0, 20.0, 95.0), trial(24.0, 40.0, 98.0)] },
            ShotTrials { frames: 100, trials: vec![trial(40.0, 100.0, 80.0), trial(32.0, 200.0, 88.0), trial(24.0, 400.0, 94.0)] },
        ];
        let allocation = allocate(&shots, 91.5).unwrap();
        // Steps by slope (VMAF·frames per bit): static 40→32 (50), static 32→24 (15), busy
        // 40→32 (8), busy 32→24 (3). Static climbs to 98 first (mean 89), then busy to 88
        // (93, past the target); trimming then steps static back to 95 (91.5).
        assert_eq!(allocation.lagrangian, vec![2, 1]);
        assert_eq!(allocation.chosen, vec![1, 1]);
        assert_eq!((allocation.total_bits, allocation.mean_vmaf, allocation.reached), (220.0, 91.5, true));
        assert_eq!(brute_force(&shots, 91.5), Some(220.0));
        let unreachable = allocate(&shots, 99.0).unwrap();
        assert_eq!((unreachable.chosen.clone(), unreachable.reached), (vec![2, 2], false));
    }

    #[test]
    fn trials_off_the_hull_are_never_chosen_and_empty_input_is_refused() {
        let shots = vec![ShotTrials { frames: 10, trials: vec![trial(30.0, 50.0, 80.0), trial(31.0, 60.0, 79.0), trial(20.0, 200.0, 96.0), trial(26.0, 150.0, 83.0)] }];
        assert_eq!(shot_hull(&shots[0].trials), vec![0, 2]);
        assert_eq!(allocate(&shots, 85.0).unwrap().chosen, vec![2]);
        assert_eq!(allocate(&[], 90.0), Err(AllocationError::NoShots));
        let broken = vec![ShotTrials { frames: 1, trials: vec![trial(30.0, f64::NAN, 80.0)] }];
        assert_eq!(allocate(&broken, 90.0), Err(AllocationError::NoTrials(0)));
    }

    fn instances() -> impl Strategy<Value = Vec<ShotTrials>> {
        let shot = (1u64..300, prop::collection::vec((10.0..1000.0f64, 40.0..100.0f64), 1..5)).prop_map(|(frames, raw)| ShotTrials {
            frames,
            trials: raw.into_iter().enumerate().map(|(index, (bits, vmaf))| trial(index as f64, bits, vmaf)).collect(),
        });
        prop::collection::vec(shot, 1..5)
    }

    fn bits_and_mean(shots: &[ShotTrials], chosen: &[usize]) -> (f64, f64) {
        let total_frames: f64 = shots.iter().map(|shot| shot.frames as f64).sum();
        let bits = chosen.iter().enumerate().map(|(shot, &index)| shots[shot].trials[index].bits).sum();
        let mean = chosen.iter().enumerate().map(|(shot, &index)| shots[shot].trials[index].vmaf * shots[shot].frames as f64).sum::<f64>() / total_frames;
        (bits, mean)
    }

    proptest! {
        /// Against brute force: the equal-slope state spends the least bits of any combination
        /// reaching its own mean; the answer reaches the target whenever any combination does,
        /// never spends more than the equal-slope state, and at most one hull step (the largest
        /// trial's bits) more than the optimum.
        #[test]
        fn allocations_are_as_good_as_brute_force_says(shots in instances(), target in 40.0..100.0f64) {
            let allocation = allocate(&shots, target).unwrap();
            let (lagrangian_bits, lagrangian_mean) = bits_and_mean(&shots, &allocation.lagrangian);
            prop_assert!(lagrangian_bits <= brute_force(&shots, lagrangian_mean).unwrap() + 1e-6);
            prop_assert_eq!(allocation.reached, brute_force(&shots, target).is_some());
            prop_assert!(allocation.total_bits <= lagrangian_bits + 1e-6);
            prop_assert_eq!(bits_and_mean(&shots, &allocation.chosen), (allocation.total_bits, allocation.mean_vmaf));
            if let Some(optimum) = brute_force(&shots, target) {
                let largest = shots.iter().flat_map(|shot| shot.trials.iter()).map(|trial| trial.bits).fold(0.0, f64::max);
                prop_assert!(allocation.mean_vmaf >= target);
                prop_assert!(allocation.total_bits <= optimum + largest + 1e-6);
            }
        }
    }
}

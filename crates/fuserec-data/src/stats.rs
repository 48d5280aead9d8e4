//! Posterior item statistics (exposures, clicks, smoothed CTR, age) **as of a time**: only
//! interactions strictly before `t` count, so a model trained on a sample at time `t` never sees
//! that sample's future.

use fuserec_core::{Interaction, ItemStats};

/// Beta prior for CTR smoothing: `(clicks + prior_ctr·strength) / (exposures + strength)`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CtrPrior {
    /// Prior mean CTR.
    pub prior_ctr: f32,
    /// Prior weight, in pseudo-exposures.
    pub strength: f32,
}

impl Default for CtrPrior {
    fn default() -> Self {
        CtrPrior { prior_ctr: 0.1, strength: 20.0 }
    }
}

/// Every item's exposure and click history, answering "what were this item's statistics at time
/// t?" in O(log n) per query.
pub struct PosteriorStats {
    /// Per item: exposure timestamps in ascending order.
    times: Vec<Vec<i64>>,
    /// Per item: `clicks[k]` = clicks among the first `k` exposures.
    clicks: Vec<Vec<u32>>,
    created_at: Vec<Option<i64>>,
    prior: CtrPrior,
}

impl PosteriorStats {
    /// `interactions` are the events the statistics may draw on (usually the training log).
    pub fn new(interactions: &[Interaction], created_at: Vec<Option<i64>>, prior: CtrPrior) -> Self {
        let n = created_at.len();
        let mut ev: Vec<Vec<(i64, bool)>> = vec![Vec::new(); n];
        for x in interactions {
            ev[x.item.idx()].push((x.ts, x.is_positive()));
        }
        let mut times = Vec::with_capacity(n);
        let mut clicks = Vec::with_capacity(n);
        for mut e in ev {
            e.sort_unstable();
            times.push(e.iter().map(|p| p.0).collect());
            let mut c = Vec::with_capacity(e.len() + 1);
            c.push(0u32);
            for (k, p) in e.iter().enumerate() {
                c.push(c[k] + p.1 as u32);
            }
            clicks.push(c);
        }
        PosteriorStats { times, clicks, created_at, prior }
    }

    /// Number of items.
    pub fn n_items(&self) -> usize {
        self.times.len()
    }

    /// Statistics of `item` from interactions with timestamp `< t`.
    pub fn at(&self, item: usize, t: i64) -> ItemStats {
        let k = self.times[item].partition_point(|&x| x < t);
        let exposures = k as f32;
        let clicks = self.clicks[item][k] as f32;
        let p = self.prior;
        let smoothed_ctr = (clicks + p.prior_ctr * p.strength) / (exposures + p.strength);
        let age_days = match self.created_at[item] {
            Some(c) if c <= t => (t - c) as f32 / 86_400.0,
            _ => 0.0,
        };
        ItemStats { exposures, clicks, smoothed_ctr, age_days }
    }

    /// Statistics of every item at time `t`.
    pub fn all_at(&self, t: i64) -> Vec<ItemStats> {
        (0..self.n_items()).map(|i| self.at(i, t)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fuserec_core::{ItemId, UserId};

    fn ev(item: u32, ts: i64, label: f32) -> Interaction {
        Interaction { user: UserId(0), item: ItemId(item), ts, label, weight: 1.0 }
    }

    #[test]
    fn hand_computed_values() {
        let log = [ev(0, 10, 1.0), ev(0, 20, 0.0), ev(0, 30, 1.0), ev(1, 5, 0.0)];
        let s = PosteriorStats::new(&log, vec![Some(0), None], CtrPrior { prior_ctr: 0.5, strength: 2.0 });
        let a = s.at(0, 30); // events at 10 and 20 only
        assert_eq!((a.exposures, a.clicks), (2.0, 1.0));
        assert!((a.smoothed_ctr - (1.0 + 1.0) / (2.0 + 2.0)).abs() < 1e-6);
        assert!((a.age_days - 30.0 / 86_400.0).abs() < 1e-9);
        let b = s.at(0, 10); // strictly before: nothing yet
        assert_eq!((b.exposures, b.clicks, b.smoothed_ctr), (0.0, 0.0, 0.5));
        assert_eq!(s.at(1, 100).age_days, 0.0, "unknown creation time gives age 0");
    }

    #[test]
    fn no_future_leakage() {
        // Statistics at t must not change whatever happens at or after t.
        let past = vec![ev(0, 1, 1.0), ev(0, 2, 0.0), ev(1, 3, 1.0)];
        let mut with_future = past.clone();
        with_future.extend([ev(0, 50, 1.0), ev(0, 50, 1.0), ev(1, 50, 1.0), ev(0, 99, 0.0)]);
        let created = vec![Some(0), Some(0)];
        let a = PosteriorStats::new(&past, created.clone(), CtrPrior::default());
        let b = PosteriorStats::new(&with_future, created, CtrPrior::default());
        for item in 0..2 {
            for t in [0, 1, 2, 3, 4, 50] {
                assert_eq!(a.at(item, t), b.at(item, t), "item {item} at t={t}");
            }
            assert_ne!(a.at(item, 51), b.at(item, 51), "future events do count once past");
        }
    }
}

//! The item cold-start split as a plan: cold items drawn by a stable hash of their id (so every
//! executor draws the same items without a shared random stream), warm interactions split per
//! user by time as in `fuserec_data::split`.

use crate::{OfflineError, Result};

/// Item cold start over view `log`: an item with a positive is test-cold when
/// `fuserec_unit_hash(seed, item) < cold_fraction`, a cold *validation* item when the draw falls
/// in `[cold_fraction, cold_fraction + cold_val_fraction)`; all of a cold item's interactions go
/// to `test_cold` (`val` for cold validation items). Each user's remaining interactions, in
/// `(ts, item)` order, give the last ⌊n·test_fraction⌋ to `test_warm`, the ⌊n·val_fraction⌋
/// before them to `val`, the rest to `train` — the per-user temporal rule of
/// `fuserec_data::split`. The draw is a Bernoulli per item, so the cold share is the fraction
/// in expectation (the in-process split shuffles and takes an exact count).
#[derive(Clone, Copy, Debug)]
pub struct SplitJob {
    /// Share of items with a positive that are test-cold.
    pub cold_fraction: f64,
    /// Share that are cold validation items.
    pub cold_val_fraction: f64,
    /// Share of each user's warm interactions for validation.
    pub val_fraction: f64,
    /// Share of each user's warm interactions for test.
    pub test_fraction: f64,
    /// Seed of the item draw.
    pub seed: u64,
}

impl Default for SplitJob {
    fn default() -> Self {
        SplitJob { cold_fraction: 0.2, cold_val_fraction: 0.0, val_fraction: 0.1, test_fraction: 0.1, seed: 1 }
    }
}

impl SplitJob {
    /// Rejects fractions outside `[0, 1)` or summing to 1 or more.
    pub fn validate(&self) -> Result<()> {
        for (n, f) in [
            ("cold_fraction", self.cold_fraction),
            ("cold_val_fraction", self.cold_val_fraction),
            ("val_fraction", self.val_fraction),
            ("test_fraction", self.test_fraction),
        ] {
            if !(0.0..1.0).contains(&f) {
                return Err(OfflineError::Invalid(format!("split {n} must be in [0, 1), got {f}")));
            }
        }
        if self.cold_fraction + self.cold_val_fraction >= 1.0 || self.val_fraction + self.test_fraction >= 1.0 {
            return Err(OfflineError::Invalid("split: cold + cold validation and val + test fractions must each be < 1".into()));
        }
        Ok(())
    }

    /// SQL over view `log`: every row with its `user, item, ts, label` and `part`
    /// (`train`, `val`, `test_warm` or `test_cold`), ordered by part, user, time, item.
    pub fn sql(&self, log: &str) -> String {
        let (c, cv, seed) = (self.cold_fraction, self.cold_fraction + self.cold_val_fraction, self.seed);
        let (v, t) = (self.val_fraction, self.test_fraction);
        format!(
            "WITH items AS (SELECT item, fuserec_unit_hash(CAST({seed} AS BIGINT), item) AS u FROM {log} GROUP BY item HAVING MAX(label) > 0.5), \
             tagged AS (SELECT l.\"user\", l.item, l.ts, l.label, \
                 CASE WHEN i.u < {c} THEN 'test_cold' WHEN i.u < {cv} THEN 'val_cold' ELSE 'warm' END AS kind \
               FROM {log} l LEFT JOIN items i ON l.item = i.item), \
             warm AS (SELECT \"user\", item, ts, label, \
                 ROW_NUMBER() OVER (PARTITION BY \"user\" ORDER BY ts, item) AS r, \
                 COUNT(*) OVER (PARTITION BY \"user\") AS n FROM tagged WHERE kind = 'warm'), \
             parts AS (\
               SELECT \"user\", item, ts, label, \
                 CASE WHEN r <= n - CAST(FLOOR(CAST(n AS DOUBLE) * {t}) AS BIGINT) - CAST(FLOOR(CAST(n AS DOUBLE) * {v}) AS BIGINT) THEN 'train' \
                      WHEN r <= n - CAST(FLOOR(CAST(n AS DOUBLE) * {t}) AS BIGINT) THEN 'val' ELSE 'test_warm' END AS part FROM warm \
               UNION ALL SELECT \"user\", item, ts, label, CASE WHEN kind = 'test_cold' THEN 'test_cold' ELSE 'val' END AS part \
                 FROM tagged WHERE kind <> 'warm') \
             SELECT * FROM parts ORDER BY part, \"user\", ts, item"
        )
    }
}

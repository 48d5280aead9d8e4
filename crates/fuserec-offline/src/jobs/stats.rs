//! Posterior statistics as of each sample's time: what `fuserec_data::PosteriorStats::at` gives,
//! as one window plan, so it scales with the log instead of one process's memory.

use super::f32_lit;
use fuserec_data::CtrPrior;

/// Statistics of an item from the events strictly before a time: exposures, clicks, smoothed CTR
/// `(clicks + prior_ctr·strength) / (exposures + strength)` and age in days since the item's first
/// event in the log (0 when it has none before the time), all as in
/// [`fuserec_data::PosteriorStats`] (same f32 arithmetic, so equal bit for bit).
#[derive(Clone, Copy, Debug, Default)]
pub struct StatsJob {
    /// The CTR prior.
    pub prior: CtrPrior,
}

impl StatsJob {
    /// SQL reading views `log` (the events the statistics draw on) and `at` (the rows to annotate,
    /// e.g. the log's positives or a validation log): one output row per `at` row with its
    /// `user, item, ts, label` and `exposures, clicks` (i64), `smoothed_ctr, age_days` (f32).
    ///
    /// The plan is a union of both logs windowed per item by time (`RANGE … 1 PRECEDING`: strictly
    /// earlier), so its cost is one sort of the union, not a join per sample.
    pub fn sql(&self, log: &str, at: &str) -> String {
        let (a, s) = (f32_lit(self.prior.prior_ctr * self.prior.strength), f32_lit(self.prior.strength));
        format!(
            "WITH u AS (\
               SELECT \"user\", item, ts, label, 1 AS is_log, CASE WHEN label > 0.5 THEN 1 ELSE 0 END AS click FROM {log} \
               UNION ALL SELECT \"user\", item, ts, label, 0 AS is_log, 0 AS click FROM {at}), \
             w AS (SELECT \"user\", item, ts, label, is_log, \
                 COALESCE(SUM(is_log) OVER earlier, 0) AS exposures, \
                 COALESCE(SUM(click) OVER earlier, 0) AS clicks, \
                 MIN(CASE WHEN is_log = 1 THEN ts END) OVER (PARTITION BY item) AS created \
               FROM u WINDOW earlier AS (PARTITION BY item ORDER BY ts RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)) \
             SELECT \"user\", item, ts, label, CAST(exposures AS BIGINT) AS exposures, CAST(clicks AS BIGINT) AS clicks, \
               (CAST(clicks AS FLOAT) + {a}) / (CAST(exposures AS FLOAT) + {s}) AS smoothed_ctr, \
               CASE WHEN created IS NOT NULL AND created <= ts THEN CAST(ts - created AS FLOAT) / CAST(86400 AS FLOAT) \
                    ELSE CAST(0 AS FLOAT) END AS age_days \
             FROM w WHERE is_log = 0"
        )
    }
}

/// Posterior statistics of one item as of a point in time (never including that time's future).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ItemStats {
    /// Times the item was shown before the reference time.
    pub exposures: f32,
    /// Clicks (positives) among those exposures.
    pub clicks: f32,
    /// Beta-smoothed click-through rate, `(clicks + a) / (exposures + a + b)`.
    pub smoothed_ctr: f32,
    /// Days since the item was created (0 if it did not exist yet).
    pub age_days: f32,
}

impl ItemStats {
    /// The gate features: `[log1p(exposures), log1p(clicks), smoothed CTR, log1p(age_days)]`.
    pub fn gate_features(&self) -> [f32; 4] {
        [self.exposures.ln_1p(), self.clicks.ln_1p(), self.smoothed_ctr, self.age_days.ln_1p()]
    }
}

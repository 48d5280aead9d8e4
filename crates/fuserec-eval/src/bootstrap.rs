use fuserec_core::Rng;

/// A mean with a bootstrap 95% confidence interval (percentile method) over `n` users.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Estimate {
    /// Mean over users.
    pub mean: f64,
    /// Lower end of the 95% percentile bootstrap interval (the mean when there are no resamples).
    pub lo: f64,
    /// Upper end of the 95% interval.
    pub hi: f64,
    /// Number of users averaged.
    pub n: usize,
}

/// Resamples users with replacement `resamples` times; with 0 resamples the CI collapses to
/// the mean. Deterministic by seed.
pub fn bootstrap_ci(values: &[f64], resamples: usize, seed: u64) -> Estimate {
    let n = values.len();
    if n == 0 {
        return Estimate { mean: f64::NAN, lo: f64::NAN, hi: f64::NAN, n: 0 };
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if resamples == 0 {
        return Estimate { mean, lo: mean, hi: mean, n };
    }
    let mut rng = Rng::derive(seed, 0xB007);
    let mut means: Vec<f64> = (0..resamples).map(|_| (0..n).map(|_| values[rng.below(n)]).sum::<f64>() / n as f64).collect();
    means.sort_by(f64::total_cmp);
    let q = |p: f64| means[((p * (resamples - 1) as f64).round() as usize).min(resamples - 1)];
    Estimate { mean, lo: q(0.025), hi: q(0.975), n }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn constant_values_have_zero_width_and_ci_brackets_mean() {
        let e = bootstrap_ci(&[0.5; 40], 200, 1);
        assert_eq!((e.mean, e.lo, e.hi), (0.5, 0.5, 0.5));
        let v: Vec<f64> = (0..400).map(|i| (i % 2) as f64).collect();
        let e = bootstrap_ci(&v, 500, 1);
        assert!(e.lo < 0.5 && e.hi > 0.5);
        // Standard error of a fair coin mean over 400 users = 0.025 → CI half-width ≈ 0.049.
        assert!((e.hi - e.lo - 0.098).abs() < 0.02, "{e:?}");
        assert!(bootstrap_ci(&[], 10, 1).mean.is_nan());
    }
}

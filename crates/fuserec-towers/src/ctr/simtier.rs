//! SimTier (DESIGN §4): how similar the target is to each behaviour, summarised as a histogram of
//! cosines over `N` equal tiers of [−1, 1]. The histogram goes into the CTR model's MLP input, so
//! the model sees "how many past items look like this one" without attending over raw vectors.

use fuserec_core::{Error, Result};
use rayon::prelude::*;

/// How SimTier turns per-tier counts into inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TierMode {
    /// Number of behaviours per tier.
    Count,
    /// `ln(1 + count)`: long histories do not dominate.
    Log1p,
    /// Count ÷ number of real behaviours (a distribution; all zero for an empty history).
    Fraction,
}

/// Tier of a cosine: `floor((cos + 1) / 2 · n)`, with cos = 1 in the last tier.
fn tier(cos: f32, n: usize) -> usize {
    (((cos.clamp(-1.0, 1.0) + 1.0) * 0.5 * n as f32) as usize).min(n - 1)
}

/// `(b·t, b·b)` with eight independent lanes, so the compiler can vectorise the sums.
fn dot_and_norm(b: &[f32], t: &[f32]) -> (f32, f32) {
    let (mut dot, mut nn) = ([0f32; 8], [0f32; 8]);
    let (bc, tc) = (b.chunks_exact(8), t.chunks_exact(8));
    let (br, tr) = (bc.remainder(), tc.remainder());
    for (x, y) in bc.zip(tc) {
        for k in 0..8 {
            dot[k] += x[k] * y[k];
            nn[k] += x[k] * x[k];
        }
    }
    let mut d: f32 = dot.iter().sum();
    let mut n: f32 = nn.iter().sum();
    for (x, y) in br.iter().zip(tr) {
        d += x * y;
        n += x * x;
    }
    (d, n)
}

/// SimTier histogram of one target against `behaviours` (`len × d`, row-major). `mask[k] = 0`
/// marks padding; a behaviour or target with zero norm (e.g. a masked modality) has no cosine
/// and is skipped like padding. Vectors need not be normalised.
pub fn simtier(target: &[f32], behaviours: &[f32], mask: &[f32], n_tiers: usize, mode: TierMode, out: &mut [f32]) -> Result<()> {
    let d = target.len();
    if n_tiers == 0 || out.len() != n_tiers || d == 0 || behaviours.len() != mask.len() * d {
        return Err(Error::Shape(format!(
            "simtier: target {d}, behaviours {}, mask {}, tiers {n_tiers}, out {}",
            behaviours.len(),
            mask.len(),
            out.len()
        )));
    }
    out.fill(0.0);
    let tn = target.iter().map(|x| x * x).sum::<f32>().sqrt();
    if !tn.is_finite() {
        return Err(Error::Invalid("simtier: non-finite target vector".into()));
    }
    let mut real = 0usize;
    if tn > 0.0 {
        for (b, &m) in behaviours.chunks_exact(d).zip(mask) {
            if m == 0.0 {
                continue;
            }
            let (dot, bn) = dot_and_norm(b, target);
            if !bn.is_finite() || !dot.is_finite() {
                return Err(Error::Invalid("simtier: non-finite behaviour vector".into()));
            }
            if bn == 0.0 {
                continue;
            }
            out[tier(dot / (tn * bn.sqrt()), n_tiers)] += 1.0;
            real += 1;
        }
    }
    match mode {
        TierMode::Count => {}
        TierMode::Log1p => out.iter_mut().for_each(|c| *c = c.ln_1p()),
        TierMode::Fraction if real > 0 => out.iter_mut().for_each(|c| *c /= real as f32),
        TierMode::Fraction => {}
    }
    Ok(())
}

/// [`simtier`] for a batch: `targets` `B × d`, `behaviours` `B × len × d`, `mask` `B × len`;
/// returns `B × n_tiers`. Rows in parallel.
pub fn simtier_batch(targets: &[f32], behaviours: &[f32], mask: &[f32], d: usize, n_tiers: usize, mode: TierMode) -> Result<Vec<f32>> {
    if d == 0 || !targets.len().is_multiple_of(d) {
        return Err(Error::Shape(format!("simtier_batch: {} target values for width {d}", targets.len())));
    }
    let b = targets.len() / d;
    if b == 0 || !mask.len().is_multiple_of(b) || behaviours.len() != mask.len() * d {
        return Err(Error::Shape(format!("simtier_batch: {b} targets, {} mask values, {} behaviour values", mask.len(), behaviours.len())));
    }
    let len = mask.len() / b;
    let mut out = vec![0f32; b * n_tiers];
    out.par_chunks_mut(n_tiers).enumerate().try_for_each(|(i, o)| {
        simtier(&targets[i * d..(i + 1) * d], &behaviours[i * len * d..(i + 1) * len * d], &mask[i * len..(i + 1) * len], n_tiers, mode, o)
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_built_histogram_with_padding_and_edges() {
        // Target e1; behaviours: e1 (cos 1), −e1 (cos −1), e2 (cos 0), (1,1) (cos ≈ 0.707),
        // a padded e1, and a zero vector (no cosine). 4 tiers over [−1, 1]:
        // [−1,−0.5) [−0.5,0) [0,0.5) [0.5,1].
        let t = [1.0, 0.0];
        let b = [1.0, 0.0, -1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0];
        let m = [1.0, 1.0, 1.0, 1.0, 0.0, 1.0];
        let mut out = [0f32; 4];
        simtier(&t, &b, &m, 4, TierMode::Count, &mut out).unwrap();
        assert_eq!(out, [1.0, 0.0, 1.0, 2.0], "cos −1 → first tier, cos 1 → last, padding and zero skipped");
        simtier(&t, &b, &m, 4, TierMode::Fraction, &mut out).unwrap();
        assert_eq!(out, [0.25, 0.0, 0.25, 0.5]);
        simtier(&t, &b, &m, 4, TierMode::Log1p, &mut out).unwrap();
        assert!((out[3] - 3f32.ln()).abs() < 1e-6 && out[1] == 0.0);
        // Empty history (all padding) and a zero target: all zeros in every mode.
        for mode in [TierMode::Count, TierMode::Log1p, TierMode::Fraction] {
            simtier(&t, &b, &[0.0; 6], 4, mode, &mut out).unwrap();
            assert_eq!(out, [0.0; 4]);
            simtier(&[0.0, 0.0], &b, &m, 4, mode, &mut out).unwrap();
            assert_eq!(out, [0.0; 4]);
        }
        // Tier edges: cos exactly 0 starts the third tier; default 20 tiers put cos = 1 in 19.
        assert_eq!(tier(0.0, 4), 2);
        assert_eq!(tier(1.0, 20), 19);
        assert_eq!(tier(-1.0, 20), 0);
        assert_eq!(tier(1.0000001, 20), 19, "rounding above 1 stays in the last tier");
        // Bad input.
        assert!(simtier(&t, &b[..3], &m, 4, TierMode::Count, &mut out).is_err());
        assert!(simtier(&[f32::NAN, 0.0], &b, &m, 4, TierMode::Count, &mut out).is_err());
        assert!(
            simtier(&t, &[f32::NAN, 1.0], &[1.0], 4, TierMode::Count, &mut out).is_err(),
            "a NaN behaviour is an error, not a skipped row"
        );
    }

    #[test]
    fn batch_matches_rows() {
        let d = 3;
        let targets: Vec<f32> = (0..2 * d).map(|k| (k as f32 * 0.7).sin()).collect();
        let beh: Vec<f32> = (0..2 * 5 * d).map(|k| (k as f32 * 1.3).cos()).collect();
        let mask = [1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        let all = simtier_batch(&targets, &beh, &mask, d, 6, TierMode::Count).unwrap();
        for i in 0..2 {
            let mut one = [0f32; 6];
            simtier(
                &targets[i * d..(i + 1) * d],
                &beh[i * 5 * d..(i + 1) * 5 * d],
                &mask[i * 5..(i + 1) * 5],
                6,
                TierMode::Count,
                &mut one,
            )
            .unwrap();
            assert_eq!(&all[i * 6..(i + 1) * 6], &one);
        }
        assert_eq!(all[..6].iter().sum::<f32>(), 4.0);
        assert_eq!(all[6..].iter().sum::<f32>(), 2.0);
    }
}

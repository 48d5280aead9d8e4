//! PCA by subspace iteration: the continuous sibling of the quantisers. Wide content features
//! (1,024 hashed n-grams + 1,280 EfficientNet channels) become a compact vector a CTR model can
//! read per behaviour. Only the spanned subspace is computed (no rotation to the exact
//! eigenvectors): cosines and linear layers downstream do not care about a rotation.

use fuserec_core::{Embeddings, Error, Result, Rng};
use rayon::prelude::*;

/// A fitted PCA projection: `y = (x − mean) · basis`.
pub struct Pca {
    /// Mean of the fitted rows, subtracted before projecting.
    pub mean: Vec<f32>,
    /// `input dim × k`, orthonormal columns.
    pub basis: Vec<f32>,
    /// Output width.
    pub k: usize,
    /// Share of the (centred) fitted rows' variance the subspace keeps.
    pub explained: f64,
}

/// `a (m×n) · b (n×p)`.
fn matmul(a: &[f32], b: &[f32], m: usize, n: usize, p: usize, trans_a: bool) -> Vec<f32> {
    let mut c = vec![0f32; m * p];
    // a is stored m×n (or n×m when trans_a).
    let (rsa, csa) = if trans_a { (1, m as isize) } else { (n as isize, 1) };
    unsafe {
        fuserec_gemm::sgemm(m, n, p, 1.0, a.as_ptr(), rsa, csa, b.as_ptr(), p as isize, 1, 0.0, c.as_mut_ptr(), p as isize, 1);
    }
    c
}

/// Modified Gram–Schmidt on the columns of `v` (`d × k`); a column that collapses is replaced by
/// a fresh random one.
fn orthonormalise(v: &mut [f32], d: usize, k: usize, rng: &mut Rng) {
    for j in 0..k {
        for attempt in 0..3 {
            for i in 0..j {
                let dot: f32 = (0..d).map(|r| v[r * k + i] * v[r * k + j]).sum();
                (0..d).for_each(|r| v[r * k + j] -= dot * v[r * k + i]);
            }
            let n: f32 = (0..d).map(|r| v[r * k + j] * v[r * k + j]).sum::<f32>().sqrt();
            if n > 1e-6 || attempt == 2 {
                (0..d).for_each(|r| v[r * k + j] /= n.max(1e-12));
                break;
            }
            (0..d).for_each(|r| v[r * k + j] = rng.normal() as f32);
        }
    }
}

impl Pca {
    /// Fits on the rows with `use_row[i]` (e.g. items that have content); `iters` rounds of
    /// `V ← orth(Xᵀ X V)`.
    pub fn fit(x: &Embeddings, use_row: &[bool], k: usize, iters: usize, seed: u64) -> Result<Self> {
        let d = x.dim();
        let rows: Vec<usize> = (0..x.rows()).filter(|&i| use_row[i]).collect();
        if use_row.len() != x.rows() || k == 0 || k > d || rows.len() < 2 {
            return Err(Error::Config(format!("pca: k = {k} of {d} dims over {} usable rows", rows.len())));
        }
        if let Some((r, c)) = x.first_non_finite() {
            return Err(Error::Invalid(format!("pca: non-finite value at row {r}, column {c}")));
        }
        let n = rows.len();
        let mut mean = vec![0f32; d];
        for &i in &rows {
            mean.iter_mut().zip(x.row(i)).for_each(|(m, v)| *m += v / n as f32);
        }
        let mut xc = vec![0f32; n * d];
        xc.par_chunks_mut(d)
            .zip(rows.par_iter())
            .for_each(|(o, &i)| o.iter_mut().zip(x.row(i)).zip(&mean).for_each(|((o, v), m)| *o = v - m));
        let mut rng = Rng::derive(seed, 0x9CA);
        let mut v: Vec<f32> = (0..d * k).map(|_| rng.normal() as f32).collect();
        orthonormalise(&mut v, d, k, &mut rng);
        for _ in 0..iters.max(1) {
            let xv = matmul(&xc, &v, n, d, k, false); // n×k
            v = matmul(&xc, &xv, d, n, k, true); // d×k = Xᵀ (X V)
            orthonormalise(&mut v, d, k, &mut rng);
        }
        let total: f64 = xc.iter().map(|&a| (a as f64) * (a as f64)).sum();
        let kept: f64 = matmul(&xc, &v, n, d, k, false).iter().map(|&a| (a as f64) * (a as f64)).sum();
        Ok(Pca { mean, basis: v, k, explained: if total > 0.0 { kept / total } else { 1.0 } })
    }

    /// `(x − mean)·basis` for rows with `keep[i]`; other rows (no content) stay zero.
    pub fn transform(&self, x: &Embeddings, keep: &[bool]) -> Result<Embeddings> {
        let d = self.mean.len();
        if x.dim() != d || keep.len() != x.rows() {
            return Err(Error::Shape(format!("pca: {} × {} input for a {d}-d fit ({} mask values)", x.rows(), x.dim(), keep.len())));
        }
        let mut xc = x.as_slice().to_vec();
        xc.par_chunks_mut(d).for_each(|r| r.iter_mut().zip(&self.mean).for_each(|(v, m)| *v -= m));
        let mut out = matmul(&xc, &self.basis, x.rows(), d, self.k, false);
        out.chunks_mut(self.k).zip(keep).filter(|p| !*p.1).for_each(|(r, _)| r.fill(0.0));
        Embeddings::from_vec(x.rows(), self.k, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_planted_subspace() {
        // 300 rows in 20-d: three strong directions (e0+e1, e5, e9−e12) plus small noise.
        let mut rng = Rng::new(3);
        let d = 20;
        let dirs = [[(0, 1.0), (1, 1.0)], [(5, 1.4), (5, 0.0)], [(9, 1.0), (12, -1.0)]];
        let mut data = Vec::new();
        for _ in 0..300 {
            let mut row = vec![0f32; d];
            for (s, dir) in dirs.iter().enumerate() {
                let a = rng.normal() as f32 * (3.0 - s as f32 * 0.5);
                dir.iter().for_each(|&(i, w)| row[i] += a * w);
            }
            row.iter_mut().for_each(|v| *v += 0.05 * rng.normal() as f32 + 2.0);
            data.extend(row);
        }
        let x = Embeddings::from_vec(300, d, data).unwrap();
        let all = vec![true; 300];
        let p = Pca::fit(&x, &all, 3, 8, 1).unwrap();
        assert!(p.explained > 0.99, "explained {}", p.explained);
        assert!(p.mean.iter().all(|m| (m - 2.0).abs() < 0.5), "centred on the offset");
        // Orthonormal basis, and each planted direction lies in its span.
        for a in 0..3 {
            for b in 0..3 {
                let dot: f32 = (0..d).map(|r| p.basis[r * 3 + a] * p.basis[r * 3 + b]).sum();
                assert!((dot - if a == b { 1.0 } else { 0.0 }).abs() < 1e-4);
            }
        }
        for dir in &dirs {
            let mut u = vec![0f32; d];
            dir.iter().for_each(|&(i, w)| u[i] += w);
            let n: f32 = u.iter().map(|v| v * v).sum::<f32>().sqrt();
            let in_span: f32 = (0..3).map(|c| ((0..d).map(|r| u[r] * p.basis[r * 3 + c]).sum::<f32>() / n).powi(2)).sum();
            assert!(in_span > 0.99, "{dir:?}: {in_span}");
        }
        let mut keep = all.clone();
        keep[7] = false;
        let y = p.transform(&x, &keep).unwrap();
        assert_eq!((y.rows(), y.dim()), (300, 3));
        assert_eq!(y.row(7), &[0.0; 3], "rows without content stay zero");
        assert!(Pca::fit(&x, &all, 21, 3, 1).is_err());
        assert!(p.transform(&Embeddings::zeros(2, 5), &[true, true]).is_err());
    }
}

//! EASE's closed form (Steck 2019), shared by the `ease` peer and the two-tower's item–item
//! channel: with `G = XᵀX` over binary user × item positives and `P = (G + λI)⁻¹`, the weights
//! are `B = I − P·diag(1/diag P)`, so `B_jj = 0`. Solved in f64 by a Cholesky factorisation
//! (faer); an item without positives gets a zero row and column.

use faer::linalg::solvers::DenseSolveCore;
use faer::{Mat, Side};
use fuserec_core::{Error, Result};
use rayon::prelude::*;

/// `B` row-major (`b[h·n + j]` = weight from history item `h` to item `j`) for `n` items from
/// each user's distinct positives. Errors: `lambda` not positive, an item id ≥ `n`, or a failed
/// factorisation.
pub fn ease_weights(user_items: &[Vec<u32>], n: usize, lambda: f64) -> Result<Vec<f32>> {
    if !(lambda > 0.0 && lambda.is_finite()) {
        return Err(Error::Config(format!("ease: lambda must be > 0, got {lambda}")));
    }
    if let Some(&i) = user_items.iter().flatten().find(|&&i| i as usize >= n) {
        return Err(Error::Invalid(format!("ease: item {i} is outside the catalogue of {n}")));
    }
    let mut g = Mat::<f64>::zeros(n, n);
    for items in user_items {
        for &a in items {
            for &c in items {
                g[(a as usize, c as usize)] += 1.0;
            }
        }
    }
    for i in 0..n {
        g[(i, i)] += lambda;
    }
    let p = g.llt(Side::Lower).map_err(|e| Error::Invalid(format!("ease: Cholesky of XᵀX + λI failed ({e:?}); raise lambda")))?.inverse();
    let mut b = vec![0f32; n * n];
    b.par_chunks_mut(n.max(1)).enumerate().for_each(|(h, row)| {
        for (j, w) in row.iter_mut().enumerate() {
            *w = if h == j { 0.0 } else { (-p[(h, j)] / p[(j, j)]) as f32 };
        }
    });
    Ok(b)
}

/// EASE's scores `x_u B` of each history: `out[r·n + j] = Σ_{h ∈ histories[r]} b[h·n + j]`
/// (`histories` of distinct items, e.g. a user's positives).
pub fn ease_scores(b: &[f32], n: usize, histories: &[&[u32]], out: &mut [f32]) {
    out.par_chunks_mut(n.max(1)).zip(histories.par_iter()).for_each(|(row, hist)| {
        row.fill(0.0);
        for &h in hist.iter() {
            row.iter_mut().zip(&b[h as usize * n..(h as usize + 1) * n]).for_each(|(s, w)| *s += w);
        }
    });
}

use fuserec_core::Embeddings;
use rayon::prelude::*;

const ROW_BLOCK: usize = 512;

/// Nearest centroid (squared Euclidean) of every row, by `‖c‖² − 2·x·c` from a blocked sgemm;
/// returns labels and squared distances (clamped at 0). Ties go to the lower centroid index.
pub fn nearest(x: &Embeddings, centroids: &Embeddings) -> (Vec<u32>, Vec<f32>) {
    let (n, d, k) = (x.rows(), x.dim(), centroids.rows());
    let c_norm: Vec<f32> = centroids.iter_rows().map(|c| c.iter().map(|v| v * v).sum()).collect();
    let mut labels = vec![0u32; n];
    let mut dist = vec![0f32; n];
    labels.par_chunks_mut(ROW_BLOCK).zip(dist.par_chunks_mut(ROW_BLOCK)).enumerate().for_each_init(
        || vec![0f32; ROW_BLOCK * k],
        |buf, (b, (lab, dst))| {
            let r0 = b * ROW_BLOCK;
            let m = lab.len();
            let xs = &x.as_slice()[r0 * d..(r0 + m) * d];
            unsafe {
                matrixmultiply::sgemm(m, d, k, -2.0, xs.as_ptr(), d as isize, 1, centroids.as_slice().as_ptr(), 1, d as isize, 0.0, buf.as_mut_ptr(), k as isize, 1);
            }
            for i in 0..m {
                let row = &buf[i * k..(i + 1) * k];
                let (mut best, mut bd) = (0usize, f32::INFINITY);
                for (j, (&s, &cn)) in row.iter().zip(&c_norm).enumerate() {
                    let v = s + cn;
                    if v < bd {
                        bd = v;
                        best = j;
                    }
                }
                let xn: f32 = xs[i * d..(i + 1) * d].iter().map(|v| v * v).sum();
                lab[i] = best as u32;
                dst[i] = (bd + xn).max(0.0);
            }
        },
    );
    (labels, dist)
}

pub(crate) fn sq_dist(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Rows `idx` of `x` as a new matrix.
pub(crate) fn gather(x: &Embeddings, idx: &[u32]) -> Embeddings {
    let d = x.dim();
    let mut data = Vec::with_capacity(idx.len() * d);
    for &i in idx {
        data.extend_from_slice(x.row(i as usize));
    }
    Embeddings::from_vec(idx.len(), d, data).expect("shape by construction")
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn nearest_matches_brute_force() {
        let mut r = fuserec_core::Rng::new(1);
        let x = Embeddings::from_vec(1100, 5, (0..5500).map(|_| r.normal() as f32).collect()).unwrap();
        let c = Embeddings::from_vec(7, 5, (0..35).map(|_| r.normal() as f32).collect()).unwrap();
        let (lab, dist) = nearest(&x, &c);
        for i in 0..x.rows() {
            let d: Vec<f32> = (0..7).map(|j| sq_dist(x.row(i), c.row(j))).collect();
            let best = (0..7).min_by(|&a, &b| d[a].total_cmp(&d[b])).unwrap();
            assert!((d[lab[i] as usize] - d[best]).abs() < 1e-4, "row {i}");
            assert!((dist[i] - d[best]).abs() < 1e-3);
        }
    }
}

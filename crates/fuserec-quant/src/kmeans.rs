use crate::assign::{gather, nearest, sq_dist};
use crate::{Codes, Quantizer, check_dim, validate};
use fuserec_core::{Embeddings, Error, Result, Rng};
use rayon::prelude::*;

/// Settings of a [`KMeans`] fit. `KMeansConfig::new(k, seed)` gives the defaults for the rest
/// (25 iterations, tolerance 1e-4, 64 k-means++ samples per centroid).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KMeansConfig {
    /// Clusters (1 ≤ k ≤ rows).
    pub k: usize,
    /// Most Lloyd iterations after the k-means++ seeding.
    pub max_iter: usize,
    /// Stop when the objective improves by less than this fraction in one iteration.
    pub tol: f64,
    /// Seed; the same seed and data give the same centroids.
    pub seed: u64,
    /// k-means++ seeds from at most `init_sample_per_centroid · k` sampled points.
    pub init_sample_per_centroid: usize,
}

impl KMeansConfig {
    /// `k` clusters, seed `seed`, defaults for the rest.
    pub fn new(k: usize, seed: u64) -> Self {
        KMeansConfig { k, max_iter: 25, tol: 1e-4, seed, init_sample_per_centroid: 64 }
    }
}

/// A fitted k-means: centroids plus what the fit saw.
#[derive(Clone, Debug)]
pub struct KMeans {
    /// `k × dim` cluster centres.
    pub centroids: Embeddings,
    /// Label of every training row under the final centroids.
    pub labels: Vec<u32>,
    /// Objective (sum of squared distances) after each assignment step, first one included.
    pub objective: Vec<f64>,
}

impl KMeans {
    /// Fits on the rows of `x` (k-means++ seeding on a sample, then Lloyd). Errors: `k` of 0 or
    /// above the row count, no rows, zero width or a non-finite value (naming row and column).
    pub fn fit(x: &Embeddings, cfg: &KMeansConfig) -> Result<Self> {
        validate(x, "k-means")?;
        if cfg.k == 0 {
            return Err(Error::Config("k-means: k must be ≥ 1".into()));
        }
        if cfg.k > x.rows() {
            return Err(Error::Config(format!("k-means: k = {} > {} points", cfg.k, x.rows())));
        }
        let init = kmeans_pp(x, cfg);
        Ok(Self::lloyd(x, init, cfg.max_iter, cfg.tol))
    }

    /// Lloyd iterations from given centroids (exposed for benches and peers).
    pub fn lloyd(x: &Embeddings, mut centroids: Embeddings, max_iter: usize, tol: f64) -> Self {
        let (mut labels, mut dist) = nearest(x, &centroids);
        let mut objective = vec![dist.iter().map(|&v| v as f64).sum::<f64>()];
        for _ in 0..max_iter {
            update(x, &labels, &dist, &mut centroids);
            (labels, dist) = nearest(x, &centroids);
            let obj = dist.iter().map(|&v| v as f64).sum::<f64>();
            let prev = *objective.last().expect("non-empty");
            objective.push(obj);
            if prev - obj <= tol * prev {
                break;
            }
        }
        KMeans { centroids, labels, objective }
    }

    /// Number of clusters.
    pub fn k(&self) -> usize {
        self.centroids.rows()
    }

    /// One Lloyd iteration: assign every row (blocked sgemm), then move centroids to the means
    /// (with empty-cluster repair). Returns the objective of the assignment.
    pub fn iteration(x: &Embeddings, centroids: &mut Embeddings) -> f64 {
        let (labels, dist) = nearest(x, centroids);
        update(x, &labels, &dist, centroids);
        dist.iter().map(|&v| v as f64).sum()
    }
}

/// Centroid = mean of its rows; an empty cluster takes the point farthest from its centroid
/// (which cannot raise the objective: that point's distance drops to 0).
fn update(x: &Embeddings, labels: &[u32], dist: &[f32], c: &mut Embeddings) {
    let (k, d) = (c.rows(), c.dim());
    let (sums, counts) = x
        .as_slice()
        .par_chunks(d * 1024)
        .zip(labels.par_chunks(1024))
        .fold(
            || (vec![0f64; k * d], vec![0usize; k]),
            |(mut s, mut n), (rows, labs)| {
                for (row, &l) in rows.chunks_exact(d).zip(labs) {
                    let acc = &mut s[l as usize * d..(l as usize + 1) * d];
                    acc.iter_mut().zip(row).for_each(|(a, v)| *a += *v as f64);
                    n[l as usize] += 1;
                }
                (s, n)
            },
        )
        .reduce(
            || (vec![0f64; k * d], vec![0usize; k]),
            |(mut s, mut n), (s2, n2)| {
                s.iter_mut().zip(&s2).for_each(|(a, b)| *a += b);
                n.iter_mut().zip(&n2).for_each(|(a, b)| *a += b);
                (s, n)
            },
        );
    let mut empty = Vec::new();
    for j in 0..k {
        if counts[j] == 0 {
            empty.push(j);
            continue;
        }
        let inv = 1.0 / counts[j] as f64;
        c.row_mut(j).iter_mut().zip(&sums[j * d..(j + 1) * d]).for_each(|(v, s)| *v = (s * inv) as f32);
    }
    if !empty.is_empty() {
        let mut far: Vec<usize> = (0..x.rows()).collect();
        far.sort_by(|&a, &b| dist[b].total_cmp(&dist[a]).then(a.cmp(&b)));
        for (j, &i) in empty.iter().zip(&far) {
            c.row_mut(*j).copy_from_slice(x.row(i));
        }
    }
}

/// k-means++ seeding on a seeded sample, deterministic; duplicate points are handled (a zero
/// total distance picks uniformly among points not yet chosen).
fn kmeans_pp(x: &Embeddings, cfg: &KMeansConfig) -> Embeddings {
    let mut rng = Rng::derive(cfg.seed, 0xC1);
    let n = x.rows();
    let cap = (cfg.init_sample_per_centroid.max(1) * cfg.k).max(cfg.k);
    let sample = if n > cap {
        let mut idx: Vec<u32> = (0..n as u32).collect();
        rng.shuffle(&mut idx);
        idx.truncate(cap);
        idx.sort_unstable();
        gather(x, &idx)
    } else {
        x.clone()
    };
    let m = sample.rows();
    let d = sample.dim();
    let mut chosen = vec![rng.below(m)];
    let mut d2: Vec<f32> = (0..m).into_par_iter().map(|i| sq_dist(sample.row(i), sample.row(chosen[0]))).collect();
    while chosen.len() < cfg.k {
        let total: f64 = d2.iter().map(|&v| v as f64).sum();
        let next = if total > 0.0 {
            let target = rng.uniform() * total;
            let mut acc = 0.0;
            let mut pick = m - 1;
            for (i, &v) in d2.iter().enumerate() {
                acc += v as f64;
                if acc > target && v > 0.0 {
                    pick = i;
                    break;
                }
            }
            pick
        } else {
            let free: Vec<usize> = (0..m).filter(|i| !chosen.contains(i)).collect();
            free[rng.below(free.len())]
        };
        chosen.push(next);
        let c = sample.row(next).to_vec();
        d2.par_iter_mut().enumerate().for_each(|(i, v)| *v = v.min(sq_dist(sample.row(i), &c)));
    }
    let mut data = Vec::with_capacity(cfg.k * d);
    for &i in &chosen {
        data.extend_from_slice(sample.row(i));
    }
    Embeddings::from_vec(cfg.k, d, data).expect("k × d")
}

impl Quantizer for KMeans {
    fn name(&self) -> String {
        format!("kmeans(k={})", self.k())
    }
    fn dim(&self) -> usize {
        self.centroids.dim()
    }
    fn levels(&self) -> usize {
        1
    }
    fn codes_per_level(&self) -> Vec<usize> {
        vec![self.k()]
    }
    fn capacity_per_level(&self) -> Vec<usize> {
        vec![self.k()]
    }
    fn encode(&self, x: &Embeddings) -> Result<Codes> {
        check_dim(x, self.dim())?;
        Codes::from_vec(x.rows(), 1, nearest(x, &self.centroids).0)
    }
    fn reconstruct(&self, codes: &Codes, level: usize) -> Result<Embeddings> {
        if level != 0 {
            return Err(Error::Invalid(format!("k-means has one level, asked for level {level}")));
        }
        let idx: Vec<u32> = (0..codes.len()).map(|i| codes.get(i, 0)).collect();
        if let Some(bad) = idx.iter().find(|&&c| c as usize >= self.k()) {
            return Err(Error::Invalid(format!("code {bad} outside 0..{}", self.k())));
        }
        Ok(gather(&self.centroids, &idx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `k` tight blobs far apart, `per` points each, shuffled.
    pub(crate) fn blobs(k: usize, per: usize, d: usize, seed: u64) -> (Embeddings, Vec<usize>) {
        let mut r = Rng::new(seed);
        let centers: Vec<Vec<f32>> = (0..k).map(|_| (0..d).map(|_| 100.0 * r.normal() as f32).collect()).collect();
        let mut truth: Vec<usize> = (0..k * per).map(|i| i / per).collect();
        r.shuffle(&mut truth);
        let data = truth.iter().flat_map(|&t| centers[t].iter().map(|c| c + 0.1 * r.normal() as f32).collect::<Vec<_>>()).collect();
        (Embeddings::from_vec(k * per, d, data).unwrap(), truth)
    }

    #[test]
    fn recovers_planted_clusters_exactly() {
        let (x, truth) = blobs(8, 50, 6, 1);
        let km = KMeans::fit(&x, &KMeansConfig::new(8, 3)).unwrap();
        // Same partition up to relabelling: a bijection between labels and truth.
        let mut map = std::collections::HashMap::new();
        for (l, t) in km.labels.iter().zip(&truth) {
            assert_eq!(*map.entry(*l).or_insert(*t), *t, "label {l} mixes clusters");
        }
        assert_eq!(map.len(), 8);
    }

    #[test]
    fn objective_never_increases_and_is_deterministic() {
        let mut r = Rng::new(5);
        let x = Embeddings::from_vec(3000, 8, (0..24000).map(|_| r.normal() as f32).collect()).unwrap();
        let cfg = KMeansConfig { max_iter: 40, tol: 0.0, ..KMeansConfig::new(32, 9) };
        let a = KMeans::fit(&x, &cfg).unwrap();
        for w in a.objective.windows(2) {
            assert!(w[1] <= w[0] * (1.0 + 1e-6), "{} → {}", w[0], w[1]);
        }
        assert!(a.objective.last().unwrap() < &(0.8 * a.objective[0]));
        let b = KMeans::fit(&x, &cfg).unwrap();
        assert_eq!(a.centroids, b.centroids);
    }

    #[test]
    fn empty_clusters_are_repaired_and_duplicates_survive() {
        // 5 distinct points, many duplicates, k = 5: every cluster must end non-empty.
        let base = [0.0f32, 1.0, 2.0, 10.0, 20.0];
        let data: Vec<f32> = (0..100).map(|i| base[if i < 96 { 0 } else { i - 95 }]).collect();
        let x = Embeddings::from_vec(100, 1, data).unwrap();
        let km = KMeans::fit(&x, &KMeansConfig::new(5, 1)).unwrap();
        let mut used = km.labels.clone();
        used.sort();
        used.dedup();
        assert_eq!(used.len(), 5);
        assert!(km.objective.last().unwrap().abs() < 1e-9);
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        let x = Embeddings::from_vec(3, 2, vec![0.0; 6]).unwrap();
        assert!(KMeans::fit(&x, &KMeansConfig::new(4, 1)).unwrap_err().to_string().contains("k = 4 > 3 points"));
        assert!(KMeans::fit(&x, &KMeansConfig::new(0, 1)).is_err());
        let nan = Embeddings::from_vec(2, 2, vec![0.0, 1.0, f32::NAN, 0.0]).unwrap();
        assert!(KMeans::fit(&nan, &KMeansConfig::new(1, 1)).unwrap_err().to_string().contains("row 1"));
        let zero = Embeddings::from_vec(3, 0, vec![]).unwrap();
        assert!(KMeans::fit(&zero, &KMeansConfig::new(1, 1)).unwrap_err().to_string().contains("zero-dimensional"));
        let km = KMeans::fit(&x, &KMeansConfig::new(1, 1)).unwrap();
        let wrong = Embeddings::from_vec(1, 3, vec![0.0; 3]).unwrap();
        assert!(km.encode(&wrong).is_err());
    }
}

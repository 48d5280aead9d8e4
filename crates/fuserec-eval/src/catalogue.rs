//! What the top-K lists do to the catalogue: coverage, the share of slots going to cold items,
//! the concentration (Gini) of exposure, and recall per item-popularity bucket.

/// Distinct items in the top-K lists over the number of candidate items.
pub fn coverage_at_k(lists: &[Vec<u32>], k: usize, n_candidates: usize) -> f64 {
    let mut seen = std::collections::HashSet::new();
    lists.iter().flat_map(|l| l.iter().take(k)).for_each(|i| {
        seen.insert(*i);
    });
    if n_candidates == 0 { 0.0 } else { seen.len() as f64 / n_candidates as f64 }
}

/// Share of top-K slots (over all users) filled by cold items.
pub fn cold_share_at_k(lists: &[Vec<u32>], k: usize, cold: &[bool]) -> f64 {
    let (mut c, mut n) = (0usize, 0usize);
    for i in lists.iter().flat_map(|l| l.iter().take(k)) {
        n += 1;
        c += cold[*i as usize] as usize;
    }
    if n == 0 { 0.0 } else { c as f64 / n as f64 }
}

/// Gini coefficient of non-negative values (0 = equal, → 1 = all on one); NaN when there is
/// nothing to distribute (no values, or all zero), since equality and concentration are both
/// meaningless then.
pub fn gini(values: &[f64]) -> f64 {
    let n = values.len();
    let total: f64 = values.iter().sum();
    if n == 0 || total <= 0.0 {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let weighted: f64 = v.iter().enumerate().map(|(i, x)| (i as f64 + 1.0) * x).sum();
    2.0 * weighted / (n as f64 * total) - (n as f64 + 1.0) / n as f64
}

/// Gini of how often each candidate item appears in the top-K lists (candidates never shown
/// count as zero exposure).
pub fn exposure_gini_at_k(lists: &[Vec<u32>], k: usize, candidates: &[bool]) -> f64 {
    let mut counts = vec![0f64; candidates.len()];
    lists.iter().flat_map(|l| l.iter().take(k)).for_each(|&i| counts[i as usize] += 1.0);
    let v: Vec<f64> = counts.into_iter().zip(candidates).filter(|(_, c)| **c).map(|(x, _)| x).collect();
    gini(&v)
}

/// Item-popularity buckets by training positives: `[edges[i], edges[i+1])`, last one open.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct PopularityBuckets {
    /// Lower edges, ascending; the first is usually 0.
    pub edges: Vec<u32>,
}

impl Default for PopularityBuckets {
    fn default() -> Self {
        PopularityBuckets { edges: vec![0, 1, 5, 20, 100] }
    }
}

impl PopularityBuckets {
    /// One label per bucket: `"0"`, `"1-4"`, …, `"100+"`.
    pub fn labels(&self) -> Vec<String> {
        self.edges
            .iter()
            .enumerate()
            .map(|(i, &lo)| match self.edges.get(i + 1) {
                Some(&hi) if hi == lo + 1 => format!("{lo}"),
                Some(&hi) => format!("{lo}-{}", hi - 1),
                None => format!("{lo}+"),
            })
            .collect()
    }
    /// The bucket of an item with `popularity` training positives.
    pub fn of(&self, popularity: u32) -> usize {
        self.edges.partition_point(|&e| e <= popularity).saturating_sub(1)
    }
}

/// Recall@K of one popularity bucket.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Bucket {
    /// The bucket's label (see [`PopularityBuckets::labels`]).
    pub label: String,
    /// Ground-truth (user, item) pairs whose item falls in this bucket.
    pub relevant: usize,
    /// Of those, how many are in their user's top K.
    pub hits: usize,
    /// hits / relevant (micro-averaged over users); NaN when the bucket is empty.
    pub recall: f64,
}

/// Recall@`k` per popularity bucket of the relevant items. `popularity` has one entry per item id
/// that appears in `relevant` (a shorter table panics on indexing); `lists` and `relevant` are per user.
pub fn recall_by_bucket(lists: &[Vec<u32>], relevant: &[Vec<u32>], k: usize, popularity: &[u32], b: &PopularityBuckets) -> Vec<Bucket> {
    let labels = b.labels();
    let mut rel = vec![0usize; labels.len()];
    let mut hit = vec![0usize; labels.len()];
    for (l, r) in lists.iter().zip(relevant) {
        let top: std::collections::HashSet<u32> = l.iter().take(k).copied().collect();
        for i in r {
            let bucket = b.of(popularity[*i as usize]);
            rel[bucket] += 1;
            hit[bucket] += top.contains(i) as usize;
        }
    }
    labels
        .into_iter()
        .enumerate()
        .map(|(j, label)| Bucket {
            label,
            relevant: rel[j],
            hits: hit[j],
            recall: if rel[j] == 0 { f64::NAN } else { hit[j] as f64 / rel[j] as f64 },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn hand_computed_catalogue_metrics() {
        let lists = vec![vec![0, 1, 2], vec![0, 1, 3], vec![0, 4]];
        assert!((coverage_at_k(&lists, 2, 10) - 0.3).abs() < 1e-12); // {0,1,4}
        assert!((coverage_at_k(&lists, 3, 10) - 0.5).abs() < 1e-12);
        let cold = [false, false, false, true, true];
        // k=3 slots: 0 1 2 | 0 1 3 | 0 4 = 8 slots, cold: 3, 4 → 2/8
        assert!((cold_share_at_k(&lists, 3, &cold) - 0.25).abs() < 1e-12);
        assert_eq!(gini(&[1.0, 1.0, 1.0]), 0.0);
        assert!(gini(&[0.0, 0.0]).is_nan() && gini(&[]).is_nan());
        // [0,0,0,4]: 2·(4·4)/(4·4) − 5/4 = 0.75
        assert!((gini(&[0.0, 0.0, 4.0, 0.0]) - 0.75).abs() < 1e-12);
        // top-1 exposure: item 0 three times over 5 candidates → gini([3,0,0,0,0]) = 0.8
        assert!((exposure_gini_at_k(&lists, 1, &[true; 5]) - 0.8).abs() < 1e-12);
    }
    #[test]
    fn buckets() {
        let b = PopularityBuckets::default();
        assert_eq!(b.labels(), ["0", "1-4", "5-19", "20-99", "100+"]);
        assert_eq!([0, 1, 4, 5, 99, 100, 5000].map(|p| b.of(p)), [0, 1, 1, 2, 3, 4, 4]);
        let pop = [0, 3, 50];
        let r = recall_by_bucket(&[vec![1, 2]], &[vec![0, 1, 2]], 1, &pop, &b);
        assert_eq!((r[0].relevant, r[0].hits), (1, 0));
        assert_eq!((r[1].relevant, r[1].hits, r[1].recall), (1, 1, 1.0));
        assert_eq!((r[3].relevant, r[3].hits), (1, 0));
        assert!(r[2].recall.is_nan());
    }
}

//! Top-K ranking metrics, one small type each behind [`RankingMetric`].
//! `relevant` is a user's ground-truth item set, in any order; duplicates count once.

use crate::bootstrap::{Estimate, bootstrap_ci};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// One top-K ranking metric, computed per user and averaged by [`evaluate_ranking`].
pub trait RankingMetric: Send + Sync {
    /// Short name used in keys and tables (`"recall"` gives `"recall@20"`).
    fn name(&self) -> &'static str;
    /// The metric for one user: `ranked` best first (only its first `k` entries count);
    /// `relevant` the user's ground-truth items, in any order (duplicates count once).
    fn per_user(&self, ranked: &[u32], relevant: &[u32], k: usize) -> f64;
}

/// `relevant` as a set: borrowed when already strictly ascending (the runner's case, checked in
/// one pass), else a sorted de-duplicated copy — an unsorted set must never give a wrong number.
fn as_set(relevant: &[u32]) -> Cow<'_, [u32]> {
    if relevant.windows(2).all(|w| w[0] < w[1]) {
        Cow::Borrowed(relevant)
    } else {
        let mut v = relevant.to_vec();
        v.sort_unstable();
        v.dedup();
        Cow::Owned(v)
    }
}

/// 0-based ranks of the hits in the top `k` (`relevant` sorted, de-duplicated).
fn hits<'a>(ranked: &'a [u32], relevant: &'a [u32], k: usize) -> impl Iterator<Item = usize> + 'a {
    ranked.iter().take(k).enumerate().filter(|(_, i)| relevant.binary_search(i).is_ok()).map(|(r, _)| r)
}

/// |top-K ∩ relevant| / |relevant|.
pub struct Recall;
impl RankingMetric for Recall {
    fn name(&self) -> &'static str {
        "recall"
    }
    fn per_user(&self, ranked: &[u32], relevant: &[u32], k: usize) -> f64 {
        let relevant = as_set(relevant);
        if relevant.is_empty() {
            return 0.0;
        }
        hits(ranked, &relevant, k).count() as f64 / relevant.len() as f64
    }
}

/// |top-K ∩ relevant| / K.
pub struct Precision;
impl RankingMetric for Precision {
    fn name(&self) -> &'static str {
        "precision"
    }
    fn per_user(&self, ranked: &[u32], relevant: &[u32], k: usize) -> f64 {
        if k == 0 {
            return 0.0;
        }
        hits(ranked, &as_set(relevant), k).count() as f64 / k as f64
    }
}

/// 1 if any relevant item is in the top K.
pub struct Hit;
impl RankingMetric for Hit {
    fn name(&self) -> &'static str {
        "hit"
    }
    fn per_user(&self, ranked: &[u32], relevant: &[u32], k: usize) -> f64 {
        hits(ranked, &as_set(relevant), k).next().is_some() as u8 as f64
    }
}

/// DCG with binary gains `1/log2(rank+2)`, over the ideal DCG of min(|relevant|, K) hits.
pub struct Ndcg;
impl RankingMetric for Ndcg {
    fn name(&self) -> &'static str {
        "ndcg"
    }
    fn per_user(&self, ranked: &[u32], relevant: &[u32], k: usize) -> f64 {
        let relevant = as_set(relevant);
        let dcg = hits(ranked, &relevant, k).fold(0.0, |acc, r| acc + 1.0 / (r as f64 + 2.0).log2());
        let idcg: f64 = (0..relevant.len().min(k)).map(|r| 1.0 / (r as f64 + 2.0).log2()).sum();
        if idcg == 0.0 { 0.0 } else { dcg / idcg }
    }
}

/// Reciprocal rank of the first relevant item within the top K (0 if none).
pub struct Mrr;
impl RankingMetric for Mrr {
    fn name(&self) -> &'static str {
        "mrr"
    }
    fn per_user(&self, ranked: &[u32], relevant: &[u32], k: usize) -> f64 {
        hits(ranked, &as_set(relevant), k).next().map_or(0.0, |r| 1.0 / (r as f64 + 1.0))
    }
}

/// A ranked list as the metrics read it: item ids, best first. Implemented for plain id lists
/// and for `(item, score)` lists, the shape `fuserec-index` searches return, so search results
/// go into [`evaluate_ranking`] as they are.
pub trait RankedList {
    /// The item ids, best first.
    fn item_ids(&self) -> Cow<'_, [u32]>;
}
impl RankedList for [u32] {
    fn item_ids(&self) -> Cow<'_, [u32]> {
        Cow::Borrowed(self)
    }
}
impl RankedList for Vec<u32> {
    fn item_ids(&self) -> Cow<'_, [u32]> {
        Cow::Borrowed(self)
    }
}
impl RankedList for [(u32, f32)] {
    fn item_ids(&self) -> Cow<'_, [u32]> {
        Cow::Owned(self.iter().map(|&(item, _)| item).collect())
    }
}
impl RankedList for Vec<(u32, f32)> {
    fn item_ids(&self) -> Cow<'_, [u32]> {
        self.as_slice().item_ids()
    }
}

/// The five standard metrics: recall, NDCG, hit rate, precision and MRR.
pub const STANDARD_METRICS: &[&dyn RankingMetric] = &[&Recall, &Ndcg, &Hit, &Precision, &Mrr];

/// Means (with bootstrap 95% CIs over users) of every metric at every K, keyed `"recall@20"`.
/// Users whose `relevant` set is empty are skipped. One ranked list per relevant set, or an error.
/// `ranked` may hold id lists or `(item, score)` lists ([`RankedList`]); `resamples` bootstrap
/// draws seeded by `seed` give the intervals.
pub fn evaluate_ranking<R: RankedList>(
    metrics: &[&dyn RankingMetric],
    ks: &[usize],
    ranked: &[R],
    relevant: &[Vec<u32>],
    resamples: usize,
    seed: u64,
) -> fuserec_core::Result<BTreeMap<String, Estimate>> {
    if ranked.len() != relevant.len() {
        return Err(fuserec_core::Error::Shape(format!(
            "evaluate_ranking: {} ranked lists for {} relevant sets (one per user)",
            ranked.len(),
            relevant.len()
        )));
    }
    let users: Vec<usize> = (0..ranked.len()).filter(|&u| !relevant[u].is_empty()).collect();
    let lists: Vec<Cow<'_, [u32]>> = ranked.iter().map(RankedList::item_ids).collect();
    let mut out = BTreeMap::new();
    for m in metrics {
        for &k in ks {
            let vals: Vec<f64> = users.iter().map(|&u| m.per_user(&lists[u], &relevant[u], k)).collect();
            out.insert(format!("{}@{k}", m.name()), bootstrap_ci(&vals, resamples, seed));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // ranked: 7 3 9 1 5 ; relevant: {1, 3, 8} → hits at ranks 1 and 3 (0-based).
    const R: &[u32] = &[7, 3, 9, 1, 5];
    const T: &[u32] = &[1, 3, 8];

    #[test]
    fn hand_computed_values() {
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        close(Recall.per_user(R, T, 5), 2.0 / 3.0);
        close(Recall.per_user(R, T, 2), 1.0 / 3.0);
        close(Precision.per_user(R, T, 5), 2.0 / 5.0);
        close(Precision.per_user(R, T, 1), 0.0);
        close(Hit.per_user(R, T, 1), 0.0);
        close(Hit.per_user(R, T, 2), 1.0);
        close(Mrr.per_user(R, T, 5), 0.5);
        close(Mrr.per_user(R, T, 1), 0.0);
        // DCG = 1/log2(3) + 1/log2(5); IDCG (3 relevant, K=5) = 1 + 1/log2(3) + 1/log2(4)
        let dcg = 1.0 / 3f64.log2() + 1.0 / 5f64.log2();
        close(Ndcg.per_user(R, T, 5), dcg / (1.0 + 1.0 / 3f64.log2() + 0.5));
        // K=2: DCG = 1/log2(3); IDCG = 1 + 1/log2(3)
        close(Ndcg.per_user(R, T, 2), (1.0 / 3f64.log2()) / (1.0 + 1.0 / 3f64.log2()));
        close(Ndcg.per_user(&[1, 3, 8], T, 3), 1.0);
        // A list shorter than K (model could not score more) just has fewer hits.
        close(Recall.per_user(&[8], T, 10), 1.0 / 3.0);
    }

    #[test]
    fn unsorted_or_repeated_relevant_sets_give_the_same_numbers() {
        // The trap: [8, 3, 1] used to give recall 0 (binary search on an unsorted slice).
        for m in STANDARD_METRICS {
            for k in [1, 2, 5] {
                let want = m.per_user(R, T, k);
                for t in [&[8u32, 3, 1][..], &[3, 8, 1, 3, 1], &[8, 8, 1, 3]] {
                    assert_eq!(m.per_user(R, t, k), want, "{}@{k} with {t:?}", m.name());
                }
            }
        }
        assert!((Recall.per_user(R, &[8, 3, 1], 5) - 2.0 / 3.0).abs() < 1e-12);
        let e = evaluate_ranking(&[&Recall], &[5], &[R.to_vec()], &[], 0, 0).unwrap_err().to_string();
        assert!(e.contains("1 ranked lists for 0 relevant sets"), "{e}");
    }

    #[test]
    fn users_without_truth_are_skipped() {
        let ranked = vec![R.to_vec(), vec![1, 2], vec![4]];
        let relevant = vec![T.to_vec(), vec![], vec![4]];
        let m = evaluate_ranking(&[&Recall], &[5], &ranked, &relevant, 0, 0).unwrap();
        let e = &m["recall@5"];
        assert_eq!(e.n, 2);
        assert!((e.mean - (2.0 / 3.0 + 1.0) / 2.0).abs() < 1e-12);
        // (item, score) lists — what an index search returns — give the same numbers.
        let scored: Vec<Vec<(u32, f32)>> = ranked.iter().map(|l| l.iter().enumerate().map(|(r, &i)| (i, -(r as f32))).collect()).collect();
        assert_eq!(evaluate_ranking(&[&Recall], &[5], &scored, &relevant, 0, 0).unwrap(), m);
    }
}

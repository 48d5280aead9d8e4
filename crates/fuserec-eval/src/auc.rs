//! AUC with ties counted ½ (mid-ranks), and GAUC: per-user AUC averaged with impression weights
//! over users who have both a positive and a negative.

use fuserec_core::{Error, Result};

/// AUC of `scores` against `labels` (one per impression). `Ok(None)` when there is no positive
/// or no negative (AUC undefined) or a score is NaN; an error when the lengths differ.
pub fn auc(labels: &[bool], scores: &[f32]) -> Result<Option<f64>> {
    if labels.len() != scores.len() {
        return Err(Error::Shape(format!("auc: {} labels, {} scores", labels.len(), scores.len())));
    }
    Ok(auc_of(labels, scores))
}

fn auc_of(labels: &[bool], scores: &[f32]) -> Option<f64> {
    if scores.iter().any(|s| s.is_nan()) {
        return None;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut i) = (0.0f64, 0usize);
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let mid = (i + j) as f64 / 2.0 + 1.0; // 1-based mid-rank of the tie group
        rank_sum += idx[i..=j].iter().filter(|&&k| labels[k]).count() as f64 * mid;
        i = j + 1;
    }
    let p = labels.iter().filter(|&&l| l).count() as f64;
    let n = labels.len() as f64 - p;
    if p == 0.0 || n == 0.0 {
        return None;
    }
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// Impression-weighted mean of per-user AUC over users with both a positive and a negative:
/// `Ok(Some((gauc, users counted)))`, `Ok(None)` when no user counts; an error when the three
/// slices differ in length.
pub fn gauc(users: &[u32], labels: &[bool], scores: &[f32]) -> Result<Option<(f64, usize)>> {
    if users.len() != labels.len() || labels.len() != scores.len() {
        return Err(Error::Shape(format!("gauc: {} users, {} labels, {} scores", users.len(), labels.len(), scores.len())));
    }
    let mut by_user: std::collections::BTreeMap<u32, Vec<usize>> = Default::default();
    for (i, &u) in users.iter().enumerate() {
        by_user.entry(u).or_default().push(i);
    }
    let (mut num, mut den, mut n) = (0.0, 0.0, 0);
    for rows in by_user.values() {
        let l: Vec<bool> = rows.iter().map(|&i| labels[i]).collect();
        let s: Vec<f32> = rows.iter().map(|&i| scores[i]).collect();
        if let Some(a) = auc_of(&l, &s) {
            num += a * rows.len() as f64;
            den += rows.len() as f64;
            n += 1;
        }
    }
    Ok((n > 0).then(|| (num / den, n)))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn hand_computed_auc_with_ties() {
        // positives 0.8, 0.4 ; negatives 0.4, 0.1 → pairs: (0.8>0.4)=1 (0.8>0.1)=1 (0.4=0.4)=½ (0.4>0.1)=1
        let a = auc(&[true, true, false, false], &[0.8, 0.4, 0.4, 0.1]).unwrap().unwrap();
        assert!((a - 3.5 / 4.0).abs() < 1e-12);
        assert_eq!(auc(&[true, false], &[0.0, 1.0]).unwrap(), Some(0.0));
        assert_eq!(auc(&[true, true], &[0.0, 1.0]).unwrap(), None);
        assert_eq!(auc(&[true, false], &[f32::NAN, 1.0]).unwrap(), None);
        assert_eq!(auc(&[true, false, true], &[0.5, 0.5, 0.5]).unwrap(), Some(0.5));
        // A length mismatch is an error, not a panic.
        assert!(auc(&[true, false], &[0.5]).unwrap_err().to_string().contains("2 labels, 1 scores"));
    }
    #[test]
    fn hand_computed_gauc() {
        // user 1: 3 impressions, AUC 1 ; user 2: 2 impressions, AUC 0 ; user 3: only positives.
        let users = [1, 1, 1, 2, 2, 3];
        let labels = [true, false, false, true, false, true];
        let scores = [0.9, 0.1, 0.2, 0.1, 0.9, 0.5];
        let (g, n) = gauc(&users, &labels, &scores).unwrap().unwrap();
        assert_eq!(n, 2);
        assert!((g - 3.0 / 5.0).abs() < 1e-12);
        assert!(gauc(&users[..5], &labels, &scores).is_err());
    }
}

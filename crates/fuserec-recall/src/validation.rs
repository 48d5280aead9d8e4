//! Validation: Recall@K on the validation interactions, per segment, for early stopping and
//! hyper-parameter search. The test interactions are never read here.
//!
//! Users are ranked with their training positives as history (masked); OVERALL ranks every item
//! except the split's test-cold ones, WARM the items that are not cold validation items, COLD the
//! cold validation items. A selection metric folds the three into one number.

use crate::recommender::TrainData;
use fuserec_core::{Error, Result, Rng};
use fuserec_eval::{Recall, evaluate_ranking};
use fuserec_index::{Candidates, rank_dense};

/// Cut-off of every validation recall.
pub const VAL_K: usize = 20;

/// What model selection maximises on validation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Selection {
    /// Validation OVERALL recall.
    Overall,
    /// Validation WARM recall.
    Warm,
    /// Validation COLD recall.
    Cold,
    /// Mean of the OVERALL, WARM and COLD recalls (of the segments that have validation users):
    /// a model cannot win selection by giving up one segment.
    #[default]
    MeanOfSegments,
}

/// Validation Recall@[`VAL_K`] per segment; `None` where the segment has no validation users.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ValScores {
    /// All validation users.
    pub overall: Option<f64>,
    /// Validation users with a warm relevant item.
    pub warm: Option<f64>,
    /// Validation users with a cold-validation relevant item.
    pub cold: Option<f64>,
}

impl ValScores {
    /// The score `s` maximises (a missing segment counts 0).
    pub fn select(&self, s: Selection) -> f64 {
        let pick = |x: Option<f64>| x.unwrap_or(0.0);
        match s {
            Selection::Overall => pick(self.overall),
            Selection::Warm => pick(self.warm),
            Selection::Cold => pick(self.cold),
            Selection::MeanOfSegments => {
                let v: Vec<f64> = [self.overall, self.warm, self.cold].into_iter().flatten().collect();
                if v.is_empty() { 0.0 } else { v.iter().sum::<f64>() / v.len() as f64 }
            }
        }
    }
}

/// Early stopping on a validation score: keeps the best score and the state it came with (a
/// checkpoint, a table snapshot); a tie is not an improvement; `patience` validations without
/// an improvement say stop (0 = never).
pub struct EarlyStopping<S> {
    patience: usize,
    since: usize,
    best: Option<(f64, S)>,
}

/// What an [`EarlyStopping::observe`] call concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A new best; its state was kept.
    Improved,
    /// No better, patience left.
    Continue,
    /// Patience ran out.
    Stop,
}

impl<S> EarlyStopping<S> {
    /// Stops after `patience` validations without improvement (0: never).
    pub fn new(patience: usize) -> Self {
        EarlyStopping { patience, since: 0, best: None }
    }

    /// Records `score`; `state` is called (and kept) only when it improves on the best so far.
    pub fn observe(&mut self, score: f64, state: impl FnOnce() -> S) -> Verdict {
        if self.best.as_ref().is_none_or(|b| score > b.0) {
            self.best = Some((score, state()));
            self.since = 0;
            return Verdict::Improved;
        }
        self.since += 1;
        if self.patience > 0 && self.since >= self.patience { Verdict::Stop } else { Verdict::Continue }
    }

    /// The state of the best score, if any score was observed.
    pub fn into_best(self) -> Option<S> {
        self.best.map(|b| b.1)
    }
}

/// Users with a validation positive, at most `cap` of them (a seeded sample), ascending.
pub fn validation_users(data: &TrainData, cap: usize, seed: u64) -> Vec<u32> {
    let mut has = vec![false; data.n_users];
    data.val.iter().filter(|x| x.is_positive()).for_each(|x| has[x.user.idx()] = true);
    let mut users: Vec<u32> = (0..data.n_users as u32).filter(|&u| has[u as usize]).collect();
    if users.len() > cap {
        Rng::derive(seed, 0x7a1).shuffle(&mut users);
        users.truncate(cap);
        users.sort_unstable();
    }
    users
}

/// Fills `out` (`users × n_items`) with scores for `users` given their training positives.
pub type ScoreFn<'a> = dyn FnMut(&[u32], &[&[u32]], &mut [f32]) -> Result<()> + 'a;

/// Scores `users` with `score` (rows of `n_items`; histories are the users' training positives)
/// and returns validation recall per segment.
pub fn validate(data: &TrainData, users: &[u32], score: &mut ScoreFn) -> Result<ValScores> {
    let n = data.n_items;
    let mut truth: [Vec<Vec<u32>>; 3] = Default::default();
    for t in truth.iter_mut() {
        *t = vec![Vec::new(); data.n_users];
    }
    for x in data.val.iter().filter(|x| x.is_positive()) {
        let (u, i) = (x.user.idx(), x.item.0);
        if data.hidden[i as usize] {
            return Err(Error::Invalid(format!("validation: item {i} is a test-cold item but has a validation interaction")));
        }
        truth[0][u].push(i);
        truth[if data.cold_val[i as usize] { 2 } else { 1 }][u].push(i);
    }
    truth.iter_mut().flatten().for_each(|v| {
        v.sort_unstable();
        v.dedup();
    });
    let overall: Vec<bool> = data.hidden.iter().map(|h| !h).collect();
    let warm: Vec<bool> = (0..n).map(|i| !data.hidden[i] && !data.cold_val[i]).collect();
    let allowed: [&[bool]; 3] = [&overall, &warm, &data.cold_val];
    let mut lists: [Vec<Vec<u32>>; 3] = Default::default();
    let mut rel: [Vec<Vec<u32>>; 3] = Default::default();
    const BATCH: usize = 256;
    let mut buf = vec![0f32; BATCH.min(users.len().max(1)) * n];
    for chunk in users.chunks(BATCH) {
        let hist: Vec<&[u32]> = chunk.iter().map(|&u| data.user_items[u as usize].as_slice()).collect();
        let exclude: Vec<Vec<u32>> = hist.iter().map(|h| h.to_vec()).collect();
        let out = &mut buf[..chunk.len() * n];
        score(chunk, &hist, out)?;
        for s in 0..3 {
            let mut scores = out.to_vec();
            let ranked = rank_dense(&mut scores, n, VAL_K, Candidates { exclude: Some(&exclude), allowed: Some(allowed[s]) })?;
            for (r, &u) in ranked.into_iter().zip(chunk) {
                if !truth[s][u as usize].is_empty() {
                    lists[s].push(r.into_iter().map(|x| x.0).collect());
                    rel[s].push(truth[s][u as usize].clone());
                }
            }
        }
    }
    let recall = |s: usize| -> Result<Option<f64>> {
        if rel[s].is_empty() {
            return Ok(None);
        }
        Ok(Some(evaluate_ranking(&[&Recall], &[VAL_K], &lists[s], &rel[s], 0, 0)?[&format!("recall@{VAL_K}")].mean))
    };
    Ok(ValScores { overall: recall(0)?, warm: recall(1)?, cold: recall(2)? })
}

/// [`validate`] for a fitted [`crate::Recommender`].
pub fn validate_model(model: &dyn crate::Recommender, data: &TrainData, users: &[u32]) -> Result<ValScores> {
    validate(data, users, &mut |u, h, out| {
        model.score(u, h, out);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn early_stopping_keeps_the_best_state_and_counts_patience() {
        let mut e = EarlyStopping::new(2);
        assert_eq!(e.observe(0.3, || "a"), Verdict::Improved);
        assert_eq!(e.observe(0.3, || "tie"), Verdict::Continue, "a tie is not an improvement");
        assert_eq!(e.observe(0.5, || "b"), Verdict::Improved);
        assert_eq!(e.observe(0.4, || "c"), Verdict::Continue);
        assert_eq!(e.observe(0.1, || "d"), Verdict::Stop);
        assert_eq!(e.into_best(), Some("b"));
        let mut never = EarlyStopping::new(0);
        never.observe(1.0, || ());
        assert!((0..10).all(|_| never.observe(0.0, || ()) == Verdict::Continue));
    }
    use fuserec_core::{Interaction, ItemId, UserId};

    fn pos(u: u32, i: u32) -> Interaction {
        Interaction { user: UserId(u), item: ItemId(i), ts: 0, label: 1.0, weight: 1.0 }
    }

    /// Items 0..4 warm, 4 a cold validation item, 5 test-cold (hidden). The scorer ranks items by
    /// a fixed score vector; validation recall per segment is counted by hand.
    #[test]
    fn segments_and_selection_by_hand() {
        let train = [pos(0, 0), pos(1, 1)];
        let val = [pos(0, 2), pos(0, 4), pos(1, 3)];
        let mut data = TrainData::new(2, 6, &train, &val, None);
        data.cold_val = vec![false, false, false, false, true, false];
        data.hidden = vec![false, false, false, false, false, true];
        // The hidden item 5 scores highest (it must never be returned); item 3 is unscorable
        // (−inf), so whoever needs it misses it whatever K is.
        let mut scorer = |users: &[u32], _h: &[&[u32]], out: &mut [f32]| {
            for (r, &u) in users.iter().enumerate() {
                let row = &mut out[r * 6..(r + 1) * 6];
                row.copy_from_slice(&[3.0, 2.0, 4.0, f32::NEG_INFINITY, 5.0, 9.0]);
                if u == 1 {
                    row[2] = 1.0;
                }
            }
            Ok(())
        };
        let v = validate(&data, &[0, 1], &mut scorer).unwrap();
        // OVERALL: user 0 finds {2, 4} of {2, 4} → 1; user 1 misses 3 (−inf) → 0. Mean 0.5.
        assert_eq!(v.overall, Some(0.5));
        // WARM: user 0 truth {2} found → 1; user 1 truth {3} → 0. COLD: user 0 truth {4} → 1.
        assert_eq!(v.warm, Some(0.5));
        assert_eq!(v.cold, Some(1.0));
        assert!((v.select(Selection::MeanOfSegments) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(v.select(Selection::Cold), 1.0);
        // A hidden (test-cold) item with a validation interaction is a broken split.
        let bad = [pos(0, 5)];
        let mut d2 = TrainData::new(2, 6, &train, &bad, None);
        d2.hidden = data.hidden.clone();
        assert!(validate(&d2, &[0], &mut scorer).is_err());
        // No cold validation items: COLD is None and the mean is over two segments.
        let plain = TrainData::new(2, 6, &train, &val[..1], None);
        let v = validate(&plain, &[0], &mut scorer).unwrap();
        assert_eq!((v.overall, v.warm, v.cold), (Some(1.0), Some(1.0), None));
        assert_eq!(v.select(Selection::MeanOfSegments), 1.0);
    }
}

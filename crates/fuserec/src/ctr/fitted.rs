//! One fitted CTR model kept in memory to score impressions it has not seen: what
//! [`fit_model`](super::fit_model) returns and the Python package's `Ctr.predict_proba` calls.

use super::run::{Scores, batch};
use fuserec_core::{Error, Interaction, ItemId, Result, UserId};
use fuserec_data::ctr::CtrSamples;
use fuserec_nn::Dev;
use fuserec_towers::ctr::{Din, Make, predict};

/// One CTR model trained on a split, ready to score `(user, item, time)` impressions.
pub struct FittedCtr {
    /// Its name in [`CTR_MODELS`](super::CTR_MODELS).
    pub model: String,
    /// The seed it was trained with.
    pub seed: u64,
    /// Its test-set scores (the experiment's row for this model and seed).
    pub scores: Scores,
    /// Mean training loss of the last epoch.
    pub final_train_loss: f32,
    /// Hash of the split it was trained on.
    pub split: String,
    pub(super) dev: Dev,
    pub(super) din: Din,
    pub(super) make: Option<Make>,
    /// The interactions behaviour sequences are read from (training ones unless the split is
    /// globally temporal, as in training).
    pub(super) log: Vec<Interaction>,
    pub(super) n_users: usize,
    pub(super) n_items: usize,
    pub(super) history: usize,
}

impl FittedCtr {
    /// Click probability of each impression `(user, item, time)`; the user's behaviour sequence
    /// is their clicks strictly before `time` in the model's log (`i64::MAX`: every click it
    /// knows). Users and items are internal indices; one outside the model is an error.
    pub fn predict_proba(&self, impressions: &[(u32, u32, i64)]) -> Result<Vec<f32>> {
        let mut events = Vec::with_capacity(impressions.len());
        for (k, &(u, i, ts)) in impressions.iter().enumerate() {
            if u as usize >= self.n_users || i as usize >= self.n_items {
                return Err(Error::Invalid(format!(
                    "impression {k}: user {u} / item {i} outside the model's {} users / {} items",
                    self.n_users, self.n_items
                )));
            }
            events.push(Interaction { user: UserId(u), item: ItemId(i), ts, label: 0.0, weight: 1.0 });
        }
        let s = CtrSamples::build(&events, &self.log, self.n_users, self.history)?;
        let idx: Vec<usize> = (0..s.len()).collect();
        let mut out = Vec::with_capacity(s.len());
        for c in idx.chunks(1024) {
            fuserec_core::cancel::check()?;
            let logits = predict(&self.dev, &self.din, self.make.as_ref(), &batch(&s, c))?;
            out.extend(logits.into_iter().map(|z| 1.0 / (1.0 + (-z).exp())));
        }
        Ok(out)
    }
}

//! The seam between models and evaluation: a fitted model scores every item for a batch of users.

use crate::features::ItemFeatures;
use fuserec_core::Interaction;

/// What a model may learn from: the training log of one split, plus item content.
pub struct TrainData<'a> {
    /// Number of users (ids `0..n_users`).
    pub n_users: usize,
    /// Number of items (ids `0..n_items`).
    pub n_items: usize,
    /// Every training interaction (clicks and non-click exposures).
    pub train: &'a [Interaction],
    /// Validation interactions (after each user's training ones): early stopping only.
    pub val: &'a [Interaction],
    /// Per user: training positives, sorted and de-duplicated.
    pub user_items: Vec<Vec<u32>>,
    /// Per item: number of training positives.
    pub item_popularity: Vec<u32>,
    /// Item content, when the experiment encoded any.
    pub features: Option<&'a ItemFeatures>,
    /// Per item: a cold *validation* item (no training rows; its interactions are in `val`).
    pub cold_val: Vec<bool>,
    /// Per item: never a candidate in validation (the split's test-cold items).
    pub hidden: Vec<bool>,
    /// What validation (early stopping, hyper-parameter search) maximises.
    pub selection: crate::validation::Selection,
}

impl<'a> TrainData<'a> {
    /// Training data from a split's train and validation logs (no cold validation items, every
    /// item a validation candidate, default selection); see [`with_split`](TrainData::with_split).
    pub fn new(
        n_users: usize,
        n_items: usize,
        train: &'a [Interaction],
        val: &'a [Interaction],
        features: Option<&'a ItemFeatures>,
    ) -> Self {
        let user_items = positives_by_user(n_users, train.iter());
        let mut item_popularity = vec![0u32; n_items];
        user_items.iter().flatten().for_each(|&i| item_popularity[i as usize] += 1);
        TrainData {
            n_users,
            n_items,
            train,
            val,
            user_items,
            item_popularity,
            features,
            cold_val: vec![false; n_items],
            hidden: vec![false; n_items],
            selection: Default::default(),
        }
    }

    /// Validation as the split defines it: its cold validation items form the COLD segment, its
    /// test-cold items are never candidates.
    pub fn with_split(mut self, sp: &fuserec_data::Split, selection: crate::validation::Selection) -> Self {
        self.cold_val = sp.cold_val.clone();
        self.hidden = sp.cold.clone();
        self.selection = selection;
        self
    }
}

/// Sorted, de-duplicated positive items per user.
pub fn positives_by_user<'a>(n_users: usize, xs: impl Iterator<Item = &'a Interaction>) -> Vec<Vec<u32>> {
    let mut out = vec![Vec::new(); n_users];
    for x in xs.filter(|x| x.is_positive()) {
        out[x.user.idx()].push(x.item.0);
    }
    for v in &mut out {
        v.sort_unstable();
        v.dedup();
    }
    out
}

/// A fitted recall model: scores every item for a batch of users. Evaluation ranks, cuts and
/// scores what it returns; every model (baselines, peers, the two-tower) implements it.
pub trait Recommender: Send + Sync {
    /// Display name (with the settings that matter).
    fn name(&self) -> String;
    /// Fills `out` (`users.len() × n_items`, row-major) with scores for `users`, whose known
    /// positives (sorted) are `histories`. `f32::NEG_INFINITY` marks items the model cannot score (it
    /// has no evidence for them); they are never recommended.
    fn score(&self, users: &[u32], histories: &[&[u32]], out: &mut [f32]);
    /// Per-epoch losses and diagnostics, for models that train.
    fn training_log(&self) -> Option<serde_json::Value> {
        None
    }
    /// Item vectors (row = internal item) of a model that scores by inner product with
    /// [`Recommender::user_vectors`]; `None` for models that do not.
    fn item_vectors(&self) -> Option<&fuserec_core::Embeddings> {
        None
    }
    /// User query vectors (row = internal user), beside [`Recommender::item_vectors`].
    fn user_vectors(&self) -> Option<&fuserec_core::Embeddings> {
        None
    }
    /// Everything the model scores with, as named tensors (and a JSON header), so that a saved
    /// model scores exactly as this one without training again; each kind reads it back with
    /// its own `from_state`.
    fn state(&self) -> fuserec_core::Result<fuserec_nn::Checkpoint> {
        Err(fuserec_core::Error::Invalid(format!("{}: this model cannot be saved", self.name())))
    }
}

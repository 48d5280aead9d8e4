//! A model read back from its saved state that scores by inner product of stored user queries
//! and item vectors: what a trained two-tower model scores with (its towers are not needed to
//! rank the users and items it was trained on).

use crate::Recommender;
use fuserec_core::{Embeddings, Error, Result};
use fuserec_nn::Checkpoint;

/// Fills `out` (`users.len() × items`) with `queries[u] · items[i]`: how every model that stores
/// one query vector per user scores.
pub fn score_users(queries: &Embeddings, users: &[u32], items: &Embeddings, out: &mut [f32]) {
    let d = queries.dim();
    let mut q = Vec::with_capacity(users.len() * d);
    users.iter().for_each(|&u| q.extend_from_slice(queries.row(u as usize)));
    let q = Embeddings::from_vec(users.len(), d, q).expect("rows × dim");
    fuserec_index::inner_products(&q, items, out).expect("shapes agree by construction");
}

/// A model that scores `user row · item row`: what a saved two-tower loads as (its stored
/// queries and catalogue vectors are all scoring reads).
pub struct InnerProductModel {
    name: String,
    users: Embeddings,
    items: Embeddings,
    log: Option<serde_json::Value>,
}

/// The header an inner-product state carries beside its two tensors.
#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    name: String,
    log: Option<serde_json::Value>,
}

impl InnerProductModel {
    /// The state of a model that scores `users · itemsᵀ`.
    pub fn state_of(name: &str, users: &Embeddings, items: &Embeddings, log: Option<serde_json::Value>) -> Result<Checkpoint> {
        let mut ck = Checkpoint {
            header: serde_json::to_string(&Header { name: name.to_string(), log }).map_err(|e| Error::Invalid(e.to_string()))?,
            ..Default::default()
        };
        ck.put_embeddings("users", users);
        ck.put_embeddings("items", items);
        Ok(ck)
    }

    /// Builds the model from a state [`state_of`](InnerProductModel::state_of) wrote; mismatched widths are errors.
    pub fn from_state(ck: &Checkpoint) -> Result<Self> {
        let h: Header = serde_json::from_str(&ck.header).map_err(|e| Error::Invalid(format!("inner-product state header: {e}")))?;
        let (users, items) = (ck.embeddings("users")?, ck.embeddings("items")?);
        if users.dim() != items.dim() {
            return Err(Error::Shape(format!("{}: user vectors are {}-d, item vectors {}-d", h.name, users.dim(), items.dim())));
        }
        Ok(InnerProductModel { name: h.name, users, items, log: h.log })
    }
}

impl Recommender for InnerProductModel {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn score(&self, users: &[u32], _histories: &[&[u32]], out: &mut [f32]) {
        score_users(&self.users, users, &self.items, out);
    }
    fn training_log(&self) -> Option<serde_json::Value> {
        self.log.clone()
    }
    fn item_vectors(&self) -> Option<&Embeddings> {
        Some(&self.items)
    }
    fn user_vectors(&self) -> Option<&Embeddings> {
        Some(&self.users)
    }
    fn state(&self) -> Result<Checkpoint> {
        Self::state_of(&self.name, &self.users, &self.items, self.log.clone())
    }
}

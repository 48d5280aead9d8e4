//! The item–item channel: EASE's full-rank linear scores as one more part of the same inner
//! product. A 64-d tower is a low-rank model of who likes what; on a small catalogue a full-rank
//! item–item model (EASE) ranks warm items a little better (MovieLens-100K WARM −2% for the towers
//! alone). The channel adds it without giving up one inner product per (user, item): the query
//! gains the user's positives as a multi-hot row `x_u` (catalogue wide) and an item the column
//! `ρ·B[:, j]/s` of EASE's weights, so the product adds `ρ·(x_u B)_j / s`. `s` (the mean of the
//! validation users' top channel score) puts the channel on the scale of the unit towers; `λ` is
//! picked by the channel's own validation score, `ρ` with the rest of the blend. An item without
//! training positives has a zero column (cold items score by towers and head alone). Vectors grow
//! by the catalogue's size, so the channel is for catalogues up to
//! [`ItemItemConfig::Ease::max_items`] (default 10,000 items: `B` is 400 MB in f32 there).

use crate::ease::{ease_scores, ease_weights};
use crate::recommender::TrainData;
use crate::validation::{ValScores, validate};
use fuserec_core::{Embeddings, Result};

/// Candidate channel weights `ρ` (0: no channel).
pub const ITEM_ITEM_WEIGHTS: &[f32] = &[0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0];

/// Candidate ridge strengths `λ` of EASE (the channel's own validation picks one).
pub const LAMBDAS: &[f64] = &[50.0, 100.0, 200.0, 350.0, 500.0, 800.0, 1200.0, 2000.0];

/// Whether the two-tower adds an item–item channel (`item_item = { kind = "ease" }`, the default).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ItemItemConfig {
    /// No item–item channel.
    None,
    /// EASE's closed form, when the catalogue has at most `max_items` items.
    Ease {
        /// Largest catalogue the channel is built for (`B` is `n²` floats; vectors grow by `n`).
        #[serde(default = "d_max_items")]
        max_items: usize,
    },
}

fn d_max_items() -> usize {
    10_000
}

impl Default for ItemItemConfig {
    fn default() -> Self {
        ItemItemConfig::Ease { max_items: d_max_items() }
    }
}

/// The fitted channel.
#[derive(Clone, Debug)]
pub struct ItemItem {
    /// EASE's ridge strength.
    pub lambda: f64,
    /// `n × n`: row `j` is `B[:, j] / s`.
    pub columns: Embeddings,
}

/// One candidate `λ` and the channel's validation scores alone.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LambdaTrial {
    /// The candidate.
    pub lambda: f64,
    /// Validation recalls of the channel alone.
    pub val: ValScores,
    /// Their selection score.
    pub selection: f64,
}

impl ItemItem {
    /// Fits EASE on the training positives for each of [`LAMBDAS`], keeps the `λ` whose channel
    /// alone scores best on validation (`select`), and scales it by the mean top score of
    /// `users` (validation users) so it sits on the towers' scale.
    pub fn fit(data: &TrainData, users: &[u32], select: &dyn Fn(&ValScores) -> f64) -> Result<(ItemItem, Vec<LambdaTrial>)> {
        let n = data.n_items;
        let mut trials = Vec::new();
        let mut best: Option<(f64, Vec<f32>, f64, f32)> = None;
        for &lambda in LAMBDAS {
            let b = ease_weights(&data.user_items, n, lambda)?;
            // The scale comes from the same scores: the mean top score of users with a history.
            let (mut top_sum, mut with_history) = (0f64, 0usize);
            let val = validate(data, users, &mut |_, hist, out| {
                ease_scores(&b, n, hist, out);
                for (row, _) in out.chunks(n).zip(hist).filter(|(_, h)| !h.is_empty()) {
                    top_sum += row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
                    with_history += 1;
                }
                Ok(())
            })?;
            let selection = select(&val);
            trials.push(LambdaTrial { lambda, val, selection });
            if best.as_ref().is_none_or(|(s, ..)| selection > *s) {
                let s = if with_history > 0 && top_sum > 0.0 { (top_sum / with_history as f64) as f32 } else { 1.0 };
                best = Some((selection, b, lambda, s));
            }
        }
        let (_, b, lambda, s) = best.expect("LAMBDAS is not empty");
        let mut cols = vec![0f32; n * n];
        for h in 0..n {
            for j in 0..n {
                cols[j * n + h] = b[h * n + j] / s;
            }
        }
        Ok((ItemItem { lambda, columns: Embeddings::from_vec(n, n, cols)? }, trials))
    }

    /// Catalogue width.
    pub fn dim(&self) -> usize {
        self.columns.dim()
    }

    /// Multi-hot query rows: 1 at each of a user's positives.
    pub fn queries(&self, histories: &[&[u32]]) -> Result<Embeddings> {
        let n = self.dim();
        let mut q = vec![0f32; histories.len() * n];
        q.chunks_mut(n.max(1)).zip(histories).for_each(|(row, h)| multi_hot(row, h));
        Embeddings::from_vec(histories.len(), n, q)
    }

    /// The channel's scores `(x_u B)_j / s` of each history, `histories.len() × n`.
    pub fn scores(&self, histories: &[&[u32]], out: &mut [f32]) -> Result<()> {
        fuserec_index::inner_products(&self.queries(histories)?, &self.columns, out)
    }
}

/// Sets `row[i] = 1` for each item `i` of `items` (the channel's query part); ids beyond the
/// row are ignored (items added after training co-occur with nothing).
pub fn multi_hot(row: &mut [f32], items: &[u32]) {
    for &i in items {
        if let Some(x) = row.get_mut(i as usize) {
            *x = 1.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::Selection;
    use fuserec_core::{Interaction, ItemId, UserId};

    fn pos(u: u32, i: u32) -> Interaction {
        Interaction { user: UserId(u), item: ItemId(i), ts: 0, label: 1.0, weight: 1.0 }
    }

    /// The channel's inner product is EASE's score over the scale: `x_u·col_j = (x_u B)_j / s`,
    /// with `s` the mean top score of the validation users, and an item without training
    /// positives has a zero column.
    #[test]
    fn inner_products_are_ease_scores_over_the_scale() {
        // Items 0..3 co-occur in pairs; item 4 has no training positive (cold).
        let train = [pos(0, 0), pos(0, 1), pos(1, 1), pos(1, 2), pos(2, 2), pos(2, 3), pos(3, 0), pos(3, 3), pos(4, 0), pos(4, 2)];
        let val = [pos(0, 2), pos(1, 3), pos(2, 0), pos(3, 1)];
        let data = TrainData::new(5, 5, &train, &val, None);
        let users = [0u32, 1, 2, 3];
        let select = |v: &ValScores| v.select(Selection::Overall);
        let (ii, trials) = ItemItem::fit(&data, &users, &select).unwrap();
        assert_eq!(trials.len(), LAMBDAS.len());
        let best = trials.iter().map(|t| t.selection).fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(trials.iter().find(|t| t.lambda == ii.lambda).unwrap().selection, best, "the kept λ scores best");
        let b = ease_weights(&data.user_items, 5, ii.lambda).unwrap();
        let raw = |u: usize, j: usize| data.user_items[u].iter().map(|&h| b[h as usize * 5 + j]).sum::<f32>();
        let top: Vec<f32> = users.iter().map(|&u| (0..5).map(|j| raw(u as usize, j)).fold(f32::NEG_INFINITY, f32::max)).collect();
        let s = top.iter().sum::<f32>() / top.len() as f32;
        assert!(s > 0.0);
        let hist: Vec<&[u32]> = users.iter().map(|&u| data.user_items[u as usize].as_slice()).collect();
        let mut out = vec![0f32; 4 * 5];
        ii.scores(&hist, &mut out).unwrap();
        for (r, &u) in users.iter().enumerate() {
            for j in 0..5 {
                let want = raw(u as usize, j) / s;
                assert!((out[r * 5 + j] - want).abs() < 1e-5, "user {u} item {j}: {} vs {want}", out[r * 5 + j]);
            }
        }
        assert!(ii.columns.row(4).iter().all(|&x| x == 0.0), "a cold item has no co-occurrence");
        // Multi-hot queries: one 1 per distinct history item, out-of-range ids ignored.
        let q = ii.queries(&[&[1, 1, 3, 9]]).unwrap();
        assert_eq!(q.row(0), &[0.0, 1.0, 0.0, 1.0, 0.0]);
    }
}

//! The item–item channel: EASE's full-rank linear scores as one more part of the same inner
//! product. A 64-d tower is a low-rank model of who likes what; on a small catalogue a full-rank
//! item–item model (EASE) ranks warm items a little better (MovieLens-100K WARM −2% for the towers
//! alone). The channel adds it without giving up one inner product per (user, item): the query
//! gains the user's positives as a multi-hot row `x_u` (catalogue wide) and an item the column
//! `ρ·B[:, j]/s` of EASE's weights, so the product adds `ρ·(x_u B)_j / s`. `s` (the mean of the
//! validation users' top channel score) puts the channel on the scale of the unit towers; `λ` is
//! picked by the channel's own validation score, `ρ` with the rest of the blend. An item without
//! training positives has no column of its own; it borrows the similarity-weighted mean of its
//! content neighbours' ([`borrow_columns`]: what EASE says about items like it), and the blend
//! decides on COLD validation whether never-seen items score by it (weight `σ·ρ`). The final
//! vectors use EASE refitted on training + validation positives ([`ItemItem::refit`]). Vectors grow
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

/// Content neighbours (items with training positives) a never-seen item borrows its row from.
pub const BORROW_NEIGHBOURS: usize = 20;

/// The fitted channel.
#[derive(Clone, Debug)]
pub struct ItemItem {
    /// EASE's ridge strength.
    pub lambda: f64,
    /// `n × n`: row `j` is `B[:, j] / s`; for an item without training positives, the
    /// content-weighted mean of its nearest neighbours' rows ([`borrow_columns`]) or zero.
    pub columns: Embeddings,
    /// Items whose row is borrowed from content neighbours.
    pub borrowed: Vec<bool>,
    /// The scale `s` the columns were divided by.
    pub scale: f32,
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
    /// With `content` (unit or zero rows, one per item), an item without training positives
    /// borrows its column from its content neighbours ([`borrow_columns`]).
    pub fn fit(
        data: &TrainData,
        users: &[u32],
        select: &dyn Fn(&ValScores) -> f64,
        content: Option<&Embeddings>,
    ) -> Result<(ItemItem, Vec<LambdaTrial>)> {
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
        let has: Vec<bool> = data.item_popularity.iter().map(|&c| c > 0).collect();
        Ok((ItemItem::from_weights(&b, n, lambda, s, &has, content)?, trials))
    }

    /// The channel of EASE weights `b` (`n × n`, row-major): column `j` over `s` for items
    /// with training positives (`has`), borrowed rows for the others when `content` is given.
    fn from_weights(b: &[f32], n: usize, lambda: f64, s: f32, has: &[bool], content: Option<&Embeddings>) -> Result<ItemItem> {
        let mut cols = vec![0f32; n * n];
        for h in 0..n {
            for j in (0..n).filter(|&j| has[j]) {
                cols[j * n + h] = b[h * n + j] / s;
            }
        }
        let mut columns = Embeddings::from_vec(n, n, cols)?;
        let borrowed = match content {
            Some(c) => borrow_columns(&mut columns, has, c)?,
            None => vec![false; n],
        };
        Ok(ItemItem { lambda, columns, borrowed, scale: s })
    }

    /// The same channel (`λ`, scale, items with columns) with EASE refitted on `user_items`
    /// (training and validation positives): what the final vectors use, so that a history's
    /// validation items count in the query as they do in the towers. Items without training
    /// positives keep a zero or borrowed row, as in validation.
    pub fn refit(&self, user_items: &[Vec<u32>], has: &[bool], content: Option<&Embeddings>) -> Result<ItemItem> {
        let n = self.dim();
        let b = ease_weights(user_items, n, self.lambda)?;
        ItemItem::from_weights(&b, n, self.lambda, self.scale, has, content)
    }

    /// Zeroes the borrowed rows of items that are not `unseen` (seen items without training
    /// positives, e.g. validation-only ones, get no channel score).
    pub fn keep_borrowed_only(&mut self, unseen: &[bool]) {
        for i in 0..self.borrowed.len() {
            if self.borrowed[i] && !unseen.get(i).copied().unwrap_or(false) {
                self.borrowed[i] = false;
                self.columns.row_mut(i).fill(0.0);
            }
        }
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

/// The row a never-seen item borrows: the mean of the rows of its [`BORROW_NEIGHBOURS`] most
/// content-similar candidates (`sims[k]` is candidate `k`'s similarity, `columns.row(ids[k])` its
/// row), weighted by similarity; only positive similarities count (`None`: none does).
pub fn borrowed_row(sims: &[f32], ids: &[usize], columns: &Embeddings) -> Option<Vec<f32>> {
    let mut order: Vec<usize> = (0..sims.len().min(ids.len())).filter(|&k| sims[k] > 0.0).collect();
    let k = BORROW_NEIGHBOURS.min(order.len());
    if k == 0 {
        return None;
    }
    order.select_nth_unstable_by(k - 1, |&a, &b| sims[b].total_cmp(&sims[a]));
    let total: f32 = order[..k].iter().map(|&j| sims[j]).sum();
    let mut row = vec![0f32; columns.dim()];
    for &j in &order[..k] {
        let w = sims[j] / total;
        row.iter_mut().zip(columns.row(ids[j])).for_each(|(o, x)| *o += w * x);
    }
    Some(row)
}

/// Gives each item without training positives (`!has[i]`) the row [`borrowed_row`] mixes from
/// the items with positives, by the inner product of their `content` rows (unit or zero): its
/// channel score becomes the similarity-weighted mean of what EASE says about the items its
/// content resembles. Returns which rows were borrowed (an item without content, or without a
/// positive similarity, keeps its zero row).
pub fn borrow_columns(columns: &mut Embeddings, has: &[bool], content: &Embeddings) -> Result<Vec<bool>> {
    let n = columns.rows();
    if content.rows() != n || has.len() != n {
        return Err(fuserec_core::Error::Shape(format!("item–item: {} content rows, {} flags for {n} items", content.rows(), has.len())));
    }
    let gather = |ids: &[usize]| -> Result<Embeddings> {
        let mut x = Vec::with_capacity(ids.len() * content.dim());
        ids.iter().for_each(|&i| x.extend_from_slice(content.row(i)));
        Embeddings::from_vec(ids.len(), content.dim(), x)
    };
    let warm: Vec<usize> = (0..n).filter(|&i| has[i]).collect();
    let cold: Vec<usize> = (0..n).filter(|&i| !has[i] && content.row(i).iter().any(|&x| x != 0.0)).collect();
    let mut borrowed = vec![false; n];
    if warm.is_empty() || cold.is_empty() {
        return Ok(borrowed);
    }
    let mut sims = vec![0f32; cold.len() * warm.len()];
    fuserec_index::inner_products(&gather(&cold)?, &gather(&warm)?, &mut sims)?;
    for (&c, sim) in cold.iter().zip(sims.chunks(warm.len())) {
        if let Some(row) = borrowed_row(sim, &warm, columns) {
            columns.row_mut(c).copy_from_slice(&row);
            borrowed[c] = true;
        }
    }
    Ok(borrowed)
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
        let (ii, trials) = ItemItem::fit(&data, &users, &select, None).unwrap();
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

    /// Warm items 0..25 have one-hot rows (`e_i`), so a borrowed row reads as its weights: the
    /// 20 most similar warm items, each by its similarity over their sum; negative similarities
    /// and the 5 least similar positive ones get nothing. A cold item without content borrows
    /// nothing; only never-seen items keep their borrowed rows.
    #[test]
    fn a_cold_item_borrows_its_content_neighbours_rows() {
        let n = 28;
        let mut columns = Embeddings::zeros(n, n);
        (0..25).for_each(|i| columns.row_mut(i)[i] = 1.0);
        // Content in 2-d: warm item i at angle 0.05·i from item 25's direction (cos falls with
        // i); items 25 and 26 are cold, 27 cold without content.
        let mut content = Embeddings::zeros(n, 2);
        for i in 0..25 {
            let a = 0.05 * i as f32 + if i >= 22 { 2.0 } else { 0.0 }; // 22..25 point away
            content.row_mut(i).copy_from_slice(&[a.cos(), a.sin()]);
        }
        content.row_mut(25).copy_from_slice(&[1.0, 0.0]);
        content.row_mut(26).copy_from_slice(&[-1.0, 0.0]);
        let has: Vec<bool> = (0..n).map(|i| i < 25).collect();
        let borrowed = borrow_columns(&mut columns, &has, &content).unwrap();
        assert_eq!(borrowed, (0..n).map(|i| i == 25 || i == 26).collect::<Vec<_>>());
        let sims: Vec<f32> = (0..25).map(|i| content.row(i)[0]).collect();
        // Item 25: cosines 1, cos 0.05, … for 0..22, negative for 22..25: the top 20 are 0..20.
        let total: f32 = sims[..20].iter().sum();
        for (j, &got) in columns.row(25).iter().enumerate() {
            let want = if j < 20 { sims[j] / total } else { 0.0 };
            assert!((got - want).abs() < 1e-6, "item 25, weight of {j}: {got} vs {want}");
        }
        // Item 26 points the other way: only 22..25 are similar, all three count.
        let sims26: Vec<f32> = (22..25).map(|i| -content.row(i)[0]).collect();
        let total: f32 = sims26.iter().sum();
        for (k, j) in (22..25).enumerate() {
            assert!((columns.row(26)[j] - sims26[k] / total).abs() < 1e-6);
        }
        assert!((columns.row(26).iter().sum::<f32>() - 1.0).abs() < 1e-6 && columns.row(27).iter().all(|&x| x == 0.0));
        // Warm rows are untouched.
        assert_eq!(columns.row(3)[3], 1.0);
        let mut ii = ItemItem { lambda: 1.0, columns, borrowed, scale: 1.0 };
        ii.keep_borrowed_only(&(0..n).map(|i| i == 26).collect::<Vec<_>>());
        assert!(ii.columns.row(25).iter().all(|&x| x == 0.0) && !ii.borrowed[25], "a seen item keeps no borrowed row");
        assert!(ii.borrowed[26] && ii.columns.row(26)[22] > 0.0);
    }

    /// The refit channel is EASE on the larger set of positives over the same scale and `λ`,
    /// with columns only for the items that had training positives.
    #[test]
    fn the_refit_channel_is_ease_on_all_positives_with_the_training_columns() {
        let train = [pos(0, 0), pos(0, 1), pos(1, 1), pos(1, 2), pos(2, 0), pos(2, 2), pos(3, 1)];
        let val = [pos(3, 3), pos(0, 3), pos(1, 0)];
        let data = TrainData::new(4, 4, &train, &val, None);
        let select = |v: &ValScores| v.select(crate::validation::Selection::Overall);
        let (ii, _) = ItemItem::fit(&data, &[0, 1, 2, 3], &select, None).unwrap();
        let all: Vec<Interaction> = train.iter().chain(&val).copied().collect();
        let all_pos = crate::recommender::positives_by_user(4, all.iter());
        let has: Vec<bool> = data.item_popularity.iter().map(|&c| c > 0).collect();
        assert_eq!(has, [true, true, true, false]);
        let re = ii.refit(&all_pos, &has, None).unwrap();
        let b = ease_weights(&all_pos, 4, ii.lambda).unwrap();
        assert_eq!((re.lambda, re.scale), (ii.lambda, ii.scale));
        for j in 0..4 {
            for h in 0..4 {
                let want = if has[j] { b[h * 4 + j] / ii.scale } else { 0.0 };
                assert!((re.columns.row(j)[h] - want).abs() < 1e-6, "column {j}, row {h}");
            }
        }
        // Item 3's validation positives now weigh on the other items' columns.
        assert!(b[3 * 4 + 1] != 0.0 && re.columns.row(1)[3] != 0.0);
    }
}

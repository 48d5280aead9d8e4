use crate::recommender::{Recommender, TrainData};
use fuserec_core::{Error, Result};
use fuserec_data::progress::bar;
use fuserec_nn::Checkpoint;
use rayon::prelude::*;

/// Item-based collaborative filtering: cosine of co-occurrence, `|U_i ∩ U_j| / √(|U_i|·|U_j|)`,
/// top `neighbours` per item; a user's score for `j` sums the similarities from their history.
/// Cold items co-occur with nothing, so it cannot score them.
pub struct ItemKnn {
    neighbours: Vec<Vec<(u32, f32)>>,
    n_items: usize,
    k: usize,
}

impl ItemKnn {
    /// Keeps each item's `k` most cosine-similar items (over training positives).
    pub fn fit(data: &TrainData, k: usize) -> Self {
        let n = data.n_items;
        let mut item_users: Vec<Vec<u32>> = vec![Vec::new(); n];
        for (u, items) in data.user_items.iter().enumerate() {
            items.iter().for_each(|&i| item_users[i as usize].push(u as u32));
        }
        let pb = bar(n as u64, "item-knn similarities");
        let neighbours = (0..n)
            .into_par_iter()
            .map_init(
                || vec![0u32; n],
                |counts, i| {
                    let mut touched = Vec::new();
                    for &u in &item_users[i] {
                        for &j in &data.user_items[u as usize] {
                            if j as usize != i {
                                if counts[j as usize] == 0 {
                                    touched.push(j);
                                }
                                counts[j as usize] += 1;
                            }
                        }
                    }
                    let ni = item_users[i].len() as f32;
                    let mut sims: Vec<(u32, f32)> = touched
                        .iter()
                        .map(|&j| {
                            let c = std::mem::take(&mut counts[j as usize]) as f32;
                            (j, c / (ni * item_users[j as usize].len() as f32).sqrt())
                        })
                        .collect();
                    let keep = k.min(sims.len());
                    if keep < sims.len() {
                        sims.select_nth_unstable_by(keep, |a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                        sims.truncate(keep);
                    }
                    pb.inc(1);
                    sims
                },
            )
            .collect();
        pb.finish_and_clear();
        ItemKnn { neighbours, n_items: n, k }
    }
}

impl Recommender for ItemKnn {
    fn name(&self) -> String {
        format!("ItemKNN(k={})", self.k)
    }
    fn score(&self, _users: &[u32], histories: &[&[u32]], out: &mut [f32]) {
        out.par_chunks_mut(self.n_items).zip(histories.par_iter()).for_each(|(row, hist)| {
            row.fill(0.0);
            for &h in hist.iter() {
                for &(j, s) in &self.neighbours[h as usize] {
                    row[j as usize] += s;
                }
            }
            row.iter_mut().filter(|x| **x == 0.0).for_each(|x| *x = f32::NEG_INFINITY);
        });
    }
    /// The neighbour lists flattened: their lengths, then every (item, similarity) in order.
    fn state(&self) -> Result<Checkpoint> {
        let mut ck =
            Checkpoint { header: serde_json::to_string(&(self.n_items, self.k)).expect("numbers serialise"), ..Default::default() };
        ck.put_indices("lengths", &self.neighbours.iter().map(|l| l.len() as u32).collect::<Vec<_>>())?;
        ck.put_indices("neighbour_items", &self.neighbours.iter().flatten().map(|p| p.0).collect::<Vec<_>>())?;
        ck.put_vector("neighbour_similarities", &self.neighbours.iter().flatten().map(|p| p.1).collect::<Vec<_>>());
        Ok(ck)
    }
}

impl ItemKnn {
    /// Rebuilds the model from its saved state; a malformed state is an error.
    pub fn from_state(ck: &Checkpoint) -> Result<Self> {
        let (n_items, k): (usize, usize) =
            serde_json::from_str(&ck.header).map_err(|e| Error::Invalid(format!("item-knn: state header: {e}")))?;
        let lengths = ck.indices("lengths", n_items, k + 1)?;
        let total: usize = lengths.iter().map(|&l| l as usize).sum();
        let (items, sims) = (ck.indices("neighbour_items", total, n_items)?, ck.vector("neighbour_similarities", total)?);
        let mut at = 0;
        let neighbours = lengths
            .iter()
            .map(|&l| {
                let list = items[at..at + l as usize].iter().copied().zip(sims[at..at + l as usize].iter().copied()).collect();
                at += l as usize;
                list
            })
            .collect();
        Ok(ItemKnn { neighbours, n_items, k })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fuserec_core::{Interaction, ItemId, UserId};

    #[test]
    fn hand_computed_cosine() {
        // users: 0 → {0,1}, 1 → {0,1,2}, 2 → {2}; item 3 never seen.
        let pos = |u, i| Interaction { user: UserId(u), item: ItemId(i), ts: 0, label: 1.0, weight: 1.0 };
        let log = [pos(0, 0), pos(0, 1), pos(1, 0), pos(1, 1), pos(1, 2), pos(2, 2)];
        let data = TrainData::new(3, 4, &log, &[], None);
        let m = ItemKnn::fit(&data, 10);
        let mut out = vec![0.0; 4];
        m.score(&[0], &[&[0]], &mut out);
        // sim(0,1) = 2/√(2·2) = 1 ; sim(0,2) = 1/√(2·2) = 0.5 ; item 3 unscorable; item 0 itself 0 → -inf
        assert_eq!(out, vec![f32::NEG_INFINITY, 1.0, 0.5, f32::NEG_INFINITY]);
    }
}

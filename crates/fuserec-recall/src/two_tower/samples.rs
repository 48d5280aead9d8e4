//! Training and validation samples: one per positive `(user, item, t)`, with the user's positives
//! strictly before it as history and the item's posterior statistics as of `t`.

use fuserec_core::{Interaction, Result, Rng};
use fuserec_data::{CtrPrior, PosteriorStats, clicks_by_user};
use fuserec_towers::History;

/// Per user: positive items in time order (ties by item id).
pub fn sequences(n_users: usize, xs: &[&[Interaction]]) -> Result<Vec<Vec<u32>>> {
    Ok(items_of(&clicks_by_user(n_users, xs)?))
}

/// The items of a timeline (`clicks_by_user`), dropping the times.
pub fn items_of(timeline: &[Vec<(i64, u32)>]) -> Vec<Vec<u32>> {
    timeline.iter().map(|e| e.iter().map(|p| p.1).collect()).collect()
}

/// Creation time per item as the model may know it: its first training event (so a cold item has
/// none, and its age is 0 — nothing about the test period leaks in).
pub fn first_seen(n_items: usize, train: &[Interaction]) -> Vec<Option<i64>> {
    let mut first = vec![None::<i64>; n_items];
    for x in train {
        let f = &mut first[x.item.idx()];
        *f = Some(f.map_or(x.ts, |t| t.min(x.ts)));
    }
    first
}

/// Gate features of an item never seen: what a cold item looks like to the gate.
pub fn cold_gate_features() -> [f32; 4] {
    fuserec_core::ItemStats { exposures: 0.0, clicks: 0.0, smoothed_ctr: CtrPrior::default().prior_ctr, age_days: 0.0 }.gate_features()
}

pub fn stats(n_items: usize, train: &[Interaction]) -> PosteriorStats {
    PosteriorStats::new(train, first_seen(n_items, train), CtrPrior::default())
}

/// Training samples (one per positive): user, item, time, history end and gate features.
pub struct Samples {
    /// User per sample.
    pub users: Vec<u32>,
    /// Item per sample.
    pub items: Vec<u32>,
    /// Time per sample.
    pub ts: Vec<i64>,
    /// History = `seq[user][end − len .. end]`.
    pub hist_end: Vec<u32>,
    /// `4` gate features per sample (statistics as of the sample's time).
    pub gate: Vec<f32>,
}

impl Samples {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.items.len()
    }
    /// True when there is no sample.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Training samples: every positive of the training `timeline` (`clicks_by_user`), history =
    /// earlier positives of the same user (positions in `items_of(timeline)`).
    pub fn training(timeline: &[Vec<(i64, u32)>], stats: &PosteriorStats) -> Self {
        let mut s = Samples { users: Vec::new(), items: Vec::new(), ts: Vec::new(), hist_end: Vec::new(), gate: Vec::new() };
        for (u, ev) in timeline.iter().enumerate() {
            for (k, &(t, item)) in ev.iter().enumerate() {
                s.users.push(u as u32);
                s.items.push(item);
                s.ts.push(t);
                s.hist_end.push(k as u32);
                s.gate.extend(stats.at(item as usize, t).gate_features());
            }
        }
        s
    }

    /// Samples for later positives (validation): history = the whole of `seq[user]`.
    pub fn after(xs: &[Interaction], seq: &[Vec<u32>], stats: &PosteriorStats) -> Self {
        let mut s = Samples { users: Vec::new(), items: Vec::new(), ts: Vec::new(), hist_end: Vec::new(), gate: Vec::new() };
        for x in xs.iter().filter(|x| x.is_positive()) {
            s.users.push(x.user.0);
            s.items.push(x.item.0);
            s.ts.push(x.ts);
            s.hist_end.push(seq[x.user.idx()].len() as u32);
            s.gate.extend(stats.at(x.item.idx(), x.ts).gate_features());
        }
        s
    }

    /// The query inputs of samples `idx`: up to `len` items of each user's sequence `seq`.
    pub fn history(&self, seq: &[Vec<u32>], idx: &[usize], len: usize) -> History {
        let users: Vec<u32> = idx.iter().map(|&i| self.users[i]).collect();
        let lists: Vec<&[u32]> = idx.iter().map(|&i| &seq[self.users[i] as usize][..self.hist_end[i] as usize]).collect();
        History::from_lists(&users, &lists, len)
    }

    /// Histories of training samples as the user's *other* training positives (every position
    /// but the target's, and no other occurrence of the target item), the most recent `len`;
    /// each history item is dropped with probability `dropout` (a draw that would drop every item
    /// keeps the history whole).
    pub fn history_others(&self, seq: &[Vec<u32>], idx: &[usize], len: usize, dropout: f32, rng: &mut Rng) -> History {
        let users: Vec<u32> = idx.iter().map(|&i| self.users[i]).collect();
        let lists: Vec<Vec<u32>> = idx
            .iter()
            .map(|&i| {
                let target = self.items[i];
                let mut l: Vec<u32> = seq[self.users[i] as usize].iter().copied().filter(|&x| x != target).collect();
                if dropout > 0.0 && l.len() > 1 {
                    let kept: Vec<u32> = l.iter().copied().filter(|_| !rng.bernoulli(dropout as f64)).collect();
                    if !kept.is_empty() {
                        l = kept;
                    }
                }
                l
            })
            .collect();
        let refs: Vec<&[u32]> = lists.iter().map(Vec::as_slice).collect();
        History::from_lists(&users, &refs, len)
    }

    /// Gate features of samples `idx`, 4 per sample.
    pub fn gate_rows(&self, idx: &[usize]) -> Vec<f32> {
        idx.iter().flat_map(|&i| self.gate[i * 4..i * 4 + 4].iter().copied()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fuserec_core::{ItemId, UserId};

    fn ev(user: u32, item: u32, ts: i64, label: f32) -> Interaction {
        Interaction { user: UserId(user), item: ItemId(item), ts, label, weight: 1.0 }
    }

    #[test]
    fn history_is_strictly_earlier_and_stats_are_as_of_sample_time() {
        let train = [ev(0, 5, 30, 1.0), ev(0, 3, 10, 1.0), ev(0, 4, 20, 0.0), ev(1, 3, 15, 1.0), ev(0, 3, 25, 1.0)];
        let timeline = clicks_by_user(2, &[&train]).unwrap();
        let seq = items_of(&timeline);
        assert_eq!(seq[0], vec![3, 3, 5]);
        let st = stats(6, &train);
        let s = Samples::training(&timeline, &st);
        assert_eq!(s.len(), 4);
        // user 0's samples in time order: 3@10 (no history), 3@25 (history [3]), 5@30 (history [3, 3]).
        let h = s.history(&seq, &[0, 1, 2], 2);
        assert_eq!(h.mask, vec![0.0, 0.0, 1.0, 0.0, 1.0, 1.0]);
        assert_eq!(&h.items[4..6], &[3, 3]);
        // item 3 at t=25 has seen the events at 10 (user 0) and 15 (user 1): 2 exposures, 2 clicks.
        let g = s.gate_rows(&[1]);
        assert!((g[0] - 2f32.ln_1p()).abs() < 1e-6 && (g[1] - 2f32.ln_1p()).abs() < 1e-6);
        // first sample of item 3: nothing before t=10.
        assert_eq!(s.gate_rows(&[0])[0], 0.0);
        let v = Samples::after(&[ev(1, 5, 99, 1.0), ev(1, 4, 99, 0.0)], &seq, &st);
        assert_eq!((v.len(), v.hist_end[0]), (1, 1));
        // "Others" context: sample 2 (item 5) sees both earlier 3s; samples 0 and 1 (item 3) see
        // only item 5 — no occurrence of their own item, earlier or later.
        let mut rng = Rng::new(1);
        let h = s.history_others(&seq, &[0, 1, 2], 4, 0.0, &mut rng);
        assert_eq!(h.mask, vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
        assert_eq!((h.items[0], h.items[4], &h.items[8..10]), (5, 5, &[3, 3][..]));
        // Dropout never empties a history nor adds to it: at 0.99 nearly every draw would drop
        // both items, which keeps the history whole.
        let h = s.history_others(&seq, &[2], 4, 0.99, &mut rng);
        assert!((1.0..=2.0).contains(&h.mask.iter().sum::<f32>()));
        assert!(h.items[..2].iter().zip(&h.mask[..2]).all(|(&i, &m)| m == 0.0 || i == 3));
    }
}

//! The content affinity head: a parameter-free channel beside the learned towers.
//!
//! A learned 64-d content tower trained on a thousand warm items ranks cold items worse than a
//! plain cosine between an item's centred content and the centroid of the user's history (the
//! `content-centroid` peer). The head adds that cosine to the two-tower score without giving up
//! one inner product per (user, item): the query becomes `[q ; ĥ]` and an item vector
//! `σ·[v ; γ·x̂]` (and, with the item–item channel, `ρ` times its row: see [`Blend`]), where `x̂` is the item's fused content (centred modalities, each L2-normalised,
//! then normalised together), `ĥ` the unit mean of the history's `x̂`, `γ` one weight for items
//! the system has never seen (`beta_cold`: no trained id row and no interaction in the statistics)
//! and one for all others (`alpha_warm`), and `σ` the cold calibration length of never-seen items.
//! The weights are fitted on validation after training (where the cold validation items are the
//! never-seen ones), by the experiment's selection metric; 0 switches the head off for that group.
//! An item that has interactions but no trained row (e.g. a cold validation item at test time)
//! counts as seen: boosting it would push items with no test interactions up every list.

use super::item_item::{ITEM_ITEM_WEIGHTS, ItemItem};
use crate::recommender::TrainData;
use crate::validation::{ValScores, validate};
use fuserec_core::{Embeddings, Result};
use fuserec_index::inner_products;

/// Largest share of WARM validation recall the cold length may cost (against `σ = 1`).
pub const WARM_GUARD: f64 = 0.01;

/// Candidate head weights (0: no head). Cosines lie in [−1, 1] like the unit towers' scores.
pub const HEAD_WEIGHTS: &[f32] = &[0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0];

/// Catalogue rows `x̂` (unit or zero) the head compares.
#[derive(Clone, Debug)]
pub struct ContentHead {
    /// `items × width` rows.
    pub rows: Embeddings,
}

/// How a catalogue's scores are blended: see the module docs.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Blend {
    /// Length of never-seen items' vectors (1: as trained).
    pub cold_scale: f32,
    /// Head weight of items the system has seen.
    pub alpha_warm: f32,
    /// Head weight of never-seen (cold) items, before their length `cold_scale`.
    pub beta_cold: f32,
    /// Weight `ρ` of the item–item channel ([`super::item_item`]; 0: none) for seen items.
    #[serde(default)]
    pub item_item: f32,
    /// Whether never-seen items score by the channel too (weight `σ·ρ`, their rows borrowed
    /// from content neighbours: [`super::item_item::borrow_columns`]).
    #[serde(default)]
    pub borrow: bool,
}

impl Default for Blend {
    fn default() -> Self {
        Blend { cold_scale: 1.0, alpha_warm: 0.0, beta_cold: 0.0, item_item: 0.0, borrow: false }
    }
}

/// One candidate blend and its validation scores.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BlendTrial {
    /// The candidate.
    pub blend: Blend,
    /// Its validation recalls.
    pub val: ValScores,
    /// Its selection score.
    pub selection: f64,
}

impl ContentHead {
    /// A head over `rows`.
    pub fn new(rows: Embeddings) -> Self {
        ContentHead { rows }
    }

    /// Row width.
    pub fn dim(&self) -> usize {
        self.rows.dim()
    }

    /// Unit mean of the history items' rows per user (zero for an empty or content-less history).
    pub fn profiles(&self, histories: &[&[u32]]) -> Embeddings {
        crate::features::centroid_profiles(&self.rows, histories, None)
    }
}

impl Blend {
    /// Per item: the factor on the tower vector, on the head row and on the item–item row.
    pub fn factors(&self, unseen: bool) -> (f32, f32, f32) {
        if unseen {
            (self.cold_scale, self.cold_scale * self.beta_cold, if self.borrow { self.cold_scale * self.item_item } else { 0.0 })
        } else {
            (1.0, self.alpha_warm, self.item_item)
        }
    }

    /// Item vectors `σ·[v ; γ·x̂ ; ρ·b]` (no head columns when `head` is `None`, no item–item
    /// columns `b` when `item_item` is `None`).
    pub fn items(
        &self,
        towers: &Embeddings,
        head: Option<&ContentHead>,
        item_item: Option<&ItemItem>,
        unseen: &[bool],
    ) -> Result<Embeddings> {
        let (n, d) = (towers.rows(), towers.dim());
        let k = head.map_or(0, |h| h.dim()) + item_item.map_or(0, |c| c.dim());
        if unseen.len() != n {
            return Err(fuserec_core::Error::Shape(format!("blend: {} unseen flags for {n} items", unseen.len())));
        }
        let mut out = Vec::with_capacity(n * (d + k));
        for (i, &u) in unseen.iter().enumerate() {
            let (s, g, r) = self.factors(u);
            out.extend(towers.row(i).iter().map(|x| x * s));
            if let Some(h) = head {
                out.extend(h.rows.row(i).iter().map(|x| x * g));
            }
            if let Some(c) = item_item {
                out.extend(c.columns.row(i).iter().map(|x| x * r));
            }
        }
        Embeddings::from_vec(n, d + k, out)
    }
}

/// Queries `[q ; ĥ ; x]` (`ĥ` with a head, the multi-hot `x` with an item–item channel;
/// `histories` in the rows' order).
pub fn queries(towers: &Embeddings, head: Option<&ContentHead>, item_item: Option<&ItemItem>, histories: &[&[u32]]) -> Result<Embeddings> {
    let mut extra = Vec::new();
    if let Some(h) = head {
        extra.push(h.profiles(histories));
    }
    if let Some(c) = item_item {
        extra.push(c.queries(histories)?);
    }
    if extra.is_empty() {
        return Ok(towers.clone());
    }
    Embeddings::hconcat(&std::iter::once(towers).chain(&extra).collect::<Vec<_>>())
}

/// Fits a [`Blend`] on validation by coordinate ascent over [`ITEM_ITEM_WEIGHTS`] ×
/// [`HEAD_WEIGHTS`]² × borrow or not × `scales` (two rounds; the head weights stay 0 without a
/// head, `ρ` without a channel, the switch off without borrowed rows). The seen items' weights
/// maximise WARM recall, the never-seen items' head weight and whether they borrow the channel
/// COLD recall (each changes the ranking inside that segment only), and the cold length, which
/// places cold items among warm ones, maximises `select`.
/// `queries` are the validation users' tower queries (in `users` order), `towers` the catalogue's
/// tower vectors as trained.
#[allow(clippy::too_many_arguments)]
pub fn fit_blend(
    data: &TrainData,
    users: &[u32],
    queries: &Embeddings,
    towers: &Embeddings,
    head: Option<&ContentHead>,
    item_item: Option<&ItemItem>,
    unseen: &[bool],
    scales: &[f32],
    select: &dyn Fn(&ValScores) -> f64,
) -> Result<(Blend, Vec<BlendTrial>)> {
    let n = towers.rows();
    let mut t = vec![0f32; users.len() * n];
    inner_products(queries, towers, &mut t)?;
    let c = match head {
        Some(h) => {
            let hist: Vec<&[u32]> = users.iter().map(|&u| data.user_items[u as usize].as_slice()).collect();
            let mut c = vec![0f32; users.len() * n];
            inner_products(&h.profiles(&hist), &h.rows, &mut c)?;
            Some(c)
        }
        None => None,
    };
    let e = match item_item {
        Some(ii) => {
            let hist: Vec<&[u32]> = users.iter().map(|&u| data.user_items[u as usize].as_slice()).collect();
            let mut e = vec![0f32; users.len() * n];
            ii.scores(&hist, &mut e)?;
            Some(e)
        }
        None => None,
    };
    let mut trials: Vec<BlendTrial> = Vec::new();
    let eval = |b: Blend, trials: &mut Vec<BlendTrial>| -> Result<ValScores> {
        if let Some(t) = trials.iter().find(|x| x.blend == b) {
            return Ok(t.val);
        }
        let f: Vec<(f32, f32, f32)> = (0..n).map(|i| b.factors(unseen[i])).collect();
        let mut pos = 0usize;
        let val = validate(data, users, &mut |chunk, _, out| {
            for (r, row) in out.chunks_mut(n).enumerate() {
                let base = (pos + r) * n;
                for (j, o) in row.iter_mut().enumerate() {
                    let (s, g, r) = f[j];
                    *o = s * t[base + j] + c.as_ref().map_or(0.0, |c| g * c[base + j]) + e.as_ref().map_or(0.0, |e| r * e[base + j]);
                }
            }
            pos += chunk.len();
            Ok(())
        })?;
        let selection = select(&val);
        trials.push(BlendTrial { blend: b, val, selection });
        Ok(val)
    };
    let weights: &[f32] = if head.is_some() { HEAD_WEIGHTS } else { &[0.0] };
    let rhos: &[f32] = if item_item.is_some() { ITEM_ITEM_WEIGHTS } else { &[0.0] };
    let switch: &[f32] = if item_item.is_some_and(|c| c.borrowed.iter().zip(unseen).any(|(&b, &u)| b && u)) { &[0.0, 1.0] } else { &[0.0] };
    // Each coordinate is judged where it acts: the seen items' weights (`ρ`, `α`) by WARM, the
    // never-seen items' head weight (`β`) and channel switch by COLD, the mix of the two (`σ`) by `select`, among
    // the lengths that cost WARM at most `WARM_GUARD` of its recall at `σ = 1` (a longer cold
    // vector also lifts warm-segment items that have no interaction yet, which are rarely the
    // relevant ones). A segment without validation users falls back to `select`.
    let warm = |v: &ValScores| v.warm.unwrap_or_else(|| select(v));
    let cold = |v: &ValScores| v.cold.unwrap_or_else(|| select(v));
    let mut best = Blend::default();
    eval(best, &mut trials)?;
    for _round in 0..2 {
        for coord in 0..5 {
            let floor = if coord == 4 {
                warm(&eval(Blend { cold_scale: 1.0, ..best }, &mut trials)?) * (1.0 - WARM_GUARD)
            } else {
                f64::NEG_INFINITY
            };
            let judge = |v: &ValScores| -> f64 {
                match coord {
                    0 | 1 => warm(v),
                    2 | 3 => cold(v),
                    _ if warm(v) >= floor => select(v),
                    _ => f64::NEG_INFINITY,
                }
            };
            let cands: &[f32] = match coord {
                0 => rhos,
                1 | 2 => weights,
                3 => switch,
                _ => scales,
            };
            let mut best_score = judge(&eval(best, &mut trials)?);
            for &v in cands {
                let mut b = best;
                match coord {
                    0 => b.item_item = v,
                    1 => b.alpha_warm = v,
                    2 => b.beta_cold = v,
                    3 => b.borrow = v > 0.0,
                    _ => b.cold_scale = v,
                }
                let s = judge(&eval(b, &mut trials)?);
                if s > best_score {
                    (best, best_score) = (b, s);
                }
            }
        }
    }
    Ok((best, trials))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blended_vectors_score_as_the_formula_says() {
        // Two items: 0 seen, 1 never seen. Tower vectors unit, head rows unit.
        let towers = Embeddings::from_vec(2, 2, vec![1.0, 0.0, 0.0, 1.0]).unwrap();
        let head = ContentHead::new(Embeddings::from_vec(2, 3, vec![1.0, 0.0, 0.0, 0.6, 0.8, 0.0]).unwrap());
        let b = Blend { cold_scale: 2.0, alpha_warm: 0.5, beta_cold: 1.5, ..Blend::default() };
        let items = b.items(&towers, Some(&head), None, &[false, true]).unwrap();
        assert_eq!(items.dim(), 5);
        assert_eq!(items.row(0), &[1.0, 0.0, 0.5, 0.0, 0.0]);
        let r1 = items.row(1);
        let want = [0.0, 2.0, 2.0 * 1.5 * 0.6, 2.0 * 1.5 * 0.8, 0.0];
        r1.iter().zip(want).for_each(|(a, b)| assert!((a - b).abs() < 1e-6, "{r1:?}"));
        // User whose history is both items: ĥ = unit(x̂0 + x̂1) = unit(1.6, 0.8, 0).
        let q = Embeddings::from_vec(1, 2, vec![0.6, 0.8]).unwrap();
        let hist: [&[u32]; 1] = [&[0, 1]];
        let qs = queries(&q, Some(&head), None, &hist).unwrap();
        let n = (1.6f32 * 1.6 + 0.8 * 0.8).sqrt();
        let h = [1.6 / n, 0.8 / n, 0.0];
        let mut s = [0f32; 2];
        inner_products(&qs, &items, &mut s).unwrap();
        // score = σ·(q·v + γ·ĥ·x̂)
        let s0 = 0.6 + 0.5 * h[0];
        let s1 = 2.0 * (0.8 + 1.5 * (0.6 * h[0] + 0.8 * h[1]));
        assert!((s[0] - s0).abs() < 1e-5 && (s[1] - s1).abs() < 1e-5, "{s:?} vs {s0} {s1}");
        // An empty history has a zero profile: the head adds nothing.
        let empty: [&[u32]; 1] = [&[]];
        assert_eq!(head.profiles(&empty).row(0), &[0.0, 0.0, 0.0]);
    }

    /// Two tastes; the towers know the warm items' tastes but give cold items noise, the content
    /// rows carry the taste: the fit turns the head on for cold items, and COLD validation rises
    /// from chance to (near) perfect.
    #[test]
    fn the_fit_turns_the_head_on_where_content_carries_the_signal() {
        use crate::validation::Selection;
        use fuserec_core::{Interaction, ItemId, Rng, UserId};
        let (users, warm, cold) = (40u32, 10u32, 30u32); // per taste
        let n = (2 * (warm + cold)) as usize;
        let taste = |i: u32| if i < 2 * warm { (i >= warm) as usize } else { ((i - 2 * warm) >= cold) as usize };
        let pos = |u, i| Interaction { user: UserId(u), item: ItemId(i), ts: 0, label: 1.0, weight: 1.0 };
        let (mut train, mut val) = (Vec::new(), Vec::new());
        for u in 0..users {
            let t = (u >= users / 2) as u32;
            (0..warm).for_each(|j| train.push(pos(u, t * warm + j)));
            (0..3).for_each(|j| val.push(pos(u, 2 * warm + t * cold + (u * 7 + j * 11) % cold)));
        }
        let mut data = TrainData::new(users as usize, n, &train, &val, None);
        data.cold_val = (0..n as u32).map(|i| i >= 2 * warm).collect();
        data.hidden = vec![false; n];
        data.selection = Selection::MeanOfSegments;
        let mut rng = Rng::new(3);
        let mut towers = Embeddings::zeros(n, 3);
        let mut rows = Embeddings::zeros(n, 2);
        for i in 0..n as u32 {
            let r = towers.row_mut(i as usize);
            if i < 2 * warm {
                r[taste(i)] = 1.0;
            } else {
                r.iter_mut().for_each(|x| *x = rng.normal() as f32);
            }
            rows.row_mut(i as usize)[taste(i)] = 1.0;
        }
        let head = ContentHead::new(rows);
        let ids: Vec<u32> = (0..users).collect();
        let mut q = Embeddings::zeros(users as usize, 3);
        (0..users).for_each(|u| q.row_mut(u as usize)[(u >= users / 2) as usize] = 1.0);
        let unseen: Vec<bool> = (0..n).map(|i| i >= 2 * warm as usize).collect();
        let select = |v: &ValScores| v.select(Selection::Cold);
        let (b, trials) = fit_blend(&data, &ids, &q, &towers, Some(&head), None, &unseen, &[1.0, 2.0], &select).unwrap();
        let cold = |b: Blend| trials.iter().find(|t| t.blend == b).unwrap().val.cold.unwrap();
        assert!(b.beta_cold > 0.0, "{b:?}");
        let (off, on) = (cold(Blend::default()), cold(b));
        // 3 of a user's 30 own-taste cold items are relevant; with the head all 30 outrank the
        // other taste's, so recall@20 is about 20/30; without it, chance (20/60).
        assert!(on > 0.55 && off < 0.5, "COLD without head {off}, with {on}");
        // Without a head, only the cold length is searched.
        let (b, trials) = fit_blend(&data, &ids, &q, &towers, None, None, &unseen, &[1.0, 2.0], &select).unwrap();
        assert_eq!((b.alpha_warm, b.beta_cold), (0.0, 0.0));
        assert!(trials.iter().all(|t| t.blend.alpha_warm == 0.0 && t.blend.beta_cold == 0.0));
    }

    /// 10 users; items 0..30 warm with training positives, 30..40 warm without any interaction
    /// (never seen), 40..50 cold validation items. Towers are the identity, so a query row is the
    /// user's scores. Each user's relevant warm item sits at rank 16 of the seen ones; boosting
    /// never-seen items (σ = 2) lifts the 10 unseen warm ones above it for user 0 only (the
    /// others' relevant item scores above them), and lifts every user's relevant cold item into
    /// OVERALL lists. The mean of segments prefers σ = 2 (OVERALL 0.5 → 0.95, WARM 1 → 0.9): the
    /// guard refuses it, since it costs WARM more than `WARM_GUARD`.
    fn guard_world() -> (Vec<fuserec_core::Interaction>, Vec<fuserec_core::Interaction>, Embeddings, Embeddings, Vec<bool>) {
        use fuserec_core::{Interaction, ItemId, UserId};
        let pos = |u, i| Interaction { user: UserId(u), item: ItemId(i), ts: 0, label: 1.0, weight: 1.0 };
        let n = 50;
        let (mut train, mut val) = (Vec::new(), Vec::new());
        let mut q = Embeddings::zeros(10, n);
        for u in 0..10u32 {
            train.push(pos(u, 29)); // the history (masked in validation)
            let (w, c) = (u, 40 + u);
            val.push(pos(u, w));
            val.push(pos(u, c));
            let r = q.row_mut(u as usize);
            (0..29).filter(|&i| i != w).enumerate().for_each(|(k, i)| r[i as usize] = if k < 15 { 0.95 } else { 0.7 });
            r[w as usize] = if u == 0 { 0.9 } else { 0.99 };
            (30..40).for_each(|i| r[i] = 0.49);
            (40..50).for_each(|i| r[i] = 0.1);
            r[c as usize] = 0.6;
        }
        let towers = Embeddings::from_vec(n, n, (0..n * n).map(|k| if k / n == k % n { 1.0 } else { 0.0 }).collect()).unwrap();
        let unseen = (0..n).map(|i| i >= 30).collect();
        (train, val, q, towers, unseen)
    }

    #[test]
    fn the_cold_length_may_not_buy_overall_with_warm() {
        use crate::validation::Selection;
        let (train, val, q, towers, unseen) = guard_world();
        let mut data = TrainData::new(10, 50, &train, &val, None);
        data.cold_val = (0..50).map(|i| i >= 40).collect();
        data.hidden = vec![false; 50];
        let ids: Vec<u32> = (0..10).collect();
        let select = |v: &ValScores| v.select(Selection::MeanOfSegments);
        let (b, trials) = fit_blend(&data, &ids, &q, &towers, None, None, &unseen, &[1.0, 2.0], &select).unwrap();
        let val = |s: f32| trials.iter().find(|t| t.blend.cold_scale == s).unwrap().val;
        let (one, two) = (val(1.0), val(2.0));
        assert_eq!((one.overall, one.warm, one.cold), (Some(0.5), Some(1.0), Some(1.0)));
        assert!((two.overall.unwrap() - 0.95).abs() < 1e-9 && (two.warm.unwrap() - 0.9).abs() < 1e-9, "{two:?}");
        assert!(select(&two) > select(&one), "unguarded, the mean of segments would take σ = 2");
        assert_eq!(b.cold_scale, 1.0, "{b:?}");
    }

    /// The same world, user 0's relevant warm item lowered out of its top 20 (WARM 0.9), and an
    /// item–item channel that adds 1 to items 0..10 (each user's relevant warm item among them):
    /// the fit turns it on (WARM is judged on the seen items' weights) and WARM reaches 1.
    #[test]
    fn the_fit_turns_the_item_item_channel_on_where_it_ranks_warm_items_better() {
        use crate::validation::Selection;
        let (train, val, mut q, towers, unseen) = guard_world();
        q.row_mut(0)[0] = 0.6;
        let mut data = TrainData::new(10, 50, &train, &val, None);
        data.cold_val = (0..50).map(|i| i >= 40).collect();
        data.hidden = vec![false; 50];
        let ids: Vec<u32> = (0..10).collect();
        let select = |v: &ValScores| v.select(Selection::MeanOfSegments);
        // Column j (row j of `columns`) is B[:, j]: history item 29 → each user's relevant
        // item u, for u < 10. Every user has history {29}, so the channel adds ρ to items 0..10.
        let mut cols = Embeddings::zeros(50, 50);
        (0..10).for_each(|j| cols.row_mut(j)[29] = 1.0);
        let ii = ItemItem { lambda: 1.0, columns: cols, borrowed: vec![false; 50], scale: 1.0 };
        let (b, trials) = fit_blend(&data, &ids, &q, &towers, None, Some(&ii), &unseen, &[1.0, 2.0], &select).unwrap();
        assert!(b.item_item > 0.0, "{b:?}");
        let warm = |b: Blend| trials.iter().find(|t| t.blend == b).unwrap().val.warm.unwrap();
        assert!((warm(Blend::default()) - 0.9).abs() < 1e-9 && warm(b) == 1.0, "{b:?}");
        // Its items: `σ·[v ; ρ·b]`, the channel columns unscaled by σ (zero for unseen items anyway).
        let items = b.items(&towers, None, Some(&ii), &unseen).unwrap();
        assert_eq!(items.dim(), 100);
        assert_eq!(items.row(3)[50 + 29], b.item_item);
        assert_eq!(items.row(45)[45], b.cold_scale);
        let hist: Vec<&[u32]> = vec![&[29]; 10];
        let qs = queries(&q, None, Some(&ii), &hist).unwrap();
        assert_eq!(qs.row(0)[50 + 29], 1.0);
    }

    /// 4 users, items 0..30 warm (history: item 29), 30..70 cold validation items. User 0's
    /// relevant warm item 0 ranks last among the seen ones (WARM 0.75); every user's relevant cold
    /// item `30 + u` ranks below 20 other cold items (COLD 0). The channel adds 1 to item 0
    /// (ρ turns on: WARM 1) and, through borrowed rows, to items 30..34: borrowing them lifts every
    /// relevant cold item to the top (COLD 1), so the fit switches it on; rows borrowed for the
    /// wrong items (34..38) leave COLD at 0 and the switch off.
    #[test]
    fn never_seen_items_borrow_the_channel_where_it_ranks_cold_items_better() {
        use crate::validation::Selection;
        use fuserec_core::{Interaction, ItemId, UserId};
        let pos = |u, i| Interaction { user: UserId(u), item: ItemId(i), ts: 0, label: 1.0, weight: 1.0 };
        let n = 70;
        let (mut train, mut val) = (Vec::new(), Vec::new());
        let mut q = Embeddings::zeros(4, n);
        for u in 0..4u32 {
            train.push(pos(u, 29));
            val.push(pos(u, u));
            val.push(pos(u, 30 + u));
            let r = q.row_mut(u as usize);
            (0..29).for_each(|i| r[i] = 0.5);
            r[u as usize] = if u == 0 { 0.3 } else { 0.99 };
            (30..70).for_each(|i| r[i] = 0.1 + 0.001 * (i - 30) as f32);
        }
        let towers = Embeddings::from_vec(n, n, (0..n * n).map(|k| if k / n == k % n { 1.0 } else { 0.0 }).collect()).unwrap();
        let unseen: Vec<bool> = (0..n).map(|i| i >= 30).collect();
        let mut data = TrainData::new(4, n, &train, &val, None);
        data.cold_val = unseen.clone();
        data.hidden = vec![false; n];
        let ids: Vec<u32> = (0..4).collect();
        let select = |v: &ValScores| v.select(Selection::MeanOfSegments);
        let channel = |lifted: std::ops::Range<usize>| {
            let mut cols = Embeddings::zeros(n, n);
            cols.row_mut(0)[29] = 1.0;
            let mut borrowed = vec![false; n];
            for j in lifted {
                cols.row_mut(j)[29] = 1.0;
                borrowed[j] = true;
            }
            ItemItem { lambda: 1.0, columns: cols, borrowed, scale: 1.0 }
        };
        let fit = |ii: &ItemItem| fit_blend(&data, &ids, &q, &towers, None, Some(ii), &unseen, &[1.0], &select).unwrap();
        let (b, trials) = fit(&channel(30..34));
        let val = |b: Blend| trials.iter().find(|t| t.blend == b).unwrap().val;
        assert!(b.item_item > 0.0 && b.borrow, "{b:?}");
        assert_eq!((val(b).warm, val(b).cold), (Some(1.0), Some(1.0)));
        assert_eq!(val(Blend { borrow: false, ..b }).cold, Some(0.0));
        // A never-seen item's channel part is σ·ρ·(its borrowed row).
        let items = b.items(&towers, None, Some(&channel(30..34)), &unseen).unwrap();
        assert_eq!(items.row(31)[n + 29], b.cold_scale * b.item_item);
        let (b, _) = fit(&channel(34..38));
        assert!(b.item_item > 0.0 && !b.borrow, "{b:?}");
    }
}

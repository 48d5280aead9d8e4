//! The training loop: shuffled batches, taped loss, sparse + dense updates, per-epoch validation
//! (loss and Recall@20) with early stopping at the best epoch, the validation-fitted blend, and
//! the final vectors.

use super::config::{HistoryContext, TwoTowerConfig};
use super::content_head::{Blend, BlendTrial, ContentHead, fit_blend, queries};
use super::item_item::{ItemItem, ItemItemConfig, LambdaTrial};
use super::net::{Batch, LossParts, Net};
use super::samples::{Samples, cold_gate_features, items_of, sequences, stats};
use crate::artifact::Snapshot;
use crate::recommender::TrainData;
use crate::validation::{EarlyStopping, ValScores, Verdict, validate, validation_users};
use fuserec_core::{Embeddings, Error, Interaction, Result, Rng};
use fuserec_data::clicks_by_user;
use fuserec_data::progress::bar;
use fuserec_index::inner_products;
use fuserec_nn::{Checkpoint, DenseAdam};
use fuserec_towers::{ContentInput, History};
use std::time::Instant;

const EXPORT_CHUNK: usize = 1024;

/// Candidate lengths of cold items' (unit) vectors: 1 is the trained model as it is.
const COLD_SCALES: &[f32] = &[1.0, 1.1, 1.2, 1.3, 1.4, 1.6, 1.8, 2.0, 2.3, 2.6, 3.0, 3.5, 4.0, 5.0];

/// Items the system has never seen: no trained id row (`keep = 0`) and no exposure in the
/// statistics the vectors were computed from. Only these get the calibrated length; an item
/// that has interactions the model was not trained on (e.g. validation-only) is not boosted.
fn unseen(keep: &[f32], exposures: &[f32]) -> Vec<bool> {
    keep.iter().zip(exposures).map(|(&k, &e)| k == 0.0 && e == 0.0).collect()
}

/// One training epoch: losses, validation scores, time.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct EpochLog {
    /// 0-based epoch.
    pub epoch: usize,
    /// Mean batch loss over the epoch (total and parts).
    pub train: LossParts,
    /// Same loss on validation positives, in fixed batches, no updates.
    pub val_loss: f32,
    /// OVERALL validation Recall@20.
    pub val_recall_at_20: f64,
    /// Validation Recall@20 per segment (COLD: the split's cold validation items).
    pub val: ValScores,
    /// What early stopping maximises (`[split]`-level `selection`, default mean of segments).
    pub val_selection: f64,
    /// Wall time.
    pub seconds: f64,
    /// Training throughput.
    pub examples_per_second: f64,
}

/// Mean learned gate over items whose exposure count falls in `[lo, hi)`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct GateBin {
    /// Lower exposure edge.
    pub exposures_lo: f64,
    /// Upper exposure edge (exclusive).
    pub exposures_hi: f64,
    /// Items in the bin.
    pub items: usize,
    /// Their mean gate.
    pub mean_gate: f64,
}

/// Everything a two-tower fit records.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct TrainingLog {
    /// Training samples.
    pub train_samples: usize,
    /// Validation samples.
    pub val_samples: usize,
    /// One entry per epoch run.
    pub epochs: Vec<EpochLog>,
    /// Epoch whose network was kept.
    pub best_epoch: usize,
    /// Whether patience ran out before the last epoch.
    pub stopped_early: bool,
    /// The trained artifact written for this model (`checkpoints` runs).
    pub artifact: Option<String>,
    /// Gate at evaluation time against item exposure (log-spaced bins), gated fusions only.
    pub gate_by_exposure: Vec<GateBin>,
    /// Length given to the vectors of items without a trained id row (cold items), fitted on
    /// validation OVERALL recall (1 = as trained); see [`TwoTowerConfig::calibrate_cold`].
    pub cold_scale: f32,
    /// The fitted blend of tower scores, cold calibration and content head
    /// ([`super::content_head`]); `cold_scale` repeats its calibration length.
    pub blend: Blend,
    /// Every blend tried on validation, with its scores.
    pub blend_trials: Vec<BlendTrial>,
    /// The item–item channel's `λ` candidates and their validation scores alone (empty: no
    /// channel was built).
    pub item_item_trials: Vec<LambdaTrial>,
    /// Per-level cluster counts the content tower saw (cluster-id models).
    pub cluster_counts: Vec<usize>,
}

/// A fitted two-tower: its vectors, log and network.
pub struct Trained {
    /// Per user: the query.
    pub user_vectors: Embeddings,
    /// Per item: the fused vector (with the blend applied).
    pub item_vectors: Embeddings,
    /// What training did.
    pub log: TrainingLog,
    /// The network at its best validation epoch.
    pub net: Net,
    /// Per item: a positive in the training split (its id row was trained).
    pub trained_rows: Vec<bool>,
    /// The content head the vectors carry (`None`: no head, or the blend turned it off).
    pub head: Option<ContentHead>,
    /// The item–item channel the vectors carry (`None`: none, or the blend turned it off).
    pub item_item: Option<ItemItem>,
    /// Seen lists and item statistics as training ended (train + validation).
    pub snapshot: Snapshot,
}

/// What batches are drawn with: negative-sampling probabilities and the statistics for the gate
/// features of sampled negatives.
struct Sampler<'a> {
    /// Per item: log of its probability of appearing as a negative column (mixture of the
    /// in-batch unigram and the uniform extra negatives).
    log_q: Option<Vec<f32>>,
    st: &'a fuserec_data::PosteriorStats,
    n_items: usize,
    /// Both views present: cold dropout applies.
    dropout: f32,
}

impl Sampler<'_> {
    fn batch(&self, net: &Net, s: &Samples, seq: &[Vec<u32>], idx: &[usize], rng: &mut Rng, train: bool) -> Batch {
        let m = net.cfg.uniform_negatives;
        let mut items: Vec<u32> = idx.iter().map(|&i| s.items[i]).collect();
        let mut gate = s.gate_rows(idx);
        let mut ts: Vec<i64> = idx.iter().map(|&i| s.ts[i]).collect();
        ts.sort_unstable();
        let t_mid = ts[ts.len() / 2];
        for _ in 0..m {
            let j = rng.below(self.n_items) as u32;
            items.push(j);
            gate.extend(self.st.at(j as usize, t_mid).gate_features());
        }
        let mut keep = vec![1f32; items.len()];
        if train && self.dropout > 0.0 {
            let cold = cold_gate_features();
            for (k, kp) in keep.iter_mut().enumerate() {
                if rng.bernoulli(self.dropout as f64) {
                    *kp = 0.0;
                    gate[k * 4..k * 4 + 4].copy_from_slice(&cold);
                }
            }
        }
        let log_q = self.log_q.as_ref().map(|l| items.iter().map(|&i| l[i as usize]).collect());
        let hist = match (train, net.cfg.history_context) {
            (true, HistoryContext::Others) => s.history_others(seq, idx, net.cfg.history, net.cfg.history_dropout, rng),
            _ => s.history(seq, idx, net.cfg.history),
        };
        Batch { hist, items, gate, keep, log_q }
    }
}

/// Item vectors for every item with statistics as of `t` from `st`; `keep` marks items whose
/// behaviour vector is trained.
fn export_items(
    net: &Net,
    st: &fuserec_data::PosteriorStats,
    t: i64,
    n_items: usize,
    keep: Option<&[f32]>,
) -> Result<(Embeddings, Option<Vec<f32>>, Vec<f32>)> {
    let d = net.fused_dim();
    let mut out = Vec::with_capacity(n_items * d);
    let mut gates = net.gate.as_ref().map(|_| Vec::with_capacity(n_items));
    let mut exposures = Vec::with_capacity(n_items);
    for chunk in (0..n_items as u32).collect::<Vec<_>>().chunks(EXPORT_CHUNK) {
        let s: Vec<_> = chunk.iter().map(|&i| st.at(i as usize, t)).collect();
        exposures.extend(s.iter().map(|x| x.exposures));
        let g: Vec<f32> = s.iter().flat_map(|x| x.gate_features()).collect();
        let k: Option<Vec<f32>> = keep.map(|k| chunk.iter().map(|&i| k[i as usize]).collect());
        let v = net.item_vectors(chunk, &g, k.as_deref())?;
        out.extend(v.fused);
        if let (Some(all), Some(g)) = (&mut gates, v.gate) {
            all.extend(g);
        }
    }
    Ok((Embeddings::from_vec(n_items, d, out)?, gates, exposures))
}

fn export_users(net: &Net, users: &[u32], seq: &[Vec<u32>]) -> Result<Embeddings> {
    let d = net.fused_dim();
    let mut out = Vec::with_capacity(users.len() * d);
    for chunk in users.chunks(EXPORT_CHUNK) {
        let lists: Vec<&[u32]> = chunk.iter().map(|&u| seq[u as usize].as_slice()).collect();
        out.extend(net.query_vectors(&History::from_lists(chunk, &lists, net.cfg.history))?);
    }
    Embeddings::from_vec(users.len(), d, out)
}

fn gate_bins(gates: &[f32], exposures: &[f32]) -> Vec<GateBin> {
    // Bins: 0, [1,2), [2,4), [4,8), … (log scale).
    let mut bins: Vec<(f64, f64, usize, f64)> = vec![(0.0, 1.0, 0, 0.0)];
    let max = exposures.iter().copied().fold(0f32, f32::max) as f64;
    let mut lo = 1.0;
    while lo <= max {
        bins.push((lo, lo * 2.0, 0, 0.0));
        lo *= 2.0;
    }
    for (&g, &e) in gates.iter().zip(exposures) {
        let e = e as f64;
        let b = bins.iter_mut().find(|b| e >= b.0 && e < b.1).expect("bins cover all exposures");
        b.2 += 1;
        b.3 += g as f64;
    }
    bins.into_iter()
        .filter(|b| b.2 > 0)
        .map(|b| GateBin { exposures_lo: b.0, exposures_hi: b.1, items: b.2, mean_gate: b.3 / b.2 as f64 })
        .collect()
}

/// Trains a two-tower on `data` (early stopping on validation), fits the blend, and returns the
/// vectors evaluation scores. Bad configs and inputs are errors naming the setting.
pub fn train(
    cfg: &TwoTowerConfig,
    data: &TrainData,
    content: Option<ContentInput>,
    head: Option<ContentHead>,
    seed: u64,
) -> Result<Trained> {
    let (n_users, n_items) = (data.n_users, data.n_items);
    let name = cfg.display_name();
    let timeline = clicks_by_user(n_users, &[data.train])?;
    let seq = items_of(&timeline);
    let st = stats(n_items, data.train);
    let samples = Samples::training(&timeline, &st);
    if samples.len() < 2 {
        return Err(Error::Invalid(format!("{name}: {} training positives — nothing to learn from", samples.len())));
    }
    let val = Samples::after(data.val, &seq, &st);
    let mut log = TrainingLog { train_samples: samples.len(), val_samples: val.len(), ..Default::default() };
    let mut counts = vec![0f32; n_items];
    samples.items.iter().for_each(|&i| counts[i as usize] += 1.0);
    let total = samples.len() as f32;
    let bsz = cfg.batch_size.min(samples.len());
    let (b, m) = (bsz as f32, cfg.uniform_negatives as f32);
    let log_q: Option<Vec<f32>> =
        cfg.log_q.then(|| counts.iter().map(|&c| ((b * c / total + m / n_items as f32) / (b + m)).max(1e-12).ln()).collect());
    let mut net = Net::new(cfg, n_users, n_items, content, seed)?;
    let both = net.behaviour.is_some() && net.content.is_some();
    let sampler = Sampler { log_q, st: &st, n_items, dropout: if both { cfg.cold_dropout } else { 0.0 } };
    // Items never trained keep a noise id row: with a content view, give them no behaviour vector.
    let keep: Option<Vec<f32>> = both.then(|| counts.iter().map(|&c| if c > 0.0 { 1.0 } else { 0.0 }).collect());
    let mut opt = DenseAdam::new(cfg.dense_optimizer);
    let mut rng = Rng::derive(seed, 0x5151);
    let t_val = data.train.iter().map(|x| x.ts).max().unwrap_or(0) + 1;
    let val_users = validation_users(data, cfg.val_users, seed);
    let mut stopper: EarlyStopping<Checkpoint> = EarlyStopping::new(cfg.patience);
    for epoch in 1..=cfg.epochs {
        let t0 = Instant::now();
        let mut order: Vec<usize> = (0..samples.len()).collect();
        rng.shuffle(&mut order);
        let n_batches = order.len() / bsz;
        let pb = bar(n_batches as u64, &format!("{name} epoch {epoch}"));
        let mut sum = LossParts::default();
        for idx in order.chunks_exact(bsz) {
            fuserec_core::cancel::check()?;
            let b = sampler.batch(&net, &samples, &seq, idx, &mut rng, true);
            let parts = net.step(&b, &mut opt)?;
            sum.total += parts.total;
            sum.fused += parts.fused;
            sum.views += parts.views;
            sum.triplet += parts.triplet;
            pb.inc(1);
            pb.set_message(format!("{name} e{epoch} loss {:.3}", parts.total));
        }
        pb.finish_and_clear();
        let nb = n_batches.max(1) as f32;
        let train = LossParts { total: sum.total / nb, fused: sum.fused / nb, views: sum.views / nb, triplet: sum.triplet / nb };
        let seconds = t0.elapsed().as_secs_f64();
        let val_loss = validation_loss(&net, &sampler, &val, &seq, bsz, seed)?;
        let val = validation_scores(&net, &st, t_val, &seq, &val_users, data, keep.as_deref())?;
        let val_recall = val.select(data.selection);
        log.epochs.push(EpochLog {
            epoch,
            train,
            val_loss,
            val_recall_at_20: val.overall.unwrap_or(0.0),
            val,
            val_selection: val_recall,
            seconds,
            examples_per_second: (n_batches * bsz) as f64 / seconds,
        });
        match stopper.observe(val_recall, || net.checkpoint()) {
            Verdict::Improved => log.best_epoch = epoch,
            Verdict::Continue => {}
            Verdict::Stop => {
                log.stopped_early = epoch < cfg.epochs;
                break;
            }
        }
    }
    if let Some(ck) = &stopper.into_best() {
        net.restore(ck)?;
    }
    // Blend: cold calibration, the content head and the item–item channel, fitted on validation
    // (models with both views).
    log.blend = Blend::default();
    let head = head.filter(|_| cfg.content_head && keep.is_some());
    let select = |v: &ValScores| v.select(data.selection);
    // The blend is fitted only for unit vectors; the channel is built only when it is.
    let fits_blend = keep.is_some() && cfg.cosine && cfg.unit_item_vectors;
    let mut item_item = match cfg.item_item {
        ItemItemConfig::Ease { max_items } if fits_blend && n_items <= max_items && !val_users.is_empty() => {
            let (ii, trials) = ItemItem::fit(data, &val_users, &select, head.as_ref().map(|h| &h.rows))?;
            log.item_item_trials = trials;
            Some(ii)
        }
        _ => None,
    };
    let blended = cfg.calibrate_cold || head.is_some() || item_item.is_some();
    if let Some(k) = keep.as_deref().filter(|_| fits_blend && blended) {
        let (items, _, exposures) = export_items(&net, &st, t_val, n_items, Some(k))?;
        let scales: &[f32] = if cfg.calibrate_cold { COLD_SCALES } else { &[1.0] };
        let q = export_users(&net, &val_users, &seq)?;
        let never_seen = unseen(k, &exposures);
        if let Some(ii) = &mut item_item {
            ii.keep_borrowed_only(&never_seen);
        }
        let (blend, trials) = fit_blend(data, &val_users, &q, &items, head.as_ref(), item_item.as_ref(), &never_seen, scales, &select)?;
        log.blend = blend;
        log.blend_trials = trials;
    }
    log.cold_scale = log.blend.cold_scale;
    // Final vectors: histories and statistics from everything before the test period.
    let all: Vec<Interaction> = data.train.iter().chain(data.val).copied().collect();
    let seq_all = sequences(n_users, &[&all])?;
    let st_all = stats(n_items, &all);
    let snapshot = Snapshot::of(n_users, n_items, &all);
    let t_end = snapshot.statistics_at;
    let (item_vectors, gates, exposures) = export_items(&net, &st_all, t_end, n_items, keep.as_deref())?;
    // The channel, as the towers' statistics, from everything before the test period: EASE
    // refitted on training + validation positives with the fitted `λ` and scale (a history's
    // validation items then count in its query); the items with columns stay those of training.
    let mut item_item = match item_item.filter(|_| log.blend.item_item > 0.0) {
        Some(ii) => {
            let has: Vec<bool> = data.item_popularity.iter().map(|&c| c > 0).collect();
            let all_pos = crate::recommender::positives_by_user(n_users, all.iter());
            Some(ii.refit(&all_pos, &has, head.as_ref().map(|h| &h.rows))?)
        }
        None => None,
    };
    // The head's rows stay when never-seen items borrow channel rows: serving finds a new item's
    // content neighbours by them.
    let head = head.filter(|_| log.blend.alpha_warm > 0.0 || log.blend.beta_cold > 0.0 || (log.blend.borrow && item_item.is_some()));
    let item_vectors = match keep.as_deref() {
        Some(k) if log.blend != Blend::default() => {
            let never_seen = unseen(k, &exposures);
            if let Some(ii) = &mut item_item {
                ii.keep_borrowed_only(&never_seen);
            }
            log.blend.items(&item_vectors, head.as_ref(), item_item.as_ref(), &never_seen)?
        }
        _ => item_vectors,
    };
    if let Some(g) = gates {
        log.gate_by_exposure = gate_bins(&g, &exposures);
    }
    if let Some(c) = &net.content {
        log.cluster_counts = c.code_counts();
    }
    let users: Vec<u32> = (0..n_users as u32).collect();
    let user_vectors = export_users(&net, &users, &seq_all)?;
    let hist: Vec<&[u32]> = seq_all.iter().map(|h| h.as_slice()).collect();
    let user_vectors = queries(&user_vectors, head.as_ref(), item_item.as_ref(), &hist)?;
    let trained_rows = counts.iter().map(|&c| c > 0.0).collect();
    Ok(Trained { user_vectors, item_vectors, log, net, trained_rows, head, item_item, snapshot })
}

/// Fused-view loss on validation positives: fixed batches and negatives (same seed every epoch
/// and for every model of a run), no cold dropout, no updates.
fn validation_loss(net: &Net, sampler: &Sampler, val: &Samples, seq: &[Vec<u32>], bsz: usize, seed: u64) -> Result<f32> {
    let idx: Vec<usize> = (0..val.len()).collect();
    let (mut sum, mut n) = (0f32, 0usize);
    let mut rng = Rng::derive(seed, 0xa11);
    if val.len() < 2 {
        return Ok(f32::NAN);
    }
    for chunk in idx.chunks_exact(bsz.min(val.len())) {
        let (_, parts, _) = net.loss(&sampler.batch(net, val, seq, chunk, &mut rng, false))?;
        sum += parts.fused;
        n += 1;
    }
    Ok(if n == 0 { f32::NAN } else { sum / n as f32 })
}

/// Validation recall per segment of the network as it stands: item vectors with statistics as of
/// the end of training, queries from the training histories.
fn validation_scores(
    net: &Net,
    st: &fuserec_data::PosteriorStats,
    t: i64,
    seq: &[Vec<u32>],
    users: &[u32],
    data: &TrainData,
    keep: Option<&[f32]>,
) -> Result<ValScores> {
    if users.is_empty() {
        return Ok(ValScores::default());
    }
    let (items, _, _) = export_items(net, st, t, data.n_items, keep)?;
    validate(data, users, &mut |chunk, _, out| {
        let q = export_users(net, chunk, seq)?;
        inner_products(&q, &items, out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_never_seen_items_are_rescaled() {
        let v = Embeddings::from_vec(4, 2, vec![0.6, 0.8, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0]).unwrap();
        // Item 1: no id row, no exposure → boosted. Item 3: no id row but exposures (e.g. only
        // validation interactions) → not boosted. Items 0 and 2 have id rows.
        let boost = unseen(&[1.0, 0.0, 1.0, 0.0], &[5.0, 0.0, 0.0, 2.0]);
        assert_eq!(boost, vec![false, true, false, false]);
        let s = Blend { cold_scale: 2.0, ..Blend::default() }.items(&v, None, None, &boost).unwrap();
        assert_eq!(s.as_slice(), &[0.6, 0.8, 2.0, 0.0, 0.0, 1.0, 0.0, 1.0]);
        assert_eq!(COLD_SCALES[0], 1.0, "the trained model as it is is always a candidate");
        assert!(COLD_SCALES.windows(2).all(|w| w[0] < w[1]));
    }
}

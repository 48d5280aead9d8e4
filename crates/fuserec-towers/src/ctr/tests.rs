//! CTR models on a planted task: a user clicks a target iff it shares the topic of the user's
//! history. Item vectors carry the topic; test targets are items whose id rows never trained.

use super::*;
use fuserec_core::Rng;
use fuserec_nn::dfdx::shapes::HasShape;
use fuserec_nn::{AdamConfig, DenseAdam, Dev, HasParams, ParamMut, RowOptimizer, SparseEmbedding, device, to_vec};

const ITEMS: usize = 240;
const TOPICS: usize = 4;
const WARM: u32 = 180; // items ≥ WARM only appear as test targets

fn vectors() -> ItemVectors {
    let mut rng = Rng::new(11);
    let centres: Vec<Vec<f32>> = (0..TOPICS).map(|_| (0..8).map(|_| rng.normal() as f32).collect()).collect();
    let rows = (0..ITEMS).flat_map(|i| centres[i % TOPICS].iter().map(|c| c + 0.3 * rng.normal() as f32).collect::<Vec<_>>()).collect();
    ItemVectors::new(rows, 8).unwrap()
}

/// `n` samples; targets below `WARM` (train) or from `WARM..` (test). History length 6 of 8.
fn batch(n: usize, test: bool, seed: u64) -> CtrBatch {
    let mut rng = Rng::new(seed);
    let (len, real) = (8, 6);
    let mut b = CtrBatch { len, ..Default::default() };
    for _ in 0..n {
        let topic = rng.below(TOPICS) as u32;
        for k in 0..len {
            let item = (rng.below(WARM as usize / TOPICS) as u32) * TOPICS as u32 + topic;
            b.behaviours.push(if k < real { item } else { 0 });
            b.mask.push(if k < real { 1.0 } else { 0.0 });
        }
        let t = if test { WARM + rng.below(ITEMS - WARM as usize) as u32 } else { rng.below(WARM as usize) as u32 };
        b.targets.push(t);
        b.labels.push(if t % TOPICS as u32 == topic { 1.0 } else { 0.0 });
    }
    b
}

fn din(dev: &Dev, sides: Sides, make: Option<&Make>, seed: u64) -> Din {
    let mut rng = Rng::new(seed);
    let items = SparseEmbedding::new("items", ITEMS, 8, 0.05, RowOptimizer::adam(0.05), &mut rng).unwrap();
    Din::new(dev, items, Some(vectors()), sides, &shape(), make, &mut rng).unwrap()
}

fn shape() -> CtrShape {
    CtrShape { attention_hidden: 16, hidden: vec![16, 8] }
}

fn make(dev: &Dev) -> Make {
    Make::new(dev, vectors(), 8, &shape(), &mut Rng::new(5)).unwrap()
}

fn auc(scores: &[f32], labels: &[f32]) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for (s, l) in scores.iter().zip(labels).filter(|p| *p.1 == 1.0) {
        for (t, _) in scores.iter().zip(labels).filter(|p| *p.1 == 0.0) {
            num += if s > t {
                1.0
            } else if s == t {
                0.5
            } else {
                0.0
            };
            den += 1.0;
            let _ = l;
        }
    }
    num / den
}

fn params(m: &mut dyn HasParams) -> Vec<f32> {
    let mut out = Vec::new();
    m.visit_params("", &mut |_, p| match p {
        ParamMut::Vector(t) => out.extend(to_vec(&*t)),
        ParamMut::Matrix(t) => out.extend(to_vec(&*t)),
    });
    out
}

const TIER: SimTierSide = SimTierSide { tiers: 10, mode: TierMode::Count, learn_scale: true };

#[test]
fn simtier_and_make_generalise_to_unseen_ids_din_does_not() {
    let dev = device(0);
    let train: Vec<CtrBatch> = (0..60).map(|s| batch(64, false, s)).collect();
    let test = batch(400, true, 999);
    let fit = |sides: Sides| {
        let mut m = din(&dev, sides, None, 3);
        let mut opt = DenseAdam::new(AdamConfig::new(0.01));
        let (mut first, mut last) = (0.0, 0.0);
        for epoch in 0..3 {
            let l: f32 =
                train.iter().map(|b| train_step(&dev, &mut m, &mut opt, b, MakeMode::None).unwrap()).sum::<f32>() / train.len() as f32;
            if epoch == 0 {
                first = l;
            }
            last = l;
        }
        (auc(&predict(&dev, &m, None, &test).unwrap(), &test.labels), first, last)
    };
    let (din_auc, f, l) = fit(Sides::default());
    assert!(l < f, "DIN's training loss falls: {f} → {l}");
    let (tier_auc, _, _) = fit(Sides { simtier: Some(TIER), ..Default::default() });
    let (score_auc, _, _) = fit(Sides { simscore: true, ..Default::default() });
    assert!(din_auc < 0.7, "untrained target ids carry no signal: DIN AUC {din_auc}");
    assert!(tier_auc > 0.9, "SimTier reads the topic from the similarity histogram: {tier_auc}");
    assert!(score_auc > 0.8, "SimScore sees the cosines too: {score_auc}");

    let mut mk = make(&dev);
    let mut opt = DenseAdam::new(AdamConfig::new(0.01));
    for _ in 0..3 {
        for b in &train {
            make_step(&dev, &mut mk, &mut opt, b).unwrap();
        }
    }
    let make_auc = auc(&predict_make(&dev, &mk, &test).unwrap(), &test.labels);
    assert!(make_auc > 0.9, "MAKE works on vectors, not ids: {make_auc}");
}

#[test]
fn make_taps_have_the_right_shapes_and_a_frozen_make_gets_no_updates() {
    let dev = device(0);
    let b = batch(5, false, 1);
    let mut mk = make(&dev);
    let taps = mk.forward(&dev, &b).unwrap();
    assert_eq!(*taps.interest.shape(), (5, 8));
    assert_eq!(taps.hidden.iter().map(|h| *h.shape()).collect::<Vec<_>>(), vec![(5, 16), (5, 8)]);
    assert_eq!(*taps.logit.shape(), (5, 1));

    let sides = Sides { make: true, simtier: Some(TIER), ..Default::default() };
    let mut m = din(&dev, sides, Some(&mk), 3);
    assert!(m.forward(&dev, &b, None).is_err(), "a MAKE model needs its taps");
    let mut opt = DenseAdam::new(AdamConfig::new(0.01));
    let (before_make, before_din, before_rows) = (params(&mut mk), params(&mut m), m.items.table().to_vec());
    for s in 0..3 {
        train_step(&dev, &mut m, &mut opt, &batch(16, false, s), MakeMode::Frozen(&mk)).unwrap();
    }
    assert_eq!(params(&mut mk), before_make, "frozen MAKE unchanged");
    assert_ne!(params(&mut m), before_din, "the id model trains");
    assert_ne!(m.items.table(), &before_rows[..]);

    let mut make_opt = DenseAdam::new(AdamConfig::new(0.01));
    train_step(&dev, &mut m, &mut opt, &batch(16, false, 7), MakeMode::FineTune(&mut mk, &mut make_opt)).unwrap();
    let after = params(&mut mk);
    assert_ne!(after, before_make, "fine-tuned MAKE moves");
    // Every part of MAKE is reached by the joint loss (projection, attention, hidden layers).
    assert_eq!(after.len(), before_make.len());

    // A MAKE with other hidden widths cannot be tapped.
    let other = Make::new(&dev, vectors(), 8, &CtrShape { attention_hidden: 16, hidden: vec![12, 8] }, &mut Rng::new(1)).unwrap();
    let mut rng = Rng::new(2);
    let items = SparseEmbedding::new("items", ITEMS, 8, 0.05, RowOptimizer::adam(0.05), &mut rng).unwrap();
    assert!(Din::new(&dev, items, None, Sides { make: true, ..Default::default() }, &shape(), Some(&other), &mut rng).is_err());
}

#[test]
fn padding_and_untouched_item_rows_never_change() {
    let dev = device(0);
    let mut m = din(&dev, Sides { vector: true, simscore: true, ..Default::default() }, None, 3);
    let mut b = batch(8, false, 4);
    // Padding positions point at item 239, which is no target or behaviour of this batch.
    b.behaviours.iter_mut().zip(&b.mask).filter(|p| *p.1 == 0.0).for_each(|(i, _)| *i = 239);
    assert!(!b.targets.contains(&239));
    let before = m.items.table().to_vec();
    let mut opt = DenseAdam::new(AdamConfig::new(0.01));
    train_step(&dev, &mut m, &mut opt, &b, MakeMode::None).unwrap();
    let d = 8;
    let touched: std::collections::HashSet<u32> =
        b.targets.iter().chain(b.behaviours.iter().zip(&b.mask).filter(|p| *p.1 > 0.0).map(|p| p.0)).copied().collect();
    for i in 0..ITEMS as u32 {
        let same = before[i as usize * d..(i as usize + 1) * d] == m.items.table()[i as usize * d..(i as usize + 1) * d];
        assert_eq!(same, !touched.contains(&i), "item {i}");
    }
    // Bad input: an unknown target, a NaN label.
    let mut bad = b.clone();
    bad.targets[0] = ITEMS as u32;
    assert!(train_step(&dev, &mut m, &mut opt, &bad, MakeMode::None).is_err());
    let mut bad = b.clone();
    bad.labels[0] = f32::NAN;
    assert!(train_step(&dev, &mut m, &mut opt, &bad, MakeMode::None).is_err());
}

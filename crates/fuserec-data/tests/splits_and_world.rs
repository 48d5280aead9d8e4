mod common;
use common::scratch;
use fuserec_data::synthetic::{World, WorldConfig};
use fuserec_data::{CtrPrior, LoadOptions, PosteriorStats, SplitConfig, WarmSplit, load_dir, split};
use std::collections::HashMap;

fn small() -> WorldConfig {
    WorldConfig { scale: 0.1, ..Default::default() }
}

/// The small world, written and loaded back through the generic loader.
fn small_dataset(name: &str) -> (World, fuserec_data::Dataset) {
    let w = World::generate(&small()).unwrap();
    let d = scratch(name);
    w.write(&d).unwrap();
    let ds = load_dir(&d, &LoadOptions::default()).unwrap();
    (w, ds)
}

#[test]
fn world_is_deterministic_by_seed() {
    let a = World::generate(&small()).unwrap();
    let b = World::generate(&small()).unwrap();
    let key = |w: &World| w.events.iter().map(|e| (e.user, e.item, e.ts, e.click)).collect::<Vec<_>>();
    assert_eq!(key(&a), key(&b));
    assert_eq!(a.items.iter().map(|i| &i.title).collect::<Vec<_>>(), b.items.iter().map(|i| &i.title).collect::<Vec<_>>());
    let c = World::generate(&WorldConfig { seed: 8, ..small() }).unwrap();
    assert_ne!(key(&a), key(&c));
}

#[test]
fn world_has_the_promised_structure() {
    let w = World::generate(&WorldConfig::default()).unwrap();
    let n = w.events.len() as f64;
    let ctr = w.n_clicks() as f64 / n;
    assert!((0.1..0.4).contains(&ctr), "ctr {ctr}");
    // Popularity-biased logging: the 10% most shown items get a large share of impressions.
    let mut shown = vec![0usize; w.items.len()];
    w.events.iter().for_each(|e| shown[e.item] += 1);
    shown.sort_unstable_by(|a, b| b.cmp(a));
    let top: usize = shown[..w.items.len() / 10].iter().sum();
    assert!(top as f64 / n > 0.4, "top-10% share {}", top as f64 / n);
    // New items arrive over time and are never shown before they exist.
    let t0 = w.items[0].created_at;
    let new = w.items.iter().filter(|i| i.created_at > t0).count() as f64 / w.items.len() as f64;
    assert!((0.25..0.35).contains(&new), "new share {new}");
    assert!(w.events.iter().all(|e| e.ts >= w.items[e.item].created_at));
    // Hidden quality raises the click rate (content cannot see it).
    let (mut hi, mut lo) = ((0, 0), (0, 0));
    for e in &w.events {
        let q = w.items[e.item].quality;
        let c = if q > 0.5 {
            &mut hi
        } else if q < -0.5 {
            &mut lo
        } else {
            continue;
        };
        c.0 += e.click as usize;
        c.1 += 1;
    }
    assert!(hi.0 as f64 / hi.1 as f64 > 1.5 * lo.0 as f64 / lo.1 as f64);
}

#[test]
fn scale_reaches_a_million_interactions() {
    let w = World::generate(&WorldConfig { scale: 7.0, ..Default::default() }).unwrap();
    assert!(w.events.len() >= 1_000_000, "{}", w.events.len());
}

#[test]
fn world_round_trips_through_the_generic_loader() {
    let d = scratch("world");
    let w = World::generate(&small()).unwrap();
    w.write(&d).unwrap();
    let ds = load_dir(&d, &LoadOptions::default()).unwrap();
    assert_eq!(ds.interactions.len(), w.events.len());
    assert_eq!(ds.n_positives(), w.n_clicks());
    assert_eq!(ds.n_items(), w.items.len());
    assert_eq!(ds.report.items_without_image, 0);
    let img = fuserec_data::open_image(ds.items_meta[3].image.as_deref()).unwrap();
    assert_eq!((img.width(), img.height()), (64, 64));
    assert_eq!(ds.items_meta[3].created_at, Some(w.items[3].created_at));
}

#[test]
fn cold_start_split_invariants() {
    let (_, ds) = small_dataset("split");
    let s = split(&ds, &SplitConfig::default(), 3).unwrap();
    // Cold items never appear outside test_cold, and all their interactions are there.
    for x in s.train.iter().chain(&s.val).chain(&s.test_warm) {
        assert!(!s.cold[x.item.idx()]);
    }
    assert!(s.test_cold.iter().all(|x| s.cold[x.item.idx()]));
    assert_eq!(s.train.len() + s.val.len() + s.test_warm.len() + s.test_cold.len(), ds.interactions.len());
    // Per user, train precedes val precedes test in time.
    let mut last_train: HashMap<u32, i64> = HashMap::new();
    s.train.iter().for_each(|x| {
        let e = last_train.entry(x.user.0).or_insert(i64::MIN);
        *e = (*e).max(x.ts);
    });
    for x in s.val.iter().chain(&s.test_warm) {
        assert!(x.ts >= last_train.get(&x.user.0).copied().unwrap_or(i64::MIN));
    }
    // Same seed, same hash; another seed, other cold items.
    assert_eq!(s.hash, split(&ds, &SplitConfig::default(), 3).unwrap().hash);
    let other = split(&ds, &SplitConfig::default(), 4).unwrap();
    assert_ne!(s.hash, other.hash);
    assert_ne!(s.cold, other.cold);
    let bad = SplitConfig::cold_start(1.5, 0.0, WarmSplit::PerUserTemporal);
    assert!(split(&ds, &bad, 1).is_err());
    assert_eq!(s.n_cold_val(), 0, "no cold validation items unless asked");
}

#[test]
fn cold_validation_items_are_disjoint_and_live_only_in_validation() {
    let (_, ds) = small_dataset("coldval");
    let plain = split(&ds, &SplitConfig::default(), 3).unwrap();
    let cfg = SplitConfig::cold_start(0.2, 0.1, WarmSplit::PerUserTemporal);
    let s = split(&ds, &cfg, 3).unwrap();
    // The same test-cold items and interactions as without cold validation items.
    assert_eq!(s.cold, plain.cold);
    assert_eq!(s.test_cold.len(), plain.test_cold.len());
    // Disjoint, about 10% of the items with a positive, and only in validation.
    let with_pos = {
        let mut p = vec![false; ds.n_items()];
        ds.interactions.iter().filter(|x| x.is_positive()).for_each(|x| p[x.item.idx()] = true);
        p.iter().filter(|&&b| b).count()
    };
    assert_eq!(s.n_cold_val(), (with_pos as f64 * 0.1).round() as usize);
    assert!((0..ds.n_items()).all(|i| !(s.cold[i] && s.cold_val[i])));
    for x in s.train.iter().chain(&s.test_warm).chain(&s.test_cold) {
        assert!(!s.cold_val[x.item.idx()], "cold validation item {} outside validation", x.item.0);
    }
    let in_val = ds.interactions.iter().filter(|x| s.cold_val[x.item.idx()]).count();
    assert_eq!(s.val.iter().filter(|x| s.cold_val[x.item.idx()]).count(), in_val, "every interaction of a cold validation item is in val");
    assert_eq!(s.train.len() + s.val.len() + s.test_warm.len() + s.test_cold.len(), ds.interactions.len());
    assert_ne!(s.hash, plain.hash);
    let too_cold = SplitConfig::cold_start(0.6, 0.5, WarmSplit::PerUserTemporal);
    assert!(split(&ds, &too_cold, 1).unwrap_err().to_string().contains("cold_val_fraction"));
}

#[test]
fn random_warm_split_draws_each_interaction() {
    let (_, ds) = small_dataset("randomwarm");
    let cfg = SplitConfig::cold_start(0.2, 0.0, WarmSplit::Random);
    let s = split(&ds, &cfg, 5).unwrap();
    let warm = (s.train.len() + s.val.len() + s.test_warm.len()) as f64;
    let share = |n: usize| n as f64 / warm;
    assert!(
        (share(s.test_warm.len()) - 0.1).abs() < 0.02 && (share(s.val.len()) - 0.1).abs() < 0.02,
        "{} / {}",
        s.val.len(),
        s.test_warm.len()
    );
    // Unlike the per-user temporal split, some test interactions precede a training one of the
    // same user.
    let first_test: HashMap<u32, i64> = s.test_warm.iter().fold(HashMap::new(), |mut m, x| {
        let e = m.entry(x.user.0).or_insert(i64::MAX);
        *e = (*e).min(x.ts);
        m
    });
    assert!(s.train.iter().any(|x| first_test.get(&x.user.0).is_some_and(|&t| x.ts > t)));
    assert_eq!(s.hash, split(&ds, &cfg, 5).unwrap().hash, "deterministic by seed");
    assert!(s.protocol.contains("random"));
}

#[test]
fn temporal_split_is_ordered_and_new_items_are_cold() {
    let (_, ds) = small_dataset("temporal");
    let s = split(&ds, &SplitConfig::Temporal { val_fraction: 0.1, test_fraction: 0.1 }, 1).unwrap();
    let max = |v: &[fuserec_core::Interaction]| v.iter().map(|x| x.ts).max().unwrap();
    let min = |v: &[fuserec_core::Interaction]| v.iter().map(|x| x.ts).min().unwrap();
    assert!(max(&s.train) <= min(&s.val) && max(&s.val) <= min(&s.test_warm));
    assert!(!s.test_cold.is_empty(), "items arriving late are cold in a temporal split");
    assert!(s.test_cold.iter().all(|x| s.cold[x.item.idx()]));
}

#[test]
fn posterior_stats_on_the_world_never_see_the_future() {
    let (_, ds) = small_dataset("stats");
    let t = ds.interactions[ds.interactions.len() / 2].ts;
    let full = PosteriorStats::new(&ds.interactions, ds.created_at(), CtrPrior::default());
    let past: Vec<_> = ds.interactions.iter().filter(|x| x.ts < t).copied().collect();
    let cut = PosteriorStats::new(&past, ds.created_at(), CtrPrior::default());
    for i in 0..ds.n_items() {
        assert_eq!(full.at(i, t), cut.at(i, t), "item {i}");
    }
    let exposures: f32 = (0..ds.n_items()).map(|i| full.at(i, t).exposures).sum();
    assert_eq!(exposures as usize, past.len());
}

#[test]
fn search_sessions_are_deterministic_and_semantic() {
    let a = World::generate(&small()).unwrap();
    let b = World::generate(&small()).unwrap();
    let key = |w: &World| w.searches.iter().map(|s| (s.user, s.ts, s.query.clone(), s.bought, s.clicked.clone())).collect::<Vec<_>>();
    assert_eq!(key(&a), key(&b));
    assert!(a.n_searches() > 0);
    // Adding sessions left the rest of the world as it was: no session changes an event.
    let no_search = World::generate(&WorldConfig { searches_per_user: 0.0, ..small() }).unwrap();
    assert_eq!(no_search.n_searches(), 0);
    assert_eq!(no_search.events.len(), a.events.len());
    for s in &a.searches {
        assert!(!s.query.trim().is_empty() && !s.clicked.contains(&s.bought));
        let topic = a.items[s.bought].primary;
        assert!(s.clicked.iter().all(|&c| a.items[c].primary == topic), "hard negatives share the bought item's topic");
        assert!(a.items[s.bought].created_at <= s.ts, "only items that exist can be bought");
    }
    // Round trip through the loader.
    let d = std::env::temp_dir().join(format!("fuserec-world-search-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    a.write(&d).unwrap();
    let ds = load_dir(&d, &LoadOptions::default()).unwrap();
    let loaded = fuserec_data::load_searches(&d.join("searches.tsv"), &ds).unwrap();
    assert_eq!(loaded.len(), a.n_searches());
    assert_eq!(ds.items.raw(loaded[0].bought.0), format!("i{}", a.searches[0].bought));
    let _ = std::fs::remove_dir_all(d);
}

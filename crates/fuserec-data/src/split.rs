//! Splits. The item cold-start protocol (as in ColdRec/ALDI): a seeded 20% of items are cold and
//! all their interactions are test-cold; optionally a further, disjoint set of cold *validation*
//! items has all its interactions in validation (so model selection sees cold items too); warm
//! interactions split 80/10/10 by time per user, or at random. A global temporal split cuts all
//! interactions at two time quantiles. A dataset's own files are used as given. Every split
//! carries a hash of its content, logged with each result.

use crate::dataset::{Dataset, sort_interactions};
use fuserec_core::{Error, Interaction, Result, Rng};
use sha2::{Digest, Sha256};

/// How to divide a dataset into train / validation / test (`[split] kind = …`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum SplitConfig {
    /// Item cold start: a share of the items is held out entirely (their interactions are test);
    /// the warm items' interactions are divided as `warm` says.
    ColdStart {
        /// Share of the items with a positive that become test-cold (default 0.2).
        #[serde(default = "default_cold")]
        cold_fraction: f64,
        /// Share of warm interactions for validation (default 0.1).
        #[serde(default = "default_tenth")]
        val_fraction: f64,
        /// Share of warm interactions for test (default 0.1).
        #[serde(default = "default_tenth")]
        test_fraction: f64,
        /// Share of the items with a positive that become cold *validation* items (disjoint from
        /// the test-cold ones): all their interactions go to validation, none to train or test.
        /// 0 (the default, as in the published tables) leaves validation warm-only.
        #[serde(default)]
        cold_val_fraction: f64,
        /// How warm interactions are divided into train / validation / test.
        #[serde(default)]
        warm: WarmSplit,
    },
    /// Global time order: the last `test_fraction` of interactions to test, the share before to validation.
    Temporal {
        /// Share of interactions for validation (default 0.1).
        #[serde(default = "default_tenth")]
        val_fraction: f64,
        /// Share of interactions for test (default 0.1).
        #[serde(default = "default_tenth")]
        test_fraction: f64,
    },
    /// Use the dataset's own train/val/test files.
    Given,
}

/// How a cold-start split divides the warm items' interactions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WarmSplit {
    /// Per user in time order: the last `test_fraction` to test, the `val_fraction` before it to
    /// validation.
    #[default]
    PerUserTemporal,
    /// Each interaction drawn at random (seeded) into train / validation / test.
    Random,
}

fn default_cold() -> f64 {
    0.2
}
fn default_tenth() -> f64 {
    0.1
}

impl SplitConfig {
    /// A cold-start split with the default 10% validation and 10% test shares of warm interactions.
    pub fn cold_start(cold_fraction: f64, cold_val_fraction: f64, warm: WarmSplit) -> Self {
        SplitConfig::ColdStart { cold_fraction, val_fraction: 0.1, test_fraction: 0.1, cold_val_fraction, warm }
    }
}

impl Default for SplitConfig {
    fn default() -> Self {
        SplitConfig::cold_start(0.2, 0.0, WarmSplit::PerUserTemporal)
    }
}

/// A dataset divided for one experiment.
#[derive(Clone, Debug)]
pub struct Split {
    /// A one-line description of how it was split (for reports).
    pub protocol: String,
    /// Training interactions.
    pub train: Vec<Interaction>,
    /// Validation interactions (warm and, with cold validation items, theirs).
    pub val: Vec<Interaction>,
    /// Test interactions on warm items.
    pub test_warm: Vec<Interaction>,
    /// Test interactions on test-cold items.
    pub test_cold: Vec<Interaction>,
    /// Per item: true when the item is a test-cold item (no training interactions by
    /// construction; its interactions are `test_cold`).
    pub cold: Vec<bool>,
    /// Per item: true when the item is a cold *validation* item: no training or test
    /// interactions, all of them in `val`. Such items are candidates neither in test rankings nor
    /// in any test segment (they are hidden from the test evaluation).
    pub cold_val: Vec<bool>,
    /// First 16 hex digits of the SHA-256 of the split's content (raw ids), stable across runs.
    pub hash: String,
}

impl Split {
    /// Number of test-cold items.
    pub fn n_cold(&self) -> usize {
        self.cold.iter().filter(|&&c| c).count()
    }
    /// Number of cold validation items.
    pub fn n_cold_val(&self) -> usize {
        self.cold_val.iter().filter(|&&c| c).count()
    }
}

/// Splits `ds` as `cfg` says, deterministically by `seed`. Errors: shares outside [0, 1) or summing
/// to 1 or more, a `Given` split on a dataset without split files, split files that contradict it.
pub fn split(ds: &Dataset, cfg: &SplitConfig, seed: u64) -> Result<Split> {
    let check = |name: &str, f: f64| {
        if (0.0..1.0).contains(&f) { Ok(()) } else { Err(Error::Config(format!("split {name} must be in [0, 1), got {f}"))) }
    };
    let n_items = ds.n_items();
    let (protocol, train, val, test_warm, test_cold, cold, cold_val) = match cfg {
        SplitConfig::ColdStart { cold_fraction, val_fraction, test_fraction, cold_val_fraction, warm } => {
            check("cold_fraction", *cold_fraction)?;
            check("val_fraction", *val_fraction)?;
            check("test_fraction", *test_fraction)?;
            check("cold_val_fraction", *cold_val_fraction)?;
            if cold_fraction + cold_val_fraction >= 1.0 {
                return Err(Error::Config(format!(
                    "split cold_fraction + cold_val_fraction must be < 1, got {}",
                    cold_fraction + cold_val_fraction
                )));
            }
            if val_fraction + test_fraction >= 1.0 {
                return Err(Error::Config(format!("split val_fraction + test_fraction must be < 1, got {}", val_fraction + test_fraction)));
            }
            // Cold items are drawn among items with at least one positive, so the cold test set is
            // as large as the fraction promises. The test-cold draw comes first and does not
            // depend on `cold_val_fraction`, so adding cold validation items keeps the test set.
            let mut has_pos = vec![false; n_items];
            ds.interactions.iter().filter(|x| x.is_positive()).for_each(|x| has_pos[x.item.idx()] = true);
            let mut candidates: Vec<usize> = (0..n_items).filter(|&i| has_pos[i]).collect();
            Rng::derive(seed, 0x5EED).shuffle(&mut candidates);
            let mut cold = vec![false; n_items];
            let mut cold_val = vec![false; n_items];
            let n_cold = (candidates.len() as f64 * cold_fraction).round() as usize;
            let n_cold_val = (candidates.len() as f64 * cold_val_fraction).round() as usize;
            candidates[..n_cold].iter().for_each(|&i| cold[i] = true);
            candidates[n_cold..n_cold + n_cold_val].iter().for_each(|&i| cold_val[i] = true);
            let (test_cold, rest): (Vec<_>, Vec<_>) = ds.interactions.iter().copied().partition(|x| cold[x.item.idx()]);
            let (val_cold, warm_xs): (Vec<_>, Vec<_>) = rest.into_iter().partition(|x| cold_val[x.item.idx()]);
            let (train, mut val, test_warm) = match warm {
                WarmSplit::PerUserTemporal => per_user_by_time(&warm_xs, ds.n_users(), *val_fraction, *test_fraction),
                WarmSplit::Random => at_random(&warm_xs, *val_fraction, *test_fraction, seed),
            };
            val.extend(val_cold);
            let protocol = match (warm, n_cold_val > 0) {
                (WarmSplit::PerUserTemporal, false) => "cold-start".to_string(),
                (WarmSplit::PerUserTemporal, true) => "cold-start (+cold validation)".to_string(),
                (WarmSplit::Random, false) => "cold-start (random warm)".to_string(),
                (WarmSplit::Random, true) => "cold-start (random warm, +cold validation)".to_string(),
            };
            (protocol, train, val, test_warm, test_cold, cold, cold_val)
        }
        SplitConfig::Temporal { val_fraction, test_fraction } => {
            check("val_fraction", *val_fraction)?;
            check("test_fraction", *test_fraction)?;
            let all = &ds.interactions; // sorted by time
            let n = all.len();
            let a = ((n as f64) * (1.0 - val_fraction - test_fraction)).round() as usize;
            let b = ((n as f64) * (1.0 - test_fraction)).round() as usize;
            let train = all[..a].to_vec();
            let mut cold = vec![true; n_items];
            train.iter().for_each(|x| cold[x.item.idx()] = false);
            let (test_cold, test_warm): (Vec<_>, Vec<_>) = all[b..].iter().copied().partition(|x| cold[x.item.idx()]);
            ("temporal".to_string(), train, all[a..b].to_vec(), test_warm, test_cold, cold, vec![false; n_items])
        }
        SplitConfig::Given => {
            let g = ds
                .given_split
                .as_ref()
                .ok_or_else(|| Error::Config(format!("split kind = \"given\" but dataset `{}` has no train/test files", ds.name)))?;
            let (cold, test_warm, test_cold) = match &g.test_cold {
                // The cold items are exactly the test_cold file's items: a test_warm item without
                // training rows is still a warm-segment candidate (it is what the file says).
                Some(tc) => {
                    let mut cold = vec![false; n_items];
                    tc.iter().for_each(|x| cold[x.item.idx()] = true);
                    if let Some(x) = g.train.iter().chain(&g.test_warm).find(|x| cold[x.item.idx()]) {
                        return Err(Error::Invalid(format!(
                            "given split: item `{}` is in test_cold but also has train or test_warm interactions",
                            ds.items.raw(x.item.0)
                        )));
                    }
                    (cold, g.test_warm.clone(), tc.clone())
                }
                // One test file: the cold items are the test items absent from train.
                None => {
                    let mut cold = vec![true; n_items];
                    g.train.iter().for_each(|x| cold[x.item.idx()] = false);
                    let (c, w): (Vec<Interaction>, Vec<Interaction>) = g.test_warm.iter().copied().partition(|x| cold[x.item.idx()]);
                    (cold, w, c)
                }
            };
            ("given".to_string(), g.train.clone(), g.val.clone(), test_warm, test_cold, cold, vec![false; n_items])
        }
    };
    let mut s = Split { protocol, train, val, test_warm, test_cold, cold, cold_val, hash: String::new() };
    for v in [&mut s.train, &mut s.val, &mut s.test_warm, &mut s.test_cold] {
        sort_interactions(v);
    }
    s.hash = split_hash(ds, &s);
    Ok(s)
}

/// For each user, interactions in time order: the last `test` share to test, the `val` share
/// before it to validation, the rest to train. Users with few interactions keep them in train.
pub fn per_user_by_time(
    warm: &[Interaction],
    n_users: usize,
    val: f64,
    test: f64,
) -> (Vec<Interaction>, Vec<Interaction>, Vec<Interaction>) {
    let mut by_user: Vec<Vec<Interaction>> = vec![Vec::new(); n_users];
    warm.iter().for_each(|x| by_user[x.user.idx()].push(*x));
    let (mut tr, mut va, mut te) = (Vec::new(), Vec::new(), Vec::new());
    for mut v in by_user {
        v.sort_by_key(|x| (x.ts, x.item));
        let n = v.len();
        let n_test = (n as f64 * test).floor() as usize;
        let n_val = (n as f64 * val).floor() as usize;
        let n_train = n - n_test - n_val;
        te.extend_from_slice(&v[n_train + n_val..]);
        va.extend_from_slice(&v[n_train..n_train + n_val]);
        tr.extend_from_slice(&v[..n_train]);
    }
    (tr, va, te)
}

/// Each interaction to test with probability `test`, else to validation with probability `val`,
/// else to train (seeded).
fn at_random(warm: &[Interaction], val: f64, test: f64, seed: u64) -> (Vec<Interaction>, Vec<Interaction>, Vec<Interaction>) {
    let mut rng = Rng::derive(seed, 0xA7D);
    let (mut tr, mut va, mut te) = (Vec::new(), Vec::new(), Vec::new());
    for x in warm {
        let u = rng.uniform();
        if u < test {
            te.push(*x);
        } else if u < test + val {
            va.push(*x);
        } else {
            tr.push(*x);
        }
    }
    (tr, va, te)
}

fn split_hash(ds: &Dataset, s: &Split) -> String {
    let mut h = Sha256::new();
    h.update(s.protocol.as_bytes());
    for (part, v) in [("train", &s.train), ("val", &s.val), ("test_warm", &s.test_warm), ("test_cold", &s.test_cold)] {
        for x in v {
            h.update(format!("{part}\t{}\t{}\t{}\t{}\n", ds.users.raw(x.user.0), ds.items.raw(x.item.0), x.ts, x.label).as_bytes());
        }
    }
    h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
}

//! A fitted recall model of any kind on disk, read back to score exactly as it did, without
//! training again:
//!
//! ```text
//! <dir>/
//!   model.json          format, versions, the `[[model]]` table, seed, the dataset's fingerprint,
//!                       the split's hash, the caller's context, the state file's sha256
//!   state.safetensors   what the model scores with (`Recommender::state`)
//! ```
//!
//! Invariants: written to a temporary folder renamed into place; `load` checks the format, the
//! state's hash and every tensor's size against the manifest before a model is built, so a
//! corrupt or mismatched folder is an error naming the file, never a panic at scoring time.
//! The two-tower model comes back as the inner-product scorer of its stored vectors; the
//! serving artifact (`fuserec_recall::artifact`) is the folder that keeps its towers.

use crate::baselines::{Bpr, ContentKnn, Ease, ItemKnn, MostPop, RandomScores};
use crate::config::ModelConfig;
use fuserec_core::{Error, Result};
use fuserec_data::Dataset;
use fuserec_nn::Checkpoint;
use fuserec_recall::Recommender;
use fuserec_recall::artifact::{read_manifest, sha256_file};
use fuserec_recall::inner_product::InnerProductModel;
use sha2::{Digest, Sha256};
use std::path::Path;

/// Version of the folder layout; `load` refuses others.
pub const FORMAT: u32 = 1;
const MANIFEST: &str = "model.json";
const STATE: &str = "state.safetensors";

/// `model.json` of a saved model folder.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SavedManifest {
    /// Layout version ([`FORMAT`]).
    pub format: u32,
    /// fuserec version that wrote it.
    pub fuserec_version: String,
    /// Git revision of the source tree, when known.
    pub git_revision: String,
    /// When it was written (RFC 3339, UTC).
    pub created_at: String,
    /// The model's display name (`TwoTower[additive]`, `EASE(λ=500)`, …).
    pub name: String,
    /// The `[[model]]` table it was fitted from.
    pub model: ModelConfig,
    /// Fit seed.
    pub seed: u64,
    /// Which users and items its rows are.
    pub dataset: DatasetFingerprint,
    /// Hash of the split the model was fitted on.
    pub split: String,
    /// Whatever the caller needs to rebuild the setting (the Python package stores its
    /// experiment table: split, features, k, selection).
    pub context: serde_json::Value,
    /// SHA-256 of `state.safetensors`.
    pub state_sha256: String,
}

/// Which users and items a model's rows are: the ids in internal order, hashed.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DatasetFingerprint {
    /// Dataset name (informative).
    pub name: String,
    /// Number of users.
    pub users: usize,
    /// Number of items.
    pub items: usize,
    /// sha256 over the raw user ids, then the raw item ids, in internal order.
    pub ids: String,
}

impl DatasetFingerprint {
    /// The fingerprint of a loaded dataset.
    pub fn of(ds: &Dataset) -> Self {
        let mut h = Sha256::new();
        for u in 0..ds.n_users() {
            h.update(ds.users.raw(u as u32).as_bytes());
            h.update([0]);
        }
        h.update([1]);
        for i in 0..ds.n_items() {
            h.update(ds.items.raw(i as u32).as_bytes());
            h.update([0]);
        }
        DatasetFingerprint { name: ds.name.clone(), users: ds.n_users(), items: ds.n_items(), ids: hex(&h.finalize()) }
    }

    /// An error unless `ds` has exactly these users and items in this order.
    pub fn check(&self, ds: &Dataset) -> Result<()> {
        // The name is informative only: the same ids under another name are the same rows.
        let other = Self::of(ds);
        if (&other.ids, other.users, other.items) == (&self.ids, self.users, self.items) {
            return Ok(());
        }
        Err(Error::Invalid(format!(
            "the saved model was fitted on dataset `{}` ({} users, {} items); this dataset `{}` has {} users, {} items{}",
            self.name,
            self.users,
            self.items,
            other.name,
            other.users,
            other.items,
            if other.users == self.users && other.items == self.items { " but other ids (or another order)" } else { "" }
        )))
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// What a fitted model was fitted on, beside the model itself.
pub struct FitContext<'a> {
    /// The `[[model]]` table.
    pub model: &'a ModelConfig,
    /// Fit seed.
    pub seed: u64,
    /// The dataset it was fitted on.
    pub dataset: &'a Dataset,
    /// Hash of the split.
    pub split: &'a str,
    /// Caller's context, stored as is.
    pub context: serde_json::Value,
}

/// Writes `model` into the folder `dir`, replacing a saved model already there (a folder that
/// exists and is not one is refused, so a typo never deletes unrelated files).
pub fn save(dir: &Path, model: &dyn Recommender, fit: FitContext<'_>) -> Result<()> {
    let state = model.state()?;
    if dir.exists() && !dir.join(MANIFEST).is_file() {
        let empty = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?.next().is_none();
        if !empty {
            return Err(Error::Invalid(format!("{}: exists and is not a saved model (no {MANIFEST}); not overwritten", dir.display())));
        }
    }
    let name = dir.file_name().map_or_else(|| "model".into(), |n| n.to_string_lossy().to_string());
    let tmp = dir.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let sp = tmp.join(STATE);
    state.save(&sp)?;
    let manifest = SavedManifest {
        format: FORMAT,
        fuserec_version: env!("CARGO_PKG_VERSION").into(),
        git_revision: fuserec_core::provenance::git_revision(),
        created_at: fuserec_core::provenance::utc_now(),
        name: model.name(),
        model: fit.model.clone(),
        seed: fit.seed,
        dataset: DatasetFingerprint::of(fit.dataset),
        split: fit.split.to_string(),
        context: fit.context,
        state_sha256: sha256_file(&sp)?,
    };
    let mp = tmp.join(MANIFEST);
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Invalid(format!("{MANIFEST}: {e}")))?;
    std::fs::write(&mp, json).map_err(|e| Error::io(&mp, e))?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::rename(&tmp, dir).map_err(|e| Error::io(dir, e))
}

/// Reads the folder `dir`: its manifest and the model, checked as the module says.
pub fn load(dir: &Path) -> Result<(SavedManifest, Box<dyn Recommender>)> {
    let bad = |what: String| Error::Invalid(format!("{}: {what}", dir.display()));
    let probe = read_manifest(dir, MANIFEST, FORMAT, "saved model", "not a saved model (Model.save writes one)")?;
    let m: SavedManifest = serde_json::from_value(probe).map_err(|e| bad(format!("{MANIFEST}: {e}")))?;
    let sp = dir.join(STATE);
    if sha256_file(&sp)? != m.state_sha256 {
        return Err(bad(format!("{STATE} does not match the sha256 in {MANIFEST} (changed or corrupt)")));
    }
    let ck = Checkpoint::load(&sp)?;
    check_sizes(&ck, &m).map_err(|e| bad(format!("{STATE}: {e}")))?;
    let model: Box<dyn Recommender> = match &m.model {
        ModelConfig::Random => Box::new(RandomScores::from_state(&ck)?),
        ModelConfig::MostPop => Box::new(MostPop::from_state(&ck)?),
        ModelConfig::ItemKnn { .. } => Box::new(ItemKnn::from_state(&ck)?),
        ModelConfig::ContentKnn(_) | ModelConfig::ContentCentroid(_) => Box::new(ContentKnn::from_state(&ck)?),
        ModelConfig::Ease { .. } => Box::new(Ease::from_state(&ck)?),
        ModelConfig::Bpr(_) | ModelConfig::Vbpr(_) => Box::new(Bpr::from_state(&ck)?),
        ModelConfig::TwoTower(_) => Box::new(InnerProductModel::from_state(&ck)?),
    };
    Ok((m, model))
}

/// Every per-item tensor has one row per item of the manifest's dataset, every per-user one a
/// row per user: a state that passed its hash but disagrees with its manifest is refused here.
fn check_sizes(ck: &Checkpoint, m: &SavedManifest) -> Result<()> {
    let (users, items) = (m.dataset.users, m.dataset.items);
    for (name, (shape, _)) in &ck.tensors {
        let want = match name.as_str() {
            "users" => Some(users),
            "items" | "popularity" | "lengths" | "scorable" | "has_content" | "bias" | "b" => Some(items),
            _ => None,
        };
        if let Some(n) = want
            && (shape.first() != Some(&n) || (name == "b" && shape.get(1) != Some(&n)))
        {
            return Err(Error::Shape(format!("tensor `{name}` is {shape:?}, the dataset has {users} users and {items} items")));
        }
    }
    if matches!(m.model, ModelConfig::Random) {
        let (n, _): (usize, u64) = serde_json::from_str(&ck.header).map_err(|e| Error::Invalid(format!("random: state header: {e}")))?;
        if n != items {
            return Err(Error::Shape(format!("random scores {n} items, the dataset has {items}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ExperimentConfig;
    use crate::experiment::build_model;
    use fuserec_core::{Interaction, ItemId, UserId};
    use fuserec_recall::TrainData;

    /// A dataset holding only ids: `users`, `items` in this internal order.
    fn ids(users: &[String], items: &[String]) -> Dataset {
        let map = |xs: &[String]| {
            let mut m = fuserec_core::IdMap::new();
            xs.iter().for_each(|x| {
                m.intern(x);
            });
            m
        };
        Dataset {
            name: "tiny".into(),
            root: Default::default(),
            users: map(users),
            items: map(items),
            interactions: Vec::new(),
            items_meta: vec![Default::default(); items.len()],
            report: Default::default(),
            given_split: None,
        }
    }

    /// 6 users, 5 items (item 4 never interacted with).
    fn world() -> (Dataset, Vec<Interaction>) {
        let users: Vec<String> = (0..6).map(|u| format!("u{u}")).collect();
        let items: Vec<String> = (0..5).map(|i| format!("i{i}")).collect();
        let pos = |u, i| Interaction { user: UserId(u), item: ItemId(i), ts: 0, label: 1.0, weight: 1.0 };
        let log = vec![pos(0, 0), pos(0, 1), pos(1, 0), pos(1, 1), pos(1, 2), pos(2, 1), pos(3, 2), pos(3, 3), pos(4, 0), pos(5, 3)];
        (ids(&users, &items), log)
    }

    fn scores(m: &dyn Recommender, n_items: usize) -> Vec<f32> {
        let hist: Vec<Vec<u32>> = vec![vec![0], vec![1, 2], vec![], vec![3], vec![0, 3], vec![2]];
        let h: Vec<&[u32]> = hist.iter().map(|x| x.as_slice()).collect();
        let mut out = vec![0f32; 6 * n_items];
        m.score(&[0, 1, 2, 3, 4, 5], &h, &mut out);
        out
    }

    #[test]
    fn every_kind_scores_the_same_after_a_round_trip() {
        let (ds, log) = world();
        let data = TrainData::new(6, 5, &log, &[], None);
        let dir = std::env::temp_dir().join(format!("fuserec-saved-{}", std::process::id()));
        let tables = [
            "kind = \"random\"",
            "kind = \"most-pop\"",
            "kind = \"item-knn\"\nneighbours = 2",
            "kind = \"ease\"\nlambda = 2.0",
            "kind = \"bpr\"\nfactors = 4\nepochs = 3",
        ];
        for t in tables {
            let cfg: ExperimentConfig =
                toml::from_str(&format!("name = \"t\"\n[dataset]\nkind = \"synthetic\"\n[[model]]\n{t}\n")).expect("config");
            let mc = &cfg.models[0];
            let model = build_model(mc, &data, None, 3, None).unwrap();
            let fit = FitContext { model: mc, seed: 3, dataset: &ds, split: "h", context: serde_json::json!({ "k": [2] }) };
            save(&dir, model.as_ref(), fit).unwrap();
            let (m, back) = load(&dir).unwrap();
            assert_eq!((m.name.as_str(), m.seed, m.split.as_str()), (model.name().as_str(), 3, "h"), "{t}");
            assert_eq!(m.context["k"][0], 2);
            m.dataset.check(&ds).unwrap();
            assert_eq!(back.name(), model.name());
            // Bit for bit: −∞ where the model has no evidence, the same finite scores elsewhere.
            let (a, b) = (scores(model.as_ref(), 5), scores(back.as_ref(), 5));
            assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()), "{t}: {a:?} vs {b:?}");
        }
        // A changed state file is refused by its hash, a folder without a manifest by name.
        let sp = dir.join(STATE);
        let mut bytes = std::fs::read(&sp).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&sp, bytes).unwrap();
        let e = load(&dir).err().unwrap().to_string();
        assert!(e.contains("state.safetensors does not match the sha256"), "{e}");
        std::fs::remove_file(dir.join(MANIFEST)).unwrap();
        let e = load(&dir).err().unwrap().to_string();
        assert!(e.contains("no model.json: not a saved model"), "{e}");
        // A non-empty folder that is not a saved model is never overwritten.
        let model = MostPop::fit(&data);
        let mc = ModelConfig::MostPop;
        let e = save(&dir, &model, FitContext { model: &mc, seed: 1, dataset: &ds, split: "h", context: serde_json::Value::Null })
            .unwrap_err()
            .to_string();
        assert!(e.contains("is not a saved model") && dir.join(STATE).exists(), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_model_refuses_another_dataset_and_a_mismatched_state() {
        let (ds, log) = world();
        let fp = DatasetFingerprint::of(&ds);
        fp.check(&ds).unwrap();
        let users: Vec<String> = [1, 0, 2, 3, 4, 5].iter().map(|u| format!("u{u}")).collect();
        let items: Vec<String> = (0..5).map(|i| format!("i{i}")).collect();
        let other = ids(&users, &items);
        let e = fp.check(&other).unwrap_err().to_string();
        assert!(e.contains("6 users, 5 items but other ids (or another order)"), "{e}");
        // A manifest saying 7 items over a 5-item state: refused before any model is built.
        let data = TrainData::new(6, 5, &log, &[], None);
        let model = MostPop::fit(&data);
        let dir = std::env::temp_dir().join(format!("fuserec-saved-size-{}", std::process::id()));
        let mc = ModelConfig::MostPop;
        save(&dir, &model, FitContext { model: &mc, seed: 1, dataset: &ds, split: "h", context: serde_json::Value::Null }).unwrap();
        let mp = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&mp).unwrap().replace("\"items\": 5", "\"items\": 7");
        std::fs::write(&mp, text).unwrap();
        let e = load(&dir).err().unwrap().to_string();
        assert!(e.contains("tensor `popularity` is [5]") && e.contains("7 items"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

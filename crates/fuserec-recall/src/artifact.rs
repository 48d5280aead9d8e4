//! The trained artifact: everything a trained two-tower model needs to be served, in one folder,
//! so that serving never re-runs a split, a feature encoding or an experiment.
//!
//! ```text
//! model<i>-seed<s>.fuserec/
//!   manifest.json         format, versions, source (experiment, model, seed, dataset, split and
//!                         feature hashes), config, feature backbones and widths, blend, users,
//!                         items (id, text, statistics, trained row), seen lists, cluster codes,
//!                         tags, and the sha256 of every other file
//!   weights.safetensors   the network at its best validation epoch
//!   vectors.safetensors   user queries, catalogue vectors (as evaluated), content rows,
//!                         content-head rows, item–item columns, preprocessing centres
//!   code_tree.safetensors the cluster tree that encodes new items (cluster-code models only)
//! ```
//!
//! Invariants: the files are written to a temporary folder renamed into place (a crash leaves no
//! half artifact under the real name); `load` checks the format, every file's hash and every
//! shape against the manifest before anything is built from it.

use crate::features::{FeatureSet, ItemFeatures};
use crate::two_tower::content_head::Blend;
use crate::two_tower::{CodeTree, Net, TwoTowerConfig};
use fuserec_core::{Embeddings, Error, Result};
use fuserec_data::Dataset;
use fuserec_nn::Checkpoint;
use fuserec_towers::ContentInput;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Version of the folder layout; `load` refuses others. 2: any number of named modalities
/// (`features.modalities`, one `centre_<name>` per modality).
pub const FORMAT: u32 = 2;

/// What the run knows beyond the training data: who the users and items are.
#[derive(Clone, Debug, Default)]
pub struct Catalogue {
    /// Dataset name.
    pub dataset: String,
    /// Raw user ids in internal order.
    pub users: Vec<String>,
    /// Raw item ids, texts and whether an image exists, in internal order.
    pub items: Vec<(String, String, bool)>,
}

impl Catalogue {
    /// The catalogue of a loaded dataset.
    pub fn of(ds: &Dataset) -> Self {
        Catalogue {
            dataset: ds.name.clone(),
            users: (0..ds.n_users()).map(|u| ds.users.raw(u as u32).to_string()).collect(),
            items: (0..ds.n_items())
                .map(|i| {
                    let meta = &ds.items_meta[i];
                    (ds.items.raw(i as u32).to_string(), meta.text(), meta.image.is_some())
                })
                .collect(),
        }
    }
}

/// Which run made the artifact.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Source {
    /// Experiment name.
    pub experiment: String,
    /// Index of the `[[model]]` in the experiment.
    pub model: usize,
    /// Seed of the run.
    pub seed: u64,
    /// Dataset name.
    pub dataset: String,
    /// Hash of the split the model was trained on.
    pub split: String,
}

/// Where training writes its artifact, with what the experiment knows of the run.
#[derive(Clone, Debug)]
pub struct ArtifactTarget {
    /// The artifact folder to write.
    pub dir: PathBuf,
    /// Users and items of the run.
    pub catalogue: Arc<Catalogue>,
    /// Which run this is.
    pub source: Source,
    /// The modalities' backbones as configured (registry names a server can build again).
    pub backbones: Option<FeatureSet>,
}

/// One modality the model reads: what a server runs on a new item, and the width it must give.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModalitySpec {
    /// The modality's name in `[features]` (`text`, `image`, `clip`, …).
    pub name: String,
    /// The backbone as configured (a registry name, or `vectors:…` / `embeddings:…`:
    /// precomputed, so a new item has no row for it and is masked).
    pub backbone: String,
    /// The encoder's own description (parameters, preprocessing) of the rows the model read.
    pub encoded_as: String,
    /// Width of the encoder's rows.
    pub dim: usize,
}

/// The content the model reads: its modalities in the content row's order, and their hash.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FeatureSpec {
    /// The modalities, in the content row's order.
    pub modalities: Vec<ModalitySpec>,
    /// [`ItemFeatures::hash`] of the catalogue's rows.
    pub hash: String,
}

impl FeatureSpec {
    /// `backbones` as configured, `f` the rows they gave.
    pub fn of(backbones: &FeatureSet, f: &ItemFeatures) -> Result<Self> {
        let modalities = f
            .modalities
            .iter()
            .map(|m| {
                let backbone = backbones.get(&m.name).ok_or_else(|| {
                    Error::Config(format!("artifact: modality `{}` is not among the configured {}", m.name, backbones.describe()))
                })?;
                Ok(ModalitySpec { name: m.name.clone(), backbone: backbone.to_string(), encoded_as: m.backbone.clone(), dim: m.rows.dim() })
            })
            .collect::<Result<_>>()?;
        Ok(FeatureSpec { modalities, hash: f.hash.clone() })
    }

    /// Width of each modality, in order.
    pub fn dims(&self) -> Vec<usize> {
        self.modalities.iter().map(|m| m.dim).collect()
    }
}

/// A catalogue item as training left it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ItemRecord {
    /// External item id.
    pub id: String,
    /// The item's text as the encoders saw it.
    pub text: String,
    /// First interaction (seconds), or `statistics_at` for items never seen.
    pub created_at: i64,
    /// Exposures in train + validation.
    pub exposures: u64,
    /// Clicks in train + validation.
    pub clicks: u64,
    /// Whether it has non-empty text.
    pub has_text: bool,
    /// Whether it has an image.
    pub has_image: bool,
    /// A positive in the training split: the item's id row was trained.
    pub trained: bool,
}

/// `manifest.json` of an artifact folder: provenance, config, catalogue and file checksums.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// Layout version ([`FORMAT`]).
    pub format: u32,
    /// fuserec version that wrote it.
    pub fuserec_version: String,
    /// Git revision of the source tree, when known.
    pub git_revision: String,
    /// When it was written (RFC 3339, UTC).
    pub created_at: String,
    /// Which run made it.
    pub source: Source,
    /// The model's configuration.
    pub config: TwoTowerConfig,
    /// The content the model reads (None: id-only).
    pub features: Option<FeatureSpec>,
    /// How scores of the towers and the content head combine.
    pub blend: Blend,
    /// Width of the content head appended to every vector (0: none).
    pub content_head_dim: usize,
    /// Width of the item–item channel appended after it (the catalogue's size; 0: none).
    #[serde(default)]
    pub item_item_dim: usize,
    /// "Now" of the statistics and queries: one second after the last training/validation event.
    pub statistics_at: i64,
    /// External user ids in internal order.
    pub users: Vec<String>,
    /// Catalogue items in internal order.
    pub items: Vec<ItemRecord>,
    /// Per user: items seen in training and validation, sorted (left out of that user's recall).
    pub seen: Vec<Vec<u32>>,
    /// The content tower's cluster codes per level read, and each level's code count.
    pub codes: Vec<(Vec<u32>, usize)>,
    /// Levels of the cluster tree the tower reads.
    pub code_levels: Vec<usize>,
    /// Per item: tag ids, and the vocabulary size (tag models only).
    pub tags: Option<(Vec<Vec<u32>>, usize)>,
    /// sha256 of every other file of the folder.
    pub files: BTreeMap<String, String>,
}

/// A trained two-tower model with everything serving needs.
pub struct TrainedArtifact {
    /// The manifest.
    pub manifest: Manifest,
    /// Network weights.
    pub weights: Checkpoint,
    /// Per user: the query as of the end of training.
    pub user_vectors: Embeddings,
    /// Catalogue vectors exactly as evaluation scored them.
    pub item_vectors: Embeddings,
    /// The content tower's input rows (`items × width`), when the model has a content view.
    pub content_rows: Option<(Arc<Vec<f32>>, usize)>,
    /// The content head's catalogue rows, when the vectors carry the head.
    pub head_rows: Option<Embeddings>,
    /// The item–item channel's catalogue columns (`B[:, j]/s`, before `ρ`; a never-seen item's
    /// borrowed row, zeros for other items without training positives), when the vectors carry
    /// the channel.
    pub item_item_rows: Option<Embeddings>,
    /// Per modality of `manifest.features` (in its order): the catalogue mean subtracted from
    /// encoder output (`[features] preprocess`).
    pub centres: Vec<Option<Vec<f32>>>,
    /// The cluster tree, when the content tower reads codes.
    pub code_tree: Option<CodeTree>,
}

/// Per-run statistics as training ended (train + validation events).
pub struct Snapshot {
    /// Per user: items seen, sorted.
    pub seen: Vec<Vec<u32>>,
    /// Per item: exposures.
    pub exposures: Vec<u64>,
    /// Per item: clicks.
    pub clicks: Vec<u64>,
    /// First event per item (`i64::MAX`: none).
    pub first: Vec<i64>,
    /// One second after the last event.
    pub statistics_at: i64,
}

impl Snapshot {
    /// Statistics of `events` over `n_users` users and `n_items` items.
    pub fn of(n_users: usize, n_items: usize, events: &[fuserec_core::Interaction]) -> Self {
        let mut seen = vec![Vec::new(); n_users];
        let (mut exposures, mut clicks, mut first) = (vec![0u64; n_items], vec![0u64; n_items], vec![i64::MAX; n_items]);
        for x in events {
            seen[x.user.idx()].push(x.item.0);
            exposures[x.item.idx()] += 1;
            clicks[x.item.idx()] += x.is_positive() as u64;
            first[x.item.idx()] = first[x.item.idx()].min(x.ts);
        }
        seen.iter_mut().for_each(|s| {
            s.sort_unstable();
            s.dedup();
        });
        let statistics_at = events.iter().map(|x| x.ts).max().unwrap_or(0) + 1;
        Snapshot { seen, exposures, clicks, first, statistics_at }
    }

    /// The manifest's item records from this snapshot and the catalogue.
    pub fn items(&self, catalogue: &Catalogue, trained: &[bool]) -> Vec<ItemRecord> {
        catalogue
            .items
            .iter()
            .enumerate()
            .map(|(i, (id, text, has_image))| ItemRecord {
                id: id.clone(),
                text: text.clone(),
                created_at: if self.first[i] == i64::MAX { self.statistics_at } else { self.first[i] },
                exposures: self.exposures[i],
                clicks: self.clicks[i],
                has_text: !text.trim().is_empty(),
                has_image: *has_image,
                trained: trained[i],
            })
            .collect()
    }
}

const MANIFEST: &str = "manifest.json";
const WEIGHTS: &str = "weights.safetensors";
const VECTORS: &str = "vectors.safetensors";
const CODE_TREE: &str = "code_tree.safetensors";

/// The sha256 of a file, lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect())
}

/// The JSON manifest `dir/file` of a self-describing folder whose `format` must be `format`;
/// a missing manifest is an error saying `missing` (what the folder is not, and what writes one).
pub fn read_manifest(dir: &Path, file: &str, format: u32, what: &str, missing: &str) -> Result<serde_json::Value> {
    let bad = |m: String| Error::Invalid(format!("{}: {m}", dir.display()));
    let mp = dir.join(file);
    let text = std::fs::read(&mp)
        .map_err(|e| if e.kind() == std::io::ErrorKind::NotFound { bad(format!("no {file}: {missing}")) } else { Error::io(&mp, e) })?;
    let probe: serde_json::Value = serde_json::from_slice(&text).map_err(|e| bad(format!("{file}: {e}")))?;
    match probe.get("format").and_then(|f| f.as_u64()) {
        Some(f) if f == format as u64 => Ok(probe),
        Some(f) => Err(bad(format!("{what} format {f}; this fuserec reads format {format}"))),
        None => Err(bad(format!("{file} has no format: not a fuserec {what}"))),
    }
}

fn put(ck: &mut Checkpoint, name: &str, rows: usize, dim: usize, data: Vec<f32>) {
    ck.tensors.insert(name.into(), (vec![rows, dim], data));
}

impl TrainedArtifact {
    /// Number of users.
    pub fn n_users(&self) -> usize {
        self.manifest.users.len()
    }
    /// Number of catalogue items.
    pub fn n_items(&self) -> usize {
        self.manifest.items.len()
    }

    /// The content tower's input, as training built it (`None`: the model has no content view).
    pub fn content_input(&self) -> Option<ContentInput> {
        let m = &self.manifest;
        m.config.fusion.build().uses_content().then(|| ContentInput {
            features: self.content_rows.clone(),
            codes: m.codes.clone(),
            tags: m.tags.clone(),
        })
    }

    /// The network with its trained weights.
    pub fn net(&self) -> Result<Net> {
        let m = &self.manifest;
        let content = self.content_input();
        let mut net = Net::new(&m.config, self.n_users(), self.n_items(), content, m.source.seed)?;
        net.restore(&self.weights)?;
        Ok(net)
    }

    /// Writes the folder `dir` (replacing an artifact already there).
    pub fn write(&mut self, dir: &Path) -> Result<()> {
        let tmp = dir.with_extension(format!("tmp-{}", std::process::id()));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        }
        std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        self.weights.save(&tmp.join(WEIGHTS))?;
        let mut v = Checkpoint { header: serde_json::json!({ "rows": "internal user / item index" }).to_string(), ..Default::default() };
        put(&mut v, "user_vectors", self.user_vectors.rows(), self.user_vectors.dim(), self.user_vectors.as_slice().to_vec());
        put(&mut v, "item_vectors", self.item_vectors.rows(), self.item_vectors.dim(), self.item_vectors.as_slice().to_vec());
        if let Some((rows, w)) = &self.content_rows {
            put(&mut v, "content_rows", rows.len() / w.max(&1), *w, rows.to_vec());
        }
        if let Some(h) = &self.head_rows {
            put(&mut v, "head_rows", h.rows(), h.dim(), h.as_slice().to_vec());
        }
        if let Some(c) = &self.item_item_rows {
            put(&mut v, "item_item_rows", c.rows(), c.dim(), c.as_slice().to_vec());
        }
        let names = self.manifest.features.as_ref().map_or_else(Vec::new, |f| f.modalities.iter().map(|m| m.name.clone()).collect());
        if self.centres.len() > names.len() {
            return Err(Error::Shape(format!("artifact: {} centres for {} modalities", self.centres.len(), names.len())));
        }
        for (name, c) in names.iter().zip(&self.centres) {
            if let Some(c) = c {
                put(&mut v, &format!("centre_{name}"), 1, c.len(), c.clone());
            }
        }
        v.save(&tmp.join(VECTORS))?;
        let mut files = vec![WEIGHTS, VECTORS];
        if let Some(t) = &self.code_tree {
            fuserec_quant::save(fuserec_quant::Saved::Tree(&t.tree), &tmp.join(CODE_TREE))?;
            files.push(CODE_TREE);
        }
        self.manifest.files = files.iter().map(|f| Ok((f.to_string(), sha256_file(&tmp.join(f))?))).collect::<Result<_>>()?;
        let json = serde_json::to_vec(&self.manifest).map_err(|e| Error::Invalid(format!("manifest: {e}")))?;
        let mp = tmp.join(MANIFEST);
        std::fs::write(&mp, json).map_err(|e| Error::io(&mp, e))?;
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        std::fs::rename(&tmp, dir).map_err(|e| Error::io(dir, e))
    }

    /// Reads and checks the folder `dir`.
    pub fn load(dir: &Path) -> Result<Self> {
        let bad = |what: String| Error::Invalid(format!("{}: {what}", dir.display()));
        let probe = read_manifest(
            dir,
            MANIFEST,
            FORMAT,
            "artifact",
            "not a trained artifact (experiments write `checkpoints/model<i>-seed<s>.fuserec/`)",
        )?;
        let manifest: Manifest = serde_json::from_value(probe).map_err(|e| bad(format!("{MANIFEST}: {e}")))?;
        for (file, want) in &manifest.files {
            if file.contains(['/', '\\']) || file.starts_with('.') {
                return Err(bad(format!("{MANIFEST} names a file outside the folder: `{file}`")));
            }
            let got = sha256_file(&dir.join(file))?;
            if &got != want {
                return Err(bad(format!("{file} is corrupt or was replaced (sha256 {got}, the manifest says {want})")));
            }
        }
        for needed in [WEIGHTS, VECTORS] {
            if !manifest.files.contains_key(needed) {
                return Err(bad(format!("{MANIFEST} does not list {needed}")));
            }
        }
        manifest.config.validate().map_err(|e| bad(format!("config: {e}")))?;
        let weights = Checkpoint::load(&dir.join(WEIGHTS))?;
        let v = Checkpoint::load(&dir.join(VECTORS))?;
        let (n_users, n_items) = (manifest.users.len(), manifest.items.len());
        let get = |name: &str, rows: Option<usize>| -> Result<Option<Embeddings>> {
            let Some((shape, data)) = v.tensors.get(name) else { return Ok(None) };
            if shape.len() != 2 || rows.is_some_and(|r| shape[0] != r) {
                return Err(bad(format!("{VECTORS}: `{name}` has shape {shape:?}, expected {} rows", rows.unwrap_or(0))));
            }
            Ok(Some(Embeddings::from_vec(shape[0], shape[1], data.clone())?))
        };
        let need = |name: &str, rows: usize| get(name, Some(rows))?.ok_or_else(|| bad(format!("{VECTORS}: no `{name}`")));
        let user_vectors = need("user_vectors", n_users)?;
        let item_vectors = need("item_vectors", n_items)?;
        let content_rows = get("content_rows", Some(n_items))?.map(|e| {
            let w = e.dim();
            (Arc::new(e.into_vec()), w)
        });
        let head_rows = get("head_rows", Some(n_items))?;
        if head_rows.as_ref().map_or(0, |h| h.dim()) != manifest.content_head_dim {
            return Err(bad(format!("the manifest says a {}-d content head, {VECTORS} disagrees", manifest.content_head_dim)));
        }
        let item_item_rows = get("item_item_rows", Some(n_items))?;
        if item_item_rows.as_ref().map_or(0, |c| c.dim()) != manifest.item_item_dim {
            return Err(bad(format!("the manifest says a {}-wide item–item channel, {VECTORS} disagrees", manifest.item_item_dim)));
        }
        let width = manifest.content_head_dim + manifest.item_item_dim;
        if item_vectors.dim() < width || user_vectors.dim() != item_vectors.dim() {
            return Err(bad(format!(
                "{VECTORS}: {}-d user and {}-d item vectors cannot carry the {width} columns of head and channel",
                user_vectors.dim(),
                item_vectors.dim()
            )));
        }
        let centre = |name: &str| -> Result<Option<Vec<f32>>> { Ok(get(name, Some(1))?.map(|e| e.into_vec())) };
        let centres = match &manifest.features {
            Some(f) => {
                let w = f.dims().iter().sum::<usize>() + f.modalities.len();
                if content_rows.as_ref().is_some_and(|(_, cw)| *cw != w) {
                    return Err(bad(format!("the manifest's modalities make {w}-wide content rows, {VECTORS} disagrees")));
                }
                let mut out = Vec::new();
                for m in &f.modalities {
                    let c = centre(&format!("centre_{}", m.name))?;
                    if c.as_ref().is_some_and(|c| c.len() != m.dim) {
                        return Err(bad(format!("{VECTORS}: centre_{} does not have the modality's {} values", m.name, m.dim)));
                    }
                    out.push(c);
                }
                out
            }
            None => Vec::new(),
        };
        if manifest.seen.len() != n_users || manifest.codes.iter().any(|(c, _)| c.len() != n_items) {
            return Err(bad(format!("{MANIFEST}: seen lists or codes do not cover {n_users} users / {n_items} items")));
        }
        if manifest.seen.iter().flatten().any(|&i| i as usize >= n_items) {
            return Err(bad(format!("{MANIFEST}: a seen list names an item beyond the {n_items} of the catalogue")));
        }
        let code_tree = match manifest.files.contains_key(CODE_TREE) {
            true => Some(CodeTree { tree: fuserec_quant::load_tree(&dir.join(CODE_TREE))?, levels: manifest.code_levels.clone() }),
            false => None,
        };
        Ok(TrainedArtifact { manifest, weights, user_vectors, item_vectors, content_rows, head_rows, item_item_rows, centres, code_tree })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny(dir: &Path) -> TrainedArtifact {
        let config: TwoTowerConfig = toml::from_str("fusion = \"id-only\"\ndim = 4").unwrap();
        let mut net = Net::new(&config, 3, 4, None, 7).unwrap();
        let item = |i: usize, trained: bool| ItemRecord {
            id: format!("i{i}"),
            text: format!("title {i}"),
            created_at: 10 * i as i64,
            exposures: i as u64,
            clicks: (i / 2) as u64,
            has_text: true,
            has_image: i.is_multiple_of(2),
            trained,
        };
        let manifest = Manifest {
            format: FORMAT,
            fuserec_version: "test".into(),
            git_revision: "abc".into(),
            created_at: "2026-11-30T00:00:00Z".into(),
            source: Source { experiment: "tiny".into(), model: 0, seed: 7, dataset: "d".into(), split: "s".into() },
            config,
            features: Some(FeatureSpec {
                modalities: vec![
                    ModalitySpec { name: "text".into(), backbone: "hashed-ngram".into(), encoded_as: "h".into(), dim: 2 },
                    ModalitySpec { name: "clip".into(), backbone: "embeddings:c.parquet".into(), encoded_as: "c".into(), dim: 3 },
                ],
                hash: "f".into(),
            }),
            blend: Blend::default(),
            content_head_dim: 0,
            item_item_dim: 0,
            statistics_at: 99,
            users: vec!["u0".into(), "u1".into(), "u2".into()],
            items: (0..4).map(|i| item(i, i != 3)).collect(),
            seen: vec![vec![0], vec![1, 2], vec![]],
            codes: Vec::new(),
            code_levels: Vec::new(),
            tags: None,
            files: BTreeMap::new(),
        };
        let mut a = TrainedArtifact {
            manifest,
            weights: net.checkpoint(),
            user_vectors: Embeddings::from_vec(3, 2, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap(),
            item_vectors: Embeddings::from_vec(4, 2, vec![0.5, -0.5, 1.5, 0.25, -2.0, 0.0, 7.0, 1e-7]).unwrap(),
            content_rows: None,
            head_rows: None,
            item_item_rows: None,
            centres: vec![Some(vec![0.1, 0.2]), None],
            code_tree: None,
        };
        a.write(dir).unwrap();
        a
    }

    #[test]
    fn an_artifact_reads_back_as_written_and_refuses_tampering() {
        let root = std::env::temp_dir().join(format!("fuserec-artifact-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let dir = root.join("model0-seed7.fuserec");
        let a = tiny(&dir);
        let b = TrainedArtifact::load(&dir).unwrap();
        assert_eq!(b.manifest, a.manifest, "the manifest, with the hashes written");
        assert_eq!(b.manifest.files.len(), 2);
        assert_eq!(b.user_vectors, a.user_vectors);
        assert_eq!(b.item_vectors.as_slice(), a.item_vectors.as_slice(), "bit for bit");
        assert_eq!(b.centres, a.centres, "per named modality, in order");
        assert_eq!(b.net().unwrap().checkpoint(), a.weights, "the network is rebuilt with the trained weights");
        // Writing again replaces the folder; no temporary folder is left behind.
        tiny(&dir);
        let left: Vec<_> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("model0-seed7.fuserec")]);
        // A manifest whose lists disagree with the tensors, or that points outside the folder.
        let m = std::fs::read_to_string(dir.join(MANIFEST)).unwrap();
        std::fs::write(dir.join(MANIFEST), m.replace("\"u2\"]", "\"u2\",\"u3\"]")).unwrap();
        let e = TrainedArtifact::load(&dir).err().unwrap().to_string();
        assert!(e.contains("`user_vectors` has shape [3, 2], expected 4 rows"), "{e}");
        std::fs::write(dir.join(MANIFEST), m.replace("\"weights.safetensors\"", "\"../weights.safetensors\"")).unwrap();
        let e = TrainedArtifact::load(&dir).err().unwrap().to_string();
        assert!(e.contains("outside the folder"), "{e}");
        std::fs::write(dir.join(MANIFEST), m.replace("[1,2]", "[1,9]")).unwrap();
        let e = TrainedArtifact::load(&dir).err().unwrap().to_string();
        assert!(e.contains("beyond the 4 of the catalogue"), "{e}");
        let _ = std::fs::remove_dir_all(&root);
    }
}

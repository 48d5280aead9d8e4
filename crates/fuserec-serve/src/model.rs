//! The trained recall model as the service uses it: rebuilt from its training experiment config
//! and checkpoint, it embeds new items from raw text and image bytes (encoders → content row →
//! content tower → gate with the item's statistics → fusion) and builds queries.

use fuserec::config::{ExperimentConfig, ModelConfig};
use fuserec::core::{Embeddings, Error, ItemStats, Result};
use fuserec::data::{Dataset, split};
use fuserec::encoders::{ImageEncoder, TextEncoder};
use fuserec::experiment::{encode_features, load_dataset};
use fuserec::features::{image_encoder, text_encoder};
use fuserec::nn::Checkpoint;
use fuserec::towers::{History, NO_USER};
use fuserec::two_tower::content_head::{Blend, ContentHead};
use fuserec::two_tower::{CodeTree, Net, TwoTowerConfig, content_input_and_codes, content_row, fused_row};
use std::path::{Path, PathBuf};

/// Where the model comes from.
#[derive(Clone, Debug)]
pub struct ModelSource {
    /// The experiment config the model was trained with (dataset, split, features, models).
    pub experiment: PathBuf,
    /// Which `[[model]]` of it (a two-tower model), 0-based as in `model<i>-seed<s>`.
    pub model: usize,
    /// `results/<exp>/<run>/checkpoints/model<i>-seed<s>.safetensors` (its
    /// `.vectors.safetensors` sibling holds the users' queries and the catalogue's vectors).
    pub checkpoint: PathBuf,
    /// Training seed; `None`: read from the checkpoint's file name.
    pub seed: Option<u64>,
    /// Asset and feature cache (`FUSEREC_CACHE_DIR`).
    pub cache: PathBuf,
}

/// A catalogue item as the model knows it at the end of training.
pub struct CatalogueItem {
    pub id: String,
    pub row: u32,
    pub text: String,
    pub created_at: i64,
    pub exposures: u64,
    pub clicks: u64,
    pub has_text: bool,
    pub has_image: bool,
}

pub struct ServingModel {
    pub net: Net,
    pub dataset: Dataset,
    text: Option<Box<dyn TextEncoder>>,
    /// The cluster tree, when the model reads cluster codes (refit from the same seed and data).
    codes: Option<CodeTree>,
    image: Option<Box<dyn ImageEncoder>>,
    /// Widths of the configured modalities (0: not read).
    dims: (usize, usize),
    /// Per user: the query as of the end of training.
    pub user_vectors: Embeddings,
    /// Per user: items seen in training + validation (left out of that user's recall).
    pub seen: Vec<Vec<u32>>,
    /// Per catalogue item: fused vector, gate and statistics at the end of training.
    pub catalogue_vectors: Embeddings,
    pub catalogue: Vec<CatalogueItem>,
    /// End of the training period (seconds): "now" for ages of catalogue items.
    pub t_end: i64,
    /// Catalogue means subtracted from (text, image) encoder output (`[features] preprocess`).
    pub centres: (Option<Vec<f32>>, Option<Vec<f32>>),
    /// How tower vectors, cold length and content head combine, as training fitted them.
    pub blend: Blend,
    /// The content affinity head's catalogue rows, when the trained model uses it.
    pub head: Option<ContentHead>,
    /// Per catalogue item: it has a trained id row (a positive in the training split).
    pub trained: Vec<bool>,
}

fn minus(v: Vec<f32>, centre: &Option<Vec<f32>>) -> Vec<f32> {
    match centre {
        Some(c) => v.iter().zip(c).map(|(x, m)| x - m).collect(),
        None => v,
    }
}

fn seed_from_name(p: &Path) -> Option<u64> {
    let name = p.file_name()?.to_str()?;
    name.split("-seed").nth(1)?.split('.').next()?.parse().ok()
}

impl ServingModel {
    pub fn load(src: &ModelSource) -> Result<Self> {
        let exp = ExperimentConfig::load(&src.experiment)?;
        let m = exp.models.get(src.model).ok_or_else(|| {
            Error::Config(format!("{}: no [[model]] #{} (it has {})", src.experiment.display(), src.model, exp.models.len()))
        })?;
        let ModelConfig::TwoTower(cfg) = m else {
            return Err(Error::Config(format!("{}: [[model]] #{} is not a two-tower model", src.experiment.display(), src.model)));
        };
        let seed = src
            .seed
            .or_else(|| seed_from_name(&src.checkpoint))
            .ok_or_else(|| Error::Config(format!("{}: cannot read the seed from the file name; pass it", src.checkpoint.display())))?;
        let ds = load_dataset(&exp.dataset, &src.cache)?;
        let set = exp.feature_set(m);
        let (content, codes, dims, text, image, centres, head_rows) = match &set {
            Some(set) => {
                let (f, _) = encode_features(set, exp.features.preprocess, &ds, &src.cache)?;
                let centres = (f.text.as_ref().and_then(|m| m.centre.clone()), f.image.as_ref().and_then(|m| m.centre.clone()));
                let dims = (f.text.as_ref().map_or(0, |t| t.rows.dim()), f.image.as_ref().map_or(0, |t| t.rows.dim()));
                let enc = |n: &str| n != "none" && !n.starts_with("vectors:");
                let text = enc(&set.0).then(|| text_encoder(&set.0, &src.cache)).transpose()?;
                let image = enc(&set.1).then(|| image_encoder(&set.1)).transpose()?;
                let (input, codes) = content_input_and_codes(cfg, &f, seed)?;
                (Some(input), codes, dims, text, image, centres, Some(f.fused(1.0, 1.0)?.0))
            }
            None => (None, None, (0, 0), None, None, (None, None), None),
        };
        let mut net = Net::new(cfg, ds.n_users(), ds.n_items(), content, seed)?;
        net.restore(&Checkpoint::load(&src.checkpoint)?)?;
        let vpath = src.checkpoint.with_extension("vectors.safetensors");
        let v = Checkpoint::load(&vpath)?;
        let get = |name: &str| -> Result<Embeddings> {
            let (shape, data) = v.tensors.get(name).ok_or_else(|| Error::Invalid(format!("{}: no tensor `{name}`", vpath.display())))?;
            Embeddings::from_vec(shape[0], shape[1], data.clone())
        };
        let (user_vectors, catalogue_vectors) = (get("user_vectors")?, get("item_vectors")?);
        // The blend training fitted (cold length, head weights) and whether the head is in the vectors.
        let header: serde_json::Value = serde_json::from_str(&v.header).unwrap_or_default();
        let blend = match header.get("blend") {
            Some(b) => serde_json::from_value(b.clone()).map_err(|e| Error::Invalid(format!("{}: blend: {e}", vpath.display())))?,
            None => Blend { cold_scale: header["cold_scale"].as_f64().unwrap_or(1.0) as f32, ..Blend::default() },
        };
        let head_dim = header["content_head_dim"].as_u64().unwrap_or(0) as usize;
        let head = match (head_dim, head_rows) {
            (0, _) => None,
            (k, Some(rows)) if rows.dim() == k => Some(ContentHead::new(rows)),
            (k, _) => {
                return Err(Error::Invalid(format!(
                    "{}: the vectors carry a {k}-d content head, the model's features do not match",
                    vpath.display()
                )));
            }
        };
        if user_vectors.rows() != ds.n_users() || catalogue_vectors.rows() != ds.n_items() {
            return Err(Error::Shape(format!(
                "{}: {} users / {} items, the dataset has {} / {}",
                vpath.display(),
                user_vectors.rows(),
                catalogue_vectors.rows(),
                ds.n_users(),
                ds.n_items()
            )));
        }
        // Seen items and statistics as training ended: train + validation of the same split.
        let sp = split(&ds, &exp.split, seed)?;
        let mut trained = vec![false; ds.n_items()];
        sp.train.iter().filter(|x| x.is_positive()).for_each(|x| trained[x.item.idx()] = true);
        let all: Vec<_> = sp.train.iter().chain(&sp.val).copied().collect();
        let mut seen = vec![Vec::new(); ds.n_users()];
        let (mut exposures, mut clicks, mut first) = (vec![0u64; ds.n_items()], vec![0u64; ds.n_items()], vec![i64::MAX; ds.n_items()]);
        for x in &all {
            seen[x.user.idx()].push(x.item.0);
            exposures[x.item.idx()] += 1;
            clicks[x.item.idx()] += x.is_positive() as u64;
            first[x.item.idx()] = first[x.item.idx()].min(x.ts);
        }
        seen.iter_mut().for_each(|s| {
            s.sort_unstable();
            s.dedup();
        });
        let t_end = all.iter().map(|x| x.ts).max().unwrap_or(0) + 1;
        let catalogue = (0..ds.n_items())
            .map(|i| {
                let meta = &ds.items_meta[i];
                CatalogueItem {
                    id: ds.items.raw(i as u32).to_string(),
                    row: i as u32,
                    text: meta.text(),
                    created_at: if first[i] == i64::MAX { t_end } else { first[i] },
                    exposures: exposures[i],
                    clicks: clicks[i],
                    has_text: !meta.text().trim().is_empty(),
                    has_image: meta.image.is_some(),
                }
            })
            .collect();
        Ok(ServingModel {
            net,
            dataset: ds,
            text,
            codes,
            image,
            dims,
            centres,
            blend,
            head,
            trained,
            user_vectors,
            seen,
            catalogue_vectors,
            catalogue,
            t_end,
        })
    }

    pub fn dim(&self) -> usize {
        self.net.fused_dim() + self.head.as_ref().map_or(0, |h| h.dim())
    }

    /// `σ·[v ; γ·x̂]` ([`fuserec::two_tower::content_head`]): the tower vector with the blend's
    /// factors and, when the model has the head, the item's content row `x̂` appended.
    fn blended(&self, tower: Vec<f32>, head_row: Option<&[f32]>, unseen: bool) -> Result<Vec<f32>> {
        let (s, g) = self.blend.factors(unseen);
        let mut out: Vec<f32> = tower.into_iter().map(|x| x * s).collect();
        if let Some(h) = &self.head {
            let row = head_row.ok_or_else(|| Error::Invalid("the model's content head needs the item's content".into()))?;
            if row.len() != h.dim() {
                return Err(Error::Shape(format!("content head: a {}-d row, the model reads {}", row.len(), h.dim())));
            }
            out.extend(row.iter().map(|x| x * g));
        }
        Ok(out)
    }

    /// Whether item `row`'s behaviour vector counts, as training decided: with both views an item
    /// without a trained id row has none (its row is still noise); a model with one view keeps
    /// every row as it is.
    pub fn keep(&self, row: u32) -> f32 {
        let both = self.net.behaviour.is_some() && self.net.content.is_some();
        if !both || self.trained[row as usize] { 1.0 } else { 0.0 }
    }

    /// The stored vector of catalogue item `row` from its tower vector, as training exported it.
    pub fn catalogue_vector(&self, row: u32, tower: Vec<f32>, exposures: u64) -> Result<Vec<f32>> {
        let trained = self.trained[row as usize];
        let head_row = self.head.as_ref().map(|h| h.rows.row(row as usize));
        self.blended(tower, head_row, !trained && exposures == 0)
    }

    /// Gate features of an item with these counts, created at `created_at`, as of `now`.
    pub fn gate_features(exposures: u64, clicks: u64, created_at: i64, now: i64) -> [f32; 4] {
        let p = fuserec::data::CtrPrior::default();
        let (e, c) = (exposures as f32, clicks as f32);
        ItemStats {
            exposures: e,
            clicks: c,
            smoothed_ctr: (c + p.prior_ctr * p.strength) / (e + p.strength),
            age_days: ((now - created_at).max(0) as f32) / 86_400.0,
        }
        .gate_features()
    }

    /// The content row of a new item — its text and decoded image through the model's encoders —
    /// and its cluster codes per level the model reads (quantised by the model's tree). Returns
    /// the row, the codes and which modalities it has.
    pub fn content_row(&self, text: &str, image: Option<&image::DynamicImage>) -> Result<(Vec<f32>, Vec<u32>, bool, bool)> {
        if self.dims == (0, 0) {
            return Err(Error::Config("this model has no content view: it cannot embed a new item".into()));
        }
        if self.dims.0 > 0 && self.text.is_none() || self.dims.1 > 0 && self.image.is_none() {
            return Err(Error::Config(
                "the model's features come from precomputed vectors (`vectors:`): new items cannot be encoded".into(),
            ));
        }
        let t = match (&self.text, text.trim().is_empty()) {
            (Some(enc), false) => {
                let e = enc.encode(&[text])?;
                Some(e.row(0).to_vec()).filter(|r| r.iter().any(|&x| x != 0.0)).map(|r| minus(r, &self.centres.0))
            }
            _ => None,
        };
        let i = match (&self.image, image) {
            (Some(enc), Some(img)) => Some(minus(enc.encode(std::slice::from_ref(img))?.row(0).to_vec(), &self.centres.1)),
            _ => None,
        };
        let (ht, hi) = (t.is_some(), i.is_some());
        if !ht && !hi {
            return Err(Error::Invalid("the item has neither text nor an image the model reads: nothing to embed".into()));
        }
        let codes = match &self.codes {
            Some(tree) => tree.encode(&fused_row(t.as_deref(), i.as_deref(), self.dims)?)?.into_iter().map(|c| c[0]).collect(),
            None => Vec::new(),
        };
        Ok((content_row(t.as_deref(), i.as_deref(), self.dims)?, codes, ht, hi))
    }

    /// Fused vector and gate of a new item (no trained id row) from its content row and codes.
    pub fn embed_new(&self, row: &[f32], codes: &[u32], gate: [f32; 4]) -> Result<(Vec<f32>, f32)> {
        let per_level: Vec<Vec<u32>> = codes.iter().map(|&c| vec![c]).collect();
        let v = self.net.new_item_vectors(row, &per_level, &gate)?;
        // The head row is the fused content the content row was scaled from (unit or zero).
        let head_row = self.head.as_ref().map(|h| {
            let mut x = row[..h.dim().min(row.len())].to_vec();
            let n = x.iter().map(|v| v * v).sum::<f32>().sqrt();
            if n > 0.0 {
                x.iter_mut().for_each(|v| *v /= n);
            }
            x
        });
        let fused = self.blended(v.fused, head_row.as_deref(), true)?;
        Ok((fused, v.gate.and_then(|g| g.first().copied()).unwrap_or(f32::NAN)))
    }

    /// Fused vector and gate of a catalogue item with the given statistics.
    pub fn embed_catalogue(&self, row: u32, gate: [f32; 4]) -> Result<(Vec<f32>, f32)> {
        let keep = [self.keep(row)];
        let v = self.net.item_vectors(&[row], &gate, Some(&keep))?;
        let exposures = self.catalogue[row as usize].exposures;
        Ok((self.catalogue_vector(row, v.fused, exposures)?, v.gate.and_then(|g| g.first().copied()).unwrap_or(f32::NAN)))
    }

    /// The query of a history of catalogue items (most recent last), for no particular user.
    pub fn history_query(&self, rows: &[u32]) -> Result<Vec<f32>> {
        // Anonymous: the query reads the items only, no user's id row.
        let mut q = self.net.query_vectors(&History::from_lists(&[NO_USER], &[rows], self.net.cfg.history))?;
        if let Some(h) = &self.head {
            q.extend_from_slice(h.profiles(&[rows]).row(0));
        }
        Ok(q)
    }

    pub fn config(&self) -> &TwoTowerConfig {
        &self.net.cfg
    }
}

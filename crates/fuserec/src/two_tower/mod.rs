//! The two-tower recall model: query tower over recent items, item side with a behaviour view,
//! a content view, or both fused by a [`fuserec_fusion::FusionGate`].

mod config;
mod net;
mod samples;
mod train;

pub use config::{CodesConfig, TwoTowerConfig};
pub use net::{Batch, LossParts, Net};
pub use samples::{sequences, Samples};
pub use train::{train, EpochLog, GateBin, Trained, TrainingLog};

use crate::features::ItemFeatures;
use crate::recommender::{Recommender, TrainData};
use fuserec_core::{Embeddings, Error, Result};
use fuserec_quant::HierarchicalKMeans;
use fuserec_towers::{ContentInput, NO_CODE};
use std::path::PathBuf;

pub struct TwoTower {
    name: String,
    trained: Trained,
}

/// What the content tower sees: `√F`-scaled fused features plus one mask bit per modality, the
/// item's tags, and tree cluster codes of the fused features when configured.
pub fn content_input(cfg: &TwoTowerConfig, f: &ItemFeatures, seed: u64) -> Result<ContentInput> {
    let (fused, has) = f.fused(1.0, 1.0)?;
    let n = fused.rows();
    let fd = fused.dim();
    let mut input = ContentInput::default();
    if cfg.content_features {
        let scale = (fd as f32).sqrt();
        let mut x = Vec::with_capacity(n * (fd + 2));
        for i in 0..n {
            x.extend(fused.row(i).iter().map(|v| v * scale));
            x.push(f.text.as_ref().is_some_and(|m| m.mask[i]) as u8 as f32);
            x.push(f.image.as_ref().is_some_and(|m| m.mask[i]) as u8 as f32);
        }
        input.features = Some((std::sync::Arc::new(x), fd + 2));
    }
    if cfg.content_tags && f.tags.iter().any(|t| !t.is_empty()) {
        input.tags = Some((f.tags.clone(), f.tag_names.len()));
    }
    if let Some(c) = &cfg.codes {
        let rows: Vec<usize> = (0..n).filter(|&i| has[i]).collect();
        if rows.len() < c.branching {
            return Err(Error::Invalid(format!("cluster codes: only {} items have content, fewer than branching {}", rows.len(), c.branching)));
        }
        let mut x = Vec::with_capacity(rows.len() * fd);
        rows.iter().for_each(|&i| x.extend_from_slice(fused.row(i)));
        let tree = HierarchicalKMeans::fit(&Embeddings::from_vec(rows.len(), fd, x)?, c.branching, c.levels, seed, 25)?;
        let use_levels = c.use_levels.clone().unwrap_or_else(|| (0..c.levels).collect());
        for l in use_levels {
            let mut codes = vec![NO_CODE; n];
            for (k, &i) in rows.iter().enumerate() {
                codes[i] = tree.train_codes.get(k, l);
            }
            input.codes.push((codes, tree.levels[l].centroids.rows()));
        }
    }
    Ok(input)
}

impl TwoTower {
    pub fn fit(cfg: &TwoTowerConfig, data: &TrainData, features: Option<&ItemFeatures>, seed: u64, checkpoint: Option<PathBuf>) -> Result<Self> {
        cfg.validate().map_err(Error::Config)?;
        let uses_content = cfg.fusion.build().uses_content();
        let content = if uses_content {
            let f = features.ok_or_else(|| Error::Config(format!("{}: the content view needs item features", cfg.display_name())))?;
            Some(content_input(cfg, f, seed)?)
        } else {
            None
        };
        let trained = train(cfg, data, content, seed, checkpoint)?;
        Ok(TwoTower { name: cfg.display_name(), trained })
    }

    pub fn item_vectors(&self) -> &Embeddings {
        &self.trained.item_vectors
    }
    pub fn log(&self) -> &TrainingLog {
        &self.trained.log
    }
}

impl Recommender for TwoTower {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn score(&self, users: &[u32], _histories: &[&[u32]], out: &mut [f32]) {
        let d = self.trained.user_vectors.dim();
        let mut q = Vec::with_capacity(users.len() * d);
        users.iter().for_each(|&u| q.extend_from_slice(self.trained.user_vectors.row(u as usize)));
        let q = Embeddings::from_vec(users.len(), d, q).expect("rows × dim");
        fuserec_index::inner_products(&q, &self.trained.item_vectors, out).expect("shapes agree by construction");
    }
    fn training_log(&self) -> Option<serde_json::Value> {
        serde_json::to_value(&self.trained.log).ok()
    }
}

//! The two-tower recall model: query tower over recent items, item side with a behaviour view,
//! a content view, or both fused by a [`fuserec_fusion::FusionGate`].

mod config;
pub mod content_head;
pub mod item_item;
mod net;
mod samples;
mod train;

pub use config::{CodesConfig, HistoryContext, TwoTowerConfig};
pub use net::{Batch, ItemVectors, LossParts, Net};
pub use samples::{Samples, sequences};
pub use train::{EpochLog, GateBin, Trained, TrainingLog, train};

use crate::artifact::{ArtifactTarget, FORMAT, FeatureSpec, Manifest, TrainedArtifact};
use crate::features::ItemFeatures;
use crate::recommender::{Recommender, TrainData};
use content_head::ContentHead;
use fuserec_core::{Embeddings, Error, Result};
use fuserec_quant::{HierarchicalKMeans, TreeConfig};
use fuserec_towers::{ContentInput, NO_CODE};

/// The fused two-tower recall model, fitted: user queries and item vectors scored by inner product.
pub struct TwoTower {
    name: String,
    trained: Trained,
}

/// What the content tower sees: `√F`-scaled fused features plus one mask bit per modality, the
/// item's tags, and tree cluster codes of the fused features when configured.
pub fn content_input(cfg: &TwoTowerConfig, f: &ItemFeatures, seed: u64) -> Result<ContentInput> {
    Ok(content_input_and_codes(cfg, f, seed)?.0)
}

/// The cluster tree behind a content input's codes and the levels the tower reads: what encodes
/// a new item's codes at serving time (the same seed refits the same tree).
pub struct CodeTree {
    /// The fitted tree.
    pub tree: HierarchicalKMeans,
    /// Levels the tower reads.
    pub levels: Vec<usize>,
}

impl CodeTree {
    /// Codes of one item (its fused content, as [`fused_row`] builds it) per level read.
    pub fn encode(&self, fused: &[f32]) -> Result<Vec<Vec<u32>>> {
        use fuserec_quant::Quantizer;
        let c = self.tree.encode(&Embeddings::from_vec(1, fused.len(), fused.to_vec())?)?;
        Ok(self.levels.iter().map(|&l| vec![c.get(0, l)]).collect())
    }
}

/// [`content_input`], and the cluster tree when the model reads codes.
pub fn content_input_and_codes(cfg: &TwoTowerConfig, f: &ItemFeatures, seed: u64) -> Result<(ContentInput, Option<CodeTree>)> {
    let (fused, has) = f.fused()?;
    let n = fused.rows();
    let fd = fused.dim();
    let mut input = ContentInput::default();
    if cfg.content_features {
        let scale = (fd as f32).sqrt();
        let nm = f.modalities.len();
        let mut x = Vec::with_capacity(n * (fd + nm));
        for i in 0..n {
            x.extend(fused.row(i).iter().map(|v| v * scale));
            x.extend(f.modalities.iter().map(|m| m.mask[i] as u8 as f32));
        }
        input.features = Some((std::sync::Arc::new(x), fd + nm));
    }
    if cfg.content_tags && f.tags.iter().any(|t| !t.is_empty()) {
        input.tags = Some((f.tags.clone(), f.tag_names.len()));
    }
    if let Some(c) = &cfg.codes {
        let rows: Vec<usize> = (0..n).filter(|&i| has[i]).collect();
        if rows.len() < c.branching {
            return Err(Error::Invalid(format!(
                "cluster codes: only {} items have content, fewer than branching {}",
                rows.len(),
                c.branching
            )));
        }
        let mut x = Vec::with_capacity(rows.len() * fd);
        rows.iter().for_each(|&i| x.extend_from_slice(fused.row(i)));
        let tree = HierarchicalKMeans::fit(
            &Embeddings::from_vec(rows.len(), fd, x)?,
            &TreeConfig { branching: c.branching, depth: c.levels, seed, max_iter: 25 },
        )?;
        let use_levels = c.use_levels.clone().unwrap_or_else(|| (0..c.levels).collect());
        for &l in &use_levels {
            let mut codes = vec![NO_CODE; n];
            for (k, &i) in rows.iter().enumerate() {
                codes[i] = tree.train_codes.get(k, l);
            }
            input.codes.push((codes, tree.levels[l].centroids.rows()));
        }
        return Ok((input, Some(CodeTree { tree, levels: use_levels })));
    }
    Ok((input, None))
}

/// One content-tower row for an item outside the catalogue, from its feature vector per
/// modality the model reads (`parts[k]`: modality `k`'s vector of width `dims[k]`, `None` when
/// the item lacks it). Built exactly as [`content_input`] builds the catalogue's rows (tested
/// bit for bit).
pub fn content_row(parts: &[Option<&[f32]>], dims: &[usize]) -> Result<Vec<f32>> {
    let fused = fused_row(parts, dims)?;
    let scale = (fused.len() as f32).sqrt();
    let mut out: Vec<f32> = fused.iter().map(|v| v * scale).collect();
    out.extend(parts.iter().map(|p| p.is_some() as u8 as f32));
    Ok(out)
}

/// The item's fused content (each modality L2-normalised, concatenated, normalised together) as
/// `ItemFeatures::fused` builds it for the catalogue: what the cluster tree encodes.
pub fn fused_row(parts: &[Option<&[f32]>], dims: &[usize]) -> Result<Vec<f32>> {
    if parts.len() != dims.len() {
        return Err(Error::Shape(format!("content row: {} modalities given, the model reads {}", parts.len(), dims.len())));
    }
    if parts.is_empty() {
        return Err(Error::Config("content row: the model reads no modality".into()));
    }
    let mut out = Vec::with_capacity(dims.iter().sum());
    for (k, (v, &d)) in parts.iter().zip(dims).enumerate() {
        let row = match v {
            Some(v) if v.len() != d => {
                return Err(Error::Shape(format!("content row: modality {k} has {} values, the model reads {d}", v.len())));
            }
            Some(v) => v.to_vec(),
            None => vec![0.0; d],
        };
        let mut e = Embeddings::from_vec(1, d, row)?;
        e.l2_normalize();
        out.extend(e.into_vec());
    }
    let mut fused = Embeddings::from_vec(1, out.len(), out)?;
    fused.l2_normalize();
    Ok(fused.into_vec())
}

impl TwoTower {
    /// Trains the model; with a target, writes its [`TrainedArtifact`] there.
    pub fn fit(
        cfg: &TwoTowerConfig,
        data: &TrainData,
        features: Option<&ItemFeatures>,
        seed: u64,
        artifact: Option<ArtifactTarget>,
    ) -> Result<Self> {
        cfg.validate().map_err(Error::Config)?;
        let uses_content = cfg.fusion.build().uses_content();
        let (content, tree, head, f) = if uses_content {
            let f = features.ok_or_else(|| Error::Config(format!("{}: the content view needs item features", cfg.display_name())))?;
            let head = (cfg.content_head && !f.modalities.is_empty()).then(|| f.fused()).transpose()?;
            let (input, tree) = content_input_and_codes(cfg, f, seed)?;
            (Some(input), tree, head.map(|(rows, _)| ContentHead::new(rows)), Some(f))
        } else {
            (None, None, None, None)
        };
        let mut trained = train(cfg, data, content.clone(), head, seed)?;
        if let Some(target) = artifact {
            let mut a = artifact_of(cfg, &mut trained, content, tree, f, &target)?;
            a.write(&target.dir)?;
            trained.log.artifact = Some(target.dir.display().to_string());
        }
        Ok(TwoTower { name: cfg.display_name(), trained })
    }

    /// What training did, epoch by epoch.
    pub fn log(&self) -> &TrainingLog {
        &self.trained.log
    }
}

/// The artifact of a trained model: its state, inputs and the run's catalogue.
fn artifact_of(
    cfg: &TwoTowerConfig,
    t: &mut Trained,
    content: Option<ContentInput>,
    tree: Option<CodeTree>,
    f: Option<&ItemFeatures>,
    target: &ArtifactTarget,
) -> Result<TrainedArtifact> {
    let cat = &target.catalogue;
    if cat.items.len() != t.item_vectors.rows() || cat.users.len() != t.user_vectors.rows() {
        return Err(Error::Shape(format!(
            "artifact: the catalogue has {} users / {} items, the model {} / {}",
            cat.users.len(),
            cat.items.len(),
            t.user_vectors.rows(),
            t.item_vectors.rows()
        )));
    }
    let (features, codes, tags) = match content {
        Some(c) => (c.features, c.codes, c.tags),
        None => (None, Vec::new(), None),
    };
    let manifest = Manifest {
        format: FORMAT,
        fuserec_version: env!("CARGO_PKG_VERSION").into(),
        git_revision: fuserec_core::provenance::git_revision(),
        created_at: fuserec_core::provenance::utc_now(),
        source: target.source.clone(),
        config: cfg.clone(),
        features: match (f, &target.backbones) {
            (Some(f), Some(b)) => Some(FeatureSpec::of(b, f)?),
            (Some(_), None) => return Err(Error::Config("artifact: the model reads features, the target names no backbones".into())),
            (None, _) => None,
        },
        blend: t.log.blend,
        content_head_dim: t.head.as_ref().map_or(0, |h| h.dim()),
        item_item_dim: t.item_item.as_ref().map_or(0, |c| c.dim()),
        statistics_at: t.snapshot.statistics_at,
        users: cat.users.clone(),
        items: t.snapshot.items(cat, &t.trained_rows),
        seen: t.snapshot.seen.clone(),
        codes,
        code_levels: tree.as_ref().map_or_else(Vec::new, |t| t.levels.clone()),
        tags,
        files: Default::default(),
    };
    Ok(TrainedArtifact {
        manifest,
        weights: t.net.checkpoint(),
        user_vectors: t.user_vectors.clone(),
        item_vectors: t.item_vectors.clone(),
        content_rows: features,
        head_rows: t.head.as_ref().map(|h| h.rows.clone()),
        item_item_rows: t.item_item.as_ref().map(|c| c.columns.clone()),
        centres: f.map_or_else(Vec::new, |f| f.modalities.iter().map(|m| m.centre.clone()).collect()),
        code_tree: tree,
    })
}

impl Recommender for TwoTower {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn score(&self, users: &[u32], _histories: &[&[u32]], out: &mut [f32]) {
        crate::inner_product::score_users(&self.trained.user_vectors, users, &self.trained.item_vectors, out);
    }
    fn training_log(&self) -> Option<serde_json::Value> {
        serde_json::to_value(&self.trained.log).ok()
    }
    fn item_vectors(&self) -> Option<&Embeddings> {
        Some(&self.trained.item_vectors)
    }
    fn user_vectors(&self) -> Option<&Embeddings> {
        Some(&self.trained.user_vectors)
    }
    /// Scoring reads only the stored queries and catalogue vectors; it comes back as an
    /// [`crate::inner_product::InnerProductModel`] (the serving artifact keeps the towers).
    fn state(&self) -> Result<fuserec_nn::Checkpoint> {
        crate::inner_product::InnerProductModel::state_of(
            &self.name,
            &self.trained.user_vectors,
            &self.trained.item_vectors,
            self.training_log(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{CacheStats, ImageReport, Modality};
    use fuserec_core::Rng;

    #[test]
    fn a_new_items_content_row_equals_its_catalogue_row() {
        let mut rng = Rng::new(5);
        let (n, dt, di) = (6, 5, 3);
        let mut rows = |d: usize| Embeddings::from_vec(n, d, (0..n * d).map(|_| rng.normal() as f32).collect()).unwrap();
        let (mut text, image) = (rows(dt), rows(di));
        // Item 2 has no text (zero row, masked), item 4 no image.
        text.row_mut(2).fill(0.0);
        let mut image = image;
        image.row_mut(4).fill(0.0);
        let mask = |k: usize| (0..n).map(|i| i != k).collect::<Vec<bool>>();
        let f = ItemFeatures {
            modalities: vec![
                Modality {
                    name: "text".into(),
                    backbone: "t".into(),
                    rows: text.clone(),
                    mask: mask(2),
                    cache: CacheStats::default(),
                    centre: None,
                },
                Modality {
                    name: "image".into(),
                    backbone: "i".into(),
                    rows: image.clone(),
                    mask: mask(4),
                    cache: CacheStats::default(),
                    centre: None,
                },
            ],
            image_report: ImageReport::default(),
            hash: String::new(),
            tags: vec![Vec::new(); n],
            tag_names: Vec::new(),
            embeddings: Vec::new(),
        };
        let cfg: TwoTowerConfig = toml::from_str("").unwrap();
        let input = content_input(&cfg, &f, 1).unwrap();
        let (all, w) = input.features.unwrap();
        assert_eq!(w, dt + di + 2);
        for i in 0..n {
            let t = (i != 2).then(|| text.row(i));
            let im = (i != 4).then(|| image.row(i));
            assert_eq!(content_row(&[t, im], &[dt, di]).unwrap(), all[i * w..(i + 1) * w].to_vec(), "item {i}");
        }
        assert!(content_row(&[Some(&[1.0; 4]), None], &[dt, di]).is_err(), "wrong text width");
        assert!(content_row(&[None], &[dt, di]).is_err(), "one part for two modalities");
        assert!(content_row(&[], &[]).is_err());
    }
}

#[cfg(test)]
mod new_item_tests {
    use super::*;
    use crate::features::{CacheStats, ImageReport, Modality};
    use fuserec_core::Rng;

    /// The near-line click gradient is the derivative of the loss it reports (central
    /// differences), and a step against it lowers that loss.
    #[test]
    fn click_gradient_matches_finite_differences() {
        let mut rng = Rng::new(4);
        let (n, w) = (12, 10);
        let rows: Vec<f32> = (0..n * w).map(|_| rng.normal() as f32).collect();
        let input = ContentInput { features: Some((std::sync::Arc::new(rows.clone()), w)), ..Default::default() };
        let cfg: TwoTowerConfig = toml::from_str("fusion = \"additive\"\ndim = 8\ncontent_hidden = 16").unwrap();
        let net = Net::new(&cfg, 3, n, Some(input), 2).unwrap();
        let d = net.fused_dim();
        let q: Vec<f32> = (0..d).map(|_| rng.normal() as f32 / (d as f32).sqrt()).collect();
        let negatives: Vec<f32> = (0..16).map(|j| j as f32 - 8.0).collect();
        let gate = [1.0, 0.5, -3.0, 0.1];
        let row0: Vec<f32> = (0..8).map(|_| 0.3 * rng.normal() as f32).collect();
        let loss = |r: &[f32]| net.new_item_click_gradient(&rows[..w], &[], &gate, r, &q, &negatives).unwrap();
        let (g, l0) = loss(&row0);
        assert!(g.iter().any(|&x| x != 0.0) && l0.is_finite());
        let eps = 1e-2;
        for j in 0..8 {
            let (mut up, mut down) = (row0.clone(), row0.clone());
            up[j] += eps;
            down[j] -= eps;
            let fd = (loss(&up).1 - loss(&down).1) / (2.0 * eps);
            assert!((fd - g[j]).abs() < 2e-2 + 0.05 * g[j].abs(), "coordinate {j}: finite difference {fd}, gradient {}", g[j]);
        }
        let stepped: Vec<f32> = row0.iter().zip(&g).map(|(r, g)| r - 0.05 * g).collect();
        assert!(loss(&stepped).1 < l0, "a small step against the gradient lowers the loss");
    }

    /// A catalogue item embedded as if it were new (content row + codes from the refit tree, no
    /// id row) gets exactly the vector evaluation gives it as a cold item.
    #[test]
    fn a_catalogue_item_embedded_as_new_matches_its_cold_vector() {
        let mut rng = Rng::new(9);
        let (n, dt, di) = (40, 6, 4);
        let centre =
            |k: usize, d: usize, rng: &mut Rng| (0..d).map(|j| ((k * 7 + j) % 5) as f32 + 0.1 * rng.normal() as f32).collect::<Vec<f32>>();
        let mut text = Vec::new();
        let mut image = Vec::new();
        for i in 0..n {
            text.extend(centre(i % 4, dt, &mut rng));
            image.extend(centre(i % 3, di, &mut rng));
        }
        let m = |name: &str, rows: Vec<f32>, d: usize| Modality {
            name: name.into(),
            backbone: "x".into(),
            rows: Embeddings::from_vec(n, d, rows).unwrap(),
            mask: vec![true; n],
            cache: CacheStats::default(),
            centre: None,
        };
        let f = ItemFeatures {
            modalities: vec![m("text", text.clone(), dt), m("image", image.clone(), di)],
            image_report: ImageReport::default(),
            hash: String::new(),
            tags: vec![Vec::new(); n],
            tag_names: Vec::new(),
            embeddings: Vec::new(),
        };
        for extra in ["", "codes = { branching = 3, levels = 2 }"] {
            let cfg: TwoTowerConfig = toml::from_str(&format!("fusion = \"additive\"\ndim = 8\ncontent_hidden = 16\n{extra}")).unwrap();
            let (input, tree) = content_input_and_codes(&cfg, &f, 1).unwrap();
            assert_eq!(tree.is_some(), !extra.is_empty());
            let net = Net::new(&cfg, 5, n, Some(input), 1).unwrap();
            let tower = net.content.as_ref().unwrap();
            for i in [0u32, 7, 23] {
                let (t, im) = (&text[i as usize * dt..(i as usize + 1) * dt], &image[i as usize * di..(i as usize + 1) * di]);
                let row = content_row(&[Some(t), Some(im)], &[dt, di]).unwrap();
                let codes = match &tree {
                    Some(tr) => tr.encode(&fused_row(&[Some(t), Some(im)], &[dt, di]).unwrap()).unwrap(),
                    None => Vec::new(),
                };
                assert_eq!(
                    codes.iter().map(|c| c[0]).collect::<Vec<_>>(),
                    tower.item_codes(i),
                    "{extra}: the refit tree reproduces item {i}'s training codes"
                );
                let gate = [0.0, 0.0, 0.1, 1.0];
                let new = net.new_item_vectors(&row, &codes, &gate).unwrap();
                let cold = net.item_vectors(&[i], &gate, Some(&[0.0])).unwrap();
                assert_eq!(new.gate, cold.gate);
                for (a, b) in new.fused.iter().zip(&cold.fused) {
                    assert!((a - b).abs() < 1e-6, "{extra}: item {i}: {:?} vs {:?}", new.fused, cold.fused);
                }
            }
        }
    }
}

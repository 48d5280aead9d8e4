//! The trained recall model as the service uses it: loaded from its trained artifact
//! ([`fuserec::artifact`]), it embeds new items from raw text and image bytes (encoders → content
//! row → content tower → gate with the item's statistics → fusion) and builds queries. Nothing
//! here re-runs a split, a feature encoding or an experiment.

use fuserec::artifact::{ItemRecord, TrainedArtifact};
use fuserec::core::{Embeddings, Error, ItemStats, Result};
use fuserec::encoders::{ImageEncoder, TextEncoder};
use fuserec::features::{BackboneKind, image_encoder, text_encoder};
use fuserec::towers::{History, NO_USER};
use fuserec::two_tower::content_head::{Blend, ContentHead};
use fuserec::two_tower::{CodeTree, Net, TwoTowerConfig, content_row, fused_row};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Where the model comes from.
#[derive(Clone, Debug)]
pub struct ModelSource {
    /// The trained artifact: `results/<exp>/<run>/checkpoints/model<i>-seed<s>.fuserec/`.
    pub artifact: PathBuf,
    /// Asset cache (`FUSEREC_CACHE_DIR`): the pretrained encoders new items go through.
    pub cache: PathBuf,
}

/// How a served model gets one modality of a new item.
enum ModalityEncoder {
    Text(Box<dyn TextEncoder>),
    Image(Box<dyn ImageEncoder>),
    /// `vectors:` / `embeddings:`: rows came from a file keyed by catalogue item, so a new item
    /// has none; it is masked in this modality (as a catalogue item without a row is).
    Precomputed,
}

/// One modality the model reads, as serving encodes it.
struct ServedModality {
    encoder: ModalityEncoder,
    dim: usize,
    /// Catalogue mean subtracted from encoder output (`[features] preprocess`).
    centre: Option<Vec<f32>>,
}

/// What turns a new item's raw content into the content tower's input: the model's pretrained
/// encoders (one per modality, in the content row's order), preprocessing centres and cluster
/// tree. Plain `Sync` data, shared outside the model's lock, so that encoding (the slow part of
/// an ingestion) blocks no other request.
pub struct ItemEncoder {
    modalities: Vec<ServedModality>,
    /// The cluster tree, when the model reads cluster codes.
    codes: Option<CodeTree>,
}

/// The trained model as serving uses it: networks, encoders, users' queries, the catalogue.
pub struct ServingModel {
    /// The trained two-tower networks.
    pub net: Net,
    /// Encoders for new items' text and image.
    pub encoder: Arc<ItemEncoder>,
    /// Raw user id → row.
    users: Arc<HashMap<String, u32>>,
    /// Raw item id → catalogue row.
    items: HashMap<String, u32>,
    /// Per user: the query as of the end of training.
    pub user_vectors: Arc<Embeddings>,
    /// Per user: items seen in training + validation (left out of that user's recall).
    pub seen: Arc<Vec<Vec<u32>>>,
    /// Per catalogue item: its vector exactly as evaluation scored it.
    pub catalogue_vectors: Embeddings,
    /// Per catalogue item: id, text, statistics, whether its id row was trained.
    pub catalogue: Vec<ItemRecord>,
    /// End of the training period (seconds): "now" for ages of catalogue items.
    pub t_end: i64,
    /// How tower vectors, cold length and content head combine, as training fitted them.
    pub blend: Blend,
    /// The content affinity head's catalogue rows, when the trained model uses it.
    pub head: Option<ContentHead>,
    /// The item–item channel's catalogue columns (`B[:, j]/s`), when the trained model uses it:
    /// a catalogue item's vector ends in `ρ·` its column, a new item's in `σ·ρ·` the row it
    /// borrows from its content neighbours (when the blend borrows; zeros otherwise), a query in
    /// the multi-hot of its history.
    pub item_item: Option<Embeddings>,
    /// Where the model came from, as the artifact records it.
    pub provenance: serde_json::Value,
    /// Tower vectors (fused width) of up to [`NEGATIVES`] trained catalogue items, evenly spread:
    /// the negatives a click on a new item is learned against.
    negatives: Vec<f32>,
}

/// The training users as recall reads them.
#[derive(Clone)]
pub struct UserSide {
    ids: Arc<HashMap<String, u32>>,
    /// Per user: the query as of the end of training.
    pub vectors: Arc<Embeddings>,
    /// Per user: items seen in training + validation.
    pub seen: Arc<Vec<Vec<u32>>>,
}

impl UserSide {
    /// The row of a training user.
    pub fn row(&self, id: &str) -> Option<u32> {
        self.ids.get(id).copied()
    }
}

/// How many trained catalogue items a near-line click is contrasted with.
pub const NEGATIVES: usize = 256;

fn minus(v: Vec<f32>, centre: &Option<Vec<f32>>) -> Vec<f32> {
    match centre {
        Some(c) => v.iter().zip(c).map(|(x, m)| x - m).collect(),
        None => v,
    }
}

impl ItemEncoder {
    /// The content row of a new item — its text and decoded image through the model's encoders
    /// (precomputed modalities masked) — and its cluster codes per level the model reads
    /// (quantised by the model's tree). Returns the row, the codes and whether it has a text and
    /// an image modality.
    pub fn content_row(&self, text: &str, image: Option<&image::DynamicImage>) -> Result<(Vec<f32>, Vec<u32>, bool, bool)> {
        if self.modalities.is_empty() {
            return Err(Error::Config("this model has no content view: it cannot embed a new item".into()));
        }
        if self.modalities.iter().all(|m| matches!(m.encoder, ModalityEncoder::Precomputed)) {
            return Err(Error::Config(
                "the model's features all come from precomputed files (`vectors:` / `embeddings:`): new items cannot be encoded".into(),
            ));
        }
        let (mut has_text, mut has_image) = (false, false);
        let mut parts: Vec<Option<Vec<f32>>> = Vec::with_capacity(self.modalities.len());
        for m in &self.modalities {
            let row = match (&m.encoder, image) {
                (ModalityEncoder::Text(enc), _) if !text.trim().is_empty() => {
                    let e = enc.encode(&[text])?;
                    let r = Some(e.row(0).to_vec()).filter(|r| r.iter().any(|&x| x != 0.0)).map(|r| minus(r, &m.centre));
                    has_text |= r.is_some();
                    r
                }
                (ModalityEncoder::Image(enc), Some(img)) => {
                    has_image = true;
                    Some(minus(enc.encode(std::slice::from_ref(img))?.row(0).to_vec(), &m.centre))
                }
                _ => None,
            };
            parts.push(row);
        }
        if !has_text && !has_image {
            return Err(Error::Invalid("the item has neither text nor an image the model reads: nothing to embed".into()));
        }
        let parts: Vec<Option<&[f32]>> = parts.iter().map(|p| p.as_deref()).collect();
        let dims: Vec<usize> = self.modalities.iter().map(|m| m.dim).collect();
        let codes = match &self.codes {
            Some(tree) => tree.encode(&fused_row(&parts, &dims)?)?.into_iter().map(|c| c[0]).collect(),
            None => Vec::new(),
        };
        Ok((content_row(&parts, &dims)?, codes, has_text, has_image))
    }
}

impl ServingModel {
    /// Loads and checks an artifact and its backbones; errors name the file.
    pub fn load(src: &ModelSource) -> Result<Self> {
        let a = TrainedArtifact::load(&src.artifact)?;
        let net = a.net()?;
        let m = &a.manifest;
        let mut modalities = Vec::new();
        if let Some(f) = &m.features {
            for (spec, centre) in f.modalities.iter().zip(a.centres.iter().cloned().chain(std::iter::repeat(None))) {
                let encoder = match BackboneKind::of(&spec.name, &spec.backbone)? {
                    BackboneKind::Text => ModalityEncoder::Text(text_encoder(&spec.backbone, &src.cache)?),
                    BackboneKind::Image => ModalityEncoder::Image(image_encoder(&spec.backbone)?),
                    BackboneKind::Precomputed => ModalityEncoder::Precomputed,
                };
                let got = match &encoder {
                    ModalityEncoder::Text(e) => Some(e.dim()),
                    ModalityEncoder::Image(e) => Some(e.dim()),
                    ModalityEncoder::Precomputed => None,
                };
                if let Some(d) = got.filter(|&d| d != spec.dim) {
                    return Err(Error::Invalid(format!(
                        "{}: the model read {}-d `{}` features ({}), the encoder here gives {d}",
                        src.artifact.display(),
                        spec.dim,
                        spec.name,
                        spec.backbone
                    )));
                }
                modalities.push(ServedModality { encoder, dim: spec.dim, centre });
            }
        }
        let provenance = serde_json::json!({
            "artifact": src.artifact.file_name().map(|n| n.to_string_lossy().into_owned()),
            "source": m.source, "fuserec_version": m.fuserec_version, "git_revision": m.git_revision, "created_at": m.created_at,
        });
        let users = Arc::new(m.users.iter().enumerate().map(|(i, u)| (u.clone(), i as u32)).collect());
        let items = m.items.iter().enumerate().map(|(i, r)| (r.id.clone(), i as u32)).collect();
        let (blend, t_end) = (m.blend, m.statistics_at);
        let fd = net.fused_dim();
        let trained_rows: Vec<usize> = m.items.iter().enumerate().filter(|(_, r)| r.trained).map(|(i, _)| i).collect();
        let stride = trained_rows.len().div_ceil(NEGATIVES).max(1);
        let negatives = trained_rows.iter().step_by(stride).flat_map(|&i| a.item_vectors.row(i)[..fd].to_vec()).collect();
        let TrainedArtifact { manifest, user_vectors, item_vectors, head_rows, item_item_rows, code_tree, .. } = a;
        Ok(ServingModel {
            net,
            encoder: Arc::new(ItemEncoder { modalities, codes: code_tree }),
            users,
            items,
            user_vectors: Arc::new(user_vectors),
            seen: Arc::new(manifest.seen),
            catalogue_vectors: item_vectors,
            catalogue: manifest.items,
            t_end,
            blend,
            head: head_rows.map(ContentHead::new),
            item_item: item_item_rows,
            provenance,
            negatives,
        })
    }

    /// Row of a training user.
    pub fn user_row(&self, id: &str) -> Option<u32> {
        self.users.get(id).copied()
    }

    /// The users' side (ids, queries, seen lists): plain shared data a request reads without the
    /// model's lock.
    pub fn user_side(&self) -> UserSide {
        UserSide { ids: self.users.clone(), vectors: self.user_vectors.clone(), seen: self.seen.clone() }
    }

    /// Catalogue row of a training item.
    pub fn item_row(&self, id: &str) -> Option<u32> {
        self.items.get(id).copied()
    }

    /// Width of item and query vectors.
    pub fn dim(&self) -> usize {
        self.net.fused_dim() + self.head.as_ref().map_or(0, |h| h.dim()) + self.item_item.as_ref().map_or(0, |c| c.dim())
    }

    /// `σ·[v ; γ·x̂ ; ρ·b]` ([`fuserec::two_tower::content_head`]): the tower vector with the
    /// blend's factors and, when the model has them, the item's content row `x̂` and its
    /// item–item column `b` (catalogue row `Some`; a new item's borrowed row) appended.
    fn blended(&self, tower: Vec<f32>, head_row: Option<&[f32]>, catalogue_row: Option<u32>, unseen: bool) -> Result<Vec<f32>> {
        let (s, g, r) = self.blend.factors(unseen);
        let mut out: Vec<f32> = tower.into_iter().map(|x| x * s).collect();
        if let Some(h) = &self.head {
            let row = head_row.ok_or_else(|| Error::Invalid("the model's content head needs the item's content".into()))?;
            if row.len() != h.dim() {
                return Err(Error::Shape(format!("content head: a {}-d row, the model reads {}", row.len(), h.dim())));
            }
            out.extend(row.iter().map(|x| x * g));
        }
        if let Some(c) = &self.item_item {
            match catalogue_row {
                Some(row) => out.extend(c.row(row as usize).iter().map(|x| x * r)),
                None => match head_row.filter(|_| unseen && r != 0.0).and_then(|x| self.borrowed_row(x)) {
                    Some(b) => out.extend(b.iter().map(|x| x * r)),
                    None => out.resize(out.len() + c.dim(), 0.0),
                },
            }
        }
        Ok(out)
    }

    /// The item–item row a new item borrows from the trained catalogue items its content row
    /// `x̂` resembles, as training gave the never-seen catalogue items theirs
    /// ([`fuserec::two_tower::item_item::borrow_columns`]).
    fn borrowed_row(&self, head_row: &[f32]) -> Option<Vec<f32>> {
        let (h, c) = (self.head.as_ref()?, self.item_item.as_ref()?);
        // One blocked product against every catalogue row (a scalar dot per row: 6× slower, the
        // `item_item` bench in `benches/peers`).
        let mut all = vec![0f32; h.rows.rows()];
        fuserec_index::inner_products(&Embeddings::from_vec(1, head_row.len(), head_row.to_vec()).ok()?, &h.rows, &mut all).ok()?;
        let ids: Vec<usize> = (0..self.catalogue.len()).filter(|&i| self.catalogue[i].trained).collect();
        let sims: Vec<f32> = ids.iter().map(|&i| all[i]).collect();
        fuserec::two_tower::item_item::borrowed_row(&sims, &ids, c)
    }

    /// Whether item `row`'s behaviour vector counts, as training decided: with both views an item
    /// without a trained id row has none (its row is still noise); a model with one view keeps
    /// every row as it is.
    pub fn keep(&self, row: u32) -> f32 {
        if !self.learns_new_rows() || self.trained(row) { 1.0 } else { 0.0 }
    }

    /// Catalogue item `row` has a trained id row (a positive in the training split).
    pub fn trained(&self, row: u32) -> bool {
        self.catalogue[row as usize].trained
    }

    /// The stored vector of catalogue item `row` from its tower vector, as training exported it.
    pub fn catalogue_vector(&self, row: u32, tower: Vec<f32>, exposures: u64) -> Result<Vec<f32>> {
        let trained = self.trained(row);
        let head_row = self.head.as_ref().map(|h| h.rows.row(row as usize));
        self.blended(tower, head_row, Some(row), !trained && exposures == 0)
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

    /// [`ItemEncoder::content_row`] with this model's encoder.
    pub fn content_row(&self, text: &str, image: Option<&image::DynamicImage>) -> Result<(Vec<f32>, Vec<u32>, bool, bool)> {
        self.encoder.content_row(text, image)
    }

    /// Fused vector and gate of a new item (no trained id row) from its content row, codes and
    /// the id row learned from its clicks so far (`None` or zeros: none yet, the cold vector).
    pub fn embed_new(&self, row: &[f32], codes: &[u32], gate: [f32; 4], id_row: Option<&[f32]>) -> Result<(Vec<f32>, f32)> {
        let per_level: Vec<Vec<u32>> = codes.iter().map(|&c| vec![c]).collect();
        let v = self.net.new_item_vectors_with_row(row, &per_level, &gate, id_row)?;
        let fused = self.blended(v.fused, self.head_row(row).as_deref(), None, true)?;
        Ok((fused, v.gate.and_then(|g| g.first().copied()).unwrap_or(f32::NAN)))
    }

    /// The head row of a new item: the fused content its content row was scaled from (unit or zero).
    fn head_row(&self, row: &[f32]) -> Option<Vec<f32>> {
        self.head.as_ref().map(|h| {
            let mut x = row[..h.dim().min(row.len())].to_vec();
            let n = x.iter().map(|v| v * v).sum::<f32>().sqrt();
            if n > 0.0 {
                x.iter_mut().for_each(|v| *v /= n);
            }
            x
        })
    }

    /// Whether new items can learn an id row from clicks: the model has both views.
    pub fn learns_new_rows(&self) -> bool {
        self.net.behaviour.is_some() && self.net.content.is_some()
    }

    /// One click of user `user` on a new item: a step of the training's row optimiser on the
    /// item's id row (`row`, with optimiser state `state` and step count `steps`, all updated),
    /// from the gradient of the training loss against the fixed negatives. Returns the loss.
    #[allow(clippy::too_many_arguments)]
    pub fn learn_click(
        &self,
        content: &[f32],
        codes: &[u32],
        gate: [f32; 4],
        user: u32,
        row: &mut Vec<f32>,
        state: &mut Vec<f32>,
        steps: &mut u64,
    ) -> Result<f32> {
        let t = self.net.behaviour.as_ref().ok_or_else(|| Error::Config("the model has no behaviour view: no id row to learn".into()))?;
        let d = t.ids.dim();
        let opt = self.net.cfg.sparse_optimizer;
        let slots = opt.state_slots();
        if row.is_empty() {
            *row = vec![0.0; d];
        }
        if state.len() != slots * d {
            *state = vec![0.0; slots * d];
        }
        let fd = self.net.fused_dim();
        let q = &self.user_vectors.row(user as usize)[..fd];
        let tau = self.net.cfg.temperature;
        let negatives: Vec<f32> = self.negatives.chunks_exact(fd).map(|v| v.iter().zip(q).map(|(a, b)| a * b).sum::<f32>() / tau).collect();
        let per_level: Vec<Vec<u32>> = codes.iter().map(|&c| vec![c]).collect();
        let (g, loss) = self.net.new_item_click_gradient(content, &per_level, &gate, row, q, &negatives)?;
        *steps += 1;
        let first = d.min(state.len());
        let (s1, s2) = state.split_at_mut(first);
        opt.step_row(row, s1, s2, &g, (*steps).min(i32::MAX as u64) as i32);
        if row.iter().any(|x| !x.is_finite()) {
            return Err(Error::Invalid("the id row became non-finite".into()));
        }
        Ok(loss)
    }

    /// Fused vector and gate of a stored item with `exposures` and `clicks` as of `now`: a trained
    /// catalogue item through its id row, any other as a new item (with its learned row, if any).
    pub fn refresh(&self, r: &fuserec_index::ItemRecord, exposures: u64, clicks: u64, now: i64) -> Result<(Vec<f32>, f32)> {
        let g = Self::gate_features(exposures, clicks, r.created_at, now.max(self.t_end));
        match r.model_row {
            Some(row) => self.embed_catalogue(row, g),
            None => self.embed_new(&r.features, &r.codes, g, Some(&r.id_row)),
        }
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
        if let Some(c) = &self.item_item {
            let start = q.len();
            q.resize(start + c.dim(), 0.0);
            fuserec::two_tower::item_item::multi_hot(&mut q[start..], rows);
        }
        Ok(q)
    }

    /// The two-tower configuration it was trained with.
    pub fn config(&self) -> &TwoTowerConfig {
        &self.net.cfg
    }
}

//! The service's state and the work behind each endpoint, free of HTTP: the handlers in
//! [`crate::http`] parse, call these, and map errors to status codes.

use crate::metrics::Metrics;
use crate::model::{ModelSource, ServingModel};
use fuserec::core::{Error, Result};
use fuserec_index::{Hnsw, HnswConfig, ItemRecord, ItemStore};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, RwLock};

#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub source: ModelSource,
    /// The item store (redb file); created and filled with the catalogue on first start.
    pub store: PathBuf,
    /// `host:port` (port 0: any free port).
    pub addr: String,
    /// Requests with a larger body are refused (413).
    pub max_body_bytes: usize,
    pub hnsw: HnswConfig,
    /// Largest `k` a recall request may ask for.
    pub max_k: usize,
}

/// Why a request failed, mapped to an HTTP status by the handlers.
#[derive(Debug)]
pub enum Refusal {
    /// 400: the request is malformed or asks for something impossible.
    Bad(String),
    /// 404: an unknown user or item.
    NotFound(String),
    /// 500: our fault (store or model failure).
    Internal(String),
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Self {
        match e {
            Error::UnknownId { .. } => Refusal::NotFound(e.to_string()),
            Error::Config(_) | Error::Invalid(_) | Error::Shape(_) => Refusal::Bad(e.to_string()),
            other => Refusal::Internal(other.to_string()),
        }
    }
}

pub type Answer<T> = std::result::Result<T, Refusal>;

pub struct App {
    pub cfg: ServeConfig,
    pub model: Mutex<ServingModel>,
    pub store: ItemStore,
    pub index: RwLock<Hnsw>,
    /// Index key → item id, and catalogue row → key.
    pub ids: RwLock<HashMap<u32, String>>,
    pub row_key: Vec<u32>,
    pub metrics: Metrics,
    pub dim: usize,
}

/// A new item as posted.
pub struct NewItem {
    pub id: String,
    pub text: String,
    pub image: Option<image::DynamicImage>,
}

#[derive(serde::Serialize, Debug, Clone)]
pub struct Ingested {
    pub id: String,
    pub key: u32,
    pub version: u64,
    pub gate: f32,
    pub has_text: bool,
    pub has_image: bool,
}

#[derive(serde::Serialize, Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: String,
    pub score: f32,
}

/// What a recall request asks for: a user, recent items, or a raw query vector.
pub struct Query {
    pub user: Option<String>,
    pub items: Vec<String>,
    pub vector: Option<Vec<f32>>,
    pub k: usize,
    pub exclude_seen: bool,
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

fn normalised(v: &[f32]) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 { v.iter().map(|x| x / n).collect() } else { v.to_vec() }
}

impl App {
    /// Loads the model, opens the store (filling it with the catalogue when empty) and builds the
    /// index from the store.
    pub fn start(cfg: ServeConfig) -> Result<Self> {
        let model = ServingModel::load(&cfg.source)?;
        let store = ItemStore::open(&cfg.store)?;
        if store.is_empty()? {
            store.put_many(catalogue_records(&model)?)?;
        }
        let dim = model.dim();
        let records = store.all()?;
        let mut index = Hnsw::new(dim, cfg.hnsw)?;
        let (mut keys, mut vectors, mut ids) = (Vec::new(), Vec::new(), HashMap::new());
        let mut row_key = vec![u32::MAX; model.dataset.n_items()];
        for r in &records {
            if r.vector.len() != dim {
                return Err(Error::Invalid(format!("item store {}: item `{}` has a {}-d vector, the model {dim} (a store from another model?)", cfg.store.display(), r.id, r.vector.len())));
            }
            keys.push(r.key);
            vectors.extend_from_slice(&r.vector);
            ids.insert(r.key, r.id.clone());
            if let Some(row) = r.model_row {
                row_key[row as usize] = r.key;
            }
        }
        index.extend(&keys, &vectors)?;
        Ok(App { cfg, model: Mutex::new(model), store, index: RwLock::new(index), ids: RwLock::new(ids), row_key, metrics: Metrics::default(), dim })
    }

    /// Embeds, stores (durably) and indexes a new item; re-posting an id replaces its content
    /// and keeps its statistics.
    pub fn ingest(&self, item: NewItem) -> Answer<Ingested> {
        if item.id.trim().is_empty() || item.id.len() > 256 {
            return Err(Refusal::Bad("item id must be 1–256 characters".into()));
        }
        let old = self.store.get(&item.id)?;
        let t = now();
        let (exposures, clicks, created_at) = old.as_ref().map_or((0, 0, t), |o| (o.exposures, o.clicks, o.created_at));
        let (row, codes, has_text, has_image, vector, gate) = {
            let model = self.model.lock().map_err(|_| Refusal::Internal("model lock poisoned".into()))?;
            let (row, codes, ht, hi) = model.content_row(&item.text, item.image.as_ref())?;
            let (v, g) = model.embed_new(&row, &codes, ServingModel::gate_features(exposures, clicks, created_at, t))?;
            (row, codes, ht, hi, v, g)
        };
        let rec = ItemRecord {
            id: item.id.clone(),
            key: 0,
            version: 0,
            text: item.text,
            created_at,
            exposures,
            clicks,
            codes,
            has_image,
            has_text,
            gate,
            model_row: None,
            features: row,
            vector,
        };
        let rec = self.store.put(rec)?;
        self.index_record(&rec)?;
        Ok(Ingested { id: rec.id, key: rec.key, version: rec.version, gate, has_text, has_image })
    }

    fn index_record(&self, rec: &ItemRecord) -> Answer<()> {
        self.index.write().map_err(|_| Refusal::Internal("index lock poisoned".into()))?.insert(rec.key, &rec.vector)?;
        self.ids.write().map_err(|_| Refusal::Internal("id map lock poisoned".into()))?.insert(rec.key, rec.id.clone());
        Ok(())
    }

    /// Adds exposures and clicks to an item, moves its gate and refreshes its vector.
    pub fn add_stats(&self, id: &str, exposures: u64, clicks: u64) -> Answer<ItemRecord> {
        let t = now();
        let model = self.model.lock().map_err(|_| Refusal::Internal("model lock poisoned".into()))?;
        let rec = self.store.update(id, |r| {
            let (e, c) = (r.exposures + exposures, r.clicks + clicks);
            if c > e {
                return Err(Error::Invalid(format!("item `{id}` would have {c} clicks on {e} exposures")));
            }
            let g = ServingModel::gate_features(e, c, r.created_at, t.max(model.t_end));
            let (v, gate) = match r.model_row {
                Some(row) => model.embed_catalogue(row, g)?,
                None => model.embed_new(&r.features, &r.codes, g)?,
            };
            (r.exposures, r.clicks, r.vector, r.gate) = (e, c, v, gate);
            Ok(())
        })?;
        drop(model);
        let rec = rec.ok_or_else(|| Refusal::NotFound(format!("unknown item `{id}`")))?;
        self.index_record(&rec)?;
        Ok(rec)
    }

    pub fn recall(&self, q: Query) -> Answer<Vec<Hit>> {
        if q.k == 0 || q.k > self.cfg.max_k {
            return Err(Refusal::Bad(format!("k must be 1–{}, got {}", self.cfg.max_k, q.k)));
        }
        let model = self.model.lock().map_err(|_| Refusal::Internal("model lock poisoned".into()))?;
        let mut parts: Vec<Vec<f32>> = Vec::new();
        let mut exclude: Vec<u32> = Vec::new();
        if let Some(u) = &q.user {
            let ui = model.dataset.users.get(u).ok_or_else(|| Refusal::NotFound(format!("unknown user `{u}`")))?;
            parts.push(model.user_vectors.row(ui as usize).to_vec());
            if q.exclude_seen {
                exclude.extend(model.seen[ui as usize].iter().map(|&row| self.row_key[row as usize]));
            }
        }
        let mut rows = Vec::new();
        let mut new_items = Vec::new();
        for id in &q.items {
            let rec = self.store.get(id)?;
            self.metrics.lookup(rec.is_some());
            let rec = rec.ok_or_else(|| Refusal::NotFound(format!("unknown item `{id}`")))?;
            if q.exclude_seen {
                exclude.push(rec.key);
            }
            match rec.model_row {
                Some(r) => rows.push(r),
                None => new_items.push(rec.vector),
            }
        }
        if !rows.is_empty() {
            parts.push(model.history_query(&rows)?);
        }
        if !new_items.is_empty() {
            // Items the query tower was not trained on stand for themselves: their fused vectors.
            let mut sum = vec![0f32; self.dim];
            new_items.iter().for_each(|v| sum.iter_mut().zip(normalised(v)).for_each(|(s, x)| *s += x));
            parts.push(sum);
        }
        drop(model);
        if let Some(v) = &q.vector {
            if v.len() != self.dim {
                return Err(Refusal::Bad(format!("query vector has {} values, the index {}", v.len(), self.dim)));
            }
            if v.iter().any(|x| !x.is_finite()) {
                return Err(Refusal::Bad("query vector has a non-finite value".into()));
            }
            parts.push(v.clone());
        }
        if parts.is_empty() {
            return Err(Refusal::Bad("empty history: give a user, recent items or a vector".into()));
        }
        let mut query = vec![0f32; self.dim];
        parts.iter().for_each(|p| query.iter_mut().zip(normalised(p)).for_each(|(s, x)| *s += x));
        exclude.sort_unstable();
        let found = {
            let index = self.index.read().map_err(|_| Refusal::Internal("index lock poisoned".into()))?;
            let ef = index.config().ef_search.max(q.k);
            index.search(&query, q.k, Some(ef), &|key| exclude.binary_search(&key).is_ok())?
        };
        let ids = self.ids.read().map_err(|_| Refusal::Internal("id map lock poisoned".into()))?;
        Ok(found.into_iter().map(|(key, score)| Hit { id: ids.get(&key).cloned().unwrap_or_default(), score }).collect())
    }

    /// `(stored, indexed)` item counts.
    pub fn counts(&self) -> (usize, usize) {
        let stored = self.store.len().unwrap_or(0);
        let indexed = self.index.read().map(|i| i.len()).unwrap_or(0);
        (stored, indexed)
    }
}

/// The catalogue as the model left training: trained items keep their id row; items without any
/// training interaction are stored like new items (content row, no id row), as evaluation
/// treats them.
fn catalogue_records(model: &ServingModel) -> Result<Vec<ItemRecord>> {
    let content = model.net.content.as_ref().and_then(|c| c.features().map(|(f, w)| (f.to_vec(), w)));
    let n = model.catalogue.len();
    let rows: Vec<u32> = (0..n as u32).collect();
    let mut out = Vec::with_capacity(n);
    for chunk in rows.chunks(512) {
        let gates: Vec<f32> = chunk.iter().flat_map(|&r| {
            let c = &model.catalogue[r as usize];
            ServingModel::gate_features(c.exposures, c.clicks, c.created_at, model.t_end)
        }).collect();
        let keep: Vec<f32> = chunk.iter().map(|&r| (model.catalogue[r as usize].exposures > 0) as u8 as f32).collect();
        let v = model.net.item_vectors(chunk, &gates, Some(&keep))?;
        let d = model.dim();
        for (k, &r) in chunk.iter().enumerate() {
            let c = &model.catalogue[r as usize];
            let trained = c.exposures > 0;
            out.push(ItemRecord {
                id: c.id.clone(),
                key: 0,
                version: 0,
                text: c.text.clone(),
                created_at: c.created_at,
                exposures: c.exposures,
                clicks: c.clicks,
                codes: match (&model.net.content, trained) {
                    (Some(t), false) => t.item_codes(r),
                    _ => Vec::new(),
                },
                has_image: c.has_image,
                has_text: c.has_text,
                gate: v.gate.as_ref().map_or(f32::NAN, |g| g[k]),
                model_row: trained.then_some(r),
                features: match (&content, trained) {
                    (Some((f, w)), false) => f[r as usize * w..(r as usize + 1) * w].to_vec(),
                    _ => Vec::new(),
                },
                vector: v.fused[k * d..(k + 1) * d].to_vec(),
            });
        }
    }
    Ok(out)
}

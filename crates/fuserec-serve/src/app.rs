//! The service's state and the work behind each endpoint, free of HTTP: the handlers in
//! [`crate::http`] parse, call these, and map errors to status codes.

use crate::auth::Token;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::model::{ItemEncoder, ModelSource, ServingModel, UserSide};
use fuserec::core::{Error, Result};
use fuserec_index::{HnswConfig, ItemRecord, ItemStore, LiveIndex, LocalHnsw, RecordStore};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

/// Everything a server needs to start: the trained model, where to keep items, how to listen,
/// the index shape and the request limits.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// The trained artifact and its backbones.
    pub source: ModelSource,
    /// The item store (a redb file, or a Redis Cluster); filled with the catalogue on first start.
    pub store: StoreSpec,
    /// `host:port` (port 0: any free port). A non-loopback address needs a `token`.
    pub addr: String,
    /// Shape of the HNSW index over the item vectors (a Redis Cluster store takes its
    /// `ef_search` as the search beam of each of its vector sets).
    pub hnsw: HnswConfig,
    /// What a client may ask (sizes, counts, times).
    pub limits: Limits,
    /// Bearer token the write routes require (`None`: loopback only, no authentication).
    pub token: Option<Token>,
    /// Directory `image_path` is resolved under (`None`: images by bytes only).
    pub image_root: Option<PathBuf>,
}

/// Where the items live and how they are found: one redb file with an HNSW graph in the
/// server's memory (one machine), or a Redis Cluster that shards and replicates the records and
/// their vectors and searches them itself (vector sets; see `fuserec_index::RedisClusterStore`).
#[derive(Clone, Debug, PartialEq)]
pub enum StoreSpec {
    /// A redb file, created on first start.
    File(PathBuf),
    /// Seed nodes (`host:port`) of a Redis Cluster.
    RedisCluster(Vec<String>),
}

impl StoreSpec {
    /// `redis-cluster://HOST:PORT[,HOST:PORT…]` or a file path.
    pub fn parse(s: &str) -> Self {
        match s.strip_prefix("redis-cluster://") {
            Some(nodes) => StoreSpec::RedisCluster(
                nodes.split(',').map(|n| n.trim().trim_end_matches('/').to_string()).filter(|n| !n.is_empty()).collect(),
            ),
            None => StoreSpec::File(PathBuf::from(s)),
        }
    }

    /// Opens the store. `hnsw.ef_search` is a cluster's search beam.
    pub fn open(&self, hnsw: HnswConfig) -> Result<OpenedStore> {
        Ok(match self {
            StoreSpec::File(p) => OpenedStore { records: Arc::new(ItemStore::open(p)?), index: None },
            StoreSpec::RedisCluster(nodes) => {
                let mut cfg = fuserec_index::RedisClusterConfig::new(nodes.clone());
                cfg.ef_search = hnsw.ef_search;
                let store = Arc::new(fuserec_index::RedisClusterStore::open(cfg)?);
                OpenedStore { records: store.clone(), index: Some(store) }
            }
        })
    }
}

/// An opened store: its records, and the index it keeps itself if it keeps one (`None`: the
/// server builds an HNSW graph from the records).
pub struct OpenedStore {
    /// The store of record.
    pub records: Arc<dyn RecordStore>,
    /// The store's own search over its vectors.
    pub index: Option<Arc<dyn LiveIndex>>,
}

impl From<&str> for StoreSpec {
    /// As [`StoreSpec::parse`]: `redis-cluster://…` or a file path.
    fn from(s: &str) -> Self {
        StoreSpec::parse(s)
    }
}

impl From<PathBuf> for StoreSpec {
    fn from(p: PathBuf) -> Self {
        StoreSpec::File(p)
    }
}

/// One feedback event: `user` (a training user; optional) was shown `item` and clicked or not.
#[derive(Clone, Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// External user id; optional (anonymous events still count for the item).
    #[serde(default)]
    pub user: Option<String>,
    /// External item id.
    pub item: String,
    /// Whether the user clicked (false: an exposure without click).
    #[serde(default)]
    pub clicked: bool,
}

/// An item's counts after adding `exposures` and `clicks`: below 2^53 (exact in every JSON
/// reader) and no more clicks than exposures, or a 400 naming the item.
fn added_counts(r: &ItemRecord, exposures: u64, clicks: u64) -> Answer<(u64, u64)> {
    let id = &r.id;
    let (e, c) = match (r.exposures.checked_add(exposures), r.clicks.checked_add(clicks)) {
        (Some(e), Some(c)) if e < 1 << 53 => (e, c),
        _ => return Err(Refusal::Bad(format!("item `{id}`: the counts would exceed 2^53 (sent {exposures} exposures, {clicks} clicks)"))),
    };
    if c > e {
        return Err(Refusal::Bad(format!("item `{id}` would have {c} clicks on {e} exposures")));
    }
    Ok((e, c))
}

/// Why a request failed, mapped to an HTTP status by the handlers.
#[derive(Debug)]
pub enum Refusal {
    /// 400: the request is malformed or asks for something impossible.
    Bad(String),
    /// 401: a write route without the right bearer token.
    Unauthorized,
    /// 404: an unknown user or item.
    NotFound(String),
    /// 409: the request conflicts with what the item is (e.g. replacing a trained item).
    Conflict(String),
    /// 503: over a concurrency or time limit; the client may retry.
    Busy(String),
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

/// What a route's work returns: a value or the reason it was refused.
pub type Answer<T> = std::result::Result<T, Refusal>;

/// The serving state behind the HTTP routes: model, item store, index, metrics. Usable without
/// HTTP (tests and embedding programs call its methods directly).
pub struct App {
    /// The configuration it started with.
    pub cfg: ServeConfig,
    /// The network is not `Sync`: requests that run it take this lock, briefly (never across a
    /// store commit).
    pub model: Mutex<ServingModel>,
    /// Users' ids, queries and seen lists, read without the model's lock.
    pub users: UserSide,
    /// The new items' encoders, run without the model's lock.
    encoder: std::sync::Arc<ItemEncoder>,
    /// Serialises read-modify-writes of items (ingest, statistics, events), so that the model's
    /// lock is not held while a write waits for its commit.
    writes: Mutex<()>,
    /// The durable item store (redb, or a Redis Cluster).
    pub store: Arc<dyn RecordStore>,
    /// Search over every item's vector (an HNSW graph in memory, or the cluster's vector sets).
    pub index: Arc<dyn LiveIndex>,
    /// Catalogue row → index key.
    pub row_key: Vec<u32>,
    /// Latency histograms and lookup counts.
    pub metrics: Metrics,
    /// Width of item and query vectors.
    pub dim: usize,
    /// Slots for requests in flight ([`Limits::max_concurrent`]).
    pub inflight: std::sync::Arc<tokio::sync::Semaphore>,
}

/// A new item as posted.
pub struct NewItem {
    /// External item id.
    pub id: String,
    /// Title and other text (may be empty).
    pub text: String,
    /// The decoded image, if one was sent.
    pub image: Option<image::DynamicImage>,
}

/// What ingesting one item did.
#[derive(serde::Serialize, Debug, Clone, utoipa::ToSchema)]
pub struct Ingested {
    /// External item id.
    pub id: String,
    /// Its key in the store and index.
    pub key: u32,
    /// Version after this write (1 for a new item).
    pub version: u64,
    /// The fusion gate's value at the item's statistics (zero statistics for a new item).
    pub gate: f32,
    /// Whether text reached the encoder.
    pub has_text: bool,
    /// Whether an image reached the encoder.
    pub has_image: bool,
}

/// One recalled item.
#[derive(serde::Serialize, Debug, Clone, PartialEq, utoipa::ToSchema)]
pub struct Hit {
    /// External item id.
    pub id: String,
    /// Inner product with the query.
    pub score: f32,
}

/// What a recall request asks for: a user, recent items, or a raw query vector.
pub struct Query {
    /// A training user's id: recall with their query.
    pub user: Option<String>,
    /// Recent item ids: recall with a query built from them.
    pub items: Vec<String>,
    /// A raw query vector of width `dim`.
    pub vector: Option<Vec<f32>>,
    /// Items to return (1 ≤ k ≤ `Limits::max_k`).
    pub k: usize,
    /// Leave out the user's training items.
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
        let OpenedStore { records: store, index: own_index } = cfg.store.open(cfg.hnsw)?;
        if store.is_empty()? {
            store.put_many(catalogue_records(&model)?)?;
        }
        let dim = model.dim();
        let records = store.all()?;
        let mut row_key = vec![u32::MAX; model.catalogue.len()];
        for r in &records {
            if r.vector.len() != dim {
                return Err(Error::Invalid(format!(
                    "{}: item `{}` has a {}-d vector, the model {dim} (a store from another model?)",
                    store.describe(),
                    r.id,
                    r.vector.len()
                )));
            }
            if let Some(row) = r.model_row {
                row_key[row as usize] = r.key;
            }
        }
        let index = match own_index {
            Some(index) => index,
            None => Arc::new(LocalHnsw::build(dim, cfg.hnsw, &records)?),
        };
        let cfg_limits_concurrent = cfg.limits.max_concurrent.max(1);
        Ok(App {
            cfg,
            users: model.user_side(),
            encoder: model.encoder.clone(),
            model: Mutex::new(model),
            writes: Mutex::new(()),
            store,
            index,
            row_key,
            metrics: Metrics::default(),
            dim,
            inflight: std::sync::Arc::new(tokio::sync::Semaphore::new(cfg_limits_concurrent)),
        })
    }

    /// Embeds, stores (durably) and indexes a new item; re-posting an id replaces its content
    /// and keeps its statistics.
    pub fn ingest(&self, item: NewItem) -> Answer<Ingested> {
        if item.id.trim().is_empty() || item.id.len() > 256 {
            return Err(Refusal::Bad("item id must be 1–256 characters".into()));
        }
        let trained = |old: &Option<ItemRecord>| match old.as_ref().is_some_and(|o| o.model_row.is_some()) {
            true => Err(Refusal::Conflict(format!(
                "item `{}` is a trained catalogue item: its content cannot be replaced (that would drop its trained id row)",
                item.id
            ))),
            false => Ok(()),
        };
        // Trained items stay trained: refuse before the encoding, the slow part, which holds no lock.
        trained(&self.store.get(&item.id)?)?;
        let (row, codes, has_text, has_image) = self.encoder.content_row(&item.text, item.image.as_ref())?;
        let _writing = self.writing();
        let old = self.store.get(&item.id)?;
        trained(&old)?;
        let t = now();
        let (exposures, clicks, created_at) = old.as_ref().map_or((0, 0, t), |o| (o.exposures, o.clicks, o.created_at));
        let (vector, gate) = self.model().embed_new(&row, &codes, ServingModel::gate_features(exposures, clicks, created_at, t), None)?;
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
            // Re-posted content starts its learned row again: it was learned for other content.
            id_row: Vec::new(),
            id_state: Vec::new(),
            id_steps: 0,
            features: row,
            vector,
        };
        let rec = self.store.put(rec)?;
        self.index_record(&rec)?;
        Ok(Ingested { id: rec.id, key: rec.key, version: rec.version, gate, has_text, has_image })
    }

    fn index_record(&self, rec: &ItemRecord) -> Answer<()> {
        Ok(self.index.upsert(rec)?)
    }

    /// Adds exposures and clicks to an item, moves its gate and refreshes its vector.
    pub fn add_stats(&self, id: &str, exposures: u64, clicks: u64) -> Answer<ItemRecord> {
        let t = now();
        let _writing = self.writing();
        let r = self.store.get(id)?.ok_or_else(|| Refusal::NotFound(format!("unknown item `{id}`")))?;
        // Refused here with its own status; inside the update (which a store may run again on a
        // newer record when another server wrote the item meanwhile) the sums are redone.
        added_counts(&r, exposures, clicks)?;
        let rec = self.store.update(id, &mut |stored| {
            let (e, c) =
                added_counts(stored, exposures, clicks).map_err(|_| Error::Invalid(format!("item `{id}`: counts out of range")))?;
            (stored.vector, stored.gate) = self.model().refresh(stored, e, c, t)?;
            (stored.exposures, stored.clicks) = (e, c);
            Ok(())
        })?;
        let rec = rec.ok_or_else(|| Refusal::NotFound(format!("unknown item `{id}`")))?;
        self.index_record(&rec)?;
        Ok(rec)
    }

    /// The write lock (see [`App::writes`]); a panicked writer left no half-written state (the
    /// store's transaction did not commit), so a poisoned lock is taken as is.
    fn writing(&self) -> MutexGuard<'_, ()> {
        self.writes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Feedback events, in one durable transaction: every event adds an exposure (and a click)
    /// to its item; each click on a new item (one without a trained id row) by a training user is
    /// one step of the training's row optimiser on the item's own id row (the model's trained
    /// parameters never move); then the item's gate and vector are refreshed and re-indexed.
    pub fn events(&self, events: &[Event]) -> Answer<Vec<ItemRecord>> {
        let lim = &self.cfg.limits;
        if events.is_empty() || events.len() > lim.max_items_per_request {
            return Err(Refusal::Bad(format!("1–{} events in one request, got {}", lim.max_items_per_request, events.len())));
        }
        let t = now();
        let _writing = self.writing();
        // Resolve everything first: an unknown item or user writes nothing.
        let mut order: Vec<&str> = Vec::new();
        let mut by_item: HashMap<&str, Vec<(Option<u32>, bool)>> = HashMap::new();
        for ev in events {
            let user = match &ev.user {
                Some(u) => Some(self.users.row(u).ok_or_else(|| Refusal::NotFound(format!("unknown user `{u}`")))?),
                None => None,
            };
            let list = by_item.entry(ev.item.as_str()).or_default();
            if list.is_empty() {
                order.push(ev.item.as_str());
            }
            list.push((user, ev.clicked));
        }
        let mut updated = Vec::with_capacity(order.len());
        for &id in &order {
            updated.push(self.store.get(id)?.ok_or_else(|| Refusal::NotFound(format!("unknown item `{id}`")))?);
        }
        {
            let model = self.model();
            let learns = model.learns_new_rows();
            let now = t.max(model.t_end);
            for r in &mut updated {
                let evs = &by_item[r.id.as_str()];
                let clicks = evs.iter().filter(|e| e.1).count() as u64;
                let (e, c) = added_counts(r, evs.len() as u64, clicks)?;
                if r.model_row.is_none() && learns {
                    // Each click in order, the gate at the counts so far (as training sees an
                    // item's statistics as of each event).
                    let (mut e_so_far, mut c_so_far) = (r.exposures, r.clicks);
                    for &(user, clicked) in evs {
                        e_so_far += 1;
                        c_so_far += clicked as u64;
                        if let (true, Some(u)) = (clicked, user) {
                            let g = ServingModel::gate_features(e_so_far, c_so_far, r.created_at, now);
                            model.learn_click(&r.features, &r.codes, g, u, &mut r.id_row, &mut r.id_state, &mut r.id_steps)?;
                        }
                    }
                }
                let (v, gate) = model.refresh(r, e, c, now)?;
                (r.exposures, r.clicks, r.vector, r.gate) = (e, c, v, gate);
            }
        }
        let mut next = updated.into_iter();
        let recs = self.store.update_many(&order, &mut |stored| {
            let r = next.next().expect("one computed record per id, in order");
            (stored.exposures, stored.clicks, stored.vector, stored.gate) = (r.exposures, r.clicks, r.vector, r.gate);
            (stored.id_row, stored.id_state, stored.id_steps) = (r.id_row, r.id_state, r.id_steps);
            Ok(())
        })?;
        for r in &recs {
            self.index_record(r)?;
        }
        Ok(recs)
    }

    /// Top-`k` items for a query; limits crossed, unknown ids and bad vectors are refusals.
    pub fn recall(&self, q: Query) -> Answer<Vec<Hit>> {
        let lim = &self.cfg.limits;
        if q.k == 0 || q.k > lim.max_k {
            return Err(Refusal::Bad(format!("k must be 1–{}, got {}", lim.max_k, q.k)));
        }
        if q.items.len() > lim.max_items_per_request {
            return Err(Refusal::Bad(format!("{} items in one request, the limit is {}", q.items.len(), lim.max_items_per_request)));
        }
        let mut parts: Vec<Vec<f32>> = Vec::new();
        let mut exclude: Vec<u32> = Vec::new();
        if let Some(u) = &q.user {
            let ui = self.users.row(u).ok_or_else(|| Refusal::NotFound(format!("unknown user `{u}`")))?;
            parts.push(self.users.vectors.row(ui as usize).to_vec());
            if q.exclude_seen {
                exclude.extend(self.users.seen[ui as usize].iter().map(|&row| self.row_key[row as usize]));
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
            // Only the query tower needs the network (and its lock).
            parts.push(self.model().history_query(&rows)?);
        }
        if !new_items.is_empty() {
            // Items the query tower was not trained on stand for themselves: their fused vectors.
            let mut sum = vec![0f32; self.dim];
            new_items.iter().for_each(|v| sum.iter_mut().zip(normalised(v)).for_each(|(s, x)| *s += x));
            parts.push(sum);
        }
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
        exclude.dedup();
        Ok(self.index.search(&query, q.k, &exclude)?.into_iter().map(|n| Hit { id: n.id, score: n.score }).collect())
    }

    /// The model. Requests only read it (the lock is there because the network is not `Sync`),
    /// so a request that panicked while holding it left it intact: a poisoned lock is taken as is
    /// rather than failing every later request.
    pub fn model(&self) -> MutexGuard<'_, ServingModel> {
        self.model.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `(stored, indexed)` item counts.
    pub fn counts(&self) -> (usize, usize) {
        let stored = self.store.len().unwrap_or(0);
        let indexed = self.index.len().unwrap_or(0);
        (stored, indexed)
    }
}

/// The catalogue as the model left training, with the artifact's vectors: trained items keep their
/// id row; items without any training interaction are stored like new items (content row, no id
/// row), as evaluation treats them, so that later statistics updates re-embed them that way.
fn catalogue_records(model: &ServingModel) -> Result<Vec<ItemRecord>> {
    let content = model.net.content.as_ref().and_then(|c| c.features().map(|(f, w)| (f.to_vec(), w)));
    let n = model.catalogue.len();
    let rows: Vec<u32> = (0..n as u32).collect();
    let mut out = Vec::with_capacity(n);
    for chunk in rows.chunks(512) {
        let gates: Vec<f32> = chunk
            .iter()
            .flat_map(|&r| {
                let c = &model.catalogue[r as usize];
                ServingModel::gate_features(c.exposures, c.clicks, c.created_at, model.t_end)
            })
            .collect();
        let keep: Vec<f32> = chunk.iter().map(|&r| model.keep(r)).collect();
        let v = model.net.item_vectors(chunk, &gates, Some(&keep))?;
        for (k, &r) in chunk.iter().enumerate() {
            let c = &model.catalogue[r as usize];
            let trained = c.trained;
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
                id_row: Vec::new(),
                id_state: Vec::new(),
                id_steps: 0,
                features: match (&content, trained) {
                    (Some((f, w)), false) => f[r as usize * w..(r as usize + 1) * w].to_vec(),
                    _ => Vec::new(),
                },
                // As evaluated, bit for bit (the artifact's vectors), not recomputed.
                vector: model.catalogue_vectors.row(r as usize).to_vec(),
            });
        }
    }
    Ok(out)
}

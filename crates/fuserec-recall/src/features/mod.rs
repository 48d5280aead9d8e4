//! Item content features: every item's text and image encoded by the configured backbones, with
//! a per-item modality mask. A missing or corrupt image masks that item's image modality (counted
//! and reported); empty text masks its text modality. Masked rows are zero and flagged, never
//! passed off as features. With a [`FeatureStore`], rows are reused across runs by content hash.

mod keyed;
mod profiles;
mod registry;
mod store;

pub use keyed::{EmbeddingsReport, KeyedEmbeddings, align, ids_path, read_keyed, read_npy, write_npy};
pub use profiles::centroid_profiles;
pub use registry::{IMAGE_BACKBONES, TEXT_BACKBONES, image_encoder, text_encoder};
pub use store::{FeatureStore, StoredModality};

use fuserec_core::{Embeddings, Error, Result};
use fuserec_data::progress::bar;
use fuserec_data::{Dataset, ImageProblem, open_image};
use fuserec_encoders::{ImageEncoder, TextEncoder};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

/// How the catalogue's images fared when encoded.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ImageReport {
    /// Images decoded and encoded.
    pub decoded: usize,
    /// Items with no image path.
    pub no_image: usize,
    /// Image files that do not exist.
    pub missing: usize,
    /// Image files that do not decode.
    pub corrupt: usize,
    /// Up to ten problems, each naming the item and file.
    pub examples: Vec<String>,
}

/// How many rows the feature store supplied and how many were computed.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct CacheStats {
    /// Rows taken from the feature store (same backbone, weights and content).
    pub reused: usize,
    /// Rows computed in this run.
    pub encoded: usize,
}

/// One named modality (`text`, `image`, or any name a config gives, e.g. `clip`): every item's
/// row from one backbone, and which items have it.
pub struct Modality {
    /// The modality's name in `[features]`; also its feature-store slot.
    pub name: String,
    /// The backbone's description (name and settings).
    pub backbone: String,
    /// `items × dim`; zero rows where `mask` is false.
    pub rows: Embeddings,
    /// `mask[i]` = item `i` has this modality.
    pub mask: Vec<bool>,
    /// Feature-store reuse.
    pub cache: CacheStats,
    /// The catalogue mean subtracted from every row that has this modality (see
    /// [`ItemFeatures::centre`]); a new item's vector is prepared with the same mean.
    pub centre: Option<Vec<f32>>,
}

/// How content vectors are prepared before any content model reads them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preprocess {
    /// Raw encoder output (each model still L2-normalises per modality).
    None,
    /// Per modality, subtract the catalogue mean over the items having that modality. Pretrained
    /// encoders put every item in a narrow cone (all cosines high); centring spreads them, and the
    /// per-modality L2 normalisation that follows makes cosines discriminative.
    #[default]
    Centre,
}

/// Every item's content as the models read it: named modalities, tags, and a hash of it all.
pub struct ItemFeatures {
    /// The modalities in configuration order (`text`, `image`, then the others by name); at most
    /// one per name.
    pub modalities: Vec<Modality>,
    /// Image decoding problems of the (last) image-encoded modality.
    pub image_report: ImageReport,
    /// First 16 hex digits of SHA-256 over backbones, masks and values.
    pub hash: String,
    /// Per item: ids of its tags (categorical content: genres, topics) in `tag_names`.
    pub tags: Vec<Vec<u32>>,
    /// Tag vocabulary.
    pub tag_names: Vec<String>,
    /// How each `embeddings:<file>` slot met the catalogue.
    pub embeddings: Vec<EmbeddingsReport>,
}

/// Tag vocabulary in first-seen order and each item's tag ids (duplicates and blanks dropped).
fn tag_ids(ds: &Dataset) -> (Vec<Vec<u32>>, Vec<String>) {
    let mut names: Vec<String> = Vec::new();
    let mut index: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    let per_item = ds
        .items_meta
        .iter()
        .map(|m| {
            let mut ids: Vec<u32> = m
                .tags
                .iter()
                .map(|t| t.trim())
                .filter(|t| !t.is_empty())
                .map(|t| {
                    *index.entry(t.to_string()).or_insert_with(|| {
                        names.push(t.to_string());
                        names.len() as u32 - 1
                    })
                })
                .collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        })
        .collect();
    (per_item, names)
}

const CHUNK: usize = 256;

pub(crate) fn short_hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Which backbone fills each named modality, in order (`text`, `image`, then the others by
/// name). A backbone is a text encoder (`hashed-ngram`, `minilm`), an image encoder
/// (`color-hist`, `efficientnet-lite0`), `vectors:<file>` (rows in internal item order) or
/// `embeddings:<file>` (rows keyed by raw item id). `none` entries are left out.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FeatureSet(pub Vec<(String, String)>);

/// Where a backbone's rows come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackboneKind {
    /// A registered text encoder: new items are encoded from their text.
    Text,
    /// A registered image encoder: new items are encoded from their image.
    Image,
    /// `vectors:` / `embeddings:`: rows from a file; a new item has none (masked).
    Precomputed,
}

impl BackboneKind {
    /// The kind of a backbone name, or an error naming the modality and the known backbones.
    pub fn of(modality: &str, backbone: &str) -> Result<Self> {
        if backbone.starts_with("vectors:") || backbone.starts_with("embeddings:") {
            Ok(BackboneKind::Precomputed)
        } else if TEXT_BACKBONES.contains(&backbone) {
            Ok(BackboneKind::Text)
        } else if IMAGE_BACKBONES.contains(&backbone) {
            Ok(BackboneKind::Image)
        } else {
            Err(Error::Config(format!(
                "[features] {modality} = \"{backbone}\": unknown backbone (text: {}; image: {}; or vectors:<file>, embeddings:<file>, none)",
                TEXT_BACKBONES.join(", "),
                IMAGE_BACKBONES.join(", ")
            )))
        }
    }
}

impl FeatureSet {
    /// `text` and `image` first (when not `none`), then `extra` by name.
    pub fn new(text: &str, image: &str, extra: &std::collections::BTreeMap<String, String>) -> Self {
        let mut v: Vec<(String, String)> = Vec::new();
        for (n, b) in [("text", text), ("image", image)].into_iter().chain(extra.iter().map(|(n, b)| (n.as_str(), b.as_str()))) {
            if b != "none" {
                v.push((n.to_string(), b.to_string()));
            }
        }
        FeatureSet(v)
    }

    /// The backbone of modality `name`, if read.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, b)| b.as_str())
    }

    /// `text=minilm image=color-hist clip=embeddings:clip.parquet`.
    pub fn describe(&self) -> String {
        if self.0.is_empty() {
            return "none".into();
        }
        self.0.iter().map(|(n, b)| format!("{n}={b}")).collect::<Vec<_>>().join(" ")
    }
}

impl ItemFeatures {
    /// Encodes every item (no cache).
    pub fn encode(ds: &Dataset, text: Option<&dyn TextEncoder>, image: Option<&dyn ImageEncoder>) -> Result<Self> {
        Self::encode_with_store(ds, text, image, None)
    }

    /// Encodes what the store does not already hold for the same backbone, weights and item
    /// content, then updates the store. The modalities are named `text` and `image`.
    pub fn encode_with_store(
        ds: &Dataset,
        text: Option<&dyn TextEncoder>,
        image: Option<&dyn ImageEncoder>,
        store: Option<&FeatureStore>,
    ) -> Result<Self> {
        let mut f = Self::empty(ds);
        if let Some(enc) = text {
            f = f.with_text("text", ds, enc, store)?;
        }
        if let Some(enc) = image {
            f = f.with_image("image", ds, enc, store)?;
        }
        Ok(f)
    }

    /// No modality yet; the catalogue's tags.
    pub fn empty(ds: &Dataset) -> Self {
        let (tags, tag_names) = tag_ids(ds);
        ItemFeatures {
            modalities: Vec::new(),
            image_report: ImageReport::default(),
            hash: feature_hash(&[]),
            tags,
            tag_names,
            embeddings: Vec::new(),
        }
    }

    /// Features from ready modalities (tests, bindings); names must be distinct and every
    /// modality must have one row and one mask entry per item.
    pub fn from_modalities(ds: &Dataset, modalities: Vec<Modality>) -> Result<Self> {
        let mut f = Self::empty(ds);
        for m in modalities {
            if m.rows.rows() != ds.n_items() || m.mask.len() != ds.n_items() {
                return Err(Error::Shape(format!(
                    "modality {}: {} rows and {} mask entries for {} items",
                    m.name,
                    m.rows.rows(),
                    m.mask.len(),
                    ds.n_items()
                )));
            }
            f.set(m);
        }
        Ok(f)
    }

    /// Modality `name`, if present.
    pub fn get(&self, name: &str) -> Option<&Modality> {
        self.modalities.iter().find(|m| m.name == name)
    }

    /// The modality named `text`.
    pub fn text(&self) -> Option<&Modality> {
        self.get("text")
    }

    /// The modality named `image`.
    pub fn image(&self) -> Option<&Modality> {
        self.get("image")
    }

    /// Adds `m`, or replaces the modality of the same name (keeping its place).
    fn set(&mut self, m: Modality) {
        match self.modalities.iter_mut().find(|x| x.name == m.name) {
            Some(slot) => *slot = m,
            None => self.modalities.push(m),
        }
        self.hash = feature_hash(&self.modalities.iter().collect::<Vec<_>>());
    }

    /// Adds modality `name` encoded from every item's text by `enc` (through the store).
    pub fn with_text(mut self, name: &str, ds: &Dataset, enc: &dyn TextEncoder, store: Option<&FeatureStore>) -> Result<Self> {
        self.set(encode_text(ds, name, enc, store)?);
        Ok(self)
    }

    /// Adds modality `name` encoded from every item's image by `enc` (through the store); a
    /// missing or corrupt image masks the item (see [`ItemFeatures::image_report`]).
    pub fn with_image(mut self, name: &str, ds: &Dataset, enc: &dyn ImageEncoder, store: Option<&FeatureStore>) -> Result<Self> {
        let mut report = ImageReport::default();
        self.set(encode_images(ds, name, enc, store, &mut report)?);
        self.image_report = report;
        Ok(self)
    }

    /// Adds (or replaces) modality `slot` with precomputed item vectors from a backbone name
    /// `vectors:<path>`: a safetensors file with tensor `item_vectors` (items × dim, rows in the
    /// dataset's internal item order), as written by the SCL experiment or a two-tower
    /// checkpoint. Zero rows are masked. This is how learned representations are used "by name"
    /// by any content model.
    pub fn with_vectors(mut self, slot: &str, name: &str, n_items: usize) -> Result<Self> {
        let path = std::path::Path::new(
            name.strip_prefix("vectors:").ok_or_else(|| Error::Config(format!("`{name}` is not a vectors:<path> backbone")))?,
        );
        let ck = fuserec_nn::Checkpoint::load(path)?;
        let (shape, values) =
            ck.tensors.get("item_vectors").ok_or_else(|| Error::Invalid(format!("{}: no `item_vectors` tensor", path.display())))?;
        if shape.len() != 2 || shape[0] != n_items {
            return Err(Error::Shape(format!("{}: item_vectors is {shape:?}, the dataset has {n_items} items", path.display())));
        }
        let rows = Embeddings::from_vec(shape[0], shape[1], values.clone())?;
        check_finite(&rows, name)?;
        let mask = rows.iter_rows().map(|r| r.iter().any(|&x| x != 0.0)).collect();
        self.set(Modality { name: slot.to_string(), backbone: name.to_string(), rows, mask, cache: CacheStats::default(), centre: None });
        Ok(self)
    }

    /// Adds (or replaces) modality `slot` with precomputed embeddings keyed by raw item id,
    /// backbone name `embeddings:<path>` (formats and policy: `keyed`). The aligned rows are
    /// saved in the feature store (with the file's SHA-256 as its weights hash) so the store
    /// holds every modality an experiment read.
    pub fn with_embeddings(mut self, slot: &str, name: &str, ds: &Dataset, store: Option<&FeatureStore>) -> Result<Self> {
        let path = std::path::Path::new(
            name.strip_prefix("embeddings:").ok_or_else(|| Error::Config(format!("`{name}` is not an embeddings:<path> backbone")))?,
        );
        let k = read_keyed(path)?;
        let (rows, mask, report) = align(&k, ds, path)?;
        if let Some(store) = store {
            let keys: Vec<String> = mask.iter().map(|&m| if m { report.sha256.clone() } else { "none".into() }).collect();
            let problems: Vec<String> = mask.iter().map(|&m| if m { String::new() } else { "none".into() }).collect();
            store.save(ds, slot, name, Some(report.sha256.clone()), &rows, &mask, &keys, &problems)?;
        }
        self.set(Modality { name: slot.to_string(), backbone: name.to_string(), rows, mask, cache: CacheStats::default(), centre: None });
        self.embeddings.push(report);
        Ok(self)
    }

    /// Applies `p` in place; the feature hash changes with it, so cached results never mix.
    pub fn preprocess(&mut self, p: Preprocess) -> Result<()> {
        match p {
            Preprocess::None => Ok(()),
            Preprocess::Centre => self.centre(),
        }
    }

    /// Subtracts, per modality, the mean over the items that have it (masked rows stay zero).
    pub fn centre(&mut self) -> Result<()> {
        for m in self.modalities.iter_mut() {
            if m.centre.is_some() {
                continue;
            }
            let d = m.rows.dim();
            let mut mean = vec![0f64; d];
            let n = m.mask.iter().filter(|&&b| b).count();
            if n == 0 {
                continue;
            }
            for (r, _) in m.rows.iter_rows().zip(&m.mask).filter(|x| *x.1) {
                mean.iter_mut().zip(r).for_each(|(a, &b)| *a += b as f64);
            }
            let mean: Vec<f32> = mean.iter().map(|x| (x / n as f64) as f32).collect();
            for i in 0..m.rows.rows() {
                if m.mask[i] {
                    m.rows.row_mut(i).iter_mut().zip(&mean).for_each(|(x, c)| *x -= c);
                }
            }
            if let Some((i, j)) = m.rows.first_non_finite() {
                return Err(Error::Invalid(format!("centring {}: row {i} column {j} is not finite", m.backbone)));
            }
            m.backbone = format!("{}+centred", m.backbone);
            m.centre = Some(mean);
        }
        self.hash = feature_hash(&self.modalities.iter().collect::<Vec<_>>());
        Ok(())
    }

    /// Short description for model names, e.g. `text+image`.
    pub fn label(&self) -> String {
        if self.modalities.is_empty() {
            return "none".into();
        }
        self.modalities.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join("+")
    }

    /// [`ItemFeatures::fused_weighted`] with every modality at weight 1.
    pub fn fused(&self) -> Result<(Embeddings, Vec<bool>)> {
        self.fused_weighted(|_| 1.0)
    }

    /// Concatenation `[√w₁·m₁ ; √w₂·m₂ ; …]` of the L2-normalised modalities per item (a
    /// modality the item lacks is zero), then L2-normalised, so each item is renormalised over
    /// the modalities it has. `weight` maps a modality's name to its weight (finite, ≥ 0).
    /// Returns the matrix and whether each item has any content of positive weight.
    pub fn fused_weighted(&self, weight: impl Fn(&str) -> f32) -> Result<(Embeddings, Vec<bool>)> {
        let parts: Vec<(&Modality, f32)> = self.modalities.iter().map(|m| (m, weight(&m.name))).collect();
        if parts.is_empty() {
            return Err(Error::Config("no content modality configured".into()));
        }
        if let Some((m, w)) = parts.iter().find(|(_, w)| !(w.is_finite() && *w >= 0.0)) {
            return Err(Error::Config(format!("modality weights must be finite and ≥ 0, got {} = {w}", m.name)));
        }
        let mut scaled: Vec<Embeddings> = Vec::new();
        for (m, w) in &parts {
            let mut e = m.rows.clone();
            e.l2_normalize();
            e.as_mut_slice().iter_mut().for_each(|x| *x *= w.sqrt());
            scaled.push(e);
        }
        let mut fused = Embeddings::hconcat(&scaled.iter().collect::<Vec<_>>())?;
        fused.l2_normalize();
        let n = fused.rows();
        let has: Vec<bool> = (0..n).map(|i| parts.iter().any(|(m, w)| m.mask[i] && *w > 0.0)).collect();
        Ok((fused, has))
    }
}

/// Rows, mask and content keys for one modality, filled from the store where the key matches.
struct Assembly {
    rows: Embeddings,
    mask: Vec<bool>,
    keys: Vec<String>,
    problems: Vec<String>,
    todo: Vec<usize>,
    cache: CacheStats,
}

impl Assembly {
    fn new(ds: &Dataset, dim: usize, keys: Vec<String>, prev: Option<StoredModality>) -> Self {
        let n = ds.n_items();
        let mut a = Assembly {
            rows: Embeddings::zeros(n, dim),
            mask: vec![false; n],
            keys,
            problems: vec![String::new(); n],
            todo: Vec::new(),
            cache: CacheStats::default(),
        };
        for i in 0..n {
            match prev.as_ref().and_then(|p| p.lookup(ds.items.raw(i as u32), &a.keys[i])) {
                Some(j) => {
                    let p = prev.as_ref().expect("lookup hit");
                    a.rows.row_mut(i).copy_from_slice(p.rows.row(j));
                    a.mask[i] = p.manifest.mask[j];
                    a.problems[i] = p.manifest.problems[j].clone();
                    a.cache.reused += 1;
                }
                None => a.todo.push(i),
            }
        }
        a
    }
}

fn encode_text(ds: &Dataset, name: &str, enc: &dyn TextEncoder, store: Option<&FeatureStore>) -> Result<Modality> {
    let texts: Vec<String> = ds.items_meta.iter().map(|m| m.text()).collect();
    let keys = texts.iter().map(|t| short_hash(t.as_bytes())).collect();
    let prev = store.map(|s| s.load(ds, name, &enc.name(), enc.weights_sha256().as_deref(), enc.dim())).transpose()?.flatten();
    let mut a = Assembly::new(ds, enc.dim(), keys, prev);
    // Empty text is masked, not encoded: a [CLS][SEP]-only embedding is not a feature.
    let todo: Vec<usize> = a.todo.iter().copied().filter(|&i| !texts[i].trim().is_empty()).collect();
    let pb = bar(todo.len() as u64, "encoding text");
    for chunk in todo.chunks(CHUNK) {
        fuserec_core::cancel::check()?;
        let refs: Vec<&str> = chunk.iter().map(|&i| texts[i].as_str()).collect();
        let rows = enc.encode(&refs)?;
        check_finite(&rows, &enc.name())?;
        for (r, &i) in chunk.iter().enumerate() {
            a.rows.row_mut(i).copy_from_slice(rows.row(r));
            a.mask[i] = rows.row(r).iter().any(|&x| x != 0.0);
        }
        pb.inc(chunk.len() as u64);
    }
    pb.finish_and_clear();
    a.cache.encoded = a.todo.len();
    if let Some(s) = store {
        s.save(ds, name, &enc.name(), enc.weights_sha256(), &a.rows, &a.mask, &a.keys, &a.problems)?;
    }
    Ok(Modality { name: name.to_string(), backbone: enc.name(), rows: a.rows, mask: a.mask, cache: a.cache, centre: None })
}

/// What an item's image file holds right now: its bytes' hash, or why there is nothing.
fn image_key(path: Option<&std::path::Path>) -> (String, Option<Vec<u8>>) {
    match path {
        None => ("none".into(), None),
        Some(p) => match std::fs::read(p) {
            Ok(bytes) => (short_hash(&bytes), Some(bytes)),
            Err(_) => (format!("missing:{}", p.display()), None),
        },
    }
}

fn encode_images(
    ds: &Dataset,
    name: &str,
    enc: &dyn ImageEncoder,
    store: Option<&FeatureStore>,
    report: &mut ImageReport,
) -> Result<Modality> {
    let n = ds.n_items();
    let keys: Vec<String> = (0..n).into_par_iter().map(|i| image_key(ds.items_meta[i].image.as_deref()).0).collect();
    let prev = store.map(|s| s.load(ds, name, &enc.name(), enc.weights_sha256().as_deref(), enc.dim())).transpose()?.flatten();
    let mut a = Assembly::new(ds, enc.dim(), keys, prev);
    let pb = bar(a.todo.len() as u64, "encoding images");
    for chunk in a.todo.clone().chunks(CHUNK) {
        fuserec_core::cancel::check()?;
        let decoded: Vec<_> = chunk.par_iter().map(|&i| open_image(ds.items_meta[i].image.as_deref())).collect();
        let mut ok_idx = Vec::new();
        let mut imgs = Vec::new();
        for (&i, d) in chunk.iter().zip(decoded) {
            match d {
                Ok(img) => {
                    ok_idx.push(i);
                    imgs.push(img);
                }
                Err(p) => a.problems[i] = problem_code(&p),
            }
        }
        let rows = enc.encode(&imgs)?;
        check_finite(&rows, &enc.name())?;
        for (r, &i) in ok_idx.iter().enumerate() {
            a.rows.row_mut(i).copy_from_slice(rows.row(r));
            a.mask[i] = true;
        }
        pb.inc(chunk.len() as u64);
    }
    pb.finish_and_clear();
    a.cache.encoded = a.todo.len();
    for i in 0..n {
        let p = &a.problems[i];
        if a.mask[i] {
            report.decoded += 1;
        } else if p == "none" || p.is_empty() {
            report.no_image += 1;
        } else if p.starts_with("missing") {
            report.missing += 1;
        } else {
            report.corrupt += 1;
        }
        if !a.mask[i] && p != "none" && !p.is_empty() && report.examples.len() < 10 {
            report.examples.push(format!("item {}: {}", ds.items.raw(i as u32), p.split_once(':').map_or(p.as_str(), |x| x.1).trim()));
        }
    }
    if let Some(s) = store {
        s.save(ds, name, &enc.name(), enc.weights_sha256(), &a.rows, &a.mask, &a.keys, &a.problems)?;
    }
    Ok(Modality { name: name.to_string(), backbone: enc.name(), rows: a.rows, mask: a.mask, cache: a.cache, centre: None })
}

/// `none`, `missing: <msg>` or `corrupt: <msg>`: how a problem is stored and reported.
fn problem_code(p: &ImageProblem) -> String {
    match p {
        ImageProblem::NoPath => "none".into(),
        ImageProblem::Missing(_) => format!("missing: {p}"),
        ImageProblem::Corrupt(_) => format!("corrupt: {p}"),
    }
}

fn check_finite(e: &Embeddings, backbone: &str) -> Result<()> {
    match e.first_non_finite() {
        Some((r, c)) => Err(Error::Invalid(format!("{backbone} produced a non-finite value at row {r}, column {c}"))),
        None => Ok(()),
    }
}

fn feature_hash(mods: &[&Modality]) -> String {
    let mut h = Sha256::new();
    for m in mods {
        // The two-slot names keep their old hashes (cached results stay valid); other names
        // enter the hash.
        if m.name != "text" && m.name != "image" {
            h.update(m.name.as_bytes());
        }
        h.update(m.backbone.as_bytes());
        h.update(m.mask.iter().map(|&b| b as u8).collect::<Vec<_>>());
        for x in m.rows.as_slice() {
            h.update(x.to_le_bytes());
        }
    }
    h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod centre_tests {
    use super::*;

    #[test]
    fn centring_subtracts_the_mean_of_items_that_have_the_modality() {
        // Three items, 2-d text; item 1 has no text (zero row, masked).
        let rows = Embeddings::from_vec(3, 2, vec![1.0, 2.0, 0.0, 0.0, 3.0, 6.0]).unwrap();
        let m = Modality {
            name: "text".into(),
            backbone: "t".into(),
            rows,
            mask: vec![true, false, true],
            cache: CacheStats::default(),
            centre: None,
        };
        let mut f = ItemFeatures {
            modalities: vec![m],
            image_report: ImageReport::default(),
            hash: "before".into(),
            tags: vec![Vec::new(); 3],
            tag_names: Vec::new(),
            embeddings: Vec::new(),
        };
        f.preprocess(Preprocess::Centre).unwrap();
        let t = f.text().unwrap();
        // Mean over items 0 and 2 only: (2, 4).
        assert_eq!(t.centre.as_deref(), Some(&[2.0, 4.0][..]));
        assert_eq!(t.rows.as_slice(), &[-1.0, -2.0, 0.0, 0.0, 1.0, 2.0], "the masked row stays zero");
        assert!(t.backbone.ends_with("+centred"));
        assert_ne!(f.hash, "before");
        // Idempotent: a second call changes nothing.
        let (hash, rows) = (f.hash.clone(), t.rows.clone());
        f.preprocess(Preprocess::Centre).unwrap();
        assert_eq!((f.hash.clone(), f.text().unwrap().rows.as_slice()), (hash, rows.as_slice()));
        // `none` leaves features as encoded.
        let raw = Embeddings::from_vec(1, 2, vec![1.0, 2.0]).unwrap();
        let mut g = ItemFeatures {
            modalities: vec![Modality {
                name: "text".into(),
                backbone: "t".into(),
                rows: raw.clone(),
                mask: vec![true],
                cache: CacheStats::default(),
                centre: None,
            }],
            image_report: ImageReport::default(),
            hash: "h".into(),
            tags: vec![Vec::new()],
            tag_names: Vec::new(),
            embeddings: Vec::new(),
        };
        g.preprocess(Preprocess::None).unwrap();
        assert_eq!(g.text().unwrap().rows.as_slice(), raw.as_slice());
        assert_eq!(g.hash, "h");
    }
}

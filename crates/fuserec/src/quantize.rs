//! Quantising a feature-store entry into cluster codes ("virtual node ids") that towers embed
//! like IDs. Masked items (no feature) get `NO_CODE`. Outputs sit beside the entry:
//! `<entry>.quantizer-<method>.safetensors` (the fitted quantizer, for encoding new items) and
//! `<entry>.codes-<method>.safetensors` (tensor `codes`, items × levels, u32, in the entry's item
//! order) with `<entry>.codes-<method>.json` (item ids, code-space sizes, quality report).

use crate::features::StoredModality;
use fuserec_core::{Error, Result};
use fuserec_data::progress::spinner;
use fuserec_quant::{
    HierarchicalKMeans, KMeans, KMeansConfig, NO_CODE, QualityReport, Quantizer, ResidualConfig, ResidualKMeans, Saved, TreeConfig,
    quality, save,
};
use safetensors::Dtype;
use safetensors::tensor::TensorView;
use std::path::{Path, PathBuf};

/// Which quantizer `fuserec quantize` fits.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "method", rename_all = "kebab-case")]
pub enum QuantMethod {
    /// Flat k-means with `k` clusters.
    Kmeans {
        /// Clusters.
        k: usize,
    },
    /// Hierarchical k-means, `branching` per node, `depth` levels.
    Tree {
        /// Clusters per node.
        branching: usize,
        /// Levels.
        depth: usize,
    },
    /// Residual k-means, `levels` codebooks of `k`.
    Residual {
        /// Codebooks.
        levels: usize,
        /// Centroids per codebook.
        k: usize,
    },
}

impl QuantMethod {
    /// Short name for file names (`tree-b16-d3`).
    pub fn slug(&self) -> String {
        match self {
            QuantMethod::Kmeans { k } => format!("kmeans-k{k}"),
            QuantMethod::Tree { branching, depth } => format!("tree-b{branching}-d{depth}"),
            QuantMethod::Residual { levels, k } => format!("residual-l{levels}-k{k}"),
        }
    }
}

/// `codes.json` beside the codes: what was quantised, how, and how well.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CodesManifest {
    /// The feature-store entry quantised.
    pub source: String,
    /// The quantizer's name.
    pub quantizer: String,
    /// The method and its settings.
    pub method: QuantMethod,
    /// Fit seed.
    pub seed: u64,
    /// External item ids, in code order.
    pub items: Vec<String>,
    /// Code space size per level.
    pub codes_per_level: Vec<usize>,
    /// Masked items (no feature row), given `fuserec_quant::NO_CODE`.
    pub items_without_code: usize,
    /// Fit wall time.
    pub fit_seconds: f64,
    /// Quality per level.
    pub quality: QualityReport,
}

/// What `quantize_entry` wrote.
pub struct QuantizeOutcome {
    /// The codes (safetensors).
    pub codes_path: PathBuf,
    /// The manifest (JSON).
    pub manifest_path: PathBuf,
    /// The fitted quantizer.
    pub quantizer_path: PathBuf,
    /// The manifest's contents.
    pub manifest: CodesManifest,
}

/// Fits `method` on a feature-store entry's rows and writes codes, manifest and quantizer beside
/// it. An empty or malformed entry is an error naming it.
pub fn quantize_entry(entry: &Path, method: &QuantMethod, seed: u64, max_iter: usize) -> Result<QuantizeOutcome> {
    let stored = StoredModality::read(entry)?;
    let keep: Vec<u32> = (0..stored.manifest.items.len() as u32).filter(|&i| stored.manifest.mask[i as usize]).collect();
    if keep.is_empty() {
        return Err(Error::Invalid(format!("{}: no item has this feature (all masked)", entry.display())));
    }
    let d = stored.rows.dim();
    let mut data = Vec::with_capacity(keep.len() * d);
    keep.iter().for_each(|&i| data.extend_from_slice(stored.rows.row(i as usize)));
    let x = fuserec_core::Embeddings::from_vec(keep.len(), d, data)?;
    let spinner = spinner(&format!("fitting {} on {}×{d}", method.slug(), keep.len()));
    let t0 = std::time::Instant::now();
    let stem = entry.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let dir = entry.parent().unwrap_or(Path::new("."));
    let quantizer_path = dir.join(format!("{stem}.quantizer-{}.safetensors", method.slug()));
    let (q, codes): (Box<dyn Quantizer>, _) = match *method {
        QuantMethod::Kmeans { k } => {
            let km = KMeans::fit(&x, &KMeansConfig { max_iter, ..KMeansConfig::new(k, seed) })?;
            save(Saved::KMeans(&km), &quantizer_path)?;
            let codes = km.encode(&x)?;
            (Box::new(km), codes)
        }
        QuantMethod::Tree { branching, depth } => {
            let t = HierarchicalKMeans::fit(&x, &TreeConfig { branching, depth, seed, max_iter })?;
            save(Saved::Tree(&t), &quantizer_path)?;
            let codes = t.train_codes.clone();
            (Box::new(t), codes)
        }
        QuantMethod::Residual { levels, k } => {
            let r = ResidualKMeans::fit(&x, &ResidualConfig { levels, k, seed, max_iter })?;
            save(Saved::Residual(&r), &quantizer_path)?;
            let codes = r.train_codes.clone();
            (Box::new(r), codes)
        }
    };
    let fit_seconds = t0.elapsed().as_secs_f64();
    let report = quality(q.as_ref(), &x, &codes)?;
    spinner.finish_and_clear();
    // Scatter back to the entry's item order; masked items have no code.
    let n = stored.manifest.items.len();
    let levels = q.levels();
    let mut all = vec![NO_CODE; n * levels];
    for (r, &i) in keep.iter().enumerate() {
        all[i as usize * levels..(i as usize + 1) * levels].copy_from_slice(codes.path(r));
    }
    let bytes: Vec<u8> = all.iter().flat_map(|c| c.to_le_bytes()).collect();
    let view = TensorView::new(Dtype::U32, vec![n, levels], &bytes).map_err(|e| Error::Invalid(e.to_string()))?;
    let codes_path = dir.join(format!("{stem}.codes-{}.safetensors", method.slug()));
    let manifest_path = dir.join(format!("{stem}.codes-{}.json", method.slug()));
    let ser = safetensors::serialize([("codes", view)], None).map_err(|e| Error::Invalid(e.to_string()))?;
    std::fs::write(&codes_path, ser).map_err(|e| Error::io(&codes_path, e))?;
    let manifest = CodesManifest {
        source: entry.display().to_string(),
        quantizer: q.name(),
        method: method.clone(),
        seed,
        items: stored.manifest.items.clone(),
        codes_per_level: q.codes_per_level(),
        items_without_code: n - keep.len(),
        fit_seconds,
        quality: report,
    };
    std::fs::write(&manifest_path, serde_json::to_string_pretty(&manifest).map_err(|e| Error::Invalid(e.to_string()))?)
        .map_err(|e| Error::io(&manifest_path, e))?;
    Ok(QuantizeOutcome { codes_path, manifest_path, quantizer_path, manifest })
}

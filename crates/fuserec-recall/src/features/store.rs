//! On-disk feature store: one safetensors file (`features`, items × dim, f32) plus a JSON
//! manifest per dataset, modality and backbone, under `<cache>/features/`. A row is reused when
//! the backbone name, the weights' SHA-256 and the item's content hash all match; anything else is
//! re-encoded. Writes go to a temporary file renamed into place, so a crash never leaves a
//! half-written store.

use super::short_hash;
use fuserec_core::{Embeddings, Error, Result};
use fuserec_data::Dataset;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Bump when what goes into a row changes outside the encoders (text fields, image decoding).
pub const PIPELINE_VERSION: &str = "text=title+description+tags/v1;image=decode-rgb/v1";

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub modality: String,
    pub backbone: String,
    pub weights_sha256: Option<String>,
    pub pipeline: String,
    pub dim: usize,
    pub dataset: String,
    /// Raw item ids, in row order.
    pub items: Vec<String>,
    /// Content hash per item (text or image bytes; `none` / `missing:<path>` when absent).
    pub keys: Vec<String>,
    /// Whether the row is a real feature (false: masked, row is zero).
    pub mask: Vec<bool>,
    /// Why a row is masked (`none`, `missing: …`, `corrupt: …`), empty otherwise.
    pub problems: Vec<String>,
}

/// One modality's rows as stored.
pub struct StoredModality {
    /// What the rows were computed from.
    pub manifest: Manifest,
    /// The rows, in stored order.
    pub rows: Embeddings,
    index: HashMap<String, usize>,
}

impl StoredModality {
    /// Row of `item` if it was stored with the same content hash.
    pub fn lookup(&self, item: &str, key: &str) -> Option<usize> {
        let &j = self.index.get(item)?;
        (self.manifest.keys[j] == key).then_some(j)
    }
}

/// A folder of encoded rows per dataset and modality, reused while backbone, weights and item
/// content are unchanged.
pub struct FeatureStore {
    root: PathBuf,
}

fn slug(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}

impl FeatureStore {
    /// A store rooted at `root` (created on first save).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FeatureStore { root: root.into() }
    }

    /// `<root>/<dataset>-<hash of its folder>/<modality>-<backbone kind>.{safetensors,manifest.json}`
    pub fn paths(&self, ds: &Dataset, modality: &str, backbone: &str) -> (PathBuf, PathBuf) {
        let dir = self.root.join(format!("{}-{}", slug(&ds.name), short_hash(ds.root.to_string_lossy().as_bytes())));
        let kind = slug(backbone.split('(').next().unwrap_or(backbone));
        (dir.join(format!("{modality}-{kind}.safetensors")), dir.join(format!("{modality}-{kind}.manifest.json")))
    }

    /// The stored modality if it was made by the same backbone and weights; `None` otherwise
    /// (or if the files are unreadable, which is reported and then overwritten).
    pub fn load(
        &self,
        ds: &Dataset,
        modality: &str,
        backbone: &str,
        weights_sha256: Option<&str>,
        dim: usize,
    ) -> Result<Option<StoredModality>> {
        let (tensor_path, manifest_path) = self.paths(ds, modality, backbone);
        if !manifest_path.is_file() || !tensor_path.is_file() {
            return Ok(None);
        }
        match read(&tensor_path, &manifest_path) {
            Ok(s)
                if s.manifest.backbone == backbone
                    && s.manifest.weights_sha256.as_deref() == weights_sha256
                    && s.manifest.dim == dim
                    && s.manifest.pipeline == PIPELINE_VERSION =>
            {
                Ok(Some(s))
            }
            Ok(_) => {
                eprintln!("feature store: {} was made by another backbone, weights or pipeline — re-encoding", manifest_path.display());
                Ok(None)
            }
            Err(e) => {
                eprintln!("feature store: {e} — re-encoding");
                Ok(None)
            }
        }
    }

    /// Saves one modality's rows with their content keys (atomically: temp file renamed).
    #[allow(clippy::too_many_arguments)]
    pub fn save(
        &self,
        ds: &Dataset,
        modality: &str,
        backbone: &str,
        weights_sha256: Option<String>,
        rows: &Embeddings,
        mask: &[bool],
        keys: &[String],
        problems: &[String],
    ) -> Result<()> {
        let (tensor_path, manifest_path) = self.paths(ds, modality, backbone);
        let dir = tensor_path.parent().expect("store paths have a parent");
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let manifest = Manifest {
            modality: modality.into(),
            backbone: backbone.into(),
            weights_sha256,
            pipeline: PIPELINE_VERSION.into(),
            dim: rows.dim(),
            dataset: ds.name.clone(),
            items: ds.items.iter().map(|(_, r)| r.to_string()).collect(),
            keys: keys.to_vec(),
            mask: mask.to_vec(),
            problems: problems.to_vec(),
        };
        let bytes = fuserec_core::f32s_to_le(rows.as_slice());
        let view = TensorView::new(Dtype::F32, vec![rows.rows(), rows.dim()], &bytes)
            .map_err(|e| Error::Invalid(format!("feature tensor: {e}")))?;
        let data = safetensors::serialize([("features", view)], None).map_err(|e| Error::Invalid(format!("serialising features: {e}")))?;
        write_atomic(&tensor_path, &data)?;
        write_atomic(&manifest_path, serde_json::to_string(&manifest).map_err(|e| Error::Invalid(e.to_string()))?.as_bytes())
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// The manifest beside a store tensor file (`x.safetensors` → `x.manifest.json`).
pub fn manifest_path(tensor_path: &Path) -> PathBuf {
    tensor_path.with_extension("manifest.json")
}

impl StoredModality {
    /// Reads one store entry by its tensor file.
    pub fn read(tensor_path: &Path) -> Result<Self> {
        read(tensor_path, &manifest_path(tensor_path))
    }
}

fn read(tensor_path: &Path, manifest_path: &Path) -> Result<StoredModality> {
    let text = std::fs::read_to_string(manifest_path).map_err(|e| Error::io(manifest_path, e))?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| Error::Invalid(format!("{}: {e}", manifest_path.display())))?;
    let bytes = std::fs::read(tensor_path).map_err(|e| Error::io(tensor_path, e))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| Error::Invalid(format!("{}: {e}", tensor_path.display())))?;
    let t = st.tensor("features").map_err(|e| Error::Invalid(format!("{}: {e}", tensor_path.display())))?;
    let n = manifest.items.len();
    if t.dtype() != Dtype::F32
        || t.shape() != [n, manifest.dim]
        || manifest.keys.len() != n
        || manifest.mask.len() != n
        || manifest.problems.len() != n
    {
        return Err(Error::Invalid(format!(
            "{}: shape {:?} does not match its manifest ({n} items × {})",
            tensor_path.display(),
            t.shape(),
            manifest.dim
        )));
    }
    let v = fuserec_core::f32s_from_le(t.data());
    let rows = Embeddings::from_vec(n, manifest.dim, v)?;
    let index = manifest.items.iter().enumerate().map(|(i, r)| (r.clone(), i)).collect();
    Ok(StoredModality { manifest, rows, index })
}

//! Save/load: one safetensors file, tensors `level{ℓ}.centroids` (f32) and for trees
//! `level{ℓ}.parent` (u32), plus a JSON header in the metadata key `fuserec_quant`.

use crate::{HierarchicalKMeans, KMeans, Quantizer, ResidualKMeans, TreeLevel};
use fuserec_core::{Embeddings, Error, Result};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::path::Path;

#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    format: u32,
    method: String,
    name: String,
    levels: usize,
    dim: usize,
    branching: Option<usize>,
}

/// Anything `save` writes: the three quantizers.
pub enum Saved<'a> {
    /// A flat k-means (one level).
    KMeans(&'a KMeans),
    /// A hierarchical k-means tree.
    Tree(&'a HierarchicalKMeans),
    /// A residual k-means.
    Residual(&'a ResidualKMeans),
}

/// Writes a fitted quantizer to `path` as safetensors (centroids, tree links) with a JSON header
/// naming the method; [`load`] reads it back. Errors name the path.
pub fn save(q: Saved<'_>, path: &Path) -> Result<()> {
    let mut bufs: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    let (method, name, levels, dim, branching) = match q {
        Saved::KMeans(k) => {
            bufs.push(("level0.centroids".into(), Dtype::F32, vec![k.k(), k.dim()], fuserec_core::f32s_to_le(k.centroids.as_slice())));
            ("kmeans", k.name(), 1, k.dim(), None)
        }
        Saved::Residual(r) => {
            for (l, c) in r.codebooks.iter().enumerate() {
                bufs.push((format!("level{l}.centroids"), Dtype::F32, vec![c.rows(), c.dim()], fuserec_core::f32s_to_le(c.as_slice())));
            }
            ("residual", r.name(), r.levels(), r.dim(), None)
        }
        Saved::Tree(t) => {
            for (l, lv) in t.levels.iter().enumerate() {
                bufs.push((
                    format!("level{l}.centroids"),
                    Dtype::F32,
                    vec![lv.centroids.rows(), lv.centroids.dim()],
                    fuserec_core::f32s_to_le(lv.centroids.as_slice()),
                ));
                bufs.push((
                    format!("level{l}.parent"),
                    Dtype::U32,
                    vec![lv.parent.len()],
                    lv.parent.iter().flat_map(|x| x.to_le_bytes()).collect(),
                ));
            }
            ("tree", t.name(), t.depth, t.dim(), Some(t.branching))
        }
    };
    let header = Header { format: 1, method: method.into(), name, levels, dim, branching };
    let views: Vec<(String, TensorView<'_>)> = bufs
        .iter()
        .map(|(n, dt, shape, b)| Ok((n.clone(), TensorView::new(*dt, shape.clone(), b).map_err(|e| Error::Invalid(format!("{n}: {e}")))?)))
        .collect::<Result<_>>()?;
    let meta = HashMap::from([("fuserec_quant".to_string(), serde_json::to_string(&header).expect("header serialises"))]);
    let bytes = safetensors::serialize(views, Some(meta)).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

fn tensor_f32(st: &SafeTensors<'_>, path: &Path, name: &str, dim: usize) -> Result<Embeddings> {
    let t = st.tensor(name).map_err(|_| Error::Invalid(format!("{}: tensor `{name}` missing", path.display())))?;
    if t.dtype() != Dtype::F32 || t.shape().len() != 2 || t.shape()[1] != dim {
        return Err(Error::Invalid(format!("{}: `{name}` is {:?} {:?}, expected F32 [_, {dim}]", path.display(), t.dtype(), t.shape())));
    }
    let v = fuserec_core::f32s_from_le(t.data());
    Embeddings::from_vec(t.shape()[0], dim, v)
}

/// The header and the tensors of a file [`save`] wrote.
fn open(path: &Path) -> Result<(Header, Vec<u8>)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let (_, meta) =
        SafeTensors::read_metadata(&bytes).map_err(|e| Error::Invalid(format!("{}: not a safetensors file: {e}", path.display())))?;
    let header: Header = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get("fuserec_quant"))
        .ok_or_else(|| Error::Invalid(format!("{}: no fuserec_quant header", path.display())))
        .and_then(|h| serde_json::from_str(h).map_err(|e| Error::Invalid(format!("{}: header: {e}", path.display()))))?;
    Ok((header, bytes))
}

/// A hierarchical k-means tree [`save`] wrote (`Saved::Tree`), as its concrete type.
pub fn load_tree(path: &Path) -> Result<HierarchicalKMeans> {
    let (header, bytes) = open(path)?;
    if header.method != "tree" {
        return Err(Error::Invalid(format!("{}: a `{}` quantizer, expected a tree", path.display(), header.method)));
    }
    let st = SafeTensors::deserialize(&bytes).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
    tree_from(&st, path, &header)
}

fn tree_from(st: &SafeTensors<'_>, path: &Path, header: &Header) -> Result<HierarchicalKMeans> {
    let cb = |l: usize| tensor_f32(st, path, &format!("level{l}.centroids"), header.dim);
    let mut levels = Vec::new();
    for l in 0..header.levels {
        let name = format!("level{l}.parent");
        let t = st.tensor(&name).map_err(|_| Error::Invalid(format!("{}: tensor `{name}` missing", path.display())))?;
        if t.dtype() != Dtype::U32 {
            return Err(Error::Invalid(format!("{}: `{name}` is {:?}, expected U32", path.display(), t.dtype())));
        }
        let parent: Vec<u32> = t.data().chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        let centroids = cb(l)?;
        if centroids.rows() != parent.len() {
            return Err(Error::Invalid(format!(
                "{}: level {l} has {} centroids but {} parents",
                path.display(),
                centroids.rows(),
                parent.len()
            )));
        }
        let n = parent.len();
        levels.push(TreeLevel { centroids, parent, first_child: vec![0; n], n_children: vec![0; n] });
    }
    HierarchicalKMeans::from_levels(header.branching.unwrap_or(0), levels)
}

/// Reads any quantizer [`save`] wrote, behind the [`Quantizer`] trait. A missing file, a foreign
/// or truncated file, or tensors of the wrong shape are errors naming the path and tensor.
pub fn load(path: &Path) -> Result<Box<dyn Quantizer>> {
    let (header, bytes) = open(path)?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
    let cb = |l: usize| tensor_f32(&st, path, &format!("level{l}.centroids"), header.dim);
    Ok(match header.method.as_str() {
        "kmeans" => Box::new(KMeans { centroids: cb(0)?, labels: Vec::new(), objective: Vec::new() }),
        "residual" => Box::new(ResidualKMeans {
            codebooks: (0..header.levels).map(cb).collect::<Result<_>>()?,
            train_codes: crate::Codes::new(0, header.levels),
        }),
        "tree" => Box::new(tree_from(&st, path, &header)?),
        m => return Err(Error::Invalid(format!("{}: unknown method `{m}`", path.display()))),
    })
}

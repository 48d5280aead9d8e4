//! Named f32 tensors in one safetensors file, plus a JSON header for whatever the owner needs to
//! rebuild the model (its config). Written to a temporary file and renamed, so a crash never
//! leaves half a checkpoint under the real name.

use crate::{HasParams, ParamMut, SparseEmbedding};
use dfdx::prelude::*;
use fuserec_core::{Embeddings, Error, Result};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Named f32 tensors with their shapes plus a JSON header; saved as one safetensors file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Checkpoint {
    /// `name → (shape, row-major values)`.
    pub tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    /// Free-form JSON the model stores beside its tensors (e.g. its config).
    pub header: String,
}

impl Checkpoint {
    /// Adds every parameter of `m` under `prefix.` + its name.
    pub fn add_params(&mut self, prefix: &str, m: &mut dyn HasParams) {
        m.visit_params(prefix, &mut |name, p| {
            let (shape, v) = match p {
                ParamMut::Vector(t) => (vec![t.shape().0], t.as_vec()),
                ParamMut::Matrix(t) => (vec![t.shape().0, t.shape().1], t.as_vec()),
            };
            self.tensors.insert(name.to_string(), (shape, v));
        });
    }

    /// Adds a sparse table's rows as `table.<name>`.
    pub fn add_table(&mut self, e: &SparseEmbedding) {
        self.tensors.insert(format!("table.{}", e.name()), (vec![e.rows(), e.dim()], e.table().to_vec()));
    }

    fn take(&self, name: &str, shape: &[usize]) -> Result<&Vec<f32>> {
        let (s, v) = self.tensors.get(name).ok_or_else(|| Error::Invalid(format!("checkpoint has no tensor `{name}`")))?;
        if s != shape {
            return Err(Error::Shape(format!("checkpoint tensor `{name}` is {s:?}, the model expects {shape:?}")));
        }
        Ok(v)
    }

    /// Writes stored values into `m`'s parameters; every parameter must be present with its shape.
    pub fn restore_params(&self, prefix: &str, m: &mut dyn HasParams) -> Result<()> {
        let mut err = None;
        m.visit_params(prefix, &mut |name, p| {
            if err.is_some() {
                return;
            }
            let r = match p {
                ParamMut::Vector(t) => self.take(name, &[t.shape().0]).map(|v| t.copy_from(v)),
                ParamMut::Matrix(t) => self.take(name, &[t.shape().0, t.shape().1]).map(|v| t.copy_from(v)),
            };
            if let Err(e) = r {
                err = Some(e);
            }
        });
        err.map_or(Ok(()), Err)
    }

    /// Copies `table.<name>` back into `e`; an error when it is missing or of another shape.
    pub fn restore_table(&self, e: &mut SparseEmbedding) -> Result<()> {
        let v = self.take(&format!("table.{}", e.name()), &[e.rows(), e.dim()])?.clone();
        e.set_table(v)
    }

    /// Stores a row-major `rows × dim` matrix under `name`.
    pub fn put_embeddings(&mut self, name: &str, e: &Embeddings) {
        self.tensors.insert(name.to_string(), (vec![e.rows(), e.dim()], e.as_slice().to_vec()));
    }

    /// Stores a vector under `name`.
    pub fn put_vector(&mut self, name: &str, v: &[f32]) {
        self.tensors.insert(name.to_string(), (vec![v.len()], v.to_vec()));
    }

    /// Stores flags as a vector of 0 / 1.
    pub fn put_mask(&mut self, name: &str, m: &[bool]) {
        self.put_vector(name, &m.iter().map(|&b| b as u8 as f32).collect::<Vec<_>>());
    }

    /// Stores indices exactly (an f32 holds every integer below 2²⁴); larger ones are refused.
    pub fn put_indices(&mut self, name: &str, v: &[u32]) -> Result<()> {
        if let Some(&x) = v.iter().find(|&&x| x >= 1 << 24) {
            return Err(Error::Invalid(format!(
                "checkpoint tensor `{name}`: index {x} is beyond 2^24, which f32 storage cannot hold exactly"
            )));
        }
        self.put_vector(name, &v.iter().map(|&x| x as f32).collect::<Vec<_>>());
        Ok(())
    }

    /// The matrix stored under `name`.
    pub fn embeddings(&self, name: &str) -> Result<Embeddings> {
        let (s, v) = self.tensors.get(name).ok_or_else(|| Error::Invalid(format!("checkpoint has no tensor `{name}`")))?;
        match s.as_slice() {
            &[rows, dim] => Embeddings::from_vec(rows, dim, v.clone()),
            other => Err(Error::Shape(format!("checkpoint tensor `{name}` is {other:?}, expected a matrix"))),
        }
    }

    /// The vector stored under `name`, which must have `len` entries.
    pub fn vector(&self, name: &str, len: usize) -> Result<Vec<f32>> {
        self.take(name, &[len]).cloned()
    }

    /// The flags stored under `name` by [`Checkpoint::put_mask`].
    pub fn mask(&self, name: &str, len: usize) -> Result<Vec<bool>> {
        self.take(name, &[len])?
            .iter()
            .map(|&x| match x {
                0.0 => Ok(false),
                1.0 => Ok(true),
                other => Err(Error::Invalid(format!("checkpoint tensor `{name}` is a mask, holds {other}"))),
            })
            .collect()
    }

    /// The indices stored under `name` by [`Checkpoint::put_indices`], each below `bound`.
    pub fn indices(&self, name: &str, len: usize, bound: usize) -> Result<Vec<u32>> {
        self.take(name, &[len])?
            .iter()
            .map(|&x| {
                if x >= 0.0 && x.fract() == 0.0 && (x as usize) < bound {
                    Ok(x as u32)
                } else {
                    Err(Error::Invalid(format!("checkpoint tensor `{name}` holds {x}, not an index below {bound}")))
                }
            })
            .collect()
    }

    /// Length of the vector stored under `name`.
    pub fn len_of(&self, name: &str) -> Result<usize> {
        match self.tensors.get(name) {
            Some((s, _)) if s.len() == 1 => Ok(s[0]),
            Some((s, _)) => Err(Error::Shape(format!("checkpoint tensor `{name}` is {s:?}, expected a vector"))),
            None => Err(Error::Invalid(format!("checkpoint has no tensor `{name}`"))),
        }
    }

    /// Writes the checkpoint (temp file renamed into place, so a crash never leaves half a file).
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> =
            self.tensors.iter().map(|(n, (s, v))| (n.clone(), s.clone(), fuserec_core::f32s_to_le(v))).collect();
        let views: Vec<(String, TensorView<'_>)> = bytes
            .iter()
            .map(|(n, s, b)| Ok((n.clone(), TensorView::new(Dtype::F32, s.clone(), b).map_err(|e| Error::Invalid(format!("{n}: {e}")))?)))
            .collect::<Result<_>>()?;
        let meta = HashMap::from([("fuserec".to_string(), self.header.clone())]);
        let out = safetensors::serialize(views, Some(meta)).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, out).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    }

    /// Reads a checkpoint [`save`](Checkpoint::save) wrote; non-f32 tensors and foreign files are errors naming the path.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let (_, meta) =
            SafeTensors::read_metadata(&bytes).map_err(|e| Error::Invalid(format!("{}: not a safetensors file: {e}", path.display())))?;
        let header = meta.metadata().as_ref().and_then(|m| m.get("fuserec")).cloned().unwrap_or_default();
        let st = SafeTensors::deserialize(&bytes).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
        let mut tensors = BTreeMap::new();
        for (name, t) in st.tensors() {
            if t.dtype() != Dtype::F32 {
                return Err(Error::Invalid(format!("{}: tensor `{name}` is {:?}, expected F32", path.display(), t.dtype())));
            }
            let v = fuserec_core::f32s_from_le(t.data());
            if let Some(k) = v.iter().position(|x| !x.is_finite()) {
                return Err(Error::Invalid(format!("{}: tensor `{name}` has a non-finite value at {k}", path.display())));
            }
            tensors.insert(name, (t.shape().to_vec(), v));
        }
        Ok(Checkpoint { tensors, header })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Activation, Mlp, RowOptimizer, device};
    use fuserec_core::Rng;

    #[test]
    fn round_trip_and_shape_errors() {
        let dev = device(0);
        let mut rng = Rng::new(5);
        let mut a = Mlp::new(&dev, &[4, 8, 3], Activation::Relu, &mut rng).unwrap();
        let e = SparseEmbedding::new("items", 10, 3, 0.1, RowOptimizer::adam(0.1), &mut rng).unwrap();
        let mut ck = Checkpoint { header: "{\"v\":1}".into(), ..Default::default() };
        ck.add_params("user", &mut a);
        ck.add_table(&e);
        let dir = std::env::temp_dir().join(format!("fuserec-nn-ck-{}", std::process::id()));
        let path = dir.join("m.safetensors");
        ck.save(&path).unwrap();
        let back = Checkpoint::load(&path).unwrap();
        assert_eq!(back, ck);
        let mut b = Mlp::new(&dev, &[4, 8, 3], Activation::Relu, &mut Rng::new(99)).unwrap();
        back.restore_params("user", &mut b).unwrap();
        assert_eq!(b.layers[1].w.as_vec(), a.layers[1].w.as_vec());
        let mut e2 = SparseEmbedding::new("items", 10, 3, 0.1, RowOptimizer::adam(0.1), &mut Rng::new(1)).unwrap();
        back.restore_table(&mut e2).unwrap();
        assert_eq!(e2.table(), e.table());
        let mut wrong = Mlp::new(&dev, &[4, 9, 3], Activation::Relu, &mut rng).unwrap();
        let err = back.restore_params("user", &mut wrong).unwrap_err().to_string();
        assert!(err.contains("user.0.w") && err.contains("[4, 8]"), "{err}");
        std::fs::write(&path, b"garbage").unwrap();
        assert!(Checkpoint::load(&path).unwrap_err().to_string().contains("m.safetensors"));
        let _ = std::fs::remove_dir_all(dir);
    }
}

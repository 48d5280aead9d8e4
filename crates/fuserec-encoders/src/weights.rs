//! Pretrained weights from a safetensors file, checked by name, dtype and shape.

use fuserec_core::{Error, Result};
use safetensors::{Dtype, SafeTensors};
use std::path::{Path, PathBuf};

/// A safetensors file of pretrained weights, read once and checked on open.
pub struct Weights {
    path: PathBuf,
    bytes: Vec<u8>,
}

impl Weights {
    /// Reads `path`; a missing or non-safetensors file is an error naming it.
    pub fn open(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        SafeTensors::deserialize(&bytes).map_err(|e| Error::Invalid(format!("{}: not a safetensors file: {e}", path.display())))?;
        Ok(Weights { path: path.to_path_buf(), bytes })
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// SHA-256 of the file's bytes (recorded in feature manifests; a change invalidates them).
    pub fn sha256(&self) -> String {
        use sha2::{Digest, Sha256};
        Sha256::digest(&self.bytes).iter().map(|b| format!("{b:02x}")).collect()
    }

    fn tensors(&self) -> SafeTensors<'_> {
        SafeTensors::deserialize(&self.bytes).expect("validated in open")
    }

    /// Whether a tensor called `name` is in the file.
    pub fn contains(&self, name: &str) -> bool {
        self.tensors().tensor(name).is_ok()
    }

    /// The tensor `name` as f32 values in row-major order; its shape must equal `shape`.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let st = self.tensors();
        let t = st.tensor(name).map_err(|_| Error::Invalid(format!("{}: tensor `{name}` not found", self.path.display())))?;
        if t.dtype() != Dtype::F32 {
            return Err(Error::Invalid(format!("{}: tensor `{name}` is {:?}, expected F32", self.path.display(), t.dtype())));
        }
        if t.shape() != shape {
            return Err(Error::Shape(format!("{}: tensor `{name}` has shape {:?}, expected {shape:?}", self.path.display(), t.shape())));
        }
        let v = fuserec_core::f32s_from_le(t.data());
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(Error::Invalid(format!("{}: tensor `{name}` has a non-finite value at {i}", self.path.display())));
        }
        Ok(v)
    }

    /// Shape of `name`, if present.
    pub fn shape(&self, name: &str) -> Option<Vec<usize>> {
        self.tensors().tensor(name).ok().map(|t| t.shape().to_vec())
    }
}

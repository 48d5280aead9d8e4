//! Image folders (`<item_id>.<ext>`) and decoding that reports what went wrong instead of
//! panicking: callers turn a failure into a masked image modality.

use fuserec_core::{Error, Result};
use image::DynamicImage;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const IMAGE_EXTS: &[&str] = &["png", "jpg", "jpeg", "webp", "gif", "bmp"];

/// Maps file stem → path for every image file in `dir`; an absent folder is an empty map.
pub fn image_folder(dir: &Path) -> Result<HashMap<String, PathBuf>> {
    let mut out = HashMap::new();
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for entry in rd {
        let p = entry.map_err(|e| Error::io(dir, e))?.path();
        let ext = p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        if ext.is_some_and(|e| IMAGE_EXTS.contains(&e.as_str()))
            && let Some(stem) = p.file_stem().and_then(|s| s.to_str())
        {
            out.insert(stem.to_string(), p);
        }
    }
    Ok(out)
}

/// Why an item has no usable image.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum ImageProblem {
    /// The dataset names no image for the item.
    NoPath,
    /// The named file does not exist (its path).
    Missing(String),
    /// The file could not be decoded (path and decoder message).
    Corrupt(String),
}

impl std::fmt::Display for ImageProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImageProblem::NoPath => write!(f, "no image recorded"),
            ImageProblem::Missing(p) => write!(f, "{p}: file not found"),
            ImageProblem::Corrupt(m) => write!(f, "{m}"),
        }
    }
}

/// Decodes an image file; a missing file or undecodable bytes come back as an [`ImageProblem`]
/// naming the file.
pub fn open_image(path: Option<&Path>) -> std::result::Result<DynamicImage, ImageProblem> {
    let path = path.ok_or(ImageProblem::NoPath)?;
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ImageProblem::Missing(path.display().to_string()),
        _ => ImageProblem::Corrupt(format!("{}: {e}", path.display())),
    })?;
    decode_image(&bytes).map_err(|e| ImageProblem::Corrupt(format!("{}: {e}", path.display())))
}

/// An image from its encoded bytes (PNG, JPEG); a zero-sized image is refused.
pub fn decode_image(bytes: &[u8]) -> std::result::Result<DynamicImage, String> {
    let img = image::load_from_memory(bytes).map_err(|e| format!("cannot decode: {e}"))?;
    if img.width() == 0 || img.height() == 0 {
        return Err("zero-sized image".into());
    }
    Ok(img)
}

//! Backbones by config name: one line of a config swaps them.

use fuserec_core::{Error, Result};
use fuserec_data::assets::{self, MINILM};
use fuserec_encoders::{ColorGradientHistogram, EfficientNetLite0, HashedNgramText, ImageEncoder, MiniLm, TextEncoder};
use std::path::Path;

/// Text backbones a config may name.
pub const TEXT_BACKBONES: &[&str] = &["hashed-ngram", "minilm", "none"];
/// Image backbones a config may name.
pub const IMAGE_BACKBONES: &[&str] = &["color-hist", "efficientnet-lite0", "none"];

/// `cache` is where `cargo xtask assets` put MiniLM.
pub fn text_encoder(name: &str, cache: &Path) -> Result<Box<dyn TextEncoder>> {
    match name {
        "hashed-ngram" => Ok(Box::new(HashedNgramText::default())),
        "minilm" => {
            let dir = MINILM
                .locate(cache)
                .ok_or_else(|| Error::MissingAsset(format!("all-MiniLM-L6-v2 not in {} — run `cargo xtask assets`", cache.display())))?;
            Ok(Box::new(MiniLm::load(&dir)?))
        }
        _ => Err(Error::Config(format!("unknown text backbone `{name}` (known: {})", TEXT_BACKBONES.join(", ")))),
    }
}

/// EfficientNet weights come from the shared assets folder (`FUSEREC_ASSETS_DIR`).
pub fn image_encoder(name: &str) -> Result<Box<dyn ImageEncoder>> {
    match name {
        "color-hist" => Ok(Box::new(ColorGradientHistogram::default())),
        "efficientnet-lite0" => {
            let p = assets::shared_assets_dir()
                .map(|d| d.join("efficientnet-lite0/efficientnet_lite0.safetensors"))
                .filter(|p| p.is_file())
                .ok_or_else(|| {
                    Error::MissingAsset(
                        "efficientnet-lite0/efficientnet_lite0.safetensors not found: set FUSEREC_ASSETS_DIR to the shared assets folder"
                            .into(),
                    )
                })?;
            Ok(Box::new(EfficientNetLite0::load(&p)?))
        }
        _ => Err(Error::Config(format!("unknown image backbone `{name}` (known: {})", IMAGE_BACKBONES.join(", ")))),
    }
}

//! Item content features: every item's text and image encoded by the configured backbones, with
//! a per-item modality mask. A missing or corrupt image masks that item's image modality (counted
//! and reported); empty text masks its text modality. Masked rows are zero and flagged, never
//! passed off as features.

use fuserec_data::progress::bar;
use fuserec_core::{Embeddings, Error, Result};
use fuserec_data::{open_image, Dataset, ImageProblem};
use fuserec_encoders::{ColorGradientHistogram, HashedNgramText, ImageEncoder, TextEncoder};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

/// Text backbones by config name.
pub fn text_encoder(name: &str) -> Result<Box<dyn TextEncoder>> {
    match name {
        "hashed-ngram" => Ok(Box::new(HashedNgramText::default())),
        _ => Err(Error::Config(format!("unknown text backbone `{name}` (known: hashed-ngram, none)"))),
    }
}

/// Image backbones by config name.
pub fn image_encoder(name: &str) -> Result<Box<dyn ImageEncoder>> {
    match name {
        "color-hist" => Ok(Box::new(ColorGradientHistogram::default())),
        _ => Err(Error::Config(format!("unknown image backbone `{name}` (known: color-hist, none)"))),
    }
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ImageReport {
    pub decoded: usize,
    pub no_image: usize,
    pub missing: usize,
    pub corrupt: usize,
    /// Up to ten problems, each naming the item and file.
    pub examples: Vec<String>,
}

pub struct Modality {
    pub backbone: String,
    pub rows: Embeddings,
    /// `mask[i]` = item `i` has this modality.
    pub mask: Vec<bool>,
}

pub struct ItemFeatures {
    pub text: Option<Modality>,
    pub image: Option<Modality>,
    pub image_report: ImageReport,
    /// First 16 hex digits of SHA-256 over backbones, masks and values.
    pub hash: String,
}

const CHUNK: usize = 256;

impl ItemFeatures {
    pub fn encode(ds: &Dataset, text: Option<&dyn TextEncoder>, image: Option<&dyn ImageEncoder>) -> Result<Self> {
        let n = ds.n_items();
        let text = text
            .map(|enc| -> Result<Modality> {
                let texts: Vec<String> = ds.items_meta.iter().map(|m| m.text()).collect();
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                let mut rows = enc.encode(&refs)?;
                check_finite(&rows, &enc.name())?;
                let mask: Vec<bool> = rows.iter_rows().map(|r| r.iter().any(|&x| x != 0.0)).collect();
                zero_masked(&mut rows, &mask);
                Ok(Modality { backbone: enc.name(), rows, mask })
            })
            .transpose()?;
        let mut report = ImageReport::default();
        let image = image
            .map(|enc| -> Result<Modality> {
                let mut rows = Embeddings::zeros(n, enc.dim());
                let mut mask = vec![false; n];
                let pb = bar(n as u64, "encoding images");
                for start in (0..n).step_by(CHUNK) {
                    let end = (start + CHUNK).min(n);
                    let decoded: Vec<_> = (start..end).into_par_iter().map(|i| open_image(ds.items_meta[i].image.as_deref())).collect();
                    let mut ok_idx = Vec::new();
                    let mut imgs = Vec::new();
                    for (off, d) in decoded.into_iter().enumerate() {
                        let i = start + off;
                        match d {
                            Ok(img) => {
                                ok_idx.push(i);
                                imgs.push(img);
                            }
                            Err(p) => {
                                match &p {
                                    ImageProblem::NoPath => report.no_image += 1,
                                    ImageProblem::Missing(_) => report.missing += 1,
                                    ImageProblem::Corrupt(_) => report.corrupt += 1,
                                }
                                if !matches!(p, ImageProblem::NoPath) && report.examples.len() < 10 {
                                    report.examples.push(format!("item {}: {p}", ds.items.raw(i as u32)));
                                }
                            }
                        }
                    }
                    let enc_rows = enc.encode(&imgs)?;
                    check_finite(&enc_rows, &enc.name())?;
                    for (r, &i) in ok_idx.iter().enumerate() {
                        rows.row_mut(i).copy_from_slice(enc_rows.row(r));
                        mask[i] = true;
                    }
                    report.decoded += ok_idx.len();
                    pb.inc((end - start) as u64);
                }
                pb.finish_and_clear();
                Ok(Modality { backbone: enc.name(), rows, mask })
            })
            .transpose()?;
        let hash = feature_hash(&[&text, &image]);
        Ok(ItemFeatures { text, image, image_report: report, hash })
    }

    /// Short description for model names, e.g. `text+image`.
    pub fn label(&self) -> String {
        match (&self.text, &self.image) {
            (Some(_), Some(_)) => "text+image".into(),
            (Some(_), None) => "text".into(),
            (None, Some(_)) => "image".into(),
            (None, None) => "none".into(),
        }
    }

    /// Concatenation `[√w_t·text ; √w_i·image]` per item, using only the modalities it has, then
    /// L2-normalised. Returns the matrix and whether each item has any content.
    pub fn fused(&self, text_weight: f32, image_weight: f32) -> Result<(Embeddings, Vec<bool>)> {
        let parts: Vec<(&Modality, f32)> =
            [(self.text.as_ref(), text_weight), (self.image.as_ref(), image_weight)].into_iter().filter_map(|(m, w)| m.map(|m| (m, w))).collect();
        if parts.is_empty() {
            return Err(Error::Config("no content modality configured".into()));
        }
        if parts.iter().any(|(_, w)| !(w.is_finite() && *w >= 0.0)) {
            return Err(Error::Config(format!("modality weights must be finite and ≥ 0, got text {text_weight}, image {image_weight}")));
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

fn check_finite(e: &Embeddings, backbone: &str) -> Result<()> {
    match e.first_non_finite() {
        Some((r, c)) => Err(Error::Invalid(format!("{backbone} produced a non-finite value at row {r}, column {c}"))),
        None => Ok(()),
    }
}

fn zero_masked(e: &mut Embeddings, mask: &[bool]) {
    for (i, &m) in mask.iter().enumerate() {
        if !m {
            e.row_mut(i).fill(0.0);
        }
    }
}

fn feature_hash(mods: &[&Option<Modality>]) -> String {
    let mut h = Sha256::new();
    for m in mods.iter().copied().flatten() {
        h.update(m.backbone.as_bytes());
        h.update(m.mask.iter().map(|&b| b as u8).collect::<Vec<_>>());
        for x in m.rows.as_slice() {
            h.update(x.to_le_bytes());
        }
    }
    h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
}

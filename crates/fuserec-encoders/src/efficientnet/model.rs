use super::kernels::{depthwise, im2col, pointwise, relu6};
use super::preprocess::{CROP, preprocess};
use crate::ImageEncoder;
use crate::weights::Weights;
use fuserec_core::{Embeddings, Error, Result};
use image::DynamicImage;
use rayon::prelude::*;
use std::cell::RefCell;
use std::path::Path;

const BN_EPS: f32 = 1e-3;
pub const FEATURE_DIM: usize = 1280;
pub const CLASSES: usize = 1000;

/// `(repeats, kernel, stride, expand, in, out)` per stage.
const STAGES: [(usize, usize, usize, usize, usize, usize); 7] = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
];

/// A convolution with batch norm folded in, weights transposed for channels-last inputs:
/// `w[(cin·k·k) × cout]` (a depthwise convolution: `w[(k·k) × channels]`), `b[cout]`.
struct Conv {
    w: Vec<f32>,
    b: Vec<f32>,
    cin: usize,
    cout: usize,
}

fn conv_bn(wts: &Weights, conv: &str, bn: &str, cout: usize, cin_per_group: usize, k: usize) -> Result<Conv> {
    let mut w = wts.get(&format!("{conv}.weight"), &[cout, cin_per_group, k, k])?;
    let gamma = wts.get(&format!("{bn}.weight"), &[cout])?;
    let beta = wts.get(&format!("{bn}.bias"), &[cout])?;
    let mean = wts.get(&format!("{bn}.running_mean"), &[cout])?;
    let var = wts.get(&format!("{bn}.running_var"), &[cout])?;
    let per = cin_per_group * k * k;
    let mut b = vec![0f32; cout];
    for o in 0..cout {
        let scale = gamma[o] / (var[o] + BN_EPS).sqrt();
        w[o * per..(o + 1) * per].iter_mut().for_each(|x| *x *= scale);
        b[o] = beta[o] - mean[o] * scale;
    }
    let mut w_t = vec![0f32; w.len()];
    for o in 0..cout {
        for p in 0..per {
            w_t[p * cout + o] = w[o * per + p];
        }
    }
    Ok(Conv { w: w_t, b, cin: cin_per_group, cout })
}

struct Block {
    expand: Option<Conv>,
    dw: Conv,
    k: usize,
    stride: usize,
    project: Conv,
    residual: bool,
}

/// Pooled 1280-d feature and the 1000 ImageNet logits of one image.
pub struct Lite0Output {
    /// The 1280 channels after global average pooling: the image feature.
    pub pooled: Vec<f32>,
    /// The 1000 ImageNet class logits (for parity checks against the reference model).
    pub logits: Vec<f32>,
}

/// EfficientNet-Lite0 (ImageNet-pretrained, from a safetensors file) as an [`ImageEncoder`](crate::ImageEncoder):
/// resize to 256, centre crop 224, then the pooled 1280-d feature (not normalised: models normalise per modality).
pub struct EfficientNetLite0 {
    stem: Conv,
    blocks: Vec<Block>,
    head: Conv,
    fc_w: Vec<f32>,
    fc_b: Vec<f32>,
    weights_label: String,
    sha256: String,
}

/// Per-thread scratch buffers, reused across images.
#[derive(Default)]
struct Scratch {
    a: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
    col: Vec<f32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

fn grow(v: &mut Vec<f32>, n: usize) {
    if v.len() < n {
        v.resize(n, 0.0);
    }
}

impl EfficientNetLite0 {
    /// Loads the weights from `path`; a missing tensor or one of the wrong shape is an error naming it.
    pub fn load(path: &Path) -> Result<Self> {
        let w = Weights::open(path)?;
        let stem = conv_bn(&w, "_conv_stem", "_bn0", 32, 3, 3)?;
        let mut blocks = Vec::new();
        for &(repeats, k, stride, expand, cin, cout) in &STAGES {
            for r in 0..repeats {
                let i = blocks.len();
                let (cin, stride) = if r == 0 { (cin, stride) } else { (cout, 1) };
                let mid = cin * expand;
                let p = format!("_blocks.{i}");
                let expand =
                    if expand != 1 { Some(conv_bn(&w, &format!("{p}._expand_conv"), &format!("{p}._bn0"), mid, cin, 1)?) } else { None };
                let dw = conv_bn(&w, &format!("{p}._depthwise_conv"), &format!("{p}._bn1"), mid, 1, k)?;
                let project = conv_bn(&w, &format!("{p}._project_conv"), &format!("{p}._bn2"), cout, mid, 1)?;
                blocks.push(Block { expand, dw, k, stride, project, residual: stride == 1 && cin == cout });
            }
        }
        if w.contains(&format!("_blocks.{}._depthwise_conv.weight", blocks.len())) {
            return Err(Error::Invalid(format!("{}: more blocks than EfficientNet-Lite0 has ({})", path.display(), blocks.len())));
        }
        let head = conv_bn(&w, "_conv_head", "_bn1", FEATURE_DIM, 320, 1)?;
        let fc_w = w.get("_fc.weight", &[CLASSES, FEATURE_DIM])?;
        let fc_b = w.get("_fc.bias", &[CLASSES])?;
        let weights_label = path.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let sha256 = w.sha256();
        Ok(EfficientNetLite0 { stem, blocks, head, fc_w, fc_b, weights_label, sha256 })
    }

    /// Runs one preprocessed CHW 3×224×224 image.
    pub fn forward(&self, input: &[f32], with_logits: bool) -> Result<Lite0Output> {
        let side = CROP as usize;
        if input.len() != 3 * side * side {
            return Err(Error::Shape(format!("EfficientNet input has {} values, expected 3×{side}×{side}", input.len())));
        }
        SCRATCH.with(|s| {
            let s = &mut *s.borrow_mut();
            let (mut h, mut w) = (side, side);
            // Stem: im2col (one row per output pixel) + one product: channels last from here on.
            let (ho, wo) = im2col(input, 3, h, w, 3, 2, &mut s.col);
            grow(&mut s.a, ho * wo * self.stem.cout);
            pointwise(&self.stem.w, &self.stem.b, 27, self.stem.cout, &s.col, ho * wo, &mut s.a);
            relu6(&mut s.a[..ho * wo * self.stem.cout]);
            (h, w) = (ho, wo);
            let mut c = self.stem.cout;
            // Invariant: the current activation (h × w × c) lives in `s.a`.
            for blk in &self.blocks {
                let hw = h * w;
                let mid_src: &[f32] = if let Some(e) = &blk.expand {
                    grow(&mut s.b, hw * e.cout);
                    pointwise(&e.w, &e.b, e.cin, e.cout, &s.a, hw, &mut s.b);
                    relu6(&mut s.b[..hw * e.cout]);
                    &s.b
                } else {
                    &s.a
                };
                let mid = blk.dw.cout;
                let (ho, wo) = (h.div_ceil(blk.stride), w.div_ceil(blk.stride));
                grow(&mut s.c, ho * wo * mid);
                depthwise(&blk.dw.w, &blk.dw.b, mid, blk.k, blk.stride, &mid_src[..hw * mid], h, w, &mut s.c[..ho * wo * mid]);
                relu6(&mut s.c[..ho * wo * mid]);
                let p = &blk.project;
                grow(&mut s.b, ho * wo * p.cout);
                pointwise(&p.w, &p.b, p.cin, p.cout, &s.c, ho * wo, &mut s.b);
                if blk.residual {
                    s.b[..ho * wo * p.cout].iter_mut().zip(&s.a[..hw * c]).for_each(|(o, i)| *o += i);
                }
                std::mem::swap(&mut s.a, &mut s.b);
                (h, w, c) = (ho, wo, p.cout);
            }
            let hw = h * w;
            grow(&mut s.b, hw * FEATURE_DIM);
            pointwise(&self.head.w, &self.head.b, c, FEATURE_DIM, &s.a, hw, &mut s.b);
            relu6(&mut s.b[..hw * FEATURE_DIM]);
            let mut pooled = vec![0f32; FEATURE_DIM];
            for row in s.b[..hw * FEATURE_DIM].chunks_exact(FEATURE_DIM) {
                pooled.iter_mut().zip(row).for_each(|(p, v)| *p += v);
            }
            pooled.iter_mut().for_each(|p| *p /= hw as f32);
            let logits = if with_logits {
                (0..CLASSES)
                    .map(|o| self.fc_b[o] + fuserec_core::dot(&self.fc_w[o * FEATURE_DIM..(o + 1) * FEATURE_DIM], &pooled))
                    .collect()
            } else {
                Vec::new()
            };
            Ok(Lite0Output { pooled, logits })
        })
    }

    /// Runs a batch of preprocessed CHW inputs in parallel (one image per task; buffers are
    /// per thread and reused).
    pub fn forward_batch(&self, inputs: &[Vec<f32>], with_logits: bool) -> Result<Vec<Lite0Output>> {
        inputs.par_iter().map(|x| self.forward(x, with_logits)).collect()
    }

    /// Preprocesses and runs a batch in parallel (one image per task).
    pub fn forward_images(&self, images: &[DynamicImage], with_logits: bool) -> Result<Vec<Lite0Output>> {
        images.par_iter().map(|img| self.forward(&preprocess(img), with_logits)).collect()
    }
}

impl ImageEncoder for EfficientNetLite0 {
    fn name(&self) -> String {
        format!("efficientnet-lite0({};sha={};pre=v1-256bicubic-crop224)", self.weights_label, &self.sha256[..12])
    }
    fn weights_sha256(&self) -> Option<String> {
        Some(self.sha256.clone())
    }
    fn dim(&self) -> usize {
        FEATURE_DIM
    }
    fn encode(&self, images: &[DynamicImage]) -> Result<Embeddings> {
        let outs = self.forward_images(images, false)?;
        Embeddings::from_vec(outs.len(), FEATURE_DIM, outs.into_iter().flat_map(|o| o.pooled).collect())
    }
}

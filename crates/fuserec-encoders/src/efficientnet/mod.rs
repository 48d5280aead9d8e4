//! EfficientNet-Lite0 (ImageNet), inference only, on our own convolution kernels: 1×1
//! convolutions as sgemm, depthwise k×k as a direct kernel, the stem through im2col. Batch norm is
//! folded into the convolution weights at load. Weights: lukemelas key names in safetensors.

mod kernels;
mod model;
mod preprocess;

pub use model::{EfficientNetLite0, Lite0Output};
pub use preprocess::{CROP, RESIZE, preprocess};

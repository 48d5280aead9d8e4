//! EfficientNet-Lite0 (ImageNet), inference only, on our own convolution kernels over
//! channels-last activations: 1×1 convolutions as one product each (fuserec-gemm), depthwise k×k
//! as a direct kernel along the channels, the stem through im2col. Batch norm is
//! folded into the convolution weights at load. Weights: lukemelas key names in safetensors.

mod kernels;
mod model;
mod preprocess;

pub use model::{EfficientNetLite0, Lite0Output};
pub use preprocess::{CROP, RESIZE, preprocess};

//! Building blocks for models trained on the CPU with dfdx:
//!
//! - [`Dense`] / [`Mlp`]: layers whose widths come from config (runtime shapes), and
//!   [`DenseAdam`], an optimiser for them (dfdx's own optimisers assume const shapes);
//! - [`SparseEmbedding`]: an id table kept *outside* the autodiff graph. A batch's rows are gathered
//!   into a leaf tensor; after backward only the touched rows are updated (row-wise Adam or
//!   Adagrad), so a step costs the same for 10k or 1M rows;
//! - [`Checkpoint`]: named f32 tensors in one safetensors file;
//! - [`softmax_xent_diagonal`]: the softmax cross-entropy of sampled-softmax and InfoNCE losses as
//!   one op (one pass per row, rows in parallel).
//!
//! Invariant: nothing here reads data files or knows about items and users beyond row ids.

mod checkpoint;
mod dense;
mod fastmath;
mod loss;
mod ops;
mod optim;
mod sparse;

pub use checkpoint::Checkpoint;
pub use dense::{Activation, Dense, HasParams, Mlp, ParamMut};
pub use ops::{fork, l2_normalize_rows, leaf, row_dot, to_vec};
pub use loss::{softmax_xent_diagonal, V0};
pub use optim::{AdamConfig, DenseAdam};
pub use sparse::{RowOptimizer, SparseEmbedding};

pub use dfdx;

pub type Dev = dfdx::tensor::Cpu;
/// A vector parameter (biases, gate weights).
pub type T1 = dfdx::tensor::Tensor<(usize,), f32, Dev>;
/// A matrix parameter or a batch of rows.
pub type T2 = dfdx::tensor::Tensor<(usize, usize), f32, Dev>;
/// The taped versions: values that gradients flow back through.
pub type Tape = dfdx::tensor::OwnedTape<f32, Dev>;
pub type V1 = dfdx::tensor::Tensor<(usize,), f32, Dev, Tape>;
pub type V2 = dfdx::tensor::Tensor<(usize, usize), f32, Dev, Tape>;
pub type Grads = dfdx::tensor::Gradients<f32, Dev>;

/// The one CPU device; seeded so parameter-free randomness in dfdx (none used today) is stable.
pub fn device(seed: u64) -> Dev {
    use dfdx::tensor::Cpu;
    Cpu::seed_from_u64(seed)
}

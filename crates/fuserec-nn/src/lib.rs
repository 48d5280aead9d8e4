#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod checkpoint;
mod dense;
mod linear;
mod loss;
mod ops;
mod optim;
mod sparse;

pub use checkpoint::Checkpoint;
pub use dense::{Activation, Dense, HasParams, Mlp, ParamMut, glorot};
pub use linear::linear;
pub use loss::{V0, dot_softmax_xent};
pub use ops::{fork, l2_normalize_rows, leaf, row_dot, to_vec};
pub use optim::{AdamConfig, DenseAdam};
pub use sparse::{RowOptimizer, SparseEmbedding};

pub use dfdx;

/// The core types this crate's signatures use, so that depending on it alone is enough.
pub use fuserec_core::{Error, Result, Rng};

/// Keeps freed buffers in the process instead of handing them back to the OS. dfdx allocates a
/// fresh buffer for every op; glibc serves buffers above its mmap threshold with `mmap` and
/// unmaps them on free, so every training step paid page faults for all its activations again
/// (measured on a DIN step: 13.1 → 6.5 ms; half the step was the kernel zeroing pages). Call once
/// at the start of a training binary. Returns whether the setting took (false off glibc).
pub fn retain_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // 32 MiB: glibc's largest mmap threshold; buffers below it come from the heap. The heap
        // top is trimmed only above 1 GiB of free memory.
        // SAFETY: mallopt only changes allocator parameters.
        unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20) == 1 && libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// The CPU device every model runs on.
pub type Dev = dfdx::tensor::Cpu;
/// A vector parameter (biases, gate weights).
pub type T1 = dfdx::tensor::Tensor<(usize,), f32, Dev>;
/// A matrix parameter or a batch of rows.
pub type T2 = dfdx::tensor::Tensor<(usize, usize), f32, Dev>;
/// The taped versions: values that gradients flow back through.
pub type Tape = dfdx::tensor::OwnedTape<f32, Dev>;
/// A taped vector.
pub type V1 = dfdx::tensor::Tensor<(usize,), f32, Dev, Tape>;
/// A taped batch of rows.
pub type V2 = dfdx::tensor::Tensor<(usize, usize), f32, Dev, Tape>;
/// Gradients read after `backward()`.
pub type Grads = dfdx::tensor::Gradients<f32, Dev>;

/// The one CPU device; seeded so parameter-free randomness in dfdx (none used today) is stable.
pub fn device(seed: u64) -> Dev {
    use dfdx::tensor::Cpu;
    Cpu::seed_from_u64(seed)
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn allocator_setting_takes_on_glibc() {
        assert!(super::retain_freed_memory());
        // Large buffers still allocate and free correctly afterwards.
        let v = vec![1u8; 8 << 20];
        assert_eq!(v.iter().map(|&x| x as usize).sum::<usize>(), 8 << 20);
    }
}

//! Phase timings of one DIN CTR step (forward, backward, sparse rows, dense Adam); a profiling aid.
//! `cargo run --release -p fuserec-benches --example ctr_profile [-- --mmap]`
use fuserec::core::Rng;
use fuserec::nn::dfdx::prelude::*;
use fuserec::nn::{AdamConfig, DenseAdam, RowOptimizer, SparseEmbedding, device};
use fuserec::towers::ctr::{CtrBatch, CtrShape, Din, Sides};
use std::time::Instant;

fn main() {
    // `--mmap` keeps glibc's default (large buffers mapped and unmapped per op), for comparison.
    if !std::env::args().any(|a| a == "--mmap") {
        assert!(fuserec::nn::retain_freed_memory());
    }
    let (b, l, items) = (256usize, 50usize, 3000usize);
    let dev = device(0);
    let mut rng = Rng::new(1);
    let table = SparseEmbedding::new("items", items, 16, 0.01, RowOptimizer::adam(0.01), &mut rng).unwrap();
    let mut din =
        Din::new(&dev, table, None, Sides::default(), &CtrShape { attention_hidden: 32, hidden: vec![128, 64] }, None, &mut rng).unwrap();
    let mut opt = DenseAdam::new(AdamConfig::new(0.001));
    let batches: Vec<CtrBatch> = (0..50)
        .map(|_| {
            let mut x = CtrBatch { len: l, ..Default::default() };
            for _ in 0..b {
                x.targets.push(rng.below(items) as u32);
                x.labels.push((rng.uniform() < 0.2) as u8 as f32);
                for _ in 0..l {
                    x.behaviours.push(rng.below(items) as u32);
                    x.mask.push(1.0);
                }
            }
            x
        })
        .collect();
    let mut t = [0f64; 4];
    let steps = 100;
    for k in 0..steps + 5 {
        let x = &batches[k % batches.len()];
        let t0 = Instant::now();
        let (logits, leaves) = din.forward(&dev, x, None).unwrap();
        let loss = fuserec::nn::dfdx::losses::binary_cross_entropy_with_logits_loss(logits, dev.tensor_from_vec(x.labels.clone(), (b, 1)));
        let t1 = Instant::now();
        let mut grads = loss.backward();
        let t2 = Instant::now();
        din.apply(&leaves, &mut grads).unwrap();
        let t3 = Instant::now();
        opt.step(&mut din, &mut grads).unwrap();
        let t4 = Instant::now();
        if k >= 5 {
            for (i, (a, z)) in [(t0, t1), (t1, t2), (t2, t3), (t3, t4)].iter().enumerate() {
                t[i] += (*z - *a).as_secs_f64() * 1e3 / steps as f64;
            }
        }
    }
    println!(
        "forward {:.2} ms, backward {:.2} ms, sparse {:.2} ms, dense {:.2} ms, total {:.2} ms",
        t[0],
        t[1],
        t[2],
        t[3],
        t.iter().sum::<f64>()
    );
}

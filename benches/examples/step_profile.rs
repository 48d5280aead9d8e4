//! Phase timings of one id-only two-tower step (forward, backward, sparse, dense); a profiling aid.
use fuserec::nn::DenseAdam;
use fuserec::nn::dfdx::prelude::*;
use fuserec_benches::two_tower::{batches, config, net};
use std::time::Instant;

fn main() {
    // As in `cargo xtask experiment` and `fuserec train` (see `retain_freed_memory`).
    assert!(fuserec::nn::retain_freed_memory());
    let rows: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let bs = batches(rows, 8, 1);
    let mut n = net(rows, 1);
    let mut opt = DenseAdam::new(config().dense_optimizer);
    let mut t = [0f64; 4];
    let steps = 40;
    for k in 0..steps + 5 {
        let b = &bs[k % bs.len()];
        let t0 = Instant::now();
        let (loss, _, leaves) = n.loss(b).unwrap();
        let t1 = Instant::now();
        let mut grads = loss.backward();
        let t2 = Instant::now();
        n.apply_sparse(&leaves, &mut grads).unwrap();
        let t3 = Instant::now();
        opt.step(&mut n, &mut grads).unwrap();
        let t4 = Instant::now();
        if k >= 5 {
            for (i, (a, b)) in [(t0, t1), (t1, t2), (t2, t3), (t3, t4)].iter().enumerate() {
                t[i] += (*b - *a).as_secs_f64() * 1e3 / steps as f64;
            }
        }
    }
    println!(
        "rows {rows}: forward {:.2} ms, backward {:.2} ms, sparse {:.2} ms, dense {:.2} ms, total {:.2} ms",
        t[0],
        t[1],
        t[2],
        t[3],
        t.iter().sum::<f64>()
    );
}

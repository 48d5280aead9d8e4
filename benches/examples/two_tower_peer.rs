//! The id-only two-tower training step against PyTorch (`benches/peers/two_tower_peer.py`: same
//! shapes, EmbeddingBag/Embedding with `sparse=True`, SparseAdam + Adam, 2 threads) at id tables
//! of 10k, 100k and 1M rows. Prints both examples/s (medians of rounds that alternate between
//! the two sides) and the ratio. `cargo xtask peer two-tower`; `PEER_STEPS` and `PEER_ROUNDS`
//! change the rounds.

use fuserec::nn::DenseAdam;
use fuserec_benches::fair::{Peer, interleaved, time};
use fuserec_benches::two_tower::{BATCH, batches, config, net};
use serde_json::json;
use std::path::Path;
use std::process::Command;

fn main() {
    // As `cargo xtask experiment` and `fuserec train` run (see `retain_freed_memory`).
    assert!(fuserec::nn::retain_freed_memory());
    let steps: usize = std::env::var("PEER_STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let rounds: usize = std::env::var("PEER_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(7);
    let python = std::env::var("FUSEREC_TORCH_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/two_tower_peer.py");
    let threads = rayon::current_num_threads();
    let gflops = fuserec_benches::fair::sgemm_gflops(1024);
    for rows in [10_000usize, 100_000, 1_000_000] {
        let mut cmd = Command::new(&python);
        cmd.arg(&script).args(["--rows", &rows.to_string(), "--threads", &threads.to_string()]);
        let mut peer = Peer::start(cmd, "needs PyTorch: `apt-get install python3-torch`, or set FUSEREC_TORCH_PYTHON");
        if rows == 10_000 {
            if !fuserec_benches::fair::report(gflops, &peer.ready) {
                std::process::exit(2);
            }
            println!(
                "| id table rows | fuserec ms/step | fuserec examples/s | PyTorch ms/step | PyTorch examples/s | ratio (fuserec ÷ PyTorch examples/s) |"
            );
            println!("|---|---|---|---|---|---|");
        }
        let bs = batches(rows, 8, 1);
        let mut n = net(rows, 1);
        let mut opt = DenseAdam::new(config().dense_optimizer);
        let mut k = 0;
        let t = interleaved(
            rounds,
            &mut [
                &mut || {
                    time(|| {
                        for _ in 0..steps {
                            n.step(&bs[k % bs.len()], &mut opt).expect("step");
                            k += 1;
                        }
                    })
                },
                &mut || peer.seconds(json!({ "op": "steps", "n": steps })),
            ],
        );
        let (a, b) = (t[0], t[1]);
        let (a, b) = (a / steps as f64, b / steps as f64);
        println!("| {rows} | {:.2} | {:.0} | {:.2} | {:.0} | {:.2}× |", a * 1e3, BATCH as f64 / a, b * 1e3, BATCH as f64 / b, b / a);
    }
    println!("threads: {threads}; batch {BATCH}; medians of {rounds} alternating rounds × {steps} steps each side");
}

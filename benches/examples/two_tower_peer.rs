//! The id-only two-tower training step against PyTorch (`benches/peers/two_tower_peer.py`: same
//! shapes, EmbeddingBag/Embedding with `sparse=True`, SparseAdam + Adam, 2 threads) at id tables
//! of 10k, 100k and 1M rows. Prints both examples/s (medians of several rounds) and the ratio.
//! `cargo xtask peer two-tower`; `PEER_STEPS` and `PEER_ROUNDS` change the rounds.

use fuserec::nn::DenseAdam;
use fuserec_benches::two_tower::{BATCH, batches, config, net};
use std::path::Path;
use std::process::Command;

/// Seconds per step: the median of `rounds` rounds of `steps` steps.
fn ours(rows: usize, steps: usize, rounds: usize) -> f64 {
    let bs = batches(rows, 8, 1);
    let mut n = net(rows, 1);
    let mut opt = DenseAdam::new(config().dense_optimizer);
    for b in bs.iter().take(3) {
        n.step(b, &mut opt).expect("step");
    }
    let mut k = 0;
    fuserec_benches::fair::median_seconds(rounds, || {
        for _ in 0..steps {
            n.step(&bs[k % bs.len()], &mut opt).expect("step");
            k += 1;
        }
    }) / steps as f64
}

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
        let a = ours(rows, steps, rounds);
        let out = Command::new(&python)
            .arg(&script)
            .args([
                "--rows",
                &rows.to_string(),
                "--steps",
                &steps.to_string(),
                "--rounds",
                &rounds.to_string(),
                "--threads",
                &threads.to_string(),
            ])
            .output()
            .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
        if !out.status.success() {
            eprintln!(
                "peer failed (needs PyTorch: `apt-get install python3-torch`, or set FUSEREC_TORCH_PYTHON):\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::process::exit(1);
        }
        let peer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("peer prints JSON");
        if rows == 10_000 {
            if !fuserec_benches::fair::report(gflops, &peer) {
                std::process::exit(2);
            }
            println!(
                "| id table rows | fuserec ms/step | fuserec examples/s | PyTorch ms/step | PyTorch examples/s | ratio (fuserec ÷ PyTorch examples/s) |"
            );
            println!("|---|---|---|---|---|---|");
        }
        let b = peer["seconds_per_step"].as_f64().unwrap_or(f64::NAN);
        println!("| {rows} | {:.2} | {:.0} | {:.2} | {:.0} | {:.2}× |", a * 1e3, BATCH as f64 / a, b * 1e3, BATCH as f64 / b, b / a);
    }
    println!("threads: {threads}; batch {BATCH}; median of {rounds} rounds × {steps} steps each side");
}

//! One k-means iteration on 1M × 64, k = 1024, against FAISS (`benches/peers/kmeans_peer.py`,
//! PyPI `faiss-cpu`): same data, same initial centroids, same number of iterations, 2 threads.
//! Run with `cargo xtask peer kmeans`.

use fuserec::core::Embeddings;
use fuserec::quant::KMeans;
use fuserec_benches::fair::{Peer, interleaved, time};
use serde_json::json;
use std::path::Path;
use std::process::Command;

fn main() {
    let (n, d, k) = (1_000_000usize, 64usize, 1024usize);
    let iters: usize = std::env::var("PEER_ITERS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let x = fuserec_benches::gaussian(n, d, 1);
    let init = Embeddings::from_vec(k, d, x.as_slice()[..k * d].to_vec()).unwrap();
    let tmp = std::env::temp_dir();
    let (data_file, init_file) =
        (tmp.join(format!("fuserec-km-{}.f32", std::process::id())), tmp.join(format!("fuserec-km-init-{}.f32", std::process::id())));
    let bytes = fuserec::core::f32s_to_le;
    std::fs::write(&data_file, bytes(x.as_slice())).unwrap();
    std::fs::write(&init_file, bytes(init.as_slice())).unwrap();

    let rounds: usize = std::env::var("PEER_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let threads = rayon::current_num_threads();
    let gflops = fuserec_benches::fair::sgemm_gflops(1024);
    let python = std::env::var("FUSEREC_FAISS_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/kmeans_peer.py");
    let mut cmd = Command::new(&python);
    cmd.arg(&script).args(["--data".as_ref(), data_file.as_os_str(), "--init".as_ref(), init_file.as_os_str()]).args([
        "--n",
        &n.to_string(),
        "--d",
        &d.to_string(),
        "--k",
        &k.to_string(),
        "--iters",
        &iters.to_string(),
        "--threads",
        &threads.to_string(),
    ]);
    let mut peer = Peer::start(cmd, "needs `pip install faiss-cpu numpy` (scripts/peer-env)");
    let _ = std::fs::remove_file(&data_file);
    let _ = std::fs::remove_file(&init_file);
    let ready = peer.ready.clone();
    if !fuserec_benches::fair::report(gflops, &ready) {
        std::process::exit(2);
    }
    // Medians of rounds of `iters` iterations from the same start, the two sides taking turns
    // (after a warm-up round each: page faults, thread pools).
    let (mut obj, mut theirs_obj) = (0.0, serde_json::Value::Null);
    let t = interleaved(
        rounds,
        &mut [
            &mut || {
                time(|| {
                    let mut c = init.clone();
                    for _ in 0..iters {
                        obj = KMeans::iteration(&x, &mut c);
                    }
                })
            },
            &mut || {
                let r = peer.request(json!({ "op": "train" }));
                theirs_obj = r["objective"].clone();
                r["seconds"].as_f64().expect("seconds")
            },
        ],
    );
    let (ours, theirs) = (t[0] / iters as f64, t[1] / iters as f64);
    println!("threads: {threads} (fuserec) / {} (faiss {})", ready["threads"], ready["faiss"]);
    println!("objective after {iters} iterations: fuserec {obj:.6e} (assignment before the last update), faiss {theirs_obj}");
    println!(
        "| k-means iteration, 1M × 64, k = 1024 (median of {rounds} × {iters}, taking turns) | fuserec s | FAISS s | ratio (fuserec ÷ FAISS) |"
    );
    println!("|---|---|---|---|");
    println!("| per iteration | {ours:.3} | {theirs:.3} | {:.2}× |", ours / theirs);
}
